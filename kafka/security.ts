/**
 * kafka/security.ts — TLS and SASL for every kafkajs client of
 * v2probe (the collector's Kafka sink, the ingester, topic admin).
 *
 * Options come, highest precedence first, from the broker URL
 * (`kafkas://USER[:PASSWORD]@HOST:PORT/...?ca=FILE&cert=FILE&key=FILE&sasl=scram-sha-256`),
 * the environment (`V2PROBE_KAFKA_PASSWORD`) and the collector's config file
 * (its `kafka:` section). They are validated with zod where they enter, merged,
 * then resolved: files read and checked, the password found. The result feeds
 * kafkajs' `ssl` and `sasl` options.
 *
 * The password (and the client key) is held in a `Secret`, which prints as ***
 * whatever serializes it (JSON, pino, util.inspect). kafkajs errors about TLS
 * and SASL become one-line messages naming the broker, the security protocol,
 * the mechanism and the option to fix — never the password.
 */
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import { z } from 'zod';
import { loadTlsFiles, TlsFileError } from '../store/tls.js';

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];
export const PASSWORD_ENV = 'V2PROBE_KAFKA_PASSWORD';

/** A value that never prints: JSON, string conversion and util.inspect all show ***. */
export class Secret<T = string> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  reveal(): T {
    return this.#value;
  }
  toString(): string {
    return '***';
  }
  toJSON(): string {
    return '***';
  }
  [inspect.custom](): string {
    return 'Secret(***)';
  }
}

/** The options as given by one source (URL, environment, config file); all optional. */
export interface KafkaSecuritySettings {
  tls?: boolean;
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  insecure?: boolean;
  sasl?: SaslMechanism;
  username?: string;
  password?: string;
  passwordFile?: string;
}

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';

/** Resolved: what the kafkajs clients are built with. */
export interface KafkaSecurity {
  protocol: SecurityProtocol;
  tls?: {
    ca?: Buffer;
    cert?: Buffer;
    key?: Secret<Buffer>;
    servername?: string;
    rejectUnauthorized: boolean;
    /** file names, for messages */
    files: { ca?: string; cert?: string; key?: string };
  };
  sasl?: { mechanism: SaslMechanism; username: string; password: Secret };
  /** things a user should know (clear-text password, verification off); logged once at start */
  warnings: string[];
}

export const PLAINTEXT: KafkaSecurity = { protocol: 'PLAINTEXT', warnings: [] };

/** Bad security options: exit 2 at the edge. The message names the option. */
export class KafkaOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KafkaOptionError';
  }
}

// ---- zod schemas where the options enter ----

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];
const flagParam = (name: string) =>
  z.string().transform((v, ctx) => {
    const l = v.toLowerCase();
    if (TRUE.includes(l)) return true;
    if (FALSE.includes(l)) return false;
    ctx.addIssue({ code: 'custom', message: `${name}=${v}: should be 1 or 0` });
    return z.NEVER;
  });
const mechanism = (name: string) =>
  z.string({ error: `${name}: should be one of ${SASL_MECHANISMS.join(', ')}` }).transform((v, ctx) => {
    const l = v.toLowerCase();
    if ((SASL_MECHANISMS as readonly string[]).includes(l)) return l as SaslMechanism;
    ctx.addIssue({ code: 'custom', message: `${name}${name.endsWith('=') ? v : ` '${v}'`}: unknown SASL mechanism (known: ${SASL_MECHANISMS.join(', ')})` });
    return z.NEVER;
  });
const path = (name: string) => z.string({ error: `${name}: should be a file path` }).min(1, { error: `${name}: needs a file path` });
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const servername = (name: string) => z.string({ error: `${name}: should be a host name` }).regex(HOSTNAME, { error: `${name}: should be a DNS host name (the name in the broker's certificate)` });

/** Security options of a kafka[s]:// URL's query. */
export const URL_SECURITY_KEYS = ['tls', 'ca', 'cert', 'key', 'servername', 'insecure', 'sasl', 'password_file'] as const;
const UrlSecurity = z.object({
  tls: flagParam('tls').optional(),
  ca: path('ca=').optional(),
  cert: path('cert=').optional(),
  key: path('key=').optional(),
  servername: servername('servername=').optional(),
  insecure: flagParam('insecure').optional(),
  sasl: mechanism('sasl=').optional(),
  password_file: path('password_file=').optional(),
});

