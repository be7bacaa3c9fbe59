// Kafka over TLS and SASL with a real broker (scripts/kafka.sh, KAFKA_SECURE=1:
// SASL_SSL, SASL_PLAINTEXT, SSL with client certificates), no mocks:
//   (a) collectors → SASL_SSL (PLAIN; SCRAM-SHA-512 from the config file) → ingesters
//       (SCRAM-SHA-256; mutual TLS) → chDB: rows stored == rows sent;
//   (b) a wrong password is refused at start (exit 2, one line naming broker,
//       protocol, mechanism and user); a password rotated on the broker while a
//       sink runs: send errors counted, batches spooled, nothing lost once the
//       collector restarts with the new password;
//   (c) an untrusted broker certificate, a missing or foreign client certificate,
//       TLS to a PLAINTEXT listener: refused with a clear message (exit 2);
//   (d) no password appears in anything captured here (logs at debug level,
//       errors, /metrics of a collector and an ingester, config check).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaSink } from '../../collector/sinks/kafka.js';
import { resolveKafkaSink } from '../../kafka/client.js';
import { BIN, ROOT, runCli, type CliResult } from '../helpers/cli.js';
import { isRoot } from '../helpers/probes.js';
import { makePki, type TestPki } from '../helpers/tls.js';
import { createTopic, queryJson, stopChild, syntheticEvents, tmp, uniq, waitConsumed, waitLog } from './kafka-helpers.js';
import { scramSet, startIngesterWith, startSecureKafka, stopSecureKafka, type SecureKafka } from './kafka-secure-helpers.js';

let k: SecureKafka;
let other: TestPki;
const WRONG = 'Wrong-4c9e1f0b7aSECRET';
const ROT1 = 'Rot1-8d2a6c4e19SECRET';
const ROT2 = 'Rot2-3f7b0e5d22SECRET';
/** everything any process or logger said in this file: searched for secrets at the end */
const seen: string[] = [];
const enc = (s: string) => encodeURIComponent(s);

beforeAll(() => {
  k = startSecureKafka();
  other = makePki('other');
});
afterAll(() => stopSecureKafka(k));

function cli(args: string[], env: Record<string, string | undefined> = {}): CliResult {
  const e: NodeJS.ProcessEnv = { ...process.env, V2PROBE_LOG_LEVEL: 'debug', ...env };
  for (const [n, v] of Object.entries(env)) if (v === undefined) delete e[n];
  const r = runCli(args, { env: e });
  seen.push(r.stdout, r.stderr);
  return r;
}
const doneRows = (stderr: string) => (JSON.parse(stderr.split('\n').find((l) => l.includes('"msg":"done"'))!) as { rows: number }).rows;
const sasl = (mech: string, extra = '') => `kafkas://${k.user}@${k.saslSsl}?ca=${k.ca}&sasl=${mech}${extra}`;
/** The child's exit code once it exits by itself; killed (SIGKILL, result null) if it has not within timeoutMs. */
function waitExit(c: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve(c.exitCode);
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}
const count = (store: string) => Number(queryJson<{ n: string }>(store, 'SELECT count() AS n FROM v2e.events')[0].n);

async function ingestAll(kafka: string, topic: string, env: Record<string, string> = {}): Promise<{ store: string; log: string }> {
  const store = `chdb:${tmp('kauth')}/data`;
  const group = uniq('g');
  const ing = startIngesterWith(kafka, topic, store, env, ['--group', group, '--metrics', 'off']);
  expect(await waitLog(ing, '"msg":"ingesting"'), ing.log.join('')).toBe(true);
  await waitConsumed(k.brokers, group, topic);
  expect(await stopChild(ing)).toBe(0);
  seen.push(ing.log.join(''));
  return { store, log: ing.log.join('') };
}

