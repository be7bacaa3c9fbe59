/** go_malloc — runtime.mallocgc calls and bytes (bpf/go_malloc.bpf.c). */
import { defineFamily, entryUprobes, FAMILY_COUNTER_BASE } from './family.js';

export default defineFamily({
  name: 'go_malloc',
  id: 18,
  summary: 'Go heap allocations (runtime.mallocgc calls and bytes), sampled with weight',
  subsystem: 'go_runtime',
  events: [{ name: 'alloc', unit: 'bytes' }],
  args: { arg0: 'addr' },
  columns: {
    value: 'the requested size in bytes',
    arg0: 'the `*_type` pointer (0: untyped, no pointers)',
  },
  counters: { mallocs: FAMILY_COUNTER_BASE, malloc_bytes: FAMILY_COUNTER_BASE + 1 },
  defaultSampleEvery: 1000,
  // the register ABI (1.17) puts the size in RAX
  minGoVersion: [1, 17],
  plans: [entryUprobes('uprobe runtime.mallocgc', [['go_mallocgc', 'runtime.mallocgc']])],
  keyedCounts: [{ map: 'malloc_procs', key: 'pid', counter: 'mallocs', total: 'malloc_bytes' }],
  readme: {
    measures: '`runtime.mallocgc` calls and bytes, sampled 1:1000',
    attaches: 'uprobe',
  },
});
