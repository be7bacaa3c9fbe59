/**
 * ingester/ingester.ts — Kafka → store, exactly once.
 *
 * A consumer group member (scale out by partition). For each fetched batch of a
 * partition it cuts ranges of messages [first, last] (bounded by rows), and for
 * each range, in this order:
 *   1. decodes every message; undecodable / wrong-version / invalid-row
 *      messages become dead letters (never a crash, never a blocked partition);
 *      a collector batch (host, session, seq) already stored from an earlier
 *      offset is a resend (collector killed between Kafka's ack and its spool
 *      removal): ledger status 'resent', its rows not stored again;
 *   2. inserts one ledger row per message into v2e.ingest_ledger,
 *   3. inserts the rows into v2e.events / counters / histograms, the event
 *      records of version-2 messages into v2e.events as one binary block
 *      (schema/raw.ts: the engine maps them; each message's host and clock
 *      offset by a group index after each record), and the dead letters into
 *      v2e.ingest_errors — every insert of the range carries the same
 *      insert_deduplication_token `topic:partition:first-last` (the records'
 *      `…:records`, the same table as the rows);
 *   4. produces the dead letters to the DLQ topic;
 *   5. commits offset last+1 — only after the store acknowledged.
 * After each step a named crash point (kafka/crash-point.ts: ledger,
 * insert:<table>, dlq, commit) lets a test SIGKILL the process right there.
 * A crash between 2 and 5 leaves the range in the ledger but not committed: the
 * next owner of the partition reads the newest ledger range and rebuilds exactly
 * that range (same messages, same token) whatever its fetch returned, so the
 * store drops the repeated blocks (tables have non_replicated_deduplication_window).
 * That is only right if a dedup record means "these rows are stored": chDB dies
 * with this process, and a kill between the engine's dedup-log append and the
 * rename that commits the part leaves a record for rows that are not there, so
 * the redo would be dropped and the range lost — the chDB store removes such
 * records when it opens the directory (store/chdb-recover.ts).
 * This is ClickHouse Kafka Connect's "state before processing" idea with the
 * state kept in the store itself, next to the data.
 */