describe('Kafka over TLS and SASL (real broker)', () => {
  it.skipIf(!isRoot)('(a) collectors over SASL_SSL (PLAIN, SCRAM-SHA-512) → ingesters (SCRAM-SHA-256, mutual TLS) → chDB: every row stored', async () => {
    const topic = uniq('sasl');
    await createTopic(k.brokers, topic, 2);
    // collector 1: PLAIN, the password from the environment
    const a = cli(['collect', '--probes', 'sched', '--sample', 'sched=20', '--duration', '3s', '--snapshot', '1s', '--sink', `kafkas://${k.user}@${k.saslSsl}/${topic}?ca=${k.ca}&sasl=plain&spool=${tmp('sp')}`], {
      V2PROBE_KAFKA_PASSWORD: k.password,
    });
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toContain(`"security":"SASL_SSL (PLAIN, user ${k.user}; CA ${k.ca})"`);
    // collector 2: kafka:// in the config file, TLS + SCRAM-SHA-512 from its kafka: section, password from a file
    const cfg = join(tmp('cfg'), 'v2probe.yaml');
    writeFileSync(
      cfg,
      [`probes: sched`, `sink: "kafka://${k.saslSsl}/${topic}?spool=${tmp('sp')}"`, 'kafka:', `  ca: ${k.ca}`, '  sasl: scram-sha-512', `  username: ${k.user}`, `  password_file: ${k.passwordFile}`, ''].join('\n'),
      { mode: 0o600 },
    );
    const b = cli(['collect', '--config', cfg, '--sample', 'sched=20', '--duration', '3s', '--snapshot', '1s'], { V2PROBE_KAFKA_PASSWORD: undefined });
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toContain('SASL_SSL (SCRAM-SHA-512');
    const sent = doneRows(a.stderr) + doneRows(b.stderr);
    expect(sent).toBeGreaterThan(0);
    // ingester 1: SCRAM-SHA-256 over SASL_SSL, password_file=
    const i1 = await ingestAll(sasl('scram-sha-256', `&password_file=${k.passwordFile}`), topic);
    expect(i1.log).toContain(`"security":"SASL_SSL (SCRAM-SHA-256, user ${k.user}`);
    expect(count(i1.store)).toBe(sent);
    // ingester 2: mutual TLS on the SSL listener (client certificate, no SASL)
    const i2 = await ingestAll(`kafkas://${k.ssl}?ca=${k.ca}&cert=${k.clientCert}&key=${k.clientKey}`, topic);
    expect(i2.log).toContain(`"security":"SSL (CA ${k.ca}; client certificate ${k.clientCert})"`);
    expect(count(i2.store)).toBe(sent);
  }, 360_000);

  it('(b) a wrong password is refused at start: exit 2, broker, protocol, mechanism and user named, not the password', () => {
    const r = cli(['ingest', '--kafka', sasl('scram-sha-256'), '--topic', 'whatever', '--store', `chdb:${tmp('w')}/d`, '--metrics', 'off'], { V2PROBE_KAFKA_PASSWORD: WRONG });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`Kafka at ${k.saslSsl} (SASL_SSL): SASL SCRAM-SHA-256 authentication as user '${k.user}' failed: wrong username or password`);
    const p = cli(['ingest', '--kafka', `kafka://${k.user}:${enc(WRONG)}@${k.saslPlaintext}?sasl=plain`, '--topic', 'whatever', '--store', `chdb:${tmp('w')}/d`, '--metrics', 'off']);
    expect(p.code, p.stderr).toBe(2);
    expect(p.stderr).toContain(`Kafka at ${k.saslPlaintext} (SASL_PLAINTEXT): SASL PLAIN authentication as user '${k.user}' failed`);
    if (isRoot) {
      const c = cli(['collect', '--probes', 'sched', '--duration', '2s', '--sink', `${sasl('scram-sha-512').replace('?', `/t?`)}`], { V2PROBE_KAFKA_PASSWORD: WRONG });
      expect(c.code, c.stderr).toBe(2);
      expect(c.stderr).toContain(`SASL SCRAM-SHA-512 authentication as user '${k.user}' failed`);
    }
  }, 240_000);

  it('(b) a password rotated on the broker while the sink runs: errors counted, batches spooled, nothing lost after a restart with the new one', async () => {
    const user = uniq('rot');
    scramSet(k, user, ROT1);
    const topic = uniq('rot');
    await createTopic(k.brokers, topic, 1);
    const spool = tmp('rot-spool');
    const url = `kafkas://${user}@${k.saslSsl}/${topic}?ca=${k.ca}&sasl=scram-sha-256&spool=${spool}`;
    const logger = pino({ level: 'debug' }, { write: (s: string) => void seen.push(s) });
    const sink1 = await new KafkaSink(resolveKafkaSink(url, { env: { V2PROBE_KAFKA_PASSWORD: ROT1 } }), { host: 'rot-1', logger }).open();
    let sent = 0;
    const write = async (sink: KafkaSink) => {
      await sink.writeEvents(syntheticEvents('rot-1', sent, 200));
      sent += 200;
    };
    for (let i = 0; i < 3; i++) await write(sink1);
    expect(sink1.snapshotStats().sendErrors).toBe(0);
    // the operator rotates the password on the broker; the broker makes connected clients re-authenticate
    // (connections.max.reauth.ms = 15 s, kafkajs re-authenticates 10 s before), so the sink sees it within seconds
    scramSet(k, user, ROT2);
    const until = Date.now() + 120_000; // generous: the re-authentication is due within ~15 s, later on a loaded machine
    while (sink1.snapshotStats().sendErrors === 0 && Date.now() < until) {
      await write(sink1);
      await new Promise((r) => setTimeout(r, 300));
    }
    for (let i = 0; i < 3; i++) await write(sink1);
    const st = sink1.snapshotStats();
    expect(st.sendErrors, 'the rotated password never made a send fail').toBeGreaterThan(0);
    expect(st.spoolCount).toBeGreaterThan(0);
    await sink1.close(500); // still refused: what is left stays in the spool on disk
    const warn = seen.find((l) => l.includes('Kafka send failed: spooling to disk until it answers'));
    expect(warn).toBeTruthy();
    expect(JSON.parse(warn!).err).toMatch(new RegExp(`^Kafka at ${k.saslSsl} \\(SASL_SSL\\): SASL SCRAM-SHA-256 authentication as user '${user}' failed: wrong username or password`));
    // the collector restarts with the new password: the spool is sent first, in order, then new batches
    const sink2 = await new KafkaSink(resolveKafkaSink(url, { env: { V2PROBE_KAFKA_PASSWORD: ROT2 } }), { host: 'rot-1', logger }).open();
    for (let i = 0; i < 2; i++) await write(sink2);
    await sink2.close(60_000);
    expect(sink2.snapshotStats().spoolCount).toBe(0);
    expect(sink2.snapshotStats().sendErrors).toBe(0);
    const { store } = await ingestAll(sasl('scram-sha-256'), topic, { V2PROBE_KAFKA_PASSWORD: k.password });
    const [r] = queryJson<{ n: string; u: string }>(store, "SELECT count() AS n, uniqExact(value) AS u FROM v2e.events WHERE comm = 'synth'");
    expect({ n: Number(r.n), u: Number(r.u) }).toEqual({ n: sent, u: sent });
  }, 360_000);

  it('(c) untrusted broker certificate, missing or foreign client certificate, TLS to a PLAINTEXT listener: refused clearly', () => {
    const store = `chdb:${tmp('c')}/d`;
    const ingest = (kafka: string, env: Record<string, string> = {}) => cli(['ingest', '--kafka', kafka, '--topic', 't', '--store', store, '--metrics', 'off'], env);
    const pw = { V2PROBE_KAFKA_PASSWORD: k.password };
    const noCa = ingest(`kafkas://${k.user}@${k.saslSsl}?sasl=plain`, pw);
    expect(noCa.code, noCa.stderr).toBe(2);
    expect(noCa.stderr).toContain(`Kafka at ${k.saslSsl} (SASL_SSL): TLS: the broker's certificate is not trusted (self-signed certificate in certificate chain): give the CA that signed it with ca=FILE`);
    const wrongCa = ingest(`kafkas://${k.user}@${k.saslSsl}?sasl=plain&ca=${other.ca}`, pw);
    expect(wrongCa.code, wrongCa.stderr).toBe(2);
    expect(wrongCa.stderr).toContain(`TLS: the broker's certificate is not trusted`);
    expect(wrongCa.stderr).toContain(`it is not signed by the CA in ${other.ca}`);
    const noCert = ingest(`kafkas://${k.ssl}?ca=${k.ca}`);
    expect(noCert.code, noCert.stderr).toBe(2);
    expect(noCert.stderr).toContain(`Kafka at ${k.ssl} (SSL): TLS: the broker refused the handshake`);
    expect(noCert.stderr).toContain('the listener requires a client certificate: give cert=FILE and key=FILE');
    const foreignCert = ingest(`kafkas://${k.ssl}?ca=${k.ca}&cert=${other.clientCert}&key=${other.clientKey}`);
    expect(foreignCert.code, foreignCert.stderr).toBe(2);
    expect(foreignCert.stderr).toContain(`the client certificate ${other.clientCert} was refused`);
    const plainListener = ingest(`kafkas://${k.brokers}?ca=${k.ca}`);
    expect(plainListener.code, plainListener.stderr).toBe(2);
    expect(plainListener.stderr).toContain('TLS handshake failed');
    expect(plainListener.stderr).toContain('is this an SSL or SASL_SSL listener?');
    const noSasl = ingest(k.saslPlaintext);
    expect(noSasl.code, noSasl.stderr).toBe(2);
    expect(noSasl.stderr).toContain('the broker closed the connection');
    for (const r of [noCa, wrongCa, noCert, foreignCert, plainListener, noSasl]) {
      expect(r.stderr.trim().split('\n')).toHaveLength(1); // one line, no stack trace
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    if (isRoot) {
      const c = cli(['collect', '--probes', 'sched', '--duration', '2s', '--sink', `kafkas://${k.user}@${k.saslSsl}/t?sasl=plain`], pw);
      expect(c.code, c.stderr).toBe(2);
      expect(c.stderr).toContain("TLS: the broker's certificate is not trusted");
    }
  }, 240_000);

  it('(d) the password is in no log (debug), error, /metrics or config check output', async () => {
    // a collector given the password on the command line (the worst case), with /metrics and debug logging
    if (isRoot) {
      const topic = uniq('sec');
      await createTopic(k.brokers, topic, 1);
      const c = spawn(process.execPath, [BIN, 'collect', '--probes', 'sched', '--metrics', '127.0.0.1:0', '--status', '1s', '--sink', `kafkas://${k.user}:${enc(k.password)}@${k.saslSsl}/${topic}?ca=${k.ca}&sasl=scram-sha-256&spool=${tmp('sp')}`], {
        cwd: ROOT,
        env: { ...process.env, V2PROBE_LOG_LEVEL: 'debug' },
      });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (out += d));
      const until = Date.now() + 120_000;
      while (!/"url":"(http:[^"]+)"/.test(out) && c.exitCode === null && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      const url = /"url":"(http:[^"]+)"/.exec(out)?.[1];
      expect(url, out).toBeTruthy();
      // wait (no fixed sleep) until the collector is collecting and its sink has authenticated
      // and delivered batches: the password has then been used and everything around it logged
      let metrics = '';
      const sent = () => Number(/^v2probe_sink_batches_sent_total(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? 0);
      const sendBy = Date.now() + 120_000;
      while (Date.now() < sendBy && c.exitCode === null && !(out.includes('"msg":"collecting"') && sent() > 0)) {
        await new Promise((r) => setTimeout(r, 200));
        metrics = await (await fetch(url!)).text();
      }
      seen.push(metrics);
      expect(sent(), out).toBeGreaterThan(0);
      c.kill('SIGINT');
      await new Promise((r) => c.once('exit', r));
      seen.push(out);
      expect(out).toContain('"msg":"collecting"');
      expect(out).toContain(`"sink":"kafkas://${k.user}@${k.saslSsl}/${topic}"`);
    }
    // an ingester with /metrics, the password from the environment
    // the topic does not exist: the ingester exits 2 by itself, with a message; wait for that exit
    // (not a fixed 5 s: on a busy machine node's start-up, the TLS+SCRAM handshake and the metadata
    // request take longer than that, and a SIGTERM before the check cuts off the very message checked)
    const ing = startIngesterWith(sasl('scram-sha-512'), uniq('none'), `chdb:${tmp('d')}/d`, { V2PROBE_KAFKA_PASSWORD: k.password, V2PROBE_LOG_LEVEL: 'debug' }, ['--metrics', '127.0.0.1:0']);
    const ingCode = await waitExit(ing, 120_000);
    seen.push(ing.log.join(''));
    expect(ingCode, ing.log.join('')).toBe(2);
    expect(ing.log.join('')).toContain('does not exist');
    const topic = uniq('ing');
    await createTopic(k.brokers, topic, 1);
    const ing2 = startIngesterWith(sasl('scram-sha-512'), topic, `chdb:${tmp('d')}/d`, { V2PROBE_KAFKA_PASSWORD: k.password, V2PROBE_LOG_LEVEL: 'debug' }, ['--metrics', '127.0.0.1:0']);
    expect(await waitLog(ing2, '"msg":"ingesting"'), ing2.log.join('')).toBe(true);
    const murl = /"url":"(http:[^"]+)"/.exec(ing2.log.join(''))?.[1];
    expect(murl).toBeTruthy();
    seen.push(await (await fetch(murl!)).text());
    await stopChild(ing2);
    seen.push(ing2.log.join(''));
    // bad options that carry a password: the message names the option, the password is ***
    const dir = tmp('cfg');
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(cfg, [`sink: "kafkas://${k.user}:${k.password}@${k.saslSsl}/t?bogus=1"`, 'kafka:', '  sasl: scram-sha-256', `  username: ${k.user}`, `  password: [${k.password}]`, ''].join('\n'));
    const chk = cli(['config', 'check', cfg]);
    expect(chk.code).toBe(2);
    expect(chk.stderr).toContain("unknown option 'bogus'");
    expect(chk.stderr).toContain(`sink = "kafkas://${k.user}:***@`);
    expect(chk.stderr).toContain('kafka.password = ***');
    const bad = cli(['collect', '--sink', `kafkas://${k.user}:${k.password}@${k.saslSsl}/t?bogus=1`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--sink: unknown option 'bogus'");
    const bad1 = cli(['collect', '--sink', `kafkas://${k.user}:${k.password}@${k.saslSsl}`]);
    expect(bad1.code).toBe(2);
    expect(bad1.stderr).toContain(`kafkas://${k.user}:***@${k.saslSsl}': no topic`);
    const bad2 = cli(['ingest', '--kafka', `kafkas://${k.user}:${k.password}@${k.saslSsl}?sasl=plain&cert=${k.clientCert}`, '--topic', 't']);
    expect(bad2.code).toBe(2);
    expect(bad2.stderr).toContain('cert= in --kafka needs key= too');

    const all = seen.join('\n');
    expect(all.length).toBeGreaterThan(1000);
    for (const secret of [k.password, WRONG, ROT1, ROT2]) {
      for (const form of new Set([secret, enc(secret), JSON.stringify(secret).slice(1, -1)])) expect(all.includes(form), `leaked ${secret === k.password ? 'the broker password' : secret}`).toBe(false);
    }
  }, 360_000);
});
