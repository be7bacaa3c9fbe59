/**
 * alerts/incident.ts — what changed in a time window against a baseline.
 *
 * For every (probe, host, comm, event) of the 1 min rollup, the event rate and
 * the p99 of the window are compared with the same clock window on each of
 * the last N days (mean of the days). Rows are ordered by how far they moved:
 * the largest |log2(now / baseline)| of rate and p99. The p99 is shown (and
 * scored) in each event's own unit from its family descriptor (schema/event.ts):
 * µs for durations, bytes for sizes, none for counts (their rate says it). The
 * collector's own threads (chDB's engine pools inside a v2probe process) are
 * left out unless includeSelf. Output as a table, JSON,
 * or Markdown for a ticket, always with the SQL that was run.
 *
 * A second section reads the round-trip breakdowns (v2e.rtt_breakdown, from
 * `collect|up --explain` or `explain --live --store`): per broker comm, the
 * sampled trips, p50/p99 of the total, and the mean breakdown of the slowest
 * 1 % of trips, now and on the baseline days, with the component that grew
 * the most.
 */
import type { Store } from '../store/types.js';
import { COMPONENTS, type Component } from '../schema/rtt-tables.js';
import { PROBES, type ProbeDef } from '../schema/event.js';
import { substitute } from './query.js';
import { sqlList } from '../schema/sql.js';

export type ValueUnit = ProbeDef['unit'];

/** The unit of an event's `value`, from its family's descriptor (schema/event.ts): ns (a duration), bytes (a size), count, or kHz (a frequency). */
export function eventUnit(probe: string, event: string): ValueUnit {
  const d = (PROBES as Record<string, ProbeDef>)[probe];
  if (!d) return 'count';
  const i = d.events.indexOf(event);
  return i >= 0 ? d.eventUnits[i] ?? d.unit : d.unit;
}

/** (probe, event) pairs whose value is a count: their p99 says nothing (it is the count per row), so it is neither scored nor shown. */
function countEvents(): Array<[string, string]> {
  return Object.entries(PROBES as Record<string, ProbeDef>).flatMap(([p, d]) => d.events.filter((e) => eventUnit(p, e) === 'count').map((e) => [p, e] as [string, string]));
}

/**
 * Thread names of the collector's own engine (chDB runs ClickHouse's thread
 * pools inside the collector process). A process with one of these threads
 * and a Node.js main thread (`node`) is a v2probe process (collector, query,
 * ingester with a chDB store): its threads are the tool itself, not the
 * workload. A ClickHouse server has the pools but no `node` thread.
 */
export const ENGINE_THREADS = [
  'Segmentator', 'QueryCompPipeEx', 'QueryPipelineEx', 'QueryPullPipeEx', 'ChunkParser', 'MergeMutate', 'BgSchPool', 'BgMBSchPool', 'BgDistSchPool',
  'BgMoveProcPool', 'BgFetchPool', 'BgCommonPool', 'Formatter', 'ParallelFormattr', 'ParallelParsing', 'IOThreadPool', 'SystemLogFlush', 'TraceCollector',
  'ConfigReloader', 'AsyncInsertQueue', 'CompressionPool', 'ThreadPool', 'MergeTreeIndex', 'MergeTreeOutThr', 'TCPHandler', 'HTTPHandler', 'Collector', 'AsyncMetrics',
];
const NODE_THREADS = ['node', 'v2probe'];

/** The collector's own processes in the window (see ENGINE_THREADS), and the thread names only they have (those are left out of the report). */
export function selfSql(): string {
  return `SELECT pid, groupUniqArray(comm) AS comms
FROM v2e.events
WHERE ts >= {start} AND ts < {end}
GROUP BY pid
HAVING hasAny(comms, [${sqlList(ENGINE_THREADS)}]) AND hasAny(comms, [${sqlList(NODE_THREADS)}])
ORDER BY pid`;
}

/** The collector's own threads found in the window. */
export interface SelfSection {
  sql: string;
  pids: number[];
  /** thread names seen only in those processes: left out of the rows unless includeSelf */
  comms: string[];
  /** true: left out; false: shown (marked self) */
  excluded: boolean;
}

