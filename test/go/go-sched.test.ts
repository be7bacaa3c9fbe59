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
import { readGoroutines } from '../../collector/go-stats.js';

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
    const seen: Array<{ phase: string; num: number; live: number; created: number; exited: number; system: number }> = [];
    for (const phase of ['start', 'started', 'ended']) {
      const l = await fx.next();
      expect(l.phase).toBe(phase);
      const g = readGoroutines(collector, fx.pid)!;
      seen.push({ phase, num: Number(l.num), ...g });
      fx.step();
    }
    expect(await fx.exited).toBe(0);
    console.log('go_sched:', JSON.stringify(seen));
    for (const s of seen) expect(s.live, s.phase).toBe(s.num);
    expect(seen[1].created - seen[0].created).toBe(G);
    expect(seen[2].exited - seen[1].exited).toBe(G);
    expect(seen[1].exited - seen[0].exited).toBe(0);
  });
});
