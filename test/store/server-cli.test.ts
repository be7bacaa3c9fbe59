// The single-host commands, run as a user would against a real ClickHouse
// server (scripts/clickhouse.sh; .ci/run starts it): schema apply (again = no-op),
// collect into the server with a page-fault workload as ground truth, query,
// loss (the ledger balances), alerts --once with the default rules, incident,
// explain --from/--to. (flame --store on the server: test/flame/flame-store.test.ts.)
// The workload is a private copy of pf_touch (privateFixture: a comm of its own):
// with `--comm pf_touch` the same fixture run by another checkout's suite at
// the same time passed the filter too (seen: drops.test.ts counted 208,833
// calls where its own fixtures made 120,000).
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { openStore, type Store } from '../../store/index.js';
import { runCli, startCli } from '../helpers/cli.js';
import { isRoot, privateFixture, runFixture } from '../helpers/probes.js';
import { storeTargets } from '../helpers/stores.js';

const server = storeTargets().find((t) => t.name === 'ClickHouse server')!;
const skip = server.skip || (!isRoot && 'not root: the probes cannot attach');

describe.skipIf(skip)(`CLI on the ClickHouse server${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let dsn: string;
  let store: Store;
  const cli = (args: string[]) => {
    const r = runCli(args);
    expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
    expect(r.stderr + r.stdout).not.toContain(new URL(dsn.replace(/^clickhouse/, 'http')).password);
    return r;
  };

  beforeAll(async () => {
    dsn = server.dsn();
    store = await openStore(dsn);
    await server.reset?.(store);
  });
  afterAll(async () => store?.close());

  it('schema apply, and apply again changes nothing', async () => {
    expect(cli(['schema', 'apply', '--store', dsn]).stdout).toMatch(/applied .*\(was empty\)/);
    const n = async () => Number((await store.queryRows<{ n: number }>('SELECT count() AS n FROM v2e.schema_version'))[0].n);
    const before = await n();
    expect(cli(['schema', 'apply', '--store', dsn]).stdout).toMatch(/\(was \d+\)/);
    expect(await n()).toBe(before);
  });

  it("collect into the server: the page faults stored for a workload's pid cover every page it touched; the loss ledger balances", async () => {
    const fixture = privateFixture('pf_touch', 'srvcli');
    onTestFinished(fixture.remove);
    const col = startCli(['collect', '--probes', 'pagefault,sched', '--comm', fixture.comm, '--duration', '60s', '--sink', dsn]);
    await col.ready;
    const fx = await runFixture<{ pid: number; pages: number }>(fixture.path, ['-n', '5000']);
    col.child.kill('SIGINT');
    expect(await col.exited).toBe(0);
    const q = cli(['query', '--store', dsn, '--format', 'json',
      `SELECT sum(delta) AS faults FROM v2e.counters WHERE probe='pagefault' AND name='faults_user' AND pid=${fx.pid}`]);
    const faults = Number(JSON.parse(q.stdout.trim().split('\n')[0]).faults ?? JSON.parse(q.stdout)[0]?.faults);
    expect(faults).toBeGreaterThanOrEqual(fx.pages);
    const loss = cli(['loss', '--store', dsn, '--format', 'json']).stdout;
    const rows = loss.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { probe: string; seen: number; unaccounted: number });
    expect(rows.find((r) => r.probe === 'pagefault')!.seen).toBeGreaterThan(0);
    for (const r of rows) expect(r.unaccounted, r.probe).toBe(0);
  });

  it('alerts --once evaluates every default rule without an error; incident reports the window', () => {
    const res = cli(['alerts', '--once', '--rules', 'alerts/rules', '--store', dsn]).stdout.trim().split('\n').at(-1)!;
    const sum = JSON.parse(res) as { rules: number; evaluated: number; errors: number };
    expect(sum.rules).toBeGreaterThan(0);
    expect(sum.errors).toBe(0);
    // the evaluator's state went in as the instants it meant (DateTime64(3) written as ms ticks)
    const cur = JSON.parse(cli(['query', '--store', dsn, '--format', 'json', 'SELECT min(toUnixTimestamp64Milli(last_end)) AS lo, max(toUnixTimestamp64Milli(last_end)) AS hi FROM v2e.alert_cursor FINAL']).stdout.trim().split('\n')[0]);
    expect(Number(cur.lo)).toBeGreaterThan(Date.now() - 86_400_000);
    expect(Number(cur.hi)).toBeLessThanOrEqual(Date.now());
    const inc = cli(['incident', '--store', dsn, '--from', '-10m', '--to', 'now', '--format', 'json']);
    expect(inc.stdout).toContain('pagefault');
  });

  it('a wrong password: exit 2 naming the user and the host, the password never printed', () => {
    const u = new URL(dsn.replace(/^clickhouse/, 'http'));
    u.password = 'Wrong-pw-7f3a9c';
    const r = runCli(['query', '--store', u.toString().replace(/^http/, 'clickhouse'), 'SELECT 1']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`refused user '${u.username}'`);
    expect(r.stderr).toContain(u.host);
    expect(r.stderr + r.stdout).not.toContain('Wrong-pw-7f3a9c');
  });

  it('explain --from/--to reads rtt_breakdown from the server', () => {
    const r = runCli(['explain', '--comm', 'v2broker', '--from', '-10m', '--to', 'now', '--store', dsn]);
    expect(r.code, r.stderr).toBe(0);
  });
});
