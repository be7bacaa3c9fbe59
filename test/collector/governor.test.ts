// Overhead governor, measured with bpf_stats: a workload that drives a probe's
// hooks far above a small CPU budget makes the governor raise the sample rate
// and then disable the probe until the measured share is under the budget;
// when the load is gone it restores the original settings.
//
// The load must be one the test controls. A syscall-tracepoint probe (uds)
// runs its BPF programs for every process's calls, so on a shared machine
// other processes' Unix-socket traffic kept its cost over half the budget and
// the governor (rightly) did not restore. The load here is go_malloc's uprobe
// on runtime.mallocgc in a private copy of the allocs fixture: a uprobe fires
// only in processes that map that file, so once the fixture has exited the
// probe's cost is zero whatever else the machine runs.
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Governor, defaultSampleOf, type GovernorAction } from '../../collector/ops/governor.js';
import type { Collector } from '../../collector/collector.js';
import { isRoot, quietLogger, sleep, startCollector } from '../helpers/probes.js';
import { buildGoFixture, goTool, Stepper } from '../go/go-fixtures.js';

const BUDGET = 0.002;
const RESTORE_AFTER = 2;

/** A collector stand-in whose probe costs `load` (share of all CPUs) while enabled; programs restart from 0 when re-enabled. */
class FakeCollector {
  enabled = true;
  sampleEvery = 1;
  load = 0;
  enables = 0;
  private ns = 0;
  private at = process.hrtime.bigint();
  private readonly ncpu: number;
  constructor(ncpu: number) {
    this.ncpu = ncpu;
  }
  programStats() {
    const now = process.hrtime.bigint();
    if (this.enabled) this.ns += Number(now - this.at) * this.load * this.ncpu;
    this.at = now;
    return this.enabled ? [{ name: 'prog', runTimeNs: BigInt(Math.round(this.ns)), runCnt: 0n }] : [];
  }
  status() {
    return [{ probe: 'uds', state: this.enabled ? 'running' : 'disabled' }];
  }
  configure(_p: string, o: { sampleEvery?: number }) {
    if (o.sampleEvery) this.sampleEvery = o.sampleEvery;
  }
  async setEnabled(_p: string, on: boolean) {
    if (on && !this.enabled) this.enables++;
    this.enabled = on;
    this.ns = 0;
    this.at = process.hrtime.bigint();
  }
}

describe('overhead governor (decisions, on a scripted cost)', () => {
  it('a lasting load does not make a disabled probe flap: each failed re-enable doubles the wait; once the load is gone everything is undone', async () => {
    const { cpus } = await import('node:os');
    const fake = new FakeCollector(cpus().length);
    const gov = new Governor(fake as unknown as Collector, ['uds'], () => fake.sampleEvery, { budget: 0.01, intervalMs: 1_000_000, maxSampleEvery: 100, restoreAfter: RESTORE_AFTER }, quietLogger);
    const tick = async () => {
      await sleep(2);
      await gov.tick();
    };
    gov.measure();
    fake.load = 0.1; // ten times the budget while the probe runs
    for (let i = 0; i < 3; i++) await tick();
    expect(gov.actions).toEqual([
      { kind: 'sample', probe: 'uds', from: 1, to: 10 },
      { kind: 'sample', probe: 'uds', from: 10, to: 100 },
      { kind: 'disable', probe: 'uds' },
    ]);
    // the load lasts 60 intervals: re-enabled after 2, 4, 8, 16 quiet intervals (each trial fails at once), not every 3rd interval
    const waits: number[] = [];
    for (let i = 0; i < 60; i++) {
      const before = fake.enables;
      await tick();
      if (fake.enables > before) waits.push(i);
    }
    expect(fake.enables).toBe(4);
    expect(waits.map((w, k) => w - (k ? waits[k - 1] : -1))).toEqual([2, 5, 9, 17]); // quiet wait + the failed trial's interval
    expect(gov.quietNeeded()).toBe(32);
    expect(gov.actions.at(-1)).toEqual({ kind: 'disable', probe: 'uds' });
    // load gone: the next trial stays under the budget, then the sample rates are undone
    fake.load = 0;
    let n = 0;
    while (gov.actions.length > 0 && n < 100) {
      await tick();
      n++;
    }
    expect(gov.actions).toHaveLength(0);
    expect(fake.enabled).toBe(true);
    expect(fake.sampleEvery).toBe(1);
    expect(gov.restoresTotal).toBe(gov.actionsTotal);
    // a trial that stayed under the budget resets the wait
    for (let i = 0; i < RESTORE_AFTER + 1; i++) await tick();
    fake.load = 0.1;
    for (let i = 0; i < 3; i++) await tick();
    expect(gov.actions.at(-1)).toEqual({ kind: 'disable', probe: 'uds' });
    expect(gov.quietNeeded()).toBe(RESTORE_AFTER);
  });
});

