/** profile — on-CPU stacks for flame graphs (bpf/profile.bpf.c). */
import { defineFamily, FAMILY_COUNTER_BASE } from './family.js';

export default defineFamily({
  name: 'profile',
  id: 19,
  summary: 'on-CPU stacks (perf_event cpu-clock, 99 Hz) for flame graphs',
  subsystem: 'cpu',
  events: [],
  unit: 'count',
  args: {},
  counters: { user_stack_lost: FAMILY_COUNTER_BASE, kern_stack_lost: FAMILY_COUNTER_BASE + 1, idle_samples: FAMILY_COUNTER_BASE + 2 },
  defaultSampleEvery: 1,
  internal: true,
  plans: [{ label: 'perf_event cpu-clock 99 Hz per CPU + bpf_get_stackid', programs: ['profile_cpu'], tracepoints: [], needsBtf: false, kind: 'perf_event' }],
});
