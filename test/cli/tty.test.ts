// A terminal is for people (issue 18): on a TTY the log lines are short human
// lines, long lists summarised, written above the live view, which is redrawn
// in place (cursor up over the last frame) and never torn by a log line;
// piped, the same run logs JSON lines.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { summarise } from '../../cli/log.js';
import { BIN, ROOT, runCli } from '../helpers/cli.js';
import { isRoot } from '../helpers/probes.js';

const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));

describe('terminal output', () => {
  it('summarises long lists and long text, keeps short ones', () => {
    const caps = Array.from({ length: 38 }, (_, i) => `CAP_${i}`);
    expect(summarise({ dropped: caps, kept: ['CAP_BPF', 'CAP_PERFMON'] })).toEqual({ dropped: '38 items: CAP_0, CAP_1, CAP_2, …', kept: ['CAP_BPF', 'CAP_PERFMON'] });
    expect(String(summarise('x'.repeat(500)))).toMatch(/^x{160}… \(500 chars\)$/);
  });

  describe.skipIf(!isRoot || !SCRIPT)('collect on a pseudo-terminal (script)', () => {
    it('human log lines above a live view redrawn in place; JSON lines when piped', () => {
      const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} collect --probes sched --duration 3s --sink stdout --status 1s >/dev/null`;
      const r = spawnSync(SCRIPT!, ['-qec', cmd, '/dev/null'], { cwd: ROOT, timeout: 60_000, encoding: 'utf8' });
      const out = r.stdout;
      expect(out, r.stderr).toContain('probe     state');
      // frames after the first move the cursor up over the last one and clear: no stacking
      expect(out).toMatch(/\x1b\[\d+F\x1b\[J/);
      // log lines are human (time, level, message), never JSON objects
      expect(out).toMatch(/\[\d\d:\d\d:\d\d\] .*INFO.*: .*collecting/);
      expect(out).not.toMatch(/\{"level":\d+/);
      // the capability line is one short summary
      const caps = out.split(/\r?\n/).find((l) => l.includes('capabilities on every thread'));
      if (caps) expect(caps.length).toBeLessThan(400);
      // piped: JSON lines as before
      const piped = runCli(['collect', '--probes', 'sched', '--duration', '2s', '--sink', 'stdout'], { timeout: 60_000 });
      expect(piped.code, piped.stderr).toBe(0);
      expect(piped.stderr.split('\n').filter((l) => l.trim()).every((l) => l.startsWith('{'))).toBe(true);
    }, 120_000);
  });
});
