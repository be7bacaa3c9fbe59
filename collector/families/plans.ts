/**
 * collector/families/plans.ts — the attach plans: how each probe family attaches, which BPF programs form
 * its primary attach plan (stable tracepoints, tp_btf) and which its fallbacks,
 * what tracepoints it needs, and the family-specific maps it exposes.
 * The collector tries the plans in order and reports which one it got.
 */
import { existsSync, readdirSync } from 'node:fs';
import type { ProbeName } from '../../schema/event.js';

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

/** Which programs of a family's object load for one of its plans: that plan's (opt-in ones only when asked for), no other plan's. */
export function planAutoload(plans: readonly AttachPlan[], plan: AttachPlan, optIn: Record<string, boolean | undefined> = {}): Record<string, boolean> {
  const autoload: Record<string, boolean> = {};
  for (const other of plans) for (const prog of other.programs) autoload[prog] = false;
  for (const prog of plan.programs) autoload[prog] = true;
  for (const [flag, progs] of Object.entries(plan.optIn ?? {})) for (const prog of progs) autoload[prog] = optIn[flag] === true;
  return autoload;
}

export interface FamilyAttach {
  object: string;
  plans: AttachPlan[];
  /** extra maps with per-key exact counts: map name → how to read its key */
  keyedCounts?: Array<{ map: string; key: 'pid' | 'dev_kind' | 'pid_addr'; counter: string; /** name for the value's `total` */ total?: string }>;
  /** parts of the family this machine cannot provide although the probe attaches (doctor and status show them) */
  notes?: () => string[] | undefined;
}

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

const kprobeOnly = (label: string): AttachPlan => ({ label: `${label} (not built: kprobes are a fallback for kernels without the tracepoints)`, programs: [], tracepoints: [], needsBtf: false, kind: 'kprobe' });

const sys = (names: string[]) => names.flatMap((n) => [`syscalls/sys_enter_${n}`, `syscalls/sys_exit_${n}`]);

