/**
 * schema/rtt-tables.ts — `v2e.rtt_breakdown`: one row per sampled client ↔
 * broker round trip explained by `v2probe explain` (explain/breakdown.ts).
 * Every *_ns component column adds up to total_ns. Migration 8 adds where
 * the broker thread blocked longest while serving (blocked_*).
 * The component columns (`COMPONENTS`, their help) are defined here, where
 * the table is: the explainer, the alerts and /metrics take them from here.
 */
import { createTable, onCluster, storageTable, timeSeriesEngine, type DdlContext } from './ddl-common.js';
import { sqlString } from './sql.js';

/** Component columns of a breakdown, in display order (all ns; they sum to total_ns). */
export const COMPONENTS = [
  'send_ns', 'queue_ns', 'pickup_runq_ns', 'pickup_gc_ns',
  'oncpu_ns', 'runq_ns', 'futex_ns', 'lock_ns', 'io_ns', 'pagefault_ns', 'gc_ns', 'other_ns',
  'reply_ns', 'client_runq_ns', 'unattributed_ns',
] as const;
export type Component = (typeof COMPONENTS)[number];

export const COMPONENT_HELP: Record<Component, string> = {
  send_ns: 'client: the request write itself',
  queue_ns: 'request waiting in the socket (broker busy elsewhere, Go netpoll hand-off)',
  pickup_runq_ns: 'broker thread woken for the request, waiting for a CPU',
  pickup_gc_ns: 'request waiting for the broker goroutine while its Go runtime ran a GC cycle (STW or concurrent mark, whose workers hold Ps)',
  oncpu_ns: 'broker: on CPU while holding the request',
  runq_ns: 'broker: runnable, waiting for a CPU (preempted / woken)',
  futex_ns: 'broker: blocked in futex (user lock, Go mutex/park)',
  lock_ns: 'broker: blocked on a kernel lock',
  io_ns: 'broker: blocked on I/O (fsync/fdatasync, D state outside page faults)',
  pagefault_ns: 'broker: blocked inside a page fault (e.g. a major fault reading the page)',
  gc_ns: 'broker: stopped by Go GC (STW)',
  other_ns: 'broker: other sleep (sockets, timers, epoll)',
  reply_ns: 'reply in the socket until the client thread was woken',
  client_runq_ns: 'client thread woken for the reply, waiting for a CPU',
  unattributed_ns: 'not attributable (reply sent from another thread than the recv)',
};

export function rttStatements(ctx: DdlContext): string[] {
  const comps = COMPONENTS.map((c) => `    ${c} UInt64 COMMENT ${sqlString(COMPONENT_HELP[c])} CODEC(T64, ZSTD(1))`).join(',\n');
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
