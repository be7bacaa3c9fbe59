// bench/run-all.ts: `--out DIR` is created when missing, the report is written
// after every benchmark (a run stopped halfway keeps the finished ones), and
// bad arguments exit 2 naming the flag. The benchmarks here are two tiny
// scripts in a directory given by V2PROBE_BENCH_DIR: `first` prints a figure
// and exits, `second` signals it started and then waits to be killed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const RUN_ALL = join(ROOT, 'dist/bench/run-all.js');

async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function benchDir(): { dir: string; started: string } {
  const dir = mkdtempSync(join(tmpdir(), 'v2probe-runall-'));
  const started = join(dir, 'second.started');
  writeFileSync(join(dir, 'first.js'), "console.log('first figure: 4242 widgets/s');\n");
  writeFileSync(join(dir, 'second.js'), `require('node:fs').writeFileSync(${JSON.stringify(started)}, '1'); setInterval(() => {}, 1000);\n`);
  writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}\n');
  return { dir, started };
}

describe('run-all --out', () => {
  it('creates a missing --out DIR and keeps the finished benchmark when the run is killed', async () => {
    const { dir, started } = benchDir();
    const out = join(mkdtempSync(join(tmpdir(), 'v2probe-runall-out-')), 'not', 'yet');
    expect(existsSync(out)).toBe(false);
    const c = spawn(process.execPath, [RUN_ALL, '--only', 'first,second', '--out', out], { cwd: ROOT, env: { ...process.env, V2PROBE_BENCH_DIR: dir } });
    let stderr = '';
    c.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => c.on('close', (code, sig) => r(code ?? (sig ? -1 : null))));
    try {
      await until('the second benchmark to start', () => existsSync(started));
      // `first` finished before `second` started: its section is on disk now
      const md = readFileSync(join(out, 'REPORT.md'), 'utf8');
      expect(md).toContain('### first');
      expect(md).toContain('first figure: 4242 widgets/s');
      expect(md).toMatch(/In progress: 1 of 2 benchmarks done; still to run: second/);
      const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
      expect(json.complete).toBe(false);
      expect(json.pending).toEqual(['second']);
      expect(json.results.map((r: { name: string; exitCode: number }) => [r.name, r.exitCode])).toEqual([['first', 0]]);
    } finally {
      c.kill('SIGKILL');
    }
    await exited;
    // killed mid-run: the report of the finished benchmark is still there, whole
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).results[0].stdout).toContain('4242 widgets/s');
    expect(stderr).not.toMatch(/ENOENT/);
  });

  it('writes the final report (not marked in progress) into a new nested --out DIR', () => {
    const { dir } = benchDir();
    const out = join(mkdtempSync(join(tmpdir(), 'v2probe-runall-out-')), 'a', 'b');
    const r = spawnSync(process.execPath, [RUN_ALL, '--only', 'first', '--out', out], { cwd: ROOT, env: { ...process.env, V2PROBE_BENCH_DIR: dir }, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const md = readFileSync(join(out, 'REPORT.md'), 'utf8');
    expect(md).toContain('first figure: 4242 widgets/s');
    expect(md).not.toContain('In progress');
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).complete).toBe(true);
  });

  it.each([
    [['--out'], /--out: missing value/],
    [['--only', 'nosuchbench'], /--only: no benchmark named 'nosuchbench'/],
    [['--bogus'], /unknown argument '--bogus'/],
    [['--out', '/etc/hostname'], /--out '\/etc\/hostname': exists and is not a directory/],
  ])('bad input %j exits 2 naming it', (args, message) => {
    const { dir } = benchDir();
    const r = spawnSync(process.execPath, [RUN_ALL, ...args], { cwd: ROOT, env: { ...process.env, V2PROBE_BENCH_DIR: dir }, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
