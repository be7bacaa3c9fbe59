// Historical analysis: a baseline rule ("lock wait is 4× usual for this
// hour") and the incident report, over synthetic data on past days.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchema } from '../../schema/ddl.js';
import { openStore, type Store } from '../../store/index.js';
import { Evaluator } from '../../alerts/evaluator.js';
import { formatIncident, incidentReport } from '../../alerts/incident.js';
import { baseMs, groupsOf, insertEvents, ruleOf, type Ev } from './helpers.js';

let store: Store;
const DAY = 86_400_000;
const T0 = baseMs(1); // window [T0, T0 + 10 min)

beforeAll(async () => {
  store = await openStore(`chdb:${mkdtempSync(join(tmpdir(), 'v2baseline-'))}`);
  await applySchema(store);
  const evs: Ev[] = [];
  for (let d = 0; d <= 3; d++)
    for (let m = 0; m < 10; m++) {
      const t = T0 - d * DAY + m * 60_000 + 1000;
      // lock wait: 0.2 s per minute on past days, 0.8 s today (4×); uds steady
      evs.push({ tMs: t, host: 'h1', comm: 'v2broker', probe: 'lock', event: 'mutex', value: d === 0 ? 0.8e9 : 0.2e9 });
      evs.push({ tMs: t, host: 'h1', comm: 'v2broker', probe: 'uds', event: 'sendmsg', value: 20_000, weight: 100 });
      if (d === 0) evs.push({ tMs: t, host: 'h2', comm: 'newcomer', probe: 'futex', event: 'wait', value: 5_000_000, weight: 10 });
    }
  await insertEvents(store, evs);
});
afterAll(async () => store?.close());

describe('baselines', () => {
  it('a baseline rule compares the window with the same window on the last N days', async () => {
    const groups = groupsOf(`
groups:
  - name: hist
    interval: 10m
    rules:
      - name: LockWaitVsUsual
        template: { source: events, rollup: 1m, probe: lock, aggregate: time_share, group_by: [host, comm] }
        baseline: { days: 3, mode: ratio }
        thresholds: { warning: 3 }
        annotations: { summary: "lock wait is {{ $value }}× usual for this hour on {{ $labels.host }}" }
      - name: UdsVsUsual
        template: { source: events, rollup: 1m, probe: uds, aggregate: rate, group_by: [host] }
        baseline: { days: 3, mode: ratio }
        thresholds: { warning: 3 }
`);
    const ev = new Evaluator({ store, groups });
    const lock = await ev.evaluateAt(ruleOf(groups, 'LockWaitVsUsual'), T0 + 600_000);
    expect(lock.error).toBeUndefined();
    expect(lock.transitions.map((t) => [t.labels.host, t.labels.comm, t.to, Math.round(t.value * 100) / 100])).toEqual([['h1', 'v2broker', 'firing', 4]]);
    expect(ev.sent[0].alerts[0].annotations.summary).toBe('lock wait is 4× usual for this hour on h1');
    const uds = await ev.evaluateAt(ruleOf(groups, 'UdsVsUsual'), T0 + 600_000);
    expect(uds.rows).toBe(1);
    expect(uds.transitions).toEqual([]);
  });

  it('incident report: what moved most against the baseline, with its SQL, as table/JSON/Markdown', async () => {
    const r = await incidentReport(store, { fromMs: T0, toMs: T0 + 600_000, baselineDays: 3 });
    const top = r.rows.slice(0, 3).map((x) => [x.probe, x.host, x.comm, x.change]);
    expect(top[0]).toEqual(['futex', 'h2', 'newcomer', 'rate new, p99 new']);
    expect(top[1]).toEqual(['lock', 'h1', 'v2broker', 'rate 1.0×, p99 4.0×']);
    expect(r.rows.find((x) => x.probe === 'uds')!.score).toBeLessThan(0.1);
    expect(r.sql).toMatch(/FROM v2e\.events_1m/);
    expect(formatIncident(r, 'markdown')).toMatch(/^### Incident[\s\S]*\| lock \| h1 \| v2broker \|[\s\S]*```sql/);
    expect(JSON.parse(formatIncident(r, 'json')).rows.length).toBe(r.rows.length);
    expect(formatIncident(r, 'table')).toMatch(/SQL:/);
  });
});
