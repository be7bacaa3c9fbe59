// The evaluator on chDB with synthetic rows at known times: exact transitions
// (pending, firing, resolved), keep_firing_for against flapping input, no
// data, group by host, errors and hostile SQL, webhook payloads and retries,
// restart without duplicate notifications, backfill, the ingest watermark.
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchema } from '../../schema/ddl.js';
import { openStore, type Store } from '../../store/index.js';
import { Evaluator } from '../../alerts/evaluator.js';
import { windowReady } from '../../alerts/watermark.js';
import type { WebhookPayload } from '../../alerts/notify.js';
import { baseMs, groupsOf, insertCounters, insertEvents, logOf, ruleOf } from './helpers.js';

let store: Store;
const S = 1000;

beforeAll(async () => {
  store = await openStore(`chdb:${mkdtempSync(join(tmpdir(), 'v2alerts-'))}`);
  await applySchema(store);
});
afterAll(async () => store?.close());

const RULES = `
groups:
  - name: test
    interval: 10s
    rules:
      - name: P99High
        template: { source: events, rollup: 10s, probe: uds, event: [sendmsg, recvmsg], aggregate: p99, group_by: [host] }
        thresholds: { warning: 25000, critical: 100000 }
        for: 20s
        annotations:
          summary: "p99 {{ $value | us }} on {{ $labels.host }} (> {{ $threshold | us }})"
      - name: Flappy
        template: { source: events, rollup: 10s, probe: flap, aggregate: max, group_by: [host] }
        thresholds: { warning: 10 }
        keep_firing_for: 30s
      - name: Quiet
        template: { source: events, rollup: 10s, probe: quiet, aggregate: count, group_by: [host] }
        thresholds: { warning: 0 }
        no_data: alert
      - name: Broken
        sql: SELECT 1 AS value FROM v2e.no_such_table WHERE ts >= {start}
        thresholds: { warning: 0 }
      - name: Slow
        sql: SELECT count() AS value FROM system.numbers WHERE number >= 0
        thresholds: { warning: 0 }
`;

