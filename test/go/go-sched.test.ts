// go_sched ground truth: a Go fixture that starts and ends a known number of
// goroutines, driven phase by phase through stdin, printing
// runtime.NumGoroutine() at each phase. Attached before the process starts
// (by binary path), the counts are exact: created/exited deltas equal the
// goroutines started/ended, and the live count of user goroutines
// (created - created by the runtime for itself - exited) equals
// NumGoroutine() at every phase.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, startCollector } from '../helpers/probes.js';
import type { Collector } from '../../collector/collector.js';
import { buildGoFixture, Stepper } from './go-fixtures.js';
import { readGoroutines } from '../../collector/families/go-stats.js';
import { collectorRegistry } from '../../collector/ops/metrics.js';
import { parseExposition, sampleValue } from '../helpers/prom.js';

describe.skipIf(!isRoot)('go_sched vs runtime.NumGoroutine()', () => {
  let bin: string;
  let collector: Collector;

  beforeAll(async () => {
    bin = buildGoFixture('goroutines');
    const s = await startCollector({ probes: ['go_sched'], targets: { binaries: [bin] } });
    collector = s.collector;
    expect(s.status[0].state, s.status[0].error).toBe('running');
  });
  afterAll(async () => {
    await collector?.stop();
  });

  it('counts goroutines exactly', async () => {
    const G = 500;
    const fx = new Stepper(bin, [String(G)]);
    const reg = collectorRegistry(collector, ['go_sched']);
    const seen: Array<{ phase: string; num: number; live: number; created: number; exited: number; system: number }> = [];
    for (const phase of ['start', 'started', 'ended']) {
      const l = await fx.next();
      expect(l.phase).toBe(phase);
      const g = readGoroutines(collector, fx.pid)!;
      seen.push({ phase, num: Number(l.num), ...g });
      // the same figure reaches Prometheus (per process) ...
      const text = await reg.metrics();
      expect(sampleValue(parseExposition(text), 'v2probe_go_goroutines', { process_id: String(fx.pid) }), phase).toBe(Number(l.num));
      fx.step();
    }
    expect(await fx.exited).toBe(0);
    // ... and the store, as the `goroutines` gauge rows the default GoroutinesHigh rule reads
    const sink = (collector as unknown as { opts: { sink: { counters: Array<{ name: string; pid: number; value: number }> } } }).opts.sink;
    await collector.snapshot();
    const rows = sink.counters.filter((r) => r.name === 'goroutines' && r.pid === fx.pid);
    expect(rows.length).toBeGreaterThan(0);
    console.log('go_sched:', JSON.stringify(seen));
    for (const s of seen) expect(s.live, s.phase).toBe(s.num);
    expect(seen[1].created - seen[0].created).toBe(G);
    expect(seen[2].exited - seen[1].exited).toBe(G);
    expect(seen[1].exited - seen[0].exited).toBe(0);
  });
});
