// package.json's scripts run what exists: `node dist/X.js` has a source X.ts,
// `node bin/v2probe.js CMD` names a command `v2probe --help` lists
// (bench:hook-cost once ran a `v2probe bench` that never existed).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';

const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

describe('package.json scripts', () => {
  it('every node command names a source file or a v2probe command', () => {
    const help = runCli(['--help']);
    expect(help.code).toBe(0);
    const commands = new Set([...help.stdout.matchAll(/^\s{2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]));
    for (const [name, cmd] of Object.entries(scripts)) {
      for (const m of cmd.matchAll(/\bnode (?:--\S+ )*(\S+)(?: ([a-z][a-z-]*))?/g)) {
        const [, file, sub] = m;
        if (file.startsWith('dist/')) expect(existsSync(join(ROOT, file.slice('dist/'.length).replace(/\.js$/, '.ts'))), `${name}: ${file}`).toBe(true);
        else if (file === 'bin/v2probe.js') expect(commands, `${name}: v2probe ${sub}`).toContain(sub);
        else expect.unreachable(`${name}: node ${file}: not checked here`);
      }
    }
  });
});
