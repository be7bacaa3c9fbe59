/** lock — kernel lock contention (bpf/lock.bpf.c). */
import { btfThenRaw, defineFamily, eventsOf, FAMILY_COUNTER_BASE, kprobeOnly, perEvent } from './family.js';

const EVENTS = ['spin', 'mutex', 'rwsem_read', 'rwsem_write', 'other'] as const;

export default defineFamily({
  name: 'lock',
  id: 5,
  summary: 'kernel lock contention wait time (spin, mutex, rwsem read/write) per process',
  subsystem: 'locking',
  events: eventsOf(EVENTS, 'ns'),
  args: { arg0: 'addr', arg1: 'state' },
  columns: {
    value: 'wait ns, contention begin → end',
    arg0: 'the lock\'s address (a kernel address: negative as Int64)',
    arg1: 'the contention flags LCB_F_* (spin 1, read 2, write 4, rt 8, perCPU 16, mutex 32; not a state)',
  },
  counters: {
    ...perEvent(EVENTS, FAMILY_COUNTER_BASE, 'waits_'),
    ...perEvent(EVENTS, FAMILY_COUNTER_BASE + 8, 'wait_ns_'),
  },
  defaultSampleEvery: 1,
  plans: [
    ...btfThenRaw(['lock/contention_begin', 'lock/contention_end'], ['contention_begin', 'contention_end']),
    kprobeOnly('kprobe mutex_lock slowpath'),
  ],
  keyedCounts: [{ map: 'pid_lock', key: 'pid', counter: 'lock_waits', total: 'lock_wait_ns' }],
  benchBaseline: [
    { program: 'base_contention_begin', sec: 'tp_btf/contention_begin' },
    { program: 'base_contention_end', sec: 'tp_btf/contention_end' },
  ],
  readme: {
    measures: 'kernel lock contention wait (spin, mutex, rwsem)',
    attaches: '`tp_btf/contention_{begin,end}` → `raw_tp`',
  },
});
