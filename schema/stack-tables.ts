/**
 * schema/stack-tables.ts — sampled stacks for historical flame graphs
 * (migration 6, issue 6).
 *
 * v2e.stacks  one row per (window, host, kind, pid, comm, stack): the folded
 *             stack (root → leaf, `;`-joined, without the comm root frame the
 *             flame graph adds) and its count in that window — samples for
 *             on-CPU, nanoseconds blocked for off-CPU. Kept like raw events.
 */
import { createTable, timeSeriesEngine, type DdlContext } from './ddl-common.js';

export function stackStatements(ctx: DdlContext): string[] {
  return createTable(
    ctx,
    'stacks',
    `    ts DateTime64(3) COMMENT 'window start' CODEC(Delta, ZSTD(1)),
    span_ms UInt32 COMMENT 'window length (ms)',
    host LowCardinality(String),
    kind LowCardinality(String) COMMENT 'oncpu | offcpu',
    frequency UInt32 COMMENT 'on-CPU sampling frequency (Hz); 0 for off-CPU',
    pid UInt32,
    comm LowCardinality(String),
    stack String COMMENT 'folded frames root to leaf, ;-joined; kernel frames end in _[k]' CODEC(ZSTD(3)),
    count UInt64 COMMENT 'samples (oncpu) or ns blocked (offcpu) in the window' CODEC(T64, ZSTD(1))`,
    timeSeriesEngine(ctx, 'kind, comm, host, ts', ctx.retention.events),
  );
}
