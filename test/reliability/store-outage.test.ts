// Store outage: the collector's chDB store fills its disk mid-run (a small
// tmpfs made by the test). Inserts fail; the collector keeps the rows in
// bounded memory, retries with backoff, says so in /metrics, and catches up
// once space returns: every call of the workload is stored exactly once and
// the loss ledger balances.
// The workload is a private copy of uds_pingpong (privateFixture: a comm of its own):
// with `--comm uds_pingpong` the same fixture run by another checkout's suite at
// the same time passed the filter too (seen: drops.test.ts counted 208,833
// calls where its own fixtures made 120,000).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startCli } from '../helpers/cli.js';
import { isRoot, privateFixture, runFixture, sleep } from '../helpers/probes.js';
import { expectStoredOnceAndBalanced, type PingPong } from '../helpers/outage.js';
import { parseExposition, sampleValue } from '../helpers/prom.js';


describe.skipIf(!isRoot)('store outage (disk full) during collection', () => {
  const dir = mkdtempSync(join(tmpdir(), 'v2outage-'));
  beforeAll(() => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=96m', 'tmpfs', dir]);
  });
  afterAll(() => {
    spawnSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('buffers and retries while the store is full, reports it, catches up, loses and doubles nothing', async () => {
    const dsn = `chdb:${join(dir, 'db')}`;
    const fixture = privateFixture('uds_pingpong', 'outage');
    onTestFinished(fixture.remove);
    const run = startCli(['collect', '--probes', 'uds', '--comm', fixture.comm, '--sample', 'uds=1', '--sink', dsn, '--metrics', '127.0.0.1:0', '--snapshot', '1s']);
    await run.ready;
    await sleep(300);
    const url = /"url":"(http:[^"]+)"/.exec(run.out().stderr)![1];
    const metric = async (name: string) => sampleValue(parseExposition(await (await fetch(url)).text()), name, {});
    try {
      const a = await runFixture<PingPong>(fixture.path, ['-n', '200', '-d', '50', '-m', 'sendmsg']);
      await sleep(1500);
      expect(await metric('v2probe_sink_up')).toBe(1);

      // fill the store's disk
      spawnSync('dd', ['if=/dev/zero', `of=${join(dir, 'filler')}`, 'bs=1M', 'count=200'], { stdio: 'ignore' });
      const b = await runFixture<PingPong>(fixture.path, ['-n', '200', '-d', '50', '-m', 'sendmsg']);
      let up = 1;
      let retries = 0;
      for (let i = 0; i < 60 && (up === 1 || retries === 0); i++) {
        await sleep(250);
        up = await metric('v2probe_sink_up');
        retries = await metric('v2probe_sink_write_retries_total');
      }
      expect(up).toBe(0); // the outage is visible
      expect(retries).toBeGreaterThan(0);
      expect(await metric('v2probe_sink_pending_rows')).toBeGreaterThan(0);

      // space returns: it catches up by itself
      rmSync(join(dir, 'filler'));
      for (let i = 0; i < 80 && up === 0; i++) {
        await sleep(250);
        up = await metric('v2probe_sink_up');
      }
      expect(up).toBe(1);
      const c = await runFixture<PingPong>(fixture.path, ['-n', '200', '-d', '50', '-m', 'sendmsg']);
      await sleep(1500);
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);

      expectStoredOnceAndBalanced(dsn, [a, b, c]);
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  }, 120_000);
});
