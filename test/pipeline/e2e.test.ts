// End to end with real probes: collector (sched, uds) → Kafka → ingester → chDB.
// Row counts equal what the collector sent, and the loss ledger balances.
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createTopic, ingestAll, ensureKafka, queryJson, tmp, uniq } from './kafka-helpers.js';

let brokers = '';
beforeAll(() => {
  brokers = ensureKafka();
});

describe('collector → Kafka → ingester → chDB (real probes, real broker)', () => {
  it('stores every row the collector sent; the loss ledger balances', async () => {
    const topic = uniq('e2e');
    await createTopic(brokers, topic, 2);
    const store = `chdb:${tmp('e2e')}/data`;
    const spool = tmp('spool');
    const c = runCli(['collect', '--probes', 'sched,uds', '--sample', 'sched=20', '--duration', '4s', '--snapshot', '1s', '--sink', `kafka://${brokers}/${topic}?spool=${spool}`], {
      env: { ...process.env, V2PROBE_LOG_LEVEL: 'info' },
    });
    expect(c.code, c.stderr).toBe(0);
    const done = c.stderr.split('\n').filter((l) => l.includes('"msg":"done"')).map((l) => JSON.parse(l) as { rows: number })[0];
    expect(done.rows).toBeGreaterThan(0);
    await ingestAll(brokers, topic, store);
    const [n] = queryJson<{ n: string }>(store, 'SELECT count() AS n FROM v2e.events');
    expect(Number(n.n)).toBe(done.rows);
    const loss = runCli(['loss', '--store', store, '--format', 'json']);
    expect(loss.code, loss.stderr).toBe(0);
    const rows = loss.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string | number>);
    expect(rows.find((r) => r.probe === 'sched')).toBeTruthy();
    // sampled = stored + every counted drop, exactly: the collector reads its counters for the last
    // time after it detached and the rings' last rows were handed over
    for (const r of rows) expect(Number(r.unaccounted), JSON.stringify(r)).toBe(0);
    expect(rows.reduce((a, r) => a + Number(r.stored), 0)).toBe(done.rows);
  }, 180_000);
});
