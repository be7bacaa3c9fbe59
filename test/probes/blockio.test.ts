// blockio probe, ground truth: K direct-I/O writes to a file on a real block
// device, and the device's own /proc/diskstats write-completion counter.
import { readFileSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { isRoot, runFixture, startCollector } from '../helpers/probes.js';
import type { Collector } from '../../collector/collector.js';

function diskstats(major: number, minor: number): { writes: number; name: string } {
  for (const line of readFileSync('/proc/diskstats', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (Number(f[0]) === major && Number(f[1]) === minor) return { name: f[2], writes: Number(f[7]) };
  }
  throw new Error(`device ${major}:${minor} not in /proc/diskstats`);
}

describe.skipIf(!isRoot)('blockio probe (block request latency)', () => {
  let c: Collector | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });

  it('K direct writes appear as >= K write completions with latency; the device count matches /proc/diskstats within 2 %', async () => {
    const file = '/var/tmp/v2probe-blockio-test.bin';
    const K = 400;
    const started = await startCollector({ probes: ['blockio'], perProbe: { blockio: { sampleEvery: 1 } } });
    c = started.collector;
    // a probe run first tells us the device (st_dev of the file)
    const probe = await runFixture<{ dev_major: number; dev_minor: number; error?: string }>('dio_writer', ['-f', file, '-n', '1', '-b', '4096']);
    expect(probe.error).toBeUndefined();
    const devKey = `${probe.dev_major}:${probe.dev_minor}`;
    const writesOf = () => c!.keyedCounts('blockio').find((k) => k.key === devKey && k.counter === 'completed_write')?.count ?? 0;
    const d0 = diskstats(probe.dev_major, probe.dev_minor).writes;
    const k0 = writesOf();
    const fx = await runFixture<{ writes: number; bytes: number }>('dio_writer', ['-f', file, '-n', String(K), '-b', '4096']);
    const d1 = diskstats(probe.dev_major, probe.dev_minor).writes;
    const k1 = writesOf();
    await c.stop();
    rmSync(file, { force: true });
    expect(fx.writes).toBe(K);
    const ours = k1 - k0;
    const truth = d1 - d0;
    expect(truth).toBeGreaterThanOrEqual(K);
    expect(ours).toBeGreaterThanOrEqual(K);
    expect(Math.abs(ours - truth) / truth).toBeLessThan(0.02);
    const devNum = (probe.dev_major << 20) | probe.dev_minor;
    const rows = started.sink.events.filter((e) => e.probe === 'blockio' && e.event === 'write' && e.dev === devNum && e.comm === 'dio_writer');
    expect(rows.length).toBeGreaterThanOrEqual(K);
    expect(rows.every((e) => e.value > 0 && e.bytes! >= 4096)).toBe(true);
  });
});
