// Bad input for the Alertmanager client: an unreachable, an erroring (503) and
// a silent (never answers) Alertmanager. Alerts wait in a bounded in-memory
// queue (oldest dropped and counted when full), are retried with backoff,
// failed sends are counted in /metrics and the status, and evaluation never
// waits for them. A real Alertmanager refusing an invalid alert (400) is not
// retried. Misconfigured URLs and TLS files are usage errors at start-up (exit 2).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertmanagerClient, AlertmanagerConfigError, type AmAlert } from '../../alerts/alertmanager.js';
import { Evaluator } from '../../alerts/evaluator.js';
import { applySchema } from '../../schema/ddl.js';
import { openStore, type Store } from '../../store/index.js';
import { groupsOf, insertEvents, ruleOf } from '../alerts/helpers.js';
import { runCli } from '../helpers/cli.js';
import { parseExposition, sampleValue } from '../helpers/prom.js';
import { ensurePrometheusPackages, freePort, sleep, startAlertmanager, waitFor, type Daemon } from './helpers/stack.js';

const alert = (i: number): AmAlert => ({
  labels: { alertname: 'Q', severity: 'warning', n: String(i) }, annotations: {},
  startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 60_000).toISOString(), generatorURL: 'http://localhost/v2probe/alerts?rule=Q',
});

describe('an unreachable, erroring or silent Alertmanager', () => {
  let flaky: Server;
  let silent: Server;
  let flakyUrl: string;
  let silentUrl: string;
  let deadUrl: string;
  let healthy = false;
  const flakyBodies: unknown[][] = [];

  beforeAll(async () => {
    flaky = createServer((req, res) => {
      let s = '';
      req.on('data', (d) => (s += d));
      req.on('end', () => {
        if (healthy) flakyBodies.push(JSON.parse(s));
        res.writeHead(healthy ? 200 : 503).end(healthy ? '' : 'overloaded');
      });
    });
    silent = createServer(() => {}); // accepts, never answers
    await Promise.all([flaky, silent].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
    const port = (s: Server) => (s.address() as { port: number }).port;
    flakyUrl = `http://127.0.0.1:${port(flaky)}`;
    silentUrl = `http://127.0.0.1:${port(silent)}`;
    deadUrl = `http://127.0.0.1:${await freePort()}`;
  });
  afterAll(() => {
    flaky?.close();
    silent?.closeAllConnections();
    silent?.close();
  });

  it('queues in bounded memory, drops the oldest, retries with backoff, counts failed sends; push never waits', async () => {
    const am = new AlertmanagerClient({ urls: [deadUrl, flakyUrl, silentUrl], queueCapacity: 20, timeoutMs: 300, backoffMs: 50, maxBackoffMs: 200 });
    const reg = new Registry();
    am.registerMetrics(reg);
    // push() is synchronous: it returns nothing to wait for, and the queues are
    // already bounded when it returns (no timing on a shared machine)
    const t0 = performance.now();
    expect(am.push(Array.from({ length: 50 }, (_, i) => alert(i)))).toBeUndefined();
    for (const s of am.stats()) expect([s.queued, s.dropped]).toEqual([20, 30]);
    // retried with backoff: wait until each has failed 3 times, then bound the
    // attempts by the backoff schedule (50, 100, 200, 200, … ms between tries)
    // over the time that really elapsed — a slower machine only makes fewer
    await waitFor('3 failed sends each', async () => am.stats().every((s) => s.failed >= 3), 60_000, 20);
    const st = am.stats();
    const elapsed = performance.now() - t0;
    let maxAttempts = 1;
    for (let gap = 50, at = 0; (at += gap) <= elapsed; gap = Math.min(gap * 2, 200)) maxAttempts++;
    for (const s of st) {
      expect(s.sent).toBe(0);
      expect(s.queued).toBe(20);
      expect(s.failed).toBeGreaterThanOrEqual(3);
      expect(s.failed).toBeLessThanOrEqual(maxAttempts);
    }
    expect(st[0].lastError).toMatch(/ECONNREFUSED/);
    expect(st[1].lastError).toMatch(/HTTP 503: overloaded/);
    expect(st[2].lastError).toMatch(/no answer within 300 ms/);
    const fams = parseExposition(await reg.metrics());
    expect(sampleValue(fams, 'v2probe_alertmanager_send_failures_total', { alertmanager: flakyUrl })).toBe(st[1].failed);
    expect(sampleValue(fams, 'v2probe_alertmanager_alerts_dropped_total', { alertmanager: deadUrl })).toBe(30);
    expect(sampleValue(fams, 'v2probe_alertmanager_queue_length', { alertmanager: silentUrl })).toBe(20);
    // the erroring one recovers: its queue drains (the newest 20 alerts), the others keep theirs
    healthy = true;
    await waitFor('flaky queue drained', async () => am.stats()[1].queued === 0, 5000, 50);
    expect(am.stats()[1].sent).toBe(20);
    expect(flakyBodies.flat().map((a) => Number((a as AmAlert).labels.n)).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => 30 + i));
    expect(am.stats()[0].queued).toBe(20);
    am.close();
  });

  it('evaluation does not wait for an unreachable Alertmanager; the alert waits in the queue', async () => {
    const store: Store = await openStore(`chdb:${mkdtempSync(join(tmpdir(), 'v2am-fail-'))}`);
    try {
      await applySchema(store);
      const groups = groupsOf(`
groups:
  - name: g
    interval: 10s
    rules:
      - name: Hot
        template: { source: events, rollup: 10s, probe: hot, aggregate: max, group_by: [host] }
        thresholds: { critical: 10 }
`);
      const T0 = Math.floor(Date.now() / 10_000) * 10_000 - 60_000;
      await insertEvents(store, [{ tMs: T0 + 1000, probe: 'hot', event: 'x', value: 99 }]);
      // the silent Alertmanager never answers and the client would wait 10 min
      // for it: the evaluation returning at all (the test's limit is 2 min) is
      // the proof that it does not wait, on however slow a machine
      const ev = new Evaluator({ store, groups, alertmanager: { urls: [silentUrl], timeoutMs: 600_000 } });
      const r = await ev.evaluateAt(ruleOf(groups, 'Hot'), T0 + 10_000);
      expect(r.transitions.map((x) => x.to)).toEqual(['firing']);
      expect(ev.alertmanager!.stats()[0]).toMatchObject({ queued: 1, sent: 0 });
      expect(ev.status()).toHaveLength(1);
      ev.alertmanager!.close();
    } finally {
      await store.close();
    }
  });

  it('`v2probe alerts --once` with an unreachable Alertmanager: evaluates, reports the failed sends and the queue, exits 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2am-once-'));
    const dsn = `chdb:${join(dir, 'store')}`;
    const rules = join(dir, 'r.yaml');
    writeFileSync(rules, `groups:\n  - name: g\n    interval: 10s\n    rules:\n      - name: Hot\n        template: { source: events, rollup: 10s, probe: hot, aggregate: max, group_by: [host] }\n        thresholds: { critical: 10 }\n`);
    expect(runCli(['schema', 'apply', '--store', dsn]).code).toBe(0);
    expect(runCli(['query', '--store', dsn, `INSERT INTO v2e.events (ts, host, probe, event, pid, tid, comm, value, weight, cpu, bytes)
      SELECT now64(9) - toIntervalMillisecond(number * 500), 'h', 'hot', 'x', 1, 1, 'x', 99, 1, 0, 0 FROM numbers(80)`]).code).toBe(0);
    // exits by itself (runCli gives it 2 min) although the Alertmanager is dead
    const r = runCli(['alerts', '--once', '--rules', rules, '--store', dsn, '--max-delay', '0s', '--alertmanager', deadUrl, '--alertmanager-timeout', '500ms']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(summary.firing).toBe(1);
    expect(summary.delivered).toBe(false);
    expect(summary.alertmanager[0]).toMatchObject({ url: deadUrl, sent: 0, queued: 1 });
    expect(summary.alertmanager[0].failed).toBeGreaterThanOrEqual(1);
    expect(r.stderr).toMatch(/sending alerts to Alertmanager failed; will retry/);
  });
});

