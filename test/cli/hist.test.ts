// `v2probe hist`: bcc-style log2 histograms. Live, the counts printed for a
// private uds_pingpong (filtered by its comm in the kernel) are exactly the
// calls the fixture says it made; from the store, the counts printed for a
// window equal the stored histogram rows of that window, slot by slot.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderLog2 } from '../../cli/hist.js';
import { HIST_SLOTS } from '../../schema/event.js';
import { BIN, ROOT, runCli } from '../helpers/cli.js';
import { isRoot, privateFixture, runFixture } from '../helpers/probes.js';

/** The histograms a `hist` output holds: "probe event" → total and slot → count. */
function parse(out: string): Map<string, { total: number; slots: Map<number, number> }> {
  const hists = new Map<string, { total: number; slots: Map<number, number> }>();
  let cur: { total: number; slots: Map<number, number> } | undefined;
  for (const line of out.split('\n')) {
    const title = /^(\w+) (\w+) \((\d+) events\)$/.exec(line);
    if (title) hists.set(`${title[1]} ${title[2]}`, (cur = { total: Number(title[3]), slots: new Map() }));
    const row = /^\s+(\d+) -> (\d+|…)\s+: (\d+)\s+\|/.exec(line);
    if (row && cur) cur.slots.set(Number(row[1]) === 0 ? 0 : Math.log2(Number(row[1])), Number(row[3]));
  }
  return hists;
}

describe('hist rendering', () => {
  it('prints the non-empty range of slots with their counts and bars, bcc style', () => {
    const counts = Array.from({ length: HIST_SLOTS }, () => 0);
    counts[3] = 5;
    counts[5] = 10;
    counts[HIST_SLOTS - 1] = 1;
    const out = renderLog2('uds recvmsg (16 events)', counts, 'ns');
    expect(out).toContain('nsecs');
    expect(out).toMatch(/ {19}8 -> 15 +: 5 +\|\*{20} {20}\|/);
    expect(out).toMatch(/32 -> 63 +: 10 +\|\*{40}\|/);
    expect(out).toMatch(/2147483648 -> … +: 1 /); // the last slot holds everything above
    const back = parse(out).get('uds recvmsg')!;
    expect([...back.slots]).toEqual([[3, 5], [4, 0], [5, 10], ...Array.from({ length: HIST_SLOTS - 7 }, (_, i) => [6 + i, 0]), [HIST_SLOTS - 1, 1]]);
  });

  it('refuses what does not fit a mode, naming the flag', () => {
    expect(runCli(['hist', '--probes', 'uds', '--event', 'nope'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--event: 'nope' is not an event of uds/) });
    expect(runCli(['hist', '--store', 'chdb:/tmp/x', '--from', '-1h', '--pid', '1'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--pid: only for a live histogram/) });
    expect(runCli(['hist', '--host', 'h1'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--host: only for a past window/) });
    expect(runCli(['hist', '--interval', 'soon'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--interval/) });
  });
});

describe.skipIf(!isRoot)('hist (kernel)', () => {
  const fixture = privateFixture('uds_pingpong', 'hist');
  const dir = mkdtempSync(join(tmpdir(), 'v2probe-hist-'));
  afterAll(() => {
    fixture.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('live: the printed counts are the calls the workload made (comm filtered in the kernel)', async () => {
    const child = spawn(process.execPath, [BIN, 'hist', '--probes', 'uds', '--comm', fixture.comm], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    const tracing = new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (stderr.includes('Tracing uds')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`hist exited ${code}: ${stderr}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await tracing;
    const fx = await runFixture<{ client_send: number; client_recv: number }>(fixture.path, ['-n', '300', '-d', '200', '-m', 'sendmsg']);
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(0);
    const h = parse(stdout);
    expect(h.get('uds sendmsg')?.total, stdout).toBe(fx.client_send);
    expect(h.get('uds recvmsg')?.total, stdout).toBe(fx.client_recv);
    // every row's count adds up to the title's total
    for (const [, v] of h) expect([...v.slots.values()].reduce((a, b) => a + b, 0)).toBe(v.total);
  }, 120_000);

  it('from the store: the printed counts equal the stored histogram rows of the window, slot by slot', () => {
    const store = `chdb:${dir}/data`;
    const from = Date.now() - 1000;
    const c = runCli(['collect', '--probes', 'sched', '--duration', '3s', '--snapshot', '1s', '--sink', store], { timeout: 120_000 });
    expect(c.code, c.stderr).toBe(0);
    const to = Date.now() + 1000;
    const out = runCli(['hist', '--store', store, '--from', String(from), '--to', String(to), '--probes', 'sched', '--event', 'runq']);
    expect(out.code, out.stderr).toBe(0);
    const q = runCli(['query', '--store', store, '--format', 'json', `SELECT sumForEach(counts) AS c FROM v2e.histograms WHERE probe = 'sched' AND event = 'runq' AND ts >= fromUnixTimestamp64Milli(${from}) AND ts < fromUnixTimestamp64Milli(${to})`]);
    expect(q.code, q.stderr).toBe(0);
    const stored = (JSON.parse(q.stdout.trim().split('\n')[0]).c as Array<number | string>).map(Number);
    const total = stored.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(0);
    const printed = parse(out.stdout).get('sched runq')!;
    expect(printed.total).toBe(total);
    for (let s = 0; s < HIST_SLOTS; s++) expect(printed.slots.get(s) ?? 0, `slot ${s}`).toBe(stored[s]);
  }, 180_000);
});
