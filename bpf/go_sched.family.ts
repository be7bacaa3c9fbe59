/** go_sched — goroutines created and exited (bpf/go_sched.bpf.c). */
import { defineFamily, entryUprobes, FAMILY_COUNTER_BASE } from './family.js';

export default defineFamily({
  name: 'go_sched',
  id: 17,
  summary: 'Go goroutines created and exited (exact) and live count per process',
  subsystem: 'go_runtime',
  events: [{ name: 'create', unit: 'count' }, { name: 'exit', unit: 'count' }],
  args: { arg0: 'addr' },
  columns: {
    value: '0 (counts: `weight`; the live count is counter `goroutines`)',
    arg0: { create: 'the new goroutine\'s start PC' },
  },
  counters: { goroutines_created: FAMILY_COUNTER_BASE, goroutines_exited: FAMILY_COUNTER_BASE + 1 },
  defaultSampleEvery: 1000,
  // the register ABI (1.17) puts the arguments in registers
  minGoVersion: [1, 17],
  plans: [entryUprobes('uprobe runtime.newproc1, runtime.goexit1', [['go_newproc', 'runtime.newproc1'], ['go_goexit', 'runtime.goexit1']])],
  keyedCounts: [{ map: 'goroutines', key: 'pid', counter: 'goroutines_created', total: 'goroutines_exited' }],
  readme: {
    measures: 'goroutines created/exited, live count per process',
    attaches: 'uprobes `runtime.newproc1`, `runtime.goexit1`',
  },
});
