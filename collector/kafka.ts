/**
 * collector/kafka.ts — what the Kafka sink and the ingester share: the one
 * error type of the Kafka side, address/URL parsing, a quiet kafkajs client,
 * and the start-up checks (broker answers, topic exists).
 */
import { Kafka, logLevel, type Admin, type KafkaConfig, type logCreator } from 'kafkajs';

export type KafkaErrorCode =
  | 'BAD_ADDRESS' // --kafka / kafka:// could not be parsed
  | 'UNREACHABLE' // no broker answered
  | 'NO_TOPIC' // the topic does not exist
  | 'SEND' // a produce failed
  | 'ENVELOPE'; // a message could not be decoded

export class KafkaError extends Error {
  readonly code: KafkaErrorCode;
  constructor(code: KafkaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KafkaError';
    this.code = code;
  }
}

/** `HOST:PORT[,HOST:PORT...]` → broker list; throws KafkaError('BAD_ADDRESS'). */
export function parseBrokers(flag: string, text: string): string[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new KafkaError('BAD_ADDRESS', `${flag}: empty broker address (expected HOST:PORT)`);
  for (const b of list) {
    const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(b);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
      throw new KafkaError('BAD_ADDRESS', `${flag}: '${b}' is not a broker address (expected HOST:PORT, e.g. 127.0.0.1:9092)`);
  }
  return list;
}

export interface KafkaSinkSpec {
  brokers: string[];
  topic: string;
  /** envelope body encoding (see collector/kafka-envelope.ts) */
  codec?: string;
  /** spool directory and its byte bound */
  spoolDir?: string;
  spoolBytes?: number;
}

const TOPIC_RE = /^[A-Za-z0-9._-]{1,249}$/;

export function checkTopic(flag: string, topic: string): string {
  if (!TOPIC_RE.test(topic)) throw new KafkaError('BAD_ADDRESS', `${flag}: '${topic}' is not a Kafka topic name (letters, digits, . _ -)`);
  return topic;
}

/** `kafka://HOST:PORT[,HOST:PORT]/TOPIC[?codec=gzip&spool=DIR&spool_bytes=N]` */
export function parseKafkaSink(spec: string): KafkaSinkSpec {
  const m = /^kafka:\/\/([^/?]*)\/?([^?]*)(?:\?(.*))?$/.exec(spec);
  if (!m) throw new KafkaError('BAD_ADDRESS', `--sink '${spec}': expected kafka://HOST:PORT/TOPIC`);
  const brokers = parseBrokers('--sink', m[1]);
  if (!m[2]) throw new KafkaError('BAD_ADDRESS', `--sink '${spec}': no topic (expected kafka://HOST:PORT/TOPIC)`);
  const out: KafkaSinkSpec = { brokers, topic: checkTopic('--sink', decodeURIComponent(m[2])) };
  for (const [k, v] of new URLSearchParams(m[3] ?? '')) {
    if (k === 'codec') out.codec = v;
    else if (k === 'spool') out.spoolDir = v;
    else if (k === 'spool_bytes') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 << 20) throw new KafkaError('BAD_ADDRESS', `--sink: spool_bytes=${v} must be an integer >= 1048576`);
      out.spoolBytes = n;
    } else throw new KafkaError('BAD_ADDRESS', `--sink: unknown option '${k}' (known: codec, spool, spool_bytes)`);
  }
  return out;
}

/** kafkajs logs go to our logger's debug/warn, never raw to stdout. */
const quietLogs =
  (onLog?: (level: string, msg: string, extra: object) => void): logCreator =>
  () =>
  ({ level, log }) => {
    if (!onLog) return;
    const { message, ...extra } = log;
    onLog(level >= logLevel.INFO ? 'debug' : level === logLevel.WARN ? 'warn' : 'error', String(message), extra);
  };

export function makeKafka(
  brokers: string[],
  o: { clientId?: string; onLog?: (level: string, msg: string, extra: object) => void; retries?: number } = {},
): Kafka {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  const cfg: KafkaConfig = {
    clientId: o.clientId ?? 'v2probe',
    brokers,
    connectionTimeout: 3000,
    requestTimeout: 10000,
    logLevel: logLevel.WARN,
    logCreator: quietLogs(o.onLog),
    retry: { retries: o.retries ?? 5, initialRetryTime: 200, maxRetryTime: 5000 },
  };
  return new Kafka(cfg);
}

/** Start-up check: a broker answers and the topics exist. Throws KafkaError (UNREACHABLE / NO_TOPIC). */
export async function checkKafka(brokers: string[], topics: string[]): Promise<void> {
  const admin: Admin = makeKafka(brokers, { retries: 1 }).admin();
  try {
    await admin.connect();
  } catch (err) {
    throw new KafkaError('UNREACHABLE', `Kafka at ${brokers.join(',')} does not answer: ${(err as Error).message}`, { cause: err });
  }
  try {
    const have = new Set(await admin.listTopics());
    for (const t of topics)
      if (!have.has(t)) throw new KafkaError('NO_TOPIC', `Kafka topic '${t}' does not exist at ${brokers.join(',')} (create it, e.g. node dist/ingester/topics.js ${brokers[0]} ${t} 4)`);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Create topics that are missing (partitions as given); existing ones are left alone. */
export async function ensureTopics(brokers: string[], topics: Array<{ topic: string; partitions: number }>): Promise<void> {
  const admin = makeKafka(brokers).admin();
  await admin.connect();
  try {
    const have = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !have.has(t.topic));
    if (missing.length)
      await admin.createTopics({ topics: missing.map((t) => ({ topic: t.topic, numPartitions: t.partitions, replicationFactor: 1 })), waitForLeaders: true });
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
