// kill -9 of the ingester, the Kafka broker and the collector while a workload
// with a known event count runs (CYCLES = 3 by default, 20 with V2PROBE_LONG=1).
// The workload is the real KafkaSink (envelope, spool, idempotent producer) fed
// with synthetic events whose value is a unique id plus the counter snapshots
// the collector writes (test/reliability/fixtures/synth-collector.mjs). Per cycle:
//   - the loss ledger (`v2probe loss`) balances: sampled = stored + counted drops
//     (for a collector kill: up to the one batch in flight at the kill, whose
//     kernel-side counts die with the process — the documented limit);
//   - the store has no duplicate id, and every acknowledged id is stored.
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, ensureKafka, startIngester, stopChild, tmp, uniq, waitConsumed, waitLog } from '../pipeline/kafka-helpers.js';
import { ackedCount, CYCLES, ledger, LONG, missingIds, ownBroker, sleep, startSynth, storedIds, waitAcked } from './helpers.js';

const T = (base: number) => (LONG ? base * 8 : base);
const log: string[] = [];
afterAll(() => console.log(`[kill9] ${CYCLES} cycles each\n  ${log.join('\n  ')}`));

describe('kill -9 the ingester mid-stream', () => {
  let brokers = '';
  beforeAll(() => {
    brokers = ensureKafka();
  });

  it(`${CYCLES} cycles: ledger balances, no duplicate, nothing lost`, async () => {
    const topic = uniq('k9i');
    await createTopic(brokers, topic, 2);
    const store = `chdb:${tmp('k9i')}/data`;
    const group = uniq('g');
    for (let c = 0; c < CYCLES; c++) {
      const host = `ik-${c}`;
      const ing = startIngester(brokers, topic, store, ['--group', group, '--max-rows', '500']);
      expect(await waitLog(ing, 'joined the consumer group')).toBe(true);
      const synth = startSynth({ brokers, topic, spool: tmp('sp'), host, first: c * 1_000_000, batches: 25, size: 200, intervalMs: 60 });
      // mid-stream: after 1..10 of the 25 batches were acknowledged, whatever the machine's speed
      expect(await waitAcked(synth, 1 + randomInt(10)), synth.err.join('')).toBe(true);
      await stopChild(ing, 'SIGKILL');
      const ing2 = startIngester(brokers, topic, store, ['--group', group, '--max-rows', '500']);
      expect(await synth.exited).toBe(0);
      expect(await waitLog(ing2, '"msg":"ingesting"')).toBe(true);
      await waitConsumed(brokers, group, topic, 120_000);
      expect(await stopChild(ing2)).toBe(0);
      const l = ledger(store, host);
      const ids = storedIds(store, host);
      log.push(`ingester cycle ${c}: generated ${ackedCount(synth)}, ledger sampled ${l.sampled} = stored ${l.stored} + drops ${l.drops} (unaccounted ${l.unaccounted}), duplicates ${ids.dups}`);
      expect(ackedCount(synth)).toBe(5000);
      expect(l).toEqual({ sampled: 5000, stored: 5000, drops: 0, unaccounted: 0 });
      expect(ids.dups).toBe(0);
    }
  }, T(600_000));
});