describe('state machine over synthetic data', () => {
  const groups = groupsOf(RULES);
  const T0 = baseMs(3);

  it('pending at t1, firing at t2, resolved at t3 — per host', async () => {
    // buckets i = 0..11 of 10 s; host a breaches (50 µs) in 3..8, host b never (5 µs)
    const evs = [];
    for (let i = 0; i < 12; i++)
      for (let k = 0; k < 20; k++) {
        evs.push({ tMs: T0 + i * 10 * S + k * 400, host: 'a', probe: 'uds', event: 'sendmsg', value: i >= 3 && i <= 8 ? 50_000 : 5_000 });
        evs.push({ tMs: T0 + i * 10 * S + k * 400, host: 'b', probe: 'uds', event: 'recvmsg', value: 5_000 });
      }
    await insertEvents(store, evs);
    const ev = new Evaluator({ store, groups });
    const rule = ruleOf(groups, 'P99High');
    for (let i = 0; i < 12; i++) await ev.evaluateAt(rule, T0 + (i + 1) * 10 * S);
    const log = await logOf(store, 'P99High');
    const at = (s: number) => T0 + s * S;
    expect(log).toEqual([
      { t: at(40), host: 'a', severity: 'warning', from: 'inactive', to: 'pending' },
      { t: at(60), host: 'a', severity: 'warning', from: 'pending', to: 'firing' },
      { t: at(100), host: 'a', severity: 'warning', from: 'firing', to: 'resolved' },
    ]);
    // the log row carries value, window and query
    const [row] = await store.queryRows<{ q: string; ws: number; we: number; v: number }>(
      `SELECT query AS q, toUnixTimestamp64Milli(window_start) AS ws, toUnixTimestamp64Milli(window_end) AS we, value AS v FROM v2e.alert_log WHERE rule='P99High' AND to_state='firing'`,
    );
    expect([row.ws, row.we]).toEqual([at(50), at(60)]);
    expect(row.q).toMatch(/quantileTDigestWeightedMerge\(0\.99\)\(value_q\)/);
    expect(Math.abs(row.v - 50_000)).toBeLessThan(500);
    // the annotation was rendered for the payload
    expect(ev.sent[0].alerts[0].annotations.summary).toMatch(/^p99 50(\.\d+)? µs on a \(> 25 µs\)$/);
    expect(ev.sent.map((p) => p.alerts.map((a) => a.status))).toEqual([['firing'], ['resolved']]);
  });

  it('flapping input: keep_firing_for keeps one firing period', async () => {
    // breach in buckets 0, 2, 5; nothing above 10 otherwise
    const pattern = [20, 1, 20, 1, 1, 20, 1, 1, 1, 1, 1];
    await insertEvents(store, pattern.map((v, i) => ({ tMs: T0 + i * 10 * S + 5 * S, probe: 'flap', event: 'x', value: v })));
    const ev = new Evaluator({ store, groups });
    const rule = ruleOf(groups, 'Flappy');
    for (let i = 0; i < pattern.length; i++) await ev.evaluateAt(rule, T0 + (i + 1) * 10 * S);
    expect(await logOf(store, 'Flappy')).toEqual([
      { t: T0 + 10 * S, host: 'h1', severity: 'warning', from: 'inactive', to: 'firing' },
      { t: T0 + 90 * S, host: 'h1', severity: 'warning', from: 'firing', to: 'resolved' },
    ]);
  });

  it('no data: a no-data alert fires while the query returns nothing, resolves when data is back', async () => {
    await insertEvents(store, [{ tMs: T0 + 35 * S, probe: 'quiet', event: 'x', value: 1 }]);
    const ev = new Evaluator({ store, groups });
    const rule = ruleOf(groups, 'Quiet');
    for (let i = 0; i < 5; i++) await ev.evaluateAt(rule, T0 + (i + 1) * 10 * S);
    const rows = await store.queryRows<{ t: number; st: string; to: string }>(
      `SELECT toUnixTimestamp64Milli(ts) AS t, labels['alertstate'] AS st, to_state AS to FROM v2e.alert_log WHERE rule='Quiet' ORDER BY ts, st`,
    );
    expect(rows).toEqual([
      { t: T0 + 10 * S, st: 'nodata', to: 'firing' },
      { t: T0 + 40 * S, st: '', to: 'firing' },
      { t: T0 + 40 * S, st: 'nodata', to: 'resolved' },
      { t: T0 + 50 * S, st: '', to: 'resolved' }, // label set gone: no data is ok for it
      { t: T0 + 50 * S, st: 'nodata', to: 'firing' },
    ]);
  });

  it('a failing rule and a too-slow rule are reported and skipped; the others run; nothing changes in the store', async () => {
    const ev = new Evaluator({ store, groups, limits: { timeoutSec: 0.5, maxRows: 100 } });
    const tables = await store.queryRows("SELECT name, total_rows FROM system.tables WHERE database='v2e' AND name NOT LIKE 'alert_%' ORDER BY name");
    const results = [];
    for (const r of groups[0].rules) results.push(await ev.evaluateAt(r, T0 + 200 * S));
    const byRule = Object.fromEntries(results.map((r) => [r.rule, r.error ?? 'ok']));
    expect(byRule.Broken).toMatch(/rule Broken \(test\.yaml:\d+\): query failed: .*no_such_table/);
    expect(byRule.Slow).toMatch(/Timeout exceeded|TIMEOUT/i);
    expect(byRule.P99High).toBe('ok');
    expect(byRule.Flappy).toBe('ok');
    const errs = await store.queryRows<{ rule: string }>("SELECT rule FROM v2e.alert_log WHERE to_state = 'error' ORDER BY rule");
    expect(errs.map((e) => e.rule)).toEqual(['Broken', 'Slow']);
    expect(await store.queryRows("SELECT name, total_rows FROM system.tables WHERE database='v2e' AND name NOT LIKE 'alert_%' ORDER BY name")).toEqual(tables);
  });
});

