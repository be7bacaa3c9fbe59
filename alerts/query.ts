/**
 * alerts/query.ts — the SQL a rule runs for one window, and how it runs:
 * as a subquery (a write cannot parse there) with readonly=1, a time limit
 * and a row limit.
 *
 * Placeholders in rule SQL: {start} and {end} (DateTime64(3) bounds of the
 * window, start inclusive, end exclusive), {seconds} (window length).
 */
import type { Store } from '../store/types.js';
import type { Aggregate, LoadedRule, Template } from './rules.js';
import { sqlString } from '../schema/sql.js';

export interface QueryLimits {
  /** max_execution_time per rule query, seconds */
  timeoutSec: number;
  /** more rows than this is an error (a label set explosion) */
  maxRows: number;
}
export const DEFAULT_LIMITS: QueryLimits = { timeoutSec: 5, maxRows: 10_000 };

export class RuleQueryError extends Error {
  constructor(readonly rule: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuleQueryError';
  }
}

const ms = (t: number) => `fromUnixTimestamp64Milli(toInt64(${Math.trunc(t)}))`;

export function substitute(sql: string, startMs: number, endMs: number): string {
  return sql
    .replace(/\{start\}/g, ms(startMs))
    .replace(/\{end\}/g, ms(endMs))
    .replace(/\{seconds\}/g, String((endMs - startMs) / 1000));
}

function list(v: string | string[] | undefined): string[] | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v : [v];
}
const q = sqlString;

/** The aggregate expression over a rollup table. */
function aggregateExpr(t: Template, a: Aggregate): string {
  if (t.source === 'counters') {
    return {
      count: 'sum(delta_sum)',
      rate: 'sum(delta_sum) / {seconds}',
      min: 'min(value_min)',
      max: 'max(value_max)',
      spread: 'if(max(value_max) = 0, 0, (max(value_max) - min(value_min)) / max(value_max))',
    }[a as 'count']!;
  }
  const pct = /^p(\d+)$/.exec(a);
  if (pct) return `quantileTDigestWeightedMerge(${Number(`0.${pct[1]}`)})(value_q)`;
  return {
    count: 'sum(weight_sum)',
    rate: 'sum(weight_sum) / {seconds}',
    sum: 'sum(value_sum)',
    sum_rate: 'sum(value_sum) / {seconds}',
    time_share: 'sum(value_sum) / ({seconds} * 1e9)',
    avg: 'sum(value_sum) / sum(weight_sum)',
    min: 'min(value_min)',
    max: 'max(value_max)',
    spread: 'if(max(value_max) = 0, 0, (max(value_max) - min(value_min)) / max(value_max))',
  }[a as 'count']!;
}

function templateFilter(t: Template): string[] {
  const where = [`probe = ${q(t.probe)}`];
  const names = list(t.source === 'events' ? t.event : t.name);
  if (names) where.push(`${t.source === 'events' ? 'event' : 'name'} IN (${names.map(q).join(', ')})`);
  if (t.source === 'counters' && t.pid === 'host') where.push('pid = 0');
  if (t.source === 'counters' && t.pid === 'process') where.push('pid > 0');
  return where;
}

/** SQL (with placeholders) of a template rule. */
export function templateSql(t: Template, db = 'v2e'): string {
  const table = `${db}.${t.source}_${t.rollup}`;
  const groups = t.group_by.length ? t.group_by : ['probe'];
  const labels = t.group_by.join(', ');
  return `SELECT ${labels ? `${labels}, ` : ''}${aggregateExpr(t, t.aggregate)} AS value
FROM ${table}
WHERE ts >= {start} AND ts < {end} AND ${templateFilter(t).join(' AND ')}
GROUP BY ${groups.join(', ')}`;
}

/**
 * SQL of a baseline rule: the aggregate per label set for the current window
 * (day 0) and the same window on each of the last N days; value is the ratio
 * current / mean(past) or the z-score (current - mean) / stddev.
 */
