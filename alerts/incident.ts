/**
 * alerts/incident.ts — what changed in a time window against a baseline.
 *
 * For every (probe, host, comm, event) of the 1 min rollup, the event rate and
 * the p99 of the window are compared with the same clock window on each of
 * the last N days (mean of the days). Rows are ordered by how far they moved:
 * the largest |log2(now / baseline)| of rate and p99. Output as a table, JSON,
 * or Markdown for a ticket, always with the SQL that was run.
 */
import type { Store } from '../store/types.js';
import { substitute } from './query.js';

export interface IncidentRow {
  probe: string;
  host: string;
  comm: string;
  event: string;
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
  elapsedMs: number;
}

export function incidentSql(baselineDays: number, limit: number): string {
  const days = Array.from({ length: baselineDays + 1 }, (_, d) => `(ts >= {start} - INTERVAL ${d} DAY AND ts < {end} - INTERVAL ${d} DAY)`);
  return `SELECT probe, host, comm, event, rate_now, rate_base, p99_now, p99_base,
       greatest(abs(log2((rate_now + 0.01) / (rate_base + 0.01))), if(isFinite(p99_now) AND isFinite(p99_base), abs(log2((p99_now + 1) / (p99_base + 1))), 0)) AS score
FROM (
  SELECT probe, host, comm, event,
         sumIf(weight_sum, d = 0) / {seconds} AS rate_now,
         sumIf(weight_sum, d > 0) / {seconds} / ${baselineDays} AS rate_base,
         quantileTDigestWeightedMergeIf(0.99)(value_q, d = 0) AS p99_now,
         quantileTDigestWeightedMergeIf(0.99)(value_q, d > 0) AS p99_base
  FROM (SELECT *, intDiv(toUnixTimestamp({end}) - 1 - toUnixTimestamp(ts), 86400) AS d FROM v2e.events_1m
        WHERE ${days.join('\n           OR ')})
  GROUP BY probe, host, comm, event
)
ORDER BY score DESC, probe, host, comm, event
LIMIT ${limit}`;
}

function describeChange(r: IncidentRow): string {
  const parts: string[] = [];
  const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}×` : a > 0 ? 'new' : '—');
  parts.push(`rate ${ratio(r.rate_now, r.rate_base)}`);
  if (Number.isFinite(r.p99_now) && Number.isFinite(r.p99_base)) parts.push(`p99 ${ratio(r.p99_now, r.p99_base)}`);
  else if (Number.isFinite(r.p99_now)) parts.push('p99 new');
  return parts.join(', ');
}

export async function incidentReport(store: Store, p: { fromMs: number; toMs: number; baselineDays: number; limit?: number }): Promise<IncidentReport> {
  if (!(p.toMs > p.fromMs)) throw new Error('incident: --to must be after --from');
  if (p.toMs - p.fromMs > 86_400_000) throw new Error('incident: the window must be at most one day (it is compared with the same window on past days)');
  const sql = substitute(incidentSql(p.baselineDays, p.limit ?? 50), Math.floor(p.fromMs / 60_000) * 60_000, Math.ceil(p.toMs / 60_000) * 60_000);
  const t = performance.now();
  const raw = await store.queryRows<Record<string, unknown>>(`${sql}\nSETTINGS readonly = 1, max_execution_time = 60`);
  const num = (v: unknown) => (v === null || v === undefined ? NaN : Number(v));
  const rows = raw.map((r) => {
    const row = {
      probe: String(r.probe), host: String(r.host), comm: String(r.comm), event: String(r.event),
      rate_now: num(r.rate_now), rate_base: num(r.rate_base), p99_now: num(r.p99_now), p99_base: num(r.p99_base), score: num(r.score), change: '',
    };
    row.change = describeChange(row);
    return row;
  });
  return { from: new Date(p.fromMs).toISOString(), to: new Date(p.toMs).toISOString(), baselineDays: p.baselineDays, sql, rows, elapsedMs: performance.now() - t };
}

const f = (v: number) => (Number.isFinite(v) ? String(Number(v.toPrecision(4))) : '—');

export function formatIncident(r: IncidentReport, format: 'table' | 'json' | 'markdown'): string {
  if (format === 'json') return JSON.stringify(r, null, 2) + '\n';
  const head = ['probe', 'host', 'comm', 'event', 'rate/s now', 'rate/s base', 'p99 ns now', 'p99 ns base', 'change'];
  const body = r.rows.map((x) => [x.probe, x.host, x.comm, x.event, f(x.rate_now), f(x.rate_base), f(x.p99_now), f(x.p99_base), x.change]);
  const title = `Incident ${r.from} → ${r.to} against the same window on the last ${r.baselineDays} days`;
  if (format === 'markdown') {
    return [
      `### ${title}`, '',
      `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`,
      ...body.map((b) => `| ${b.join(' | ')} |`), '',
      '<details><summary>SQL</summary>', '', '```sql', r.sql, '```', '</details>', '',
    ].join('\n');
  }
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [title, '', line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), '', 'SQL:', r.sql, ''].join('\n');
}
