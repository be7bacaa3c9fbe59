// futex probe, ground truth: T threads contending a pthread mutex that the
// main thread holds, per round, until every waiter is blocked in futex() on
// the mutex word (it reads their /proc/self/task/TID/syscall) and then for H
// more; each waiter times its own pthread_mutex_lock() call (which bounds the
// kernel's FUTEX_WAIT time on the mutex word from above), and main times how
// long it held the lock with every waiter blocked (which bounds each waiter's
// wait from below). Under load a waiter descheduled past the unlock used to
// take the lock without waiting (58 waits for 60 rounds beside a CPU hog):
// now each waiter blocks at least once per round by construction.
// The fixture runs as a private copy (a comm of its own): the collector's comm
// filter must not take in a futex_contend run by another checkout's suite beside it.
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { isRoot, privateFixture, runFixture, startCollector } from '../helpers/probes.js';
import type { Collector } from '../../collector/collector.js';

const note = (...a: unknown[]) => process.env.V2PROBE_TEST_REPORT && console.log('[futex]', ...a);

describe.skipIf(!isRoot)('futex probe (user-space lock waits)', () => {
  let c: Collector | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });

  it('wait time on the contended mutex matches the waiters\' own lock() time and the known hold time', async () => {
    const T = 3, N = 20, H_US = 5000;
    const fixture = privateFixture('futex_contend', 'futex');
    onTestFinished(fixture.remove);
    const started = await startCollector({ probes: ['futex'], comm: fixture.comm, perProbe: { futex: { sampleEvery: 1 } } });
    c = started.collector;
    const fx = await runFixture<{ pid: number; mutex: string; waiters: number; rounds: number; hold_ns: number; lock_ns_sum: number; held_ns_sum: number; not_blocked: number }>(fixture.path, ['-t', String(T), '-n', String(N), '-h', String(H_US)]);
    const keyed = c.keyedCounts('futex');
    await c.stop();
    const mtx = keyed.find((k) => k.counter === 'futex_waits' && k.pid === fx.pid && k.key === fx.mutex);
    expect(mtx, `no futex waits on ${fx.mutex}`).toBeDefined();
    const waitNs = mtx!.total;
    note({ waits: mtx!.count, wait_ns: waitNs, lock_ns_sum: fx.lock_ns_sum, ratio: waitNs / fx.lock_ns_sum, held_ns_sum: fx.held_ns_sum, not_blocked: fx.not_blocked });
    // every waiter blocked at least once per round (the fixture saw each one in futex() before unlocking)
    expect(fx.not_blocked).toBe(0);
    expect(mtx!.count).toBeGreaterThanOrEqual(T * N);
    // tolerance: the kernel-measured wait is within [85 %, 100 %] of the user-measured lock() time
    // (the rest is user-space: the failed CAS, the wake-up hand-off after the futex returns)
    expect(waitNs).toBeLessThanOrEqual(fx.lock_ns_sum);
    expect(waitNs).toBeGreaterThanOrEqual(0.85 * fx.lock_ns_sum);
    // and with main's own clock: every waiter was in the kernel for the whole time main held the
    // lock with all of them blocked (its start stamp is taken after seeing them blocked)
    expect(waitNs).toBeGreaterThanOrEqual(T * fx.held_ns_sum);
    // sampled rows on the mutex word (1:1 here): their weights add up to the count
    const rows = started.sink.events.filter((e) => e.probe === 'futex' && e.pid === fx.pid && e.addr === Number(fx.mutex));
    expect(rows.reduce((n, e) => n + e.weight, 0)).toBe(mtx!.count);
  });
});
