/**
 * schema/rollups.ts — 10 s and 1 min rollups of events, counters and histogram
 * snapshots: AggregatingMergeTree tables fed by materialized views on the raw
 * tables. Alerts and dashboards read these; the raw rows expire sooner.
 *
 * events_{10s,1m}: per (ts window start, host, probe, event, comm)
 *   weight_sum  = sum(weight)          estimated number of real events
 *   samples     = count()              rows (sampled events) behind it
 *   value_sum   = sum(value * weight)  estimated total (ns of wait, bytes, ...)
 *   value_min / value_max              over the sampled rows
 *   value_q     = quantileTDigestWeightedState(value, weight)
 *                 read with quantileTDigestWeightedMerge(0.99)(value_q)
 * counters_{10s,1m}: per (ts, host, probe, name, pid, comm, key)
 *   delta_sum, value_min, value_max (gauges such as live goroutines), snapshots
 * histograms_{10s,1m}: per (ts, host, probe, event): counts = sumForEachState(counts)
 *   read with sumForEachMerge(counts)
 */
import { createTable, engineClause, onCluster, storageTable, type DdlContext } from './ddl-common.js';

export const ROLLUPS = [
  { suffix: '10s', seconds: 10, retention: 'rollup10s' },
  { suffix: '1m', seconds: 60, retention: 'rollup1m' },
] as const;
export type RollupSuffix = (typeof ROLLUPS)[number]['suffix'];

type Source = 'events' | 'counters' | 'histograms';

const KEYS: Record<Source, string[]> = {
  events: ['host', 'probe', 'event', 'comm'],
  counters: ['host', 'probe', 'name', 'pid', 'comm', 'key'],
  histograms: ['host', 'probe', 'event'],
};

const BODIES: Record<Source, string> = {
  events: `    ts DateTime COMMENT 'window start' CODEC(Delta, ZSTD(1)),
    host LowCardinality(String),
    probe LowCardinality(String),
    event LowCardinality(String),
    comm LowCardinality(String),
    weight_sum SimpleAggregateFunction(sum, UInt64) COMMENT 'sum(weight): estimated real events',
    samples SimpleAggregateFunction(sum, UInt64) COMMENT 'sampled rows behind the window',
    value_sum SimpleAggregateFunction(sum, Int64) COMMENT 'sum(value * weight): estimated total',
    value_min SimpleAggregateFunction(min, Int64),
    value_max SimpleAggregateFunction(max, Int64),
    value_q AggregateFunction(quantileTDigestWeighted, Int64, UInt32) COMMENT 'quantileTDigestWeightedMerge(level)(value_q)'`,
  counters: `    ts DateTime COMMENT 'window start' CODEC(Delta, ZSTD(1)),
    host LowCardinality(String),
    probe LowCardinality(String),
    name LowCardinality(String),
    pid UInt32,
    comm LowCardinality(String),
    key String,
    delta_sum SimpleAggregateFunction(sum, UInt64) COMMENT 'increase within the window',
    value_min SimpleAggregateFunction(min, UInt64) COMMENT 'smallest snapshot value (gauges)',
    value_max SimpleAggregateFunction(max, UInt64) COMMENT 'largest snapshot value (gauges, cumulative counters)',
    snapshots SimpleAggregateFunction(sum, UInt64)`,
  histograms: `    ts DateTime COMMENT 'window start' CODEC(Delta, ZSTD(1)),
    host LowCardinality(String),
    probe LowCardinality(String),
    event LowCardinality(String),
    counts AggregateFunction(sumForEach, Array(UInt64)) COMMENT 'sumForEachMerge(counts): per log2 slot',
    snapshots SimpleAggregateFunction(sum, UInt64)`,
};

const AGGREGATES: Record<Source, string> = {
  events:
    'sum(toUInt64(weight)) AS weight_sum, toUInt64(count()) AS samples, sum(value * weight) AS value_sum, ' +
    'min(value) AS value_min, max(value) AS value_max, quantileTDigestWeightedState(value, weight) AS value_q',
  counters: 'sum(delta) AS delta_sum, min(value) AS value_min, max(value) AS value_max, toUInt64(count()) AS snapshots',
  histograms: 'sumForEachState(counts) AS counts, toUInt64(count()) AS snapshots',
};

/** The SELECT that turns raw rows of `source` into rollup rows (MV body and backfill). */
export function rollupSelect(ctx: DdlContext, source: Source, seconds: number, where = ''): string {
  const keys = KEYS[source].join(', ');
  return `SELECT toStartOfInterval(toDateTime(ts), INTERVAL ${seconds} SECOND) AS ts, ${keys}, ${AGGREGATES[source]}
FROM ${storageTable(ctx, source)}${where ? ` WHERE ${where}` : ''}
GROUP BY ts, ${keys}`;
}

/** Migration 2: the rollup tables, their materialized views, and a backfill from raw rows already stored. */
export function rollupStatements(ctx: DdlContext): string[] {
  const out: string[] = [];
  for (const source of ['events', 'counters', 'histograms'] as const) {
    for (const r of ROLLUPS) {
      const name = `${source}_${r.suffix}`;
      const engine = engineClause(ctx, {
        kind: 'AggregatingMergeTree',
        partition: 'toDate(ts)',
        order: `probe, ${KEYS[source].filter((k) => k !== 'probe').join(', ')}, ts`,
        ttl: `ts + INTERVAL ${ctx.retention[r.retention]} DAY`,
      });
      out.push(...createTable(ctx, name, BODIES[source], engine));
      // rows already in the raw table (a store created before rollups existed)
      if (!ctx.cluster) out.push(`INSERT INTO ${ctx.db}.${name} ${rollupSelect(ctx, source, r.seconds)}`);
      out.push(
        `CREATE MATERIALIZED VIEW IF NOT EXISTS ${ctx.db}.${name}_mv${onCluster(ctx)} TO ${storageTable(ctx, name)} AS\n${rollupSelect(ctx, source, r.seconds)}`,
      );
    }
  }
  return out;
}

/** Table names of the rollups (for TTL reconciliation and docs). */
export function rollupTables(): Array<{ name: string; retention: 'rollup10s' | 'rollup1m' }> {
  return (['events', 'counters', 'histograms'] as const).flatMap((s) => ROLLUPS.map((r) => ({ name: `${s}_${r.suffix}`, retention: r.retention })));
}
