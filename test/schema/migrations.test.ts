// Versioned migrations on the real engine (chDB): an old store (version 1,
// missing event columns) is upgraded; applying twice equals once; retention is
// configurable; rollups equal the aggregation of raw rows for the same window;
// the --cluster variant is valid ClickHouse syntax.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchema, schemaStatements, SCHEMA_VERSION } from '../../schema/ddl.js';
import { baseStatements, columns, ddlContext, timeSeriesEngine } from '../../schema/ddl-common.js';
import { migrations } from '../../schema/migrations.js';
import { EVENT_COLUMNS } from '../../schema/event.js';
import { openStore, type Store } from '../../store/index.js';
import { storeTargets } from '../helpers/stores.js';

let store: Store;
const nowMs = Date.now();
// recent timestamps: rows older than the TTL are removed by merges
const BASE_S = Math.floor(nowMs / 60_000) * 60 - 30 * 60; // a minute boundary 30 min ago

function ev(i: number, sec: number, extra: Record<string, unknown> = {}) {
  const ts = (BigInt(BASE_S + sec) * 1_000_000_000n + BigInt((i * 7_919_111) % 999_999_999)).toString();
  return { ts, host: `h${i % 3}`, probe: i % 5 === 0 ? 'sched' : 'uds', event: i % 2 ? 'recvmsg' : 'sendmsg', pid: 100 + (i % 4), tid: 1, comm: `c${i % 4}`, value: 1000 + ((i * 2_654_435_761) % 97_003), weight: 1 + (i % 13), cpu: i % 2, ...extra };
}

