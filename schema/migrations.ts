/**
 * schema/migrations.ts — versioned migrations of the store.
 *
 * Each migration has a version, a name and idempotent statements (IF NOT
 * EXISTS). `applyMigrations` reads the store's version from
 * `v2e.schema_version`, refuses a store newer than this code, runs the
 * migrations above it in order and records each one. Then, every time, it
 * reconciles what is derived from code rather than versioned:
 *  - every column of EVENT_COLUMNS missing from `v2e.events` is added
 *    (ALTER TABLE … ADD COLUMN IF NOT EXISTS … AFTER …), so probe families
 *    that add attribute columns keep stores created earlier working;
 *  - TTLs follow the configured retention (ALTER TABLE … MODIFY TTL when it differs).
 *
 * Other modules contribute tables by adding a migration to MIGRATIONS (next
 * free version) or, before applySchema runs, with `registerMigration()`; e.g.
 * the Kafka ingester's tables are migration 5 (schema/ingest-tables.ts).
 */
import { EVENT_COLUMNS } from './event.js';
import { baseStatements, columnSql, onCluster, storageTable, type DdlContext, type RetentionDays } from './ddl-common.js';
import { rollupStatements, rollupTables } from './rollups.js';
import { alertStatements, watermarkStatements } from './alert-tables.js';
import { ingestStatements } from './ingest-tables.js';
import { rttBlockedStatements, rttStatements } from './rtt-tables.js';
import { stackStatements } from './stack-tables.js';
import type { Store } from '../store/types.js';
import { StoreError } from '../store/errors.js';

export interface Migration {
  version: number;
  name: string;
  statements(ctx: DdlContext): string[];
}

const MIGRATIONS: Migration[] = [
  { version: 1, name: 'raw tables: events, counters, histograms', statements: baseStatements },
  { version: 2, name: 'rollups 10s/1m of events, counters, histograms', statements: rollupStatements },
  { version: 3, name: 'alert_state, alert_log, alert_cursor', statements: alertStatements },
  { version: 4, name: 'ingest watermark', statements: watermarkStatements },
  { version: 5, name: 'ingest_ledger, ingest_errors (Kafka ingester)', statements: ingestStatements },
  { version: 6, name: 'rtt_breakdown (v2probe explain)', statements: rttStatements },
  { version: 7, name: 'stacks (sampled stacks for flame graphs)', statements: stackStatements },
  { version: 8, name: 'rtt_breakdown blocked_comp/blocked_ns/blocked_stack', statements: rttBlockedStatements },
];

// versions are 1, 2, 3, ... in order, each once: a clash (two branches taking the same number) fails at load
MIGRATIONS.forEach((m, i) => {
  if (m.version !== i + 1) throw new Error(`schema/migrations.ts: migration '${m.name}' has version ${m.version}, expected ${i + 1} (versions must be 1..n in order, each once)`);
});

/** Add a migration from another module (its version must be the next free one). */
export function registerMigration(m: Migration): void {
  if (MIGRATIONS.some((x) => x.version === m.version)) {
    if (MIGRATIONS.some((x) => x.version === m.version && x.name === m.name)) return; // already registered
    throw new Error(`migration version ${m.version} (${m.name}) is taken by '${MIGRATIONS.find((x) => x.version === m.version)!.name}'`);
  }
  if (m.version !== Math.max(...MIGRATIONS.map((x) => x.version)) + 1) throw new Error(`migration ${m.name}: version ${m.version} is not the next free one`);
  MIGRATIONS.push(m);
}

export function migrations(): readonly Migration[] {
  return MIGRATIONS;
}

/** The version this code brings a store to (including registered migrations). */
export function latestVersion(): number {
  return Math.max(...MIGRATIONS.map((m) => m.version));
}
/** The newest built-in migration (registered ones may add to it: see latestVersion()). */
export const LATEST_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

export function allStatements(ctx: DdlContext): string[] {
  return MIGRATIONS.flatMap((m) => m.statements(ctx));
}

export interface ApplyResult {
  version: number;
  previous: number;
  applied: Array<{ version: number; name: string }>;
  addedColumns: string[];
  ttlChanged: string[];
}

async function storeVersion(store: Store, db: string): Promise<number> {
  try {
    const rows = await store.queryRows<{ v: number }>(`SELECT max(version) AS v FROM ${db}.schema_version`);
    return Number(rows[0]?.v ?? 0);
  } catch {
    return 0; // no schema yet
  }
}