describe('kill -9 the Kafka broker mid-stream', () => {
  const state = tmp('k9b-kafka');
  const broker = ownBroker(state);
  afterAll(() => broker.stop());

  it(`${CYCLES} cycles: batches spool while it is dead and are sent after; ledger balances, no duplicate`, async () => {
    const brokers = broker.start();
    const topic = uniq('k9b');
    await createTopic(brokers, topic, 2);
    const store = `chdb:${tmp('k9b')}/data`;
    const group = uniq('g');
    for (let c = 0; c < CYCLES; c++) {
      const host = `bk-${c}`;
      const synth = startSynth({ brokers, topic, spool: tmp('sp'), host, first: c * 1_000_000, batches: 30, size: 200, intervalMs: 100, env: { DRAIN_MS: '120000' } });
      // mid-stream: the sink is open and 1..10 of the 30 batches were acknowledged (a kill
      // before open() is a start-up failure, exit 1 by design, not what this test is about)
      expect(await waitAcked(synth, 1 + randomInt(10)), synth.err.join('')).toBe(true);
      broker.kill9();
      await sleep(1000 + randomInt(1000));
      broker.start();
      expect(await synth.exited, synth.err.join('')).toBe(0);
      const done = JSON.parse(synth.out.find((x) => x.startsWith('done '))!.slice(5));
      const ing = startIngester(brokers, topic, store, ['--group', group]);
      expect(await waitLog(ing, '"msg":"ingesting"')).toBe(true);
      await waitConsumed(brokers, group, topic, 120_000);
      expect(await stopChild(ing)).toBe(0);
      const l = ledger(store, host);
      const ids = storedIds(store, host);
      log.push(`broker cycle ${c}: generated ${ackedCount(synth)} (${done.spooled} batches spooled), ledger sampled ${l.sampled} = stored ${l.stored} + drops ${l.drops} (unaccounted ${l.unaccounted}), duplicates ${ids.dups}`);
      expect(done.spooled).toBeGreaterThan(0); // >= 20 batches were still to write when the broker died
      expect(ids.dups).toBe(0);
      expect(l).toEqual({ sampled: 6000, stored: 6000, drops: 0, unaccounted: 0 });
    }
  }, T(900_000));
});

describe('kill -9 the collector mid-stream', () => {
  let brokers = '';
  beforeAll(() => {
    brokers = ensureKafka();
  });

  it(`${CYCLES} cycles: the spool survives, every acknowledged event stored once; only the batch in flight is unaccounted`, async () => {
    const topic = uniq('k9c');
    await createTopic(brokers, topic, 2);
    const store = `chdb:${tmp('k9c')}/data`;
    const group = uniq('g');
    const size = 200;
    for (let c = 0; c < CYCLES; c++) {
      const host = `ck-${c}`;
      const spool = tmp('sp');
      // the first run is killed at a random point; the restarted one resumes its spool and goes on
      const a = startSynth({ brokers, topic, spool, host, first: c * 1_000_000, batches: 40, size, intervalMs: 40 });
      expect(await waitAcked(a, 1 + randomInt(20)), a.err.join('')).toBe(true);
      await sleep(randomInt(40)); // anywhere in the batch cycle
      a.kill('SIGKILL');
      await a.exited;
      const b = startSynth({ brokers, topic, spool, host, first: c * 1_000_000 + 500_000, batches: 5, size, intervalMs: 0 });
      expect(await b.exited).toBe(0);
      const ing = startIngester(brokers, topic, store, ['--group', group]);
      expect(await waitLog(ing, '"msg":"ingesting"')).toBe(true);
      await waitConsumed(brokers, group, topic, 120_000);
      expect(await stopChild(ing)).toBe(0);
      const l = ledger(store, host);
      const ids = storedIds(store, host);
      const acked = ackedCount(a) + ackedCount(b);
      const missing = missingIds(store, host, [...a.acked, ...b.acked]);
      log.push(`collector cycle ${c}: acknowledged ${acked}, stored ${ids.n} (missing acknowledged ${missing}), ledger sampled ${l.sampled} = stored ${l.stored} + drops ${l.drops} (unaccounted ${l.unaccounted}), duplicates ${ids.dups}`);
      expect(ids.dups).toBe(0);
      expect(missing).toBe(0);
      expect(ids.n - acked).toBeGreaterThanOrEqual(0);
      expect(ids.n - acked).toBeLessThanOrEqual(size);
      expect(Math.abs(l.unaccounted)).toBeLessThanOrEqual(size);
      expect(l.drops).toBe(0);
    }
  }, T(600_000));
});
