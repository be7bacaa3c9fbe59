// The evaluator against the real Alertmanager (Debian's prometheus-alertmanager):
// a rule breached by synthetic rows in a temp chDB store is sent through
// Alertmanager's API v2; Alertmanager lists it with the rule's labels and
// severity and notifies its own webhook receiver (a listener in this test),
// grouped by alertname; the data recovers and the alert resolves there; a
// silence made through Alertmanager's API suppresses the notification; two
// Alertmanagers (an HA pair) both get every alert. Also `v2probe alerts --once
// --alertmanager A --alertmanager B` end to end.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchema } from '../../schema/ddl.js';
import { openStore, type Store } from '../../store/index.js';
import { Evaluator } from '../../alerts/evaluator.js';
import { groupsOf, insertEvents, ruleOf } from '../alerts/helpers.js';
import { runCli } from '../helpers/cli.js';
import { ensurePrometheusPackages, getJson, sleep, startAlertmanager, startReceiver, waitFor, type Daemon, type Receiver } from './helpers/stack.js';

const skip = ensurePrometheusPackages();
const S = 1000;

const RULES = `
groups:
  - name: integration
    interval: 10s
    rules:
      - name: UdsP99High
        template: { source: events, rollup: 10s, probe: uds, event: sendmsg, aggregate: p99, group_by: [host] }
        thresholds: { warning: 25000, critical: 100000 }
        labels: { team: platform }
        annotations:
          summary: "p99 {{ $value | us }} on {{ $labels.host }}"
      - name: BlockioSlow
        template: { source: events, rollup: 10s, probe: blockio, event: complete, aggregate: max, group_by: [host] }
        thresholds: { critical: 1000000 }
        labels: { team: storage }
`;

interface AmAlert { labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string; generatorURL: string; status: { state: string; silencedBy: string[] } }
const amAlerts = (am: Daemon, filter = '') => getJson<AmAlert[]>(`${am.url}/api/v2/alerts${filter}`);
const keyOf = (a: { labels: Record<string, string> }) => `${a.labels.host}/${a.labels.severity}`;

