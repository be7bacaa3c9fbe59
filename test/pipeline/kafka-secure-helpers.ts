// A secure Kafka broker for the TLS/SASL tests: scripts/kafka.sh with
// KAFKA_SECURE=1 in its own temp state dir (SASL_SSL, SASL_PLAINTEXT and SSL
// with client certificates, besides PLAINTEXT for admin), its addresses, CA,
// client certificate and SASL user, SCRAM user management, and an ingester
// child process with an explicit environment (the Kafka password).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT } from '../helpers/cli.js';
import { tmp } from './kafka-helpers.js';

export interface SecureKafka {
  state: string;
  /** PLAINTEXT listener (admin, topic creation, waitConsumed) */
  brokers: string;
  saslSsl: string;
  saslPlaintext: string;
  /** SSL listener that requires a client certificate */
  ssl: string;
  ca: string;
  clientCert: string;
  clientKey: string;
  user: string;
  password: string;
  passwordFile: string;
}

const kafkaSh = (state: string, args: string[], input?: string) =>
  execFileSync('bash', [join(ROOT, 'scripts/kafka.sh'), ...args], {
    encoding: 'utf8',
    timeout: 170_000,
    input,
    env: { ...process.env, KAFKA_STATE_DIR: state, KAFKA_SECURE: '1' },
  });

export function startSecureKafka(): SecureKafka {
  const state = tmp('kafka-secure');
  const out = kafkaSh(state, ['start']);
  const env = Object.fromEntries(out.split('\n').filter((l) => /^KAFKA_[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  for (const k of ['KAFKA_BROKERS', 'KAFKA_SASL_SSL', 'KAFKA_SASL_PLAINTEXT', 'KAFKA_SSL', 'KAFKA_CA', 'KAFKA_CLIENT_CERT', 'KAFKA_CLIENT_KEY', 'KAFKA_SASL_USER', 'KAFKA_SASL_PASSWORD_FILE'])
    if (!env[k]) throw new Error(`KAFKA_SECURE=1 scripts/kafka.sh start printed no ${k}: ${out}`);
  return {
    state,
    brokers: env.KAFKA_BROKERS,
    saslSsl: env.KAFKA_SASL_SSL,
    saslPlaintext: env.KAFKA_SASL_PLAINTEXT,
    ssl: env.KAFKA_SSL,
    ca: env.KAFKA_CA,
    clientCert: env.KAFKA_CLIENT_CERT,
    clientKey: env.KAFKA_CLIENT_KEY,
    user: env.KAFKA_SASL_USER,
    password: readFileSync(env.KAFKA_SASL_PASSWORD_FILE, 'utf8'),
    passwordFile: env.KAFKA_SASL_PASSWORD_FILE,
  };
}

export function stopSecureKafka(k: SecureKafka | undefined): void {
  if (k) kafkaSh(k.state, ['stop']);
}

/** Add or change a SCRAM user (both SHA-256 and SHA-512); the password goes over stdin. */
export function scramSet(k: SecureKafka, user: string, password: string): void {
  kafkaSh(k.state, ['scram-set', user], `${password}\n`);
}

/** `v2probe ingest` with this environment added (e.g. V2PROBE_KAFKA_PASSWORD); stderr collected in `log`. */
export function startIngesterWith(kafka: string, topic: string, store: string, env: Record<string, string>, extra: string[] = []): ChildProcess & { log: string[] } {
  const child = spawn(process.execPath, [BIN, 'ingest', '--kafka', kafka, '--topic', topic, '--store', store, ...extra], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, V2PROBE_LOG_LEVEL: 'info', ...env },
  }) as ChildProcess & { log: string[] };
  child.log = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => child.log.push(d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => child.log.push(d));
  return child;
}
