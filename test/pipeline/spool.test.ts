// Broker restart while a collector produces: batches spool to disk, are sent
// in order when Kafka is back, nothing lost. Uses its own broker (own state
// dir) so that the shared one keeps running.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaSink } from '../../collector/kafka-sink.js';
import { ROOT } from '../helpers/cli.js';
import { createTopic, ingestAll, queryJson, syntheticEvents, tmp, uniq } from './kafka-helpers.js';

const state = tmp('kafka-spool');
const kafka = (cmd: string) =>
  execFileSync('bash', [join(ROOT, 'scripts/kafka.sh'), cmd], { encoding: 'utf8', timeout: 170_000, env: { ...process.env, KAFKA_STATE_DIR: state } });
afterAll(() => {
  kafka('stop');
});

describe('Kafka sink spool', () => {
  it('spools while the broker is down and resumes in order; nothing lost', async () => {
    const brokers = /KAFKA_BROKERS=(\S+)/.exec(kafka('start'))![1];
    const topic = uniq('spool');
    await createTopic(brokers, topic, 1);
    const sink = await new KafkaSink({ brokers: [brokers], topic, spoolDir: tmp('spool') }, { host: 'sp-1' }).open();
    let sent = 0;
    const write = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const t0 = Date.now();
        await sink.writeEvents(syntheticEvents('sp-1', sent, 500));
        sent += 500;
        return Date.now() - t0;
      }
      return 0;
    };
    for (let i = 0; i < 5; i++) await write(1);
    kafka('stop');
    const slow: number[] = [];
    for (let i = 0; i < 10; i++) slow.push(await write(1));
    expect(sink.snapshotStats().spoolCount).toBeGreaterThan(0);
    // only the first write after the outage waits for kafkajs' retries; the rest go straight to disk
    expect(slow.slice(1).every((ms) => ms < 500)).toBe(true);
    kafka('start');
    for (let i = 0; i < 5; i++) await write(1);
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
  }, 240_000);
});