export function baselineSql(t: Template, b: { days: number; mode: 'ratio' | 'zscore'; min_days: number }, db = 'v2e'): string {
  const table = `${db}.${t.source}_${t.rollup}`;
  const labelCols = t.group_by;
  const labelNames = t.group_by;
  const days = Array.from({ length: b.days + 1 }, (_, d) => `(ts >= {start} - INTERVAL ${d} DAY AND ts < {end} - INTERVAL ${d} DAY)`);
  const value =
    b.mode === 'ratio'
      ? 'if(base = 0, if(cur = 0, 1, 1e300), cur / base)'
      : 'if(sd = 0, if(cur = base, 0, 1e300 * sign(cur - base)), (cur - base) / sd)';
  return `SELECT ${labelNames.length ? `${labelNames.join(', ')}, ` : ''}${value} AS value, cur AS current, base AS baseline, past_days
FROM (
  SELECT ${labelNames.length ? `${labelNames.join(', ')}, ` : ''}anyIf(v, day = 0) AS cur, avgIf(v, day > 0) AS base, stddevPopIf(v, day > 0) AS sd,
         countIf(day > 0) AS past_days, countIf(day = 0) AS has_cur
  FROM (
    SELECT ${labelCols.length ? `${labelCols.join(', ')}, ` : ''}intDiv(toUnixTimestamp({end}) - 1 - toUnixTimestamp(ts), 86400) AS day, ${aggregateExpr(t, t.aggregate)} AS v
    FROM ${table}
    WHERE (${days.join('\n       OR ')}) AND ${templateFilter(t).join(' AND ')}
    GROUP BY ${[...(t.group_by.length ? t.group_by : ['probe']), 'day'].join(', ')}
  )
  ${labelNames.length ? `GROUP BY ${labelNames.join(', ')}` : ''}
)
WHERE has_cur > 0 AND past_days >= ${b.min_days}`;
}

/** The SQL a rule runs, with placeholders. */
export function ruleSql(rule: LoadedRule, db = 'v2e'): string {
  if (rule.sql) return rule.sql.trim().replace(/;\s*$/, '');
  if (rule.baseline) return baselineSql(rule.template!, rule.baseline, db);
  return templateSql(rule.template!, db);
}

export interface RuleRow {
  labels: Record<string, string>;
  value: number;
}

/** Run a rule's SQL for [startMs, endMs): read-only, time- and row-limited. */
export async function runRuleQuery(store: Store, rule: LoadedRule, startMs: number, endMs: number, limits: QueryLimits = DEFAULT_LIMITS): Promise<{ sql: string; rows: RuleRow[] }> {
  const sql = substitute(ruleSql(rule), startMs, endMs);
  const guarded = `SELECT * FROM (\n${sql}\n) LIMIT ${limits.maxRows + 1}\nSETTINGS max_execution_time = ${limits.timeoutSec}, timeout_overflow_mode = 'throw', max_result_rows = ${limits.maxRows + 1}, readonly = 1`;
  let raw: Array<Record<string, unknown>>;
  try {
    raw = await store.queryRows<Record<string, unknown>>(guarded);
  } catch (err) {
    throw new RuleQueryError(rule.name, `rule ${rule.name} (${rule.file}:${rule.line}): query failed: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (raw.length > limits.maxRows) throw new RuleQueryError(rule.name, `rule ${rule.name} (${rule.file}:${rule.line}): more than ${limits.maxRows} result rows`);
  const rows: RuleRow[] = [];
  for (const r of raw) {
    if (!('value' in r)) throw new RuleQueryError(rule.name, `rule ${rule.name} (${rule.file}:${rule.line}): the query has no 'value' column`);
    const value = r.value === null ? NaN : Number(r.value);
    if (!Number.isFinite(value) && !(value === Infinity || value === -Infinity)) continue; // NaN/null: no data for this label set
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(r)) if (k !== 'value' && !['current', 'baseline', 'past_days'].includes(k)) labels[k] = String(v);
    rows.push({ labels, value });
  }
  return { sql, rows };
}
