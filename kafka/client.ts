/**
 * kafka/client.ts — what the Kafka sink and the ingester share: the one
 * error type of the Kafka side, address/URL parsing (`HOST:PORT,...` or
 * `kafka[s]://[USER[:PASSWORD]@]HOST:PORT,.../TOPIC?options`), a quiet kafkajs
 * client with TLS/SASL (kafka/security.ts), and the start-up checks
 * (broker answers, credentials accepted, topic exists).
 */
import { Kafka, logLevel, type Admin, type KafkaConfig, type logCreator } from 'kafkajs';
import { redactDsn } from '../store/dsn.js';
import {
  configLayer,
  envLayer,
  explainKafkaFailure,
  KafkaOptionError,
  kafkajsSecurity,
  parseUrlSecurity,
  resolveKafkaSecurity,
  scrub,
  secretsOf,
  urlLayer,
  type KafkaSecurity,
  type KafkaSecuritySettings,
  type SecurityLayer,
} from './security.js';

export type KafkaErrorCode =
  | 'BAD_ADDRESS' // --kafka / kafka:// could not be parsed
  | 'UNREACHABLE' // no broker answered
  | 'NO_TOPIC' // the topic does not exist
  | 'BAD_OPTION' // a TLS/SASL option is wrong (missing file, cert without key, no password, ...)
  | 'AUTH' // the broker refused the SASL credentials
  | 'TLS' // the TLS handshake failed (untrusted certificate, client certificate refused, not a TLS listener)
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
  /** envelope body encoding (see kafka/envelope.ts) */
  codec?: string;
  /** spool directory and its byte bound */
  spoolDir?: string;
  spoolBytes?: number;
  /** TLS / SASL, resolved (undefined: PLAINTEXT) */
  security?: KafkaSecurity;
}

/** A sink URL parsed but not resolved: its security options still to be merged with the config file and the environment. */
export interface KafkaSinkUrl extends Omit<KafkaSinkSpec, 'security'> {
  securitySettings: KafkaSecuritySettings;
}

const TOPIC_RE = /^[A-Za-z0-9._-]{1,249}$/;

export function checkTopic(flag: string, topic: string): string {
  if (!TOPIC_RE.test(topic)) throw new KafkaError('BAD_ADDRESS', `${flag}: '${topic}' is not a Kafka topic name (letters, digits, . _ -)`);
  return topic;
}

const SINK_KEYS = ['codec', 'spool', 'spool_bytes'];
const SECURITY_KEYS = ['tls', 'ca', 'cert', 'key', 'servername', 'insecure', 'sasl', 'password_file'];

/** `kafka[s]://[USER[:PASSWORD]@]HOST:PORT[,HOST:PORT...][/TOPIC][?k=v&...]` → its parts; `kafkas:` means tls=1. */
function splitKafkaUrl(flag: string, spec: string) {
  const shown = redactDsn(spec);
  const m = /^(kafkas?):\/\/(?:([^@/?]*)@)?([^/?@]*)\/?([^?]*)(?:\?(.*))?$/.exec(spec);
  if (!m) throw new KafkaError('BAD_ADDRESS', `${flag} '${shown}': expected kafka://HOST:PORT/TOPIC or kafkas://[USER@]HOST:PORT/TOPIC?options`);
  const brokers = parseBrokers(flag, m[3]);
  let username: string | undefined;
  let password: string | undefined;
  if (m[2] !== undefined) {
    const i = m[2].indexOf(':');
    try {
      username = decodeURIComponent(i < 0 ? m[2] : m[2].slice(0, i));
      password = i < 0 ? undefined : decodeURIComponent(m[2].slice(i + 1));
    } catch {
      throw new KafkaError('BAD_ADDRESS', `${flag} '${shown}': the user/password part is not valid percent-encoding`);
    }
    if (!username) throw new KafkaError('BAD_ADDRESS', `${flag} '${shown}': empty user name before @`);
  }
  const params: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(m[5] ?? '')) params[k] = v;
  if (m[1] === 'kafkas') {
    if (params.tls !== undefined && /^(0|false|no|off)$/i.test(params.tls)) throw new KafkaError('BAD_OPTION', `${flag}: kafkas:// means TLS; tls=${params.tls} contradicts it`);
    params.tls = '1';
  }
  return { brokers, topic: m[4], params, userinfo: { username, password }, shown };
}

