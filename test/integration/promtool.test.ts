// `promtool check metrics` (the real one, Debian's prometheus package) on a
// scrape of each /metrics endpoint v2probe serves: the collector (a running
// `v2probe collect` with a workload), the ingester (its registry served by its
// own /metrics server) and the Alertmanager client's counters. Clean = no
// errors and no lint warnings.
// The workload is a private copy of uds_pingpong (privateFixture: a comm of its own):
// with `--comm uds_pingpong` the same fixture run by another checkout's suite at
// the same time passed the filter too (seen: drops.test.ts counted 208,833
// calls where its own fixtures made 120,000).
import { Registry } from 'prom-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import { IngestMetrics, serveMetrics } from '../../ingester/metrics.js';
import { AlertmanagerClient } from '../../alerts/alertmanager.js';
import { startCli } from '../helpers/cli.js';
import { isRoot, privateFixture, runFixture } from '../helpers/probes.js';
import { parseExposition } from '../helpers/prom.js';
import { ensurePrometheusPackages, promtoolCheckMetrics } from './helpers/stack.js';

const skip = ensurePrometheusPackages();

describe.skipIf(!!skip)(`promtool check metrics${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('the ingester /metrics is clean', async () => {
    const m = new IngestMetrics();
    m.rows.inc({ table: 'events' }, 1200);
    m.rows.inc({ table: 'counters' }, 30);
    m.messages.inc({ status: 'ok' }, 12);
    m.messages.inc({ status: 'dlq' }, 1);
    m.lag.set({ topic: 'v2e', partition: '0' }, 4);
    m.insertSeconds.observe(0.02);
    m.latency.observe(0.7);
    m.batches.inc(3);
    m.dedupHits.inc();
    m.dlq.inc();
    m.waiting.set({ for: 'store' }, 0);
    m.addEventRows(1200);
    const { server, url } = await serveMetrics(m.registry, '127.0.0.1', 0);
    try {
      const text = await (await fetch(url)).text();
      parseExposition(text);
      expect(text).toMatch(/v2probe_ingest_rows_total\{table="events"\} 1200/);
      expect(promtoolCheckMetrics(text)).toBe('');
    } finally {
      server.close();
    }
  });

  it('the Alertmanager client counters are clean', async () => {
    const reg = new Registry();
    const am = new AlertmanagerClient({ urls: ['http://127.0.0.1:1', 'http://127.0.0.1:2/prefix'], backoffMs: 60_000, timeoutMs: 500 });
    am.registerMetrics(reg);
    am.push([{ labels: { alertname: 'X', severity: 'warning' }, annotations: {}, startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 60_000).toISOString(), generatorURL: 'http://localhost/v2probe/alerts?rule=X' }]);
    await am.flush(1500);
    const text = await reg.metrics();
    am.close();
    parseExposition(text);
    expect(text).toMatch(/v2probe_alertmanager_send_failures_total\{alertmanager="http:\/\/127.0.0.1:1"\} [1-9]/);
    expect(text).toMatch(/v2probe_alertmanager_queue_length\{alertmanager="http:\/\/127.0.0.1:2\/prefix"\} 1/);
    expect(promtoolCheckMetrics(text)).toBe('');
  });

  it.skipIf(!isRoot)('the collector /metrics (uds, sched, governor) is clean while it collects', async () => {
    const fixture = privateFixture('uds_pingpong', 'promtool');
    onTestFinished(fixture.remove);
    const run = startCli(['collect', '--probes', 'uds,sched', '--comm', fixture.comm, '--sink', 'stdout', '--metrics', '127.0.0.1:0', '--budget', '1']);
    await run.ready;
    try {
      const url = /"url":"(http:[^"]+)"/.exec(run.out().stderr)![1];
      await runFixture(fixture.path, ['-n', '300', '-d', '20', '-m', 'sendmsg']);
      const text = await (await fetch(url)).text();
      const fams = parseExposition(text);
      expect(fams.some((f) => f.name === 'v2probe_latency_seconds' && f.samples.length > 0)).toBe(true);
      expect(fams.some((f) => f.name === 'v2probe_process_context_switches_total')).toBe(true);
      expect(promtoolCheckMetrics(text)).toBe('');
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
    }
  });
});
