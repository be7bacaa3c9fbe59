// Every rule of the default pack (alerts/rules/default.yaml) fires on data
// that breaks its target and stays quiet on data that meets it: synthetic
// rows for a "bad" and a "good" host per rule, inserted into chDB.
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchema } from '../../schema/ddl.js';
import { openStore, type Store } from '../../store/index.js';
import { storeTargets } from '../helpers/stores.js';
import { loadRules } from '../../alerts/rules.js';
import { Evaluator } from '../../alerts/evaluator.js';
import { baseMs, insertCounters, insertEvents, type Cnt, type Ev } from './helpers.js';

const DIR = resolve(import.meta.dirname, '../../alerts/rules');
const M = 60_000;
let store: Store;
const T0 = baseMs(2);

/** Rows for minutes 0..4 on host `host`, breaking (bad) or meeting (good) the target. */
type Gen = (host: string, bad: boolean) => { ev?: Ev[]; cnt?: Cnt[] };
const perMinute = <T>(f: (t: number) => T[]): T[] => Array.from({ length: 5 }, (_, m) => f(T0 + m * M + 1000)).flat();

const CASES: Record<string, { gen: Gen; severity: string }> = {
  UdsRoundTripP99High: { severity: 'warning', gen: (host, bad) => ({ ev: perMinute((t) => Array.from({ length: 50 }, (_, i) => ({ tMs: t + i * 100, host, probe: 'uds', event: i % 2 ? 'recvmsg' : 'sendmsg', value: bad ? 40_000 : 10_000, weight: 1000 }))) }) },
  ShmAccessLatencyHigh: { severity: 'warning', gen: (host, bad) => ({ ev: perMinute((t) => Array.from({ length: 20 }, (_, i) => ({ tMs: t + i * 100, host, probe: 'shm', event: 'access', value: bad ? 20_000 : 4_000 }))) }) },
  ShmOverflowRateHigh: { severity: 'warning', gen: (host, bad) => ({ ev: perMinute((t) => [
    { tMs: t, host, probe: 'shm', event: 'publish', value: 0, weight: 1000 },
    { tMs: t + 10, host, probe: 'shm', event: 'overflow', value: 0, weight: bad ? 100 : 10 },
  ]) }) },
  LockWaitShareHigh: { severity: 'warning', gen: (host, bad) => ({ ev: perMinute((t) => [{ tMs: t, host, probe: 'lock', event: 'mutex', value: bad ? 1.2e9 : 0.3e9 }]) }) },
  ContextSwitchesPerCoreHigh: { severity: 'warning', gen: (host, bad) => ({
    // two cores on both hosts: 6000/s per core (bad) vs 4000/s per core (good; 8000/s on the host)
    ev: [{ tMs: T0, host, probe: 'sched', event: 'switch', value: 1, cpu: 1 }],
    cnt: perMinute((t) => [{ tMs: t, host, probe: 'sched', name: 'switches', delta: (bad ? 12_000 : 8_000) * 60 }]),
  }) },
  ProbeOverheadHigh: { severity: 'critical', gen: (host, bad) => ({ cnt: perMinute((t) => [{ tMs: t, host, probe: 'uds', name: 'run_time_ns', delta: (bad ? 0.08 : 0.005) * 60e9 }]) }) },
  CpuFrequencyUnstable: { severity: 'warning', gen: (host, bad) => ({ ev: Array.from({ length: 8 }, (_, m) => [
    { tMs: T0 + m * M + 1000, host, probe: 'cpufreq', event: 'freq', value: bad ? 1_200_000 : 2_900_000 },
    { tMs: T0 + m * M + 2000, host, probe: 'cpufreq', event: 'freq', value: 3_000_000 },
  ]).flat() }) },
  PageFaultRateHigh: { severity: 'warning', gen: (host, bad) => ({ ev: perMinute((t) => [{ tMs: t, host, probe: 'pagefault', event: 'user', value: 0, weight: bad ? 200 * 60 : 50 * 60 }]) }) },
  SmallWriteLatencyHigh: { severity: 'warning', gen: (host, bad) => ({ ev: perMinute((t) => [
    ...Array.from({ length: 10 }, (_, i) => ({ tMs: t + i, host, probe: 'blockio', event: 'write', value: bad ? 3e6 : 2e5, bytes: 4096 })),
    { tMs: t + 20, host, probe: 'blockio', event: 'write', value: 50e6, bytes: 1 << 20 }, // a large write: not a small write
  ]) }) },
  GoroutinesHigh: { severity: 'warning', gen: (host, bad) => ({ cnt: perMinute((t) => [{ tMs: t, host, probe: 'go_sched', name: 'goroutines', pid: 4242, comm: 'v2e-api', value: bad ? 1500 : 300 }]) }) },
  GcPauseHigh: { severity: 'warning', gen: (host, bad) => ({ ev: perMinute((t) => [{ tMs: t, host, probe: 'go_gc', event: 'stw_mark_term', value: bad ? 2e6 : 3e5, comm: 'v2e-api' }]) }) },
};

