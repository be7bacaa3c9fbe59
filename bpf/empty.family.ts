/** empty — the hook-cost baseline of uds: empty programs on the same hooks (bpf/empty.bpf.c). Listed after every other family. */
import { defineFamily, sys, UDS_SYSCALLS } from './family.js';

export default defineFamily({
  name: 'empty',
  id: 15,
  summary: 'empty programs on the uds hooks (benchmark baseline)',
  events: [],
  unit: 'count',
  args: {},
  counters: {},
  defaultSampleEvery: 1,
  internal: true,
  baseline: true,
  plans: [
    {
      label: 'tracepoint syscalls (empty programs)',
      programs: UDS_SYSCALLS.flatMap((n) => [`empty_enter_${n}`, `empty_exit_${n}`]),
      tracepoints: sys(UDS_SYSCALLS),
      needsBtf: false,
      kind: 'tracepoint',
    },
  ],
});
