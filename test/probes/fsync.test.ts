// fsync probe, ground truth: a fixture doing K rounds of write(100 B),
// pwrite(512 B), fsync, fdatasync, sync_file_range on one regular file, plus
// writes that must not count (an 8 KiB write, a pipe write).
// The fixture runs as a private copy (a comm of its own): with comm 'fsync_loop'
// the exact counters also took in fsync_loop runs of another checkout's suite
// (or of control.test.ts) beside it.
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { isRoot, privateFixture, runFixture, startCollector } from '../helpers/probes.js';
import type { Collector } from '../../collector/collector.js';

const note = (...a: unknown[]) => process.env.V2PROBE_TEST_REPORT && console.log('[fsync]', ...a);

describe.skipIf(!isRoot)('fsync probe (fsync/fdatasync/sync_file_range, small writes)', () => {
  let c: Collector | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });

  it('K fsyncs -> exactly K events with latency > 0; small writes counted exactly, big and pipe writes not at all', async () => {
    const K = 25;
    const fixture = privateFixture('fsync_loop', 'fsync');
    onTestFinished(fixture.remove);
    const started = await startCollector({ probes: ['fsync'], comm: fixture.comm });
    c = started.collector;
    const fx = await runFixture<{ pid: number; fd: number; rounds: number; small_writes: number; small_bytes: number }>(fixture.path, ['-f', '/var/tmp/v2probe-fsync-test.dat', '-n', String(K)]);
    const k = c.counters('fsync');
    const h = c.histograms('fsync');
    await c.stop();
    const rows = started.sink.events.filter((e) => e.probe === 'fsync' && e.pid === fx.pid);
    const by = (ev: string) => rows.filter((e) => e.event === ev);
    note({ K, counters: k, rows: rows.length, fsync_p50_ns: by('fsync').map((e) => e.value).sort((a, b) => a - b)[K >> 1] });
    // exact: tolerance 0 (the comm filter on the private copy isolates the fixture; every call is followed)
    expect([k.calls_fsync, k.calls_fdatasync, k.calls_sync_file_range]).toEqual([K, K, K]);
    expect(k.calls_write + k.calls_pwrite).toBe(fx.small_writes);
    expect([k.calls_write, k.calls_pwrite]).toEqual([K, K]);
    expect(k.small_write_bytes).toBe(fx.small_bytes);
    for (const ev of ['fsync', 'fdatasync', 'sync_file_range', 'write', 'pwrite']) {
      expect(h[ev].reduce((a, b) => a + b, 0)).toBe(K);
      expect(by(ev).length).toBe(K); // full sampling by default
      expect(by(ev).every((e) => e.value > 0 && e.weight === 1 && e.fd === fx.fd)).toBe(true);
    }
    expect(by('write').every((e) => e.ret === 100)).toBe(true);
    expect(by('pwrite').every((e) => e.ret === 512)).toBe(true);
    expect(k.lost_ringbuf + k.lost_mapfull + k.burst_dropped).toBe(0);
  });
});
