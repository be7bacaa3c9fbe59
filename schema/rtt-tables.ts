/**
 * schema/rtt-tables.ts — `v2e.rtt_breakdown`: one row per sampled client ↔
 * broker round trip explained by `v2probe explain` (collector/explain.ts).
 * Every *_ns component column adds up to total_ns. Migration 8 adds where
 * the broker thread blocked longest while serving (blocked_*).
 */
import { COMPONENTS, COMPONENT_HELP } from '../collector/explain.js';
import { createTable, onCluster, storageTable, timeSeriesEngine, type DdlContext } from './ddl-common.js';

export function rttStatements(ctx: DdlContext): string[] {
  const comps = COMPONENTS.map((c) => `    ${c} UInt64 COMMENT '${COMPONENT_HELP[c].replace(/'/g, "\\'")}' CODEC(T64, ZSTD(1))`).join(',\n');
  return createTable(
    ctx,
    'rtt_breakdown',
    `    ts DateTime64(9) COMMENT 'the client request write (wall clock, ns)' CODEC(Delta, ZSTD(1)),
    host LowCardinality(String),
    client_pid UInt32,
    client_tid UInt32,
    client_comm LowCardinality(String),
    broker_pid UInt32,
    broker_tid UInt32,
    broker_comm LowCardinality(String),
    total_ns UInt64 COMMENT 'client send entry to client recv exit' CODEC(T64, ZSTD(1)),
${comps}`,
    timeSeriesEngine(ctx, 'broker_comm, host, ts', ctx.retention.events),
  );
}

/** The blocked_* columns (migration 8): the broker thread's longest block while serving, and its user stack. */
export const BLOCKED_COLUMNS = [
  "blocked_comp LowCardinality(String) COMMENT 'component of the longest block while serving (futex, io, lock, gc, other; empty: none)'",
  "blocked_ns UInt64 COMMENT 'its length (ns)' CODEC(T64, ZSTD(1))",
  "blocked_stack String COMMENT 'the user stack it blocked at, root first, frames joined by ;' CODEC(ZSTD(3))",
];

export function rttBlockedStatements(ctx: DdlContext): string[] {
  const tables = ctx.cluster ? [storageTable(ctx, 'rtt_breakdown'), `${ctx.db}.rtt_breakdown`] : [storageTable(ctx, 'rtt_breakdown')];
  return tables.map((t) => `ALTER TABLE ${t}${onCluster(ctx)} ${BLOCKED_COLUMNS.map((c) => `ADD COLUMN IF NOT EXISTS ${c}`).join(', ')}`);
}
