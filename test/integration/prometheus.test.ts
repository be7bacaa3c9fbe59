// The real Prometheus (Debian's prometheus 2.42) scraping a running collector
// every second: the series carry the seed's labels (subsystem, event_type,
// process_id), and for a known workload (the uds_pingpong fixture, --comm
// filter) the rate Prometheus computes over a window agrees with v2probe's own
// store (sum of counter deltas over the same window) within 5 %, and the
// increase equals the fixture's own count.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { FIXTURES, isRoot } from '../helpers/probes.js';
import { ensurePrometheusPackages, getJson, sleep, startPrometheus, waitFor, type Daemon } from './helpers/stack.js';

const skip = ensurePrometheusPackages() || (isRoot ? '' : 'the collector needs root (BPF)');

interface Vector { metric: Record<string, string>; value: [number, string] }
const promQuery = async (prom: Daemon, q: string, atSec?: number): Promise<Vector[]> => {
  const u = new URL(`${prom.url}/api/v1/query`);
  u.searchParams.set('query', q);
  if (atSec !== undefined) u.searchParams.set('time', atSec.toFixed(3));
  const r = await getJson<{ status: string; data: { resultType: string; result: Vector[] } }>(u.toString());
  expect(r.status).toBe('success');
  return r.data.result;
};

describe.skipIf(!!skip)(`Prometheus scraping the collector${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let run: ReturnType<typeof startCli>;
  let prom: Daemon;
  const dir = mkdtempSync(join(tmpdir(), 'v2prom-store-'));
  const dsn = `chdb:${join(dir, 'store')}`;
  // the fixture under a name of its own, so that other uds_pingpong runs on this machine are not counted
  const comm = `v2it${process.pid}`.slice(0, 15);
  const bin = join(dir, comm);

  beforeAll(async () => {
    copyFileSync(join(FIXTURES, 'uds_pingpong'), bin);
    execFileSync('chmod', ['+x', bin]);
    run = startCli(['collect', '--probes', 'uds,sched', '--comm', comm, '--sink', dsn, '--snapshot', '1s', '--metrics', '127.0.0.1:0']);
    await run.ready;
    const target = /"url":"http:\/\/([^"/]+)\/metrics"/.exec(run.out().stderr)![1];
    prom = await startPrometheus([target], '1s');
  });
  afterAll(async () => {
    await prom?.stop();
    if (run && run.child.exitCode === null) {
      run.child.kill('SIGTERM');
      await run.exited;
    }
  });

  it('Prometheus sees the series with the seed labels; its rate agrees with the store within 5 %', async () => {
    // a few scrapes first
    await waitFor('3 successful scrapes', async () => {
      const r = await promQuery(prom, 'sum_over_time(up{job="v2probe"}[1m])');
      return r.length === 1 && Number(r[0].value[1]) >= 3;
    }, 20_000, 250);
    await sleep(1200); // a scrape after the last change
    const t1 = Date.now() / 1000;
    const out = execFileSync(bin, ['-n', '12000', '-d', '50', '-m', 'sendmsg'], { encoding: 'utf8', timeout: 60_000 });
    const fx = JSON.parse(out.trim().split("\n").pop()!) as { client_recv: number; client_pid: number }; // (its client_comm field is fixed text; the real comm is the file name)
    await sleep(3000); // the last scrapes and counter snapshot after the workload
    const t2 = Date.now() / 1000;
    const W = Math.round((t2 - t1) * 1000); // ms
    const sel = 'v2probe_events_total{job="v2probe",probe="uds",event_type="recvmsg"}';

    // the seed's labels on the scraped series
    const [series] = await promQuery(prom, sel, t2);
    expect(series.metric).toMatchObject({ subsystem: 'ipc', event_type: 'recvmsg', probe: 'uds' });
    const pids = await promQuery(prom, 'count by (process_id) (last_over_time(v2probe_process_context_switches_total{job="v2probe",subsystem="scheduler"}[1m]))', t2);
    expect(pids.map((p) => p.metric.process_id)).toContain(String(fx.client_pid));
    expect(pids.map((p) => p.metric.process_id)).toContain('other');
    const lat = await promQuery(prom, 'histogram_quantile(0.5, v2probe_latency_seconds_bucket{job="v2probe",probe="uds",event_type="recvmsg"})', t2);
    // 50 µs server delay; Prometheus interpolates inside a log2 bucket, so only the bucket is certain
    expect(Number(lat[0].value[1])).toBeGreaterThan(2 ** 15 * 1e-9);
    expect(Number(lat[0].value[1])).toBeLessThan(2 ** 18 * 1e-9);

    // Prometheus' numbers: the increase over [t1, t2] equals the fixture's count; the rate over the window
    const at = async (t: number) => Number((await promQuery(prom, sel, t))[0]?.value[1] ?? 0);
    const increase = (await at(t2)) - (await at(t1));
    expect(increase).toBe(fx.client_recv);
    const [rateRow] = await promQuery(prom, `(${sel} - ${sel} offset ${W}ms) / ${W / 1000}`, t2);
    const promRate = Number(rateRow.value[1]);

    // v2probe's own store for the same window: counter snapshot deltas
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    const t1ms = Math.round(t2 * 1000) - W;
    const q = runCli(['query', '--store', dsn, '--format', 'json', `SELECT sum(delta) AS n FROM v2e.counters
      WHERE probe = 'uds' AND name = 'calls_recvmsg' AND pid = 0 AND toUnixTimestamp64Milli(ts) > ${t1ms} AND toUnixTimestamp64Milli(ts) <= ${Math.round(t2 * 1000)}`]);
    expect(q.code, q.stderr).toBe(0);
    const storeCount = Number(JSON.parse(q.stdout.trim()).n);
    const storeRate = storeCount / (W / 1000);
    console.log(JSON.stringify({ window_s: W / 1000, fixture: fx.client_recv, prometheus_increase: increase, prometheus_rate: promRate, store_count: storeCount, store_rate: storeRate }));
    expect(storeCount).toBeGreaterThan(0);
    expect(Math.abs(promRate - storeRate) / storeRate).toBeLessThan(0.05);
  });
});