import { hostname } from 'node:os';
import type { Consumer, EachBatchPayload, KafkaMessage, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { decodeMessage, isRecords, messageRows, peekEnvelope, type Message } from '../kafka/envelope.js';
import { writeRecords, type RecordsEnvelope } from '../kafka/envelope-records.js';
import { RAW_GROUPED_STRIDE, RAW_GROUPED_STRUCTURE, rawEventsSelect, type RawContext } from '../schema/raw.js';
import { kafkaFailure, makeKafka } from '../kafka/client.js';
import type { KafkaSecurity } from '../kafka/security.js';
import type { Store } from '../store/types.js';
import { crashPoint } from '../kafka/crash-point.js';
import { applyIngestSchema } from './ddl.js';
import type { IngestMetrics } from './metrics.js';
import { sqlString } from '../schema/sql.js';

export interface IngesterOptions {
  brokers: string[];
  /** TLS / SASL of the consumer and the DLQ producer (undefined: PLAINTEXT) */
  security?: KafkaSecurity;
  topic: string;
  groupId: string;
  dlqTopic: string;
  store: Store;
  logger: Logger;
  metrics?: IngestMetrics;
  /** called after each committed range with the collector-encode → insert-acknowledged latency (ms) of its messages */
  onStored?: (latencyMs: number[]) => void;
  /** rows per insert range (default 200k) */
  maxRows?: number;
  id?: string;
}

/** What a range stores, by table, and what goes to the DLQ. */
interface RangeRows {
  ledger: object[];
  events: object[];
  /** version-2 messages whose records the range stores */
  records: RecordsEnvelope[];
  counters: object[];
  histograms: object[];
  errors: object[];
  dead: Decoded[];
  /** collector-encode → now (ms) of each stored message */
  latencies: number[];
}

interface Decoded {
  offset: bigint;
  msg: KafkaMessage;
  env?: Message;
  err?: string;
}

const RAW_PREFIX = 4096;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Ingester {
  readonly id: string;
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  /** newest ledger range per partition (undefined: not read since the last join) */
  private ranges = new Map<number, { first: bigint; last: bigint } | null>();
  private stopping = false;
  stats = { messages: 0, rows: 0, dlq: 0, ranges: 0, redo: 0 };

  constructor(private readonly o: IngesterOptions) {
    this.id = o.id ?? `${hostname()}-${process.pid}`;
  }

  async start(): Promise<void> {
    await applyIngestSchema(this.o.store);
    const log = this.o.logger;
    const recovered = (this.o.store as { recovered?: Array<{ part: string; blockId: string }> }).recovered ?? [];
    if (recovered.length)
      log.warn(
        { parts: recovered.map((r) => r.part), blockIds: recovered.map((r) => r.blockId) },
        'store: removed the deduplication records of inserts a kill interrupted before their parts were committed (the redo of the range is stored, not dropped)',
      );
    const kafka = makeKafka(this.o.brokers, {
      clientId: `v2probe-ingester-${this.id}`,
      retries: 8,
      security: this.o.security,
      onLog: (level, msg, extra) => log[level === 'error' ? 'warn' : 'debug']({ kafka: extra }, msg),
    });
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await this.producer.connect();
    this.consumer = kafka.consumer({
      groupId: this.o.groupId,
      sessionTimeout: 6000,
      rebalanceTimeout: 10000,
      heartbeatInterval: 1000,
      maxBytesPerPartition: 8 << 20,
      maxBytes: 32 << 20,
      maxWaitTimeInMs: 250,
      allowAutoTopicCreation: false,
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      this.ranges.clear();
      log.info({ assignment: e.payload.memberAssignment }, 'joined the consumer group');
    });
    this.consumer.on(this.consumer.events.CRASH, (e) =>
      log.error({ err: e.payload.error ? kafkaFailure(e.payload.error, this.o.brokers, this.o.security).message : undefined, restart: e.payload.restart }, 'consumer crashed'),
    );
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.o.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (p) => this.onBatch(p),
    });
  }

  /** Finish the in-flight range, commit, leave the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer?.stop().catch(() => {});
    await this.consumer?.disconnect().catch(() => {});
    await this.producer?.disconnect().catch(() => {});
  }

  /** Run `fn` until it succeeds, with backoff, saying what it waits for; gives up only when stopping. */
  private async retrying<T>(what: string, fn: () => Promise<T>, alive: () => boolean): Promise<T> {
    let backoff = 250;
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await fn();
        if (attempt > 1) {
          this.o.logger.info({ what, attempts: attempt }, `${what}: ok again`);
          this.o.metrics?.waiting.set({ for: what }, 0);
        }
        return r;
      } catch (err) {
        if (!alive()) throw err;
        this.o.metrics?.waiting.set({ for: what }, 1);
        this.o.logger.warn({ err: (err as Error).message, retryInMs: backoff, attempt }, `waiting for ${what}`);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }

  private async newestRange(partition: number): Promise<{ first: bigint; last: bigint } | null> {
    if (this.ranges.has(partition)) return this.ranges.get(partition)!;
    const t = this.o.topic.replace(/'/g, '');
    const r = await this.o.store.queryRows<{ first_offset: string | number; last_offset: string | number }>(
      `SELECT first_offset, last_offset FROM v2e.ingest_ledger WHERE topic = '${t}' AND partition = ${partition} ORDER BY last_offset DESC LIMIT 1`,
    );
    const v = r.length ? { first: BigInt(r[0].first_offset), last: BigInt(r[0].last_offset) } : null;
    this.ranges.set(partition, v);
    return v;
  }

  private decode(msg: KafkaMessage): Decoded {
    const d: Decoded = { offset: BigInt(msg.offset), msg };
    try {
      d.env = decodeMessage(msg.value);
    } catch (err) {
      d.err = (err as Error).message;
    }
    return d;
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const alive = () => isRunning() && !isStale();
    const msgs = batch.messages;
    const maxRows = this.o.maxRows ?? 200_000;
    let i = 0;
    while (i < msgs.length && alive()) {
      const pending = await this.retrying('the store (ledger read)', () => this.newestRange(partition), alive);
      const firstOff = BigInt(msgs[i].offset);
      const chunk: Decoded[] = [];
      let redo = false;
      if (pending && firstOff >= pending.first && firstOff <= pending.last) {
        // an interrupted range: rebuild exactly [pending.first, pending.last]
        if (BigInt(batch.lastOffset()) < pending.last) {
          this.o.logger.info({ partition, from: String(firstOff), to: String(pending.last), have: batch.lastOffset() }, 'waiting for the whole interrupted range to be fetched');
          await sleep(200);
          this.consumer!.seek({ topic, partition, offset: String(firstOff) });
          return;
        }
        if (firstOff !== pending.first) this.o.logger.warn({ partition, at: String(firstOff), range: [String(pending.first), String(pending.last)] }, 'resuming inside a recorded range');
        while (i < msgs.length && BigInt(msgs[i].offset) <= pending.last) chunk.push(this.decode(msgs[i++]));
        redo = true;
      } else {
        let rows = 0;
        while (i < msgs.length && (chunk.length === 0 || rows < maxRows)) {
          const d = this.decode(msgs[i++]);
          rows += d.env ? messageRows(d.env) : 0;
          chunk.push(d);
        }
      }
      const ok = await this.processRange(topic, partition, chunk, redo, alive);
      if (!ok) return;
      resolveOffset(msgs[i - 1].offset);
      const hw = BigInt(batch.highWatermark);
      this.o.metrics?.lag.set({ topic, partition: String(partition) }, Number(hw - chunk[chunk.length - 1].offset - 1n));
      await heartbeat().catch(() => {});
    }
  }

  /**
   * The collector batches of this range already stored from an earlier offset: a
   * collector that was killed after Kafka acknowledged a spooled batch but before it
   * removed it from its spool sends the same envelope (host, session, seq) again at
   * its next start. A host's batches share one partition (keyed by host), so the
   * earlier copy is an earlier offset of this partition; only earlier offsets are
   * looked at, so a redo of this range finds exactly what its first attempt found.
   * Returns the offsets of the copies to skip (a copy earlier in this range
   * counts too: the first copy is the one stored).
   */
  private async resent(topic: string, partition: number, chunk: Decoded[], alive: () => boolean): Promise<Set<string>> {
    const key = (e: Message) => `${e.host}\0${e.session}\0${e.seq}`;
    const seen = new Set<string>();
    const dup = new Set<Decoded>();
    const sessions = new Map<string, { lo: number; hi: number }>();
    for (const d of chunk) {
      if (!d.env) continue;
      const k = key(d.env);
      if (seen.has(k)) dup.add(d);
      seen.add(k);
      const r = sessions.get(d.env.session) ?? { lo: d.env.seq, hi: d.env.seq };
      r.lo = Math.min(r.lo, d.env.seq);
      r.hi = Math.max(r.hi, d.env.seq);
      sessions.set(d.env.session, r);
    }
    const out = new Set<string>();
    for (const d of dup) out.add(`${d.offset}`);
    if (!sessions.size) return out;
    const where = [...sessions].map(([sess, r]) => `(session = ${sqlString(sess)} AND seq BETWEEN ${r.lo} AND ${r.hi})`).join(' OR ');
    const rows = await this.retrying('the store (ledger read)', () =>
      this.o.store.queryRows<{ host: string; session: string; seq: string | number }>(
        `SELECT DISTINCT host, session, seq FROM v2e.ingest_ledger WHERE topic = ${sqlString(topic)} AND partition = ${partition} AND offset < ${chunk[0].offset} AND status = 'ok' AND (${where})`,
      ), alive);
    const stored = new Set(rows.map((r) => `${r.host}\0${r.session}\0${Number(r.seq)}`));
    for (const d of chunk) if (d.env && stored.has(key(d.env))) out.add(`${d.offset}`);
    return out;
  }

  /** Ledger, inserts (one token), DLQ, commit. Returns false when the partition was lost (do not go on). */
  private async processRange(topic: string, partition: number, chunk: Decoded[], redo: boolean, alive: () => boolean): Promise<boolean> {
    const first = chunk[0].offset;
    const last = chunk[chunk.length - 1].offset;
    const token = `${topic}:${partition}:${first}-${last}`;
    let resent: Set<string>;
    try {
      resent = await this.resent(topic, partition, chunk, alive);
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message, partition, range: token }, 'ledger read abandoned (partition revoked or stopping)');
      return false;
    }
    const now = Date.now();
    const r = this.rangeRows(topic, partition, chunk, resent, now);
    const t0 = performance.now();
    if (!(await this.insertRange(partition, first, last, token, r, alive))) return false;
    this.o.metrics?.insertSeconds.observe((performance.now() - t0) / 1000);
    if (r.dead.length) await this.sendDeadLetters(topic, partition, r.dead, alive);
    try {
      await this.consumer!.commitOffsets([{ topic, partition, offset: String(last + 1n) }]);
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message, partition, range: token }, 'commit failed (rebalance?): the next owner redoes the range, the store drops the repeat');
      return false;
    }
    crashPoint('commit');
    this.countRange(chunk.length, r, redo, now);
    this.o.logger.debug({ partition, range: token, rows: r.events.length, records: r.records.length, dlq: r.dead.length, redo }, 'range stored');
    return true;
  }

  /**
   * The rows a range stores: one ledger row per message (per probe for events;
   * 'resent' for a collector's resend, 'dlq' for a dead letter), the decoded
   * rows by table, the dead letters, and each stored message's latency so far.
   */
  private rangeRows(topic: string, partition: number, chunk: Decoded[], resent: Set<string>, now: number): RangeRows {
    const r: RangeRows = { ledger: [], events: [], records: [], counters: [], histograms: [], errors: [], dead: [], latencies: [] };
    const { ledger, events, records, counters, histograms, errors, dead, latencies } = r;
    const first = chunk[0].offset;
    const last = chunk[chunk.length - 1].offset;
    const base = { ts: now, topic, partition, first_offset: String(first), last_offset: String(last), ingester: this.id };
    for (const d of chunk) {
      const off = { ...base, offset: String(d.offset) };
      if (d.env && resent.has(`${d.offset}`)) {
        // a collector's resend of a batch stored before: a ledger row says so, its rows are not stored again
        const e = d.env;
        ledger.push({ ...off, status: 'resent', kind: e.kind, host: e.host, probe: '', session: e.session, seq: e.seq, rows: messageRows(e), weight: 0, sent_ns: e.sentNs });
      } else if (d.env) {
        const e = d.env;
        const head = { ...off, status: 'ok', kind: e.kind, host: e.host, session: e.session, seq: e.seq, sent_ns: e.sentNs };
        if (isRecords(e)) {
          // per-probe rows and weight from the header (validated with the message's checksum), not from the records
          for (const [probe, [rows, weight]] of Object.entries(e.probes)) ledger.push({ ...head, probe, rows, weight });
          if (Object.keys(e.probes).length === 0) ledger.push({ ...head, probe: '', rows: 0, weight: 0 });
          records.push(e);
        } else if (e.kind === 'events') {
          const per = new Map<string, { rows: number; weight: number }>();
          for (const r of e.rows as Array<{ probe: string; weight: number }>) {
            const p = per.get(r.probe) ?? { rows: 0, weight: 0 };
            p.rows++;
            p.weight += r.weight;
            per.set(r.probe, p);
          }
          for (const [probe, p] of per) ledger.push({ ...head, probe, rows: p.rows, weight: p.weight });
          if (per.size === 0) ledger.push({ ...head, probe: '', rows: 0, weight: 0 });
          for (const r of e.rows) events.push(r);
        } else {
          ledger.push({ ...head, probe: '', rows: e.rows.length, weight: 0 });
          const into = e.kind === 'counters' ? counters : histograms;
          for (const r of e.rows) into.push(r);
        }
        latencies.push(now - Number(BigInt(e.sentNs) / 1_000_000n));
      } else {
        dead.push(d);
        const peek = peekEnvelope(d.msg.value);
        const key = d.msg.key?.toString('utf8') ?? '';
        const host = peek?.host ?? '';
        for (const [probe, rows] of Object.entries(peek?.rowsByProbe ?? { '': 0 }))
          ledger.push({ ...off, status: 'dlq', kind: peek?.kind ?? '', host, probe, session: peek?.session ?? '', seq: peek?.seq ?? 0, rows, weight: 0, sent_ns: 0 });
        const raw = d.msg.value ?? Buffer.alloc(0);
        errors.push({ ts: now, topic, partition, offset: String(d.offset), key, host, raw_base64: raw.subarray(0, RAW_PREFIX).toString('base64'), raw_size: raw.length, error: d.err ?? 'unknown', ingester: this.id });
      }
    }
    return r;
  }

  /** Steps 2 and 3: the ledger rows, then the data and the dead letters, each insert with the range's token. False: abandoned. */
  private async insertRange(partition: number, first: bigint, last: bigint, token: string, r: RangeRows, alive: () => boolean): Promise<boolean> {
    const store = this.o.store;
    const ins = async (table: string, rows: object[], point = `insert:${table}`) => {
      if (!rows.length) return;
      await this.retrying(`the store (insert into ${table})`, () => store.insertRows(table, rows, { dedupToken: token }), alive);
      crashPoint(point);
    };
    try {
      await ins('v2e.ingest_ledger', r.ledger, 'ledger');
      this.ranges.set(partition, { first, last });
      await ins('v2e.events', r.events);
      if (r.records.length) {
        const { body, contexts } = groupedRecords(r.records);
        await this.retrying('the store (insert into v2e.events)', () =>
          store.insertBinary('v2e.events', body, RAW_GROUPED_STRUCTURE, (source) => rawEventsSelect(source, contexts), { dedupToken: `${token}:records` }), alive);
        crashPoint('insert:v2e.events:records');
      }
      await ins('v2e.counters', r.counters);
      await ins('v2e.histograms', r.histograms);
      await ins('v2e.ingest_errors', r.errors);
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message, partition, range: token }, 'insert abandoned (partition revoked or stopping); the next owner redoes the range');
      return false;
    }
    return true;
  }

  /** Step 4: the dead letters to the DLQ topic, each with why and where it came from. */
  private async sendDeadLetters(topic: string, partition: number, dead: Decoded[], alive: () => boolean): Promise<void> {
    await this.retrying(
      `Kafka (dead letters to ${this.o.dlqTopic})`,
      () =>
        this.producer!.send({
          topic: this.o.dlqTopic,
          acks: -1,
          messages: dead.map((d) => ({
            key: d.msg.key,
            value: d.msg.value,
            headers: { 'v2probe-error': d.err ?? '', 'v2probe-source': `${topic}:${partition}:${d.offset}` },
          })),
        }),
      alive,
    ).catch(() => {});
    crashPoint('dlq');
  }

  /** After the commit: the ingester's stats, its metrics, and the stored latencies. */
  private countRange(messages: number, r: RangeRows, redo: boolean, now: number): void {
    const { counters, histograms, dead, latencies } = r;
    const events = r.events.length + r.records.reduce((a, e) => a + Object.values(e.probes).reduce((x, [n]) => x + n, 0), 0);
    this.stats.messages += messages;
    this.stats.rows += events;
    this.stats.dlq += dead.length;
    this.stats.ranges++;
    if (redo) this.stats.redo++;
    const m = this.o.metrics;
    if (m) {
      m.batches.inc();
      m.messages.inc({ status: 'ok' }, messages - dead.length);
      if (dead.length) {
        m.messages.inc({ status: 'dlq' }, dead.length);
        m.dlq.inc(dead.length);
      }
      if (redo) m.dedupHits.inc();
      m.rows.inc({ table: 'events' }, events);
      m.rows.inc({ table: 'counters' }, counters.length);
      m.rows.inc({ table: 'histograms' }, histograms.length);
      m.addEventRows(events);
      const done = Date.now();
      for (const l of latencies) m.latency.observe((done - now + l) / 1000);
    }
    if (this.o.onStored) {
      const done = Date.now();
      this.o.onStored(latencies.map((l) => done - now + l));
    }
  }
}

/**
 * The records of a range's version-2 messages as one RowBinary body of
 * RAW_GROUPED_STRUCTURE: each record followed by the index of its message's
 * (host, clock offset) in `contexts` (messages of one collector share one).
 */
function groupedRecords(msgs: readonly RecordsEnvelope[]): { body: Buffer; contexts: RawContext[] } {
  const contexts: RawContext[] = [];
  const index = new Map<string, number>();
  const total = msgs.reduce((a, e) => a + e.n, 0);
  const body = Buffer.from(new ArrayBuffer(total * RAW_GROUPED_STRIDE));
  let at = 0;
  for (const e of msgs) {
    const k = `${e.host}\0${e.monoToWallNs}`;
    let g = index.get(k);
    if (g === undefined) {
      index.set(k, (g = contexts.length));
      contexts.push({ host: e.host, monoToWallNs: e.monoToWallNs });
    }
    writeRecords(e.planes, e.n, body, at, RAW_GROUPED_STRIDE, g);
    at += e.n;
  }
  return { body, contexts };
}
