// blockio probe, ground truth: K direct-I/O writes to a file on a real block
// device, and the device's own /proc/diskstats write-completion counter.
// Completions the kernel fired block_rq_complete for without running the
// probe's programs (on 6.18.44-fc: in the context of pid 1's threads) are
// counted by the probe as unseen_write (bpf/blockio.bpf.c); completed +
// unseen is what the kernel accounts.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
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

  it('K direct writes appear as >= K write completions (seen + unseen) with latency; the device count matches /proc/diskstats within 2 %', async () => {
    // a file of this run's own (another checkout's run of this test must not truncate or remove it)
    const dir = mkdtempSync('/var/tmp/v2probe-blockio-');
    const file = join(dir, 'direct.bin');
    const K = 400;
    const started = await startCollector({ probes: ['blockio'], perProbe: { blockio: { sampleEvery: 1 } } });
    c = started.collector;
    // a probe run first tells us the device (st_dev of the file)
    const probe = await runFixture<{ dev_major: number; dev_minor: number; error?: string }>('dio_writer', ['-f', file, '-n', '1', '-b', '4096']);
    expect(probe.error).toBeUndefined();
    const devKey = `${probe.dev_major}:${probe.dev_minor}`;
    // completions the probe's programs ran for, and those the kernel ran no program for (counted afterwards)
    const writesOf = () => {
      const keyed = c!.keyedCounts('blockio');
      const of = (counter: string) => keyed.find((k) => k.key === devKey && k.counter === counter)?.count ?? 0;
      return { seen: of('completed_write'), unseen: of('unseen_write') };
    };
    // The probe's count and /proc/diskstats are both device-wide: writes by anything else on the machine
    // land in both. The two cannot be read at one instant, so each read of the probe is bracketed by two
    // diskstats reads; over the probe's window the kernel accounted between lo and hi write completions.
    // (Read one after the other, other processes' writes between the two reads made them differ by 3 %
    // with nothing lost.)
    const read = () => {
      const before = diskstats(probe.dev_major, probe.dev_minor).writes;
      const k = writesOf();
      const after = diskstats(probe.dev_major, probe.dev_minor).writes;
      return { before, k, after };
    };
    const r0 = read();
    const fx = await runFixture<{ writes: number; diskstats_writes_delta: number | null }>('dio_writer', ['-f', file, '-n', String(K), '-b', '4096']);
    const r1 = read();
    const counters = c.counters('blockio');
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
    expect(fx.writes).toBe(K);
    const ours = r1.k.seen - r0.k.seen;
    const unseen = r1.k.unseen - r0.k.unseen;
    const total = ours + unseen;
    const lo = r1.before - r0.after;
    const hi = r1.after - r0.before;
    console.log(`[blockio] ${K} direct writes: probe ${ours} write completions + ${unseen} unseen = ${total} on ${devKey}, /proc/diskstats ${lo}..${hi} (the fixture's own open-to-fsync delta ${fx.diskstats_writes_delta})`);
    expect(fx.diskstats_writes_delta ?? K).toBeGreaterThanOrEqual(K); // a real block device took the writes
    expect(total).toBeGreaterThanOrEqual(K);
    expect(total).toBeLessThanOrEqual(hi); // never a completion the kernel did not account
    expect((lo - total) / lo).toBeLessThan(0.02);
    // the per-probe counter (/metrics, the store): at least this device's unseen writes since the start
    expect(counters.unseen_write).toBeGreaterThanOrEqual(r1.k.unseen);
    expect(started.sink.counters.some((r) => r.probe === 'blockio' && r.name === 'unseen_write')).toBe(true);
    const devNum = (probe.dev_major << 20) | probe.dev_minor;
    const rows = started.sink.events.filter((e) => e.probe === 'blockio' && e.event === 'write' && e.dev === devNum && e.comm === 'dio_writer');
    // an unseen completion has no row (no program ran at its end): those are in `unseen`
    expect(rows.length + unseen).toBeGreaterThanOrEqual(K);
    expect(rows.every((e) => e.value > 0 && e.bytes! >= 4096)).toBe(true);
  });
});
