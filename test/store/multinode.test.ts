// Two ClickHouse servers as one cluster: <remote_servers> with two shards, the
// v2e schema applied on each node, and a Distributed table in front of
// v2e.events. Rows inserted on each node are all seen through the Distributed
// table; rows inserted through it are split over both shards and all come back.
// (Replicated engines and ON CLUSTER need Keeper, which this server mode does not
// start: see the README, "ClickHouse server for tests".)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchema } from '../../schema/ddl.js';
import { openStore, type Store } from '../../store/index.js';
import { PrivateServer, serverUnavailable } from '../helpers/clickhouse-server.js';
import { syntheticEvents } from '../pipeline/kafka-helpers.js';

describe.skipIf(serverUnavailable)(`two servers, two shards, one Distributed table${serverUnavailable ? ` (skipped: ${serverUnavailable})` : ''}`, () => {
  const nodes = [new PrivateServer(), new PrivateServer()];
  const stores: Store[] = [];
  beforeAll(async () => {
    const shards = nodes.map((n) => `<shard><replica><host>127.0.0.1</host><port>${n.tcpPort()}</port></replica></shard>`).join('');
    for (const n of nodes) {
      n.extraXml = `<remote_servers><two>${shards}</two></remote_servers>`;
      stores.push(await openStore(n.start()));
    }
    for (const s of stores) await applySchema(s);
    await stores[0].exec('CREATE TABLE IF NOT EXISTS v2e.events_all AS v2e.events ENGINE = Distributed(two, v2e, events, rand())');
  }, 300_000);
  afterAll(async () => {
    for (const s of stores) await s.close();
    for (const n of nodes) n.stop();
  });

  const count = async (s: Store, table: string, host: string) =>
    Number((await s.queryRows<{ n: number }>(`SELECT count() AS n FROM ${table} WHERE host = '${host}'`))[0].n);

  it('the cluster is the two servers', async () => {
    const r = await stores[0].queryRows<{ shard_num: number; port: number }>("SELECT shard_num, port FROM system.clusters WHERE cluster = 'two' ORDER BY shard_num");
    expect(r.map((x) => Number(x.port))).toEqual(nodes.map((n) => n.tcpPort()));
  });

  it("a query through the Distributed table sees both shards' rows", async () => {
    await stores[0].insertRows('v2e.events', syntheticEvents('mn-1', 0, 300));
    await stores[1].insertRows('v2e.events', syntheticEvents('mn-2', 300, 200));
    expect(await count(stores[0], 'v2e.events', 'mn-2')).toBe(0);
    const r = await stores[0].queryRows<{ host: string; n: number }>(
      "SELECT host, count() AS n FROM v2e.events_all WHERE host IN ('mn-1', 'mn-2') GROUP BY host ORDER BY host");
    expect(r.map((x) => [x.host, Number(x.n)])).toEqual([['mn-1', 300], ['mn-2', 200]]);
  });

  it('rows inserted through the Distributed table are split over both shards and all come back', async () => {
    const rows = syntheticEvents('mn-d', 0, 2000);
    await stores[0].insertRows('v2e.events_all', rows);
    await stores[0].exec('SYSTEM FLUSH DISTRIBUTED v2e.events_all');
    const a = await count(stores[0], 'v2e.events', 'mn-d');
    const b = await count(stores[1], 'v2e.events', 'mn-d');
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    expect(a + b).toBe(2000);
    expect(await count(stores[0], 'v2e.events_all', 'mn-d')).toBe(2000);
  });
});