/** The config file's `kafka:` section (collector/ops/config.ts validates it with this). */
export const KafkaConfigSection = z
  .object({
    tls: z.boolean({ error: 'should be true or false' }).optional(),
    ca: path('a CA certificate file').optional(),
    cert: path('a client certificate file').optional(),
    key: path("the client certificate's private key file").optional(),
    servername: servername('servername').optional(),
    insecure: z.boolean({ error: 'should be true or false (true turns certificate verification off)' }).optional(),
    sasl: mechanism('sasl').optional(),
    username: z.string({ error: 'should be a string' }).min(1, { error: 'should not be empty' }).optional(),
    password: z.string({ error: 'should be a string' }).min(1, { error: 'should not be empty' }).optional(),
    password_file: path('a file holding the password').optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.cert !== undefined && s.key === undefined) ctx.addIssue({ code: 'custom', path: ['cert'], message: 'needs kafka.key too (the client certificate\'s private key)' });
    if (s.key !== undefined && s.cert === undefined) ctx.addIssue({ code: 'custom', path: ['key'], message: 'needs kafka.cert too (the client certificate)' });
    if (s.password !== undefined && s.password_file !== undefined) ctx.addIssue({ code: 'custom', path: ['password_file'], message: 'give password or password_file, not both' });
    if ((s.username !== undefined || s.password !== undefined || s.password_file !== undefined) && s.sasl === undefined)
      ctx.addIssue({ code: 'custom', path: ['sasl'], message: `a username/password needs a SASL mechanism: sasl: ${SASL_MECHANISMS.join(' | ')}` });
    if (s.sasl !== undefined && s.username === undefined) ctx.addIssue({ code: 'custom', path: ['username'], message: `sasl: ${s.sasl} needs a username` });
  });
export type KafkaConfigSectionRaw = z.output<typeof KafkaConfigSection>;

export function settingsFromSection(s: KafkaConfigSectionRaw): KafkaSecuritySettings {
  return { tls: s.tls, ca: s.ca, cert: s.cert, key: s.key, servername: s.servername, insecure: s.insecure, sasl: s.sasl, username: s.username, password: s.password, passwordFile: s.password_file };
}

/** First issue of a failed zod parse as one line. */
function firstIssue(e: z.ZodError, flag: string): string {
  const i = e.issues[0];
  if (i.code === 'unrecognized_keys') return `${flag}: unknown option '${i.keys[0]}'`;
  return `${flag}: ${i.message}`;
}

/** Validate the security part of a URL query (the other keys are the caller's); throws KafkaOptionError. */
export function parseUrlSecurity(flag: string, params: Record<string, string>, userinfo?: { username?: string; password?: string }): KafkaSecuritySettings {
  if ('password' in params || 'pass' in params)
    throw new KafkaOptionError(`${flag}: a password is not a query option: use ${PASSWORD_ENV}, password_file=FILE, or kafka://USER:PASSWORD@HOST (config file: kafka.password / kafka.password_file)`);
  const r = UrlSecurity.safeParse(params);
  if (!r.success) throw new KafkaOptionError(firstIssue(r.error, flag));
  const p = r.data;
  return {
    tls: p.tls,
    ca: p.ca,
    cert: p.cert,
    key: p.key,
    servername: p.servername,
    insecure: p.insecure,
    sasl: p.sasl,
    username: userinfo?.username || undefined,
    password: userinfo?.password || undefined,
    passwordFile: p.password_file,
  };
}

// ---- merge and resolve ----

type Field = keyof KafkaSecuritySettings;

/** One source of options and how to name each of its options in a message. */
export interface SecurityLayer {
  settings: KafkaSecuritySettings;
  name: (field: Field) => string;
}

const URL_NAMES: Record<Field, string> = {
  tls: 'tls=',
  ca: 'ca=',
  cert: 'cert=',
  key: 'key=',
  servername: 'servername=',
  insecure: 'insecure=',
  sasl: 'sasl=',
  username: 'USER@',
  password: 'USER:PASSWORD@',
  passwordFile: 'password_file=',
};
export const urlLayer = (flag: string, settings: KafkaSecuritySettings): SecurityLayer => ({
  settings,
  name: (f) => `${URL_NAMES[f]} in ${flag}`,
});
export const configLayer = (file: string, settings: KafkaSecuritySettings): SecurityLayer => ({
  settings,
  name: (f) => `kafka.${f === 'passwordFile' ? 'password_file' : f} in ${file}`,
});
export const envLayer = (env: NodeJS.ProcessEnv = process.env): SecurityLayer => ({
  settings: env[PASSWORD_ENV] ? { password: env[PASSWORD_ENV] } : {},
  name: () => PASSWORD_ENV,
});

