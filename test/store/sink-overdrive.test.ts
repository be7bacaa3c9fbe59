// The store sink driven past its drain rate (issue 16: the chDB sink used to
// fail every insert with `Code: 48 … async inserts with both inlined and
// external data` once it fell behind): batches of records are offered far
// faster than the store takes them, on chDB and on the ClickHouse server.
// No insert may fail (any error, Code 48 or other, is retried and counted in
// `retries`/`lastError`); what does not fit the byte bound is dropped whole
// and counted, and its weight is carried, so stored sum(weight) + carried
// weight = offered weight, and stored rows = rows the queue says it wrote.
import { describe, expect, it } from 'vitest';
import { RecordQueue } from '../../collector/pipeline/records.js';
import { StoreSink } from '../../collector/sinks/store.js';
import { applySchema } from '../../schema/ddl.js';
import { RECORD_SIZE } from '../../schema/event.js';
import { openStore } from '../../store/index.js';
import { storeTargets } from '../helpers/stores.js';
import { syntheticRecords } from '../pipeline/kafka-helpers.js';

for (const target of storeTargets()) {
  describe.skipIf(target.skip)(`store sink past its drain rate on ${target.name}${target.skip ? ` — skipped: ${target.skip}` : ''}`, () => {
    it('no insert fails; the excess is dropped whole, counted, its weight carried', async () => {
      const store = await openStore(target.dsn());
      try {
        await applySchema(store);
        const host = `overdrive-${process.pid}-${Date.now().toString(36)}`;
        const sink = new StoreSink(store);
        const q = new RecordQueue((b) => sink.writeRecords(b), { maxRows: 50_000, lingerMs: 20, maxPendingBytes: 4 << 20 }, host);
        const BATCHES = 150;
        const PER = 4096;
        let offered = 0;
        let offeredWeight = 0;
        const batches = Array.from({ length: BATCHES }, (_, i) => {
          const { records, monoToWallNs } = syntheticRecords(i * PER, PER);
          for (let o = 0; o < records.length; o += RECORD_SIZE) records.writeUInt32LE(1 + ((o / RECORD_SIZE) % 3), o + 40); // weights 1..3
          for (let o = 0; o < records.length; o += RECORD_SIZE) offeredWeight += records.readUInt32LE(o + 40);
          return { records, monoToWallNs };
        });
        // all offered before any write can finish (no await in between): past the drain rate on any machine
        for (const b of batches) {
          expect(q.offer(b.records, { host, monoToWallNs: b.monoToWallNs })).toBe(0);
          offered += PER;
        }
        await q.close(120_000);
        expect(q.lastError?.message ?? 'no error').toBe('no error');
        expect(q.retries).toBe(0);
        const dropped = q.dropped.get('uds') ?? 0;
        expect(dropped, 'the offered rate did not exceed the drain rate: nothing was dropped').toBeGreaterThan(0);
        expect(q.sentRows + dropped).toBe(offered);
        const [r] = await store.queryRows<{ n: number | string; w: number | string }>(`SELECT count() AS n, sum(weight) AS w FROM v2e.events WHERE host = '${host}'`);
        expect(Number(r.n)).toBe(q.sentRows);
        expect(Number(r.w) + q.carriedWeight('uds')).toBe(offeredWeight);
        console.log(`overdrive ${target.name}: offered ${offered} in ${BATCHES} batches, stored ${r.n}, dropped ${dropped} (counted), carried weight ${q.carriedWeight('uds')}, write errors 0`);
      } finally {
        await store.close();
      }
    }, 300_000);
  });
}
