// kmem probe, ground truth: a balanced syscall loop — poll() on 500 ignored
// fds kmallocs its fd chunk beyond the on-stack buffer and kfrees it before
// returning — run for N and 2N calls with the probe filtered to the fixture.
import { afterEach, describe, expect, it } from 'vitest';
import { isRoot, runFixture, startCollector } from '../helpers/probes.js';
import type { Collector } from '../../collector/collector.js';

const note = (...a: unknown[]) => process.env.V2PROBE_TEST_REPORT && console.log('[kmem]', ...a);

describe.skipIf(!isRoot)('kmem probe (kmalloc/kfree)', () => {
  let c: Collector | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });

  it('counts are non-zero, scale with the loop (stable), and kfree ≈ kmalloc over a balanced loop', async () => {
    const N = 20_000;
    const started = await startCollector({ probes: ['kmem'], comm: 'kmem_poll', perProbe: { kmem: { sampleEvery: 1000 } } });
    c = started.collector;
    const run = async (n: number) => {
      const k0 = c!.counters('kmem');
      await runFixture('kmem_poll', ['-n', String(n)]);
      const k1 = c!.counters('kmem');
      return { kmalloc: k1.kmalloc - k0.kmalloc, kfree: k1.kfree - k0.kfree, bytes: k1.kmalloc_bytes - k0.kmalloc_bytes };
    };
    const a = await run(N);
    const b = await run(2 * N);
    await c.stop();
    note({ N, a, b, ratio_2n_n: b.kmalloc / a.kmalloc, kfree_over_kmalloc: b.kfree / b.kmalloc });
    // at least one kmalloc per poll call
    expect(a.kmalloc).toBeGreaterThanOrEqual(N);
    expect(a.kmalloc - N).toBeLessThan(100); // one kmalloc per call, + the process start-up/exit (measured: 1)
    // stable: twice the calls, twice the kmallocs, within 10 % (process start-up/exit adds a fixed few hundred)
    expect(Math.abs(b.kmalloc / a.kmalloc - 2)).toBeLessThan(0.2);
    // balanced: kfree within 5 % of kmalloc (exit frees what start-up allocated, plus kmem_cache objects freed by kfree)
    expect(Math.abs(b.kfree - b.kmalloc) / b.kmalloc).toBeLessThan(0.05);
    // each poll chunk is > 2 KiB (500 pollfds - the on-stack part): bytes per kmalloc well above that on average
    expect(b.bytes / b.kmalloc).toBeGreaterThan(1024);
    const rows = started.sink.events.filter((e) => e.probe === 'kmem' && e.comm === 'kmem_poll');
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((e) => e.addr! < 0)).toBe(true); // call sites are kernel text addresses (negative as Int64)
  });
});