function urlSecurity(flag: string, params: Record<string, string>, userinfo: { username?: string; password?: string }): KafkaSecuritySettings {
  const sec: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) if (!SINK_KEYS.includes(k)) sec[k] = v;
  try {
    return parseUrlSecurity(flag, sec, userinfo);
  } catch (err) {
    if (err instanceof KafkaOptionError) throw new KafkaError('BAD_OPTION', err.message);
    throw err;
  }
}

/**
 * `kafka[s]://[USER[:PASSWORD]@]HOST:PORT[,HOST:PORT]/TOPIC[?codec=gzip&spool=DIR&spool_bytes=N&tls=1&ca=FILE&cert=FILE&key=FILE&servername=NAME&insecure=1&sasl=MECH&password_file=FILE]`
 * Syntax only: files are read and the password is looked up by resolveKafkaSink.
 */
export function parseKafkaSinkUrl(spec: string, flag = '--sink'): KafkaSinkUrl {
  const u = splitKafkaUrl(flag, spec);
  if (!u.topic) throw new KafkaError('BAD_ADDRESS', `${flag} '${u.shown}': no topic (expected kafka://HOST:PORT/TOPIC)`);
  let topic: string;
  try {
    topic = decodeURIComponent(u.topic);
  } catch {
    throw new KafkaError('BAD_ADDRESS', `${flag} '${u.shown}': the topic is not valid percent-encoding`);
  }
  const out: KafkaSinkUrl = { brokers: u.brokers, topic: checkTopic(flag, topic), securitySettings: {} };
  for (const [k, v] of Object.entries(u.params)) {
    if (k === 'codec') out.codec = v;
    else if (k === 'spool') out.spoolDir = v;
    else if (k === 'spool_bytes') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 << 20) throw new KafkaError('BAD_ADDRESS', `${flag}: spool_bytes=${v} must be an integer >= 1048576`);
      out.spoolBytes = n;
    } else if (!SECURITY_KEYS.includes(k) && k !== 'password' && k !== 'pass')
      throw new KafkaError('BAD_ADDRESS', `${flag}: unknown option '${k}' (known: ${[...SINK_KEYS, ...SECURITY_KEYS].join(', ')})`);
  }
  out.securitySettings = urlSecurity(flag, u.params, u.userinfo);
  return out;
}

/** The layers of security options: the URL's, then the environment's password, then the config file's `kafka:` section. */
function layersOf(flag: string, url: KafkaSecuritySettings, o: { file?: { path: string; settings: KafkaSecuritySettings }; env?: NodeJS.ProcessEnv }): SecurityLayer[] {
  const layers = [urlLayer(flag, url), envLayer(o.env ?? process.env)];
  if (o.file) layers.push(configLayer(o.file.path, o.file.settings));
  return layers;
}

function resolve(layers: SecurityLayer[]): KafkaSecurity {
  try {
    return resolveKafkaSecurity(layers);
  } catch (err) {
    if (err instanceof KafkaOptionError) throw new KafkaError('BAD_OPTION', err.message);
    throw err;
  }
}

/** The sink URL with its security resolved (files read, password found). Throws KafkaError (BAD_ADDRESS / BAD_OPTION). */
export function resolveKafkaSink(
  spec: string | KafkaSinkUrl,
  o: { flag?: string; file?: { path: string; settings: KafkaSecuritySettings }; env?: NodeJS.ProcessEnv } = {},
): KafkaSinkSpec {
  const flag = o.flag ?? '--sink';
  const u = typeof spec === 'string' ? parseKafkaSinkUrl(spec, flag) : spec;
  const { securitySettings, ...rest } = u;
  return { ...rest, security: resolve(layersOf(flag, securitySettings, o)) };
}

/** Parse only (syntax, as before): `kafka://HOST:PORT/TOPIC?...` → the spec without resolving security. */
export function parseKafkaSink(spec: string): KafkaSinkSpec {
  const { securitySettings: _, ...rest } = parseKafkaSinkUrl(spec);
  return rest;
}

/**
 * `--kafka`: `HOST:PORT[,HOST:PORT...]` (PLAINTEXT) or
 * `kafka[s]://[USER[:PASSWORD]@]HOST:PORT[,...][?tls=1&ca=FILE&cert=FILE&key=FILE&servername=NAME&insecure=1&sasl=MECH&password_file=FILE]`,
 * resolved with the environment's password. Throws KafkaError (BAD_ADDRESS / BAD_OPTION).
 */