for (const target of storeTargets()) {
  describe.skipIf(target.skip)(`default rule pack on ${target.name}${target.skip ? ` (skipped: ${target.skip})` : ''}`, () => {
    const { groups, errors } = loadRules(DIR);
    const rules = groups.flatMap((g) => g.rules);

    beforeAll(async () => {
      store = await openStore(target.dsn());
      await target.reset?.(store);
      await applySchema(store);
      for (const [name, c] of Object.entries(CASES)) {
        for (const bad of [true, false]) {
          const rows = c.gen(`${bad ? 'bad' : 'good'}-${name}`, bad);
          if (rows.ev) await insertEvents(store, rows.ev);
          if (rows.cnt) await insertCounters(store, rows.cnt);
        }
      }
    });
    afterAll(async () => store?.close());

    it('loads without errors; every rule cites its target and states its grading', () => {
      expect(errors).toEqual([]);
      expect(rules.map((r) => r.name).sort()).toEqual(Object.keys(CASES).sort());
      for (const r of rules) {
        expect(r.target, r.name).toBeTruthy();
        expect(r.annotations.description, r.name).toMatch(/Target/);
        expect(r.annotations.summary, r.name).toBeTruthy();
      }
    });

    for (const name of Object.keys(CASES)) {
      it(`${name}: fires on the host that breaks the target, quiet on the one that meets it`, async () => {
        const rule = rules.find((r) => r.name === name)!;
        const ev = new Evaluator({ store, groups });
        for (let m = 1; m <= 5; m++) {
          const r = await ev.evaluateAt(rule, T0 + m * M);
          expect(r.error, `${name} at minute ${m}`).toBeUndefined();
        }
        const st = ev.status().filter((s) => s.rule === name);
        const hosts = (state: string) => [...new Set(st.filter((s) => s.state === state).map((s) => s.labels.host))];
        expect(hosts('firing'), name).toEqual([`bad-${name}`]);
        expect(hosts('pending'), name).toEqual([]);
        expect(st.some((s) => s.state === 'firing' && s.severity === CASES[name].severity), name).toBe(true);
        expect(st.filter((s) => s.labels.host?.startsWith('good-'))).toEqual([]);
      });
    }

    it('one evaluation round of the whole pack on one evaluator: no rule errors', async () => {
      // (how long a round takes is a benchmark figure, printed here, not asserted)
      const ev = new Evaluator({ store, groups });
      const t = performance.now();
      for (const r of rules) expect((await ev.evaluateAt(r, T0 + 5 * M)).error, r.name).toBeUndefined();
      console.log(`default pack on ${target.name}: ${rules.length} rules evaluated in ${(performance.now() - t).toFixed(0)} ms`);
    });
  });
}
