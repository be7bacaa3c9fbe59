/**
 * bench/store-insert.ts — how fast rows reach chDB by each insert path, and
 * how many bytes a row takes on disk with the DDL's codecs vs none.
 *   node dist/bench/store-insert.js [rows=200000] [batch=10000]
 * Paths: JSONEachRow (chdb raw insert of a Buffer), JSONCompactEachRow, and
 * RowBinary written to a temp file and read with file().
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import { EVENT_COLUMNS, type EventRow } from '../schema/event.js';
import { schemaStatements } from '../schema/ddl.js';

const N = Number(process.argv[2] ?? 200_000);
const BATCH = Number(process.argv[3] ?? 10_000);

function synthRows(n: number): EventRow[] {
  const rows: EventRow[] = [];
  let ts = BigInt(Date.now()) * 1_000_000n - BigInt(n) * 60_000n;
  const comms = ['v2broker', 'v2e-api', 'v2e-auth', 'v2e-store', 'postgres'];
  for (let i = 0; i < n; i++) {
    ts += BigInt(1000 + ((i * 7919) % 50_000));
    const c = i % comms.length;
    rows.push({
      ts: ts.toString(), host: 'bench-host', probe: 'uds', event: i % 2 ? 'recvmsg' : 'sendmsg',
      pid: 1000 + c, tid: 1000 + c * 10 + (i % 4), comm: comms[c], value: 20_000 + ((i * 2654435761) % 4_000_000) / 100 | 0,
      weight: 1000, cpu: i % 2, fd: 5 + (i % 3), ret: 64,
    });
  }
  return rows;
}

function varint(n: number, out: number[]): void {
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n >>>= 7; }
  out.push(n);
}

/** RowBinary of events in EVENT_COLUMNS order. */
function rowBinary(rows: EventRow[]): Buffer {
  const parts: Buffer[] = [];
  for (const r of rows) {
    const b = Buffer.alloc(128);
    let o = 0;
    const str = (s: string) => { const bytes = Buffer.from(s); const v: number[] = []; varint(bytes.length, v); for (const x of v) b[o++] = x; bytes.copy(b, o); o += bytes.length; };
    for (const c of EVENT_COLUMNS) {
      const v = (r as Record<string, unknown>)[c.name];
      switch (c.type) {
        case 'DateTime64(9)': b.writeBigInt64LE(BigInt(v as string), o); o += 8; break;
        case 'LowCardinality(String)': str(String(v ?? '')); break;
        case 'UInt32': b.writeUInt32LE(Number(v ?? 0), o); o += 4; break;
        case 'Int32': b.writeInt32LE(Number(v ?? 0), o); o += 4; break;
        case 'UInt16': b.writeUInt16LE(Number(v ?? 0), o); o += 2; break;
        case 'Int64': b.writeBigInt64LE(BigInt((v ?? 0) as number), o); o += 8; break;
        case 'UInt64': b.writeBigUInt64LE(BigInt((v ?? 0) as number), o); o += 8; break;
        default: throw new Error(`no RowBinary writer for ${c.type}`);
      }
    }
    parts.push(b.subarray(0, o));
  }
  return Buffer.concat(parts);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'v2bench-'));
  const s = new Session(join(dir, 'db'));
  for (const sql of schemaStatements()) s.query(sql);
  const plain = schemaStatements()[2].replace('v2e.events', 'v2e.events_nocodec').replace(/ CODEC\((?:[^()]|\([^()]*\))*\)/g, '');
  s.query(plain);
  const rows = synthRows(N);
  const structure = EVENT_COLUMNS.map((c) => `${c.name} ${c.type}`).join(', ');
  const results: Array<{ path: string; rowsPerSec: number; msPerBatch: number }> = [];

  const run = async (path: string, fn: (batch: EventRow[], i: number) => Promise<void>) => {
    s.query('TRUNCATE TABLE v2e.events');
    const t0 = process.hrtime.bigint();
    let batches = 0;
    for (let i = 0; i < rows.length; i += BATCH) { await fn(rows.slice(i, i + BATCH), batches); batches++; }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const n = Number(s.query('SELECT count() FROM v2e.events', 'CSV').trim());
    if (n !== rows.length) throw new Error(`${path}: stored ${n} of ${rows.length}`);
    results.push({ path, rowsPerSec: Math.round((rows.length * 1000) / ms), msPerBatch: +(ms / batches).toFixed(2) });
  };

  await run('JSONEachRow (Buffer, chdb raw insert)', async (b) => {
    let t = ''; for (const r of b) t += JSON.stringify(r) + '\n';
    await s.insert({ table: 'v2e.events', values: Buffer.from(t), format: 'JSONEachRow' });
  });
  const cols = EVENT_COLUMNS.map((c) => c.name);
  await run('JSONCompactEachRow (Buffer)', async (b) => {
    let t = ''; for (const r of b) t += JSON.stringify(cols.map((c) => (r as Record<string, unknown>)[c] ?? 0)) + '\n';
    await s.insert({ table: 'v2e.events', values: Buffer.from(t), format: 'JSONCompactEachRow' });
  });
  await run('RowBinary file + INSERT SELECT file()', async (b, i) => {
    const f = join(dir, `batch-${i}.bin`);
    writeFileSync(f, rowBinary(b));
    await s.queryAsync(`INSERT INTO v2e.events SELECT * FROM file('${f}', 'RowBinary', '${structure}')`);
    rmSync(f);
  });

  // bytes per row on disk: the DDL's codecs vs none, same rows, merged to one part
  s.query('INSERT INTO v2e.events_nocodec SELECT * FROM v2e.events');
  s.query('OPTIMIZE TABLE v2e.events FINAL');
  s.query('OPTIMIZE TABLE v2e.events_nocodec FINAL');
  const size = (t: string) => JSON.parse(s.query(`SELECT sum(data_compressed_bytes) AS c, sum(data_uncompressed_bytes) AS u, sum(rows) AS r FROM system.parts WHERE database='v2e' AND table='${t}' AND active`, 'JSONEachRow'));
  const a = size('events'); const b = size('events_nocodec');
  console.log(`store-insert: ${N} rows, batches of ${BATCH}, chDB ${s.query('SELECT version()', 'CSV').trim()}`);
  for (const r of results) console.log(`  ${r.path.padEnd(42)} ${String(r.rowsPerSec).padStart(9)} rows/s  ${r.msPerBatch} ms/batch`);
  console.log(`  on disk with DDL codecs: ${(a.c / a.r).toFixed(2)} bytes/row (uncompressed ${(a.u / a.r).toFixed(1)})`);
  console.log(`  on disk, default LZ4 only: ${(b.c / b.r).toFixed(2)} bytes/row`);
  s.close();
  rmSync(dir, { recursive: true, force: true });
}

await main();
