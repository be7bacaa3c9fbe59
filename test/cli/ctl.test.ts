// Runtime control of a running collector (v2probe ctl / the control API):
// sample rate, disable/enable and filters change without a restart and the
// kernel's behaviour follows; bad requests change nothing; the Unix socket
// refuses other users and the TCP API refuses requests without the token.
// The workload is a private copy of uds_pingpong (privateFixture: a comm of its own):
// with `--comm uds_pingpong` the same fixture run by another checkout's suite at
// the same time passed the filter too (seen: drops.test.ts counted 208,833
// calls where its own fixtures made 120,000).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { isRoot, privateFixture, runFixture, sleep } from '../helpers/probes.js';

const rowsOf = (stdout: string, pid: number) =>
  stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((r) => r.pid === pid);

describe.skipIf(!isRoot)('v2probe ctl', () => {
  it('changes sampling, disables and re-enables a probe at run time; bad requests exit 2 and change nothing', async () => {
    const sock = join(mkdtempSync(join(tmpdir(), 'v2ctl-')), 'control.sock');
    const fixture = privateFixture('uds_pingpong', 'ctl');
    onTestFinished(fixture.remove);
    const run = startCli(['collect', '--probes', 'uds', '--comm', fixture.comm, '--sample', 'uds=1000000', '--sink', 'stdout', '--control', sock]);
    await run.ready;
    try {
      const ctl = (...a: string[]) => runCli(['ctl', '--socket', sock, ...a]);
      const st = ctl('status');
      expect(st.code, st.stderr).toBe(0);
      expect(JSON.parse(st.stdout)[0]).toMatchObject({ probe: 'uds', state: 'running' });

      // 1:1000000 → (almost) no rows; then 1:1 → one row per call
      const a = await runFixture<{ client_pid: number; client_recv: number; client_send: number }>(fixture.path, ['-n', '200', '-d', '50', '-m', 'sendmsg']);
      expect(ctl('sample', 'uds', '1').code).toBe(0);
      const b = await runFixture<{ client_pid: number; client_recv: number; client_send: number }>(fixture.path, ['-n', '200', '-d', '50', '-m', 'sendmsg']);
      await sleep(1500); // the batcher lingers up to 1 s
      expect(rowsOf(run.out().stdout, a.client_pid).length).toBeLessThan(5);
      expect(rowsOf(run.out().stdout, b.client_pid).length).toBe(b.client_recv + b.client_send);

      // bad requests: exit 2 with the reason, nothing changes
      const bad1 = ctl('sample', 'nope', '3');
      expect(bad1.code).toBe(2);
      expect(bad1.stderr).toMatch(/unknown probe 'nope'/);
      const bad2 = ctl('sample', 'uds', '0');
      expect(bad2.code).toBe(2);

      // disable: no rows while off; enable: rows again
      expect(ctl('disable', 'uds').code).toBe(0);
      expect(JSON.parse(ctl('status').stdout)[0].state).toBe('stopped');
      const c = await runFixture<{ client_pid: number }>(fixture.path, ['-n', '100', '-d', '50', '-m', 'sendmsg']);
      expect(ctl('enable', 'uds').code).toBe(0);
      const d = await runFixture<{ client_pid: number; client_recv: number }>(fixture.path, ['-n', '100', '-d', '50', '-m', 'sendmsg']);
      await sleep(1500); // the batcher lingers up to 1 s
      expect(rowsOf(run.out().stdout, c.client_pid)).toHaveLength(0);
      // re-enabled with the options it had (1:1 after the change above)
      expect(rowsOf(run.out().stdout, d.client_pid).length).toBeGreaterThanOrEqual(d.client_recv);

      // another user cannot use the socket (0600, root's)
      const nobody = runCli(['ctl', '--socket', sock, 'status'], { prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'] });
      expect(nobody.code).toBe(1);
      expect(nobody.stderr).toMatch(/permission denied/);
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
    }
  });

  it('the TCP control API refuses requests without the bearer token', async () => {
    const token = 'test-token-0123456789abcdef';
    const run = startCli(['collect', '--probes', 'sched', '--sink', 'stdout', '--control', '127.0.0.1:0', '--control-token', token]);
    await run.ready;
    await sleep(200);
    try {
      const url = /"address":"(http:[^"]+)"/.exec(run.out().stderr)![1];
      expect((await fetch(`${url}/probes`)).status).toBe(401);
      expect((await fetch(`${url}/probes`, { headers: { Authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
      const ok = await fetch(`${url}/probes`, { headers: { Authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect((await ok.json())[0].probe).toBe('sched');
      const viaCli = runCli(['ctl', '--url', url, '--token', token, 'sample', 'sched', '10']);
      expect(viaCli.code, viaCli.stderr).toBe(0);
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
    }
    // a TCP control address without a token is refused at start-up (exit 2)
    const r = runCli(['collect', '--probes', 'sched', '--sink', 'stdout', '--control', '127.0.0.1:0', '--duration', '1s']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs --control-token/);
  });
});
