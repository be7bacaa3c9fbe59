/**
 * bench/pipeline.ts — the fleet pipeline's numbers, in one run, for both
 * envelope paths side by side: `rows` (version 1: event rows as JSON columns,
 * the previous path) and `records` (version 2: the ring buffer's records,
 * kafka/envelope-records.ts), on the same synthetic events:
 *   1. envelope codecs: bytes/event and encode/decode CPU per event (no broker),
 *   2. producer: batches/s and bytes/event on the wire through a real broker,
 *   3. ingester: rows/s into the store, and rows per CPU-second (this process,
 *      chDB's threads included; with --server-pid the server's CPU added),
 *   4. event → queryable latency p50/p99 (collector encode → insert acknowledged)
 *      at a steady 10 batches/s.
 * Usage: node dist/bench/pipeline.js [BROKERS] [events=400000] [batch=5000]
 *        [--paths rows,records] [--store DSN --server-pid PID]
 * (BROKERS defaults to $KAFKA_BROKERS, else `scripts/kafka.sh brokers`.)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { readFileSync } from 'node:fs';
import { decodeEnvelope, decodeMessage, DEFAULT_CODEC, encodeEnvelope, type Codec } from '../kafka/envelope.js';
import { DEFAULT_RECORD_CODEC, encodeRecordsEnvelope } from '../kafka/envelope-records.js';
import { PROBES, RECORD_SIZE } from '../schema/event.js';
import { OFF } from '../schema/records.js';
import type { RecordBatch } from '../collector/pipeline/records.js';
import { KafkaSink } from '../collector/sinks/kafka.js';
import { ensureTopics } from '../kafka/client.js';
import { Ingester } from '../ingester/ingester.js';
import { applySchema } from '../schema/ddl.js';
import type { EventRow } from '../schema/event.js';
import { openStore } from '../store/index.js';

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv.splice(i, 2)[1] : undefined;
};
const PATHS = (flag('--paths') ?? 'rows,records').split(',') as Array<'rows' | 'records'>;
const STORE = flag('--store');
const SERVER_PID = flag('--server-pid');
const args = argv;
const brokers =
  args[0] && args[0].includes(':')
    ? args[0]
    : process.env.KAFKA_BROKERS ?? execFileSync('bash', ['scripts/kafka.sh', 'brokers'], { encoding: 'utf8' }).trim();
const EVENTS = Number(args[1] ?? 400_000);
const BATCH = Number(args[2] ?? 5000);
const log = pino({ level: 'warn' }, pino.destination({ fd: 2, sync: true }));

const COMMS = ['v2broker', 'svc-orders', 'svc-auth', 'svc-cart', 'postgres', 'nginx', 'kworker/0:1'];
let idSeq = 0;
/** Realistic-looking rows: few hosts/comms/pids, log-normal latencies, increasing ts. */
function rows(host: string, n: number): EventRow[] {
  const out: EventRow[] = [];
  let ts = BigInt(Date.now()) * 1_000_000n;
  for (let i = 0; i < n; i++) {
    ts += BigInt(1000 + Math.floor(Math.random() * 50_000));
    const k = Math.floor(Math.random() * COMMS.length);
    const lat = Math.floor(Math.exp(8 + Math.random() * 4));
    out.push({ ts: ts.toString(), host, probe: 'uds', event: i % 2 ? 'sendmsg' : 'recvmsg', pid: 4000 + k, tid: 4000 + k * 3 + (i % 3), comm: COMMS[k], value: lat, weight: 1000, cpu: i % 2, fd: 5 + (i % 4), ret: 64 + (i % 5) * 64 });
    idSeq++;
  }
  return out;
}

/** The same events as ring-buffer records (the records path): what `rows()` makes, in the record layout. */
function records(n: number): Buffer {
  const b = Buffer.alloc(n * RECORD_SIZE);
  let ts = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const o = i * RECORD_SIZE;
    ts += BigInt(1000 + Math.floor(Math.random() * 50_000));
    const k = Math.floor(Math.random() * COMMS.length);
    b.writeBigUInt64LE(ts, o + OFF.ts);
    b.writeBigInt64LE(BigInt(Math.floor(Math.exp(8 + Math.random() * 4))), o + OFF.value);
    b.writeBigInt64LE(BigInt(5 + (i % 4)), o + OFF.arg0);
    b.writeBigInt64LE(BigInt(64 + (i % 5) * 64), o + OFF.arg1);
    b.writeUInt32LE(4000 + k, o + OFF.pid);
    b.writeUInt32LE(4000 + k * 3 + (i % 3), o + OFF.tid);
    b.writeUInt32LE(1000, o + OFF.weight);
    b[o + OFF.probe] = PROBES.uds.id;
    b[o + OFF.event] = i % 2 ? PROBES.uds.events.indexOf('sendmsg') : PROBES.uds.events.indexOf('recvmsg');
    b.writeUInt16LE(i % 2, o + OFF.cpu);
    b.write(COMMS[k], o + OFF.comm, 'latin1');
  }
  return b;
}
const monoToWall = () => BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
const batchOf = (host: string, n: number): RecordBatch => ({ records: records(n), rows: n, ctx: { host, monoToWallNs: monoToWall() }, token: '' });

