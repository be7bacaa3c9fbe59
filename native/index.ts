/**
 * native/index.ts — typed access to the v2probe_native addon (libbpf).
 *
 * The addon is built by native/build.sh into
 * native/build/Release/v2probe_native.node. This file runs from native/ (under
 * vitest) or from dist/native/ (compiled), so the addon is found from the
 * repository root: the nearest ancestor whose package.json is named "v2probe".
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Options of open(). Unknown program or map names reject with ENOENT. */
export interface OpenOptions {
  /** Size of map `events`, rounded up to a power-of-two number of pages. */
  ringBytes?: number;
  /** Program name -> load it or not (e.g. disable the raw_tp twin of a tp_btf program). */
  autoload?: Record<string, boolean>;
  /** Map name -> max_entries. */
  maxEntries?: Record<string, number>;
  /** Load-time options: `const volatile` globals of the object's .rodata, set before load. */
  rodata?: Record<string, number>;
}

export interface ProgramInfo {
  name: string;
  section: string;
  autoload: boolean;
}

/** `type` is the kernel's enum bpf_map_type (see BpfMapType). */
export interface MapInfo {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

export interface AttachResult {
  program: string;
  section: string;
  ok: boolean;
  /** Present when ok is false. */
  errno?: number;
  code?: string;
  error?: string;
}

export interface PollOptions {
  /** Hand a batch over when it holds this many records (default 4096). */
  batchRecords?: number;
  /** ...or when its first record is this old (default 100 ms). */
  batchMs?: number;
  /** Batches waiting for the JS thread; beyond it batches are dropped and counted (default 64). */
  maxQueuedBatches?: number;
  /**
   * Records are struct v2_event: the weight of a dropped batch is carried to
   * the next record of the same event kind (as the BPF side does for a full
   * ring), so sum(weight) still estimates the events seen (default false).
   */
  carryWeight?: boolean;
}

/** A batch: `records` ring-buffer records (64-byte struct v2_event each), concatenated. */
export type BatchCallback = (batch: Buffer, records: number) => void;

export interface PollStats {
  deliveredRecords: number;
  deliveredBatches: number;
  droppedRecords: number;
  droppedBatches: number;
  /** carryWeight: weight of dropped records not yet carried by a delivered one */
  pendingWeight: number;
  polling: boolean;
  /** Set when the poll thread stopped on an error of its own. */
  pollError?: string;
}

/**
 * A map's contents. keys: count * keySize bytes. values: count * valueSize
 * bytes, or for per-CPU maps count * roundUp(valueSize, 8) * nCpu bytes
 * (CPU c of entry i at (i * nCpu + c) * roundUp(valueSize, 8)).
 */
export interface MapDump {
  keySize: number;
  valueSize: number;
  perCpu: boolean;
  nCpu: number;
  keys: Buffer;
  values: Buffer;
  count: number;
}

/** run_time_ns / run_cnt are non-zero only with sysctl kernel.bpf_stats_enabled=1. */
export interface ProgramStat {
  name: string;
  runTimeNs: bigint;
  runCnt: bigint;
  id: number;
}

/**
 * An entry uprobe at a file offset of a binary (attachUprobes). Entry only:
 * there is deliberately no return-probe option (uretprobes crash Go programs).
 */
export interface UprobeSpec {
  /** BPF program name (a SEC("uprobe") program of the family) */
  program: string;
  /** path of the executable or library */
  binary: string;
  /** file offset of the instruction (not the virtual address) */
  offset: number;
  /** only this process; omitted or -1: every process of the binary, including later ones */
  pid?: number;
  /** value of bpf_get_attach_cookie() in the program */
  cookie?: number | bigint;
}

/** Sampling perf events, one per CPU (attachPerfEvent). Default: cpu-clock at 99 Hz on every online CPU. */
export interface PerfEventSpec {
  /** BPF program name (a SEC("perf_event") program of the family) */
  program: string;
  /** samples per second (frequency mode); default 99 */
  frequency?: number;
  /** or: one sample every `period` events (overrides frequency) */
  period?: number;
  /** perf_event_attr.type, default 1 (PERF_TYPE_SOFTWARE) */
  type?: number;
  /** perf_event_attr.config, default 0 (PERF_COUNT_SW_CPU_CLOCK) */
  config?: number;
  /** only this process's tasks; omitted or -1: every task */
  pid?: number;
  /** CPUs to open on; default every online CPU */
  cpus?: number[];
}

export interface Probe {
  readonly family: string;
  programs(): ProgramInfo[];
  maps(): MapInfo[];
  /** Attaches every autoloaded program; one failure does not stop the others. */
  attach(): Promise<AttachResult[]>;
  /** Once per probe. Batches queued before close() are still delivered after it. */
  startPolling(onBatch: BatchCallback, opts?: PollOptions): void;
  stats(): PollStats;
  readMap(name: string): MapDump;
  /** BPF_ANY. Per-CPU maps take roundUp(valueSize, 8) * nCpu bytes. */
  updateMap(name: string, key: Buffer, value: Buffer): void;
  /** Delete one key (hash maps); false when it was not there. */
  deleteMapEntry(name: string, key: Buffer): boolean;
  programStats(): ProgramStat[];
  /** Run a loaded program once (BPF_PROG_TEST_RUN), e.g. a SEC("syscall") sweep; returns its return value. */
  runProgram(name: string): number;
  /** Detaches, stops polling, frees the object. Idempotent; also runs at process exit. */
  close(): void;
  /** Entry uprobes at explicit offsets; one result per spec (section names binary+offset). */
  attachUprobes(specs: UprobeSpec[]): Promise<AttachResult[]>;
  /** perf_event_open per CPU + attach; one result per CPU. */
  attachPerfEvent(spec: PerfEventSpec): Promise<AttachResult[]>;
  /** Destroys the links of one program (or of all when omitted); returns how many. */
  detach(program?: string): number;
}

/** Options of dropCapabilities(). */
export interface CapDropOptions {
  /** how long the other threads have to answer, per scan of /proc/self/task (default 5000) */
  timeoutMs?: number;
  /** set PR_SET_NO_NEW_PRIVS on every thread (default true) */
  noNewPrivs?: boolean;
  /** PR_CAPBSET_DROP everything not kept (default true; skipped without CAP_SETPCAP) */
  dropBounding?: boolean;
}

/** One thread after the drop, as read back from /proc/self/task/TID/status (hex masks as there). */
export interface CapThreadReport {
  tid: number;
  name: string;
  /** self: the calling thread; signal: changed by its handler; inherited: created after the last scan by a thread that had dropped */
  via: 'self' | 'signal' | 'inherited';
  /** holds nothing beyond the kept set (and bounding/ambient/no_new_privs as asked) */
  ok: boolean;
  errno?: number;
  code?: string;
  /** the failing step: ambient | bounding | no_new_privs | capget | capset | signal (no answer) | verify */
  step?: string;
  capEff: string;
  capPrm: string;
  capInh: string;
  capBnd: string;
  capAmb: string;
  noNewPrivs: boolean;
}

export interface CapDropReport {
  /** what every thread holds now (permitted = effective): the requested set that the caller held */
  kept: string[];
  keptMask: string;
  /** held before (permitted or effective) and not any more */
  dropped: string[];
  /** CapPrm of the caller before */
  before: string;
  boundingDropped: boolean;
  noNewPrivs: boolean;
  /** the signal used to reach the other threads (32) */
  signal: number;
  /** scans of /proc/self/task that found threads to change */
  rounds: number;
  threads: CapThreadReport[];
}

/** What dropCapabilities() throws when a thread could not be changed: the first failing thread, and the whole report. */
export interface CapDropError extends Error {
  code: string;
  errno: number;
  tid?: number;
  report: CapDropReport;
}

export interface NativeAddon {
  families(): string[];
  libbpfVersion(): string;
  open(family: string, opts?: OpenOptions): Promise<Probe>;
  /**
   * Process-wide capability drop: every thread keeps only `keep` (names such
   * as 'CAP_BPF' or 'bpf', or numbers) in its permitted and effective sets,
   * an empty inheritable and ambient set, the bounding set reduced to `keep`,
   * and no_new_privs. Synchronous; throws CapDropError (TypeError for bad
   * arguments) when any thread still holds more afterwards.
   */
  dropCapabilities(keep: Array<string | number>, opts?: CapDropOptions): CapDropReport;
}

/** What open(), attach() (per result), readMap() and friends reject or throw with. */
export interface NativeError extends Error {
  /** errno name: 'EPERM', 'ENOENT', 'ENOTSUPP', ... */
  code: string;
  errno: number;
  /** The probe family. */
  probe: string;
  /** Tail of libbpf's log (verifier output) when it said something. */
  log?: string;
}

export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as Partial<NativeError>).errno === 'number' &&
    typeof (e as Partial<NativeError>).probe === 'string';
}