function readPasswordFile(option: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new KafkaOptionError(`Kafka SASL: ${option}: cannot read '${file}': ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : (e.code ?? e.message)}`);
  }
  const pw = text.replace(/\r?\n$/, '');
  if (!pw) throw new KafkaOptionError(`Kafka SASL: ${option}: '${file}' is empty`);
  return pw;
}

/**
 * Merge the layers (earlier wins, field by field; the password as one slot:
 * password or password_file) and resolve: check combinations, read the files.
 * Throws KafkaOptionError naming the option.
 */
export function resolveKafkaSecurity(layers: SecurityLayer[]): KafkaSecurity {
  const pick = <F extends Field>(f: F): { value: KafkaSecuritySettings[F]; name: string } | undefined => {
    for (const l of layers) if (l.settings[f] !== undefined) return { value: l.settings[f], name: l.name(f) };
    return undefined;
  };
  const warnings: string[] = [];
  // TLS: on when asked, or when any TLS option is given (a CA file means TLS); tls=0 with TLS options is a contradiction
  const tlsFlag = pick('tls');
  const tlsOpts = (['ca', 'cert', 'key', 'servername', 'insecure'] as const).map((f) => pick(f)).filter((x) => x !== undefined && x.value !== false);
  if (tlsFlag?.value === false && tlsOpts.length) throw new KafkaOptionError(`Kafka TLS: ${tlsOpts[0]!.name} needs TLS, but ${tlsFlag.name} turns it off`);
  const tlsOn = tlsFlag?.value === true || tlsOpts.length > 0;
  let tls: KafkaSecurity['tls'];
  if (tlsOn) {
    const ca = pick('ca');
    const cert = pick('cert');
    const key = pick('key');
    let m;
    try {
      m = loadTlsFiles(
        { ca: ca?.value as string | undefined, cert: cert?.value as string | undefined, key: key?.value as string | undefined },
        { ca: ca?.name ?? 'ca=', cert: cert?.name ?? 'cert=', key: key?.name ?? 'key=' },
      );
    } catch (err) {
      if (err instanceof TlsFileError) throw new KafkaOptionError(`Kafka TLS: ${err.message}`);
      throw err;
    }
    const insecure = pick('insecure');
    if (insecure?.value === true) warnings.push(`Kafka TLS: certificate verification is OFF (${insecure.name}): anyone on the network path can pose as the broker`);
    tls = {
      ca: m.ca,
      cert: m.cert,
      key: m.key ? new Secret(m.key) : undefined,
      servername: pick('servername')?.value as string | undefined,
      rejectUnauthorized: insecure?.value !== true,
      files: { ca: ca?.value as string | undefined, cert: cert?.value as string | undefined, key: key?.value as string | undefined },
    };
  }
  // SASL: a mechanism needs a username and a password; a username or password needs a mechanism
  const mech = pick('sasl');
  const user = pick('username');
  let pw: { value: string; name: string } | undefined;
  for (const l of layers) {
    const { password, passwordFile } = l.settings;
    if (password !== undefined && passwordFile !== undefined)
      throw new KafkaOptionError(`Kafka SASL: give ${l.name('password')} or ${l.name('passwordFile')}, not both`);
    if (password !== undefined) pw = { value: password, name: l.name('password') };
    else if (passwordFile !== undefined) pw = { value: readPasswordFile(l.name('passwordFile'), passwordFile), name: l.name('passwordFile') };
    if (pw) break;
  }
  let sasl: KafkaSecurity['sasl'];
  if (mech) {
    const M = mech.value!.toUpperCase();
    if (!user?.value) throw new KafkaOptionError(`Kafka SASL: ${mech.name} (${M}) needs a username (kafka://USER@HOST:PORT/..., or kafka.username in the config file)`);
    if (!pw) throw new KafkaOptionError(`Kafka SASL: ${mech.name} (${M}) for user '${user.value}' needs a password: set ${PASSWORD_ENV}, or give password_file=FILE (kafka.password_file in the config file)`);
    sasl = { mechanism: mech.value!, username: user.value as string, password: new Secret(pw.value) };
    if (mech.value === 'plain' && !tlsOn) warnings.push(`Kafka SASL: ${M} without TLS sends the password in clear text (use kafkas:// or tls=1, or a SCRAM mechanism)`);
  } else {
    // V2PROBE_KAFKA_PASSWORD alone is ambient: ignored without a mechanism; anything explicit is a mistake
    const explicit = layers.find((l) => l.name('password') !== PASSWORD_ENV && (l.settings.username !== undefined || l.settings.password !== undefined || l.settings.passwordFile !== undefined));
    if (explicit) {
      const f: Field = explicit.settings.username !== undefined ? 'username' : explicit.settings.password !== undefined ? 'password' : 'passwordFile';
      throw new KafkaOptionError(`Kafka SASL: ${explicit.name(f)} needs a SASL mechanism: sasl=${SASL_MECHANISMS.join('|')} (kafka.sasl in the config file)`);
    }
  }
  const protocol: SecurityProtocol = sasl ? (tls ? 'SASL_SSL' : 'SASL_PLAINTEXT') : tls ? 'SSL' : 'PLAINTEXT';
  return { protocol, tls, sasl, warnings };
}

