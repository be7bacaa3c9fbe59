// Malformed CLI input for EVERY subcommand. The command tree is walked from the
// program's own help (`v2probe --help`, `v2probe CMD --help`, recursively), so a
// subcommand or option added later is covered too. For each leaf command:
//   - an unknown option, and missing required arguments, exit 2;
//   - every option that takes a value (its own and its parent commands', e.g.
//     `ctl --socket`), given a bad value, exits 2 with a message naming the flag
//     AND the value — never exit 0/1, never a stack trace. The other arguments
//     are the harmless base ones, where the code path that reads the option
//     mostly does not run (no --backfill, --rules off, no --live, no
//     --alertmanager, ...): values are checked as they are parsed, not when used,
//     and a "needs --x" message does not pass (it does not carry the value).
// Options whose value is free text (any string is valid) would be listed in
// FREE_TEXT with the reason — none is: a duration, number, URL, path, enum, host
// name, token or id always has a form to check. An option the BAD table does not
// know gets GENERIC_BAD.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, runCli } from '../helpers/cli.js';
import { tmp } from '../pipeline/kafka-helpers.js';

interface Leaf {
  path: string[];
  args: Array<{ name: string; required: boolean }>;
  /** `owner`: the command that defines the option (a parent's options are tested once, on its first leaf) */
  options: Array<{ flag: string; takesValue: boolean; owner: string }>;
}

function section(help: string, title: string): string[] {
  const block = help.split('\n\n').find((b) => b.startsWith(`${title}:\n`));
  return block ? block.split('\n').slice(1) : [];
}

