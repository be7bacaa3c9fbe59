// The collector's Kafka sink across broker outages and its own death, with a
// broker of its own (own state dir) so the shared one keeps running:
//  - a broker restart while a collector produces: batches spool to disk and are
//    sent in order when Kafka is back, nothing lost;
//  - the sink's crash points (kafka/crash-point.ts) - produce, spool, spool-sent:
//    a sink process SIGKILLs itself there, the next one resumes the spool, and
//    every batch the killed sink had sent or spooled is stored exactly once (a
//    spooled batch Kafka acknowledged but the sink did not remove is sent again at
//    the next start; the ingester drops that repeat by its (host, session, seq)).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaSink } from '../../collector/sinks/kafka.js';
import { ROOT } from '../helpers/cli.js';
import { storeTargets } from '../helpers/stores.js';
import { createTopic, ingestAll, queryJson, syntheticEvents, tmp, uniq } from './kafka-helpers.js';

const state = tmp('kafka-spool');
const kafka = (cmd: string) =>
  execFileSync('bash', [join(ROOT, 'scripts/kafka.sh'), cmd], { encoding: 'utf8', timeout: 170_000, env: { ...process.env, KAFKA_STATE_DIR: state } });
let brokers = '';
beforeAll(() => {
  brokers = /KAFKA_BROKERS=(\S+)/.exec(kafka('start'))![1];
}, 180_000);
afterAll(() => {
  kafka('stop');
}, 180_000);

describe('Kafka sink spool', () => {
  it('spools while the broker is down and resumes in order; nothing lost', async () => {
    const topic = uniq('spool');
    await createTopic(brokers, topic, 1);
    const sink = await new KafkaSink({ brokers: [brokers], topic, spoolDir: tmp('spool') }, { host: 'sp-1' }).open();
    let sent = 0;
    const write = async () => {
      await sink.writeEvents(syntheticEvents('sp-1', sent, 500));
      sent += 500;
    };
    for (let i = 0; i < 5; i++) await write();
    kafka('stop');
    for (let i = 0; i < 10; i++) await write();
    // every batch of the outage is on disk (the first one after kafkajs' retries gave up, the rest at once: order kept)
    expect(sink.snapshotStats().spooled).toBe(10);
    expect(sink.snapshotStats().spoolCount).toBeGreaterThan(0);
    kafka('start');
    for (let i = 0; i < 5; i++) await write();
    await sink.close(60_000);
    expect(sink.snapshotStats().spoolCount).toBe(0);
    const store = `chdb:${tmp('sp')}/data`;
    await ingestAll(brokers, topic, store);
    const [r] = queryJson<{ n: string; u: string }>(store, "SELECT count() AS n, uniqExact(value) AS u FROM v2e.events WHERE comm = 'synth'");
    expect({ n: Number(r.n), u: Number(r.u) }).toEqual({ n: sent, u: sent });
    // in order: the batch sequence grows with the offset
    const seqs = queryJson<{ seq: string }>(store, `SELECT seq FROM v2e.ingest_ledger WHERE topic = '${topic}' ORDER BY offset`).map((x) => Number(x.seq));
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(seqs.length).toBe(20);
  }, 300_000);
});

/** A sink process (test/pipeline/sink-driver.mjs) driven a batch at a time. */
class SinkProc {
  readonly child: ChildProcess;
  private readonly lines: string[] = [];
  private wake: (() => void) | undefined;
  readonly exited: Promise<NodeJS.Signals | number | null>;
  stderr = '';
  constructor(topic: string, spoolDir: string, host: string, crashAt?: string) {
    const env = { ...process.env, V2PROBE_LOG_LEVEL: 'warn' };
    if (crashAt) env.V2PROBE_CRASH_AT = crashAt;
    else delete env.V2PROBE_CRASH_AT;
    this.child = spawn(process.execPath, [join(ROOT, 'test/pipeline/sink-driver.mjs'), brokers, topic, spoolDir, host], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      this.lines.push(l);
      this.wake?.();
    });
    // 'close', not 'exit': its last lines can arrive after it exited
    this.exited = new Promise((r) => this.child.once('close', (code, sig) => r(sig ?? code)));
    void this.exited.then(() => {
      this.closed = true;
      this.wake?.();
    });
  }
  private closed = false;
  /** The next line it prints, or undefined once it has exited and all it printed was read. */
  async next(): Promise<string | undefined> {
    while (!this.lines.length) {
      if (this.closed) return undefined;
      await new Promise<void>((r) => (this.wake = r));
    }
    return this.lines.shift();
  }
  /** Write a batch; its reply (`ok <spooled>`), or undefined if it died doing it. */
  async write(rows: unknown[]): Promise<string | undefined> {
    this.child.stdin!.write(`${JSON.stringify(rows)}\n`);
    return this.next();
  }
}

