/**
 * schema/rtt-tables.ts — `v2e.rtt_breakdown`: one row per sampled client ↔
 * broker round trip explained by `v2probe explain` (collector/explain.ts).
 * Every *_ns component column adds up to total_ns.
 */
import { COMPONENTS, COMPONENT_HELP } from '../collector/explain.js';
import { createTable, timeSeriesEngine, type DdlContext } from './ddl-common.js';

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
