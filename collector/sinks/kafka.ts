/**
 * collector/sinks/kafka.ts — `--sink kafka://HOST:PORT/TOPIC`: the collector's
 * batches as versioned envelopes (kafka/envelope.ts) through an
 * idempotent kafkajs producer, keyed by host (a host's batches stay ordered in
 * one partition), at most MAX_ROWS_PER_MESSAGE rows / MAX_MESSAGE_BYTES each.
 * Events go as the ring buffer's records (version 2, kafka/envelope-records.ts:
 * the collector's binary queue hands them over, no row object per event);
 * counters and histograms as rows (version 1, kafka/envelope.ts).
 *
 * Kafka down or slow: a send that fails (after kafkajs' short retries) goes to
 * the on-disk spool, and so does every later batch until the spool is drained
 * in order by a background loop with backoff (so order per host is kept).
 * The spool is bounded; when full the oldest batches are dropped and counted
 * per probe as the `lost_spool` counter, which this sink adds to every counter
 * snapshot so that the store's loss ledger sees it. Nothing here blocks the
 * ring-buffer thread: the collector's Batcher hands batches over on the JS
 * thread, and a spooled write returns at disk speed.
 *
 * TLS/SASL (`kafkas://USER@HOST:PORT/TOPIC?ca=...&sasl=scram-sha-256`, see
 * kafka/security.ts): wrong credentials or an untrusted certificate
 * at start are a KafkaError (AUTH / TLS, exit 2); at run time (a password
 * rotated on the broker) they are send failures like any other — counted,
 * spooled, retried — and logged naming broker, protocol and mechanism.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Producer } from 'kafkajs';
import { pino, type Logger } from 'pino';
import type { CounterRow, EventRow, HistogramRow } from '../../schema/event.js';
import { CODECS, DEFAULT_CODEC, encodeEnvelope, type Codec, type Kind, type RowOf } from '../../kafka/envelope.js';
import { encodeRecordsEnvelope, recordCensus } from '../../kafka/envelope-records.js';
import { RECORD_SIZE } from '../../schema/event.js';
import type { RecordBatch } from '../pipeline/records.js';
import { checkKafka, KafkaError, kafkaFailure, makeKafka, resolveKafkaSink, type KafkaSinkSpec } from '../../kafka/client.js';
import { describeSecurity } from '../../kafka/security.js';
import { Spool } from './spool.js';
import { crashPoint } from '../../kafka/crash-point.js';
import type { Sink } from './sink.js';

export const MAX_ROWS_PER_MESSAGE = 20_000;
export const MAX_MESSAGE_BYTES = 900_000; // under the broker's default 1 MiB message.max.bytes
export const DEFAULT_SPOOL_BYTES = 256 << 20;

export interface KafkaSinkStats {
  messages: number;
  rows: number;
  wireBytes: number;
  spooled: number;
  spoolCount: number;
  spoolBytes: number;
  spoolDroppedMessages: number;
  sendErrors: number;
}

export class KafkaSink implements Sink {
  readonly name: string;
  readonly session = randomBytes(8).toString('hex');
  private seq = 0;
  private producer: Producer | undefined;
  private connected = false;
  private readonly spool: Spool;
  private draining: Promise<void> | undefined;
  private closed = false;
  private readonly lostSpoolSent = new Map<string, number>();
  readonly codec: Codec;
  readonly stats: KafkaSinkStats = { messages: 0, rows: 0, wireBytes: 0, spooled: 0, spoolCount: 0, spoolBytes: 0, spoolDroppedMessages: 0, sendErrors: 0 };

  constructor(
    readonly spec: KafkaSinkSpec,
    private readonly o: { host?: string; logger?: Logger } = {},
  ) {
    this.o = { ...o, logger: o.logger ?? pino({ level: process.env.V2PROBE_LOG_LEVEL ?? 'info', base: { app: 'v2probe' } }, pino.destination({ fd: 2, sync: true })) };
    const sec = spec.security;
    const user = sec?.sasl ? `${encodeURIComponent(sec.sasl.username)}@` : '';
    this.name = `${sec?.tls ? 'kafkas' : 'kafka'}://${user}${spec.brokers.join(',')}/${spec.topic}`;
    const codec = spec.codec ?? DEFAULT_CODEC;
    if (!(codec in CODECS)) throw new KafkaError('BAD_ADDRESS', `--sink: codec '${codec}' is not one of ${Object.keys(CODECS).join(', ')}`);
    this.codec = codec as Codec;
    const dir = resolve(spec.spoolDir ?? join('.v2probe', 'spool', spec.topic));
    this.spool = new Spool(dir, spec.spoolBytes ?? DEFAULT_SPOOL_BYTES);
  }

  /** Check the broker and topic (KafkaError UNREACHABLE/NO_TOPIC), connect the producer, resume a spool left on disk. */
  async open(): Promise<this> {
    const log = this.o.logger;
    const security = this.spec.security;
    for (const w of security?.warnings ?? []) log?.warn({ sink: this.name }, w);
    await checkKafka(this.spec.brokers, [this.spec.topic], security);
    const kafka = makeKafka(this.spec.brokers, {
      clientId: `v2probe-collector-${this.host}`,
      retries: 2,
      security,
      onLog: (_level, msg, extra) => log?.debug({ kafka: extra }, msg), // our own 'waiting for Kafka' line says it once
    });
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    try {
      await this.producer.connect();
    } catch (err) {
      throw kafkaFailure(err, this.spec.brokers, security);
    }
    if (security && security.protocol !== 'PLAINTEXT') log?.info({ sink: this.name, security: describeSecurity(security) }, 'Kafka connection secured');
    this.connected = true;
    if (this.spool.count > 0) {
      log?.info({ spooled: this.spool.count, bytes: this.spool.bytes, dir: this.spool.dir }, 'resuming spooled batches');
      this.kick();
    }
    return this;
  }

  get host(): string {
    return this.o.host ?? hostname();
  }

  writeEvents(rows: EventRow[]): Promise<void> {
    return this.write('events', rows);
  }

  /** Event records (the binary queue's batches) as version-2 envelopes: split by MAX_ROWS_PER_MESSAGE and MAX_MESSAGE_BYTES. */
  async writeRecords(b: RecordBatch): Promise<void> {
    const host = b.ctx.host || this.host;
    const n = Math.floor(b.records.length / RECORD_SIZE);
    const parts: Array<[number, number]> = [];
    for (let i = 0; i < n; i += MAX_ROWS_PER_MESSAGE) parts.push([i, Math.min(n, i + MAX_ROWS_PER_MESSAGE)]);
    while (parts.length) {
      const [from, to] = parts.shift()!;
      const records = b.records.subarray(from * RECORD_SIZE, to * RECORD_SIZE);
      const probes = recordCensus(records);
      const value = encodeRecordsEnvelope(records, { host, session: this.session, seq: this.seq, monoToWallNs: b.ctx.monoToWallNs }, this.codec, probes);
      if (value.length > MAX_MESSAGE_BYTES && to - from > 1) {
        const half = from + Math.ceil((to - from) / 2);
        parts.unshift([from, half], [half, to]);
        continue;
      }
      this.seq++;
      const counts: Record<string, number> = {};
      for (const [p, [rows]] of Object.entries(probes)) counts[p] = rows;
      await this.sendOrSpool(host, value, counts, to - from);
    }
  }

  writeCounters(rows: CounterRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    // collector-side loss past this sink: lost_spool per probe, cumulative and delta
    const host = rows[0].host;
    const ts = rows[0].ts;
    const probes = new Set(rows.filter((r) => r.pid === 0 && r.key === '').map((r) => r.probe));
    const extra: CounterRow[] = [];
    for (const p of probes) {
      const value = this.spool.dropped.get(p) ?? 0;
      const delta = value - (this.lostSpoolSent.get(p) ?? 0);
      this.lostSpoolSent.set(p, value);
      extra.push({ ts, host, probe: p, name: 'lost_spool', pid: 0, comm: '', key: '', value, delta });
    }
    return this.write('counters', [...rows, ...extra]);
  }

  writeHistograms(rows: HistogramRow[]): Promise<void> {
    return this.write('histograms', rows);
  }

  /** Encode (split so each message stays under the size bound) and send or spool. */
  async write<K extends Kind>(kind: K, rows: readonly RowOf<K>[]): Promise<void> {
    if (rows.length === 0) return;
    const host = (rows[0] as { host: string }).host || this.host;
    const parts: Array<readonly RowOf<K>[]> = [];
    for (let i = 0; i < rows.length; i += MAX_ROWS_PER_MESSAGE) parts.push(rows.slice(i, i + MAX_ROWS_PER_MESSAGE));
    while (parts.length) {
      const part = parts.shift()!;
      const value = encodeEnvelope(kind, part, { host, session: this.session, seq: this.seq }, this.codec);
      if (value.length > MAX_MESSAGE_BYTES && part.length > 1) {
        const half = Math.ceil(part.length / 2);
        parts.unshift(part.slice(0, half), part.slice(half));
        continue;
      }
      this.seq++;
      const counts: Record<string, number> = {};
      if (kind !== 'counters') for (const r of part) counts[(r as { probe: string }).probe] = (counts[(r as { probe: string }).probe] ?? 0) + 1;
      await this.sendOrSpool(host, value, counts, part.length);
    }
  }

  private async sendOrSpool(key: string, value: Buffer, counts: Record<string, number>, rows: number): Promise<void> {
    if (this.spool.count === 0 && this.connected && !this.draining) {
      try {
        await this.send(key, value, rows);
        crashPoint('produce');
        return;
      } catch (err) {
        this.stats.sendErrors++;
        this.connected = false;
        this.o.logger?.warn({ err: this.why(err), sink: this.name }, 'Kafka send failed: spooling to disk until it answers');
      }
    }
    this.spool.push(key, value, counts);
    crashPoint('spool');
    this.stats.spooled++;
    this.kick();
  }

  private async send(key: string, value: Buffer, rows: number): Promise<void> {
    await this.producer!.send({ topic: this.spec.topic, acks: -1, timeout: 10000, messages: [{ key, value }] });
    this.stats.messages++;
    this.stats.rows += rows;
    this.stats.wireBytes += value.length + key.length;
  }

  /** Drain the spool in order in the background, with backoff while Kafka does not answer. */
  private kick(): void {
    if (this.draining || this.closed) return;
    this.draining = (async () => {
      let backoff = 250;
      let lastLog = 0;
      while (this.spool.count > 0 && !this.closed) {
        const e = this.spool.peek()!;
        try {
          await this.send(e.key, e.value, Object.values(e.rows).reduce((a, b) => a + b, 0));
          crashPoint('spool-sent'); // acknowledged, still in the spool: the next start sends it again (the ingester drops the repeat)
          this.spool.remove(e.id);
          this.connected = true;
          backoff = 250;
        } catch (err) {
          this.stats.sendErrors++;
          if (Date.now() - lastLog > 5000) {
            lastLog = Date.now();
            this.o.logger?.warn(
              { err: this.why(err), spooled: this.spool.count, bytes: this.spool.bytes, retryInMs: backoff },
              `waiting for Kafka at ${this.spec.brokers.join(',')}`,
            );
          }
          await new Promise((r) => setTimeout(r, backoff));
          backoff = Math.min(backoff * 2, 5000);
        }
      }
      if (this.spool.count === 0) this.o.logger?.info({ sink: this.name }, 'spool drained');
    })().finally(() => {
      this.draining = undefined;
      if (this.spool.count > 0 && !this.closed) this.kick();
    });
  }

  /** A send failure as one line naming broker, protocol, mechanism (AUTH / TLS explained), never the password. */
  private why(err: unknown): string {
    return kafkaFailure(err, this.spec.brokers, this.spec.security).message;
  }

  snapshotStats(): KafkaSinkStats {
    return { ...this.stats, spoolCount: this.spool.count, spoolBytes: this.spool.bytes, spoolDroppedMessages: this.spool.droppedMessages };
  }

  /** Wait (up to `drainMs`) for the spool to drain; what is left stays on disk for the next start. */
  async close(drainMs = 15_000): Promise<void> {
    const until = Date.now() + drainMs;
    while (this.spool.count > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    if (this.spool.count > 0) this.o.logger?.warn({ spooled: this.spool.count, dir: this.spool.dir }, 'Kafka unreachable at exit: batches stay spooled on disk and are sent at the next start');
    this.closed = true;
    await this.draining?.catch(() => {});
    await this.producer?.disconnect().catch(() => {});
  }
}

/** Open a sink from its URL (security resolved with the environment's password) or from a resolved spec. */
export async function openKafkaSink(spec: string | KafkaSinkSpec, o: { host?: string; logger?: Logger } = {}): Promise<KafkaSink> {
  return new KafkaSink(typeof spec === 'string' ? resolveKafkaSink(spec) : spec, o).open();
}
