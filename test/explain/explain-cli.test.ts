// `v2probe explain` as a user runs it: bad input (exit 2 / plain "nothing"),
// a live run against the rttpair fixture that writes rtt_breakdown rows, and
// --from/--to over those rows.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, runCli } from '../helpers/cli.js';
import { isRoot } from '../helpers/probes.js';
import { Stepper } from '../go/go-fixtures.js';
import { privateBroker, rttBinaries, runClient } from './rtt-helpers.js';

describe('explain: bad input', () => {
  it('exits 2 on malformed flags, never a stack trace', () => {
    for (const args of [['explain'], ['explain', '--comm', 'x'], ['explain', '--comm', 'x', '--from', 'yesterday-ish'], ['explain', '--pid', 'abc', '--live', '1s'], ['explain', '--comm', 'x', '--live', 'soon'], ['explain', '--comm', 'x', '--live', '1s', '--from', '-1h']]) {
      const r = runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
  it('a window with no data: says so, exit 0', () => {
    const dsn = `chdb:${mkdtempSync(join(tmpdir(), 'v2rtt-'))}`;
    const r = runCli(['explain', '--comm', 'v2broker', '--from', '-1h', '--store', dsn]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/no stored breakdowns/);
  }, 60_000);
});

describe.skipIf(!isRoot)('explain: live and stored', () => {
  it('a comm with no process: says so, exit 0', () => {
    const r = runCli(['explain', '--comm', 'nosuchbroker9', '--live', '1s']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/no process comm nosuchbroker9 ran/);
  }, 30_000);

  it('--live prints the slowest trips and p50/p99 buckets, stores rows, --from/--to reads them back', async () => {
    const { client } = rttBinaries();
    const pb = privateBroker(); // a comm of its own: another suite's v2broker is not followed
    const broker = pb.path;
    const sock = join(mkdtempSync(join(tmpdir(), 'rtt-')), 's.sock');
    const dsn = `chdb:${mkdtempSync(join(tmpdir(), 'v2rtt-'))}`;
    const b = new Stepper(broker, ['broker', sock, 'futex', '1']);
    try {
      await b.next();
      const cli = spawn(process.execPath, [BIN, 'explain', '--comm', pb.comm, '--live', '6s', '--sample', '5', '--slowest', '5', '--store', dsn], { cwd: ROOT });
      let out = '';
      let err = '';
      cli.stdout.on('data', (d) => (out += d));
      cli.stderr.on('data', (d) => (err += d));
      await new Promise<void>((res) => { const t = setInterval(() => { if (err.includes('measuring')) { clearInterval(t); res(); } }, 50); });
      await runClient(client, sock, 500, 500);
      const code = await new Promise((res) => cli.on('exit', res));
      console.log(out);
      expect(code, err).toBe(0);
      expect(out).toMatch(/^p50 /m);
      expect(out).toMatch(/^p99 /m);
      expect(out).toMatch(/slowest 5:/);
      const j = runCli(['explain', '--comm', pb.comm, '--from', '-5m', '--store', dsn, '--format', 'json']);
      expect(j.code, j.stderr).toBe(0);
      const rep = JSON.parse(j.stdout) as { trips: number; slowest: Array<Record<string, number>>; buckets: Array<{ label: string; components: Record<string, number> }> };
      expect(rep.trips).toBeGreaterThan(20);
      // the stored rows carry the cause: most of the slowest 5 waited on the futex (one outlier
      // slowed by something else — a run-queue stall on a busy host — may be the very slowest)
      expect(rep.slowest.filter((t) => t.futex_ns > 0).length).toBeGreaterThanOrEqual(3);
      expect(rep.buckets.find((x) => x.label === 'all')!.components.futex_ns).toBeGreaterThan(0);
    } finally {
      b.step();
      await b.exited;
      pb.remove();
    }
  }, 60_000);
});
