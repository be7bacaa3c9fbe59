// Kafka TLS/SASL options without a broker: the kafka[s]:// URL and its query,
// the config file's `kafka:` section, V2PROBE_KAFKA_PASSWORD, how they merge,
// every bad combination (named, exit 2 on the command line), what kafkajs is
// given, Secret, the classification of kafkajs failures, and the redaction of
// DSNs in messages. Broker tests: test/pipeline/kafka-auth.test.ts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../collector/ops/config.js';
import { KafkaError, parseKafkaAddress, parseKafkaSinkUrl, resolveKafkaSink } from '../../kafka/client.js';
import { describeSecurity, explainKafkaFailure, kafkajsSecurity, Secret } from '../../kafka/security.js';
import { redactDsn } from '../../store/dsn.js';
import { runCli } from '../helpers/cli.js';
import { makePki, type TestPki } from '../helpers/tls.js';

let pki: TestPki;
let other: TestPki;
let dir: string;
const PW = 'Kpw-51e0c7a9d3SECRET';
beforeAll(() => {
  pki = makePki('unit');
  other = makePki('unit-other');
  dir = mkdtempSync(join(tmpdir(), 'v2probe-ksec-'));
});

/** the KafkaError a call throws (or fails the test) */
function err(fn: () => unknown): KafkaError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KafkaError);
    return e as KafkaError;
  }
  throw new Error('did not throw');
}
const noEnv = { env: {} };

describe('kafka[s]:// URL', () => {
  it('plain kafka:// has no security; kafkas:// means TLS; user, password and options are parsed', () => {
    const a = resolveKafkaSink('kafka://127.0.0.1:9092/t?codec=gzip', noEnv);
    expect(a).toMatchObject({ brokers: ['127.0.0.1:9092'], topic: 't', codec: 'gzip' });
    expect(a.security!.protocol).toBe('PLAINTEXT');
    expect(kafkajsSecurity(a.security)).toEqual({});
    const b = parseKafkaSinkUrl(`kafkas://alice:${encodeURIComponent('p@ss/w:rd')}@h1:9093,h2:9093/t?sasl=SCRAM-SHA-256&spool=/var/x`);
    expect(b.brokers).toEqual(['h1:9093', 'h2:9093']);
    expect(b.spoolDir).toBe('/var/x');
    expect(b.securitySettings).toMatchObject({ tls: true, sasl: 'scram-sha-256', username: 'alice', password: 'p@ss/w:rd' });
  });

  it('bad syntax and options are BAD_ADDRESS / BAD_OPTION naming the option, never echoing a password', () => {
    expect(err(() => parseKafkaSinkUrl('kafkas://h:1/t?bogus=1')).message).toMatch(/--sink: unknown option 'bogus' \(known: codec, spool, spool_bytes, tls, ca, cert, key, servername, insecure, sasl, password_file\)/);
    expect(err(() => parseKafkaSinkUrl('kafkas://h:1/t?sasl=gssapi')).message).toBe('--sink: sasl=gssapi: unknown SASL mechanism (known: plain, scram-sha-256, scram-sha-512)');
    expect(err(() => parseKafkaSinkUrl('kafkas://h:1/t?tls=0')).code).toBe('BAD_OPTION');
    expect(err(() => parseKafkaSinkUrl('kafka://h:1/t?tls=maybe')).message).toContain('tls=maybe: should be 1 or 0');
    expect(err(() => parseKafkaSinkUrl('kafka://h:1/t?servername=a_b')).message).toContain('servername=: should be a DNS host name');
    const q = err(() => parseKafkaSinkUrl(`kafka://u@h:1/t?sasl=plain&password=${PW}`));
    expect(q.code).toBe('BAD_OPTION');
    expect(q.message).toContain('a password is not a query option');
    expect(q.message).not.toContain(PW);
    const t = err(() => parseKafkaSinkUrl(`kafkas://u:${PW}@h:1`));
    expect(t.message).toBe("--sink 'kafkas://u:***@h:1': no topic (expected kafka://HOST:PORT/TOPIC)");
    expect(err(() => parseKafkaSinkUrl(`kafkas://u:${PW}@nohost/t`)).message).not.toContain(PW);
    expect(err(() => parseKafkaAddress('--kafka', 'kafkas://h:1/topic', {})).message).toContain('no topic here');
    expect(err(() => parseKafkaAddress('--kafka', 'kafkas://h:1?spool=/x', {})).message).toContain("--kafka: unknown option 'spool'");
  });
});

