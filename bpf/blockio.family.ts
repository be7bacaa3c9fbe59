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
  columns: {
    value: 'latency ns, issue → complete',
    arg0: 'the device: major << 20 | minor',
    arg1: 'the request\'s bytes',
  },
  counters: {
    ...perEvent(EVENTS, FAMILY_COUNTER_BASE, 'completed_'),
    ...perEvent(EVENTS, FAMILY_COUNTER_BASE + 8, 'bytes_'),
    // completions the kernel fired block_rq_complete for without running the programs, counted afterwards
    // (bpf/blockio.bpf.c: unseen completions); completed + unseen is what /proc/diskstats counts
    ...perEvent(EVENTS, FAMILY_COUNTER_BASE + 16, 'unseen_'),
  },
  defaultSampleEvery: 1,
  plans: [
    // 6.5+: requests tracked from block_io_start (what diskstats accounts), so the sweep counts what no program saw end
    ...btfThenRaw(['block/block_io_start', 'block/block_rq_merge', 'block/block_rq_issue', 'block/block_rq_complete'], ['block_io_start', 'block_rq_merge', 'block_rq_issue', 'block_rq_complete'])
      .map((p) => ({ ...p, label: `${p.label} + blockio_sweep (unseen completions counted)`, programs: [...p.programs, 'blockio_sweep'] })),
    // before 6.5 (no block_io_start): completions no program ran for are not counted
    ...btfThenRaw(['block/block_rq_issue', 'block/block_rq_complete'], ['block_rq_issue', 'block_rq_complete'])
      .map((p) => ({ ...p, label: `${p.label} (no block_io_start: unseen completions not counted)` })),
  ],
  // dev_counts also holds {dev, 8 + kind}: unseen completions (collector/maps.ts decodeKeyedCounts: unseen_<kind>)
  keyedCounts: [{ map: 'dev_counts', key: 'dev_kind', counter: 'completed' }],
  sweep: 'blockio_sweep',
  readme: {
    measures: 'block request latency issue→complete, bytes, device (exact per device: completed + unseen)',
    attaches: '`tp_btf/block_io_start`, `block_rq_merge`, `block_rq_issue`, `block_rq_complete` + `syscall` sweep → `raw_tp` → without `block_io_start` (< 6.5)',
  },
});
