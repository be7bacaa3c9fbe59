/**
 * bpf/family.ts — what a probe family descriptor holds (bpf/NAME.family.ts,
 * beside bpf/NAME.bpf.c) and the helpers descriptors build their attach plans
 * with. A family is its BPF file plus one descriptor; everything else that
 * names the family is derived from the descriptors:
 *  - schema/event.ts PROBES (ids, events, counter slots, arg columns, sampling),
 *  - collector/families/plans.ts ATTACH (attach plans, fallbacks, keyed counters),
 *  - collector/ops/metrics.ts SUBSYSTEM,
 *  - by bpf/gen.ts (node dist/bpf/gen.js): bpf/families.gen.h (ids, event enums,
 *    counter-slot macros), bpf/families.gen.ts (the index), bpf/hookbase.bpf.c
 *    (the bench baseline programs) and the README's probe table.
 * This room imports nothing but node: (schema/ imports it).
 */
import { existsSync, readdirSync } from 'node:fs';

/** First family-specific counter slot (enum v2_counter V2_C_FAMILY). */
export const FAMILY_COUNTER_BASE = 8;

/** Attribute columns arg0/arg1 can fill (schema/event.ts ATTRIBUTE_COLUMNS has their types). */
export type AttributeName = 'fd' | 'ret' | 'dev' | 'bytes' | 'peer_pid' | 'state' | 'addr' | 'seq' | 'target';
/** The unit of an event's `value`: a duration, a size, a count, a frequency (cpufreq). Only ns values feed the latency histograms of /metrics. */
export type Unit = 'ns' | 'bytes' | 'count' | 'kHz';

/**
 * What a generic column holds in a family's rows: one meaning for every event,
 * or one per event (event name → meaning; an event left out leaves the column
 * at its default, 0). docs/columns.md is generated from these.
 */
export type ColumnMeaning = string | Readonly<Record<string, string>>;

export interface AttachPlan {
  /** label shown by doctor/status, e.g. "tp_btf sched_switch,sched_wakeup" */
  label: string;
  /** programs to load (autoload=true); every other program in the object is disabled */
  programs: string[];
  /** tracefs events it needs (category/name), checked by doctor */
  tracepoints: string[];
  /** needs kernel BTF (tp_btf) */
  needsBtf: boolean;
  /** attach type family, for doctor (kprobe fallbacks cannot run where kprobes are off) */
  kind: 'tracepoint' | 'tp_btf' | 'raw_tp' | 'kprobe' | 'uprobe' | 'perf_event';
  /** uprobe plans: where each program goes in the target binaries (uprobes/attach.ts) */
  uprobes?: UprobeTarget[];
  /** programs loaded only when the collector asks for them (CollectorOptions.optIn), e.g. uds read/write */
  optIn?: Record<string, string[]>;
}

/**
 * An entry uprobe of a plan. `at: 'entry'`: the first of `symbols` the binary
 * has. `at: 'after-call'`: the instruction after every CALL to that symbol
 * inside the functions named by `callers` (a plain uprobe where the callee
 * returns: the end of a function without a uretprobe, which crashes Go).
 */
export interface UprobeTarget {
  program: string;
  symbols: string[];
  at?: 'entry' | 'after-call';
  /** after-call: caller function names (regular expression) */
  callers?: string;
  /** bits 32.. of the uprobe's cookie (the program tells the sites apart); bits 0..31 are the target index */
  cookieRole?: number;
}

export interface KeyedCount {
  map: string;
  key: 'pid' | 'dev_kind' | 'pid_addr';
  counter: string;
  /** name for the value's `total` */
  total?: string;
}

/** One empty program of the hook-cost baseline (bpf/hookbase.bpf.c), on the same hook as the family's. */
export interface BaselineProgram {
  program: string;
  /** SEC() of the empty program, e.g. "tp_btf/kmalloc" or "tracepoint/syscalls/sys_enter_futex" */
  sec: string;
}