// ---- use ----

/** kafkajs' `ssl` and `sasl` options. */
export function kafkajsSecurity(sec: KafkaSecurity | undefined): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (sec?.tls) {
    out.ssl = {
      rejectUnauthorized: sec.tls.rejectUnauthorized,
      ...(sec.tls.ca ? { ca: [sec.tls.ca] } : {}),
      ...(sec.tls.cert && sec.tls.key ? { cert: sec.tls.cert, key: sec.tls.key.reveal() } : {}),
      ...(sec.tls.servername ? { servername: sec.tls.servername } : {}),
    };
  }
  if (sec?.sasl) out.sasl = { mechanism: sec.sasl.mechanism, username: sec.sasl.username, password: sec.sasl.password.reveal() } as SASLOptions;
  return out;
}

/** One line for logs: `SASL_SSL (SCRAM-SHA-256, user alice; CA /etc/ca.pem)`. */
export function describeSecurity(sec: KafkaSecurity | undefined): string {
  if (!sec || sec.protocol === 'PLAINTEXT') return 'PLAINTEXT';
  const parts: string[] = [];
  if (sec.sasl) parts.push(`${sec.sasl.mechanism.toUpperCase()}, user ${sec.sasl.username}`);
  if (sec.tls) {
    parts.push(sec.tls.files.ca ? `CA ${sec.tls.files.ca}` : 'system CAs');
    if (sec.tls.files.cert) parts.push(`client certificate ${sec.tls.files.cert}`);
    if (!sec.tls.rejectUnauthorized) parts.push('verification OFF');
  }
  return `${sec.protocol} (${parts.join('; ')})`;
}

/** The password (and key) as text, for scrubbing third-party log lines and error messages. */
export function secretsOf(sec: KafkaSecurity | undefined): string[] {
  const pw = sec?.sasl?.password.reveal();
  return pw ? [pw, encodeURIComponent(pw)].filter((s, i, a) => s.length >= 1 && a.indexOf(s) === i) : [];
}

/** Replace every secret in `text` with ***. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}

const TLS_UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

export type KafkaFailureKind = 'AUTH' | 'TLS' | 'UNREACHABLE';

/**
 * A kafkajs failure as one line that names the broker(s), the security
 * protocol, the mechanism and user, and what to check. Walks kafkajs' wrapped
 * errors (KafkaJSNumberOfRetriesExceeded → KafkaJSConnectionError → Node's TLS error).
 */