export function parseKafkaAddress(flag: string, text: string, env: NodeJS.ProcessEnv = process.env): { brokers: string[]; security: KafkaSecurity } {
  if (!/^kafkas?:\/\//.test(text)) return { brokers: parseBrokers(flag, text), security: resolve([envLayer({})]) };
  const u = splitKafkaUrl(flag, text);
  if (u.topic) throw new KafkaError('BAD_ADDRESS', `${flag} '${u.shown}': no topic here (the topic has its own flag)`);
  for (const k of Object.keys(u.params))
    if (!SECURITY_KEYS.includes(k) && k !== 'password' && k !== 'pass') throw new KafkaError('BAD_ADDRESS', `${flag}: unknown option '${k}' (known: ${SECURITY_KEYS.join(', ')})`);
  return { brokers: u.brokers, security: resolve(layersOf(flag, urlSecurity(flag, u.params, u.userinfo), { env })) };
}

/** A KafkaError for a kafkajs failure: AUTH / TLS / UNREACHABLE with a message naming broker, protocol and mechanism (never the password). */
export function kafkaFailure(err: unknown, brokers: string[], security?: KafkaSecurity): KafkaError {
  const f = explainKafkaFailure(err, brokers, security);
  return new KafkaError(f.kind, f.message, { cause: err });
}

/** kafkajs logs go to our logger's debug/warn, never raw to stdout; any secret in them is replaced by ***. */
const quietLogs =
  (onLog: ((level: string, msg: string, extra: object) => void) | undefined, secrets: string[]): logCreator =>
  () =>
  ({ level, log }) => {
    if (!onLog) return;
    const { message, ...extra } = log;
    const lvl = level >= logLevel.INFO ? 'debug' : level === logLevel.WARN ? 'warn' : 'error';
    if (secrets.length === 0) return onLog(lvl, String(message), extra);
    let clean: object;
    try {
      clean = JSON.parse(scrub(JSON.stringify(extra), secrets.map((s) => JSON.stringify(s).slice(1, -1)))) as object;
    } catch {
      clean = {};
    }
    onLog(lvl, scrub(String(message), secrets), clean);
  };

export function makeKafka(
  brokers: string[],
  o: { clientId?: string; onLog?: (level: string, msg: string, extra: object) => void; retries?: number; security?: KafkaSecurity } = {},
): Kafka {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  const cfg: KafkaConfig = {
    clientId: o.clientId ?? 'v2probe',
    brokers,
    connectionTimeout: 3000,
    requestTimeout: 10000,
    logLevel: logLevel.WARN,
    logCreator: quietLogs(o.onLog, secretsOf(o.security)),
    retry: { retries: o.retries ?? 5, initialRetryTime: 200, maxRetryTime: 5000 },
    ...kafkajsSecurity(o.security),
  };
  return new Kafka(cfg);
}

/** Start-up check: a broker answers, accepts the TLS/SASL settings, and the topics exist. Throws KafkaError (UNREACHABLE / AUTH / TLS / NO_TOPIC). */
export async function checkKafka(brokers: string[], topics: string[], security?: KafkaSecurity): Promise<void> {
  const admin: Admin = makeKafka(brokers, { retries: 1, security }).admin();
  let have: Set<string>;
  try {
    await admin.connect();
    have = new Set(await admin.listTopics());
  } catch (err) {
    await admin.disconnect().catch(() => {});
    throw kafkaFailure(err, brokers, security);
  }
  try {
    const addr = security && security.protocol !== 'PLAINTEXT' ? `'kafka://${brokers.join(',')}?...'` : brokers[0];
    for (const t of topics)
      if (!have.has(t)) throw new KafkaError('NO_TOPIC', `Kafka topic '${t}' does not exist at ${brokers.join(',')} (create it: v2probe topics create --kafka ${addr} --topic ${t})`);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Create topics that are missing (partitions as given); existing ones are left alone. */
export async function ensureTopics(brokers: string[], topics: Array<{ topic: string; partitions: number }>, security?: KafkaSecurity): Promise<void> {
  const admin = makeKafka(brokers, { security }).admin();
  try {
    await admin.connect();
  } catch (err) {
    throw kafkaFailure(err, brokers, security);
  }
  try {
    const have = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !have.has(t.topic));
    if (missing.length)
      await admin.createTopics({ topics: missing.map((t) => ({ topic: t.topic, numPartitions: t.partitions, replicationFactor: 1 })), waitForLeaders: true });
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