/** CPU-seconds of the store server (utime+stime from /proc), 0 without --server-pid. */
function serverCpuS(): number {
  if (!SERVER_PID) return 0;
  const stat = readFileSync(`/proc/${SERVER_PID}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

type Path = 'rows' | 'records';
interface PathResult {
  codecs: Record<string, { bytes: number; encUs: number; decUs: number }>;
  producer: { batchesPerS: number; eventsPerS: number; bytesPerEvent: number; cpuUsPerEvent: number };
  ingester: { rowsPerS: number; rowsPerCpuS: number; cpuS: number; serverCpuS: number };
  latencyMs: { p50: number; p99: number };
}

async function runPath(path: Path): Promise<PathResult> {
  const label = path === 'rows' ? 'rows (envelope v1, previous path)' : 'records (envelope v2)';
  console.log(`\n== ${label} ==`);
  // 1. codecs
  const n = 20 * BATCH;
  const codecs: PathResult['codecs'] = {};
  console.log(`envelope codecs (${BATCH} events/batch):`);
  for (const codec of ['none', 'gzip', 'brotli'] as Codec[]) {
    const rowSample = path === 'rows' ? Array.from({ length: 20 }, () => rows('bench-host-01', BATCH)) : [];
    const recSample = path === 'records' ? Array.from({ length: 20 }, () => records(BATCH)) : [];
    let c0 = process.cpuUsage();
    const bufs =
      path === 'rows'
        ? rowSample.map((b, i) => encodeEnvelope('events', b, { host: 'bench-host-01', session: 's', seq: i }, codec))
        : recSample.map((b, i) => encodeRecordsEnvelope(b, { host: 'bench-host-01', session: 's', seq: i, monoToWallNs: monoToWall() }, codec));
    const enc = process.cpuUsage(c0);
    const bytes = bufs.reduce((a, b) => a + b.length, 0);
    c0 = process.cpuUsage();
    for (const b of bufs) decodeMessage(b); // what the ingester does: rows validated (v1), header + checksum (v2)
    const dec = process.cpuUsage(c0);
    codecs[codec] = { bytes: bytes / n, encUs: (enc.user + enc.system) / n, decUs: (dec.user + dec.system) / n };
    console.log(`  ${codec.padEnd(7)} ${(bytes / n).toFixed(2).padStart(7)} bytes/event   encode ${codecs[codec].encUs.toFixed(2)} µs/event CPU   decode+validate ${codecs[codec].decUs.toFixed(2)} µs/event CPU`);
  }
  if (path === 'records') {
    // the records path's rows equal the rows path's for the same events (spot check of the bench's own data)
    const b = records(100);
    const env = decodeEnvelope(encodeRecordsEnvelope(b, { host: 'h', session: 's', seq: 0, monoToWallNs: 0n }));
    if (env.rows.length !== 100) throw new Error('records path: decode check failed');
  }

  // 2. producer
  const topic = `bench-${path}-${Date.now().toString(36)}`;
  await ensureTopics([brokers], [{ topic, partitions: 4 }]);
  const hosts = ['bench-host-01', 'bench-host-02', 'bench-host-03', 'bench-host-04'];
  const spool = mkdtempSync(join(tmpdir(), 'v2probe-bench-spool-'));
  const sinks = await Promise.all(hosts.map((h) => new KafkaSink({ brokers: [brokers], topic, spoolDir: join(spool, h) }, { host: h, logger: log }).open()));
  const perHost = Math.floor(EVENTS / hosts.length / BATCH);
  const pre = hosts.map((h) => Array.from({ length: perHost }, () => (path === 'rows' ? rows(h, BATCH) : batchOf(h, BATCH))));
  const p0 = process.cpuUsage();
  let t = performance.now();
  await Promise.all(sinks.map(async (s, h) => {
    for (const b of pre[h]) await (path === 'rows' ? s.writeEvents(b as EventRow[]) : s.writeRecords(b as RecordBatch));
  }));
  const prodS = (performance.now() - t) / 1000;
  const pc = process.cpuUsage(p0);
  const st = sinks.map((s) => s.snapshotStats());
  const msgs = st.reduce((a, s) => a + s.messages, 0);
  const sentRows = st.reduce((a, s) => a + s.rows, 0);
  const wire = st.reduce((a, s) => a + s.wireBytes, 0);
  const producer = { batchesPerS: msgs / prodS, eventsPerS: sentRows / prodS, bytesPerEvent: wire / sentRows, cpuUsPerEvent: (pc.user + pc.system) / sentRows };
  console.log(`producer (${path === 'rows' ? DEFAULT_CODEC : DEFAULT_RECORD_CODEC}, idempotent, acks=all, 4 hosts): ${msgs} messages in ${prodS.toFixed(2)} s = ${producer.eventsPerS.toFixed(0)} events/s, ${producer.bytesPerEvent.toFixed(2)} bytes/event on the wire, ${producer.cpuUsPerEvent.toFixed(2)} µs CPU/event (encode + kafkajs)`);

  // 3. ingester throughput
  const dir = mkdtempSync(join(tmpdir(), 'v2probe-bench-store-'));
  const store = await openStore(STORE ?? `chdb:${dir}`);
  await applySchema(store);
  const lat: number[] = [];
  let measuring = false;
  const ing = new Ingester({ brokers: [brokers], topic, groupId: `bench-${topic}`, dlqTopic: `${topic}.dlq`, store, logger: log, onStored: (l) => measuring && lat.push(...l) });
  await ensureTopics([brokers], [{ topic: `${topic}.dlq`, partitions: 1 }]);
  const cpu0 = process.cpuUsage();
  const srv0 = serverCpuS();
  t = performance.now();
  await ing.start();
  while (ing.stats.rows < sentRows) await new Promise((r) => setTimeout(r, 50));
  const ingS = (performance.now() - t) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const srvS = serverCpuS() - srv0;
  const ingester = { rowsPerS: sentRows / ingS, rowsPerCpuS: sentRows / (cpuS + srvS), cpuS, serverCpuS: srvS };
  console.log(`ingester → ${STORE ? store.dsn : 'chDB'}: ${sentRows} rows in ${ingS.toFixed(2)} s (from group join) = ${ingester.rowsPerS.toFixed(0)} rows/s; ${ingester.rowsPerCpuS.toFixed(0)} rows per CPU-second (this process ${cpuS.toFixed(2)} s${SERVER_PID ? ` + server ${srvS.toFixed(2)} s` : ', chDB threads included'}; ${ing.stats.ranges} insert ranges)`);

  // 4. latency at a steady rate
  measuring = true;
  const steady = 100;
  for (let i = 0; i < steady; i++) {
    const h = hosts[i % 4];
    await (path === 'rows' ? sinks[i % 4].writeEvents(rows(h, 1000)) : sinks[i % 4].writeRecords(batchOf(h, 1000)));
    await new Promise((r) => setTimeout(r, 100));
  }
  while (lat.length < steady) await new Promise((r) => setTimeout(r, 50));
  const latencyMs = { p50: pct(lat, 50), p99: pct(lat, 99) };
  console.log(`event → queryable (encode → insert acknowledged, 10 batches/s of 1000): p50 ${latencyMs.p50} ms, p99 ${latencyMs.p99} ms, max ${Math.max(...lat)} ms`);
  await ing.stop();
  await Promise.all(sinks.map((s) => s.close()));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(spool, { recursive: true, force: true });
  return { codecs, producer, ingester, latencyMs };
}

async function main(): Promise<void> {
  const json = sample0();
  console.log(`${EVENTS} events per path, batches of ${BATCH}; NDJSON rows would be ${json.toFixed(1)} bytes/event; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const out: Partial<Record<Path, PathResult>> = {};
  for (const p of PATHS) out[p] = await runPath(p);
  console.log(`\nload at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  // the report's keys (bench/run-all.ts) are the records path's when it ran, with the previous path beside them
  const main = out.records ?? out.rows!;
  console.log(JSON.stringify({ codecs: main.codecs, producer: main.producer, ingester: main.ingester, latencyMs: main.latencyMs, paths: out }));
  process.exit(0);
}

function sample0(): number {
  const r = rows('bench-host-01', 2000);
  return Buffer.byteLength(r.map((x) => JSON.stringify(x)).join('\n')) / r.length;
}

await main();