/** TTL expressions per table, as the DDL writes them. */
function ttlPlan(ctx: DdlContext): Array<{ table: string; days: number; expr: string }> {
  const r: RetentionDays = ctx.retention;
  return [
    { table: 'events', days: r.events, expr: `toDateTime(ts) + toIntervalDay(${r.events})` },
    { table: 'counters', days: r.counters, expr: `toDateTime(ts) + toIntervalDay(${r.counters})` },
    { table: 'histograms', days: r.histograms, expr: `toDateTime(ts) + toIntervalDay(${r.histograms})` },
    ...rollupTables().map((t) => ({ table: t.name, days: r[t.retention], expr: `ts + toIntervalDay(${r[t.retention]})` })),
    { table: 'alert_log', days: r.alertLog, expr: `toDateTime(ts) + toIntervalDay(${r.alertLog})` },
  ];
}

/** Columns of EVENT_COLUMNS missing from the events table, with the ALTER that adds each. */
async function addMissingEventColumns(store: Store, ctx: DdlContext): Promise<string[]> {
  const tables = ctx.cluster ? ['events_local', 'events'] : ['events'];
  const added: string[] = [];
  for (const table of tables) {
    const have = new Set(
      (await store.queryRows<{ name: string }>(`SELECT name FROM system.columns WHERE database = '${ctx.db}' AND table = '${table}'`)).map((r) => r.name),
    );
    let prev = '';
    for (const c of EVENT_COLUMNS) {
      if (!have.has(c.name)) {
        await store.exec(`ALTER TABLE ${ctx.db}.${table}${onCluster(ctx)} ADD COLUMN IF NOT EXISTS ${columnSql(c)}${prev ? ` AFTER ${prev}` : ' FIRST'}`);
        if (table === tables[0]) added.push(c.name);
      }
      prev = c.name;
    }
  }
  return added;
}

/** Align each table's TTL with the configured retention. */
async function reconcileTtl(store: Store, ctx: DdlContext): Promise<string[]> {
  const changed: string[] = [];
  const rows = await store.queryRows<{ name: string; engine_full: string }>(
    `SELECT name, engine_full FROM system.tables WHERE database = '${ctx.db}'`,
  );
  const engines = new Map(rows.map((r) => [r.name, r.engine_full]));
  for (const t of ttlPlan(ctx)) {
    const local = ctx.cluster ? `${t.table}_local` : t.table;
    const full = engines.get(local);
    if (full === undefined) continue;
    const m = /TTL .*?toIntervalDay\((\d+)\)/.exec(full) ?? /TTL .*?INTERVAL (\d+) DAY/.exec(full);
    if (m && Number(m[1]) === t.days) continue;
    await store.exec(`ALTER TABLE ${storageTable(ctx, t.table)}${onCluster(ctx)} MODIFY TTL ${t.expr}`);
    changed.push(`${t.table}=${t.days}d`);
  }
  return changed;
}

export async function applyMigrations(store: Store, ctx: DdlContext): Promise<ApplyResult> {
  const latest = latestVersion();
  const previous = await storeVersion(store, ctx.db);
  if (previous > latest) {
    throw new StoreError(
      'SCHEMA',
      store.dsn,
      `store ${store.dsn} has schema version ${previous}, newer than this v2probe (${latest}): upgrade v2probe, or use a store of version <= ${latest}`,
    );
  }
  const applied: ApplyResult['applied'] = [];
  for (const m of MIGRATIONS) {
    if (m.version <= previous) continue;
    for (const sql of m.statements(ctx)) {
      try {
        await store.exec(sql);
      } catch (err) {
        throw new StoreError('SCHEMA', store.dsn, `migration ${m.version} (${m.name}) failed on: ${sql.split('\n')[0]} … : ${(err as Error).message}`, { cause: err });
      }
    }
    await store.insertRows(`${ctx.db}.schema_version`, [{ version: m.version, by: `v2probe: ${m.name}` }]);
    applied.push({ version: m.version, name: m.name });
  }
  const addedColumns = await addMissingEventColumns(store, ctx);
  const ttlChanged = await reconcileTtl(store, ctx);
  return { version: latest, previous, applied, addedColumns, ttlChanged };
}