export function isCapDropError(e: unknown): e is CapDropError {
  return e instanceof Error && typeof (e as Partial<CapDropError>).errno === 'number' &&
    typeof (e as Partial<CapDropError>).report === 'object';
}

/** enum bpf_map_type values used by v2probe's objects. */
export const BpfMapType = {
  HASH: 1,
  ARRAY: 2,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  STACK_TRACE: 7,
  RINGBUF: 27,
} as const;

/** The addon is missing or does not load. */
export class NativeAddonError extends Error {
  readonly code: 'ERR_NATIVE_NOT_BUILT' | 'ERR_NATIVE_LOAD';
  readonly path: string;
  constructor(code: NativeAddonError['code'], message: string, path: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'NativeAddonError';
    this.code = code;
    this.path = path;
  }
}

const ADDON_RELATIVE = join('native', 'build', 'Release', 'v2probe_native.node');

/** The v2probe repository root, found by walking up from this file. */
export function repoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'v2probe') return dir;
      } catch {
        // not JSON: keep walking
      }
    }
    if (dirname(dir) === dir) {
      throw new NativeAddonError('ERR_NATIVE_NOT_BUILT',
        `native addon not found: no package.json named "v2probe" above ${from}`, from);
    }
  }
}

export function addonPath(): string {
  return join(repoRoot(), ADDON_RELATIVE);
}

let cached: NativeAddon | undefined;

/** Loads the addon once; throws NativeAddonError when it is not built or does not load. */
export function loadNative(): NativeAddon {
  if (cached) return cached;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new NativeAddonError('ERR_NATIVE_NOT_BUILT',
      `native addon not built: run npm run build (missing ${path})`, path);
  }
  try {
    cached = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (e) {
    throw new NativeAddonError('ERR_NATIVE_LOAD',
      `native addon failed to load: ${(e as Error).message} — run npm run build (${path})`, path, e);
  }
  return cached;
}
