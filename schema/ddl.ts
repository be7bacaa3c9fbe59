/**
 * schema/ddl.ts — the store's DDL, generated from the event definition
 * (schema/event.ts). The same statements run on chDB and on a ClickHouse
 * server; `applySchema` runs them in order and records the version.
 */
import { EVENT_COLUMNS, HIST_SLOTS } from './event.js';
import type { Store } from '../store/types.js';
import { StoreError } from '../store/errors.js';

export const SCHEMA_VERSION = 1;
export const DATABASE = 'v2e';

export interface RetentionDays {
  events: number;
  counters: number;
  histograms: number;
}
export const DEFAULT_RETENTION: RetentionDays = { events: 7, counters: 30, histograms: 30 };

function columns(cols: ReadonlyArray<{ name: string; type: string; codec?: string; comment: string }>): string {
  return cols
    .map((c) => `    ${c.name} ${c.type} COMMENT '${c.comment.replace(/'/g, "\\'")}'${c.codec ? ` CODEC(${c.codec})` : ''}`)
    .join(',\n');
}

/** The engine clause every time-series table shares: daily partitions, TTL, a dedup window. */
function mergeTree(order: string, ttlDays: number): string {
  return `ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (${order})
TTL toDateTime(ts) + INTERVAL ${ttlDays} DAY
SETTINGS non_replicated_deduplication_window = 10000`;
}

/** Every statement, in order; each is idempotent (IF NOT EXISTS). */
export function schemaStatements(retention: RetentionDays = DEFAULT_RETENTION): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${DATABASE}`,
    `CREATE TABLE IF NOT EXISTS ${DATABASE}.schema_version (
    version UInt32,
    applied_at DateTime64(3) DEFAULT now64(3),
    by String
) ENGINE = MergeTree ORDER BY version`,
    `CREATE TABLE IF NOT EXISTS ${DATABASE}.events (
${columns(EVENT_COLUMNS)}
) ${mergeTree('probe, event, host, ts', retention.events)}`,
    `CREATE TABLE IF NOT EXISTS ${DATABASE}.counters (
    ts DateTime64(3) COMMENT 'snapshot time' CODEC(Delta, ZSTD(1)),
    host LowCardinality(String),
    probe LowCardinality(String),
    name LowCardinality(String) COMMENT 'counter name (switches, calls_sendmsg, lost_ringbuf, ...)',
    pid UInt32 COMMENT '0 for host-wide counters',
    comm LowCardinality(String),
    key String COMMENT 'extra key (device, ...) or empty',
    value UInt64 COMMENT 'cumulative since the probe started' CODEC(T64, ZSTD(1)),
    delta UInt64 COMMENT 'increase since the previous snapshot' CODEC(T64, ZSTD(1))
) ${mergeTree('probe, name, host, pid, ts', retention.counters)}`,
    `CREATE TABLE IF NOT EXISTS ${DATABASE}.histograms (
    ts DateTime64(3) COMMENT 'snapshot time' CODEC(Delta, ZSTD(1)),
    host LowCardinality(String),
    probe LowCardinality(String),
    event LowCardinality(String),
    counts Array(UInt64) COMMENT 'per log2 slot s (${HIST_SLOTS} slots, values in [2^s, 2^(s+1)) ns): increase since the previous snapshot'
) ${mergeTree('probe, event, host, ts', retention.histograms)}`,
  ];
}

/** Create what is missing and record the version; refuses a store newer than this code. */
export async function applySchema(store: Store, retention?: RetentionDays): Promise<{ version: number; previous: number }> {
  let previous = 0;
  try {
    const rows = await store.queryRows<{ v: number }>(`SELECT max(version) AS v FROM ${DATABASE}.schema_version`);
    previous = Number(rows[0]?.v ?? 0);
  } catch {
    previous = 0; // no schema yet
  }
  if (previous > SCHEMA_VERSION) {
    throw new StoreError('SCHEMA', store.dsn, `store ${store.dsn} has schema version ${previous}, newer than this v2probe (${SCHEMA_VERSION}): upgrade v2probe`);
  }
  for (const sql of schemaStatements(retention)) await store.exec(sql);
  if (previous < SCHEMA_VERSION) {
    await store.insertRows(`${DATABASE}.schema_version`, [{ version: SCHEMA_VERSION, by: 'v2probe' }]);
  }
  return { version: SCHEMA_VERSION, previous };
}
