// go_malloc ground truth: a Go fixture allocating a known number of objects
// between two runtime.MemStats readings. Rows are sampled 1:1000 with weight;
// sum(weight) of the rows between the two readings is within 5 % of the
// MemStats.Mallocs delta, and the exact per-process call count is within 1 %.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, startCollector, type MemorySink } from '../helpers/probes.js';
import type { Collector } from '../../collector/collector.js';
import { readMallocs } from '../../collector/families/go-stats.js';
import { buildGoFixture, Stepper } from './go-fixtures.js';

describe.skipIf(!isRoot)('go_malloc vs runtime.MemStats.Mallocs', () => {
  let bin: string;
  let collector: Collector;
  let sink: MemorySink;

  beforeAll(async () => {
    bin = buildGoFixture('allocs');
    const s = await startCollector({ probes: ['go_malloc'], targets: { binaries: [bin] }, poll: { batchMs: 20 } });
    collector = s.collector;
    sink = s.sink;
    expect(s.status[0].state, s.status[0].error).toBe('running');
  });
  afterAll(async () => {
    await collector?.stop();
  });

  it('sum(weight) tracks MemStats.Mallocs', async () => {
    const N = 1_000_000;
    const fx = new Stepper(bin, [String(N)]);
    const before = await fx.next();
    const c0 = readMallocs(collector, fx.pid)!;
    const t0 = BigInt(Date.now()) * 1_000_000n;
    fx.step();
    const after = await fx.next();
    const t1 = BigInt(Date.now()) * 1_000_000n;
    const c1 = readMallocs(collector, fx.pid)!;
    fx.step();
    expect(await fx.exited).toBe(0);
    console.log(JSON.stringify(collector.counters('go_malloc')));
    await collector.stop(); // every row reaches the sink
    const rows = sink.events.filter((r) => r.probe === 'go_malloc' && r.pid === fx.pid && BigInt(r.ts) >= t0 && BigInt(r.ts) <= t1);
    const delta = Number(after.delta);
    const weight = rows.reduce((s, r) => s + r.weight, 0);
    const calls = c1.calls - c0.calls;
    console.log(`go_malloc: MemStats.Mallocs delta ${delta} (N ${N}), exact calls ${calls}, ${rows.length} rows, sum(weight) ${weight} (${((weight / delta - 1) * 100).toFixed(2)} %), total mallocs ${after.mallocs} vs probe ${c1.calls}`);
    expect(Number(before.mallocs)).toBeGreaterThan(0);
    expect(Math.abs(calls - delta) / delta).toBeLessThan(0.01);
    expect(Math.abs(weight - delta) / delta).toBeLessThan(0.05);
  });
});
