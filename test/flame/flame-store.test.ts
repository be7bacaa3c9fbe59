// Stacks in the store: `v2probe flame --store` writes the sampled stacks per
// window (v2e.stacks, folded with counts); `flame --store --from --to` draws
// the same flame graph afterwards (same folded stacks and counts as the live
// run); `--diff` colours a function that grew red; a process that exits
// mid-profile still has its samples written; bad input exits 2. The busy
// fixture burns only once the CLI samples (see flame-cli.ts).
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isRoot } from '../helpers/probes.js';
import { runCli } from '../helpers/cli.js';
import { parseFolded, toFolded } from '../../profile/flame.js';
import { stackRows, writeStacks } from '../../profile/stack-store.js';
import { openStore } from '../../store/index.js';
import { applySchema } from '../../schema/ddl.js';
import { buildGoFixture, Stepper } from '../go/go-fixtures.js';
import { storeTargets } from '../helpers/stores.js';
import { expectedSamples, HZ, runCliAsync, SAMPLE_TOLERANCE, startFlame, sumValues, type FlameRun, PROFILE_TEST_TIMEOUT_MS, profileBurnToExit } from './flame-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'v2flame-store-'));

function storedRange(stderr: string): { from: number; to: number; rows: number; windows: number } {
  const m = /stored (\d+) stack rows in (\d+) window\(s\) to .* from (\d+) to (\d+)\)/.exec(stderr);
  if (!m) throw new Error(`no 'stored … from … to …' in: ${stderr}`);
  return { rows: Number(m[1]), windows: Number(m[2]), from: Number(m[3]), to: Number(m[4]) };
}

/** fill of the frame named `name` in an SVG flame graph */
function fillOf(svg: string, name: string): string | undefined {
  const re = new RegExp(`<title>${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\([^<]*</title><rect [^>]*fill="([^"]+)"`);
  return re.exec(svg)?.[1];
}