async function findSelf(store: Store, startMs: number, endMs: number, includeSelf: boolean): Promise<SelfSection> {
  const sql = substitute(selfSql(), startMs, endMs);
  const rows = await store.queryRows<{ pid: number; comms: string[] }>(`${sql}\nSETTINGS readonly = 1, max_execution_time = 60`);
  const pids = rows.map((r) => Number(r.pid));
  const mine = [...new Set(rows.flatMap((r) => r.comms))];
  if (!pids.length || !mine.length) return { sql, pids, comms: [], excluded: !includeSelf };
  // names other processes have too (another app's `node`) stay in the report
  const shared = await store.queryRows<{ comm: string }>(
    substitute(`SELECT DISTINCT comm FROM v2e.events WHERE ts >= {start} AND ts < {end} AND pid NOT IN (${pids.join(', ')}) AND comm IN (${sqlList(mine)})`, startMs, endMs) + '\nSETTINGS readonly = 1, max_execution_time = 60',
  );
  const sharedSet = new Set(shared.map((r) => r.comm));
  return { sql, pids, comms: mine.filter((c) => !sharedSet.has(c)).sort(), excluded: !includeSelf };
}

export interface IncidentRow {
  probe: string;
  host: string;
  comm: string;
  event: string;
  /** unit of the event's value: ns rows show p99 latency, bytes rows p99 size, count rows no quantile */
  unit: ValueUnit;
  /** a thread of the collector itself (shown only with includeSelf) */
  self?: boolean;
  rate_now: number;
  rate_base: number;
  p99_now: number;
  p99_base: number;
  score: number;
  change: string;
}
export interface IncidentReport {
  from: string;
  to: string;
  baselineDays: number;
  sql: string;
  rows: IncidentRow[];
  /** the collector's own threads in the window (left out by default) */
  self: SelfSection;
  /** round-trip breakdowns of the window vs the baseline */
  rtt: RttSection;
  elapsedMs: number;
}

/** One broker comm's round trips: now, and per baseline day (trips) or over the baseline days (quantiles, means). */
export interface RttRow {
  broker_comm: string;
  trips_now: number;
  /** mean per baseline day */
  trips_base: number;
  /** ns; NaN when there are no trips */
  p50_now: number;
  p50_base: number;
  p99_now: number;
  p99_base: number;
  /** the slowest 1 % (total >= p99): how many trips, mean total and mean ns per component */
  slow_n_now: number;
  slow_n_base: number;
  slow_total_now: number;
  slow_total_base: number;
  slow_now: Record<Component, number>;
  /** undefined: no baseline trips */
  slow_base?: Record<Component, number>;
  /** the component whose mean in the slowest 1 % grew the most (ns); '' when none grew */
  grown: string;
  grown_ns: number;
  /** mean ns per component over all trips, now and on the baseline days (undefined: none) */
  mean_now: Record<Component, number>;
  mean_base?: Record<Component, number>;
  /** the component whose mean over all trips grew the most (ns); '' when none grew */
  grown_all: string;
  grown_all_ns: number;
}
export interface RttSection {
  sql: string;
  rows: RttRow[];
  /** said when there is nothing to show */
  note?: string;
}

export function incidentSql(baselineDays: number, limit: number, excludeComms: string[] = []): string {
  const days = Array.from({ length: baselineDays + 1 }, (_, d) => `(ts >= {start} - INTERVAL ${d} DAY AND ts < {end} - INTERVAL ${d} DAY)`);
  const counts = countEvents().map(([p, e]) => `(${sqlList([p])}, ${sqlList([e])})`).join(', ');
  const isCount = counts ? `(probe, event) IN (${counts})` : '0';
  return `SELECT probe, host, comm, event, rate_now, rate_base, if(${isCount}, nan, p99_now) AS p99_now, if(${isCount}, nan, p99_base) AS p99_base,
       greatest(abs(log2((rate_now + 0.01) / (rate_base + 0.01))), if(NOT ${isCount} AND isFinite(p99_now) AND isFinite(p99_base), abs(log2((p99_now + 1) / (p99_base + 1))), 0)) AS score
FROM (
  SELECT probe, host, comm, event,
         sumIf(weight_sum, d = 0) / {seconds} AS rate_now,
         sumIf(weight_sum, d > 0) / {seconds} / ${baselineDays} AS rate_base,
         quantileTDigestWeightedMergeIf(0.99)(value_q, d = 0) AS p99_now,
         quantileTDigestWeightedMergeIf(0.99)(value_q, d > 0) AS p99_base
  FROM (SELECT *, intDiv(toUnixTimestamp({end}) - 1 - toUnixTimestamp(ts), 86400) AS d FROM v2e.events_1m
        WHERE (${days.join('\n           OR ')})${excludeComms.length ? `\n          AND comm NOT IN (${sqlList(excludeComms)})` : ''})
  GROUP BY probe, host, comm, event
)
ORDER BY score DESC, probe, host, comm, event
LIMIT ${limit}`;
}

