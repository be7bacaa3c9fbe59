/** fsync — fsync/fdatasync/sync_file_range and small write latency (bpf/fsync.bpf.c). */
import { defineFamily, eventsOf, FAMILY_COUNTER_BASE, perEvent, sys, syscallBaseline } from './family.js';

const EVENTS = ['fsync', 'fdatasync', 'sync_file_range', 'write', 'pwrite'] as const;
const SYSCALLS = ['fsync', 'fdatasync', 'sync_file_range', 'write', 'pwrite64'];

export default defineFamily({
  name: 'fsync',
  id: 9,
  summary: 'fsync/fdatasync/sync_file_range latency and small (<= 4 KiB) regular-file write/pwrite latency',
  subsystem: 'filesystem',
  events: eventsOf(EVENTS, 'ns'),
  args: { arg0: 'fd', arg1: 'ret' },
  columns: {
    value: 'latency ns, entry → return',
    arg0: 'the fd',
    arg1: 'the return value: 0 or bytes written, or -errno',
  },
  counters: { ...perEvent(EVENTS, FAMILY_COUNTER_BASE, 'calls_'), small_write_bytes: FAMILY_COUNTER_BASE + 8 },
  defaultSampleEvery: 1,
  plans: [
    {
      label: 'tracepoint syscalls:sys_{enter,exit}_{fsync,fdatasync,sync_file_range,write,pwrite64}',
      programs: SYSCALLS.flatMap((n) => [`fsync_enter_${n}`, `fsync_exit_${n}`]),
      tracepoints: sys(SYSCALLS),
      needsBtf: false,
      kind: 'tracepoint',
    },
  ],
  benchBaseline: syscallBaseline(SYSCALLS),
  readme: {
    measures: 'fsync/fdatasync/sync_file_range latency; small (≤ 4 KiB) writes',
    attaches: 'syscall tracepoints',
  },
});
