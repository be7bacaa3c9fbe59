// The single host is queryable while it runs (issue 18): `up` holds the chDB
// directory (one engine per directory) and serves it on its store socket
// (<PATH>.sock: query, alerts --once, … go through it) and, with --http, on
// a read-only ClickHouse HTTP endpoint that @clickhouse/client itself reads.
// On the same synthetic rows, every default rule's query and every dashboard
// panel's query answers the same through the endpoint as on the real
// ClickHouse server.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RULES_DIR, loadRules } from '../../alerts/index.js';
import { ruleSql, substitute } from '../../alerts/query.js';
import { applySchema } from '../../schema/ddl.js';
import { COMMON_COUNTERS, HIST_SLOTS, PROBES, USER_PROBES, type CounterRow, type EventRow, type HistogramRow, type ProbeDef } from '../../schema/event.js';
import { openStore, type Store } from '../../store/index.js';
import { planStatement } from '../../store/serve.js';
import { RAW_STRUCTURE, rawEventsSelect } from '../../schema/raw.js';
import { syntheticRecords } from '../pipeline/kafka-helpers.js';
import { BIN, ROOT, runCli } from '../helpers/cli.js';
import { isRoot } from '../helpers/probes.js';
import { expandMacros, panelQueries } from '../helpers/grafana.js';

describe('read-only statements', () => {
  it('SELECT/WITH run under readonly=1 with their FORMAT taken out; writes, readonly changes and table-function DESCRIBE are refused', () => {
    expect(planStatement('SELECT 1 FORMAT JSONEachRow', {}, true)).toEqual({ sql: 'SELECT * FROM (\nSELECT 1\n) SETTINGS readonly = 1', format: 'JSONEachRow' });
    expect(planStatement('WITH 2 AS x SELECT x', { max_threads: '1' }, true)).toEqual({ sql: 'SELECT * FROM (\nWITH 2 AS x SELECT x\n) SETTINGS max_threads = 1, readonly = 1', format: undefined });
    for (const bad of ['INSERT INTO v2e.events VALUES (1)', 'DROP TABLE v2e.events', "SELECT * FROM file('/etc/shadow') SETTINGS readonly = 0", 'SELECT 1; DROP TABLE x', "DESC file('/etc/shadow')", "SELECT 1 INTO OUTFILE '/tmp/x'"])
      expect(planStatement(bad, {}, true), bad).toHaveProperty('refused');
    expect(planStatement('SELECT 1', { readonly: '0' }, true)).toHaveProperty('refused');
    expect(planStatement('SHOW TABLES FROM v2e', {}, true)).toEqual({ sql: 'SHOW TABLES FROM v2e' });
    // the store socket (not read-only) passes writes through
    expect(planStatement('INSERT INTO t FORMAT JSONEachRow', {}, false)).toEqual({ sql: 'INSERT INTO t FORMAT JSONEachRow' });
  });
});

/** Synthetic rows of every probe and event, counters and histograms, in one minute from `t0` (ms), host `host`. */
function synthetic(host: string, t0: number): { events: EventRow[]; counters: CounterRow[]; histograms: HistogramRow[] } {
  const ns = (ms: number) => (BigInt(Math.round(ms)) * 1_000_000n).toString();
  const events: EventRow[] = [];
  const counters: CounterRow[] = [];
  const histograms: HistogramRow[] = [];
  let k = 0;
  for (const p of USER_PROBES) {
    const d = PROBES[p] as ProbeDef;
    d.events.forEach((event, e) => {
      for (let i = 0; i < 40; i++, k++)
        events.push({ ts: ns(t0 + ((k * 37) % 59_000)), host, probe: p, event, pid: 100 + (i % 5), tid: 100 + (i % 5), comm: ['v2broker', 'svc-a', 'svc-b'][i % 3], value: Math.round(1000 * 1.6 ** (i % 30)), weight: 1 + (i % 3), cpu: i % 2 });
      histograms.push({ ts: ns(t0 + 30_000), host, probe: p, event, counts: Array.from({ length: HIST_SLOTS }, (_, s) => (s * 7 + e) % 11) });
    });
    for (const name of [...Object.keys(COMMON_COUNTERS), ...Object.keys(d.counters)])
      for (const pid of [0, 100]) counters.push({ ts: ns(t0 + 50_000), host, probe: p, name, pid, comm: pid ? 'svc-a' : '', key: '', value: 5000 + k, delta: 100 + (k++ % 900) });
  }
  return { events, counters, histograms };
}

async function insertAll(store: Store, rows: ReturnType<typeof synthetic>): Promise<void> {
  await store.insertRows('v2e.events', rows.events);
  await store.insertRows('v2e.counters', rows.counters);
  await store.insertRows('v2e.histograms', rows.histograms);
}

const sortRows = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).sort();