/** Walk `v2probe [path] --help`; a leaf also gets the options of the commands above it (`ctl --socket` for `ctl status`). */
function walk(path: string[] = [], inherited: Leaf['options'] = []): Leaf[] {
  const r = runCli([...path, '--help']);
  expect(r.code, `${path.join(' ')} --help`).toBe(0);
  const help = r.stdout;
  const options = [
    ...inherited,
    ...section(help, 'Options')
      .map((l) => /^ {2}(?:-\w, )?(--[\w-]+)( [<[])?/.exec(l))
      .filter((m): m is RegExpExecArray => !!m && m[1] !== '--help' && m[1] !== '--version')
      .map((m) => ({ flag: m[1], takesValue: !!m[2], owner: path.join(' ') })),
  ];
  const cmds = section(help, 'Commands')
    .map((l) => /^ {2}(\S+)/.exec(l)?.[1])
    .filter((c): c is string => !!c && c !== 'help');
  if (cmds.length > 0) return cmds.flatMap((c) => walk([...path, c], options));
  const usage = /^Usage: v2probe (.*)$/m.exec(help)![1];
  const args = [...usage.matchAll(/([<[])([\w.-]+)(?:\.\.\.)?[>\]]/g)].filter((a) => a[2] !== 'options').map((a) => ({ name: a[2], required: a[1] === '<' }));
  return [{ path, args, options }];
}

const NOSOCK = '/nonexistent/v2probe-test.sock';
/** Arguments that make a leaf otherwise valid and harmless (no attach beyond 2 s, no listeners, loopback only). */
function baseArgs(path: string[]): string[] {
  const k = path.join(' ');
  if (k === 'collect') return ['--sink', 'stdout', '--duration', '2s', '--probes', 'uds'];
  if (k === 'up') return ['--sink', 'stdout', '--duration', '2s', '--probes', 'uds', '--metrics', 'off', '--control', 'off', '--rules', 'off'];
  if (k === 'query') return ['SELECT 1'];
  if (k === 'config check') return [GOOD_CONFIG];
  if (k.startsWith('ctl')) return ['--socket', NOSOCK, ...({ 'ctl enable': ['uds'], 'ctl disable': ['uds'], 'ctl sample': ['uds', '10'], 'ctl filter': ['uds'] } as Record<string, string[]>)[k] ?? []];
  if (k === 'ingest') return ['--kafka', '127.0.0.1:1', '--topic', 'v2probe-cli-walk', '--metrics', 'off'];
  if (k === 'flame') return ['--pid', String(process.pid), '--duration', '1s', '--out', join(SCRATCH, 'f.svg')];
  if (k === 'alerts') return ['--once', '--store', store()];
  if (k === 'incident') return ['--from', '-1h', '--store', store()];
  if (k === 'loss') return ['--store', store()];
  if (k === 'hist') return ['--probes', 'uds', '--duration', '1s'];
  if (k === 'topics create' || k === 'topics describe') return ['--kafka', '127.0.0.1:1', '--topic', 'v2probe-cli-walk'];
  if (k === 'topics list') return ['--kafka', '127.0.0.1:1'];
  if (k === 'explain') return ['--comm', 'nosuchbroker', '--from', '-1h', '--store', store()];
  if (k.startsWith('schema')) return [];
  return [];
}

/**
 * Options whose value may be any text ("COMMAND --flag": why): not a usage error
 * whatever it is. Only for arbitrary text — never a duration, number, URL, path
 * that must exist, enum, host name, id or token. Every entry must still exist.
 */
const FREE_TEXT: Record<string, string> = {};

/**
 * A bad value per option, else GENERIC_BAD. `secret`: the message names the
 * flag and must NOT echo the value (tokens).
 */
const GENERIC_BAD = '%%not-a-valid-value%%';
const BAD: Record<string, { value: string; secret?: boolean }> = {
  '--pid': { value: 'abc' },
  '--go-pid': { value: 'abc' },
  '--comm': { value: 'a-name-longer-than-15-chars' },
  '--probes': { value: 'nope' },
  '--sink': { value: 'mysql://x' },
  '--store': { value: 'mysql://x' },
  '--sample': { value: 'uds=0' },
  '--burst': { value: 'uds=0' },
  '--cgroup': { value: '/nonexistent/cg' },
  '--go-binary': { value: '/nonexistent/bin' },
  '--uprobe': { value: '/nonexistent/bin:main.main' },
  '--shm-ring': { value: '/nonexistent/bin:publish=main.Publish,consume=main.Consume' },
  '--ring-bytes': { value: 'big' },
  '--control-token': { value: 'sekrit-7q', secret: true },
  '--http-token': { value: 'sekrit-7q', secret: true },
  '--token': { value: 'sekrit-7q', secret: true },
  '--config': { value: '/nonexistent/v2probe.yaml' },
  '--rules': { value: '/nonexistent/rules' },
  '--format': { value: 'xml' },
  '--kafka': { value: 'no-port' },
  '--topic': { value: 'bad topic!' },
  '--dlq': { value: 'bad topic!' },
  '--max-rows': { value: '0' },
  '--metrics-top': { value: '0' },
  '--limit': { value: 'lots' },
  '--frequency': { value: 'fast' },
  // a socket path that cannot be one (a missing socket is "no collector there": exit 1)
  '--socket': { value: `/tmp/${'s'.repeat(120)}.sock` },
  '--control': { value: `/tmp/${'s'.repeat(120)}.sock` },
  '--alertmanager-user': { value: 'ops:team' },
  '--group': { value: '' },
  '--url': { value: 'not a url' },
  '--webhook': { value: 'not a url' },
  '--cluster': { value: "x'; DROP" },
  '--out': { value: '/nonexistent/dir/f.svg' },
  '--pprof': { value: '/nonexistent/dir/f.pb.gz' },
  '--folded': { value: '/nonexistent/dir/f.txt' },
};

let SCRATCH = '';
let GOOD_CONFIG = '';
let STORE = '';
let stores = 0;
/** a fresh chDB directory per case (chDB locks its directory: one process at a time) */
const store = () => `${STORE}-${stores++}`;

function run(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, V2PROBE_CONTROL_TOKEN: '' } });
    let stderr = '';
    let stdout = '';
    c.stderr.on('data', (d) => (stderr += d));
    c.stdout.on('data', (d) => (stdout += d));
    const kill = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.on('exit', (code) => {
      clearTimeout(kill);
      resolve({ code, stderr, stdout });
    });
  });
}

async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) {
      const k = i++;
      out[k] = await fn(items[k]);
    }
  }));
  return out;
}

