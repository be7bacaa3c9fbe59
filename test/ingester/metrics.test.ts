// The ingester's /metrics (prom-client): lag per partition, rows, batches, DLQ count.
import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { encodeEnvelope } from '../../kafka/envelope.js';
import { makeKafka } from '../../kafka/client.js';
import { createTopic, ensureKafka, startIngester, stopChild, syntheticEvents, tmp, uniq, waitConsumed, waitLog } from '../pipeline/kafka-helpers.js';

const freePort = () =>
  new Promise<number>((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });

describe('ingester /metrics', () => {
  it('serves lag per partition, rows, batches and the DLQ count', async () => {
    const brokers = ensureKafka();
    const topic = uniq('met');
    await createTopic(brokers, topic, 2);
    const p = makeKafka([brokers]).producer();
    await p.connect();
    await p.send({ topic, messages: [
      { key: 'm1', value: encodeEnvelope('events', syntheticEvents('m1', 0, 100), { host: 'm1', session: 's', seq: 0 }) },
      { key: 'm1', value: Buffer.from('not an envelope') },
    ] });
    await p.disconnect();
    const port = await freePort();
    const group = uniq('g');
    const ing = startIngester(brokers, topic, `chdb:${tmp('met')}/data`, ['--group', group, '--metrics', `127.0.0.1:${port}`]);
    expect(await waitLog(ing, '"msg":"ingesting"')).toBe(true);
    await waitConsumed(brokers, group, topic);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    await stopChild(ing);
    expect(text).toMatch(/v2probe_ingest_rows_total\{table="events"\} 100/);
    expect(text).toMatch(/v2probe_ingest_dlq_total 1/);
    expect(text).toMatch(/v2probe_ingest_consumer_lag\{topic="[^"]+",partition="\d"\} 0/);
    expect(text).toMatch(/v2probe_ingest_batches_total [1-9]/);
    expect(text).toMatch(/v2probe_ingest_insert_seconds_count [1-9]/);
  }, 120_000);
});
