// Burst storm: a Unix-socket workload far above the burst limit (--burst
// uds=2000:2000 per CPU) into a 4 KiB ring buffer at 1:1 sampling. During the
// storm the collector (a real `v2probe collect` process) must keep answering its
// control API and /metrics, its RSS must stay under 200 MB, and afterwards every
// event is accounted for, exactly: seen = rows written + lost_sink + lost_ringbuf
// + lost_userspace + burst_dropped.
// The collector follows the workload's comm; the workload is a private copy of
// uds_pingpong under a name of its own, so seen counts this test's calls only
// (with `--comm uds_pingpong`, another uds_pingpong run elsewhere on a shared
// machine added 24,000 calls to seen).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BIN, ROOT } from '../helpers/cli.js';
import { isRoot, privateFixture, runFixture, sleep } from '../helpers/probes.js';
import { LONG } from './helpers.js';

const TOKEN = 'storm-token-0123456789abcdef';
const RSS_LIMIT_MB = 200;
const memMb = (pid: number, field: 'VmRSS' | 'RssAnon') => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

describe.skipIf(!isRoot)('burst storm', () => {
  it('responsive, memory bounded, every drop counted', async () => {
    const fixture = privateFixture('uds_pingpong', 'storm');
    onTestFinished(fixture.remove);
    const child = spawn(process.execPath, [BIN, 'collect', '--probes', 'uds', '--comm', fixture.comm, '--sample', 'uds=1', '--burst', 'uds=2000:2000', '--ring-bytes', '4096',
      '--sink', 'stdout', '--metrics', '127.0.0.1:0', '--control', '127.0.0.1:0', '--control-token', TOKEN], { cwd: ROOT });
    let err = '';
    let rows = 0;
    let tail = '';
    // started: waited for as a condition (starting node and loading the BPF object took 15-20 s on the loaded
    // machine), the test's timeout being the bound; exiting first is a failure
    let started: () => void = () => {};
    const collecting = new Promise<void>((res) => (started = res));
    child.stderr.on('data', (d) => {
      err += d;
      if (err.includes('"msg":"collecting"')) started();
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      const s = tail + d;
      const lines = s.split('\n');
      tail = lines.pop()!;
      rows += lines.filter((l) => l.startsWith('{')).length;
    });
    // 'close', not 'exit': every line of stdout (rows) and stderr (the summary) has been read
    const exited = new Promise<number | null>((r) => child.on('close', r));
    await Promise.race([collecting, exited]);
    expect(err, err.slice(-2000)).toContain('"msg":"collecting"');
    const control = /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(err)![1];
    const metrics = /"url":"(http:\/\/127\.0\.0\.1:\d+\/metrics)"/.exec(err)![1];

    const lat = { control: [] as number[], metrics: [] as number[] };
    // when each answer came (performance.now()), to count the answers given while the storm ran
    const answered = { control: [] as number[], metrics: [] as number[] };
    let maxRss = 0;
    let maxAnon = 0;
    let storming = true;
    const poller = (async () => {
      while (storming) {
        let t = performance.now();
        // the timeout only catches a server that stopped answering
        const p = await fetch(`${control}/probes`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(60_000) });
        expect(p.status).toBe(200);
        await p.text();
        answered.control.push(performance.now());
        lat.control.push(performance.now() - t);
        t = performance.now();
        const m = await fetch(metrics, { signal: AbortSignal.timeout(60_000) });
        expect(m.status).toBe(200);
        await m.text();
        answered.metrics.push(performance.now());
        lat.metrics.push(performance.now() - t);
        maxRss = Math.max(maxRss, memMb(child.pid!, 'VmRSS'));
        maxAnon = Math.max(maxAnon, memMb(child.pid!, 'RssAnon'));
        await sleep(100);
      }
    })();
    const n = LONG ? 400_000 : 60_000;
    const stormFrom = performance.now();
    // the storm lasted 7 s on a quiet machine, 56-70 s beside two busy loops, over 120 s at load average 38:
    // its length is not asserted, the fixtures' timeout only stops a hang
    const runs = await Promise.all([0, 1].map(() => runFixture<{ client_send: number; client_recv: number }>(fixture.path, ['-n', String(n), '-d', '0', '-m', 'sendmsg'], 540_000)));
    const stormTo = performance.now();
    storming = false;
    await poller;
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const summary = err.split('\n').filter((l) => l.includes('"msg":"probe summary"')).map((l) => JSON.parse(l)).find((s) => s.probe === 'uds');
    const c = summary.counters as Record<string, number>;
    const generated = runs.reduce((s, r) => s + r.client_send + r.client_recv, 0);
    const p99 = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length * 0.99)] ?? 0;
    const during = (a: number[]) => a.filter((t) => t > stormFrom && t <= stormTo).length;
    console.log(`[burst-storm] ${generated} events in the storm (${((stormTo - stormFrom) / 1000).toFixed(1)} s): seen ${c.seen}, delivered ${c.delivered}, burst_dropped ${c.burst_dropped}, lost_ringbuf ${c.lost_ringbuf}, lost_userspace ${c.lost_userspace}, lost_sink ${c.lost_sink}, rows written ${rows}; ` +
      `control API ${lat.control.length} requests (${during(answered.control)} answered during the storm) p99 ${p99(lat.control).toFixed(0)} ms max ${Math.max(...lat.control).toFixed(0)} ms, /metrics ${lat.metrics.length} requests (${during(answered.metrics)} during the storm) p99 ${p99(lat.metrics).toFixed(0)} ms max ${Math.max(...lat.metrics).toFixed(0)} ms; max RSS ${maxRss.toFixed(0)} MB (anonymous ${maxAnon.toFixed(0)} MB)`);
    expect(Math.abs(c.seen - generated)).toBeLessThanOrEqual(2); // a call already inside the syscall when the filter matched
    expect(c.burst_dropped).toBeGreaterThan(0);
    // the exact ledger, with the rows the sink really wrote (stdout lines) rather than the reader's `delivered`,
    // which the summary reads before the final drain (237 rows still in flight at load average 27): every
    // filtered event is a written row or a counted drop (kernel counters are final once the workload is done)
    expect(rows + c.lost_sink + c.lost_ringbuf + c.lost_userspace + c.burst_dropped).toBe(c.seen);
    expect(c.delivered).toBeLessThanOrEqual(rows + c.lost_sink);
    // responsive: both endpoints kept answering, every answer a 200, while the storm ran. How fast is not
    // asserted: on a loaded machine the latency is mostly the scheduler's (p99 300 ms, max 2.1 s with two
    // busy loops beside it); the collector's own event-loop lag under load is measured in bench/drain.ts.
    expect(during(answered.control)).toBeGreaterThanOrEqual(3);
    expect(during(answered.metrics)).toBeGreaterThanOrEqual(3);
    // the bound is on anonymous memory (heap, buffers, queues): the chDB shared library alone maps ~175 MB
    // of file-backed pages into every v2probe process, whatever the sink (see bench/REPORT.md)
    expect(maxRss).toBeLessThan(RSS_LIMIT_MB); // whole RSS: chDB's engine is loaded only for a chdb: store
  }, 600_000);
});
