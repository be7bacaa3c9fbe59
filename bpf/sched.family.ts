/** sched — context switches and run-queue latency (bpf/sched.bpf.c). */
import { btfThenRaw, defineFamily, FAMILY_COUNTER_BASE } from './family.js';

export default defineFamily({
  name: 'sched',
  id: 2,
  summary: 'context switches (exact) and run-queue latency wakeup→run',
  subsystem: 'scheduler',
  events: [{ name: 'runq', unit: 'ns' }, { name: 'switch', unit: 'ns' }],
  args: { arg0: 'state', arg1: 'peer_pid' },
  columns: {
    value: { runq: 'run-queue wait ns, wakeup → run', switch: '0 (a switch has no duration; the exact count is counter `switches`)' },
    arg0: { runq: 'the CPU it ran on (not a state)', switch: 'the previous task\'s state (`__state`: 0 running/preempted, 1 interruptible, 2 uninterruptible sleep)' },
    arg1: { runq: 'the pid of the task it replaced on the CPU', switch: 'the pid of the next task' },
  },
  counters: { switches: FAMILY_COUNTER_BASE, wakeups: FAMILY_COUNTER_BASE + 1 },
  // the sum of measured run-queue waits (ns; their count is V2_C_SEEN): kept, not reported
  bpfCounters: { runq_ns: FAMILY_COUNTER_BASE + 2 },
  defaultSampleEvery: 100,
  plans: [...btfThenRaw(['sched/sched_switch', 'sched/sched_wakeup', 'sched/sched_wakeup_new'], ['sched_switch', 'sched_wakeup', 'sched_wakeup_new'])],
  keyedCounts: [{ map: 'pid_switches', key: 'pid', counter: 'switches' }],
  readme: {
    measures: 'context switches (exact, host and per process), run-queue latency wakeup→run',
    attaches: '`tp_btf/sched_switch`, `sched_wakeup[_new]` → `raw_tp`',
  },
});
