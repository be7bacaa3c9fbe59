/**
 * bench/binary-insert.ts — issue 16 ("binary end to end"), the measurement:
 * how fast `struct v2_event` records (bpf/v2probe.h, 64 bytes, little-endian)
 * reach `v2e.events` by today's path and by binary paths, in chDB and on a
 * ClickHouse server; rows/s wall and rows per CPU-second.
 *
 *   node dist/bench/binary-insert.js [records=1000000] [batch=50000] [--reps 3] [--check 20000]
 *        [--server URL --server-pid PID]   (or CLICKHOUSE_URL + CLICKHOUSE_STATE_DIR/server.pid)
 *        [--only NAME,NAME]                 (paths by name, see PATHS)
 *        [--print-sql]                      print the staging DDL and the INSERT … SELECT statements, run nothing
 *
 * Paths (one batch = one insert; the batches are awaited one after another, as the sink does):
 *   chdb.json            today: decodeBatch → StoreSink.writeEvents (JSONEachRow raw insert)
 *   chdb.file.select     (a) records → tmpfs file → INSERT INTO v2e.events SELECT <mapping> FROM file(…, RowBinary)
 *   chdb.file.mv         (a) records → tmpfs file → INSERT INTO v2e.events_raw (Null) SELECT * FROM file(…); MV → events
 *   chdb.native.mv       (a) records → chDB's native raw insert entry, prefix `INSERT INTO v2e.events_raw FORMAT RowBinary`
 *                        (the addon's InsertRawAsyncConnection, which the public insert() refuses for binary formats;
 *                        not binary-safe: a payload that starts with a newline fails or is misaligned, so the check
 *                        fails it and it is left out of the timed runs)
 *   chdb.js.file         (c) records → JS RowBinary of the events columns → tmpfs file → INSERT … SELECT * FROM file()
 *   server.json          today: decodeBatch → StoreSink.writeEvents on a ClickHouseStore (JSONEachRow over HTTP)
 *   server.input         (a) HTTP body = the records: INSERT INTO v2e.events SELECT <mapping> FROM input(…) FORMAT RowBinary
 *   server.mv            (a) HTTP body = the records: INSERT INTO v2e.events_raw FORMAT RowBinary; MV → events
 *   server.js            (c) HTTP body = JS RowBinary of the events columns: INSERT INTO v2e.events FORMAT RowBinary
 *
 * Every path is checked first on a small set (`--check` records, including
 * rejected ids, bytes after the comm's NUL, negative and kernel-address
 * arguments, weight 0): the rows it stores must equal, column by column, what
 * today's path stores for the same records; and a batch repeated with its
 * insert_deduplication_token must not be stored twice.
 * Then the timed runs: paths interleaved, the order rotated each rep;
 * merges are stopped (SYSTEM STOP MERGES) so that a previous path's merges do
 * not land in the next one's CPU. Load (loadavg) is printed with each figure.
 */
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { Session } from 'chdb';
import { decodeBatch, type DecodeContext } from '../schema/records.js';
import { StoreSink } from '../collector/sinks/store.js';
import { ATTRIBUTE_COLUMNS, EVENT_COLUMNS, PROBES, PROBE_NAMES, RECORD_FIELDS, RECORD_SIZE, USER_PROBES, type ProbeDef } from '../schema/event.js';
import { schemaStatements } from '../schema/ddl.js';
import { sqlString } from '../schema/sql.js';
import { RAW_STRUCTURE, RAW_WHERE, rawSelectList } from '../schema/raw.js';
import { ChdbStore } from '../store/chdb.js';
import { ClickHouseStore } from '../store/clickhouse.js';
import { parseStoreDsn } from '../store/dsn.js';

// ---------------------------------------------------------------- arguments
const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  argv.splice(i, 2);
  return v;
};
const REPS = Number(flag('--reps') ?? 3);
const CHECK_N = Number(flag('--check') ?? 20_000);
const PRINT_SQL = argv.includes('--print-sql') ? (argv.splice(argv.indexOf('--print-sql'), 1), true) : false;
const ONLY = flag('--only')?.split(',');
const SERVER_URL = flag('--server') ?? process.env.CLICKHOUSE_URL;
const SERVER_PID = Number(
  flag('--server-pid') ??
    (process.env.CLICKHOUSE_STATE_DIR ? readFileSync(join(process.env.CLICKHOUSE_STATE_DIR, 'server.pid'), 'utf8').trim() : 0),
);
const N = Number(argv[0] ?? 1_000_000);
const BATCH = Number(argv[1] ?? 50_000); // DEFAULT_BATCH.maxRows of collector/pipeline/batcher.ts

