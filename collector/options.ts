/**
 * collector/options.ts — what the collector core (collector.ts) is given and
 * reports: its options (CollectorOptions, per-probe ProbeOptions), a probe's
 * status, and the state it keeps per running family (Running, shared with
 * start.ts). collector.ts re-exports the public ones.
 */
import type { Logger } from 'pino';
import type { ProbeDef, ProbeName } from '../schema/event.js';
import type { Probe as NativeProbe } from '../native/index.js';
import type { BatcherOptions } from './pipeline/batcher.js';
import type { UprobeTargets } from '../uprobes/attach.js';
import type { AttachPlan } from './families/plans.js';
import type { FamilyRuntime, FamilySession } from './families/runtime.js';
import type { ExplainOptions } from '../explain/runtime.js';
import type { Sink } from './sinks/sink.js';

export interface ProbeOptions {
  sampleEvery?: number;
  pid?: number;
  comm?: string;
  /** ns: events at least this long are always sampled (0: off) */
  minValue?: number;
  /** cgroup v2 id (inode number of the cgroup directory, see cgroupId()); 0: every cgroup */
  cgroup?: number;
  /** per-CPU token bucket for sampled rows: rows/s (0: off) and depth (default = rate) */
  burstRate?: number;
  burstSize?: number;
}

export interface CollectorOptions {
  probes: ProbeName[];
  sink: Sink;
  logger: Logger;
  host?: string;
  /** per-probe options; `pid`/`comm` given at the top apply to all */
  perProbe?: Partial<Record<ProbeName, ProbeOptions>>;
  pid?: number;
  comm?: string;
  /** cgroup filter for every probe (cgroup v2 id) */
  cgroup?: number;
  ringBytes?: number;
  snapshotMs?: number;
  /**
   * batching to the sink; `maxPendingBytes` bounds what waits for it (event
   * rows pending and in batches not yet written; with --explain, breakdown
   * rows get an eighth of it): beyond it rows are dropped as lost_sink
   */
  batch?: Partial<BatcherOptions>;
  /** decode events to rows even for a sink that takes records (the path before issue 16; benchmarks compare the two) */
  rowPath?: boolean;
  /** at stop, how long to keep retrying a failing sink before counting the rows as lost_sink (default 10 s) */
  closeDeadlineMs?: number;
  /** opt-in programs of the attach plans, e.g. { udsReadWrite: true } (uds also hooks read/write) */
  optIn?: Record<string, boolean>;
  /** ring-buffer bytes waiting before the reader is woken (default ring/8; 0: wake for every row) */
  wakeupBytes?: number;
  /** how long an exited process's per-process counts stay in the kernel maps (default 30 s) */
  exitGraceMs?: number;
  /**
   * native batch hand-off tuning. `queueBytes` bounds the batches the
   * ring-buffer threads have handed over and the JS thread has not taken yet,
   * over all probes (default NATIVE_QUEUE_BYTES); beyond it a batch is
   * dropped and counted as lost_userspace. `maxQueuedBatches` overrides the
   * per-probe count derived from it.
   */
  poll?: { batchRecords?: number; batchMs?: number; maxQueuedBatches?: number; queueBytes?: number };
  /** uprobe families (go_*, app): the binaries and processes to attach to */
  targets?: UprobeTargets;
  /** explain round trips to these brokers (explain/runtime.ts) */
  explain?: ExplainOptions;
}

export type ProbeState = 'starting' | 'running' | 'failed' | 'stopped';

export interface ProbeStatus {
  probe: ProbeName;
  state: ProbeState;
  attach?: string;
  error?: string;
  attachErrors: string[];
  /** e.g. cpufreq: "frequency transitions: not available here (...)" */
  notes?: string[];
  counters: Record<string, number>;
}

export interface Running {
  name: ProbeName;
  def: ProbeDef;
  native?: NativeProbe;
  plan?: AttachPlan;
  state: ProbeState;
  error?: string;
  attachErrors: string[];
  /** previous cumulative values for deltas: counter key → value */
  last: Map<string, number>;
  lastHist: Map<string, number[]>;
  decodeRejected: number;
  /** its runtime, if it has one (collector/families/runtime.ts) */
  rt?: FamilyRuntime;
  /** a family running as a session (runtime start()); `native` is its BPF object */
  session?: FamilySession;
  /** the native reader's weight still to carry when its object was closed */
  closedPendingWeight?: number;
  /** detached (stopping): the family's sweep no longer runs (what completes now is not unseen, just unwatched) */
  detached?: boolean;
  /** the family's sweep failed (logged once) */
  sweepFailed?: boolean;
}

/**
 * Default bound on batches waiting between the ring-buffer threads and the JS
 * thread, all probes together: split evenly between the probes (at least two
 * batches each), each batch counted at its full capacity (batchRecords x
 * RECORD_SIZE, 256 KiB by default). 16 MiB is 64 such batches: with one probe,
 * what the queue held before it was bounded by bytes; ~2 s of rows at 120k/s.
 */
export const NATIVE_QUEUE_BYTES = 16 << 20;
