/**
 * collector/runtimes.ts — which family has which runtime
 * (collector/families/runtime.ts): the uprobe families' (uprobes/runtimes.ts)
 * and the rtt family's (explain/runtime.ts, with --explain). Families not
 * named here run the collector's plain path. One set per collector: a
 * runtime may hold state (rtt: its session, histograms, breakdown rows).
 */
import type { Logger } from 'pino';
import type { ProbeName } from '../schema/event.js';
import type { BatcherOptions } from './pipeline/batcher.js';
import type { FamilyRuntime } from './families/runtime.js';
import type { Sink } from './sinks/sink.js';
import type { UprobeTargets } from '../uprobes/attach.js';
import { uprobeRuntimes } from '../uprobes/runtimes.js';
import { RttRuntime, type ExplainOptions } from '../explain/runtime.js';

export interface RuntimeOptions {
  sink: Sink;
  logger: Logger;
  host: string;
  /** the collector's batching (defaults filled in) */
  batch: BatcherOptions;
  targets?: UprobeTargets;
  explain?: ExplainOptions;
}

/** The runtimes of one collector, by family. */
export function familyRuntimes(o: RuntimeOptions): Partial<Record<ProbeName, FamilyRuntime>> {
  return { ...uprobeRuntimes(o.targets), rtt: new RttRuntime(o) };
}
