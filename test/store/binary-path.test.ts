// The binary insert path (issue 16): ring-buffer records go to the store as
// they are and the engine maps them to rows (schema/raw.ts). Ground truth:
// the previous path (decodeBatch → rows → insertRows) on the same captured
// batches (test/fixtures/batches: real records of 8 families, captured by
// capture.ts) plus the decoder's edge cases — the stored rows must be equal,
// column by column, in chDB and on a ClickHouse server; a batch written again
// with its token is stored once; rejected records are counted, never stored.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchema } from '../../schema/ddl.js';
import { PROBES, RECORD_SIZE, type ProbeDef } from '../../schema/event.js';
import { decodeBatch } from '../../schema/records.js';
import { RecordQueue, type RecordBatch } from '../../collector/pipeline/records.js';
import { StoreSink } from '../../collector/sinks/store.js';
import { openStore, type Store } from '../../store/index.js';
import { storeTargets } from '../helpers/stores.js';
import { ROOT } from '../helpers/cli.js';

const DIR = join(ROOT, 'test/fixtures/batches');
const meta = JSON.parse(readFileSync(join(DIR, 'meta.json'), 'utf8')) as { host: string; monoToWallNs: string; batches: number[] };
const captured = readFileSync(join(DIR, 'records.bin'));
const ctx = { host: meta.host, monoToWallNs: BigInt(meta.monoToWallNs) };

/** The captured records plus the decoder's edge cases, each in a copy of a real record. */
function records(): { buf: Buffer; rejected: number } {
  const extra = Buffer.from(captured.subarray(0, 8 * RECORD_SIZE));
  const rec = (i: number) => i * RECORD_SIZE;
  extra[rec(0) + 44] = 250; // no such probe: rejected
  extra[rec(1) + 45] = (PROBES[PROBES_BY_ID(extra[rec(1) + 44])] as ProbeDef).events.length; // no such event: rejected
  extra.writeUInt32LE(0, rec(2) + 40); // weight 0: stored as 1
  extra.write('ab\0ZZ', rec(3) + 48, 'latin1'); // junk after the comm's NUL: cut
  extra.writeBigInt64LE(-5n, rec(4) + 8); // a negative value
  extra.writeBigUInt64LE(0xffffffff81234567n, rec(5) + 16); // a kernel address in arg0
  return { buf: Buffer.concat([captured, extra]), rejected: 2 };
}
function PROBES_BY_ID(id: number): keyof typeof PROBES {
  return Object.entries(PROBES).find(([, d]) => (d as ProbeDef).id === id)![0] as keyof typeof PROBES;
}

const ORDERED = `SELECT toString(toUnixTimestamp64Nano(ts)) AS ts_ns, * EXCEPT ts FROM v2e.events ORDER BY ts_ns, pid, tid, probe, event, value, weight, cpu, comm, fd, ret, addr, bytes`;

for (const target of storeTargets()) {
  describe.skipIf(target.skip)(`binary path into ${target.name}${target.skip ? ` (skipped: ${target.skip})` : ''}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await openStore(target.dsn());
      await target.reset?.(store);
      await applySchema(store);
    });
    afterAll(async () => {
      await target.reset?.(store);
      await store?.close();
    });

    it('stores what the row path stores for the same records, column by column; rejected ones counted, not stored', async () => {
      const { buf, rejected } = records();
      const n = buf.length / RECORD_SIZE;
      // the previous path
      const decoded = decodeBatch(buf, ctx);
      expect(decoded.rejected).toBe(rejected);
      await store.insertRows('v2e.events', decoded.rows);
      const before = await store.queryRows<Record<string, unknown>>(ORDERED);
      expect(before).toHaveLength(n - rejected);
      await store.exec('TRUNCATE TABLE v2e.events');
      // the binary path, through the collector's record queue and the store sink (one write per batch)
      const sink = new StoreSink(store);
      const q = new RecordQueue((b) => sink.writeRecords(b), { maxRows: 2000, lingerMs: 10, maxPendingBytes: 64 << 20 }, 'test');
      let rej = 0;
      let off = 0;
      for (const k of [...meta.batches.filter((x) => x > 0), Infinity]) {
        const end = Math.min(buf.length, off + (Number.isFinite(k) ? k : n) * RECORD_SIZE);
        if (end > off) rej += q.offer(buf.subarray(off, end), ctx);
        off = end;
      }
      await q.close();
      expect(rej).toBe(rejected);
      expect(q.sentRows).toBe(n - rejected);
      const after = await store.queryRows<Record<string, unknown>>(ORDERED);
      expect(after).toHaveLength(before.length);
      for (let i = 0; i < before.length; i++) expect(after[i], `row ${i}`).toEqual(before[i]);
      // the edge cases are in there
      expect(after.some((r) => r.comm === 'ab')).toBe(true);
      expect(after.some((r) => Number(r.value) === -5)).toBe(true);
    });

    it('a batch written again with its token is stored once', async () => {
      await store.exec('TRUNCATE TABLE v2e.events');
      const sink = new StoreSink(store);
      const b: RecordBatch = { records: captured.subarray(0, 500 * RECORD_SIZE), rows: 500, ctx, token: `again-${Date.now()}` };
      await sink.writeRecords(b);
      await sink.writeRecords(b);
      const [{ n }] = await store.queryRows<{ n: number }>('SELECT count() AS n FROM v2e.events');
      expect(Number(n)).toBe(500);
    });
  });
}

describe('record queue bound', () => {
  it('drops whole batches past the byte bound, counts them per probe and carries their weight to the next kept record', async () => {
    const written: RecordBatch[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const q = new RecordQueue(async (b) => { await gate; written.push(b); }, { maxRows: 1_000_000, lingerMs: 1, maxPendingBytes: 1000 * RECORD_SIZE }, 'bound');
    const one = captured.subarray(0, 1000 * RECORD_SIZE);
    const weightOf = (b: Buffer) => { let w = 0; for (let o = 0; o < b.length; o += RECORD_SIZE) w += b.readUInt32LE(o + 40) || 1; return w; };
    q.offer(one, ctx); // fills the bound
    await new Promise((r) => setTimeout(r, 5)); // handed to the (blocked) writer
    q.offer(one, ctx); // no room: dropped, counted, weight carried
    const dropped = [...q.dropped.values()].reduce((a, b) => a + b, 0);
    expect(dropped).toBe(1000);
    expect(q.carriedWeight()).toBe(weightOf(one));
    release();
    await q.flush();
    q.offer(one, ctx); // kept: carries the dropped weight
    await q.close();
    const sent = written.reduce((w, b) => w + weightOf(b.records), 0);
    expect(sent + q.carriedWeight()).toBe(3 * weightOf(one)); // sum(weight) unbiased: nothing lost from the estimate
    expect(q.sentRows).toBe(2000);
  });
});
