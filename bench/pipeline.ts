/**
 * bench/pipeline.ts — the fleet pipeline's numbers, in one run:
 *   1. envelope codecs: bytes/event and encode/decode CPU per event (no broker),
 *   2. producer: batches/s and bytes/event on the wire through a real broker,
 *   3. ingester: rows/s into chDB, and rows per CPU-second of this process,
 *   4. event → queryable latency p50/p99 (collector encode → insert acknowledged)
 *      at a steady 10 batches/s.
 * Usage: node dist/bench/pipeline.js [BROKERS] [events=400000] [batch=5000]
 * (BROKERS defaults to $KAFKA_BROKERS, else `scripts/kafka.sh brokers`.)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { decodeEnvelope, DEFAULT_CODEC, encodeEnvelope, type Codec } from '../kafka/envelope.js';
import { KafkaSink } from '../collector/sinks/kafka.js';
import { ensureTopics } from '../kafka/client.js';
import { Ingester } from '../ingester/ingester.js';
import { applySchema } from '../schema/ddl.js';
import type { EventRow } from '../schema/event.js';
import { openStore } from '../store/index.js';

const args = process.argv.slice(2);
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

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function main(): Promise<void> {
  // 1. codecs
  const sample = Array.from({ length: 20 }, () => rows('bench-host-01', BATCH));
  const json = sample.reduce((a, b) => a + Buffer.byteLength(b.map((r) => JSON.stringify(r)).join('\n')), 0) / (20 * BATCH);
  console.log(`envelope codecs (${BATCH} rows/batch; NDJSON rows would be ${json.toFixed(1)} bytes/event):`);
  const codecStats: Record<string, { bytes: number; encUs: number; decUs: number }> = {};
  for (const codec of ['none', 'gzip', 'brotli'] as Codec[]) {
    let bytes = 0;
    let t = performance.now();
    const bufs = sample.map((b, i) => encodeEnvelope('events', b, { host: 'bench-host-01', session: 's', seq: i }, codec));
    const enc = performance.now() - t;
    for (const b of bufs) bytes += b.length;
    t = performance.now();
    for (const b of bufs) decodeEnvelope(b);
    const dec = performance.now() - t;
    const n = 20 * BATCH;
    codecStats[codec] = { bytes: bytes / n, encUs: (enc * 1000) / n, decUs: (dec * 1000) / n };
    console.log(`  ${codec.padEnd(7)} ${(bytes / n).toFixed(2).padStart(7)} bytes/event   encode ${((enc * 1000) / n).toFixed(2)} µs/event   decode+validate ${((dec * 1000) / n).toFixed(2)} µs/event`);
  }

  // 2. producer
  const topic = `bench-${Date.now().toString(36)}`;
  await ensureTopics([brokers], [{ topic, partitions: 4 }]);
  const hosts = ['bench-host-01', 'bench-host-02', 'bench-host-03', 'bench-host-04'];
  const spool = mkdtempSync(join(tmpdir(), 'v2probe-bench-spool-'));
  const sinks = await Promise.all(hosts.map((h) => new KafkaSink({ brokers: [brokers], topic, spoolDir: join(spool, h) }, { host: h, logger: log }).open()));
  const perHost = Math.floor(EVENTS / hosts.length / BATCH);
  const batchesPre = hosts.map(() => Array.from({ length: perHost }, (_, i) => i)).map((l, h) => l.map(() => rows(hosts[h], BATCH)));
  let t = performance.now();
  await Promise.all(sinks.map(async (s, h) => {
    for (const b of batchesPre[h]) await s.writeEvents(b);
  }));
  const prodS = (performance.now() - t) / 1000;
  const st = sinks.map((s) => s.snapshotStats());
  const msgs = st.reduce((a, s) => a + s.messages, 0);
  const sentRows = st.reduce((a, s) => a + s.rows, 0);
  const wire = st.reduce((a, s) => a + s.wireBytes, 0);
  console.log(`producer (${DEFAULT_CODEC} envelope, idempotent, acks=all, 4 hosts): ${msgs} batches of ${BATCH} in ${prodS.toFixed(2)} s = ${(msgs / prodS).toFixed(0)} batches/s, ${(sentRows / prodS).toFixed(0)} events/s, ${(wire / sentRows).toFixed(2)} bytes/event on the wire`);

  // 3. ingester throughput
  const dir = mkdtempSync(join(tmpdir(), 'v2probe-bench-store-'));
  const store = await openStore(`chdb:${dir}`);
  await applySchema(store);
  const lat: number[] = [];
  let measuring = false;
  const ing = new Ingester({ brokers: [brokers], topic, groupId: `bench-${topic}`, dlqTopic: `${topic}.dlq`, store, logger: log, onStored: (l) => measuring && lat.push(...l) });
  await ensureTopics([brokers], [{ topic: `${topic}.dlq`, partitions: 1 }]);
  const cpu0 = process.cpuUsage();
  t = performance.now();
  await ing.start();
  while (ing.stats.rows < sentRows) await new Promise((r) => setTimeout(r, 50));
  const ingS = (performance.now() - t) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  console.log(`ingester → chDB: ${sentRows} rows in ${ingS.toFixed(2)} s (from group join) = ${(sentRows / ingS).toFixed(0)} rows/s; ${(sentRows / cpuS).toFixed(0)} rows per CPU-second of the process (chDB insert threads included; ${ing.stats.ranges} insert ranges)`);

  // 4. latency at a steady rate
  measuring = true;
  const steady = 100;
  for (let i = 0; i < steady; i++) {
    await sinks[i % 4].writeEvents(rows(hosts[i % 4], 1000));
    await new Promise((r) => setTimeout(r, 100));
  }
  while (lat.length < steady) await new Promise((r) => setTimeout(r, 50));
  console.log(`event → queryable (encode → insert acknowledged, 10 batches/s of 1000): p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms, max ${Math.max(...lat)} ms`);
  await ing.stop();
  await Promise.all(sinks.map((s) => s.close()));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(spool, { recursive: true, force: true });
  console.log(JSON.stringify({ codecs: codecStats, producer: { batchesPerS: msgs / prodS, bytesPerEvent: wire / sentRows }, ingester: { rowsPerS: sentRows / ingS, rowsPerCpuS: sentRows / cpuS }, latencyMs: { p50: pct(lat, 50), p99: pct(lat, 99) } }));
  process.exit(0);
}

await main();