describe('resolving: files, password, combinations', () => {
  it('TLS files: read and checked; every problem names the option and the file', () => {
    const ok = resolveKafkaSink(`kafka://h:1/t?ca=${pki.ca}&cert=${pki.clientCert}&key=${pki.clientKey}&servername=kafka.example`, noEnv);
    expect(ok.security!.protocol).toBe('SSL'); // a CA file means TLS
    const ssl = kafkajsSecurity(ok.security).ssl as { ca: Buffer[]; cert: Buffer; key: Buffer; servername: string; rejectUnauthorized: boolean };
    expect(ssl.ca[0].toString()).toContain('BEGIN CERTIFICATE');
    expect(ssl.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(ssl.key.toString()).toContain('PRIVATE KEY');
    expect(ssl).toMatchObject({ servername: 'kafka.example', rejectUnauthorized: true });
    expect(describeSecurity(ok.security)).toBe(`SSL (CA ${pki.ca}; client certificate ${pki.clientCert})`);
    // the key is a Secret inside the resolved spec: serializing the spec shows no key material
    expect(JSON.stringify(ok)).not.toContain('PRIVATE KEY');

    expect(err(() => resolveKafkaSink(`kafkas://h:1/t?cert=${pki.clientCert}`, noEnv)).message).toBe('Kafka TLS: cert= in --sink needs key= too: a client certificate is used with its private key');
    expect(err(() => resolveKafkaSink(`kafkas://h:1/t?key=${pki.clientKey}`, noEnv)).message).toContain('key= in --sink needs cert=');
    expect(err(() => resolveKafkaSink('kafkas://h:1/t?ca=/nonexistent/ca.pem', noEnv)).message).toBe("Kafka TLS: ca= in --sink: cannot read the CA certificate (PEM) '/nonexistent/ca.pem': no such file");
    expect(err(() => resolveKafkaSink(`kafkas://h:1/t?ca=${pki.clientKey}`, noEnv)).message).toContain('is not a CA certificate (PEM)');
    const mismatch = err(() => resolveKafkaSink(`kafkas://h:1/t?cert=${pki.clientCert}&key=${other.clientKey}`, noEnv));
    expect(mismatch.code).toBe('BAD_OPTION');
    expect(mismatch.message).toContain('the key does not belong to the certificate');
    expect(mismatch.message).not.toContain('PRIVATE KEY');
    expect(err(() => resolveKafkaSink(`kafka://h:1/t?tls=0&ca=${pki.ca}`, noEnv)).message).toBe('Kafka TLS: ca= in --sink needs TLS, but tls= in --sink turns it off');
    const insecure = resolveKafkaSink('kafkas://h:1/t?insecure=1', noEnv).security!;
    expect(insecure.tls!.rejectUnauthorized).toBe(false);
    expect(insecure.warnings.join()).toContain('certificate verification is OFF (insecure= in --sink)');
  });

  it('SASL: mechanism, user and password required together; the password never printed', () => {
    expect(err(() => resolveKafkaSink('kafkas://h:1/t?sasl=plain', noEnv)).message).toContain('(PLAIN) needs a username');
    const nopw = err(() => resolveKafkaSink('kafkas://bob@h:1/t?sasl=scram-sha-512', noEnv));
    expect(nopw.message).toBe("Kafka SASL: sasl= in --sink (SCRAM-SHA-512) for user 'bob' needs a password: set V2PROBE_KAFKA_PASSWORD, or give password_file=FILE (kafka.password_file in the config file)");
    expect(err(() => resolveKafkaSink(`kafkas://bob:${PW}@h:1/t`, noEnv)).message).toBe('Kafka SASL: USER@ in --sink needs a SASL mechanism: sasl=plain|scram-sha-256|scram-sha-512 (kafka.sasl in the config file)');
    // the environment's password alone is ambient: ignored without a mechanism
    expect(resolveKafkaSink('kafka://h:1/t', { env: { V2PROBE_KAFKA_PASSWORD: PW } }).security!.protocol).toBe('PLAINTEXT');
    const s = resolveKafkaSink('kafka://bob@h:1/t?sasl=plain', { env: { V2PROBE_KAFKA_PASSWORD: PW } }).security!;
    expect(s.protocol).toBe('SASL_PLAINTEXT');
    expect(s.warnings.join()).toContain('PLAIN without TLS sends the password in clear text');
    expect(kafkajsSecurity(s).sasl).toEqual({ mechanism: 'plain', username: 'bob', password: PW });
    const shown = [JSON.stringify(s), String(s.sasl!.password), inspect(s, { depth: 5 }), describeSecurity(s)].join('\n');
    expect(shown).not.toContain(PW);
    // pino too
    const out: string[] = [];
    pino({}, { write: (l: string) => void out.push(l) }).info({ security: s, pw: new Secret(PW) }, 'x');
    expect(out.join('')).not.toContain(PW);
    expect(out.join('')).toContain('"password":"***"');
  });

  it('password sources: URL > V2PROBE_KAFKA_PASSWORD > config file; password_file read (trailing newline dropped)', () => {
    const pwFile = join(dir, 'pw');
    writeFileSync(pwFile, 'from-file\n');
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    const file = { path: '/etc/v2probe.yaml', settings: { sasl: 'scram-sha-256' as const, username: 'cfg-user', password: 'from-config', ca: pki.ca } };
    const pw = (url: string, env: NodeJS.ProcessEnv) => kafkajsSecurity(resolveKafkaSink(url, { env, file }).security).sasl as { password: string; username: string; mechanism: string };
    expect(pw('kafka://h:1/t', {})).toEqual({ mechanism: 'scram-sha-256', username: 'cfg-user', password: 'from-config' });
    expect(pw('kafka://h:1/t', { V2PROBE_KAFKA_PASSWORD: 'from-env' }).password).toBe('from-env');
    expect(pw(`kafka://h:1/t?password_file=${pwFile}`, { V2PROBE_KAFKA_PASSWORD: 'from-env' }).password).toBe('from-file');
    expect(pw('kafka://url-user:from-url@h:1/t?sasl=plain', { V2PROBE_KAFKA_PASSWORD: 'from-env' })).toEqual({ mechanism: 'plain', username: 'url-user', password: 'from-url' });
    expect(resolveKafkaSink('kafka://h:1/t', { env: {}, file }).security!.protocol).toBe('SASL_SSL'); // the file's ca: means TLS
    expect(err(() => resolveKafkaSink(`kafka://u:x@h:1/t?sasl=plain&password_file=${pwFile}`, noEnv)).message).toBe('Kafka SASL: give USER:PASSWORD@ in --sink or password_file= in --sink, not both');
    expect(err(() => resolveKafkaSink(`kafka://u@h:1/t?sasl=plain&password_file=${empty}`, noEnv)).message).toContain(`'${empty}' is empty`);
    expect(err(() => resolveKafkaSink('kafka://u@h:1/t?sasl=plain&password_file=/nope', noEnv)).message).toContain("password_file= in --sink: cannot read '/nope': no such file");
    const cfgErr = err(() => resolveKafkaSink('kafka://h:1/t', { env: {}, file: { path: '/etc/v.yaml', settings: { cert: '/nope.pem', key: '/nope.key' } } }));
    expect(cfgErr.message).toContain("kafka.cert in /etc/v.yaml: cannot read the client certificate (PEM) '/nope.pem'");
  });

  it("kafkajs failures become one line naming broker, protocol, mechanism and user, with the password scrubbed", () => {
    const sec = resolveKafkaSink('kafkas://bob@h:9093/t?sasl=scram-sha-256', { env: { V2PROBE_KAFKA_PASSWORD: PW } }).security!;
    const auth = Object.assign(new Error(`SASL SCRAM SHA256 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256 ${PW}`), { name: 'KafkaJSSASLAuthenticationError' });
    const a = explainKafkaFailure(Object.assign(new Error('wrapped'), { name: 'KafkaJSNonRetriableError', cause: auth }), ['h:9093'], sec);
    expect(a.kind).toBe('AUTH');
    expect(a.message).toMatch(/^Kafka at h:9093 \(SASL_SSL\): SASL SCRAM-SHA-256 authentication as user 'bob' failed: wrong username or password/);
    expect(a.message).not.toContain(PW);
    const untrusted = Object.assign(new Error('Connection error: self-signed certificate in certificate chain'), { name: 'KafkaJSConnectionError', code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    expect(explainKafkaFailure(Object.assign(new Error('x'), { name: 'KafkaJSNumberOfRetriesExceeded', originalError: untrusted }), ['h:9093'], sec)).toEqual({
      kind: 'TLS',
      message: "Kafka at h:9093 (SASL_SSL): TLS: the broker's certificate is not trusted (self-signed certificate in certificate chain): give the CA that signed it with ca=FILE (kafka.ca in the config file)",
    });
    const alert = Object.assign(new Error('Connection error: 80CC:error:0A000416:SSL routines:ssl3_read_bytes:sslv3 alert certificate unknown:../deps/x.c:1601:SSL alert number 46\n'), { code: 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN' });
    expect(explainKafkaFailure(alert, ['h:9093'], sec).message).toContain('TLS: the broker refused the handshake (sslv3 alert certificate unknown): the listener requires a client certificate');
    expect(explainKafkaFailure(Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), ['127.0.0.1:1'], undefined)).toEqual({
      kind: 'UNREACHABLE',
      message: 'Kafka at 127.0.0.1:1 (PLAINTEXT) does not answer: connect ECONNREFUSED 127.0.0.1:1',
    });
  });
});

describe('redaction and the config file', () => {
  it('redactDsn hides every URL password (also unencoded characters) and password= query values', () => {
    expect(redactDsn('clickhouse://ops:pw@h:8123/v2e')).toBe('clickhouse://ops:***@h:8123/v2e');
    expect(redactDsn('kafkas://u:p/a@ss@h:1,h:2/t?ca=/x')).toBe('kafkas://u:***@h:1,h:2/t?ca=/x');
    expect(redactDsn("a 'kafka://u:x@h:1/t' and 'clickhouses://v:y@h/db?ca=/c'")).toBe("a 'kafka://u:***@h:1/t' and 'clickhouses://v:***@h/db?ca=/c'");
    expect(redactDsn('kafka://u@h:1/t?sasl=plain&password=hunter2&x=1')).toBe('kafka://u@h:1/t?sasl=plain&password=***&x=1');
    expect(redactDsn('kafka://h1:9092,h2:9092/t?ca=/etc/ca.pem')).toBe('kafka://h1:9092,h2:9092/t?ca=/etc/ca.pem');
  });

  it('config file: the kafka: section is validated (with lines), merged, and a password in it is never shown', () => {
    const good = parseConfig(['sink: "kafka://h:9093/t?spool=/var/lib/v2probe/spool"', 'kafka:', `  ca: ${pki.ca}`, '  sasl: SCRAM-SHA-512', '  username: col', '  password_file: /etc/pw', ''].join('\n'), 'v.yaml');
    expect(good.issues).toEqual([]);
    expect(good.config!.kafka).toMatchObject({ ca: pki.ca, sasl: 'scram-sha-512', username: 'col', passwordFile: '/etc/pw' });
    const bad = parseConfig(
      [`sink: "kafkas://col:${PW}@h:9093/t?bogus=1"`, 'kafka:', '  cert: /c.pem', '  sasl: gssapi', `  password: [${PW}]`, '  tls: yes please', '  colour: blue', ''].join('\n'),
      'v.yaml',
    );
    const text = bad.issues.map((i) => `${i.line}:${i.path}${i.value !== undefined ? ` = ${i.value}` : ''}: ${i.message}`).join('\n');
    expect(text).not.toContain(PW);
    expect(text).toContain(`1:sink = "kafkas://col:***@h:9093/t?bogus=1": sink: unknown option 'bogus'`);
    expect(text).toContain("4:kafka.sasl = gssapi: sasl 'gssapi': unknown SASL mechanism (known: plain, scram-sha-256, scram-sha-512)");
    expect(text).toContain('5:kafka.password = ***: should be a string');
    expect(text).toContain('6:kafka.tls = yes please: should be true or false');
    expect(text).toMatch(/7:kafka\.colour: unknown field; the kafka section knows: tls, ca, cert, key, servername, insecure, sasl, username, password, password_file/);
    const pair = parseConfig(['kafka:', '  cert: /c.pem', '  sasl: plain', ''].join('\n'), 'v.yaml');
    expect(pair.issues.map((i) => `${i.path}: ${i.message}`)).toEqual(expect.arrayContaining(["kafka.cert: needs kafka.key too (the client certificate's private key)", 'kafka.username: sasl: plain needs a username']));
  });

  it('the command line: bad TLS/SASL options exit 2 with one line naming the option (before anything connects)', () => {
    const cases: Array<[string[], RegExp]> = [
      [['collect', '--sink', `kafkas://h:1/t?cert=${pki.clientCert}`], /cert= in --sink needs key= too/],
      [['collect', '--sink', 'kafkas://h:1/t?ca=/nonexistent.pem'], /ca= in --sink: cannot read the CA certificate \(PEM\) '\/nonexistent.pem': no such file/],
      [['collect', '--sink', 'kafkas://u@h:1/t?sasl=kerberos'], /--sink: sasl=kerberos: unknown SASL mechanism/],
      [['ingest', '--kafka', 'kafkas://u@h:1?sasl=scram-sha-256', '--topic', 't'], /needs a password: set V2PROBE_KAFKA_PASSWORD/],
      [['ingest', '--kafka', `kafkas://u:${PW}@h:1`, '--topic', 't'], /USER@ in --kafka needs a SASL mechanism/],
    ];
    for (const [args, re] of cases) {
      const env = { ...process.env };
      delete env.V2PROBE_KAFKA_PASSWORD;
      const r = runCli(args, { env });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toContain(PW);
    }
  });
});
