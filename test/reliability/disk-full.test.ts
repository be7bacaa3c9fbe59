// Disk full for the Kafka spool: the spool directory is a 1 MiB tmpfs made by
// the test (mount -t tmpfs -o size=1m), far below the spool's byte bound, while
// Kafka is unreachable. The disk filling up must behave like a full spool: the
// oldest batches are dropped and counted (lost_spool), never a partial file left
// behind, a clear error only when even one batch cannot fit; and after Kafka is
// back the spool drains and the loss ledger balances: sampled = stored + lost_spool.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaSink } from '../../collector/sinks/kafka.js';
import { Spool } from '../../collector/sinks/spool.js';
import { isRoot } from '../helpers/probes.js';
import { createTopic, ingestAll, ensureKafka, tmp, uniq } from '../pipeline/kafka-helpers.js';
import { ledger, storedIds } from './helpers.js';

let mnt = '';
let mounted = false;
beforeAll(() => {
  if (!isRoot) return;
  mnt = tmp('tmpfs');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    mounted = true;
  } catch {
    mounted = false;
  }
});
afterAll(() => {
  if (mounted) execFileSync('umount', ['-l', mnt]);
});

const dirBytes = (d: string) => readdirSync(d).reduce((n, f) => n + statSync(join(d, f)).size, 0);

/** rows that compress badly (random comm), so a few batches fill 1 MiB */
function rows(host: string, first: number, n: number) {
  const base = BigInt(Date.now()) * 1_000_000n;
  return Array.from({ length: n }, (_, i) => ({
    ts: (base + BigInt(i * 7919)).toString(), host, probe: 'uds' as const, event: 'sendmsg', pid: 1 + Math.floor(Math.random() * 4e6), tid: 1 + Math.floor(Math.random() * 4e6),
    comm: Math.random().toString(36).slice(2, 15), value: first + i, weight: 1, cpu: i % 64,
  }));
}

describe.skipIf(!isRoot)('spool on a full disk (1 MiB tmpfs)', () => {
  it('a batch larger than the whole disk: a clear error naming the spool, no partial file', () => {
    if (!mounted) return;
    const dir = join(mnt, 'big');
    mkdirSync(dir);
    const s = new Spool(dir, 64 << 20);
    expect(() => s.push('k', Buffer.alloc(2 << 20, 1), { uds: 1 })).toThrow(new RegExp(`spool ${dir}: cannot write a \\d+-byte batch: ENOSPC`));
    expect(readdirSync(dir)).toEqual([]);
    expect(s.count).toBe(0);
  });

  it('Kafka down and the disk fills: oldest batches dropped and counted; drained and balanced when Kafka is back', async () => {
    expect(mounted, 'could not mount a tmpfs').toBe(true);
    const brokers = ensureKafka();
    const topic = uniq('dfull');
    await createTopic(brokers, topic, 1);
    const dir = join(mnt, 'spool');
    const host = 'df-1';
    // not opened yet: the sink has no producer, exactly its state while Kafka does not answer
    const sink = new KafkaSink({ brokers: [brokers], topic, spoolDir: dir, spoolBytes: 64 << 20 }, { host, logger: pino({ level: 'silent' }) });
    let written = 0;
    let rejected = 0;
    const errors: string[] = [];
    for (let b = 0; b < 40; b++) {
      try {
        await sink.writeEvents(rows(host, written + rejected, 2000));
        written += 2000;
      } catch (err) {
        rejected += 2000;
        errors.push((err as Error).message);
      }
      expect(dirBytes(dir)).toBeLessThanOrEqual(1 << 20);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    }
    const st = sink.snapshotStats();
    expect(st.spoolDroppedMessages).toBeGreaterThan(0);
    expect(rejected).toBe(0); // every batch fits once older ones are dropped
    // the snapshot carries the kernel-side count and lost_spool (the sink adds it)
    // read after every row was made, as the collector's snapshot is (the last batch's rows reach 16 ms past its start)
    const ts = (BigInt(Date.now() + 20) * 1_000_000n).toString();
    await sink.writeCounters(['seen', 'sampled'].map((name) => ({ ts, host, probe: 'uds', name, pid: 0, comm: '', key: '', value: written, delta: written })));
    // Kafka answers again
    await sink.open();
    await sink.close(60_000);
    expect(sink.snapshotStats().spoolCount).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
    const store = `chdb:${tmp('dfull')}/data`;
    await ingestAll(brokers, topic, store);
    const l = ledger(store, host);
    const ids = storedIds(store, host);
    console.log(`[disk-full] written ${written} rows in 40 batches to a 1 MiB spool: ${st.spoolDroppedMessages} oldest batches dropped; ledger sampled ${l.sampled} = stored ${l.stored} + drops ${l.drops} (unaccounted ${l.unaccounted}); duplicates ${ids.dups}`);
    expect(ids.dups).toBe(0);
    expect(l.sampled).toBe(written);
    expect(l.stored).toBeGreaterThan(0);
    expect(l.drops).toBeGreaterThan(0);
    expect(l.stored + l.drops).toBe(written);
    expect(l.unaccounted).toBe(0);
  }, 240_000);
});
