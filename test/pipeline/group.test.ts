// Two ingesters in one consumer group share the partitions; stop one, the
// other takes over: no loss, no duplicate (each has its own chDB store here —
// chDB is one engine per process — so the check is over the union).
import { beforeAll, describe, expect, it } from 'vitest';
import { KafkaSink } from '../../collector/sinks/kafka.js';
import { createTopic, ensureKafka, queryJson, startIngester, stopChild, syntheticEvents, tmp, uniq, waitConsumed, waitLog } from './kafka-helpers.js';

let brokers = '';
beforeAll(() => {
  brokers = ensureKafka();
});

describe('ingester consumer group', () => {
  it('two ingesters share partitions; one stops, the other takes over without loss or duplicates', async () => {
    const topic = uniq('grp');
    await createTopic(brokers, topic, 4);
    const group = uniq('g');
    const storeA = `chdb:${tmp('ga')}/data`;
    const storeB = `chdb:${tmp('gb')}/data`;
    const hosts = ['g-1', 'g-2', 'g-3', 'g-4', 'g-5', 'g-6'];
    const sinks = await Promise.all(hosts.map((h) => new KafkaSink({ brokers: [brokers], topic, spoolDir: tmp('spool') }, { host: h }).open()));
    let sent = 0;
    const produce = async (rounds: number) => {
      for (let r = 0; r < rounds; r++) {
        await Promise.all(sinks.map((s, i) => s.writeEvents(syntheticEvents(hosts[i], sent + i * 200, 200))));
        sent += 200 * hosts.length;
      }
    };
    const a = startIngester(brokers, topic, storeA, ['--group', group]);
    expect(await waitLog(a, 'joined the consumer group')).toBe(true);
    const b = startIngester(brokers, topic, storeB, ['--group', group]);
    expect(await waitLog(b, 'joined the consumer group')).toBe(true);
    await produce(10);
    await waitConsumed(brokers, group, topic);
    expect(await stopChild(a)).toBe(0); // graceful: finish, commit, leave the group
    await produce(10);
    await waitConsumed(brokers, group, topic);
    expect(await stopChild(b)).toBe(0);
    await Promise.all(sinks.map((s) => s.close()));
    const ids = (store: string) => queryJson<{ v: string }>(store, "SELECT value AS v FROM v2e.events WHERE comm = 'synth'").map((r) => Number(r.v));
    const ia = ids(storeA);
    const ib = ids(storeB);
    expect(ia.length).toBeGreaterThan(0);
    expect(ib.length).toBeGreaterThan(0);
    expect(ia.length + ib.length).toBe(sent);
    expect(new Set([...ia, ...ib]).size).toBe(sent);
  }, 180_000);
});
