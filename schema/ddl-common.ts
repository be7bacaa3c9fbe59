/**
 * schema/ddl-common.ts — DDL building blocks shared by the migrations: retention,
 * cluster variants (Replicated* engines, ON CLUSTER, Distributed front tables),
 * column lists, and migration 1 (the raw tables derived from schema/event.ts).
 */
import { EVENT_COLUMNS, HIST_SLOTS } from './event.js';
import { sqlString } from './sql.js';

export const DATABASE = 'v2e';

/** Days each table keeps its rows (TTL). */
export interface RetentionDays {
  /** raw events */
  events: number;
  /** raw counter snapshots */
  counters: number;
  /** raw histogram snapshots */
  histograms: number;
  /** 10 s rollups (events, counters, histograms) */
  rollup10s: number;
  /** 1 min rollups */
  rollup1m: number;
  /** alert_log (every transition) */
  alertLog: number;
}
export const DEFAULT_RETENTION: RetentionDays = { events: 7, counters: 30, histograms: 30, rollup10s: 30, rollup1m: 400, alertLog: 400 };

/** What the DDL generators need to know. */
export interface DdlContext {
  db: string;
  retention: RetentionDays;
  /** a ClickHouse cluster name: Replicated* engines, ON CLUSTER, Distributed front tables */
  cluster?: string;
}

export function ddlContext(opts: { retention?: Partial<RetentionDays>; cluster?: string } = {}): DdlContext {
  if (opts.cluster !== undefined && !/^[A-Za-z_][A-Za-z0-9_\-]*$/.test(opts.cluster)) {
    throw new Error(`cluster name '${opts.cluster}' is not a plain identifier`);
  }
  const retention = { ...DEFAULT_RETENTION, ...(opts.retention ?? {}) };
  for (const [k, v] of Object.entries(retention)) {
    if (!Number.isInteger(v) || v < 1 || v > 100_000) throw new Error(`retention ${k}: ${v} is not a whole number of days in 1..100000`);
  }
  return { db: DATABASE, retention, cluster: opts.cluster };
}

export type ColumnDef = { name: string; type: string; codec?: string; comment: string };

export function columnSql(c: ColumnDef): string {
  return `${c.name} ${c.type} COMMENT ${sqlString(c.comment)}${c.codec ? ` CODEC(${c.codec})` : ''}`;
}

export function columns(cols: ReadonlyArray<ColumnDef>): string {
  return cols.map((c) => `    ${columnSql(c)}`).join(',\n');
}

/** ` ON CLUSTER name` or nothing. */
export function onCluster(ctx: DdlContext): string {
  return ctx.cluster ? ` ON CLUSTER ${ctx.cluster}` : '';
}

/** The table that holds the rows: `db.name`, or `db.name_local` on a cluster (`db.name` is then Distributed). */
export function storageTable(ctx: DdlContext, name: string): string {
  return `${ctx.db}.${ctx.cluster ? `${name}_local` : name}`;
}

/**
 * The engine clause of a table. `kind` is the MergeTree family member
 * (MergeTree, AggregatingMergeTree, ReplacingMergeTree) and `version` the
 * ReplacingMergeTree version column. Non-replicated tables get a dedup window
 * so a repeated insert_deduplication_token is dropped (chDB honours it).
 */
export function engineClause(
  ctx: DdlContext,
  p: { kind: 'MergeTree' | 'AggregatingMergeTree' | 'ReplacingMergeTree'; order: string; partition?: string; ttl?: string; version?: string },
): string {
  const args: string[] = [];
  if (ctx.cluster) args.push(`'/clickhouse/tables/{shard}/{database}/{table}'`, `'{replica}'`);
  if (p.version) args.push(p.version);
  const engine = `${ctx.cluster ? 'Replicated' : ''}${p.kind}${args.length ? `(${args.join(', ')})` : ''}`;
  return [
    `ENGINE = ${engine}`,
    p.partition ? `PARTITION BY ${p.partition}` : '',
    `ORDER BY (${p.order})`,
    p.ttl ? `TTL ${p.ttl}` : '',
    ctx.cluster ? '' : 'SETTINGS non_replicated_deduplication_window = 10000',
  ]
    .filter(Boolean)
    .join('\n');
}

/**
 * CREATE TABLE for `name`: on a single node one table; on a cluster the
 * replicated `name_local` plus a Distributed `name` in front of it.
 */
export function createTable(ctx: DdlContext, name: string, body: string, engine: string): string[] {
  const out = [`CREATE TABLE IF NOT EXISTS ${storageTable(ctx, name)}${onCluster(ctx)} (\n${body}\n) ${engine}`];
  if (ctx.cluster) {
    out.push(
      `CREATE TABLE IF NOT EXISTS ${ctx.db}.${name}${onCluster(ctx)} AS ${storageTable(ctx, name)} ENGINE = Distributed(${ctx.cluster}, ${ctx.db}, ${name}_local, rand())`,
    );
  }
  return out;
}

export function timeSeriesEngine(ctx: DdlContext, order: string, ttlDays: number, ttlColumn = 'toDateTime(ts)'): string {
  return engineClause(ctx, { kind: 'MergeTree', partition: 'toDate(ts)', order, ttl: `${ttlColumn} + INTERVAL ${ttlDays} DAY` });
}

/** Migration 1: database, schema_version, raw events, counters, histograms. */
export function baseStatements(ctx: DdlContext): string[] {
  const r = ctx.retention;
  return [
    `CREATE DATABASE IF NOT EXISTS ${ctx.db}${onCluster(ctx)}`,
    // schema_version stays a plain table on every node: each node records what it has
    `CREATE TABLE IF NOT EXISTS ${ctx.db}.schema_version${onCluster(ctx)} (
    version UInt32,
    applied_at DateTime64(3) DEFAULT now64(3),
    by String
) ENGINE = MergeTree ORDER BY version`,
    ...createTable(ctx, 'events', columns(EVENT_COLUMNS), timeSeriesEngine(ctx, 'probe, event, host, ts', r.events)),
    ...createTable(
      ctx,
      'counters',
      `    ts DateTime64(3) COMMENT 'snapshot time' CODEC(Delta, ZSTD(1)),
    host LowCardinality(String),
    probe LowCardinality(String),
    name LowCardinality(String) COMMENT 'counter name (switches, calls_sendmsg, lost_ringbuf, ...)',
    pid UInt32 COMMENT '0 for host-wide counters',
    comm LowCardinality(String),
    key String COMMENT 'extra key (device, ...) or empty',
    value UInt64 COMMENT 'cumulative since the probe started' CODEC(T64, ZSTD(1)),
    delta UInt64 COMMENT 'increase since the previous snapshot' CODEC(T64, ZSTD(1))`,
      timeSeriesEngine(ctx, 'probe, name, host, pid, ts', r.counters),
    ),
    ...createTable(
      ctx,
      'histograms',
      `    ts DateTime64(3) COMMENT 'snapshot time' CODEC(Delta, ZSTD(1)),
    host LowCardinality(String),
    probe LowCardinality(String),
    event LowCardinality(String),
    counts Array(UInt64) COMMENT 'per log2 slot s (${HIST_SLOTS} slots, values in [2^s, 2^(s+1)) ns): increase since the previous snapshot'`,
      timeSeriesEngine(ctx, 'probe, event, host, ts', r.histograms),
    ),
  ];
}

