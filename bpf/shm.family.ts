/** shm — shared memory: memfd_create, shared mmap/munmap, ftruncate (bpf/shm.bpf.c). */
import { defineFamily, eventsOf, FAMILY_COUNTER_BASE, kprobeOnly, perEvent, sys, syscallBaseline } from './family.js';

const EVENTS = ['memfd_create', 'mmap', 'munmap', 'ftruncate'] as const;
/** a ring's entry uprobes (--shm-ring): after the syscall events */
const RING_EVENTS = ['publish', 'overflow', 'access'] as const;

export default defineFamily({
  name: 'shm',
  id: 4,
  summary: 'memfd_create, shared mmap/munmap of shmem/memfd/anon-shared memory, ftruncate sizes; live shared bytes per process; with --shm-ring, ring publishes, overflows, fill level and publish-to-consume latency',
  subsystem: 'ipc',
  events: [...eventsOf(EVENTS, 'bytes'), { name: 'publish', unit: 'count' }, { name: 'overflow', unit: 'count' }, { name: 'access', unit: 'ns' }],
  args: { arg0: 'addr', arg1: 'fd' },
  columns: {
    value: {
      memfd_create: '0', mmap: 'bytes mapped', munmap: 'bytes unmapped', ftruncate: 'the new size in bytes',
      publish: 'the ring\'s fill level (slots in use) before the publish', overflow: 'the fill level when the ring was full',
      access: 'ns from the publish of a sequence number to its consume (function entries; any two threads or processes)',
    },
    arg0: { mmap: 'the mapping\'s address', munmap: 'the mapping\'s address', publish: 'the ring (index of its --shm-ring)', overflow: 'the ring (index of its --shm-ring)', access: 'the ring (index of its --shm-ring)' },
    arg1: { memfd_create: 'the new fd', mmap: 'the fd mapped (-1: anonymous shared)', munmap: '-1', ftruncate: 'the fd' },
  },
  counters: {
    ...perEvent([...EVENTS, ...RING_EVENTS], FAMILY_COUNTER_BASE, 'calls_'),
    // bytes_ per event (one C macro for all; the ring events leave theirs at 0)
    ...perEvent([...EVENTS, ...RING_EVENTS], FAMILY_COUNTER_BASE + 8, 'bytes_'),
    ring_unpaired: FAMILY_COUNTER_BASE + 16,
  },
  defaultSampleEvery: 1,
  plans: [
    {
      label: 'tracepoint syscalls:sys_{enter,exit}_{memfd_create,mmap,munmap,ftruncate}, tp_btf sched_process_exit',
      programs: ['shm_exit_memfd_create', 'shm_enter_mmap', 'shm_exit_mmap', 'shm_enter_munmap', 'shm_enter_ftruncate', 'shm_exit_ftruncate', 'shm_process_exit'],
      tracepoints: ['syscalls/sys_exit_memfd_create', ...sys(['mmap', 'ftruncate']), 'syscalls/sys_enter_munmap', 'sched/sched_process_exit'],
      needsBtf: false,
      kind: 'tracepoint',
      optIn: { shmRing: ['shm_ring'] },
    },
    kprobeOnly('kprobe shmem_file_setup'),
  ],
  keyedCounts: [{ map: 'pid_shm', key: 'pid', counter: 'shm_live_maps', total: 'shm_live_bytes' }],
  benchBaseline: [
    { program: 'base_exit_memfd_create', sec: 'tracepoint/syscalls/sys_exit_memfd_create' },
    ...syscallBaseline(['mmap']),
    { program: 'base_enter_munmap', sec: 'tracepoint/syscalls/sys_enter_munmap' },
    ...syscallBaseline(['ftruncate']),
    { program: 'base_process_exit', sec: 'tp_btf/sched_process_exit' },
  ],
  readme: {
    measures: 'memfd_create, shared mmap/munmap, ftruncate sizes; live shared bytes per process; with `--shm-ring`, a ring\'s publishes, overflows, fill level and publish→consume latency',
    attaches: 'syscall tracepoints, `tp_btf/sched_process_exit`; entry uprobes on the ring\'s functions (`--shm-ring`)',
  },
});