describe.skipIf(!isRoot)('v2probe flame --store (live → store → past window)', () => {
  let bin = '';
  beforeAll(() => {
    bin = buildGoFixture('busy');
  }, 300_000);

  for (const target of storeTargets()) it.skipIf(target.skip)(`the flame graph of a past window from the store (${target.name}) equals the live one${target.skip ? ` (skipped: ${target.skip})` : ''}`, async () => {
    const store = target.dsn();
    if (target.reset) {
      const s = await openStore(store);
      await target.reset(s);
      await s.close();
    }
    const fx = new Stepper(bin, ['600000', 'wait']); // burns from the step on, until killed
    const live = join(dir, 'live.folded');
    let cli: FlameRun | undefined;
    let r: { code: number | null; stderr: string };
    try {
      const start = await fx.next();
      // HZ, not the default 99: more samples and stacks for the live-vs-store comparison on a loaded machine
      cli = startFlame(['flame', '--pid', String(start.pid), '--duration', '3s', '--frequency', String(HZ), '--window', '1s', '--store', store, '--out', join(dir, 'live.svg'), '--folded', live]);
      await cli.sampling;
      fx.step();
      r = { code: await cli.exited, stderr: cli.stderr() };
    } finally {
      cli?.child.kill();
      fx.child.kill();
    }
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('exited mid-profile');
    const w = storedRange(r.stderr);
    expect(w.windows).toBeGreaterThanOrEqual(2); // 3 s in 1 s windows; a slow insert on a loaded machine can merge two
    const past = join(dir, 'past.folded');
    const pb = join(dir, 'past.pb.gz');
    const h = runCli(['flame', '--store', store, '--from', String(w.from), '--to', String(w.to), '--comm', 'busy', '--out', join(dir, 'past.svg'), '--folded', past, '--pprof', pb]);
    expect(h.code, h.stderr).toBe(0);
    const a = readFileSync(live, 'utf8');
    const b = readFileSync(past, 'utf8');
    const stacks = parseFolded(a);
    const total = sumValues(stacks);
    console.log(`flame --store: live ${total} samples in ${stacks.length} folded stacks, ${w.rows} rows in ${w.windows} windows; from the store: ${h.stderr.trim()}`);
    // how many samples 3 s give depends on the fixture's CPU share on a loaded machine: it must have been sampled, in main.burnCPU
    expect(sumValues(stacks.filter((s) => s.frames.includes('main.burnCPU')))).toBeGreaterThan(0);
    expect(b).toBe(a);
    expect(readFileSync(join(dir, 'past.svg'), 'utf8')).toContain('main.burnCPU');
    expect(readFileSync(pb).length).toBeGreaterThan(100);
    // --kind offcpu, or a comm that did not run: nothing there → exit 1 with a message
    const none = runCli(['flame', '--store', store, '--from', String(w.from), '--to', String(w.to), '--kind', 'offcpu', '--out', join(dir, 'none.svg')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no offcpu stacks/);
  }, PROFILE_TEST_TIMEOUT_MS);

  it('a process that exits mid-profile: the samples so far are in the files and the store', async () => {
    const store = `chdb:${join(dir, 'exit')}`;
    const live = join(dir, 'exit.folded');
    // store open and schema applied before "sampling"
    const r = await profileBurnToExit(bin, ['--window', '1s', '--store', store, '--out', join(dir, 'exit.svg'), '--folded', live]);
    const done = r.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('exited mid-profile');
    expect(existsSync(join(dir, 'exit.svg'))).toBe(true);
    const total = sumValues(parseFolded(readFileSync(live, 'utf8')));
    const want = expectedSamples(done.cpu_ns);
    console.log(`flame --store exit mid-profile: ${total} samples, fixture CPU ${(Number(done.cpu_ns) / 1e6).toFixed(0)} ms x ${HZ} Hz = ${want.toFixed(0)}; ${r.stderr.trim()}`);
    expect(Math.abs(total - want) / want).toBeLessThan(SAMPLE_TOLERANCE); // every sample up to the exit
    const w = storedRange(r.stderr);
    expect(w.rows).toBeGreaterThan(0);
    const past = join(dir, 'exit-past.folded');
    const h = runCli(['flame', '--store', store, '--from', String(w.from), '--to', String(w.to), '--out', join(dir, 'exit-past.svg'), '--folded', past]);
    expect(h.code, h.stderr).toBe(0);
    expect(readFileSync(past, 'utf8')).toBe(readFileSync(live, 'utf8'));
  }, PROFILE_TEST_TIMEOUT_MS);
});

describe('v2probe flame --store --diff and bad input (no BPF needed)', () => {
  it('--diff marks a function that grew red and one that shrank blue', async () => {
    const path = join(dir, 'diff');
    const st = await openStore(`chdb:${path}`);
    // recent windows (older ones would be past the TTL of the stacks table)
    const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 3 * 3_600_000;
    const base = t0;
    const incident = t0 + 3_600_000;
    const mk = (grew: number, steady: number) => [
      { pid: 41, comm: 'broker', frames: ['broker', 'runtime.main', 'main.main', 'main.grew'], value: grew },
      { pid: 41, comm: 'broker', frames: ['broker', 'runtime.main', 'main.main', 'main.steady'], value: steady },
    ];
    try {
      await applySchema(st);
      // baseline: grew 10 %, two hosts; incident: grew 60 %, two windows
      await writeStacks(st, stackRows(mk(5, 45), { startMs: base, endMs: base + 10_000, host: 'h1', kind: 'oncpu', frequency: 99 }));
      await writeStacks(st, stackRows(mk(5, 45), { startMs: base, endMs: base + 10_000, host: 'h2', kind: 'oncpu', frequency: 99 }));
      await writeStacks(st, stackRows(mk(30, 20), { startMs: incident, endMs: incident + 10_000, host: 'h1', kind: 'oncpu', frequency: 99 }));
      await writeStacks(st, stackRows(mk(30, 20), { startMs: incident + 10_000, endMs: incident + 20_000, host: 'h2', kind: 'oncpu', frequency: 99 }));
    } finally {
      await st.close();
    }
    const iso = (ms: number) => new Date(ms).toISOString();
    const svg = join(dir, 'diff.svg');
    const folded = join(dir, 'diff.folded');
    const r = runCli(['flame', '--store', `chdb:${path}`, '--comm', 'broker', '--from', iso(incident), '--to', iso(incident + 60_000), '--diff',
      '--baseline-from', iso(base), '--baseline-to', iso(base + 60_000), '--out', svg, '--folded', folded]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/100 samples in 2 stacks from 2 window\(s\) of h1, h2 .*baseline 100 samples in 2 stacks from 2 window/);
    expect(readFileSync(folded, 'utf8')).toBe(toFolded(mk(60, 40)));
    const text = readFileSync(svg, 'utf8');
    const grew = fillOf(text, 'main.grew');
    const shrank = fillOf(text, 'main.steady');
    console.log(`flame --diff: main.grew ${grew}, main.steady ${shrank}`);
    expect(grew).toMatch(/^rgb\(255,(\d+),\1\)$/);
    expect(grew).not.toBe('rgb(255,255,255)');
    expect(shrank).toMatch(/^rgb\((\d+),\1,255\)$/);
    expect(text).toContain('baseline 100');
  });

  it('bad input exits 2 with a reason', async () => {
    const store = `chdb:${join(dir, 'bad')}`;
    const out = join(dir, 'bad.svg');
    const cases: Array<[string[], RegExp]> = [
      [['--from', '-1h', '--out', out], /--store/],
      [['--store', store, '--from', 'yesterday-ish', '--out', out], /--from: 'yesterday-ish' is not a time/],
      [['--store', store, '--from', '2025-03-01T10:00:00Z', '--to', '2025-03-01T09:00:00Z', '--out', out], /--to must be after --from/],
      [['--store', store, '--from', '-1h', '--diff', '--out', out], /--baseline-from is required/],
      [['--store', store, '--from', '-1h', '--kind', 'wall', '--out', out], /--kind: 'wall'/],
      [['--store', store, '--from', '-1h', '--baseline-from', '-2h', '--out', out], /need --diff/],
      [['--store', 'nosuch:x', '--from', '-1h', '--out', out], /not understood/],
      [['--pid', String(process.pid), '--duration', '0s', '--out', out], /duration must be positive/],
      [['--pid', String(process.pid), '--duration', '100h', '--out', out], /1h maximum/],
      [['--pid', String(process.pid), '--duration', 'forever', '--out', out], /not a duration/],
      [['--pid', String(process.pid), '--duration', '1s', '--store', store, '--window', '10ms', '--out', out], /--window/],
      [['--pid', String(process.pid), '--to', '-1h', '--out', out], /--to needs --store DSN --from T/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCliAsync(['flame', ...args]))); // independent: concurrently
    for (const [i, [args, re]] of cases.entries()) {
      const r = results[i];
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
  });
});