/** One run of the allocs fixture: n heap allocations, each through runtime.mallocgc. */
async function allocate(bin: string, n: number): Promise<void> {
  const fx = new Stepper(bin, [String(n)]);
  await fx.next(60_000);
  fx.step();
  await fx.next(180_000);
  fx.step();
  expect(await fx.exited).toBe(0);
}

describe.skipIf(!isRoot || !goTool())('overhead governor (bpf_stats, real probe)', () => {
  let c: Collector | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('acts over the budget (sample rate, then disable), gets under it, and restores when load drops', async () => {
    dir = mkdtempSync(join(tmpdir(), 'v2probe-governor-'));
    const bin = join(dir, 'allocs');
    copyFileSync(buildGoFixture('allocs'), bin); // a file of its own: no other process on the machine maps it
    chmodSync(bin, 0o755);
    let status;
    ({ collector: c, status } = await startCollector({ probes: ['go_malloc'], targets: { binaries: [bin] }, perProbe: { go_malloc: { sampleEvery: 1 } } }));
    expect(status[0].state, status[0].error).toBe('running');
    const gov = new Governor(c, ['go_malloc'], defaultSampleOf(c), { budget: BUDGET, intervalMs: 250, maxSampleEvery: 1000, restoreAfter: RESTORE_AFTER }, quietLogger);
    // every measurement the governor makes, with the actions in force after it
    const ticks: Array<{ share: number; actions: GovernorAction[] }> = [];
    const govTick = gov.tick.bind(gov);
    gov.tick = async () => {
      await govTick();
      ticks.push({ share: gov.share, actions: [...gov.actions] });
    };
    gov.start();
    try {
      const disabledAt = () => ticks.findIndex((t) => t.actions.some((a) => a.kind === 'disable'));
      // load until the governor has turned the probe off (the deadline only stops a hang)
      const loadDeadline = Date.now() + 90_000;
      while (disabledAt() < 0 && Date.now() < loadDeadline) await allocate(bin, 1_000_000);
      // the load is gone: the fixture has exited and nothing else runs that file
      const d = disabledAt();
      expect(d, 'the governor never disabled the probe').toBeGreaterThanOrEqual(0);
      // it acted: the sample rate went up step by step, then the probe was turned off
      expect(ticks[d].actions).toEqual([
        { kind: 'sample', probe: 'go_malloc', from: 1, to: 10 },
        { kind: 'sample', probe: 'go_malloc', from: 10, to: 100 },
        { kind: 'sample', probe: 'go_malloc', from: 100, to: 1000 },
        { kind: 'disable', probe: 'go_malloc' },
      ]);
      expect(Math.max(...ticks.map((t) => t.share))).toBeGreaterThan(BUDGET); // the load really was over the budget
      // the interval after the disable: the probe's programs are gone, so is their cost
      for (let k = 0; k < 1200 && ticks.length <= d + 1; k++) await sleep(50);
      expect(ticks[d + 1].share).toBe(0);
      // load gone: everything undone, last in first out, back to 1:1 and running
      const restoreDeadline = Date.now() + 90_000;
      while (gov.actions.length > 0 && Date.now() < restoreDeadline) await sleep(100);
      expect(gov.actions).toHaveLength(0);
      expect(gov.restoresTotal).toBe(gov.actionsTotal);
      expect(c.status().find((s) => s.probe === 'go_malloc')?.state).toBe('running');
      expect(c.probeOptionsOf('go_malloc')?.sampleEvery).toBe(1);
    } finally {
      gov.stop();
    }
  }, 240_000);
});
