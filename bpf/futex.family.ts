/** futex — user-space lock waits (bpf/futex.bpf.c). */
import { defineFamily, eventsOf, FAMILY_COUNTER_BASE, perEvent, sys, syscallBaseline } from './family.js';

const EVENTS = ['wait', 'wait_bitset', 'lock_pi', 'wait_requeue_pi'] as const;

export default defineFamily({
  name: 'futex',
  id: 6,
  summary: 'user-space lock waits (FUTEX_WAIT/WAIT_BITSET/LOCK_PI time to return) per process and futex address',
  subsystem: 'locking',
  events: eventsOf(EVENTS, 'ns'),
  args: { arg0: 'addr', arg1: 'ret' },
  columns: {
    value: 'wait ns, entry → return',
    arg0: 'the futex word\'s user address',
    arg1: 'the return value: 0, or -EAGAIN (the word had changed), -ETIMEDOUT, -EINTR',
  },
  counters: {
    ...perEvent(EVENTS, FAMILY_COUNTER_BASE, 'waits_'),
    ...perEvent(EVENTS, FAMILY_COUNTER_BASE + 8, 'wait_ns_'),
  },
  defaultSampleEvery: 100,
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
  benchBaseline: syscallBaseline(['futex']),
  readme: {
    measures: 'user-space lock waits, per process and futex address',
    attaches: '`syscalls:sys_{enter,exit}_futex`',
  },
});