const HOST = 'bench-host';
/** wall ns − CLOCK_MONOTONIC ns, as the collector computes it */
const OFFSET_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
const CTX: DecodeContext = { host: HOST, monoToWallNs: OFFSET_NS };
const SHM = '/dev/shm';
const TMP = join(SHM, `binbench-${process.pid}`);

// ---------------------------------------------------------------- records

const COMMS = ['v2broker', 'v2e-api', 'v2e-auth', 'v2e-store', 'postgres', 'kworker/u4:2', 'v2e-ingest-wrk1' /* 15: the longest */, 'go-sched-worker'];

/**
 * n records in the exact layout, probe/event ids from the catalog (user probes,
 * every event kind), arguments by the probe's attribute columns. With `edge`,
 * also the cases the decoder treats specially: an unknown probe id, an event
 * index past the family's list, weight 0, bytes after the comm's NUL.
 */
export function synthRecords(n: number, edge = false, seed = 1): Buffer {
  const buf = Buffer.alloc(n * RECORD_SIZE);
  const probes = USER_PROBES.map((p) => PROBES[p] as ProbeDef).filter((d) => d.events.length > 0);
  let x = seed >>> 0 || 1;
  const rnd = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 4294967296);
  let ts = 25_000_000_000_000n; // ~7 h of uptime in CLOCK_MONOTONIC ns
  for (let i = 0; i < n; i++) {
    const o = i * RECORD_SIZE;
    ts += BigInt(200 + Math.floor(rnd() * 20_000));
    const d = probes[Math.floor(rnd() * probes.length)];
    const ev = Math.floor(rnd() * d.events.length);
    const c = Math.floor(rnd() * COMMS.length);
    buf.writeBigUInt64LE(ts, o);
    buf.writeBigInt64LE(BigInt(Math.floor(rnd() * rnd() * 5_000_000)), o + 8);
    for (const [slot, name] of [[16, d.args.arg0], [24, d.args.arg1]] as const) {
      if (!name) { buf.writeBigUInt64LE(BigInt(Math.floor(rnd() * 1e6)), o + slot); continue; } // unused: must not leak into any column
      let v: bigint;
      switch (name) {
        case 'fd': v = BigInt(3 + Math.floor(rnd() * 60)); break;
        case 'ret': v = rnd() < 0.1 ? -11n : BigInt(Math.floor(rnd() * 65536)); break;
        case 'addr': v = rnd() < 0.5 ? -0x0000_777f_0000_0000n + BigInt(Math.floor(rnd() * 2 ** 32)) * 64n : 0x7f00_0000_0000n + BigInt(Math.floor(rnd() * 2 ** 30)) * 8n; break;
        case 'dev': v = BigInt((8 << 20) | Math.floor(rnd() * 16)); break;
        default: v = BigInt(Math.floor(rnd() * 2 ** 40));
      }
      buf.writeBigInt64LE(v, o + slot);
    }
    buf.writeUInt32LE(1000 + c, o + 32);
    buf.writeUInt32LE(1000 + c * 10 + Math.floor(rnd() * 4), o + 36);
    buf.writeUInt32LE(Math.max(1, d.defaultSampleEvery), o + 40);
    buf[o + 44] = d.id;
    buf[o + 45] = ev;
    buf.writeUInt16LE(Math.floor(rnd() * 2), o + 46);
    buf.write(COMMS[c], o + 48, 'latin1');
    if (edge) {
      const k = i % 97;
      if (k === 1) buf[o + 44] = 250; // no such probe
      if (k === 2) buf[o + 45] = d.events.length; // no such event
      if (k === 3) buf.writeUInt32LE(0, o + 40); // weight 0: stored as 1
      if (k === 4 && COMMS[c].length < 14) buf.write('ZZ', o + 48 + COMMS[c].length + 1, 'latin1'); // junk after the NUL
    }
  }
  return buf;
}

// ---------------------------------------------------------------- mapping SQL: schema/raw.ts (from the one definition)
const probeDefs = PROBE_NAMES.map((n) => [n, PROBES[n] as ProbeDef] as const);
const mappingSelect = (host: string, offsetNs: bigint) => rawSelectList({ host, monoToWallNs: offsetNs });
const MAPPING_WHERE = RAW_WHERE;