describe('webhook notifications', () => {
  let server: Server;
  let url = '';
  const got: WebhookPayload[] = [];
  let failFirst = 0;
  let requests = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        requests++;
        if (failFirst > 0) {
          failFirst--;
          res.writeHead(503).end('busy');
          return;
        }
        got.push(JSON.parse(body));
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const YAML = `
groups:
  - name: hook
    interval: 10s
    rules:
      - name: HookRule
        template: { source: events, rollup: 10s, probe: hook, aggregate: max, group_by: [host, comm] }
        thresholds: { warning: 10, critical: 100 }
        labels: { team: broker }
        annotations: { summary: "max {{ $value }} on {{ $labels.host }}/{{ $labels.comm }}", runbook: "https://runbooks/v2e/hook" }
      - name: Pend
        template: { source: events, rollup: 10s, probe: pend, aggregate: max, group_by: [host] }
        thresholds: { warning: 10 }
        for: 30s
`;
  const groups = groupsOf(YAML);
  const T0 = baseMs(2);

  it('gets exactly the expected payloads (version 4), including resolved; a receiver failing twice gets one delivery', async () => {
    // bucket 0: 50 (warning), bucket 1: 500 (critical too), bucket 2: 1 (both resolve)
    await insertEvents(store, [50, 500, 1].map((v, i) => ({ tMs: T0 + i * 10 * S + S, probe: 'hook', event: 'x', host: 'h9', comm: 'svc', value: v })));
    const ev = new Evaluator({ store, groups, webhook: { urls: [url], attempts: 4, backoffMs: 10 }, externalURL: 'http://v2probe.example' });
    const rule = ruleOf(groups, 'HookRule');
    failFirst = 2;
    await ev.evaluateAt(rule, T0 + 10 * S);
    expect(requests).toBe(3);
    expect(got).toHaveLength(1);
    await ev.evaluateAt(rule, T0 + 20 * S);
    await ev.evaluateAt(rule, T0 + 30 * S);
    await ev.evaluateAt(rule, T0 + 40 * S); // nothing new: no payload
    expect(got).toHaveLength(3);
    const iso = (s: number) => new Date(T0 + s * S).toISOString();
    const labels = (severity: string) => ({ alertname: 'HookRule', team: 'broker', host: 'h9', comm: 'svc', severity });
    expect(got.map((p) => ({ status: p.status, version: p.version, groupKey: p.groupKey, alerts: p.alerts.map((a) => [a.status, a.labels.severity, a.startsAt, a.endsAt, a.value]) }))).toEqual([
      { status: 'firing', version: '4', groupKey: '{}:{alertname="HookRule"}', alerts: [['firing', 'warning', iso(10), '0001-01-01T00:00:00Z', 50]] },
      { status: 'firing', version: '4', groupKey: '{}:{alertname="HookRule"}', alerts: [['firing', 'critical', iso(20), '0001-01-01T00:00:00Z', 500]] },
      { status: 'resolved', version: '4', groupKey: '{}:{alertname="HookRule"}', alerts: [['resolved', 'warning', iso(10), iso(30), 1], ['resolved', 'critical', iso(20), iso(30), 1]] },
    ]);
    const a = got[0].alerts[0];
    expect(a.labels).toEqual(labels('warning'));
    expect(a.annotations).toEqual({ summary: 'max 50 on h9/svc', runbook: 'https://runbooks/v2e/hook' });
    expect(a.generatorURL).toBe('http://v2probe.example/alerts?rule=HookRule');
    expect(a.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(a.window).toEqual({ start: iso(0), end: iso(10) });
    expect(a.query).toMatch(/FROM v2e\.events_10s/);
    expect(got[0]).toMatchObject({ receiver: 'v2probe', groupLabels: { alertname: 'HookRule' }, commonLabels: labels('warning'), truncatedAlerts: 0, externalURL: 'http://v2probe.example' });
  });

  it('restart while one alert is pending and one firing: no duplicate notification, pending keeps its start', async () => {
    got.length = 0;
    // HookRule fires on host r1 from bucket 10 on; Pend breaches from bucket 10 on (for 30 s)
    const evs = [];
    for (let i = 10; i < 16; i++) {
      evs.push({ tMs: T0 + i * 10 * S + S, probe: 'hook', event: 'x', host: 'r1', comm: 'svc', value: 50 });
      evs.push({ tMs: T0 + i * 10 * S + S, probe: 'pend', event: 'x', host: 'r1', value: 50 });
    }
    await insertEvents(store, evs);
    const first = new Evaluator({ store, groups, webhook: { urls: [url], attempts: 2, backoffMs: 10 } });
    for (const end of [110, 120]) for (const r of groups[0].rules) await first.evaluateAt(r, T0 + end * S);
    expect(got).toHaveLength(1); // HookRule firing on r1
    expect(first.status().map((s) => [s.rule, s.state]).sort()).toEqual([['HookRule', 'firing'], ['Pend', 'pending']]);

    const second = new Evaluator({ store, groups, webhook: { urls: [url], attempts: 2, backoffMs: 10 } }); // "restart": state from the store
    await second.init();
    expect(second.status().map((s) => [s.rule, s.state, s.since]).sort()).toEqual([
      ['HookRule', 'firing', new Date(T0 + 110 * S).toISOString()],
      ['Pend', 'pending', new Date(T0 + 110 * S).toISOString()],
    ]);
    for (const end of [130, 140]) for (const r of groups[0].rules) await second.evaluateAt(r, T0 + end * S);
    // Pend fires at 110 + 30 = 140 (start kept); HookRule not re-sent
    expect(got.map((p) => p.groupKey)).toEqual(['{}:{alertname="HookRule"}', '{}:{alertname="Pend"}']);
    expect(got[1].alerts[0].startsAt).toBe(new Date(T0 + 110 * S).toISOString());
    const pend = await logOf(store, 'Pend');
    expect(pend.map((l) => [l.t - T0, l.to])).toEqual([[110 * S, 'pending'], [140 * S, 'firing']]);
  });
});

describe('backfill and watermark', () => {
  it('backfill over a day of synthetic data writes the expected history, marked backfill, without notifying', async () => {
    const YAML = `
groups:
  - name: day
    interval: 10m
    rules:
      - name: DayLockWait
        template: { source: events, rollup: 1m, probe: bf, aggregate: time_share, group_by: [host] }
        thresholds: { warning: 0.01 }
        for: 10m
`;
    const groups = groupsOf(YAML);
    const dayStart = baseMs(26);
    const evs = [];
    // one row per minute for 24 h; 2 % wait (1.2 s per minute) from hour 5 to 7, 0.1 % otherwise
    for (let m = 0; m < 1440; m++) evs.push({ tMs: dayStart + m * 60 * S + 30 * S, probe: 'bf', event: 'mutex', value: m >= 300 && m < 420 ? 1.2e9 : 0.06e9 });
    await insertEvents(store, evs);
    const ev = new Evaluator({ store, groups, webhook: { urls: ['http://127.0.0.1:9/never'], attempts: 1, backoffMs: 1 } });
    const t = Date.now();
    const r = await ev.backfill(dayStart, dayStart + 86_400 * S);
    const took = Date.now() - t;
    expect(r.windows).toBe(144);
    expect(r.errors).toBe(0);
    expect(await logOf(store, 'DayLockWait', 1)).toEqual([
      { t: dayStart + 310 * 60 * S, host: 'h1', severity: 'warning', from: 'inactive', to: 'pending' },
      { t: dayStart + 320 * 60 * S, host: 'h1', severity: 'warning', from: 'pending', to: 'firing' },
      { t: dayStart + 430 * 60 * S, host: 'h1', severity: 'warning', from: 'firing', to: 'resolved' },
    ]);
    expect(await logOf(store, 'DayLockWait', 0)).toEqual([]);
    expect(ev.sent).toEqual([]);
    const st = await store.queryRows("SELECT * FROM v2e.alert_state WHERE rule = 'DayLockWait'");
    expect(st).toEqual([]);
    console.log(`backfill: 144 windows in ${took} ms`);
  });

  it('a window is evaluated only when every live host has delivered data up to its end', async () => {
    const o = { staleAfterMs: 300 * S, maxDelayMs: 120 * S };
    const wm = new Map([['a', 1_000 * S], ['b', 950 * S], ['gone', 100 * S]]);
    expect(windowReady(wm, 940 * S, 1_000 * S, o)).toEqual({ ready: true, late: false, waitingFor: [] });
    expect(windowReady(wm, 960 * S, 1_000 * S, o)).toEqual({ ready: false, late: false, waitingFor: ['b'] });
    expect(windowReady(wm, 960 * S, 1_080 * S, o)).toEqual({ ready: true, late: true, waitingFor: ['b'] });
    expect(windowReady(wm, 1_010 * S, 1_000 * S, o).ready).toBe(false); // the future

    // through the store: the heartbeat (a counters snapshot) moves the watermark
    const YAML = `
groups:
  - name: wm
    interval: 10s
    rules:
      - name: WmRule
        template: { source: events, rollup: 10s, probe: wmprobe, aggregate: count, group_by: [host] }
        thresholds: { warning: 0 }
`;
    const groups = groupsOf(YAML);
    const T = baseMs(1) + 60 * S;
    await insertEvents(store, [{ tMs: T - 5 * S, host: 'wm1', probe: 'wmprobe', event: 'x', value: 1 }]);
    await insertCounters(store, [{ tMs: T - 4 * S, host: 'wm1', probe: 'sched', name: 'switches' }]);
    let now = T + 1 * S;
    const ev = new Evaluator({ store, groups, now: () => now, watermark: o });
    // other hosts of this store are older than staleAfter: only wm1 is waited for
    ev.cursors.set('WmRule', T - 10 * S);
    expect(await ev.round()).toEqual([]); // window ending at T: wm1 has data only up to T-4s
    await insertCounters(store, [{ tMs: T + 2 * S, host: 'wm1', probe: 'sched', name: 'switches' }]);
    now = T + 3 * S;
    const r = await ev.round();
    expect(r.map((x) => [x.rule, x.windowEnd - T, x.rows])).toEqual([['WmRule', 0, 1]]);
    expect(ev.cursors.get('WmRule')).toBe(T);
  });
});