describe('a misconfigured Alertmanager is reported at start-up', () => {
  it.each([
    ['ftp://127.0.0.1:9093', /scheme must be http or https/],
    ['127.0.0.1:9093', /scheme must be http or https|not a URL/],
    ['http://127.0.0.1:99999', /not a URL/],
    ['http://127.0.0.1:9093/api/v2/alerts', /base URL/],
    ['http://127.0.0.1:9093/?x=1', /without a query/],
  ])('--alertmanager %s: exit 2', (url, msg) => {
    const r = runCli(['alerts', '--once', '--store', `chdb:${mkdtempSync(join(tmpdir(), 'v2am-bad-'))}`, '--alertmanager', url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
  });

  it('`up` refuses a bad URL, a missing CA file, a duplicate URL before attaching anything', () => {
    const sink = `chdb:${mkdtempSync(join(tmpdir(), 'v2am-up-'))}`;
    for (const [args, msg] of [
      [['--alertmanager', 'not a url'], /not a URL/],
      [['--alertmanager', 'https://am.example:9093', '--alertmanager-ca', '/nonexistent/ca.pem'], /TLS CA file \/nonexistent\/ca.pem/],
      [['--alertmanager', 'http://a:9093,http://a:9093'], /given twice/],
      [['--alertmanager-user', 'x'], /needs --alertmanager URL/],
    ] as Array<[string[], RegExp]>) {
      const r = runCli(['up', '--sink', sink, '--metrics', 'off', '--control', 'off', ...args], { timeout: 30_000 });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/probe attached/);
    }
    expect(() => new AlertmanagerClient({ urls: [] })).toThrow(AlertmanagerConfigError);
    expect(() => new AlertmanagerClient({ urls: ['http://a'], basicAuth: { username: 'u', password: 'p' }, bearerToken: 't' })).toThrow(/either basic auth or a bearer token/);
  });
});

const skip = ensurePrometheusPackages();
describe.skipIf(!!skip)(`a real Alertmanager refusing alerts${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let am: Daemon;
  beforeAll(async () => {
    am = await startAlertmanager({ webhookUrl: 'http://127.0.0.1:9/none' });
  });
  afterAll(async () => am?.stop());

  it('an invalid alert (400) is dropped and counted, not retried; valid ones in later batches still go through', async () => {
    const c = new AlertmanagerClient({ urls: [am.url], backoffMs: 50 });
    c.push([{ ...alert(1), labels: { alertname: 'Bad', 'bad-label': 'x' } }]);
    expect(await c.flush(5000)).toBe(true);
    expect(c.stats()[0]).toMatchObject({ sent: 0, failed: 1, dropped: 1, queued: 0 });
    expect(c.stats()[0].lastError).toMatch(/^HTTP 400/);
    c.push([alert(2)]);
    expect(await c.flush(5000)).toBe(true);
    expect(c.stats()[0]).toMatchObject({ sent: 1, failed: 1, dropped: 1 });
    c.close();
  });
});