/** A plan of entry uprobes on Go runtime functions: [program, symbol] pairs. */
function entryUprobes(label: string, probes: Array<[string, string]>): AttachPlan {
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
function btfThenRaw(tracepoints: string[], bases: string[]): AttachPlan[] {
  const names = tracepoints.map((t) => t.split('/')[1]).join(', ');
  return [
    { label: `tp_btf ${names}`, programs: bases.map((b) => `${b}_btf`), tracepoints, needsBtf: true, kind: 'tp_btf' },
    { label: `raw_tp ${names}`, programs: bases.map((b) => `${b}_raw`), tracepoints, needsBtf: false, kind: 'raw_tp' },
  ];
}
const UDS_SYSCALLS = ['sendmsg', 'recvmsg', 'connect', 'sendto', 'recvfrom'];

export const ATTACH: Record<ProbeName, FamilyAttach> = {
  uds: {
    object: 'uds',
    plans: [
      {
        label: 'tracepoint syscalls:sys_{enter,exit}_{sendmsg,recvmsg,connect,sendto,recvfrom} (task storage)',
        programs: UDS_SYSCALLS.flatMap((n) => [`uds_enter_${n}`, `uds_exit_${n}`]),
        tracepoints: sys(UDS_SYSCALLS),
        needsBtf: false,
        kind: 'tracepoint',
        // read/write on AF_UNIX fds (Go's UnixConn): every read/write on the host pays the fd check, so opt-in
        optIn: { udsReadWrite: ['read', 'write'].flatMap((n) => [`uds_enter_${n}`, `uds_exit_${n}`]) },
      },
      {
        label: 'tracepoint syscalls:sys_{enter,exit}_* (tid hash, probe reads: kernels without task storage / bpf_rdonly_cast)',
        programs: UDS_SYSCALLS.flatMap((n) => [`uds_enter_${n}_raw`, `uds_exit_${n}_raw`]),
        tracepoints: sys(UDS_SYSCALLS),
        needsBtf: false,
        kind: 'tracepoint',
      },
      {
        label: 'kprobe unix_stream_sendmsg (not built: kprobes are a fallback for kernels without syscall tracepoints)',
        programs: [],
        tracepoints: [],
        needsBtf: false,
        kind: 'kprobe',
      },
    ],
  },
  sched: {
    object: 'sched',
    plans: [
      ...btfThenRaw(['sched/sched_switch', 'sched/sched_wakeup', 'sched/sched_wakeup_new'], ['sched_switch', 'sched_wakeup', 'sched_wakeup_new']),
    ],
    keyedCounts: [{ map: 'pid_switches', key: 'pid', counter: 'switches' }],
  },
  blockio: {
    object: 'blockio',
    plans: [
      ...btfThenRaw(['block/block_rq_issue', 'block/block_rq_complete'], ['block_rq_issue', 'block_rq_complete']),
    ],
    keyedCounts: [{ map: 'dev_counts', key: 'dev_kind', counter: 'completed' }],
  },
  shm: {
    object: 'shm',
    plans: [
      {
        label: 'tracepoint syscalls:sys_{enter,exit}_{memfd_create,mmap,munmap,ftruncate}, tp_btf sched_process_exit',
        programs: ['shm_exit_memfd_create', 'shm_enter_mmap', 'shm_exit_mmap', 'shm_enter_munmap', 'shm_enter_ftruncate', 'shm_exit_ftruncate', 'shm_process_exit'],
        tracepoints: ['syscalls/sys_exit_memfd_create', ...sys(['mmap', 'ftruncate']), 'syscalls/sys_enter_munmap', 'sched/sched_process_exit'],
        needsBtf: false,
        kind: 'tracepoint',
      },
      kprobeOnly('kprobe shmem_file_setup'),
    ],
    keyedCounts: [{ map: 'pid_shm', key: 'pid', counter: 'shm_live_maps', total: 'shm_live_bytes' }],
  },
  lock: {
    object: 'lock',
    plans: [
      ...btfThenRaw(['lock/contention_begin', 'lock/contention_end'], ['contention_begin', 'contention_end']),
      kprobeOnly('kprobe mutex_lock slowpath'),
    ],
    keyedCounts: [{ map: 'pid_lock', key: 'pid', counter: 'lock_waits', total: 'lock_wait_ns' }],
  },
  futex: {
    object: 'futex',
    plans: [
      {
        label: 'tracepoint syscalls:sys_{enter,exit}_futex',
        programs: ['futex_enter', 'futex_exit'],
        tracepoints: sys(['futex']),
        needsBtf: false,
        kind: 'tracepoint',
      },
    ],
    keyedCounts: [{ map: 'futex_addr_waits', key: 'pid_addr', counter: 'futex_waits', total: 'futex_wait_ns' }],
  },
  pagefault: {
    object: 'pagefault',
    plans: [
      {
        label: 'tracepoint exceptions:page_fault_user, page_fault_kernel',
        programs: ['page_fault_user', 'page_fault_kernel'],
        tracepoints: ['exceptions/page_fault_user', 'exceptions/page_fault_kernel'],
        needsBtf: false,
        kind: 'tracepoint',
      },
    ],
    keyedCounts: [{ map: 'pid_faults', key: 'pid', counter: 'faults_user', total: 'faults_kernel' }],
  },
  kmem: {
    object: 'kmem',
    plans: [
      ...btfThenRaw(['kmem/kmalloc', 'kmem/kfree'], ['kmalloc', 'kfree']),
      kprobeOnly('kprobe __kmalloc'),
    ],
  },
  fsync: {
    object: 'fsync',
    plans: [
      {
        label: 'tracepoint syscalls:sys_{enter,exit}_{fsync,fdatasync,sync_file_range,write,pwrite64}',
        programs: ['fsync', 'fdatasync', 'sync_file_range', 'write', 'pwrite64'].flatMap((n) => [`fsync_enter_${n}`, `fsync_exit_${n}`]),
        tracepoints: sys(['fsync', 'fdatasync', 'sync_file_range', 'write', 'pwrite64']),
        needsBtf: false,
        kind: 'tracepoint',
      },
    ],
  },
  tcp: {
    object: 'tcp',
    plans: [
      {
        label: 'tracepoint sock:inet_sock_set_state, tcp:tcp_retransmit_skb, tcp:tcp_probe',
        programs: ['tcp_set_state', 'tcp_retransmit', 'tcp_probe'],
        tracepoints: ['sock/inet_sock_set_state', 'tcp/tcp_retransmit_skb', 'tcp/tcp_probe'],
        needsBtf: false,
        kind: 'tracepoint',
      },
      kprobeOnly('kprobe tcp_v4_connect'),
    ],
  },
  cpufreq: {
    object: 'cpufreq',
    plans: [
      {
        label: 'tracepoint power:cpu_frequency, power:cpu_idle',
        programs: ['cpu_frequency', 'cpu_idle'],
        tracepoints: ['power/cpu_frequency', 'power/cpu_idle'],
        needsBtf: false,
        kind: 'tracepoint',
      },
    ],
    notes: () => cpufreqNotes(),
  },
  go_gc: {
    object: 'go_gc',
    plans: [
      {
        label: 'uprobe runtime.stopTheWorldWithSema + after-call sites of runtime.startTheWorldWithSema',
        programs: ['go_stop_world', 'go_start_world'],
        tracepoints: [],
        needsBtf: false,
        kind: 'uprobe',
        uprobes: [
          { program: 'go_stop_world', symbols: ['runtime.stopTheWorldWithSema'] },
          { program: 'go_start_world', symbols: ['runtime.startTheWorldWithSema'], cookieRole: 1 },
          // where startTheWorldWithSema takes `now` (the time gctrace and pauseNS use) when its caller passes 0
          // (sweep termination, other STWs): the pause ends there, before procresize's follow-up and wakep
          { program: 'go_start_world', symbols: ['runtime.nanotime1.abi0', 'runtime.nanotime1'], at: 'after-call', cookieRole: 2, callers: '^runtime\\.startTheWorldWithSema$' },
          { program: 'go_start_world', symbols: ['runtime.startTheWorldWithSema'], at: 'after-call', cookieRole: 2, callers: '^runtime\\.(gcStart|gcMarkDone|gcMarkTermination|startTheWorld|startTheWorldGC)(\\.|$)' },
        ],
      },
      {
        label: 'uprobe runtime.stopTheWorldWithSema + runtime.startTheWorldWithSema entry (pause without the restart itself)',
        programs: ['go_stop_world', 'go_start_world'],
        tracepoints: [],
        needsBtf: false,
        kind: 'uprobe',
        uprobes: [
          { program: 'go_stop_world', symbols: ['runtime.stopTheWorldWithSema'] },
          { program: 'go_start_world', symbols: ['runtime.startTheWorldWithSema'] },
        ],
      },
    ],
    keyedCounts: [{ map: 'gc_procs', key: 'pid', counter: 'gc_cycles', total: 'gc_stw_ns' }],
  },
  go_sched: {
    object: 'go_sched',
    plans: [entryUprobes('uprobe runtime.newproc1, runtime.goexit1', [['go_newproc', 'runtime.newproc1'], ['go_goexit', 'runtime.goexit1']])],
    keyedCounts: [{ map: 'goroutines', key: 'pid', counter: 'goroutines_created', total: 'goroutines_exited' }],
  },
  go_malloc: {
    object: 'go_malloc',
    plans: [entryUprobes('uprobe runtime.mallocgc', [['go_mallocgc', 'runtime.mallocgc']])],
    keyedCounts: [{ map: 'malloc_procs', key: 'pid', counter: 'mallocs', total: 'malloc_bytes' }],
  },
  profile: {
    object: 'profile',
    plans: [{ label: 'perf_event cpu-clock 99 Hz per CPU + bpf_get_stackid', programs: ['profile_cpu'], tracepoints: [], needsBtf: false, kind: 'perf_event' }],
  },
  offcpu: {
    object: 'offcpu',
    plans: [{ label: 'tp_btf sched_switch (stack at switch-out, time to switch-in)', programs: ['offcpu_switch'], tracepoints: ['sched/sched_switch'], needsBtf: true, kind: 'tp_btf' }],
  },
  app: {
    object: 'app',
    plans: [{ label: 'uprobe BINARY:SYMBOL (user targets, --uprobe)', programs: ['app_uprobe'], tracepoints: [], needsBtf: false, kind: 'uprobe', uprobes: [] }],
  },
  rtt: {
    object: 'rtt',
    plans: [
      {
        label: 'tp_btf sched_switch/wakeup, lock contention; tracepoint exceptions:page_fault_user, syscalls read/write/sendmsg/recvmsg/sendto/recvfrom, futex, fsync/fdatasync/sync_file_range; uprobes runtime.{stop,start}TheWorldWithSema, runtime.GC',
        programs: [
          'rtt_switch', 'rtt_wakeup', 'rtt_wakeup_new', 'rtt_lock_begin', 'rtt_lock_end', 'rtt_pgfault',
          ...['futex', 'fsync', 'fdatasync'].flatMap((n) => [`rtt_${n}_enter`, `rtt_${n}_exit`]), 'rtt_sfr_enter', 'rtt_sfr_exit',
          ...['write', 'read', 'sendmsg', 'recvmsg', 'sendto', 'recvfrom'].flatMap((n) => [`rtt_enter_${n}`, `rtt_exit_${n}`]),
          'rtt_stw_start', 'rtt_stw_end', 'rtt_gc_call', 'rtt_gc_call_end', 'rtt_gopark',
        ],
        tracepoints: ['sched/sched_switch', 'sched/sched_wakeup', 'lock/contention_begin', 'exceptions/page_fault_user', ...sys(['futex', 'fsync', 'fdatasync', 'sync_file_range', 'write', 'read', 'sendmsg', 'recvmsg', 'sendto', 'recvfrom'])],
        needsBtf: true,
        kind: 'tp_btf',
        uprobes: [
          { program: 'rtt_stw_start', symbols: ['runtime.stopTheWorldWithSema'] },
          { program: 'rtt_stw_end', symbols: ['runtime.startTheWorldWithSema'] },
          // optional (absent when the program never calls runtime.GC)
          { program: 'rtt_gc_call', symbols: ['runtime.GC'] },
          { program: 'rtt_gc_call_end', symbols: ['runtime.GC'], at: 'after-call', callers: '.' },
          // opt-in (a uprobe hit per goroutine park): the parked goroutine's own stack for blocked trips
          { program: 'rtt_gopark', symbols: ['runtime.gopark'] },
        ],
        // a uprobe hit per goroutine park in the broker: the parked goroutine's own stack for blocked trips
        optIn: { goStacks: ['rtt_gopark'] },
      },
    ],
  },
  empty: {
    object: 'empty',
    plans: [
      {
        label: 'tracepoint syscalls (empty programs)',
        programs: UDS_SYSCALLS.flatMap((n) => [`empty_enter_${n}`, `empty_exit_${n}`]),
        tracepoints: sys(UDS_SYSCALLS),
        needsBtf: false,
        kind: 'tracepoint',
      },
    ],
  },
};
