/** app — user-defined entry uprobes (bpf/app.bpf.c). */
import { defineFamily } from './family.js';

export default defineFamily({
  name: 'app',
  id: 20,
  summary: 'user-defined entry uprobes (--uprobe BINARY:SYMBOL[:pair=SYMBOL2]): calls and entry-to-entry latency',
  subsystem: 'application',
  events: [{ name: 'call', unit: 'ns' }, { name: 'pair', unit: 'ns' }],
  args: { arg0: 'target' },
  columns: {
    value: { call: '0', pair: 'ns from SYMBOL\'s entry to PAIR\'s entry on the same thread' },
    arg0: 'the index of the --uprobe target',
  },
  counters: {},
  defaultSampleEvery: 100,
  plans: [{ label: 'uprobe BINARY:SYMBOL (user targets, --uprobe)', programs: ['app_uprobe'], tracepoints: [], needsBtf: false, kind: 'uprobe', uprobes: [] }],
  readme: {
    measures: 'user-defined uprobes: calls, and entry-to-entry latency of a pair',
    attaches: '`--uprobe BINARY:SYMBOL[:pair=S2]`',
  },
});
