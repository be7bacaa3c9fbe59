/** go_gc — Go GC cycles and stop-the-world pauses (bpf/go_gc.bpf.c). */
import { defineFamily, FAMILY_COUNTER_BASE } from './family.js';

export default defineFamily({
  name: 'go_gc',
  id: 16,
  summary: 'Go GC cycles and stop-the-world pauses (entry uprobes on the runtime; per process)',
  subsystem: 'go_runtime',
  events: [
    { name: 'stw_sweep_term', unit: 'ns' },
    { name: 'stw_mark_term', unit: 'ns' },
    { name: 'stw_other', unit: 'ns' },
    { name: 'cycle', unit: 'ns' },
  ],
  args: { arg0: 'state', arg1: 'seq' },
  columns: {
    value: { stw_sweep_term: 'stop-the-world pause ns', stw_mark_term: 'stop-the-world pause ns', stw_other: 'stop-the-world pause ns', cycle: 'GC cycle ns, the sweep-termination stop → the mark-termination restart' },
    arg0: { stw_sweep_term: 'the runtime\'s stwReason', stw_mark_term: 'the runtime\'s stwReason', stw_other: 'the runtime\'s stwReason' },
    arg1: 'the process\'s GC cycle number',
  },
  counters: { gc_cycles: FAMILY_COUNTER_BASE, gc_stw_ns: FAMILY_COUNTER_BASE + 1, stw_other: FAMILY_COUNTER_BASE + 2, stw_other_ns: FAMILY_COUNTER_BASE + 3 },
  defaultSampleEvery: 1,
  // stwReason (the pause's kind) is stable since Go 1.21
  minGoVersion: [1, 21],
  plans: [
    {
      label: 'uprobe runtime.stopTheWorldWithSema + after-call sites of runtime.startTheWorldWithSema',
      programs: ['go_stop_world', 'go_start_world'],
      tracepoints: [],
      needsBtf: false,
      kind: 'uprobe',
      uprobes: [
        { program: 'go_stop_world', symbols: ['runtime.stopTheWorldWithSema'] },
        { program: 'go_start_world', symbols: ['runtime.startTheWorldWithSema'], cookieRole: 1 },
        // where startTheWorldWithSema takes `now` (the time gctrace and pauseNS use) when its caller passes 0
        // (sweep termination, other STWs): the pause ends there, before procresize's follow-up and wakep
        { program: 'go_start_world', symbols: ['runtime.nanotime1.abi0', 'runtime.nanotime1'], at: 'after-call', cookieRole: 2, callers: '^runtime\\.startTheWorldWithSema$' },
        { program: 'go_start_world', symbols: ['runtime.startTheWorldWithSema'], at: 'after-call', cookieRole: 2, callers: '^runtime\\.(gcStart|gcMarkDone|gcMarkTermination|startTheWorld|startTheWorldGC)(\\.|$)' },
      ],
    },
    {
      label: 'uprobe runtime.stopTheWorldWithSema + runtime.startTheWorldWithSema entry (pause without the restart itself)',
      programs: ['go_stop_world', 'go_start_world'],
      tracepoints: [],
      needsBtf: false,
      kind: 'uprobe',
      uprobes: [
        { program: 'go_stop_world', symbols: ['runtime.stopTheWorldWithSema'] },
        { program: 'go_start_world', symbols: ['runtime.startTheWorldWithSema'] },
      ],
    },
  ],
  keyedCounts: [{ map: 'gc_procs', key: 'pid', counter: 'gc_cycles', total: 'gc_stw_ns' }],
  readme: {
    measures: 'GC cycles and both stop-the-world pauses per cycle',
    attaches: 'entry uprobes (never uretprobes) on runtime STW functions and at return sites found by disassembly',
  },
});
