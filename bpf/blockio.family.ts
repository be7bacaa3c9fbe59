/** blockio — block request latency, bytes and device (bpf/blockio.bpf.c). */
import { btfThenRaw, defineFamily, eventsOf, FAMILY_COUNTER_BASE, perEvent } from './family.js';

const EVENTS = ['read', 'write', 'flush', 'discard', 'other'] as const;

export default defineFamily({
  name: 'blockio',
  id: 3,
  summary: 'block request latency issue→complete, bytes, device',
  subsystem: 'block',
  events: eventsOf(EVENTS, 'ns'),
  args: { arg0: 'dev', arg1: 'bytes' },
  counters: {
    ...perEvent(EVENTS, FAMILY_COUNTER_BASE, 'completed_'),
    ...perEvent(EVENTS, FAMILY_COUNTER_BASE + 8, 'bytes_'),
  },
  defaultSampleEvery: 1,
  plans: [...btfThenRaw(['block/block_rq_issue', 'block/block_rq_complete'], ['block_rq_issue', 'block_rq_complete'])],
  keyedCounts: [{ map: 'dev_counts', key: 'dev_kind', counter: 'completed' }],
  readme: {
    measures: 'block request latency issue→complete, bytes, device (exact per device)',
    attaches: '`tp_btf/block_rq_issue`, `block_rq_complete` → `raw_tp`',
  },
});
