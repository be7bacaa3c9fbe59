/**
 * collector/probes.ts — how each probe family attaches: which BPF programs form
 * its primary attach plan (stable tracepoints, tp_btf) and which its fallbacks,
 * what tracepoints it needs, and the family-specific maps it exposes.
 * The collector tries the plans in order and reports which one it got.
 */
import type { ProbeName } from '../schema/event.js';

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
  kind: 'tracepoint' | 'tp_btf' | 'raw_tp' | 'kprobe';
}

export interface FamilyAttach {
  object: string;
  plans: AttachPlan[];
  /** extra maps with per-key exact counts: map name → how to read its key */
  keyedCounts?: Array<{ map: string; key: 'pid' | 'dev_kind'; counter: string }>;
}

const sys = (names: string[]) => names.flatMap((n) => [`syscalls/sys_enter_${n}`, `syscalls/sys_exit_${n}`]);
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
      {
        label: 'tp_btf sched_switch, sched_wakeup, sched_wakeup_new',
        programs: ['sched_switch_btf', 'sched_wakeup_btf', 'sched_wakeup_new_btf'],
        tracepoints: ['sched/sched_switch', 'sched/sched_wakeup', 'sched/sched_wakeup_new'],
        needsBtf: true,
        kind: 'tp_btf',
      },
      {
        label: 'raw_tp sched_switch, sched_wakeup, sched_wakeup_new',
        programs: ['sched_switch_raw', 'sched_wakeup_raw', 'sched_wakeup_new_raw'],
        tracepoints: ['sched/sched_switch', 'sched/sched_wakeup', 'sched/sched_wakeup_new'],
        needsBtf: false,
        kind: 'raw_tp',
      },
    ],
    keyedCounts: [{ map: 'pid_switches', key: 'pid', counter: 'switches' }],
  },
  blockio: {
    object: 'blockio',
    plans: [
      {
        label: 'tp_btf block_rq_issue, block_rq_complete',
        programs: ['block_rq_issue_btf', 'block_rq_complete_btf'],
        tracepoints: ['block/block_rq_issue', 'block/block_rq_complete'],
        needsBtf: true,
        kind: 'tp_btf',
      },
      {
        label: 'raw_tp block_rq_issue, block_rq_complete',
        programs: ['block_rq_issue_raw', 'block_rq_complete_raw'],
        tracepoints: ['block/block_rq_issue', 'block/block_rq_complete'],
        needsBtf: false,
        kind: 'raw_tp',
      },
    ],
    keyedCounts: [{ map: 'dev_counts', key: 'dev_kind', counter: 'completed' }],
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
