// app uprobes: the Go "broker" fixture publishes P messages into a ring that
// a slower consumer drains; a publish into a full ring calls main.onOverflow.
// `--uprobe BIN:main.publish` and `--uprobe BIN:main.onOverflow` count both
// exactly, so the overflow rate calls(overflow)/calls(publish) equals the
// fixture's; a pair (main.publish -> main.consume) measures entry-to-entry
// latency per thread. The fixture's output is unchanged under the probes.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, startCollector, type MemorySink } from '../helpers/probes.js';
import type { Collector } from '../../collector/collector.js';
import { readAppCalls } from '../../collector/families/go-stats.js';
import { buildGoFixture } from './go-fixtures.js';

describe.skipIf(!isRoot)('app uprobes on the broker fixture', () => {
  let bin: string;
  let collector: Collector;
  let sink: MemorySink;
  const ARGS = ['200000', '64', '2'];

  beforeAll(async () => {
    bin = buildGoFixture('broker');
    const s = await startCollector({
      probes: ['app'],
      targets: { app: [{ binary: bin, symbol: 'main.publish' }, { binary: bin, symbol: 'main.onOverflow' }, { binary: bin, symbol: 'main.publish', pair: 'main.consume' }] },
    });
    collector = s.collector;
    sink = s.sink;
    expect(s.status[0].state, s.status[0].error).toBe('running');
  });
  afterAll(async () => {
    await collector?.stop();
  });

  it('counts calls exactly and reports the overflow rate', async () => {
    const baseline = JSON.parse(spawnSync(bin, ARGS, { encoding: 'utf8' }).stdout); // (also probed: counts reset below)
    const c0 = readAppCalls(collector);
    const run = spawnSync(bin, ARGS, { encoding: 'utf8', });
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out).toEqual(baseline); // unchanged behaviour under the probes
    const c1 = readAppCalls(collector);
    const publish = c1[0].calls - c0[0].calls;
    const overflow = c1[1].calls - c0[1].calls;
    const pairs = c1[2].pairs - c0[2].pairs;
    console.log(`app: publish ${publish} (fixture ${out.publish}), overflow ${overflow} (fixture ${out.overflow}), rate ${(overflow / publish).toFixed(4)} (fixture ${(out.overflow / out.publish).toFixed(4)}); publish->consume pairs ${pairs}`);
    expect(publish).toBe(out.publish);
    expect(overflow).toBe(out.overflow);
    // a goroutine that moves to another thread between the two entries is not paired (counted as missed_start)
    expect(pairs).toBeGreaterThanOrEqual(0.999 * (out.publish / 2));
    expect(pairs).toBeLessThanOrEqual(out.publish / 2);
    await collector.stop();
    const lat = sink.events.filter((r) => r.probe === 'app' && r.event === 'pair');
    expect(lat.length).toBeGreaterThan(0);
  });
});
