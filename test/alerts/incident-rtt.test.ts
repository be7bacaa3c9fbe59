// The incident report's round-trip section over synthetic v2e.rtt_breakdown
// rows in a chDB store: per broker comm, trips, p50/p99 of the total and the
// mean breakdown of the slowest 1 % against the baseline days, with the
// component that grew the most; a comm without trips now; an empty store said
// plainly. (The same section over real breakdowns: test/explain/collector-explain.test.ts.)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchema } from '../../schema/ddl.js';
import { openStore, type Store } from '../../store/index.js';
import { formatIncident, incidentReport } from '../../alerts/incident.js';
import { baseMs } from './helpers.js';

const DAY = 86_400_000;
const T0 = baseMs(1); // window [T0, T0 + 10 min)
let store: Store;

function trip(tMs: number, comm: string, c: Record<string, number>): Record<string, unknown> {
  const total = Object.values(c).reduce((a, b) => a + b, 0);
  return { ts: String(BigInt(tMs) * 1_000_000n), host: 'h1', client_pid: 2, client_tid: 2, client_comm: 'v2client', broker_pid: 1, broker_tid: 1, broker_comm: comm, total_ns: total, ...c };
}

beforeAll(async () => {
  store = await openStore(`chdb:${mkdtempSync(join(tmpdir(), 'v2inc-rtt-'))}`);
  await applySchema(store);
  const rows: Array<Record<string, unknown>> = [];
  for (let i = 0; i < 400; i++) {
    const t = (d: number) => T0 - d * DAY + i * 1000;
    // (distinct totals: +i ns) baseline day: 100 µs trips, the slowest 1 % (4) wait 200 µs on a futex
    rows.push(trip(t(1), 'v2broker', { queue_ns: 30_000 + i, oncpu_ns: 40_000, reply_ns: 30_000, futex_ns: i % 100 === 0 ? 200_000 : 0 }));
    // now: same, but the slowest 1 % spend 5 ms on CPU
    rows.push(trip(t(0), 'v2broker', { queue_ns: 30_000 + i, oncpu_ns: i % 100 === 0 ? 5_000_000 : 40_000, reply_ns: 30_000 }));
    // a broker seen only on the baseline day
    if (i < 50) rows.push(trip(t(1), 'oldbroker', { queue_ns: 10_000, oncpu_ns: 10_000 }));
  }
  await store.insertRows('v2e.rtt_breakdown', rows);
});
afterAll(async () => store?.close());

describe('incident report: round trips (v2e.rtt_breakdown)', () => {
  it('per broker comm: trips, p50/p99, and the component that grew most in the slowest 1 %', async () => {
    const r = await incidentReport(store, { fromMs: T0, toMs: T0 + 600_000, baselineDays: 1 });
    expect(r.rtt.note).toBeUndefined();
    const b = r.rtt.rows.find((x) => x.broker_comm === 'v2broker')!;
    expect(b.trips_now).toBe(400);
    expect(b.trips_base).toBe(400);
    expect(b.p50_now).toBeCloseTo(100_000, -3);
    expect(b.p50_base).toBeCloseTo(100_000, -3);
    expect(b.p99_now).toBeGreaterThan(b.p99_base);
    expect(b.slow_n_now).toBeGreaterThanOrEqual(4);
    expect(b.grown).toBe('oncpu');
    expect(b.grown_all).toBe('oncpu'); // mean over all trips: 40 → 89.6 µs
    expect(b.mean_base!.futex_ns).toBeCloseTo(2000, 0);
    expect(b.slow_now.oncpu_ns).toBeGreaterThan(1_000_000);
    expect(b.slow_base!.futex_ns).toBeGreaterThan(100_000); // the baseline's slowest were futex waits
    const old = r.rtt.rows.find((x) => x.broker_comm === 'oldbroker')!;
    expect(old.trips_now).toBe(0);
    expect(old.trips_base).toBe(50);
    expect(old.grown).toBe('');
    const table = formatIncident(r, 'table');
    expect(table).toMatch(/Round trips to brokers/);
    expect(table).toMatch(/^v2broker\s+400\s+400\s.*oncpu \+\d+\.\d µs$/m);
    expect(table).toMatch(/slowest 1 % of v2broker/);
    expect(table).toMatch(/^oldbroker\s+0\s+50\s.*no trips now$/m);
    expect(table).not.toMatch(/slowest 1 % of oldbroker/);
    const md = formatIncident(r, 'markdown');
    expect(md).toMatch(/#### Round trips to brokers[\s\S]*\| v2broker \| 400 \| 400 \|[\s\S]*oncpu \+/);
    const js = JSON.parse(formatIncident(r, 'json'));
    expect(js.rtt.rows[0].broker_comm).toBe('v2broker');
    expect(js.rtt.rows[0].grown).toBe('oncpu');
    expect(js.rtt.sql).toMatch(/FROM v2e\.rtt_breakdown/);
  });

  it('against a baseline without data: everything is new, the largest component of the slowest 1 % is named', async () => {
    const r = await incidentReport(store, { fromMs: T0 - DAY, toMs: T0 - DAY + 600_000, baselineDays: 2 });
    const b = r.rtt.rows.find((x) => x.broker_comm === 'v2broker')!;
    expect(b.trips_base).toBe(0);
    expect(b.slow_base).toBeUndefined();
    expect(b.grown).toBe('futex');
    expect(formatIncident(r, 'table')).toMatch(/futex \+\d+\.\d µs \(no baseline\)/);
  });

  it('no breakdowns: the section says so in every format', async () => {
    // (one chDB engine per process: a window 30 days back, where nothing was stored)
    const r = await incidentReport(store, { fromMs: T0 - 30 * DAY, toMs: T0 - 30 * DAY + 600_000, baselineDays: 7 });
    expect(r.rtt.rows).toEqual([]);
    expect(r.rtt.note).toMatch(/no round-trip breakdowns in the window or the baseline/);
    expect(formatIncident(r, 'table')).toMatch(/no round-trip breakdowns in the window or the baseline/);
    expect(formatIncident(r, 'markdown')).toMatch(/_no round-trip breakdowns in the window or the baseline/);
    expect(JSON.parse(formatIncident(r, 'json')).rtt.note).toMatch(/no round-trip breakdowns/);
  });
});