export interface FamilyDescriptor {
  /** the family's name: its object (bpf/NAME.bpf.c), the `probe` column */
  name: string;
  /** enum v2_probe_id */
  id: number;
  /** what it measures, one line (shown by --help and doctor) */
  summary: string;
  /** the `subsystem` label of its metrics (default: the family's name) */
  subsystem?: string;
  /** event kinds in `event` byte order (enum v2_<family>_event), each with the unit of its `value` */
  events: ReadonlyArray<{ readonly name: string; readonly unit: Unit }>;
  /** unit of `value` when the family has no events (default: the first event's) */
  unit?: Unit;
  /** extra exact counters (name → slot, from FAMILY_COUNTER_BASE); C macros V2_C_<FAMILY>_<NAME> */
  counters: Readonly<Record<string, number>>;
  /** which attribute columns arg0/arg1 fill */
  args: { readonly arg0?: AttributeName; readonly arg1?: AttributeName };
  /**
   * What `value` and the attribute columns of `args` mean in this family's rows (every
   * user-selectable family says so for each column it fills: test/schema/families.test.ts);
   * e.g. pagefault's `state` is the x86 error code, kmem's `bytes` the requested size.
   */
  columns?: { readonly value: ColumnMeaning; readonly arg0?: ColumnMeaning; readonly arg1?: ColumnMeaning };
  /** default 1-in-N sampling of per-event rows */
  defaultSampleEvery: number;
  /** internal families (bench baseline, explain, profiles) are not user-selectable */
  internal?: boolean;
  /** a benchmark baseline, not a probe: listed after every probe (the rest go by id) */
  baseline?: boolean;
  /** records are this struct (its own header declares its kinds), not v2_event: no event enum is generated */
  record?: string;
  /** slots the BPF side keeps but the collector does not report (C macros only) */
  bpfCounters?: Readonly<Record<string, number>>;
  /** attach plans, first choice first, then the fallbacks */
  plans: AttachPlan[];
  /** extra maps with per-key exact counts: map name → how to read its key */
  keyedCounts?: KeyedCount[];
  /** parts of the family this machine cannot provide although the probe attaches (doctor and status show them) */
  notes?: () => string[] | undefined;
  /**
   * A SEC("syscall") program of the family's object that the collector runs (BPF_PROG_TEST_RUN) right before
   * it reads the counters and keyed counts, when the attached plan loads it (blockio: counts the completions
   * its other programs never ran for). It attaches nowhere.
   */
  sweep?: string;
  /** uprobe families: the oldest Go release whose runtime symbols the plans rely on */
  minGoVersion?: readonly [number, number];
  /** the hook-cost baseline: empty programs on the same hooks (bench/probes.ts) */
  benchBaseline?: BaselineProgram[];
  /** the README's probe table row (families without one are not listed) */
  readme?: { measures: string; attaches: string };
}

/** Identity with a type check: `export default defineFamily({...} as const)`. */
export function defineFamily<const D extends FamilyDescriptor>(d: D): D {
  return d;
}

/** Counter slots `<prefix><event>` at base + event index. */
export function perEvent(events: readonly string[], base: number, prefix: string): Record<string, number> {
  return Object.fromEntries(events.map((e, i) => [`${prefix}${e}`, base + i]));
}

/** Events all of one unit. */
export function eventsOf<const N extends readonly string[]>(names: N, unit: Unit): { [K in keyof N]: { name: N[K]; unit: Unit } } {
  return names.map((name) => ({ name, unit })) as { [K in keyof N]: { name: N[K]; unit: Unit } };
}

export const kprobeOnly = (label: string): AttachPlan => ({ label: `${label} (not built: kprobes are a fallback for kernels without the tracepoints)`, programs: [], tracepoints: [], needsBtf: false, kind: 'kprobe' });

export const sys = (names: string[]) => names.flatMap((n) => [`syscalls/sys_enter_${n}`, `syscalls/sys_exit_${n}`]);

/** A plan of entry uprobes on Go runtime functions: [program, symbol] pairs. */
export function entryUprobes(label: string, probes: Array<[string, string]>): AttachPlan {
  return {
    label,
    programs: probes.map(([p]) => p),
    tracepoints: [],
    needsBtf: false,
    kind: 'uprobe',
    uprobes: probes.map(([program, symbol]) => ({ program, symbols: [symbol] })),
  };
}

/**
 * The two plans of a BTF tracepoint family: `tp_btf/...` programs named
 * `<base>_btf` first, their `raw_tp/...` twins `<base>_raw` as the fallback
 * for kernels without BTF. `tracepoints` are category/name.
 */
export function btfThenRaw(tracepoints: string[], bases: string[]): AttachPlan[] {
  const names = tracepoints.map((t) => t.split('/')[1]).join(', ');
  return [
    { label: `tp_btf ${names}`, programs: bases.map((b) => `${b}_btf`), tracepoints, needsBtf: true, kind: 'tp_btf' },
    { label: `raw_tp ${names}`, programs: bases.map((b) => `${b}_raw`), tracepoints, needsBtf: false, kind: 'raw_tp' },
  ];
}

/** Baseline programs for syscall tracepoints: base_enter_<n>/base_exit_<n>. */
export function syscallBaseline(names: string[]): BaselineProgram[] {
  return names.flatMap((n) => [
    { program: `base_enter_${n}`, sec: `tracepoint/syscalls/sys_enter_${n}` },
    { program: `base_exit_${n}`, sec: `tracepoint/syscalls/sys_exit_${n}` },
  ]);
}

export const UDS_SYSCALLS = ['sendmsg', 'recvmsg', 'connect', 'sendto', 'recvfrom'];

/** cpufreq: is there a frequency-scaling driver? (VMs usually have none: power:cpu_frequency never fires) */
export function cpufreqNotes(sysCpu = '/sys/devices/system/cpu'): string[] | undefined {
  const notes: string[] = [];
  const dir = `${sysCpu}/cpufreq`;
  const policies = existsSync(dir) ? readdirSync(dir).filter((d) => d.startsWith('policy')) : [];
  if (policies.length === 0) notes.push(`frequency transitions: not available here (no cpufreq driver: ${dir} has no policy*; usual in VMs)`);
  const idle = `${sysCpu}/cpuidle/current_driver`;
  if (!existsSync(idle)) notes.push(`idle states: not available here (no cpuidle driver: ${idle} missing)`);
  return notes.length ? notes : undefined;
}