/**
 * Per broker comm and period (window: base = 0, baseline days: base = 1): trips,
 * p50/p99 of the total, the mean of each component over all trips (all_*) and
 * over the slowest 1 % (total >= p99; at least one trip).
 */
export function rttIncidentSql(baselineDays: number): string {
  const days = Array.from({ length: baselineDays + 1 }, (_, d) => `(ts >= {start} - INTERVAL ${d} DAY AND ts < {end} - INTERVAL ${d} DAY)`);
  return `WITH
  src AS (
    SELECT broker_comm, total_ns, ${COMPONENTS.join(', ')},
           intDiv(toUnixTimestamp64Milli({end}) - 1 - toUnixTimestamp64Milli(ts), 86400000) > 0 AS base
    FROM v2e.rtt_breakdown
    WHERE ${days.join('\n       OR ')}),
  q AS (SELECT broker_comm, base, count() AS trips, quantile(0.5)(total_ns) AS p50, quantile(0.99)(total_ns) AS p99,
              ${COMPONENTS.map((c) => `avg(${c}) AS all_${c}`).join(', ')}
       FROM src GROUP BY broker_comm, base)
SELECT q.broker_comm AS broker_comm, q.base AS base, any(q.trips) AS trips, any(q.p50) AS p50, any(q.p99) AS p99,
       ${COMPONENTS.map((c) => `any(q.all_${c}) AS all_${c}`).join(', ')},
       count() AS slow_n, avg(src.total_ns) AS slow_total, ${COMPONENTS.map((c) => `avg(src.${c}) AS ${c}`).join(', ')}
FROM src INNER JOIN q ON src.broker_comm = q.broker_comm AND src.base = q.base
WHERE src.total_ns >= q.p99
GROUP BY broker_comm, base
ORDER BY broker_comm, base`;
}