export function stagingDdl(db: string, host: string, offsetNs: bigint): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${db}.events_raw (${RAW_STRUCTURE}) ENGINE = Null`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.events_raw_mv TO ${db}.events AS SELECT\n  ${mappingSelect(host, offsetNs)}\nFROM ${db}.events_raw AS r WHERE ${MAPPING_WHERE}`,
  ];
}
const directSelect = (from: string) => `SELECT\n  ${mappingSelect(HOST, OFFSET_NS)}\nFROM ${from} AS r WHERE ${MAPPING_WHERE}`;

// ---------------------------------------------------------------- (c) JS RowBinary of the events columns
const enc = (s: string) => Buffer.from(s, 'latin1');
const HOST_B = Buffer.concat([Buffer.from([HOST.length]), enc(HOST)]);
const PROBE_B: (Buffer | undefined)[] = [];
const EVENT_B: (Buffer | undefined)[] = [];
for (const [n, d] of probeDefs) {
  PROBE_B[d.id] = Buffer.concat([Buffer.from([n.length]), enc(n)]);
  d.events.forEach((e, i) => (EVENT_B[d.id * 256 + i] = Buffer.concat([Buffer.from([e.length]), enc(e)])));
}
const ATTR_NAMES = Object.keys(ATTRIBUTE_COLUMNS) as (keyof typeof ATTRIBUTE_COLUMNS)[];
const ATTR_SIZE: Record<string, number> = { Int32: 4, UInt32: 4, Int64: 8, UInt64: 8, UInt16: 2 };
/** per probe id: for each attribute column, which record offset feeds it (0: none) */
const ATTR_SRC: number[][] = [];
for (const [, d] of probeDefs) ATTR_SRC[d.id] = ATTR_NAMES.map((a) => (d.args.arg0 === a ? 16 : d.args.arg1 === a ? 24 : 0));
const ATTR_BYTES = ATTR_NAMES.map((a) => ATTR_SIZE[ATTRIBUTE_COLUMNS[a].type]);
if (EVENT_COLUMNS.map((c) => c.name).join() !== ['ts', 'host', 'probe', 'event', 'pid', 'tid', 'comm', 'value', 'weight', 'cpu', ...ATTR_NAMES].join()) {
  throw new Error('EVENT_COLUMNS changed: update encodeEventsRowBinary');
}

/**
 * RowBinary of `v2e.events` rows straight from the records: fixed-width
 * columns are byte copies (a little-endian truncation is the low bytes), strings
 * are precomputed length-prefixed names; comm is copied up to its NUL.
 */
export function encodeEventsRowBinary(rec: Buffer, out: Buffer): { bytes: number; rows: number; rejected: number } {
  const n = Math.floor(rec.length / RECORD_SIZE);
  const offLo = Number(OFFSET_NS & 0xffff_ffffn), offHi = Number(OFFSET_NS >> 32n);
  // byte loops, not Buffer.copy: a copy call costs more than the 2-16 bytes it moves
  const cp = (from: number, len: number, o: number) => { for (let k = 0; k < len; k++) out[o + k] = rec[from + k]; return len; };
  const put = (b: Buffer, o: number) => { for (let k = 0; k < b.length; k++) out[o + k] = b[k]; return b.length; };
  let o = 0, rows = 0, rejected = 0;
  for (let i = 0; i < n; i++) {
    const r = i * RECORD_SIZE;
    const pid = rec[r + 44], key = pid * 256 + rec[r + 45];
    const pb = PROBE_B[pid], eb = EVENT_B[key];
    if (!pb || !eb) { rejected++; continue; }
    // ts + offset as a 64-bit add in two 32-bit halves
    const tl = rec.readUInt32LE(r) + offLo;
    out.writeUInt32LE(tl >>> 0, o);
    out.writeUInt32LE((rec.readUInt32LE(r + 4) + offHi + (tl > 0xffff_ffff ? 1 : 0)) >>> 0, o + 4);
    o += 8;
    o += put(HOST_B, o);
    o += put(pb, o);
    o += put(eb, o);
    o += cp(r + 32, 8, o); // pid, tid
    let e = r + 48;
    while (e < r + 64 && rec[e] !== 0) e++;
    out[o++] = e - r - 48;
    o += cp(r + 48, e - r - 48, o); // comm up to its NUL
    o += cp(r + 8, 8, o); // value
    if (rec[r + 40] | rec[r + 41] | rec[r + 42] | rec[r + 43]) o += cp(r + 40, 4, o);
    else { out[o] = 1; out[o + 1] = out[o + 2] = out[o + 3] = 0; o += 4; } // weight 0 → 1
    out[o++] = rec[r + 46]; out[o++] = rec[r + 47]; // cpu
    const src = ATTR_SRC[pid];
    for (let a = 0; a < ATTR_BYTES.length; a++) {
      const len = ATTR_BYTES[a];
      if (src[a]) o += cp(r + src[a], len, o); // little-endian: the low bytes are the narrower integer
      else { for (let k = 0; k < len; k++) out[o + k] = 0; o += len; }
    }
    rows++;
  }
  return { bytes: o, rows, rejected };
}
const JS_ROW_MAX = 8 + HOST_B.length + 64 + 64 + 8 + 17 + 8 + 4 + 2 + ATTR_BYTES.reduce((a, b) => a + b, 0);