const STACK = /\n\s+at .+[:(]\d+:\d+/;

describe('malformed CLI input for every subcommand', () => {
  it('walks the command tree: each leaf, each option, bad values exit 2 with a message', async () => {
    SCRATCH = tmp('cli-walk');
    GOOD_CONFIG = join(SCRATCH, 'ok.yaml');
    writeFileSync(GOOD_CONFIG, 'probes: [uds]\n');
    STORE = `chdb:${join(SCRATCH, 'store')}`;
    const leaves = walk();
    const names = leaves.map((l) => l.path.join(' '));
    for (const must of ['doctor', 'collect', 'up', 'query', 'schema apply', 'ctl status', 'config check', 'ingest', 'loss', 'alerts', 'incident'])
      expect(names).toContain(must);

    interface Case { what: string; args: string[]; needle?: RegExp; named?: { flag: string; value: string; secret: boolean } }
    const stale = Object.keys(FREE_TEXT).filter((f) => !leaves.some((l) => l.options.some((o) => `${o.owner} ${o.flag}` === f)));
    expect(stale, 'FREE_TEXT entries that name no option').toEqual([]);
    const cases: Case[] = [];
    const inheritedDone = new Set<string>();
    for (const l of leaves) {
      const k = l.path.join(' ');
      const base = baseArgs(l.path);
      cases.push({ what: `${k} --no-such-option`, args: [...l.path, ...base, '--no-such-option'], needle: /unknown option/ });
      if (l.args.some((a) => a.required)) cases.push({ what: `${k} (missing arguments)`, args: [...l.path], needle: /missing required argument/ });
      for (const o of l.options) {
        if (o.owner !== k) {
          if (inheritedDone.has(`${o.owner} ${o.flag}`)) continue;
          inheritedDone.add(`${o.owner} ${o.flag}`);
        }
        if (!o.takesValue) {
          cases.push({ what: `${k} ${o.flag} with a stray value`, args: [...l.path, ...baseArgs(l.path), o.flag, 'stray-extra-arg'], needle: /too many arguments|unknown|excess|argument/i });
          continue;
        }
        if (FREE_TEXT[`${o.owner} ${o.flag}`]) continue;
        const bad = BAD[o.flag] ?? { value: GENERIC_BAD };
        const base = baseArgs(l.path);
        cases.push({
          what: `${k} ${o.flag} ${JSON.stringify(bad.value)}`,
          args: [...l.path, ...base.filter((_, i, a) => a[i] !== o.flag && a[i - 1] !== o.flag), o.flag, bad.value],
          named: { flag: o.flag, value: bad.value, secret: bad.secret === true },
        });
      }
    }
    const results = await pool(cases, 3, async (c) => ({ c, r: await run(c.args) }));
    const failures: string[] = [];
    for (const { c, r } of results) {
      const why: string[] = [];
      if (r.code !== 2) why.push(`exit ${r.code}`);
      if (!r.stderr.trim()) why.push('no message');
      else if (c.needle && !c.needle.test(r.stderr)) why.push(`message does not name it (${c.needle})`);
      else if (c.named) {
        // the flag as a word (not --to inside --token), and the value (or, for a secret, never the value)
        const flag = new RegExp(`(^|[^\\w-])${c.named.flag}(?![\\w-])`);
        if (!flag.test(r.stderr)) why.push(`message does not name ${c.named.flag}`);
        if (c.named.secret && r.stderr.includes(c.named.value)) why.push('message echoes the secret value');
        if (!c.named.secret && c.named.value !== '' && !r.stderr.includes(c.named.value)) why.push(`message does not show the value ${JSON.stringify(c.named.value)}`);
      }
      if (STACK.test(r.stderr)) why.push('stack trace');
      const lines = r.stderr.trim().split('\n');
      if (why.length) failures.push(`${c.what}: ${why.join(', ')}: ${(lines.length > 4 ? [...lines.slice(0, 2), '…', ...lines.slice(-2)] : lines).join(' | ').slice(0, 400)}`);
    }
    console.log(`[cli-walk] ${leaves.length} leaf commands, ${cases.length} cases, ${failures.length} failures`);
    if (failures.length) console.log(failures.join("\n"));
    expect(failures).toEqual([]);
  }, 1_200_000); // a hang guard only: ~3 min on a quiet 2-core machine, 8.5 min seen at load average 45
});
