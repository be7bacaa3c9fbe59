// The Go and app probes from the command line: bad targets exit 2 with a clear
// message (a missing symbol lists near matches); a good --uprobe counts calls.
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { isRoot, sleep } from '../helpers/probes.js';
import { buildGoFixture, goTool } from './go-fixtures.js';
import { execFileSync } from 'node:child_process';

describe.skipIf(!isRoot || !goTool())('Go/app probes on the CLI', () => {
  it('rejects bad targets with exit 2 and a reason', () => {
    const bin = buildGoFixture('broker');
    const cases: Array<[string[], RegExp]> = [
      [['--uprobe', `${bin}:main.publsh`], /has no function main\.publsh; near matches: .*main\.publish/],
      [['--uprobe', '/bin/ls:main'], /not a Go program/],
      [['--uprobe', '/nonexistent/bin:main.x'], /nonexistent/],
      [['--uprobe', 'nocolon'], /BINARY:SYMBOL/],
      [['--probes', 'go_gc'], /--go-binary PATH or --go-pid PID/],
      [['--probes', 'go_gc', '--go-binary', '/bin/ls'], /not a Go program/],
      [['--probes', 'app'], /--uprobe/],
    ];
    for (const [args, re] of cases) {
      const r = runCli(['collect', '--sink', 'stdout', '--duration', '1s', ...(args.includes('--probes') ? [] : ['--probes', 'sched']), ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
  });

  it('--uprobe BINARY:SYMBOL counts the calls the fixture makes', async () => {
    const bin = buildGoFixture('broker');
    const run = startCli(['collect', '--probes', 'sched', '--uprobe', `${bin}:main.publish`, '--sink', 'stdout']);
    await run.ready;
    const out = JSON.parse(execFileSync(bin, [], { encoding: 'utf8' }).trim().split('\n').pop()!);
    await sleep(300);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    const summary = run.out().stderr.split('\n').filter((l) => l.includes('"probe summary"') && l.includes('"probe":"app"')).map((l) => JSON.parse(l))[0];
    expect(summary?.state).toBe('running');
    const calls = Object.entries(summary.counters as Record<string, number>).filter(([k]) => k.startsWith('calls') || k === 'seen');
    expect(calls.length).toBeGreaterThan(0);
    expect(summary.counters.seen).toBe(out.publish);
  });
});
