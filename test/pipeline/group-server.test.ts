// The fleet topology for real: three ingesters in one consumer group writing
// to one ClickHouse server, kill -9 of a random one (replaced at once) again and
// again mid-stream; the others take over its partitions. At the end every event
// is stored exactly once (count() = uniqExact = sent), the ledger holds each
// message once, and the rollups (materialized-view targets, each with its own
// deduplication window) hold exactly the raw rows: a replayed range doubled nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import { KafkaSink } from '../../collector/sinks/kafka.js';
import { openStore } from '../../store/index.js';
import { storeTargets } from '../helpers/stores.js';
import { createTopic, ensureKafka, queryJson, startIngester, stopChild, syntheticEvents, tmp, uniq, waitConsumed, waitLog } from './kafka-helpers.js';

const server = storeTargets().find((t) => t.name === 'ClickHouse server')!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(server.skip)(`ingester group on one ClickHouse server${server.skip ? ` (skipped: ${server.skip})` : ''}`, () => {
  let brokers = '';
  let store = '';
  beforeAll(async () => {
    brokers = ensureKafka();
    store = server.dsn();
    const s = await openStore(store);
    await server.reset?.(s);
    await s.close();
  });

  it('3 ingesters, kill -9 a random one 8 times (replaced each time): nothing lost, nothing doubled, rollups = raw', async () => {
    const topic = uniq('grp-srv');
    await createTopic(brokers, topic, 6);
    const hosts = ['s-a', 's-b', 's-c', 's-d'];
    const sinks = await Promise.all(hosts.map((h) => new KafkaSink({ brokers: [brokers], topic, spoolDir: tmp('spool') }, { host: h }).open()));
    let sent = 0;
    let producing = true;
    const producer = (async () => {
      for (let round = 0; round < 60; round++) {
        await Promise.all(sinks.map((s, i) => s.writeEvents(syntheticEvents(hosts[i], sent + i * 250, 250))));
        sent += 1000;
        await sleep(150);
      }
      producing = false;
    })();
    const group = uniq('g');
    const start = () => startIngester(brokers, topic, store, ['--group', group, '--max-rows', '700']);
    const ings = [start(), start(), start()];
    for (const i of ings) expect(await waitLog(i, 'joined the consumer group', 120_000)).toBe(true);
    for (let kills = 0; kills < 8; kills++) {
      await sleep(500 + Math.random() * 1500);
      const k = Math.floor(Math.random() * ings.length);
      await stopChild(ings[k], 'SIGKILL');
      ings[k] = start();
    }
    await producer;
    expect(producing).toBe(false);
    await Promise.all(sinks.map((s) => s.close()));
    await waitConsumed(brokers, group, topic, 180_000);
    for (const i of ings) expect(await stopChild(i)).toBe(0);

    const where = `comm = 'synth' AND host IN ('s-a', 's-b', 's-c', 's-d')`;
    const [r] = queryJson<{ n: string; u: string; lo: string; hi: string }>(
      store, `SELECT count() AS n, uniqExact(value) AS u, min(value) AS lo, max(value) AS hi FROM v2e.events WHERE ${where}`);
    expect({ n: Number(r.n), u: Number(r.u), lo: Number(r.lo), hi: Number(r.hi) }).toEqual({ n: sent, u: sent, lo: 0, hi: sent - 1 });
    const [l] = queryJson<{ m: string; um: string }>(store, `SELECT count() AS m, uniqExact(partition, offset) AS um FROM v2e.ingest_ledger WHERE topic = '${topic}'`);
    expect(Number(l.m)).toBe(Number(l.um));
    for (const rollup of ['events_10s', 'events_1m']) {
      const [g] = queryJson<{ w: string; s: string }>(store, `SELECT sum(weight_sum) AS w, sum(samples) AS s FROM v2e.${rollup} WHERE ${where}`);
      expect({ rollup, w: Number(g.w), s: Number(g.s) }).toEqual({ rollup, w: sent, s: sent });
    }
  }, 420_000);
});
