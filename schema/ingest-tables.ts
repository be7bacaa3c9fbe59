/**
 * schema/ingest-tables.ts — the Kafka ingester's tables (migration 5).
 *
 * ingest_ledger  one row per consumed Kafka message (good or dead-lettered),
 *                inserted BEFORE the data with the same dedup token; the newest
 *                range per partition is how a restarted ingester rebuilds an
 *                interrupted insert identically (exactly-once).
 * ingest_errors  dead letters: where, what, a bounded prefix of the bytes.
 * Both deduplicate repeated inserts by token like v2e.events.
 */
import { createTable, engineClause, type DdlContext } from './ddl-common.js';

export function ingestStatements(ctx: DdlContext): string[] {
  return [
    ...createTable(
      ctx,
      'ingest_ledger',
      `    ts DateTime64(3) COMMENT 'when the ingester inserted the range',
    topic LowCardinality(String),
    partition UInt32,
    offset UInt64 COMMENT 'the message',
    first_offset UInt64 COMMENT 'insert range (dedup token) start',
    last_offset UInt64 COMMENT 'insert range end',
    status LowCardinality(String) COMMENT 'ok | dlq | resent (a collector batch stored before, not stored again)',
    kind LowCardinality(String) COMMENT 'events | counters | histograms ('''' when undecodable)',
    host LowCardinality(String),
    probe LowCardinality(String) COMMENT 'events: one ledger row per probe in the message',
    session String COMMENT 'collector session',
    seq UInt64 COMMENT 'collector batch number within the session',
    rows UInt32,
    weight UInt64 COMMENT 'sum(weight) of the event rows',
    sent_ns UInt64 COMMENT 'when the collector encoded the batch (ns)',
    ingester LowCardinality(String)`,
      engineClause(ctx, { kind: 'MergeTree', order: 'topic, partition, offset' }),
    ),
    ...createTable(
      ctx,
      'ingest_errors',
      `    ts DateTime64(3),
    topic LowCardinality(String),
    partition UInt32,
    offset UInt64,
    key String,
    host LowCardinality(String) COMMENT 'from the key when known',
    raw_base64 String COMMENT 'first 4096 bytes of the message, base64',
    raw_size UInt32,
    error String,
    ingester LowCardinality(String)`,
      engineClause(ctx, { kind: 'MergeTree', order: 'topic, partition, offset' }),
    ),
  ];
}
