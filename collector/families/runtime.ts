/**
 * collector/families/runtime.ts — the one runtime interface of a probe family
 * that does more than the collector's plain path (open the object, attach its
 * plans in order, poll its ring, snapshot its counters and histograms, detach
 * and close). A family implements only what it changes:
 *
 *   start      open and attach in its own way (a session), instead of the plans
 *   optIn      opt-in programs of its plans to load (shm: shm_ring with --shm-ring)
 *   attach     attach an opened object's plan (uprobes: on the targets)
 *   counters   its own counters, over the common ones, at every read
 *   snapshot   false: its counters and histograms are not snapshot rows
 *   extraRows  counter rows it adds to each snapshot
 *   stop       (the session's detach, finish, close)
 *
 * Implemented by explain/runtime.ts (rtt) and uprobes/runtimes.ts (go_gc,
 * go_sched, go_malloc, app; shm with --shm-ring); collector/runtimes.ts says which family has
 * which. Base layer: imports only schema/, native/ and the base itself.
 */
import type { AttachResult, Probe as NativeProbe } from '../../native/index.js';
import type { FamilyMapReader } from '../maps.js';
import type { AttachPlan } from './plans.js';

/** A family running as its own session (start()): its object, the plan it runs, its stop steps. */
export interface FamilySession {
  /** the family's BPF object (its counters map, histograms, stats) */
  readonly native: NativeProbe;
  readonly plan: AttachPlan;
  /** fields of the 'probe attached' log line */
  readonly logFields?: Record<string, unknown>;
  /** stop looking for targets and detach every program (the maps stay readable) */
  detach(): Promise<void>;
  /** after detach() and the reader's last hand-off: complete what can be */
  finish(): void;
  /** free the BPF object. Idempotent. */
  close(): void;
}

/** A counter row a family adds to each snapshot (per pid or key; `gauge`: written even when unchanged). */
export interface ExtraCounterRow {
  name: string;
  pid: number;
  key: string;
  value: number;
  gauge?: boolean;
}

/** The part of a Batcher of a family's own rows the collector reads (sink health) and closes. */
export interface FamilyRows {
  readonly down: boolean;
  readonly downSince: number | undefined;
  readonly lastError: Error | undefined;
  readonly retries: number;
  readonly pendingRows: number;
  readonly pendingBytes: number;
  close(deadlineMs?: number): Promise<void>;
}

/** What a family changes of the collector's plain path (every member optional). */
export interface FamilyRuntime {
  /** run even when not asked for in `probes` (rtt with --explain) */
  readonly implied?: boolean;
  /** the sampling rate to run with when the per-probe options give none */
  readonly sampleEvery?: number;
  /**
   * false: the family's records are not event rows and its counters not
   * snapshot rows (rtt: breakdowns; in v2e.counters they would read as loss);
   * it takes no share of the native hand-off queue and carries no weight
   */
  readonly snapshot?: boolean;
  /** its own rows on their way to the sink, beside the event rows (a pipeline/batcher.ts Batcher: health, close) */
  readonly rows?: FamilyRows;
  /** bytes of the collector's pending bound its own rows take */
  readonly pendingBytes?: number;
  /** why it cannot start here (no prefix of a plan label), or undefined */
  unavailable?(): string | undefined;
  /** open and attach as a session, instead of the attach plans; `sampleEvery` as configured for the probe */
  start?(sampleEvery: number | undefined): Promise<FamilySession>;
  /** opt-in programs of the plans (AttachPlan.optIn) this runtime needs loaded, over the collector's optIn */
  readonly optIn?: Record<string, boolean>;
  /** attach a plan's programs once the object is open (default: probe.attach()) */
  attach?(probe: NativeProbe, plan: AttachPlan): Promise<AttachResult[]>;
  /** change or add counters of a read (common + family + userspace figures so far) */
  counters?(out: Record<string, number>): void;
  /** counter rows to add to each snapshot */
  extraRows?(maps: FamilyMapReader): ExtraCounterRow[];
}