describe.skipIf(!!skip)(`Alertmanager integration${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let store: Store;
  let rx: Receiver;
  let am1: Daemon;
  let am2: Daemon;
  let ev: Evaluator;
  const groups = groupsOf(RULES);
  // windows of 10 s ending at T0+10s, T0+20s, ...: recent, aligned
  const T0 = Math.floor(Date.now() / 10_000) * 10_000 - 120 * S;
  const hook = (p: string) => rx.bodies.filter((b) => b.path === p).map((b) => b.body);

  beforeAll(async () => {
    store = await openStore(`chdb:${mkdtempSync(join(tmpdir(), 'v2am-store-'))}`);
    await applySchema(store);
    rx = await startReceiver();
    [am1, am2] = await Promise.all([startAlertmanager({ webhookUrl: `${rx.url}/am1` }), startAlertmanager({ webhookUrl: `${rx.url}/am2` })]);
    ev = new Evaluator({
      store, groups, externalURL: 'http://v2probe.example:9435',
      alertmanager: { urls: [am1.url, am2.url], resendDelayMs: 1000, timeoutMs: 2000, backoffMs: 100 },
    });
  });
  afterAll(async () => {
    ev?.alertmanager?.close();
    await Promise.all([am1?.stop(), am2?.stop()]);
    await rx?.close();
    await store?.close();
  });

  it('a breach fires in both Alertmanagers with the rule labels and severity; their receivers get one grouped notification', async () => {
    // host a: 50 µs (warning); host b: 200 µs (warning and critical)
    const evs = [];
    for (let k = 0; k < 50; k++) {
      evs.push({ tMs: T0 + k * 150, host: 'a', probe: 'uds', event: 'sendmsg', value: 50_000 });
      evs.push({ tMs: T0 + k * 150, host: 'b', probe: 'uds', event: 'sendmsg', value: 200_000 });
    }
    await insertEvents(store, evs);
    const rule = ruleOf(groups, 'UdsP99High');
    const r = await ev.evaluateAt(rule, T0 + 10 * S);
    expect(r.transitions.map((t) => `${t.labels.host}/${t.severity}:${t.to}`).sort()).toEqual(['a/warning:firing', 'b/critical:firing', 'b/warning:firing']);
    expect(await ev.alertmanager!.flush(60_000)).toBe(true);
    for (const am of [am1, am2]) {
      const list = await waitFor('3 alerts in Alertmanager', async () => {
        const l = (await amAlerts(am, '?filter=alertname%3D%22UdsP99High%22'));
        return l.length === 3 && l;
      });
      expect(list.map(keyOf).sort()).toEqual(['a/warning', 'b/critical', 'b/warning']);
      for (const a of list) {
        expect(a.status.state).toBe('active');
        expect(a.labels).toMatchObject({ alertname: 'UdsP99High', team: 'platform' });
        expect(['warning', 'critical']).toContain(a.labels.severity);
        expect(a.annotations.summary).toMatch(/^p99 (50|200)(\.\d+)? µs on [ab]$/);
        // generatorURL: the rule, the window and the query that fired it
        const g = new URL(a.generatorURL);
        expect(g.origin).toBe('http://v2probe.example:9435');
        expect(g.searchParams.get('rule')).toBe('UdsP99High');
        expect(Date.parse(g.searchParams.get('from')!)).toBe(T0);
        expect(Date.parse(g.searchParams.get('to')!)).toBe(T0 + 10 * S);
        expect(g.searchParams.get('query')).toMatch(/quantileTDigestWeightedMerge\(0\.99\)/);
        expect(Date.parse(a.startsAt)).toBe(T0 + 10 * S);
        expect(Date.parse(a.endsAt)).toBeGreaterThan(Date.now() + 30 * S); // valid for 4 × max(resend, interval)
      }
    }
    // Alertmanager's own webhook: one notification per receiver, grouped by alertname, holding all three
    for (const p of ['/am1', '/am2']) {
      // the group may first go out with the alerts that had arrived by group_wait; the
      // notification that counts is the grouped one holding all three
      const n = await waitFor(`webhook ${p}`, async () => hook(p).find((b) => b.groupLabels?.alertname === 'UdsP99High' && b.alerts?.length === 3));
      expect(n.status).toBe('firing');
      expect(n.version).toBe('4');
      expect(n.commonLabels).toMatchObject({ alertname: 'UdsP99High', team: 'platform' });
      expect(n.alerts.map(keyOf).sort()).toEqual(['a/warning', 'b/critical', 'b/warning']);
    }
  });

  it('while firing the alerts are re-sent (endsAt extended), without a second notification', async () => {
    const before = await amAlerts(am1, '?filter=alertname%3D%22UdsP99High%22');
    const sent0 = ev.alertmanager!.stats()[0].sent;
    // the notifications so far: one, or two when the group first went out with the alerts that had
    // arrived by group_wait (a loaded machine) - the previous test waited for the one holding all three
    const notified0 = hook('/am1').filter((b) => b.groupLabels?.alertname === 'UdsP99High').length;
    await insertEvents(store, Array.from({ length: 50 }, (_, k) => ({ tMs: T0 + 10 * S + k * 150, host: 'a', probe: 'uds', event: 'sendmsg', value: 60_000 })));
    await insertEvents(store, Array.from({ length: 50 }, (_, k) => ({ tMs: T0 + 10 * S + k * 150, host: 'b', probe: 'uds', event: 'sendmsg', value: 200_000 })));
    await sleep(1100); // the resend delay
    const r = await ev.evaluateAt(ruleOf(groups, 'UdsP99High'), T0 + 20 * S);
    expect(r.transitions).toEqual([]);
    expect(await ev.alertmanager!.flush(60_000)).toBe(true);
    expect(ev.alertmanager!.stats()[0].sent - sent0).toBe(3);
    const after = await amAlerts(am1, '?filter=alertname%3D%22UdsP99High%22');
    const endsAt = (l: AmAlert[], k: string) => Date.parse(l.find((a) => keyOf(a) === k)!.endsAt);
    expect(endsAt(after, 'a/warning')).toBeGreaterThan(endsAt(before, 'a/warning'));
    await sleep(1500); // a group_interval: Alertmanager would notify now if anything had changed
    expect(hook('/am1').filter((b) => b.groupLabels?.alertname === 'UdsP99High')).toHaveLength(notified0);
  });

  it('the data recovers: the alerts resolve in Alertmanager and the receivers get the resolved notification', async () => {
    await insertEvents(store, Array.from({ length: 50 }, (_, k) => ({ tMs: T0 + 20 * S + k * 150, host: k % 2 ? 'a' : 'b', probe: 'uds', event: 'sendmsg', value: 5_000 })));
    const r = await ev.evaluateAt(ruleOf(groups, 'UdsP99High'), T0 + 30 * S);
    expect(r.transitions.map((t) => `${t.labels.host}/${t.severity}:${t.to}`).sort()).toEqual(['a/warning:resolved', 'b/critical:resolved', 'b/warning:resolved']);
    expect(await ev.alertmanager!.flush(60_000)).toBe(true);
    for (const am of [am1, am2]) {
      await waitFor('no active UdsP99High', async () => (await amAlerts(am, '?filter=alertname%3D%22UdsP99High%22')).length === 0);
    }
    for (const p of ['/am1', '/am2']) {
      const n = await waitFor(`resolved webhook ${p}`, async () => hook(p).find((b) => b.groupLabels?.alertname === 'UdsP99High' && b.status === 'resolved'));
      expect(n.alerts.map((a: AmAlert & { status: string }) => `${keyOf(a)}:${a.status}`).sort()).toEqual(['a/warning:resolved', 'b/critical:resolved', 'b/warning:resolved']);
      expect(n.alerts.every((a: AmAlert) => Date.parse(a.endsAt) === T0 + 30 * S)).toBe(true);
    }
  });

  it('a silence created through Alertmanager\'s API suppresses the notification (the other Alertmanager, unsilenced, notifies)', async () => {
    const now = new Date();
    const sil = await getJson<{ silenceID: string }>(`${am1.url}/api/v2/silences`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        matchers: [{ name: 'alertname', value: 'BlockioSlow', isRegex: false, isEqual: true }, { name: 'team', value: 'storage', isRegex: false, isEqual: true }],
        startsAt: now.toISOString(), endsAt: new Date(now.getTime() + 3_600_000).toISOString(), createdBy: 'v2probe-test', comment: 'maintenance',
      }),
    });
    await insertEvents(store, [{ tMs: T0 + 5 * S, host: 'a', probe: 'blockio', event: 'complete', value: 5_000_000 }]);
    const r = await ev.evaluateAt(ruleOf(groups, 'BlockioSlow'), T0 + 10 * S);
    expect(r.transitions.map((t) => t.to)).toEqual(['firing']);
    expect(await ev.alertmanager!.flush(60_000)).toBe(true);
    // delivered to both; suppressed by the silence in am1 only
    const [a1] = await waitFor('BlockioSlow in am1', async () => {
      const l = await amAlerts(am1, '?filter=alertname%3D%22BlockioSlow%22');
      return l.length === 1 && l;
    });
    expect(a1.status.state).toBe('suppressed');
    expect(a1.status.silencedBy).toEqual([sil.silenceID]);
    expect(a1.labels).toMatchObject({ severity: 'critical', team: 'storage', host: 'a' });
    await waitFor('BlockioSlow notified by am2', async () => hook('/am2').find((b) => b.groupLabels?.alertname === 'BlockioSlow'));
    await sleep(2500); // group_wait + group_interval of am1 have passed
    expect(hook('/am1').filter((b) => b.groupLabels?.alertname === 'BlockioSlow')).toEqual([]);
  });

  it('`v2probe alerts --once --alertmanager A --alertmanager B` sends to both (store filled through the CLI)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2am-cli-'));
    const dsn = `chdb:${join(dir, 'store')}`;
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, RULES.replace('UdsP99High', 'UdsP99HighCli'));
    expect(runCli(['schema', 'apply', '--store', dsn]).code).toBe(0);
    // the last 40 s: 300 µs sendmsg on host cli-host
    const ins = runCli(['query', '--store', dsn, `INSERT INTO v2e.events (ts, host, probe, event, pid, tid, comm, value, weight, cpu, bytes)
      SELECT now64(9) - toIntervalMillisecond(number * 100), 'cli-host', 'uds', 'sendmsg', 7, 7, 'v2broker', 300000, 1, 0, 64 FROM numbers(400)`]);
    expect(ins.code, ins.stderr).toBe(0);
    const r = runCli(['alerts', '--once', '--rules', rules, '--store', dsn, '--alertmanager', am1.url, '--alertmanager', am2.url, '--max-delay', '0s', '--external-url', 'http://v2probe.example:9435']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(summary.firing).toBe(2);
    expect(summary.delivered).toBe(true);
    expect(summary.alertmanager.map((s: { sent: number; failed: number }) => [s.sent, s.failed])).toEqual([[2, 0], [2, 0]]);
    for (const am of [am1, am2]) {
      const l = await waitFor('UdsP99HighCli', async () => {
        const x = await amAlerts(am, '?filter=alertname%3D%22UdsP99HighCli%22');
        return x.length === 2 && x;
      });
      expect(l.map((a) => `${a.labels.host}/${a.labels.severity}/${a.labels.team}`).sort()).toEqual(['cli-host/critical/platform', 'cli-host/warning/platform']);
    }
  });
});
