// Every step of an ingester range is a named crash point (kafka/crash-point.ts):
// for each point x store (chDB; the ClickHouse server when CLICKHOUSE_URL is set),
// an ingester with V2PROBE_CRASH_AT=<point>:2 SIGKILLs itself the 2nd time it
// reaches the point, a normal ingester in the same group finishes the topic, and
// nothing is lost or doubled: events, counters, histograms, the ledger, the
// events rollups and ingest_errors (the malformed messages) are exact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../kafka/envelope.js';
import { encodeRecordsEnvelope } from '../../kafka/envelope-records.js';
import { makeKafka } from '../../kafka/client.js';
import { HIST_SLOTS, type CounterRow, type HistogramRow } from '../../schema/event.js';
import { storeTargets } from '../helpers/stores.js';
import { createTopic, ensureKafka, queryJson, startIngester, stopChild, syntheticEvents, syntheticRecords, uniq, waitConsumed, waitLog } from './kafka-helpers.js';

// the ledger insert's point is `ledger`; every other insert's is insert:<table>
// (the records of version-2 messages: insert:v2e.events:records)
const POINTS = ['ledger', 'insert:v2e.events', 'insert:v2e.events:records', 'insert:v2e.counters', 'insert:v2e.histograms', 'insert:v2e.ingest_errors', 'dlq', 'commit'];

let brokers = '';
beforeAll(() => {
  brokers = ensureKafka();
});

const results: string[] = [];
afterAll(() => {
  if (results.length) console.log(['crash point x store -> lost / doubled', ...results].join('\n'));
});

interface Sent {
  messages: number;
  events: number;
  counters: number;
  histograms: number;
  histCounts: number;
  garbage: number;
  hosts: string[];
}

/** 2 partitions, one host each; per host 8 x [events(50), counters(10), records(50), histograms(5), events(50), garbage]. */
async function produce(topic: string): Promise<Sent> {
  const hosts = [uniq('cp-a'), uniq('cp-b')];
  const s: Sent = { messages: 0, events: 0, counters: 0, histograms: 0, histCounts: 0, garbage: 0, hosts };
  const messages: Array<{ partition: number; key: string; value: Buffer }> = [];
  const ts = () => (BigInt(Date.now()) * 1_000_000n).toString();
  let id = 0;
  hosts.forEach((host, partition) => {
    let seq = 0;
    const meta = () => ({ host, session: 'cp', seq: seq++ });
    const ev = () => {
      messages.push({ partition, key: host, value: encodeEnvelope('events', syntheticEvents(host, id, 50), meta()) });
      id += 50;
      s.events += 50;
    };
    for (let round = 0; round < 8; round++) {
      ev();
      const counters: CounterRow[] = Array.from({ length: 10 }, (_, i) => ({ ts: ts(), host, probe: 'uds', name: 'synth', pid: 1, comm: 'synth', key: `k${s.counters + i}`, value: i, delta: 1 }));
      messages.push({ partition, key: host, value: encodeEnvelope('counters', counters, meta()) });
      s.counters += 10;
      const { records, monoToWallNs } = syntheticRecords(id, 50); // the same events as records: envelope version 2
      messages.push({ partition, key: host, value: encodeRecordsEnvelope(records, { ...meta(), monoToWallNs }) });
      id += 50;
      s.events += 50;
      const hist: HistogramRow[] = Array.from({ length: 5 }, (_, i) => ({ ts: ts(), host, probe: 'uds', event: 'sendmsg', counts: Array.from({ length: HIST_SLOTS }, (_, k) => (k === i ? 3 : 0)) }));
      messages.push({ partition, key: host, value: encodeEnvelope('histograms', hist, meta()) });
      s.histograms += 5;
      s.histCounts += 15;
      ev();
      messages.push({ partition, key: host, value: Buffer.from(`garbage ${host} ${round} \u0000\u00ff`, 'latin1') });
      s.garbage++;
    }
  });
  s.messages = messages.length;
  const p = makeKafka([brokers]).producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  await p.send({ topic, acks: -1, messages });
  await p.disconnect();
  return s;
}

