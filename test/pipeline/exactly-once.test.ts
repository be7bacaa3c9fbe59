// Exactly once against the real broker: kill -9 the ingester 5 times (100 with
// V2PROBE_LONG=1) at random moments of a stream of events with known ids (half
// of the hosts send records, envelope version 2, half rows, version 1);
// count() = uniqExact(id) = sent, the ledger and the rollups exact.
// Then 1,000 malformed messages interleaved with good ones: counts exact.
import { beforeAll, describe, expect, it } from 'vitest';
import { Kafka } from 'kafkajs';
import { KafkaSink } from '../../collector/sinks/kafka.js';
import { encodeEnvelope } from '../../kafka/envelope.js';
import { makeKafka } from '../../kafka/client.js';
import { createTopic, ingestAll, recordBatch, ensureKafka, queryJson, startIngester, stopChild, syntheticEvents, tmp, uniq, waitConsumed, waitLog } from './kafka-helpers.js';

let brokers = '';
beforeAll(() => {
  brokers = ensureKafka();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LONG = process.env.V2PROBE_LONG === '1';
const KILLS = LONG ? 100 : 5;

describe('ingester exactly once (real Kafka)', () => {
  it(`kill -9 the ingester mid-stream ${KILLS} times: no loss, no duplicate`, async () => {
    const topic = uniq('eo');
    await createTopic(brokers, topic, 4);
    const store = `chdb:${tmp('eo')}/data`;
    const hosts = ['h-a', 'h-b', 'h-c', 'h-d'];
    const sinks = await Promise.all(hosts.map((h) => new KafkaSink({ brokers: [brokers], topic, spoolDir: tmp('spool') }, { host: h }).open()));
    let sent = 0;
    let producing = true;
    let kills = 0;
    const producer = (async () => {
      // at least 80 rounds x 4 hosts x 250 events, and on until the last kill
      for (let round = 0; round < 80 || kills < KILLS; round++) {
        // two hosts send records (envelope version 2, as a collector does), two send rows (version 1): one range holds both
        await Promise.all(sinks.map((s, i) => (i % 2 === 0 ? s.writeRecords(recordBatch(hosts[i], sent + i * 250, 250)) : s.writeEvents(syntheticEvents(hosts[i], sent + i * 250, 250)))));
        sent += 1000;
        await sleep(LONG ? 1000 : 150); // LONG: ~1,000 events/s over the ~10 min of kills
      }
      producing = false;
    })();
    const group = uniq('g');
    while (kills < KILLS) {
      const ing = startIngester(brokers, topic, store, ['--group', group, '--max-rows', '700']);
      // let it join and insert some ranges, then kill it wherever it is
      expect(await waitLog(ing, 'joined the consumer group')).toBe(true);
      await sleep(300 + Math.random() * 1500);
      await stopChild(ing, 'SIGKILL');
      kills++;
    }
    await producer;
    expect(producing).toBe(false);
    await Promise.all(sinks.map((s) => s.close()));
    const last = startIngester(brokers, topic, store, ['--group', group, '--max-rows', '700']);
    expect(await waitLog(last, '"msg":"ingesting"')).toBe(true);
    await waitConsumed(brokers, group, topic, 120_000);
    expect(await stopChild(last)).toBe(0);
    const [r] = queryJson<{ n: string; u: string; lo: string; hi: string; redo: string }>(
      store,
      "SELECT count() AS n, uniqExact(value) AS u, min(value) AS lo, max(value) AS hi FROM v2e.events WHERE comm = 'synth'",
    );
    expect({ n: Number(r.n), u: Number(r.u), lo: Number(r.lo), hi: Number(r.hi) }).toEqual({ n: sent, u: sent, lo: 0, hi: sent - 1 });
    // the ledger saw every message exactly once too (one row per message: one probe each), and every row
    const admin = makeKafka([brokers]).admin();
    await admin.connect();
    const messages = (await admin.fetchTopicOffsets(topic)).reduce((a, o) => a + Number(o.high), 0);
    await admin.disconnect();
    const [l] = queryJson<{ m: string; um: string; rows: string }>(
      store,
      `SELECT count() AS m, uniqExact(partition, offset) AS um, sum(rows) AS rows FROM v2e.ingest_ledger WHERE topic = '${topic}'`,
    );
    expect({ m: Number(l.m), um: Number(l.um), rows: Number(l.rows) }).toEqual({ m: messages, um: messages, rows: sent });
    // and the rollups fed by materialized views neither lost nor doubled a replayed range
    const [ro] = queryJson<{ s10: string; s1m: string }>(
      store,
      "SELECT (SELECT sum(samples) FROM v2e.events_10s WHERE comm = 'synth') AS s10, (SELECT sum(samples) FROM v2e.events_1m WHERE comm = 'synth') AS s1m",
    );
    expect({ s10: Number(ro.s10), s1m: Number(ro.s1m) }).toEqual({ s10: sent, s1m: sent });
    console.log(`exactly-once: ${kills} kill -9 cycles, ${sent} events in ${messages} messages, stored ${r.n} (${r.u} distinct)`);
  }, LONG ? 3_600_000 : 300_000);

  it('1,000 garbage and wrong-version messages interleaved with good ones: good stored, the rest dead-lettered, counts exact', async () => {
    const topic = uniq('dlq');
    await createTopic(brokers, topic, 2);
    const store = `chdb:${tmp('dlq')}/data`;
    const kafka: Kafka = makeKafka([brokers]);
    const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await p.connect();
    let good = 0;
    let badN = 0;
    let seq = 0;
    const messages: Array<{ key: string; value: Buffer }> = [];
    for (let i = 0; i < 1500; i++) {
      const host = i % 2 ? 'dl-a' : 'dl-b';
      if (i % 3 === 0 || i % 3 === 1) {
        if (badN >= 1000) continue;
        badN++;
        if (i % 2) messages.push({ key: host, value: Buffer.from(`garbage ${i} \u0000\u00ff`, 'latin1') });
        else {
          const v = encodeEnvelope('events', syntheticEvents(host, 1_000_000 + i * 10, 10), { host, session: 'x', seq: seq++ });
          v[2] = 3; // a future schema version
          messages.push({ key: host, value: v });
        }
      } else {
        messages.push({ key: host, value: encodeEnvelope('events', syntheticEvents(host, good, 10), { host, session: 'x', seq: seq++ }) });
        good += 10;
      }
    }
    for (let i = 0; i < messages.length; i += 100) await p.send({ topic, messages: messages.slice(i, i + 100) });
    await p.disconnect();
    expect(badN).toBe(1000);
    await ingestAll(brokers, topic, store);
    const [r] = queryJson<{ n: string; u: string }>(store, "SELECT count() AS n, uniqExact(value) AS u FROM v2e.events WHERE comm = 'synth'");
    expect({ n: Number(r.n), u: Number(r.u) }).toEqual({ n: good, u: good });
    const [e] = queryJson<{ n: string; ver: string; garbage: string }>(
      store,
      `SELECT count() AS n, countIf(error LIKE '%schema version 3%') AS ver, countIf(error LIKE '%not a v2probe envelope%') AS garbage FROM v2e.ingest_errors WHERE topic = '${topic}'`,
    );
    expect({ n: Number(e.n), ver: Number(e.ver), garbage: Number(e.garbage) }).toEqual({ n: 1000, ver: 500, garbage: 500 });
    // the DLQ topic holds the same 1,000 messages (at least once: count by source offset)
    const admin = kafka.admin();
    await admin.connect();
    const offs = await admin.fetchTopicOffsets(`${topic}.dlq`);
    await admin.disconnect();
    expect(offs.reduce((a, o) => a + Number(o.high), 0)).toBe(1000);
  }, 180_000);
});
