/** shm — shared memory: memfd_create, shared mmap/munmap, ftruncate (bpf/shm.bpf.c). */
import { defineFamily, eventsOf, FAMILY_COUNTER_BASE, kprobeOnly, perEvent, sys, syscallBaseline } from './family.js';

const EVENTS = ['memfd_create', 'mmap', 'munmap', 'ftruncate'] as const;

export default defineFamily({
  name: 'shm',
  id: 4,
  summary: 'memfd_create, shared mmap/munmap of shmem/memfd/anon-shared memory, ftruncate sizes; live shared bytes per process',
  subsystem: 'ipc',
  events: eventsOf(EVENTS, 'bytes'),
  args: { arg0: 'addr', arg1: 'fd' },
  columns: {
    value: { memfd_create: '0', mmap: 'bytes mapped', munmap: 'bytes unmapped', ftruncate: 'the new size in bytes' },
    arg0: { mmap: 'the mapping\'s address', munmap: 'the mapping\'s address' },
    arg1: { memfd_create: 'the new fd', mmap: 'the fd mapped (-1: anonymous shared)', munmap: '-1', ftruncate: 'the fd' },
  },
  counters: {
    ...perEvent(EVENTS, FAMILY_COUNTER_BASE, 'calls_'),
    ...perEvent(EVENTS, FAMILY_COUNTER_BASE + 8, 'bytes_'),
  },
  defaultSampleEvery: 1,
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
  benchBaseline: [
    { program: 'base_exit_memfd_create', sec: 'tracepoint/syscalls/sys_exit_memfd_create' },
    ...syscallBaseline(['mmap']),
    { program: 'base_enter_munmap', sec: 'tracepoint/syscalls/sys_enter_munmap' },
    ...syscallBaseline(['ftruncate']),
    { program: 'base_process_exit', sec: 'tp_btf/sched_process_exit' },
  ],
  readme: {
    measures: 'memfd_create, shared mmap/munmap, ftruncate sizes; live shared bytes per process',
    attaches: 'syscall tracepoints, `tp_btf/sched_process_exit`',
  },
});
