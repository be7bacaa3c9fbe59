// Prometheus /metrics of a running collector: the exposition parses, names and
// units follow the conventions, and the numbers are the kernel's exact counts
// for a workload with a known answer.
// The workload is a private copy of uds_pingpong (privateFixture: a comm of its own):
// with `--comm uds_pingpong` the same fixture run by another checkout's suite at
// the same time passed the filter too (seen: drops.test.ts counted 208,833
// calls where its own fixtures made 120,000).
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseExposition, sampleValue, type Family } from '../helpers/prom.js';
import { startCli } from '../helpers/cli.js';
import { isRoot, privateFixture, runFixture, sleep } from '../helpers/probes.js';

async function scrape(url: string): Promise<Family[]> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return parseExposition(await res.text());
}
const value = sampleValue;

describe.skipIf(!isRoot)('collector /metrics', () => {
  it('exposes exact per-event counts, log2 latency buckets, per-process switches and drops', async () => {
    const fixture = privateFixture('uds_pingpong', 'metrics');
    onTestFinished(fixture.remove);
    const run = startCli(['collect', '--probes', 'uds,sched', '--comm', fixture.comm, '--sample', 'uds=1000', '--sink', 'stdout', '--metrics', '127.0.0.1:0']);
    await run.ready;
    const url = /"url":"(http:[^"]+)"/.exec(run.out().stderr)![1];
    try {
      const before = await scrape(url);
      const fx = await runFixture<{ client_recv: number }>(fixture.path, ['-n', '400', '-d', '100', '-m', 'sendmsg']);
      const pp = await runFixture<{ pid: number; switches_proc: number }>('sched_pingpong', ['-n', '2000']);
      await sleep(200);
      const after = await scrape(url);
      // every family is well formed: _total counters, _seconds units, HELP text
      for (const f of after) {
        expect(f.help.length, f.name).toBeGreaterThan(0);
        if (f.type === 'counter') for (const smp of f.samples) expect(smp.name, f.name).toMatch(/_total$/);
      }
      const labels = { probe: 'uds', subsystem: 'ipc', event_type: 'recvmsg' };
      // exact: the comm filter leaves only the client's recvmsg calls
      expect(value(after, 'v2probe_events_total', labels) - (value(before, 'v2probe_events_total', labels) || 0)).toBe(fx.client_recv);
      const hist = after.find((f) => f.name === 'v2probe_latency_seconds')!;
      expect(hist.type).toBe('histogram');
      expect(value(after, 'v2probe_latency_seconds_count', labels)).toBe(value(after, 'v2probe_events_total', labels));
      // 100 µs server delay: the median bucket bound is above 100 µs and at most 262 µs
      const count = value(after, 'v2probe_latency_seconds_count', labels);
      const buckets = hist.samples.filter((s) => s.name.endsWith('_bucket') && s.labels.event_type === 'recvmsg' && s.labels.probe === 'uds');
      const median = buckets.find((b) => b.value >= count / 2)!;
      expect(Number(median.labels.le)).toBeGreaterThan(100e-6);
      expect(Number(median.labels.le)).toBeLessThanOrEqual(2 ** 18 * 1e-9);
      // per-process context switches for the ping-pong pid, with the seed's labels (within 5 % of /proc)
      const sw = value(after, 'v2probe_process_context_switches_total', { process_id: String(pp.pid), subsystem: 'scheduler', event_type: 'switch' });
      expect(Math.abs(sw - pp.switches_proc) / pp.switches_proc).toBeLessThan(0.05);
      expect(after.find((f) => f.name === 'v2probe_process_context_switches_total')!.samples.some((m) => m.labels.process_id === 'other')).toBe(true);
      // drops are exported by reason, and the collector's own CPU and RSS
      expect(value(after, 'v2probe_probe_dropped_total', { probe: 'uds', reason: 'ringbuf_full' })).toBe(0);
      expect(value(after, 'v2probe_collector_process_resident_memory_bytes', {})).toBeGreaterThan(0);
      expect(value(after, 'v2probe_probe_up', { probe: 'sched' })).toBe(1);
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
    }
  });
});