function waitExit(c: ReturnType<typeof startIngester>, timeoutMs: number): Promise<NodeJS.Signals | number | null> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve(c.signalCode ?? c.exitCode);
    const t = setTimeout(() => resolve(null), timeoutMs);
    c.once('exit', (code, sig) => {
      clearTimeout(t);
      resolve(sig ?? code);
    });
  });
}

for (const target of storeTargets()) {
  describe.skipIf(target.skip)(`ingester crash points on ${target.name}${target.skip ? ` — skipped: ${target.skip}` : ''}`, () => {
    for (const point of POINTS) {
      it(`SIGKILL at ${point} on the 2nd range: nothing lost, nothing doubled`, async () => {
        const topic = uniq('cp');
        await createTopic(brokers, topic, 2);
        const sent = await produce(topic);
        const store = target.dsn();
        const group = uniq('g');
        const args = ['--group', group, '--max-rows', '200'];
        const crasher = startIngester(brokers, topic, store, args, { V2PROBE_CRASH_AT: `${point}:2` });
        const how = await waitExit(crasher, 90_000);
        if (how === null) await stopChild(crasher, 'SIGKILL');
        expect(how, crasher.log.join('').slice(-2000)).toBe('SIGKILL');
        expect(crasher.log.join('')).toContain(`crash point ${point} (hit 2 of 2)`);
        const next = startIngester(brokers, topic, store, args);
        expect(await waitLog(next, '"msg":"ingesting"'), next.log.join('').slice(-2000)).toBe(true);
        await waitConsumed(brokers, group, topic, 120_000);
        expect(await stopChild(next)).toBe(0);
        const hosts = sent.hosts.map((h) => `'${h}'`).join(',');
        const [r] = queryJson<Record<string, string>>(
          store,
          `SELECT
            (SELECT count() FROM v2e.events WHERE host IN (${hosts})) AS events,
            (SELECT uniqExact(value) FROM v2e.events WHERE host IN (${hosts})) AS events_u,
            (SELECT count() FROM v2e.counters WHERE host IN (${hosts})) AS counters,
            (SELECT uniqExact(host, key) FROM v2e.counters WHERE host IN (${hosts})) AS counters_u,
            (SELECT count() FROM v2e.histograms WHERE host IN (${hosts})) AS histograms,
            (SELECT sum(arraySum(counts)) FROM v2e.histograms WHERE host IN (${hosts})) AS hist_counts,
            (SELECT count() FROM v2e.ingest_ledger WHERE topic = '${topic}') AS ledger,
            (SELECT uniqExact(partition, offset) FROM v2e.ingest_ledger WHERE topic = '${topic}') AS ledger_u,
            (SELECT sum(samples) FROM v2e.events_10s WHERE host IN (${hosts})) AS events_10s,
            (SELECT sum(samples) FROM v2e.events_1m WHERE host IN (${hosts})) AS events_1m,
            (SELECT count() FROM v2e.ingest_errors WHERE topic = '${topic}') AS ingest_errors,
            (SELECT uniqExact(partition, offset) FROM v2e.ingest_errors WHERE topic = '${topic}') AS ingest_errors_u`,
        );
        const got = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)]));
        const want: Record<string, number> = {
          events: sent.events,
          events_u: sent.events,
          counters: sent.counters,
          counters_u: sent.counters,
          histograms: sent.histograms,
          hist_counts: sent.histCounts,
          ledger: sent.messages,
          ledger_u: sent.messages,
          events_10s: sent.events,
          events_1m: sent.events,
          ingest_errors: sent.garbage,
          ingest_errors_u: sent.garbage,
        };
        // lost: stored distinct < sent; doubled: stored > distinct (or a rollup above what was sent)
        const lost = Object.keys(want).filter((k) => got[k] < want[k]).map((k) => `${k} ${got[k]}/${want[k]}`);
        const doubled = Object.keys(want).filter((k) => got[k] > want[k]).map((k) => `${k} ${got[k]}/${want[k]}`);
        results.push(
          `${point.padEnd(26)} ${target.name.padEnd(18)} lost: ${lost.length ? lost.join(', ') : 'none'}; doubled: ${doubled.length ? doubled.join(', ') : 'none'}` +
            ` (${sent.events} events, ${sent.counters} counters, ${sent.histograms} histograms, ${sent.garbage} garbage, ${sent.messages} messages)`,
        );
        expect(got).toEqual(want);
      }, 240_000);
    }
  });
}
