// Shared by the pipeline/ingester tests: a real broker (scripts/kafka.sh, or
// KAFKA_BROKERS from .ci/run), topics, synthetic events with known ids, an
// ingester child process, and "wait until the group has consumed everything".
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTopics, makeKafka } from '../../kafka/client.js';
import { PROBES, RECORD_SIZE, type EventRow } from '../../schema/event.js';
import { OFF } from '../../schema/records.js';
import type { RecordBatch } from '../../collector/pipeline/records.js';
import { BIN, ROOT, runCli } from '../helpers/cli.js';

export function ensureKafka(): string {
  if (process.env.KAFKA_BROKERS) return process.env.KAFKA_BROKERS;
  const out = execFileSync('bash', [join(ROOT, 'scripts/kafka.sh'), 'start'], { encoding: 'utf8', timeout: 170_000 });
  const m = /KAFKA_BROKERS=(\S+)/.exec(out);
  if (!m) throw new Error(`scripts/kafka.sh start printed no address: ${out}`);
  process.env.KAFKA_BROKERS = m[1];
  return m[1];
}

export const uniq = (p: string) => `${p}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
export const tmp = (p: string) => mkdtempSync(join(tmpdir(), `v2probe-${p}-`));

export async function createTopic(brokers: string, topic: string, partitions: number): Promise<void> {
  await ensureTopics([brokers], [{ topic, partitions }]);
}

/**
 * The same events as ring-buffer records (`struct v2_event`, RECORD_FIELDS):
 * uds sendmsg, comm 'synth', `value` the id first..first+n-1, weight 1, and
 * the clock offset that makes `ts` now (for version-2 envelopes and writeRecords).
 */
export function syntheticRecords(first: number, n: number): { records: Buffer; monoToWallNs: bigint } {
  const records = Buffer.alloc(n * RECORD_SIZE);
  const mono = 1_000_000_000n;
  for (let i = 0; i < n; i++) {
    const o = i * RECORD_SIZE;
    records.writeBigUInt64LE(mono + BigInt(i), o + OFF.ts);
    records.writeBigInt64LE(BigInt(first + i), o + OFF.value);
    records.writeBigInt64LE(3n, o + OFF.arg0); // fd
    records.writeBigInt64LE(64n, o + OFF.arg1); // ret
    records.writeUInt32LE(1000 + (i % 7), o + OFF.pid);
    records.writeUInt32LE(1000 + (i % 7), o + OFF.tid);
    records.writeUInt32LE(1, o + OFF.weight);
    records[o + OFF.probe] = PROBES.uds.id;
    records[o + OFF.event] = PROBES.uds.events.indexOf('sendmsg');
    records.writeUInt16LE(i % 2, o + OFF.cpu);
    records.write('synth', o + OFF.comm, 'latin1');
  }
  return { records, monoToWallNs: BigInt(Date.now()) * 1_000_000n - mono };
}

/** syntheticRecords as the collector's binary queue hands them to a sink (Sink.writeRecords). */
export function recordBatch(host: string, first: number, n: number): RecordBatch {
  const { records, monoToWallNs } = syntheticRecords(first, n);
  return { records, rows: n, ctx: { host, monoToWallNs }, token: `${host}:${first}` };
}

/** Synthetic event rows whose `value` is a unique id (first..first+n-1). */
export function syntheticEvents(host: string, first: number, n: number): EventRow[] {
  const base = BigInt(Date.now()) * 1_000_000n;
  const out: EventRow[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ ts: (base + BigInt(i)).toString(), host, probe: 'uds', event: 'sendmsg', pid: 1000 + (i % 7), tid: 1000 + (i % 7), comm: 'synth', value: first + i, weight: 1, cpu: i % 2, fd: 3, ret: 64 });
  }
  return out;
}

export function startIngester(brokers: string, topic: string, store: string, extra: string[] = [], env: Record<string, string> = {}): ChildProcess & { log: string[] } {
  const child = spawn(process.execPath, [BIN, 'ingest', '--kafka', brokers, '--topic', topic, '--store', store, '--metrics', 'off', ...extra], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, V2PROBE_LOG_LEVEL: 'info', ...env },
  }) as ChildProcess & { log: string[] };
  child.log = [];
  child.stderr!.setEncoding('utf8').on('data', (d: string) => child.log.push(d));
  return child;
}

export function stopChild(c: ChildProcess, sig: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve(c.exitCode);
    c.once('exit', (code) => resolve(code));
    c.kill(sig);
  });
}

/**
 * Committed offsets of the group == end offsets of the topic (everything consumed and committed).
 * `timeoutMs` bounds a stall, not the whole wait: it fails only when the committed offsets did
 * not move for that long (a loaded machine ingests slowly, a stuck ingester not at all).
 */
export async function waitConsumed(brokers: string, group: string, topic: string, timeoutMs = 90_000): Promise<void> {
  const admin = makeKafka([brokers]).admin();
  await admin.connect();
  try {
    let until = Date.now() + timeoutMs;
    let progress = -1n;
    for (;;) {
      const ends = await admin.fetchTopicOffsets(topic);
      const got = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const committed = new Map(got[0].partitions.map((p) => [p.partition, BigInt(p.offset)]));
      const behind = ends.filter((e) => BigInt(e.high) > 0n && (committed.get(e.partition) ?? -1n) < BigInt(e.high));
      if (behind.length === 0) return;
      const sum = [...committed.values()].reduce((a, b) => a + (b > 0n ? b : 0n), 0n);
      if (sum > progress) {
        progress = sum;
        until = Date.now() + timeoutMs;
      }
      if (Date.now() > until) throw new Error(`group ${group} still behind on ${topic}, no commit for ${timeoutMs / 1000} s: ${JSON.stringify(behind.map((b) => [b.partition, b.high, String(committed.get(b.partition))]))}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await admin.disconnect();
  }
}

/** Run SQL through `v2probe query` (a separate process: chDB is one engine per process). */
export function queryJson<T = Record<string, unknown>>(store: string, sql: string): T[] {
  const r = runCli(['query', '--store', store, '--format', 'json', sql]);
  if (r.code !== 0) throw new Error(`query failed (${r.code}): ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
}

/** Wait until the child's stderr contains `text` (or it exits / times out). */
export async function waitLog(c: ChildProcess & { log: string[] }, text: string, timeoutMs = 60_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (c.log.join('').includes(text)) return true;
    if (c.exitCode !== null || c.signalCode !== null) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Run an ingester in a new consumer group until it has consumed all of topic into store, then stop it (gracefully, exit 0). */
export async function ingestAll(brokers: string, topic: string, store: string): Promise<void> {
  const group = uniq('g');
  const ing = startIngester(brokers, topic, store, ['--group', group]);
  expect(await waitLog(ing, '"msg":"ingesting"')).toBe(true);
  await waitConsumed(brokers, group, topic);
  expect(await stopChild(ing)).toBe(0);
}