for (const target of storeTargets()) {
  describe.skipIf(target.skip)(`migrations on ${target.name}${target.skip ? ` (skipped: ${target.skip})` : ''}`, () => {
    beforeAll(async () => {
      store = await openStore(target.dsn());
      await target.reset?.(store);
    });
    afterAll(async () => store?.close());

    it('upgrades a version-1 store that lacks event columns, keeping its rows and rolling them up', async () => {
      // a store as the foundation created it, minus the last two attribute columns
      const ctx = ddlContext();
      const cut = EVENT_COLUMNS.slice(-2).map((c) => c.name);
      for (const sql of baseStatements(ctx)) {
        const old = `CREATE TABLE IF NOT EXISTS v2e.events (\n${columns(EVENT_COLUMNS.slice(0, -2))}\n) ${timeSeriesEngine(ctx, 'probe, event, host, ts', 7)}`;
        await store.exec(sql.startsWith('CREATE TABLE IF NOT EXISTS v2e.events (') ? old : sql);
      }
      await store.insertRows('v2e.schema_version', [{ version: 1, by: 'v2probe' }]);
      const before = await store.queryRows<{ name: string }>("SELECT name FROM system.columns WHERE database='v2e' AND table='events'");
      expect(before.map((c) => c.name)).not.toContain(cut[1]);
      const old = Array.from({ length: 50 }, (_, i) => {
        const r = ev(i, i) as Record<string, unknown>;
        return r;
      });
      await store.insertRows('v2e.events', old);

      const r = await applySchema(store);
      expect(r.previous).toBe(1);
      expect(r.applied.map((m) => m.version)).toEqual(migrations().filter((m) => m.version > 1).map((m) => m.version));
      expect(r.addedColumns).toEqual(cut);
      const cols = await store.queryRows<{ name: string; type: string }>(
        "SELECT name, type FROM system.columns WHERE database='v2e' AND table='events' ORDER BY position",
      );
      expect(cols.map((c) => [c.name, c.type])).toEqual(EVENT_COLUMNS.map((c) => [c.name, c.type]));
      // the rows stored before the rollups existed were rolled up by the migration
      const [n] = await store.queryRows<{ w: number }>('SELECT sum(weight_sum) AS w FROM v2e.events_10s');
      const [raw] = await store.queryRows<{ w: number }>('SELECT sum(weight) AS w FROM v2e.events');
      expect(Number(n.w)).toBe(Number(raw.w));
      // the watermark saw the hosts
      const wm = await store.queryRows<{ host: string }>('SELECT host FROM v2e.ingest_watermark GROUP BY host ORDER BY host');
      expect(wm.map((w) => w.host)).toEqual(['h0', 'h1', 'h2']);
    });

    it('applying again changes nothing (apply twice = once)', async () => {
      const tablesBefore = await store.queryRows("SELECT name, engine_full FROM system.tables WHERE database='v2e' ORDER BY name");
      const r = await applySchema(store);
      expect(r).toMatchObject({ previous: SCHEMA_VERSION, version: SCHEMA_VERSION, applied: [], addedColumns: [], ttlChanged: [] });
      const tablesAfter = await store.queryRows("SELECT name, engine_full FROM system.tables WHERE database='v2e' ORDER BY name");
      expect(tablesAfter).toEqual(tablesBefore);
      const [v] = await store.queryRows<{ n: number; m: number }>('SELECT count() AS n, max(version) AS m FROM v2e.schema_version');
      expect([Number(v.n), Number(v.m)]).toEqual([SCHEMA_VERSION, SCHEMA_VERSION]);
      const [n] = await store.queryRows<{ w: number }>('SELECT sum(weight_sum) AS w FROM v2e.events_10s');
      const [raw] = await store.queryRows<{ w: number }>('SELECT sum(weight) AS w FROM v2e.events');
      expect(Number(n.w)).toBe(Number(raw.w)); // no second backfill
    });

    it('retention is configurable: TTLs follow it, and back', async () => {
      const r = await applySchema(store, { events: 3, rollup1m: 90 });
      expect(r.ttlChanged.sort()).toEqual(['counters_1m=90d', 'events=3d', 'events_1m=90d', 'histograms_1m=90d']);
      const [t] = await store.queryRows<{ e: string }>("SELECT engine_full AS e FROM system.tables WHERE database='v2e' AND name='events'");
      expect(t.e).toMatch(/toIntervalDay\(3\)/);
      const back = await applySchema(store);
      expect(back.ttlChanged.length).toBe(4);
      expect((await applySchema(store)).ttlChanged).toEqual([]);
    });

    it('rollups equal the aggregation of raw rows for the same window (events, counters, histograms)', async () => {
      await store.exec('TRUNCATE TABLE v2e.events');
      for (const t of ['events_10s', 'events_1m', 'counters', 'counters_10s', 'counters_1m', 'histograms', 'histograms_10s', 'histograms_1m']) await store.exec(`TRUNCATE TABLE v2e.${t}`);
      // 3 inserts (3 parts per rollup) over 3 minutes of 3 hosts, 4 comms
      for (let batch = 0; batch < 3; batch++) {
        const rows = Array.from({ length: 2000 }, (_, k) => {
          const i = batch * 2000 + k;
          return ev(i, (i * 37) % 180);
        });
        await store.insertRows('v2e.events', rows);
        const cnt = Array.from({ length: 60 }, (_, k) => ({
          ts: String((BASE_S + batch * 60 + k) * 1000 + 250), host: `h${k % 3}`, probe: 'sched', name: 'switches', pid: 0, comm: '', key: '', value: 1000 * k, delta: 10 + k,
        }));
        await store.insertRows('v2e.counters', cnt);
        const hist = Array.from({ length: 30 }, (_, k) => ({
          ts: String((BASE_S + batch * 60 + 2 * k) * 1000), host: `h${k % 2}`, probe: 'uds', event: 'sendmsg', counts: Array.from({ length: 32 }, (_, s) => (s * k + batch) % 7),
        }));
        await store.insertRows('v2e.histograms', hist);
      }
      for (const [suffix, sec] of [['10s', 10], ['1m', 60]] as const) {
        const rollup = await store.queryRows(`
          SELECT toUnixTimestamp(ts) AS t, host, probe, event, comm, sum(weight_sum) AS n, sum(samples) AS rows, sum(value_sum) AS total,
                 min(value_min) AS lo, max(value_max) AS hi, round(quantileTDigestWeightedMerge(0.99)(value_q)) AS p99
          FROM v2e.events_${suffix} GROUP BY t, host, probe, event, comm ORDER BY t, host, probe, event, comm`);
        const raw = await store.queryRows(`
          SELECT toUnixTimestamp(toStartOfInterval(toDateTime(ts), INTERVAL ${sec} SECOND)) AS t, host, probe, event, comm, sum(toUInt64(weight)) AS n,
                 count() AS rows, sum(value * weight) AS total, min(value) AS lo, max(value) AS hi, round(quantileExactWeighted(0.99)(value, weight)) AS p99
          FROM v2e.events GROUP BY t, host, probe, event, comm ORDER BY t, host, probe, event, comm`);
        expect(rollup.length).toBe(raw.length);
        expect(rollup.length).toBeGreaterThan(sec === 10 ? 100 : 20);
        const strip = (r: Record<string, unknown>) => ({ ...r, p99: 0 });
        expect(rollup.map(strip)).toEqual(raw.map(strip)); // counts, sums, min, max: exact
        // quantiles: a t-digest estimate within 5 % of the exact weighted quantile (value range 1000..98000)
        rollup.forEach((r, i) => expect(Math.abs(Number(r.p99) - Number(raw[i].p99))).toBeLessThanOrEqual(0.05 * Number(raw[i].p99)));

        const cr = await store.queryRows(`SELECT toUnixTimestamp(ts) AS t, host, name, sum(delta_sum) AS d, min(value_min) AS lo, max(value_max) AS hi, sum(snapshots) AS s
          FROM v2e.counters_${suffix} GROUP BY t, host, name ORDER BY t, host, name`);
        const cw = await store.queryRows(`SELECT toUnixTimestamp(toStartOfInterval(toDateTime(ts), INTERVAL ${sec} SECOND)) AS t, host, name, sum(delta) AS d, min(value) AS lo, max(value) AS hi, count() AS s
          FROM v2e.counters GROUP BY t, host, name ORDER BY t, host, name`);
        expect(cr).toEqual(cw);
        const hr = await store.queryRows(`SELECT toUnixTimestamp(ts) AS t, host, sumForEachMerge(counts) AS c FROM v2e.histograms_${suffix} GROUP BY t, host ORDER BY t, host`);
        const hw = await store.queryRows(`SELECT toUnixTimestamp(toStartOfInterval(toDateTime(ts), INTERVAL ${sec} SECOND)) AS t, host, sumForEach(counts) AS c FROM v2e.histograms GROUP BY t, host ORDER BY t, host`);
        expect(hr).toEqual(hw);
      }
    });

    it('the --cluster variant: ON CLUSTER, Replicated engines, Distributed front tables, valid syntax', async () => {
      const stmts = schemaStatements(undefined, 'v2fleet');
      expect(stmts.every((s) => s.startsWith('INSERT') || / ON CLUSTER v2fleet/.test(s))).toBe(true);
      expect(stmts.some((s) => /v2e\.events_local ON CLUSTER v2fleet \(/.test(s) && /ReplicatedMergeTree\('\/clickhouse\/tables\/\{shard\}/.test(s))).toBe(true);
      expect(stmts.some((s) => /CREATE TABLE IF NOT EXISTS v2e\.events ON CLUSTER v2fleet AS v2e\.events_local ENGINE = Distributed\(v2fleet, v2e, events_local, rand\(\)\)/.test(s))).toBe(true);
      expect(stmts.some((s) => /events_10s_mv ON CLUSTER v2fleet TO v2e\.events_10s_local AS[\s\S]*FROM v2e\.events_local/.test(s))).toBe(true);
      expect(stmts.some((s) => /ReplicatedReplacingMergeTree\('[^']+', '\{replica\}', updated_at\)/.test(s))).toBe(true);
      expect(stmts.some((s) => s.startsWith('INSERT'))).toBe(false);
      expect(stmts.join('\n')).not.toMatch(/non_replicated_deduplication_window/);
      // every statement parses (the engine's own parser; nothing is executed)
      for (const s of stmts) await store.queryText(`EXPLAIN AST ${s}`, 'TabSeparatedWithNames');
    });
  });
}
