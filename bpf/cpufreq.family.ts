/** cpufreq — CPU frequency transitions and idle residency (bpf/cpufreq.bpf.c). */
import { cpufreqNotes, defineFamily, FAMILY_COUNTER_BASE } from './family.js';

export default defineFamily({
  name: 'cpufreq',
  id: 11,
  summary: 'CPU frequency transitions (kHz) and idle-state residency',
  subsystem: 'power',
  events: [{ name: 'freq', unit: 'kHz' }, { name: 'idle', unit: 'ns' }],
  args: { arg0: 'state' },
  columns: {
    value: { freq: 'the new frequency in kHz (`cpu`: the CPU whose frequency changed)', idle: 'residency ns in the idle state' },
    arg0: { idle: 'the idle state index' },
  },
  counters: { freq_changes: FAMILY_COUNTER_BASE, idle_entries: FAMILY_COUNTER_BASE + 1, idle_ns: FAMILY_COUNTER_BASE + 2 },
  defaultSampleEvery: 100,
  plans: [
    {
      label: 'tracepoint power:cpu_frequency, power:cpu_idle',
      programs: ['cpu_frequency', 'cpu_idle'],
      tracepoints: ['power/cpu_frequency', 'power/cpu_idle'],
      needsBtf: false,
      kind: 'tracepoint',
    },
  ],
  notes: () => cpufreqNotes(),
  benchBaseline: [
    { program: 'base_cpu_frequency', sec: 'tracepoint/power/cpu_frequency' },
    { program: 'base_cpu_idle', sec: 'tracepoint/power/cpu_idle' },
  ],
  readme: {
    measures: 'frequency transitions and idle states ("not available here" in VMs without cpufreq)',
    attaches: '`power:cpu_frequency`, `power:cpu_idle`',
  },
});
