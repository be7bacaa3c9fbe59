// Overhead governor, measured with bpf_stats: a workload that drives the uds
// hooks far above a small CPU budget makes the governor raise the sample rate
// and then disable the probe until the measured share is under the budget;
// when the load is gone it restores the original settings.
import { afterEach, describe, expect, it } from 'vitest';
import { Governor, defaultSampleOf } from '../../collector/governor.js';
import type { Collector } from '../../collector/collector.js';
import { isRoot, quietLogger, runFixture, sleep, startCollector } from '../helpers/probes.js';

describe.skipIf(!isRoot)('overhead governor', () => {
  let c: Collector | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });

  it('acts over the budget (sample rate, then disable), gets under it, and restores when load drops', async () => {
    ({ collector: c } = await startCollector({ probes: ['uds'], perProbe: { uds: { sampleEvery: 1 } } }));
    const gov = new Governor(c, ['uds'], defaultSampleOf(c), { budget: 0.002, intervalMs: 250, maxSampleEvery: 1000, restoreAfter: 2 }, quietLogger);
    gov.start();
    try {
      const shares: number[] = [];
      const sampler = setInterval(() => shares.push(gov.share), 250);
      // load until the governor has turned the probe off (however fast this machine runs the ping-pong)
      const deadline = Date.now() + 30_000;
      while (!gov.actions.some((a) => a.kind === 'disable') && Date.now() < deadline) await runFixture('uds_pingpong', ['-n', '60000', '-d', '0', '-m', 'sendmsg']);
      await sleep(600); // a full measurement interval with the probe off
      clearInterval(sampler);
      // it acted: the sample rate went up step by step, then the probe was turned off
      expect(gov.actionsTotal).toBeGreaterThanOrEqual(2);
      expect(gov.actions[0]).toMatchObject({ kind: 'sample', probe: 'uds', from: 1, to: 10 });
      const peak = Math.max(...shares);
      expect(peak).toBeGreaterThan(0.002); // the load really was over the budget
      // after its actions the measured share is under the budget
      expect(shares.at(-1)!).toBeLessThanOrEqual(0.002);
      // load gone: everything undone, last in first out, back to 1:1 and running
      for (let i = 0; i < 40 && gov.actions.length > 0; i++) await sleep(250);
      expect(gov.actions).toHaveLength(0);
      expect(gov.restoresTotal).toBe(gov.actionsTotal);
      expect(c.status().find((s) => s.probe === 'uds')?.state).toBe('running');
      expect(c.probeOptionsOf('uds')?.sampleEvery).toBe(1);
    } finally {
      gov.stop();
    }
  });
});