// ---------------------------------------------------------------- CPU accounting
const TICK = 100; // USER_HZ
function serverCpuS(): number {
  if (!SERVER_PID) return 0;
  const stat = readFileSync(`/proc/${SERVER_PID}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime (fields 14, 15)
}
const selfCpuS = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

// ---------------------------------------------------------------- the paths
interface Ctx {
  session: Session;
  chdb: ChdbStore;
  chdbSink: StoreSink;
  server?: { client: ClickHouseClient; store: ClickHouseStore; sink: StoreSink };
  native: { InsertRawAsyncConnection(conn: unknown, prefix: string, buf: Buffer, countLines: boolean): Promise<unknown> };
}
type Kind = 'chdb' | 'server';
interface Path { name: string; kind: Kind; what: string; insert(c: Ctx, batch: Buffer, token: string): Promise<void> }

let fileSeq = 0;
async function viaFile<T>(bytes: Buffer, fn: (path: string) => Promise<T>): Promise<T> {
  const f = join(TMP, `b${fileSeq++}.bin`);
  writeFileSync(f, bytes);
  try { return await fn(f); } finally { rmSync(f, { force: true }); }
}
async function drain(stream: NodeJS.ReadableStream): Promise<void> { for await (const _ of stream) { /* the response body: empty */ } }
const jsOut = Buffer.alloc(BATCH * JS_ROW_MAX);
const EVENTS_STRUCTURE = EVENT_COLUMNS.map((c) => `${c.name} ${c.type}`).join(', ');

const PATHS: Path[] = [
  {
    name: 'chdb.json', kind: 'chdb', what: 'today: decodeBatch + StoreSink (JSONEachRow raw insert)',
    insert: (c, b) => c.chdbSink.writeEvents(decodeBatch(b, CTX).rows),
  },
  {
    name: 'chdb.file.select', kind: 'chdb', what: '(a) tmpfs file, INSERT INTO events SELECT <mapping> FROM file(RowBinary)',
    insert: (c, b, t) => viaFile(b, (f) => c.chdb.exec(`INSERT INTO v2e.events SETTINGS insert_deduplication_token=${sqlString(t)}\n${directSelect(`file(${sqlString(f)}, RowBinary, ${sqlString(RAW_STRUCTURE)})`)}`)),
  },
  {
    name: 'chdb.file.mv', kind: 'chdb', what: '(a) tmpfs file, INSERT INTO events_raw (Null) SELECT * FROM file(RowBinary); MV',
    insert: (c, b, t) => viaFile(b, (f) => c.chdb.exec(`INSERT INTO v2e.events_raw SETTINGS insert_deduplication_token=${sqlString(t)} SELECT * FROM file(${sqlString(f)}, RowBinary, ${sqlString(RAW_STRUCTURE)})`)),
  },
  {
    name: 'chdb.native.mv', kind: 'chdb', what: '(a) addon InsertRawAsyncConnection, INSERT INTO events_raw FORMAT RowBinary; MV',
    insert: async (c, b, t) => { await c.native.InsertRawAsyncConnection((c.session as unknown as { connection: unknown }).connection, `INSERT INTO v2e.events_raw SETTINGS insert_deduplication_token=${sqlString(t)} FORMAT RowBinary`, b, false); },
  },
  {
    name: 'chdb.js.file', kind: 'chdb', what: '(c) JS RowBinary of events columns, tmpfs file, INSERT SELECT * FROM file()',
    insert: (c, b, t) => { const e = encodeEventsRowBinary(b, jsOut); return viaFile(jsOut.subarray(0, e.bytes), (f) => c.chdb.exec(`INSERT INTO v2e.events SETTINGS insert_deduplication_token=${sqlString(t)} SELECT * FROM file(${sqlString(f)}, RowBinary, ${sqlString(EVENTS_STRUCTURE)})`)); },
  },
  {
    name: 'server.json', kind: 'server', what: 'today: decodeBatch + StoreSink on ClickHouseStore (JSONEachRow/HTTP)',
    insert: (c, b) => c.server!.sink.writeEvents(decodeBatch(b, CTX).rows),
  },
  {
    name: 'server.input', kind: 'server', what: '(a) HTTP body = records: INSERT INTO events SELECT <mapping> FROM input() FORMAT RowBinary',
    insert: async (c, b, t) => {
      const r = await c.server!.client.exec({ query: `INSERT INTO v2e.events ${directSelect(`input(${sqlString(RAW_STRUCTURE)})`)} FORMAT RowBinary`, values: Readable.from([b]), clickhouse_settings: { insert_deduplication_token: t } });
      await drain(r.stream);
    },
  },
  {
    name: 'server.mv', kind: 'server', what: '(a) HTTP body = records: INSERT INTO events_raw (Null) FORMAT RowBinary; MV',
    insert: async (c, b, t) => {
      const r = await c.server!.client.exec({ query: 'INSERT INTO v2e.events_raw FORMAT RowBinary', values: Readable.from([b]), clickhouse_settings: { insert_deduplication_token: t } });
      await drain(r.stream);
    },
  },
  {
    name: 'server.js', kind: 'server', what: '(c) HTTP body = JS RowBinary of events columns: INSERT INTO events FORMAT RowBinary',
    insert: async (c, b, t) => {
      const e = encodeEventsRowBinary(b, jsOut);
      const r = await c.server!.client.exec({ query: 'INSERT INTO v2e.events FORMAT RowBinary', values: Readable.from([jsOut.subarray(0, e.bytes)]), clickhouse_settings: { insert_deduplication_token: t } });
      await drain(r.stream);
    },
  },
];

// ---------------------------------------------------------------- helpers
async function sql(c: Ctx, kind: Kind, q: string): Promise<string> {
  return kind === 'chdb' ? c.chdb.queryText(q, 'TabSeparatedWithNames') : c.server!.store.queryText(q, 'TabSeparatedWithNames');
}
async function exec(c: Ctx, kind: Kind, q: string): Promise<void> {
  return kind === 'chdb' ? c.chdb.exec(q) : c.server!.store.exec(q);
}
async function truncateAll(c: Ctx, kind: Kind): Promise<void> {
  const t = await sql(c, kind, "SELECT name FROM system.tables WHERE database = 'v2e' AND engine LIKE '%MergeTree%' AND name NOT IN ('schema_version')");
  for (const name of t.split('\n').slice(1).filter(Boolean)) await exec(c, kind, `TRUNCATE TABLE v2e.${name}`);
}
const ORDERED = `SELECT toUnixTimestamp64Nano(ts) AS ts_ns, * EXCEPT ts FROM v2e.events ORDER BY ts_ns, pid, tid, probe, event, value, comm, weight, cpu`;
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const load = () => loadavg()[0].toFixed(2);

/** Column-by-column check against today's path on the same records, and the dedup token. */
async function check(c: Ctx, paths: Path[], failed: Set<string>): Promise<string[]> {
  const out: string[] = [];
  const rec = synthRecords(CHECK_N, true, 7);
  const expectRejected = rec.length / RECORD_SIZE - decodeBatch(rec, CTX).rows.length;
  let reference: string | undefined;
  for (const kind of ['chdb', 'server'] as const) {
    const ps = paths.filter((p) => p.kind === kind);
    if (!ps.length) continue;
    const base = PATHS.find((p) => p.name === `${kind}.json`)!;
    await truncateAll(c, kind);
    for (let i = 0; i * BATCH < CHECK_N; i++) await base.insert(c, rec.subarray(i * BATCH * RECORD_SIZE, (i + 1) * BATCH * RECORD_SIZE), `check-base-${i}`);
    const want = await sql(c, kind, ORDERED);
    if (reference === undefined) reference = want;
    else out.push(`  chdb.json vs server.json: ${want === reference ? 'equal' : 'DIFFERENT'}`);
    for (const p of ps) {
      if (p === base) continue;
      await truncateAll(c, kind);
      const tok = `check-${p.name}-${Date.now()}`;
      try {
        for (let i = 0; i * BATCH < CHECK_N; i++) await p.insert(c, rec.subarray(i * BATCH * RECORD_SIZE, (i + 1) * BATCH * RECORD_SIZE), `${tok}-${i}`);
      } catch (e) {
        failed.add(p.name);
        out.push(`  ${p.name.padEnd(17)} FAILED (left out of the timed runs): ${(e as Error).message.split('\n')[0].slice(0, 200)}`);
        continue;
      }
      const got = await sql(c, kind, ORDERED);
      let verdict = 'equal';
      if (got !== want) {
        const g = got.split('\n'), w = want.split('\n');
        const hdr = w[0].split('\t');
        const j = g.findIndex((line, k) => line !== w[k]);
        const gv = (g[j] ?? '').split('\t'), wv = (w[j] ?? '').split('\t');
        const cols = hdr.filter((_, k) => gv[k] !== wv[k]);
        verdict = `DIFFERENT (${g.length - 1} vs ${w.length - 1} rows; first at row ${j}: ${cols.map((n) => `${n}: ${gv[hdr.indexOf(n)]} vs ${wv[hdr.indexOf(n)]}`).join(', ')})`;
      }
      // the same first batch again with the same token: must not be stored twice
      const before = Number((await sql(c, kind, 'SELECT count() FROM v2e.events')).split('\n')[1]);
      await p.insert(c, rec.subarray(0, Math.min(BATCH, CHECK_N) * RECORD_SIZE), `${tok}-0`);
      const after = Number((await sql(c, kind, 'SELECT count() FROM v2e.events')).split('\n')[1]);
      out.push(`  ${p.name.padEnd(17)} vs ${base.name}: ${verdict}; repeated batch with its token: ${after === before ? 'dropped (dedup ok)' : `STORED AGAIN (+${after - before})`}`);
    }
  }
  out.unshift(`correctness: ${CHECK_N} records (${expectRejected} rejected by the decoder's rules), batches of ${BATCH}`);
  return out;
}

/** The non-ASCII comm: today's decoder reads comm as latin1 (a UTF-8 name is stored double-encoded); the SQL mapping keeps the bytes. */
async function commBytes(c: Ctx): Promise<string> {
  const rec = synthRecords(1, false, 3);
  rec.fill(0, 48, 64);
  Buffer.from('café', 'utf8').copy(rec, 48);
  await truncateAll(c, 'chdb');
  await PATHS[0].insert(c, rec, 'comm-a');
  const a = (await sql(c, 'chdb', 'SELECT hex(comm) FROM v2e.events')).split('\n')[1];
  await truncateAll(c, 'chdb');
  await PATHS[1].insert(c, rec, 'comm-b');
  const b = (await sql(c, 'chdb', 'SELECT hex(comm) FROM v2e.events')).split('\n')[1];
  return `comm 'café' (UTF-8 bytes 636166C3A9): today's path stores ${a}, the SQL mapping stores ${b}`;
}

/** Does anything raise Code 48 "async inserts with both inlined and external data"? */
async function asyncInsertProbe(c: Ctx, rec: Buffer): Promise<string[]> {
  const out: string[] = [];
  const tries: Array<[string, () => Promise<unknown>]> = [
    ['chdb JSONEachRow raw insert, SETTINGS async_insert=1', () => c.session.insert({ table: 'v2e.events', values: Buffer.from(decodeBatch(rec, CTX).rows.map((r) => JSON.stringify(r)).join('\n') + '\n'), format: 'JSONEachRow', settings: { async_insert: 1, wait_for_async_insert: 1 } })],
    ['chdb INSERT … FORMAT JSONEachRow <inline data>, async_insert=1', () => c.session.queryAsync(`INSERT INTO v2e.events SETTINGS async_insert=1, wait_for_async_insert=1 FORMAT JSONEachRow ${JSON.stringify(decodeBatch(rec, CTX).rows[0])}`)],
    ['chdb INSERT SELECT FROM file(RowBinary), async_insert=1', () => viaFile(rec, (f) => c.chdb.exec(`INSERT INTO v2e.events SETTINGS async_insert=1 ${directSelect(`file(${sqlString(f)}, RowBinary, ${sqlString(RAW_STRUCTURE)})`)}`))],
    ['chdb native RowBinary into events_raw, async_insert=1', () => c.native.InsertRawAsyncConnection((c.session as unknown as { connection: unknown }).connection, 'INSERT INTO v2e.events_raw SETTINGS async_insert=1, wait_for_async_insert=1 FORMAT RowBinary', rec, false)],
  ];
  if (c.server) {
    tries.push(
      ['server input() RowBinary body, async_insert=1', async () => drain((await c.server!.client.exec({ query: `INSERT INTO v2e.events ${directSelect(`input(${sqlString(RAW_STRUCTURE)})`)} FORMAT RowBinary`, values: Readable.from([rec]), clickhouse_settings: { async_insert: 1, wait_for_async_insert: 1 } })).stream)],
      ['server events_raw RowBinary body, async_insert=1', async () => drain((await c.server!.client.exec({ query: 'INSERT INTO v2e.events_raw FORMAT RowBinary', values: Readable.from([rec]), clickhouse_settings: { async_insert: 1, wait_for_async_insert: 1 } })).stream)],
    );
  }
  for (const [name, f] of tries) {
    try { await f(); out.push(`  ${name}: ok`); } catch (e) { out.push(`  ${name}: ${(e as Error).message.split('\n')[0].slice(0, 200)}`); }
  }
  // chDB's native raw entry with input(): accepted, but stores nothing
  await truncateAll(c, 'chdb');
  const r = await c.native.InsertRawAsyncConnection((c.session as unknown as { connection: unknown }).connection, `INSERT INTO v2e.events ${directSelect(`input(${sqlString(RAW_STRUCTURE)})`)} FORMAT RowBinary`, rec, false).catch((e: Error) => e.message.split('\n')[0]);
  const n = (await sql(c, 'chdb', 'SELECT count() FROM v2e.events')).split('\n')[1];
  out.push(`  chdb native raw entry with INSERT … SELECT FROM input() FORMAT RowBinary: returned ${JSON.stringify(r)}, rows stored ${n} of ${rec.length / RECORD_SIZE}`);
  return out;
}

// ---------------------------------------------------------------- main
async function main(): Promise<void> {
  if (PRINT_SQL) {
    for (const q of stagingDdl('v2e', HOST, OFFSET_NS)) console.log(`${q};\n`);
    console.log(`INSERT INTO v2e.events SETTINGS insert_deduplication_token='…'\n${directSelect(`file('/dev/shm/….bin', RowBinary, ${sqlString(RAW_STRUCTURE)})`)};\n`);
    console.log(`INSERT INTO v2e.events ${directSelect(`input(${sqlString(RAW_STRUCTURE)})`)} FORMAT RowBinary`);
    return;
  }
  mkdirSync(TMP, { recursive: true });
  const dir = join(tmpdir(), `binbench-chdb-${process.pid}`);
  process.on('exit', () => { rmSync(TMP, { recursive: true, force: true }); rmSync(dir, { recursive: true, force: true }); });
  const chdb = new ChdbStore(dir);
  await chdb.ping();
  const session = (chdb as unknown as { session: Session }).session;
  // the addon's own entry (not exported by the package): resolve chdb's main file, then its dist/loader.js
  const req = createRequire(import.meta.url);
  const native = req(join(dirname(req.resolve('chdb')), 'dist', 'loader.js')).loadNative();
  const c: Ctx = { session, chdb, chdbSink: new StoreSink(chdb), native };
  if (SERVER_URL) {
    const d = parseStoreDsn(SERVER_URL.replace(/^http:/, 'clickhouse:'));
    if (d.kind !== 'clickhouse') throw new Error('--server: an http:// URL');
    const store = new ClickHouseStore({ url: d.url, username: d.username, password: d.password, database: d.database, dsn: d.text });
    await store.ping();
    const client = (store as unknown as { client: ClickHouseClient }).client;
    c.server = { client, store, sink: new StoreSink(store) };
  }
  const kinds: Kind[] = c.server ? ['chdb', 'server'] : ['chdb'];
  for (const kind of kinds) {
    if (kind === 'server') await exec(c, kind, 'DROP DATABASE IF EXISTS v2e SYNC');
    for (const s of schemaStatements()) await exec(c, kind, s);
    for (const s of stagingDdl('v2e', HOST, OFFSET_NS)) await exec(c, kind, s);
  }
  const paths = PATHS.filter((p) => (!ONLY || ONLY.includes(p.name)) && kinds.includes(p.kind));
  const ver = async (k: Kind) => (await sql(c, k, 'SELECT version()')).split('\n')[1];
  console.log(`binary-insert: ${N} records of ${RECORD_SIZE} bytes, batches of ${BATCH}, ${REPS} reps; chDB ${await ver('chdb')}${c.server ? `, server ${await ver('server')} (pid ${SERVER_PID || '?'})` : ''}; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  const failed = new Set<string>();
  for (const line of await check(c, paths, failed)) console.log(line);
  console.log(await commBytes(c));
  console.log('async inserts (Code 48 "both inlined and external data"?):');
  for (const line of await asyncInsertProbe(c, synthRecords(1000, false, 5))) console.log(line);

  const rec = synthRecords(N, false, 11);
  const expected = decodeBatch(rec, CTX).rows.length;
  for (const kind of kinds) await exec(c, kind, 'SYSTEM STOP MERGES');
  const res = new Map<string, Array<{ rps: number; rpc: number; cpuSelf: number; cpuServer: number; load: string }>>();
  const timed = paths.filter((p) => !failed.has(p.name));
  for (let rep = 0; rep < REPS; rep++) {
    const order = timed.map((_, i) => timed[(i + rep) % timed.length]);
    for (const p of order) {
      await truncateAll(c, p.kind);
      const la = load();
      const s0 = selfCpuS(), v0 = serverCpuS(), t0 = process.hrtime.bigint();
      for (let i = 0; i < N; i += BATCH) await p.insert(c, rec.subarray(i * RECORD_SIZE, Math.min(N, i + BATCH) * RECORD_SIZE), `r${rep}-${p.name}-${i}`);
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpuSelf = selfCpuS() - s0, cpuServer = p.kind === 'server' ? serverCpuS() - v0 : 0;
      const stored = Number((await sql(c, p.kind, 'SELECT count() FROM v2e.events')).split('\n')[1]);
      if (stored !== expected) throw new Error(`${p.name}: stored ${stored} of ${expected}`);
      const r = { rps: expected / wall, rpc: expected / (cpuSelf + cpuServer), cpuSelf, cpuServer, load: la };
      (res.get(p.name) ?? res.set(p.name, []).get(p.name)!).push(r);
      console.log(`  rep ${rep} ${p.name.padEnd(17)} ${Math.round(r.rps).toString().padStart(9)} rows/s  ${Math.round(r.rpc).toString().padStart(9)} rows/CPU-s  (cpu ${cpuSelf.toFixed(2)} s self + ${cpuServer.toFixed(2)} s server, wall ${wall.toFixed(2)} s, load ${la})`);
    }
  }
  for (const kind of kinds) await exec(c, kind, 'SYSTEM START MERGES');

  console.log(`\n| path | what | rows/s wall (median; min–max) | rows per CPU-s (median; min–max) | × today, paired per rep: wall / CPU (median) | CPU-s self / server (median) | load at start (1-min) |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const p of timed) {
    const rs = res.get(p.name)!;
    const fmt = (xs: number[]) => `${Math.round(median(xs)).toLocaleString('en')} (${Math.round(Math.min(...xs)).toLocaleString('en')}–${Math.round(Math.max(...xs)).toLocaleString('en')})`;
    const base = res.get(`${p.kind}.json`);
    const ratio = (k: 'rps' | 'rpc') => (base ? `${median(rs.map((r, i) => r[k] / base[i][k])).toFixed(2)}` : '–');
    console.log(`| ${p.name} | ${p.what} | ${fmt(rs.map((r) => r.rps))} | ${fmt(rs.map((r) => r.rpc))} | ${ratio('rps')} / ${ratio('rpc')} | ${median(rs.map((r) => r.cpuSelf)).toFixed(2)} / ${median(rs.map((r) => r.cpuServer)).toFixed(2)} | ${rs.map((r) => r.load).join(', ')} |`);
  }
  if (c.server) { await c.server.store.exec('DROP DATABASE IF EXISTS v2e SYNC'); await c.server.store.close(); }
  await chdb.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(TMP, { recursive: true, force: true });
}

await main();
