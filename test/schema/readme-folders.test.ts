// The README's folder table lists every top-level folder of the repository
// (those .gitignore does not exclude, and the build outputs it does), one row each.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

describe('README folder table', () => {
  it('has one row per top-level folder', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('| folder | what it holds |'));
    const rows = table.slice(0, table.search(/\n(?!\|)/)).split('\n').slice(2);
    const listed = rows.map((r) => /^\| `([^`/]+)\//.exec(r)?.[1]);
    expect(listed, 'a row whose first cell is not `FOLDER/...`').not.toContain(undefined);
    const ignored = readFileSync(join(ROOT, '.gitignore'), 'utf8').split('\n').filter((l) => l.endsWith('/')).map((l) => l.slice(0, -1));
    const folders = readdirSync(ROOT, { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== '.git' && !ignored.includes(d.name)).map((d) => d.name);
    // the build outputs are ignored but listed (what the build writes where)
    expect([...listed].sort()).toEqual([...folders, 'build', 'dist'].sort());
  });
});
