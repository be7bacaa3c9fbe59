// No silent loss: a ring buffer far too small for a burst loses events, and
// the ledger balances — delivered + lost (+ burst-dropped) = events generated (the fixture's own count).
import { describe, expect, it } from 'vitest';
import { isRoot, runFixture, startCollector } from '../helpers/probes.js';

describe.skipIf(!isRoot)('drop accounting', () => {
  it('a 4 KiB ring under a burst: delivered + lost_ringbuf + lost_userspace = calls made', async () => {
    const started = await startCollector({ probes: ['uds'], comm: 'uds_pingpong', ringBytes: 4096, perProbe: { uds: { sampleEvery: 1 } } });
    const c = started.collector;
    const runs = await Promise.all([0, 1, 2].map(() => runFixture<{ client_pid: number; client_send: number; client_recv: number }>('uds_pingpong', ['-n', '20000', '-d', '0', '-m', 'sendmsg'])));
    const counters = c.counters('uds');
    await c.stop();
    const generated = runs.reduce((n, r) => n + r.client_send + r.client_recv, 0);
    const pids = new Set(runs.map((r) => r.client_pid));
    const delivered = started.sink.events.filter((e) => pids.has(e.pid)).length;
    expect(counters.seen).toBe(generated);
    expect(counters.lost_ringbuf).toBeGreaterThan(0);
    expect(delivered + counters.lost_ringbuf + counters.lost_userspace + (counters.burst_dropped ?? 0)).toBe(generated);
  });
});
