// No silent loss: a ring buffer far too small for a burst loses events, and
// the ledger balances — delivered + lost (+ burst-dropped) = events generated (the fixture's own count).
// The collector's own bounds (batches waiting for the JS thread, rows waiting
// for the sink, both in bytes) drop rows too: counted per probe, and each
// dropped row's weight goes to the next row of its probe and event, so
// sum(weight) of the rows written + the weight still waiting = seen, exactly.
// The collector follows a private copy of uds_pingpong (a comm of its own): with
// comm 'uds_pingpong', a CI run beside this one running the same fixture made
// seen 208,833 where this test's 3 fixtures made 120,000 calls.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../../collector/collector.js';
import { sumPerCpu } from '../../collector/maps.js';
import { isRoot, privateFixture, runFixture, sleep, startCollector } from '../helpers/probes.js';

/** Wait for a condition (every 20 ms, up to 10 s). */
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await sleep(20);
  expect(cond(), what).toBe(true);
}

/** Every row the kernel handed to the ring has reached the JS thread or been dropped on its way. */
const handedOver = (c: Collector) => {
  const k = c.counters('uds');
  return k.delivered + k.lost_userspace === k.sampled;
};

/** Kernel-side weight not yet carried by a row (per CPU and event: events since that CPU's last row). */
function kernelPending(c: Collector): number {
  const skip = c.readFamilyMap('uds', 'sample_skip')!;
  return sumPerCpu(skip, skip.count).reduce((a, b) => a + b, 0);
}

describe.skipIf(!isRoot)('drop accounting', () => {
  let fixture: ReturnType<typeof privateFixture>;
  beforeAll(() => {
    fixture = privateFixture('uds_pingpong', 'drops');
  });
  afterAll(() => fixture?.remove());

  it('a 4 KiB ring under a burst: delivered + lost_ringbuf + lost_userspace = calls made', async () => {
    const started = await startCollector({ probes: ['uds'], comm: fixture.comm, ringBytes: 4096, perProbe: { uds: { sampleEvery: 1 } } });
    const c = started.collector;
    const runs = await Promise.all([0, 1, 2].map(() => runFixture<{ client_pid: number; client_send: number; client_recv: number }>(fixture.path, ['-n', '20000', '-d', '0', '-m', 'sendmsg'])));
    const counters = c.counters('uds');
    await c.stop();
    const generated = runs.reduce((n, r) => n + r.client_send + r.client_recv, 0);
    const pids = new Set(runs.map((r) => r.client_pid));
    const delivered = started.sink.events.filter((e) => pids.has(e.pid)).length;
    expect(counters.seen).toBe(generated);
    expect(counters.lost_ringbuf).toBeGreaterThan(0);
    expect(delivered + counters.lost_ringbuf + counters.lost_userspace + (counters.burst_dropped ?? 0)).toBe(generated);
  });

  it('native queue bounded by bytes (2 batches): with the JS thread stalled, lost_userspace counted, its weight carried to later rows', async () => {
    // 64-record batches, 8 KiB for the queue: 2 batches may wait for the JS thread
    const started = await startCollector({ probes: ['uds'], comm: fixture.comm, perProbe: { uds: { sampleEvery: 1 } }, poll: { batchRecords: 64, queueBytes: 2 * 64 * 64 } });
    const c = started.collector;
    try {
      // the fixture runs while the JS thread is blocked (execFileSync): the queue overflows
      execFileSync(fixture.path, ['-n', '5000', '-d', '0', '-m', 'sendmsg'], { stdio: 'ignore' });
      // then a run with the JS thread free: its rows carry the dropped weight
      await runFixture(fixture.path, ['-n', '2000', '-d', '0', '-m', 'sendmsg']);
      await until('every row handed over', () => handedOver(c));
      const pendingKernel = kernelPending(c);
      const k = c.counters('uds');
      await c.stop();
      const rows = started.sink.events.filter((e) => e.probe === 'uds');
      const weight = rows.reduce((n, e) => n + e.weight, 0);
      expect(k.lost_userspace).toBeGreaterThan(0);
      expect(rows.length + k.lost_userspace + k.lost_sink).toBe(k.sampled);
      expect(rows.some((e) => e.weight > 1)).toBe(true);
      expect(weight + c.pendingWeight('uds') + pendingKernel).toBe(k.seen);
    } finally {
      await c.stop();
    }
  });

  it('rows waiting for the sink bounded by bytes: a stalled sink drops the excess as lost_sink, its weight carried to later rows', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const written: Array<{ probe: string; weight: number }> = [];
    const sink = {
      name: 'stalled',
      async writeEvents(rows: Array<{ probe: string; weight: number }>) {
        await gate;
        written.push(...rows);
      },
      async writeCounters() {},
      async writeHistograms() {},
      async close() {},
    };
    // 1 MiB waits at most (~3,600 rows); rows go out in batches of 500
    const started = await startCollector({ probes: ['uds'], comm: fixture.comm, perProbe: { uds: { sampleEvery: 1 } }, sink: sink as never, batch: { maxPendingBytes: 1 << 20, maxRows: 500, lingerMs: 20 } });
    const c = started.collector;
    try {
      await runFixture(fixture.path, ['-n', '10000', '-d', '0', '-m', 'sendmsg']);
      await until('every row handed over', () => handedOver(c));
      const waiting = c.sinkHealth();
      expect(waiting.pendingBytes).toBeLessThanOrEqual(1 << 20);
      expect(waiting.pendingBytes).toBeGreaterThan((1 << 20) * 0.9);
      release();
      await until('the waiting rows written', () => c.sinkHealth().pendingRows === 0);
      // the sink is back: later rows carry what was dropped
      await runFixture(fixture.path, ['-n', '2000', '-d', '0', '-m', 'sendmsg']);
      await until('every row handed over', () => handedOver(c));
      const pendingKernel = kernelPending(c);
      const k = c.counters('uds');
      await c.stop();
      const weight = written.reduce((n, e) => n + e.weight, 0);
      expect(k.lost_sink).toBeGreaterThan(0);
      expect(written.length + k.lost_sink + k.lost_userspace).toBe(k.sampled);
      expect(weight + c.pendingWeight('uds') + pendingKernel).toBe(k.seen);
    } finally {
      await c.stop();
    }
  });
});
