/** offcpu — off-CPU time by stack (bpf/offcpu.bpf.c). */
import { defineFamily, FAMILY_COUNTER_BASE } from './family.js';

export default defineFamily({
  name: 'offcpu',
  id: 21,
  summary: 'off-CPU time by stack (sched_switch out to in) for off-CPU flame graphs',
  events: [],
  unit: 'ns',
  args: {},
  counters: { offcpu_ns: FAMILY_COUNTER_BASE, stack_lost: FAMILY_COUNTER_BASE + 1 },
  defaultSampleEvery: 1,
  internal: true,
  plans: [{ label: 'tp_btf sched_switch (stack at switch-out, time to switch-in)', programs: ['offcpu_switch'], tracepoints: ['sched/sched_switch'], needsBtf: true, kind: 'tp_btf' }],
});
