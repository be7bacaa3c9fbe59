/**
 * schema/alert-tables.ts — tables of the alert evaluator and the ingest watermark.
 *
 * alert_state   one row per (rule, fingerprint) — the latest state of each alert
 *               instance (ReplacingMergeTree by updated_at; read with FINAL)
 * alert_log     every transition (and errors), with value, window and query; backfill marked
 * alert_cursor  per rule: the end of the last evaluated window
 * ingest_watermark  per host and source: the newest `ts` received (fed by MVs on events/counters)
 */
import { createTable, engineClause, onCluster, storageTable, type DdlContext } from './ddl-common.js';

/** Migration 3: alert_state, alert_log, alert_cursor. */
export function alertStatements(ctx: DdlContext): string[] {
  return [
    ...createTable(
      ctx,
      'alert_state',
      `    rule LowCardinality(String),
    fingerprint String COMMENT 'hash of the rule name and the label set',
    labels Map(String, String),
    annotations Map(String, String),
    severity LowCardinality(String),
    state LowCardinality(String) COMMENT 'inactive | pending | firing | resolved',
    value Float64,
    active_at DateTime64(3) COMMENT 'start of pending (0: not active)',
    fired_at DateTime64(3),
    resolved_at DateTime64(3),
    last_breach_at DateTime64(3),
    last_eval_at DateTime64(3) COMMENT 'end of the last evaluated window',
    notified_state LowCardinality(String) COMMENT 'state of the last successful notification',
    notified_at DateTime64(3),
    updated_at DateTime64(3)`,
      engineClause(ctx, { kind: 'ReplacingMergeTree', version: 'updated_at', order: 'rule, fingerprint' }),
    ),
    ...createTable(
      ctx,
      'alert_log',
      `    ts DateTime64(3) COMMENT 'end of the evaluated window',
    rule LowCardinality(String),
    rule_group LowCardinality(String),
    fingerprint String,
    labels Map(String, String),
    severity LowCardinality(String),
    from_state LowCardinality(String),
    to_state LowCardinality(String) COMMENT 'pending | firing | resolved | inactive | error | skipped',
    value Float64,
    threshold Float64,
    window_start DateTime64(3),
    window_end DateTime64(3),
    query String,
    backfill UInt8,
    error String,
    evaluated_at DateTime64(3)`,
      engineClause(ctx, { kind: 'MergeTree', partition: 'toYYYYMM(ts)', order: 'rule, ts, fingerprint', ttl: `toDateTime(ts) + INTERVAL ${ctx.retention.alertLog} DAY` }),
    ),
    ...createTable(
      ctx,
      'alert_cursor',
      `    rule LowCardinality(String),
    last_end DateTime64(3),
    updated_at DateTime64(3)`,
      engineClause(ctx, { kind: 'ReplacingMergeTree', version: 'updated_at', order: 'rule' }),
    ),
  ];
}

/** Migration 4: the ingest watermark, kept by materialized views on the raw tables. */
export function watermarkStatements(ctx: DdlContext): string[] {
  const out = createTable(
    ctx,
    'ingest_watermark',
    `    host LowCardinality(String),
    source LowCardinality(String) COMMENT 'events | counters (the collector snapshot is the heartbeat)',
    max_ts SimpleAggregateFunction(max, DateTime64(9)) COMMENT 'newest row time received',
    received_at SimpleAggregateFunction(max, DateTime64(3)) COMMENT 'when it arrived',
    rows SimpleAggregateFunction(sum, UInt64)`,
    engineClause(ctx, { kind: 'AggregatingMergeTree', order: 'host, source' }),
  );
  for (const source of ['events', 'counters'] as const) {
    const sel = `SELECT host, '${source}' AS source, max(toDateTime64(ts, 9)) AS max_ts, now64(3) AS received_at, toUInt64(count()) AS rows FROM ${storageTable(ctx, source)} GROUP BY host`;
    if (!ctx.cluster) out.push(`INSERT INTO ${ctx.db}.ingest_watermark ${sel}`);
    out.push(`CREATE MATERIALIZED VIEW IF NOT EXISTS ${ctx.db}.ingest_watermark_${source}_mv${onCluster(ctx)} TO ${storageTable(ctx, 'ingest_watermark')} AS ${sel}`);
  }
  return out;
}
