// The DDL derived from the event definition, applied to the real engine (chDB):
// the table has exactly the definition's columns; rows round-trip; the schema
// apply is idempotent and refuses a newer store.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchema, SCHEMA_VERSION } from '../../schema/ddl.js';
import { EVENT_COLUMNS, EventRow } from '../../schema/event.js';
import { openStore, type Store } from '../../store/index.js';
import { storeTargets } from '../helpers/stores.js';

for (const target of storeTargets()) {
  describe.skipIf(target.skip)(`schema on ${target.name}${target.skip ? ` (skipped: ${target.skip})` : ''}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await openStore(target.dsn());
      await target.reset?.(store);
    });
    afterAll(async () => store?.close());

    it('applies, and applying again changes nothing', async () => {
      const first = await applySchema(store);
      expect(first.version).toBe(SCHEMA_VERSION);
      const again = await applySchema(store);
      expect(again.previous).toBe(SCHEMA_VERSION);
      const versions = await store.queryRows<{ n: number }>('SELECT count() AS n FROM v2e.schema_version');
      expect(Number(versions[0].n)).toBe(SCHEMA_VERSION); // one row per migration
    });

    it('v2e.events has exactly the columns of the event definition', async () => {
      const cols = await store.queryRows<{ name: string; type: string }>(
        "SELECT name, type FROM system.columns WHERE database = 'v2e' AND table = 'events' ORDER BY position",
      );
      expect(cols.map((c) => [c.name, c.type])).toEqual(EVENT_COLUMNS.map((c) => [c.name, c.type]));
      // and every column the zod row can carry exists in the table
      expect(Object.keys(EventRow.shape).sort()).toEqual(EVENT_COLUMNS.map((c) => c.name).sort());
    });

    it('insert + query round trip keeps every field exact (ns timestamps, 64-bit values)', async () => {
      // recent timestamps: rows older than the TTL (7 days) are removed by the engine
      const base = BigInt(Date.now()) * 1_000_000n + 123_456_789n;
      const t0 = base.toString();
      const rows: EventRow[] = [
        { ts: t0, host: 'h1', probe: 'uds', event: 'recvmsg', pid: 42, tid: 43, comm: 'v2broker', value: 2_000_123, weight: 10, cpu: 1, fd: 7, ret: -11 },
        { ts: (base + 210n).toString(), host: 'h1', probe: 'blockio', event: 'write', pid: 7, tid: 7, comm: 'dd', value: 123_456, weight: 1, cpu: 0, dev: (8 << 20) | 16, bytes: 4096 },
      ];
      for (const r of rows) EventRow.parse(r);
      await store.insertRows('v2e.events', rows);
      const back = await store.queryRows<Record<string, unknown>>(
        "SELECT toString(toUnixTimestamp64Nano(ts)) AS ts, host, probe, event, pid, tid, comm, value, weight, cpu, fd, ret, dev, bytes FROM v2e.events WHERE host = 'h1' ORDER BY ts",
      );
      expect(back).toHaveLength(2);
      expect(String(back[0].ts)).toBe(t0);
      expect(back[0]).toMatchObject({ probe: 'uds', event: 'recvmsg', pid: 42, comm: 'v2broker', value: 2_000_123, weight: 10, fd: 7, ret: -11 });
      expect(back[1]).toMatchObject({ probe: 'blockio', dev: (8 << 20) | 16, bytes: 4096 });
    });

    it('an empty insert is a no-op', async () => {
      await store.insertRows('v2e.events', []);
    });

    it('refuses a store whose schema is newer than this v2probe', async () => {
      await store.insertRows('v2e.schema_version', [{ version: SCHEMA_VERSION + 1, by: 'future' }]);
      await expect(applySchema(store)).rejects.toThrow(/newer than this v2probe/);
      await store.exec(`ALTER TABLE v2e.schema_version DELETE WHERE version > ${SCHEMA_VERSION} SETTINGS mutations_sync = 1`);
    });
  });
}