async function rttSection(store: Store, p: { fromMs: number; toMs: number; baselineDays: number }): Promise<RttSection> {
  const sql = substitute(rttIncidentSql(p.baselineDays), p.fromMs, p.toMs);
  let raw: Array<Record<string, unknown>>;
  try {
    raw = await store.queryRows<Record<string, unknown>>(`${sql}\nSETTINGS readonly = 1, max_execution_time = 60`);
  } catch (err) {
    const m = (err as Error).message;
    if (/UNKNOWN_TABLE|rtt_breakdown.*(does not|doesn't) exist|Unknown table/i.test(m)) return { sql, rows: [], note: 'no v2e.rtt_breakdown table in this store (apply the schema: v2probe schema apply)' };
    throw err;
  }
  const num = (v: unknown) => (v === null || v === undefined ? NaN : Number(v));
  const comps = (r: Record<string, unknown>, prefix = '') => Object.fromEntries(COMPONENTS.map((c) => [c, num(r[`${prefix}${c}`])])) as Record<Component, number>;
  const rows = new Map<string, RttRow>();
  const zero = Object.fromEntries(COMPONENTS.map((c) => [c, 0])) as Record<Component, number>;
  for (const r of raw) {
    const comm = String(r.broker_comm);
    const row = rows.get(comm) ?? {
      broker_comm: comm, trips_now: 0, trips_base: 0, p50_now: NaN, p50_base: NaN, p99_now: NaN, p99_base: NaN,
      slow_n_now: 0, slow_n_base: 0, slow_total_now: NaN, slow_total_base: NaN, slow_now: { ...zero }, grown: '', grown_ns: 0,
      mean_now: { ...zero }, grown_all: '', grown_all_ns: 0,
    };
    if (Number(r.base) === 0) {
      Object.assign(row, { trips_now: num(r.trips), p50_now: num(r.p50), p99_now: num(r.p99), slow_n_now: num(r.slow_n), slow_total_now: num(r.slow_total), slow_now: comps(r), mean_now: comps(r, 'all_') });
    } else {
      Object.assign(row, { trips_base: num(r.trips) / p.baselineDays, p50_base: num(r.p50), p99_base: num(r.p99), slow_n_base: num(r.slow_n), slow_total_base: num(r.slow_total), slow_base: comps(r), mean_base: comps(r, 'all_') });
    }
    rows.set(comm, row);
  }
  for (const row of rows.values()) {
    for (const c of COMPONENTS) {
      const d = row.slow_now[c] - (row.slow_base?.[c] ?? 0);
      if (row.trips_now > 0 && d > row.grown_ns) {
        row.grown = c.slice(0, -3);
        row.grown_ns = d;
      }
      const a = row.mean_now[c] - (row.mean_base?.[c] ?? 0);
      if (row.trips_now > 0 && a > row.grown_all_ns) {
        row.grown_all = c.slice(0, -3);
        row.grown_all_ns = a;
      }
    }
  }
  const out = [...rows.values()].sort((a, b) => b.grown_ns - a.grown_ns || a.broker_comm.localeCompare(b.broker_comm));
  return { sql, rows: out, note: out.length ? undefined : 'no round-trip breakdowns in the window or the baseline (record them with `v2probe collect|up --explain COMM`)' };
}

function describeChange(r: IncidentRow): string {
  const parts: string[] = [];
  const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}×` : a > 0 ? 'new' : '—');
  parts.push(`rate ${ratio(r.rate_now, r.rate_base)}`);
  if (r.unit !== 'count') {
    if (Number.isFinite(r.p99_now) && Number.isFinite(r.p99_base)) parts.push(`p99 ${ratio(r.p99_now, r.p99_base)}`);
    else if (Number.isFinite(r.p99_now)) parts.push('p99 new');
  }
  return parts.join(', ');
}

export async function incidentReport(store: Store, p: { fromMs: number; toMs: number; baselineDays: number; limit?: number; includeSelf?: boolean }): Promise<IncidentReport> {
  if (!(p.toMs > p.fromMs)) throw new Error('incident: --to must be after --from');
  if (p.toMs - p.fromMs > 86_400_000) throw new Error('incident: the window must be at most one day (it is compared with the same window on past days)');
  const t = performance.now();
  const startMs = Math.floor(p.fromMs / 60_000) * 60_000;
  const endMs = Math.ceil(p.toMs / 60_000) * 60_000;
  const self = await findSelf(store, startMs, endMs, !!p.includeSelf);
  const sql = substitute(incidentSql(p.baselineDays, p.limit ?? 50, self.excluded ? self.comms : []), startMs, endMs);
  const raw = await store.queryRows<Record<string, unknown>>(`${sql}\nSETTINGS readonly = 1, max_execution_time = 60`);
  const num = (v: unknown) => (v === null || v === undefined ? NaN : Number(v));
  const rows = raw.map((r) => {
    const row = {
      probe: String(r.probe), host: String(r.host), comm: String(r.comm), event: String(r.event), unit: eventUnit(String(r.probe), String(r.event)),
      ...(self.comms.includes(String(r.comm)) ? { self: true } : {}),
      rate_now: num(r.rate_now), rate_base: num(r.rate_base), p99_now: num(r.p99_now), p99_base: num(r.p99_base), score: num(r.score), change: '',
    };
    row.change = describeChange(row);
    return row;
  });
  const rtt = await rttSection(store, p);
  return { from: new Date(p.fromMs).toISOString(), to: new Date(p.toMs).toISOString(), baselineDays: p.baselineDays, sql, rows, self, rtt, elapsedMs: performance.now() - t };
}

const f = (v: number) => (Number.isFinite(v) ? String(Number(v.toPrecision(4))) : '—');

/** A p99 in its unit: µs for ns, bytes for sizes, kHz for frequencies; '' for counts (no quantile). */
function p99(v: number, unit: ValueUnit): string {
  if (unit === 'count') return '';
  if (!Number.isFinite(v)) return '—';
  return unit === 'ns' ? `${(v / 1000).toFixed(1)} µs` : `${Number(v.toPrecision(4))} ${unit === 'kHz' ? 'kHz' : 'B'}`;
}

const us = (ns: number) => (Number.isFinite(ns) ? (ns / 1000).toFixed(1) : '—');
const signedUs = (ns: number) => `${ns >= 0 ? '+' : '−'}${(Math.abs(ns) / 1000).toFixed(1)}`;

/** The rtt section as tables: one line per broker comm, then each comm's slowest-1 % breakdown. */
function rttTables(s: RttSection, baselineDays: number): { title: string; empty?: string; tables: Array<{ caption?: string; head: string[]; body: string[][] }> } {
  const title = `Round trips to brokers (v2e.rtt_breakdown, sampled; µs): the window against the same window on the last ${baselineDays} days`;
  if (s.rows.length === 0) return { title, empty: s.note ?? 'no round-trip breakdowns', tables: [] };
  const head = ['broker_comm', 'trips now', 'trips base/day', 'p50 now', 'p50 base', 'p99 now', 'p99 base', 'grew most (all trips)', 'grew most in the slowest 1 %'];
  const grew = (x: RttRow, c: string, ns: number) => (c ? `${c} ${signedUs(ns)} µs${x.slow_base ? '' : ' (no baseline)'}` : x.trips_now ? 'nothing grew' : 'no trips now');
  const body = s.rows.map((x) => [
    x.broker_comm, String(x.trips_now), f(x.trips_base), us(x.p50_now), us(x.p50_base), us(x.p99_now), us(x.p99_base),
    grew(x, x.grown_all, x.grown_all_ns), grew(x, x.grown, x.grown_ns),
  ]);
  const tables: Array<{ caption?: string; head: string[]; body: string[][] }> = [{ head, body }];
  for (const x of s.rows.filter((y) => y.trips_now > 0)) {
    const comps = COMPONENTS.map((c) => ({ c, now: x.slow_now[c], base: x.slow_base?.[c] ?? NaN }))
      .filter((v) => Math.max(v.now || 0, v.base || 0) >= 1000)
      .sort((a, b) => (b.now - (b.base || 0)) - (a.now - (a.base || 0)));
    tables.push({
      caption: `slowest 1 % of ${x.broker_comm}: ${x.slow_n_now} trips now (mean ${us(x.slow_total_now)} µs), ${x.slow_n_base} on the baseline days (mean ${us(x.slow_total_base)} µs); mean µs per component`,
      head: ['component', 'now', 'base', 'change'],
      body: comps.map((v) => [v.c.slice(0, -3), us(v.now), us(v.base), Number.isFinite(v.base) ? signedUs(v.now - v.base) : 'new']),
    });
  }
  return { title, tables };
}

export function formatIncident(r: IncidentReport, format: 'table' | 'json' | 'markdown'): string {
  if (format === 'json') return JSON.stringify(r, null, 2) + '\n';
  // one p99 column pair, in each row's own unit: a latency (µs) for durations, a size (bytes) for sizes, none for counts (their rate says it)
  const head = ['probe', 'host', 'comm', 'event', 'rate/s now', 'rate/s base', 'p99 now', 'p99 base', 'change'];
  const body = r.rows.map((x) => [x.probe, x.host, x.self ? `${x.comm} (v2probe itself)` : x.comm, x.event, f(x.rate_now), f(x.rate_base), p99(x.p99_now, x.unit), p99(x.p99_base, x.unit), x.change]);
  const title = `Incident ${r.from} → ${r.to} against the same window on the last ${r.baselineDays} days`;
  const selfNote = r.self.comms.length
    ? r.self.excluded
      ? [`Left out: v2probe's own threads (pid ${r.self.pids.join(', ')}: ${r.self.comms.join(', ')}); --include-self shows them.`]
      : [`Marked "(v2probe itself)": threads of pid ${r.self.pids.join(', ')}.`]
    : [];
  const rtt = rttTables(r.rtt, r.baselineDays);
  if (format === 'markdown') {
    const md = (h: string[], b: string[][]) => [`| ${h.join(' | ')} |`, `|${h.map(() => '---').join('|')}|`, ...b.map((x) => `| ${x.join(' | ')} |`)];
    return [
      `### ${title}`, '',
      ...md(head, body), '',
      ...(selfNote.length ? [...selfNote, ''] : []),
      `#### ${rtt.title}`, '',
      ...(rtt.empty ? [`_${rtt.empty}_`, ''] : rtt.tables.flatMap((t) => [...(t.caption ? [t.caption, ''] : []), ...md(t.head, t.body), ''])),
      '<details><summary>SQL</summary>', '', '```sql', r.sql, '```', '', '```sql', r.rtt.sql, '```', '</details>', '',
    ].join('\n');
  }
  const render = (h: string[], b: string[][]) => {
    const widths = h.map((x, i) => Math.max(x.length, ...b.map((y) => y[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
    return [line(h), line(widths.map((w) => '-'.repeat(w))), ...b.map(line)];
  };
  return [
    title, '', ...render(head, body), '',
    ...(selfNote.length ? [...selfNote, ''] : []),
    rtt.title, '',
    ...(rtt.empty ? [rtt.empty, ''] : rtt.tables.flatMap((t) => [...(t.caption ? [t.caption] : []), ...render(t.head, t.body), ''])),
    'SQL:', r.sql, '', 'SQL (round trips):', r.rtt.sql, '',
  ].join('\n');
}
