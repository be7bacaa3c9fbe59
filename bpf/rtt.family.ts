/** rtt — the round-trip breakdown (bpf/rtt.bpf.c; records are struct v2_rtt_rec, bpf/rtt.bpf.h). */
import { defineFamily, FAMILY_COUNTER_BASE, sys } from './family.js';

export default defineFamily({
  name: 'rtt',
  id: 22,
  summary: 'round-trip breakdown over Unix sockets: per-thread time accounting + sampled request/reply pairing (v2probe explain; records are struct v2_rtt_rec, not v2_event)',
  subsystem: 'ipc',
  events: [
    { name: 'client_send', unit: 'ns' },
    { name: 'broker_recv', unit: 'ns' },
    { name: 'broker_reply', unit: 'ns' },
    { name: 'client_recv', unit: 'ns' },
  ],
  args: {},
  counters: { stage_client_send: FAMILY_COUNTER_BASE, stage_broker_recv: FAMILY_COUNTER_BASE + 1, stage_broker_reply: FAMILY_COUNTER_BASE + 2, stage_client_recv: FAMILY_COUNTER_BASE + 3, reads_ahead: FAMILY_COUNTER_BASE + 4, pending_replaced: FAMILY_COUNTER_BASE + 5 },
  defaultSampleEvery: 100,
  internal: true,
  record: 'v2_rtt_rec',
  plans: [
    {
      label: 'tp_btf sched_switch/wakeup, lock contention; tracepoint exceptions:page_fault_user, syscalls read/write/sendmsg/recvmsg/sendto/recvfrom, futex, fsync/fdatasync/sync_file_range; uprobes runtime.{stop,start}TheWorldWithSema, runtime.GC',
      programs: [
        'rtt_switch', 'rtt_wakeup', 'rtt_wakeup_new', 'rtt_lock_begin', 'rtt_lock_end', 'rtt_pagefault',
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
      optIn: { explainStacks: ['rtt_gopark'] },
    },
  ],
});