describe('Kafka sink crash points (collector side)', () => {
  const topic = uniq('sink-crash');
  const host = uniq('sc');
  const spoolDir = tmp('sink-crash-spool');
  const N = 500;
  let batches = 0; // batches written (ids 0 .. batches*N-1)
  const written: number[] = []; // batches a sink took (sent or spooled) before it was killed or closed
  const batch = () => syntheticEvents(host, batches++ * N, N);
  const killedAt = async (p: SinkProc, point: string) => {
    expect(await p.exited).toBe('SIGKILL');
    expect(p.stderr).toContain(`SIGKILL at crash point ${point}`);
  };

  it('produce: killed after Kafka acknowledged its 3rd batch; the 3 are in Kafka', async () => {
    await createTopic(brokers, topic, 1);
    const p = new SinkProc(topic, spoolDir, host, 'produce:3');
    expect(await p.next()).toBe('ready 0');
    expect(await p.write(batch())).toBe('ok 0');
    expect(await p.write(batch())).toBe('ok 0');
    expect(await p.write(batch())).toBeUndefined(); // killed inside the 3rd write, after its ack
    await killedAt(p, 'produce');
    written.push(0, 1, 2);
  }, 120_000);

  it('spool: the broker down, killed after its 4th batch was written to the spool', async () => {
    const p = new SinkProc(topic, spoolDir, host, 'spool:4');
    expect(await p.next()).toBe('ready 0');
    kafka('stop');
    for (let k = 1; k <= 3; k++) expect(await p.write(batch())).toBe(`ok ${k}`);
    expect(await p.write(batch())).toBeUndefined();
    await killedAt(p, 'spool');
    written.push(3, 4, 5, 6);
  }, 240_000);

  it('spool-sent: the broker back, killed after its 2nd spooled batch was acknowledged, before removing it', async () => {
    kafka('start');
    const p = new SinkProc(topic, spoolDir, host, 'spool-sent:2');
    expect(await p.next()).toBe('ready 4'); // the 4 batches the killed sink spooled
    await killedAt(p, 'spool-sent'); // draining in the background: 1st sent and removed, 2nd sent, killed
  }, 240_000);

  it('a clean sink resumes the spool (the 2nd batch again), writes 2 more, drains and closes', async () => {
    const p = new SinkProc(topic, spoolDir, host);
    expect(await p.next()).toBe('ready 3');
    for (let k = 0; k < 2; k++) expect(await p.write(batch())).toMatch(/^ok \d+$/);
    written.push(7, 8);
    p.child.stdin!.write('close\n');
    expect(await p.next()).toBe('closed 0');
    expect(await p.exited).toBe(0);
  }, 120_000);

  for (const t of storeTargets()) {
    it.skipIf(t.skip)(`${t.skip ? `[skipped: ${t.skip}] ` : ''}${t.name}: every batch the sinks took is stored once; the resend is in the ledger as 'resent'`, async () => {
      const store = t.dsn();
      await ingestAll(brokers, topic, store);
      const want = written.length * N;
      const [r] = queryJson<{ n: string; u: string; lo: string; hi: string }>(store, `SELECT count() AS n, uniqExact(value) AS u, min(value) AS lo, max(value) AS hi FROM v2e.events WHERE host = '${host}'`);
      expect({ n: Number(r.n), u: Number(r.u), lo: Number(r.lo), hi: Number(r.hi) }).toEqual({ n: want, u: want, lo: 0, hi: want - 1 });
      const ledger = queryJson<{ status: string; n: string; rows: string }>(store, `SELECT status, count() AS n, sum(rows) AS rows FROM v2e.ingest_ledger WHERE topic = '${topic}' GROUP BY status ORDER BY status`);
      expect(ledger.map((x) => [x.status, Number(x.n), Number(x.rows)])).toEqual([
        ['ok', written.length, want],
        ['resent', 1, N],
      ]);
    }, 240_000);
  }
});
