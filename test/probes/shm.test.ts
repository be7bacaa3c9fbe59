// shm probe, ground truth: a fixture that creates shared memory of known
// sizes (memfd + ftruncate + MAP_SHARED, a /dev/shm file as shm_open makes,
// MAP_SHARED|MAP_ANONYMOUS) next to private mappings that must not count,
// holds them for a while (live bytes), then unmaps them.
// The fixture runs as a private copy (a comm of its own): the collector's comm
// filter must not take in a shm_maps run by another checkout's suite beside it.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { isRoot, privateFixture, startCollector } from '../helpers/probes.js';
import type { Collector } from '../../collector/collector.js';

const note = (...a: unknown[]) => process.env.V2PROBE_TEST_REPORT && console.log('[shm]', ...a);

describe.skipIf(!isRoot)('shm probe (shared memory sizes)', () => {
  let c: Collector | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });

  it('memfd/shm/anon-shared sizes are reported exactly; live shared bytes while mapped; private mappings ignored', async () => {
    const fixture = privateFixture('shm_maps', 'shm');
    onTestFinished(fixture.remove);
    const started = await startCollector({ probes: ['shm'], comm: fixture.comm });
    c = started.collector;
    const child = spawn(fixture.path, ['-s', '800']);
    const lines = createInterface({ input: child.stdout });
    const it = lines[Symbol.asyncIterator]();
    const first = JSON.parse((await it.next()).value as string) as { pid: number };
    const live = c.keyedCounts('shm').find((k) => k.counter === 'shm_live_maps' && k.pid === first.pid);
    const last = JSON.parse((await it.next()).value as string) as { pid: number; memfd_size: number; shm_size: number; anon_size: number };
    await new Promise((r) => child.once('exit', r));
    const k = c.counters('shm');
    const afterExit = c.keyedCounts('shm').find((x) => x.pid === first.pid);
    await c.stop();
    const A = last.memfd_size, B = last.shm_size, C = last.anon_size;
    const page = (n: number) => Math.ceil(n / 4096) * 4096;
    note({ live_maps: live?.count, live_bytes: live?.total, expected: page(A) + B + C, counters: k });
    // exact, tolerance 0
    expect(live).toMatchObject({ count: 3, total: page(A) + B + C });
    const rows = started.sink.events.filter((e) => e.probe === 'shm' && e.pid === first.pid);
    const of = (ev: string) => rows.filter((e) => e.event === ev).map((e) => e.value).sort((a, b) => a - b);
    expect(of('memfd_create')).toEqual([0]);
    expect(of('ftruncate')).toEqual([B, A].sort((a, b) => a - b)); // exact sizes, not page-rounded
    expect(of('mmap')).toEqual([B, page(A), C].sort((a, b) => a - b)); // the two private mappings are absent
    expect(of('munmap')).toEqual([B, page(A), C].sort((a, b) => a - b));
    expect(rows.filter((e) => e.event === 'mmap' && e.value === C).every((e) => e.fd === -1)).toBe(true);
    expect([k.calls_mmap, k.bytes_mmap, k.calls_munmap, k.bytes_munmap]).toEqual([3, page(A) + B + C, 3, page(A) + B + C]);
    // after exit (sched_process_exit): the per-process live totals are gone
    expect(afterExit).toBeUndefined();
  });
});