export function explainKafkaFailure(err: unknown, brokers: string[], sec: KafkaSecurity | undefined): { kind: KafkaFailureKind; message: string } {
  const chain: Array<{ name?: string; message: string; code?: string }> = [];
  let e = err as { name?: string; message?: string; code?: string; cause?: unknown; originalError?: unknown } | undefined;
  for (let i = 0; e && i < 6; i++) {
    chain.push({ name: e.name, message: String(e.message ?? e), code: e.code });
    e = (e.cause ?? e.originalError) as typeof e;
  }
  const root = chain[chain.length - 1] ?? { message: String(err) };
  const where = `Kafka at ${brokers.join(',')} (${sec?.protocol ?? 'PLAINTEXT'})`;
  const secrets = secretsOf(sec);
  const detail = (m: string) =>
    scrub(
      m
        .replace(/^Connection error: /, '')
        .replace(/^[0-9A-F]+:error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):.*$/s, '$1') // OpenSSL's "…:SSL routines:fn:sslv3 alert bad certificate:file:line…" → the reason
        .replace(/\s*\n\s*/g, ' ')
        .trim(),
      secrets,
    );
  const codes = new Set(chain.map((c) => c.code).filter(Boolean) as string[]);
  const text = chain.map((c) => c.message).join(' | ');
  const sasl = chain.find((c) => c.name === 'KafkaJSSASLAuthenticationError') ?? (/SASL .*authentication failed|mechanism is not supported by the server/.test(text) ? root : undefined);
  if (sasl) {
    const M = sec?.sasl ? sec.sasl.mechanism.toUpperCase() : 'SASL';
    const who = sec?.sasl ? ` as user '${sec.sasl.username}'` : '';
    const hint = /not supported by the server/.test(sasl.message)
      ? `the listener does not offer ${M} (its sasl.enabled.mechanisms)`
      : /Invalid username or password|invalid credentials/i.test(sasl.message)
        ? `wrong username or password (${PASSWORD_ENV}, password_file=, kafka.password)`
        : 'check the mechanism, username and password';
    return { kind: 'AUTH', message: `${where}: SASL ${M} authentication${who} failed: ${hint} (broker said: ${detail(sasl.message.replace(/^SASL [^:]*failed: /, ''))})` };
  }
  const tlsCode = [...codes].find((c) => TLS_UNTRUSTED.has(c));
  if (tlsCode || /self[- ]signed certificate|unable to (verify|get) .*certificate/i.test(text)) {
    const fix = sec?.tls?.files.ca ? `it is not signed by the CA in ${sec.tls.files.ca}` : 'give the CA that signed it with ca=FILE (kafka.ca in the config file)';
    return { kind: 'TLS', message: `${where}: TLS: the broker's certificate is not trusted (${detail(root.message)}): ${fix}` };
  }
  if (codes.has('ERR_TLS_CERT_ALTNAME_INVALID'))
    return { kind: 'TLS', message: `${where}: TLS: the broker's certificate does not name the address connected to (${detail(root.message)}): connect by a name in the certificate, or set servername=` };
  if (codes.has('CERT_HAS_EXPIRED') || codes.has('CERT_NOT_YET_VALID'))
    return { kind: 'TLS', message: `${where}: TLS: the broker's certificate is not valid now (${detail(root.message)})` };
  if (
    [...codes].some((c) => /ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|UNKNOWN_CA|HANDSHAKE_FAILURE)/.test(c)) ||
    /alert (bad certificate|certificate required|certificate unknown|unknown ca|handshake failure)/i.test(text)
  ) {
    const mine = sec?.tls?.files.cert ? `the client certificate ${sec.tls.files.cert} was refused` : 'the listener requires a client certificate: give cert=FILE and key=FILE (kafka.cert / kafka.key)';
    return { kind: 'TLS', message: `${where}: TLS: the broker refused the handshake (${detail(root.message)}): ${mine}` };
  }
  if (sec?.tls && (/before secure TLS connection was established|wrong version number|packet length too long/i.test(text) || codes.has('ERR_SSL_WRONG_VERSION_NUMBER')))
    return { kind: 'TLS', message: `${where}: TLS handshake failed (${detail(root.message)}): is this an SSL or SASL_SSL listener? (TLS was asked for by kafkas:// / tls=1 / ca=)` };
  if (/Closed connection|Connection closed/i.test(text) && (!sec?.tls || !sec?.sasl)) {
    const need = [!sec?.tls ? 'TLS (kafkas:// or tls=1)' : '', !sec?.sasl ? 'SASL (sasl=MECH and a user)' : ''].filter(Boolean).join(' and/or ');
    return { kind: 'UNREACHABLE', message: `${where}: the broker closed the connection (${detail(root.message)}): if this listener is SSL or SASL_*, configure ${need}` };
  }
  return { kind: 'UNREACHABLE', message: `${where} does not answer: ${detail(root.message)}` };
}