describe.skipIf(!isRoot)('a running up is queryable (store socket, --http)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'v2probe-serve-'));
  const dsn = `chdb:${join(dir, 'data')}`;
  let port = 0;
  let up: ChildProcess | undefined;
  let log = '';
  // a minute two days ahead: no other writer's rows are there, and every TTL keeps them
  const t0 = Math.floor((Date.now() + 2 * 86_400_000) / 60_000) * 60_000;
  const host = `serve-${process.pid}`;
  const rows = synthetic(host, t0);

  beforeAll(async () => {
    up = spawn(process.execPath, [BIN, 'up', '--sink', dsn, '--probes', 'sched', '--duration', '170s', '--metrics', 'off', '--control', 'off', '--rules', 'off', '--http', '127.0.0.1:0'], { cwd: ROOT });
    await new Promise<void>((resolve, reject) => {
      up!.stderr!.on('data', (d) => {
        log += d;
        const m = /"url":"http:\/\/127\.0\.0\.1:(\d+)\/"[^\n]*serving the store read-only/.exec(log);
        if (m) port = Number(m[1]);
        if (log.includes('"msg":"collecting"') && port) resolve();
      });
      up!.on('exit', (code) => reject(new Error(`up exited ${code}: ${log}`)));
    });
  }, 120_000);
  afterAll(async () => {
    up?.kill('SIGTERM');
    if (up && up.exitCode === null) await new Promise((r) => up!.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('another process writes and reads the held store through its socket, and says so', async () => {
    const store = await openStore(dsn, { quiet: true });
    try {
      expect(store.kind).toBe('clickhouse'); // the socket, not a second engine
      await insertAll(store, rows);
    } finally {
      await store.close();
    }
    // the binary insert (what an ingester does) through the socket too, with its dedup token
    const through = await openStore(dsn, { quiet: true });
    try {
      const { records, monoToWallNs } = syntheticRecords(0, 1000);
      const b = { host: `${host}-rec`, monoToWallNs };
      for (let i = 0; i < 2; i++) await through.insertBinary('v2e.events', records, RAW_STRUCTURE, (src) => rawEventsSelect(src, b), { dedupToken: `${host}-rec-1` });
      const [r] = await through.queryRows<{ n: string | number; u: string | number }>(`SELECT count() AS n, uniqExact(value) AS u FROM v2e.events WHERE host = '${host}-rec'`);
      expect({ n: Number(r.n), u: Number(r.u) }).toEqual({ n: 1000, u: 1000 }); // sent twice, stored once
    } finally {
      await through.close();
    }
    const q = runCli(['query', '--store', dsn, '--format', 'json', `SELECT count() AS n FROM v2e.events WHERE host = '${host}'`]);
    expect(q.code, q.stderr).toBe(0);
    expect(q.stderr).toMatch(/held by a running v2probe; going through its store socket/);
    expect(Number(JSON.parse(q.stdout.trim()).n)).toBe(rows.events.length);
    const a = runCli(['alerts', '--once', '--store', dsn]);
    expect(a.code, a.stderr).toBe(0);
  }, 120_000);

  it('@clickhouse/client reads --http; the default rules answer as on the real ClickHouse server for the same rows', async () => {
    const client = createClient({ url: `http://127.0.0.1:${port}` });
    try {
      expect((await client.ping()).success).toBe(true);
      const n = await (await client.query({ query: `SELECT count() AS n FROM v2e.events WHERE host = {h:String}`.replace('{h:String}', `'${host}'`), format: 'JSONEachRow' })).json<{ n: string }>();
      expect(Number(n[0].n)).toBe(rows.events.length);
      await expect(client.command({ query: 'DROP TABLE v2e.events' })).rejects.toThrow(/read-only/);
      await expect(client.query({ query: "SELECT * FROM file('/etc/hostname', 'LineAsString')", format: 'JSONEachRow' }).then((r) => r.json())).rejects.toThrow(/readonly|READONLY/i);

      const url = process.env.CLICKHOUSE_URL;
      if (!url) return void console.log('serve: no CLICKHOUSE_URL: the server comparison is skipped');
      const server = await openStore(url.replace(/^http/, 'clickhouse'));
      try {
        await applySchema(server);
        await insertAll(server, rows);
        const { groups, errors } = loadRules(DEFAULT_RULES_DIR);
        expect(errors).toEqual([]);
        let nonEmpty = 0;
        let compared = 0;
        for (const rule of groups.flatMap((g) => g.rules)) {
          const sql = substitute(ruleSql(rule), t0, t0 + 60_000);
          const viaServer = await server.queryRows(sql);
          const viaHttp = await (await client.query({ query: sql, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } })).json();
          expect(sortRows(viaHttp), `rule ${rule.name}\n${sql}`).toEqual(sortRows(viaServer));
          compared++;
          if (viaServer.length) nonEmpty++;
        }
        console.log(`serve: ${compared} default rules compared, ${nonEmpty} with rows`);
        expect(nonEmpty).toBeGreaterThanOrEqual(3);
        // and every dashboard panel's query, macros expanded as Grafana does for that minute
        let panelsWithRows = 0;
        const panels = panelQueries();
        for (const p of panels) {
          const sql = expandMacros(p.sql, { from: t0 / 1000, to: t0 / 1000 + 60, intervalS: 10, host, comms: ['v2broker', 'svc-a', 'svc-b'] });
          const viaServer = await server.queryRows(sql);
          const viaHttp = await (await client.query({ query: sql, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } })).json();
          expect(sortRows(viaHttp), `${p.dashboard} #${p.id} ${p.title}\n${sql}`).toEqual(sortRows(viaServer));
          if (viaServer.length) panelsWithRows++;
        }
        console.log(`serve: ${panels.length} dashboard panels compared, ${panelsWithRows} with rows`);
        expect(panelsWithRows).toBeGreaterThanOrEqual(5);
      } finally {
        for (const t of ['events', 'counters', 'histograms']) await server.exec(`ALTER TABLE v2e.${t} DELETE WHERE host = '${host}'`).catch(() => {});
        await server.close();
      }
    } finally {
      await client.close();
    }
  }, 180_000);
});
