// The README's example commands run as written (issue 18): setup puts a
// `v2probe` command on PATH, and every line of the README's "Examples:" block
// exits 0 — run in a scratch directory where a short `collect` first made the
// default store (what `npm start` leaves behind), long ones with a 2 s
// --duration. They run through this checkout's bin/v2probe.js (the command
// on PATH may belong to another checkout on a shared machine).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, ROOT } from '../helpers/cli.js';
import { isRoot } from '../helpers/probes.js';

/** The command lines of the README's "Examples:" block. */
function examples(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = /\nExamples:\n```\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md has no "Examples:" code block');
  return m[1].split('\n').filter((l) => l.startsWith('v2probe '));
}

describe('README examples', () => {
  it('setup put a v2probe command on PATH', () => {
    const which = spawnSync('bash', ['-c', 'command -v v2probe'], { encoding: 'utf8' });
    expect(which.stdout.trim(), 'scripts/setup.sh installs /usr/local/bin/v2probe (as root)').not.toBe('');
    expect(execFileSync('v2probe', ['--version'], { encoding: 'utf8' }).trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  describe.skipIf(!isRoot)('run as written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2probe-readme-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const lines = examples();

    it('the block has the commands the first hour needs', () => {
      expect(lines.length).toBeGreaterThanOrEqual(3);
      expect(lines.some((l) => l.startsWith('v2probe query'))).toBe(true);
    });

    it('each exits 0 (after a short collect into the default store)', () => {
      const run = (line: string) =>
        spawnSync('bash', ['-c', line.replace(/^v2probe /, `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} `).replace(/--duration \d+s/, '--duration 2s')], {
          cwd: dir,
          encoding: 'utf8',
          timeout: 120_000,
        });
      const first = run('v2probe collect --probes uds,sched --duration 2s');
      expect(first.status, first.stderr).toBe(0);
      for (const line of lines) {
        const r = run(line);
        expect(r.status, `${line}\n${r.stderr.slice(-1500)}`).toBe(0);
      }
    }, 300_000);
  });
});
