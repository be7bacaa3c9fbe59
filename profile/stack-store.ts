/**
 * profile/stack-store.ts — sampled stacks to and from the store
 * (v2e.stacks, schema/stack-tables.ts): per window, folded with counts; read
 * back for a time range fleet-wide (summed over hosts and pids, per comm and
 * stack) so a past window's flame graph can be drawn.
 */
import type { Store } from '../store/types.js';
import type { Stack, StackKind } from './sampler.js';
import { ms64 } from '../store/rows.js';
import { sqlString } from '../schema/sql.js';

export type { StackKind };

export interface StackRow {
  ts: number;
  span_ms: number;
  host: string;
  kind: StackKind;
  frequency: number;
  pid: number;
  comm: string;
  stack: string;
  count: number;
}

const TABLE = 'v2e.stacks';

/** Folded key of a stack without its comm root frame (`;` inside names becomes `:` as in toFolded). */
function foldFrames(frames: string[]): string {
  return frames.map((f) => f.replaceAll(';', ':')).join(';');
}

/** Rows of one window. `stacks` carry the comm root frame first (as runProfile returns them). */
export function stackRows(stacks: Stack[], w: { startMs: number; endMs: number; host: string; kind: StackKind; frequency: number }): StackRow[] {
  const agg = new Map<string, StackRow>();
  for (const s of stacks) {
    if (!(s.value > 0)) continue;
    const stack = foldFrames(s.frames.slice(1));
    const key = `${s.pid}\0${s.comm}\0${stack}`;
    const r = agg.get(key);
    if (r) r.count += s.value;
    else
      agg.set(key, {
        ts: Math.trunc(w.startMs),
        span_ms: Math.max(1, Math.round(w.endMs - w.startMs)),
        host: w.host,
        kind: w.kind,
        frequency: w.kind === 'oncpu' ? w.frequency : 0,
        pid: s.pid,
        comm: s.comm,
        stack,
        count: s.value,
      });
  }
  return [...agg.values()];
}

export async function writeStacks(store: Store, rows: StackRow[]): Promise<void> {
  if (rows.length === 0) return;
  const { ts, host, kind } = rows[0];
  // ts as ms64 text: as a JSON number the 26.9 server read it as seconds, and
  // the insert dropped every row (past the TTL) while reporting success
  const out = rows.map((r) => ({ ...r, ts: ms64(r.ts) }));
  await store.insertRows(TABLE, out, { dedupToken: `stacks:${host}:${kind}:${ts}:${rows.length}:${rows.reduce((s, r) => s + r.count, 0)}` });
}

export interface StackQuery {
  fromMs: number;
  toMs: number;
  kind: StackKind;
  comm?: string;
  host?: string;
  pid?: number;
}

const q = sqlString;

/**
 * Stacks of every window overlapping [fromMs, toMs), summed over hosts and
 * pids per (comm, stack): the same shape runProfile returns (comm root first).
 */
export async function readStacks(store: Store, o: StackQuery): Promise<{ stacks: Stack[]; frequency: number; windows: number; hosts: string[] }> {
  const where = [
    `kind = ${q(o.kind)}`,
    // a window is at most a day long: bound the scan by ts, then test overlap exactly
    `ts >= fromUnixTimestamp64Milli(toInt64(${Math.trunc(o.fromMs) - 86_400_000}))`,
    `ts < fromUnixTimestamp64Milli(toInt64(${Math.trunc(o.toMs)}))`,
    `toUnixTimestamp64Milli(ts) + span_ms > ${Math.trunc(o.fromMs)}`,
  ];
  if (o.comm !== undefined) where.push(`comm = ${q(o.comm)}`);
  if (o.host !== undefined) where.push(`host = ${q(o.host)}`);
  if (o.pid !== undefined) where.push(`pid = ${Math.trunc(o.pid)}`);
  const w = where.join(' AND ');
  const rows = await store.queryRows<{ comm: string; stack: string; c: number | string }>(
    `SELECT comm, stack, sum(count) AS c FROM ${TABLE} WHERE ${w} GROUP BY comm, stack ORDER BY comm, stack`,
  );
  const meta = await store.queryRows<{ f: number | string; n: number | string; hosts: string[] }>(
    `SELECT max(frequency) AS f, uniqExact(ts, host) AS n, groupUniqArray(host) AS hosts FROM ${TABLE} WHERE ${w}`,
  );
  const stacks: Stack[] = rows.map((r) => ({
    pid: 0,
    comm: r.comm,
    frames: [r.comm || 'pid 0', ...(r.stack ? r.stack.split(';') : [])],
    value: Number(r.c),
  }));
  return { stacks, frequency: Number(meta[0]?.f ?? 0), windows: Number(meta[0]?.n ?? 0), hosts: (meta[0]?.hosts ?? []).slice().sort() };
}
