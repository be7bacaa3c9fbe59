// Flame graphs: a Go fixture that spends most of its time in main.burnCPU.
// `v2probe flame --pid N` must put that frame in >= 60 % of on-CPU samples,
// write an SVG that parses as XML and contains it, and a pprof profile in
// which `go tool pprof -top` lists it. Off-CPU: a fixture that blocks its
// thread in main.blockHere for a known time: the off-CPU time attributed to
// it is within 10 % of that time. Bad input gets exit code 2.
// The on-CPU sample count must be the busy fixture's own CPU time x the
// frequency (see flame-cli.ts: the fixture burns only once the CLI samples).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { isRoot } from '../helpers/probes.js';
import { parseFolded } from '../../profile/flame.js';
import { buildGoFixture, goTool, Stepper } from '../go/go-fixtures.js';
import { BURN_CPU_MS, expectedSamples, HZ, runCliAsync, SAMPLE_TOLERANCE, startFlame, sumValues as total, type FlameRun, FIXTURE_DONE_WAIT_MS, PROFILE_TEST_TIMEOUT_MS, profileBurnToExit } from './flame-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'v2flame-'));

function xmlOk(path: string): string | undefined {
  const r = spawnSync('python3', ['-c', 'import sys,xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])', path], { encoding: 'utf8' });
  return r.status === 0 ? undefined : r.stderr;
}

describe.skipIf(!isRoot)('v2probe flame', () => {
  let bin = '';
  let offcpuBin = '';
  let pprof: { bin?: string; error?: string } = {};
  beforeAll(async () => {
    bin = buildGoFixture('busy');
    offcpuBin = buildGoFixture('offcpu');
    // Go >= 1.25 ships no prebuilt pprof: `go tool pprof` compiles it on first use
    // (~1 min of CPU: minutes of wall time on a loaded machine, once per build cache).
    // `go tool -n pprof` builds it (if needed) and prints its path, here, before the tests.
    const go = goTool();
    if (!go) return;
    try {
      const r = await promisify(execFile)(go, ['tool', '-n', 'pprof'], { encoding: 'utf8', env: { ...process.env, GOTOOLCHAIN: 'local' }, timeout: 900_000 });
      pprof = { bin: r.stdout.trim().split('\n').pop() };
    } catch (err) {
      pprof = { error: `go tool -n pprof: ${(err as Error).message}` };
    }
  }, 900_000);

  it('on-CPU: the busy function dominates; SVG is XML; go tool pprof lists it', async () => {
    const fx = new Stepper(bin, [String(BURN_CPU_MS), 'wait', 'cpu', 'hold']);
    const svg = join(dir, 'cpu.svg');
    const pb = join(dir, 'cpu.pb.gz');
    const folded = join(dir, 'cpu.folded');
    let cli: FlameRun | undefined;
    try {
      const start = await fx.next();
      cli = startFlame(['flame', '--pid', String(start.pid), '--duration', '1h', '--frequency', String(HZ), '--out', svg, '--pprof', pb, '--folded', folded]);
      await cli.sampling;
      fx.step(); // burn BURN_CPU_MS of CPU, then stay off CPU
      const done = await fx.next(FIXTURE_DONE_WAIT_MS);
      cli.child.kill('SIGINT'); // stop early: what was sampled is written
      const r = { code: await cli.exited, stderr: cli.stderr() };
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toContain('exited mid-profile');
      const stacks = parseFolded(readFileSync(folded, 'utf8'));
      const all = total(stacks);
      const inBurn = total(stacks.filter((s) => s.frames.includes('main.burnCPU')));
      const want = expectedSamples(done.cpu_ns);
      console.log(`flame on-CPU: ${all} samples (fixture CPU ${(Number(done.cpu_ns) / 1e6).toFixed(0)} ms x ${HZ} Hz = ${want.toFixed(0)}, in ${(Number(done.wall_ns) / 1e6).toFixed(0)} ms wall), main.burnCPU in ${inBurn} (${((inBurn / all) * 100).toFixed(1)} %); ${r.stderr.trim()}`);
      expect(Math.abs(all - want) / want).toBeLessThan(SAMPLE_TOLERANCE);
      expect(inBurn / all).toBeGreaterThanOrEqual(0.6);
      expect(xmlOk(svg)).toBeUndefined();
      expect(readFileSync(svg, 'utf8')).toContain('main.burnCPU');
      if (goTool()) {
        expect(pprof.error).toBeUndefined();
        const top = spawnSync(pprof.bin!, ['-top', pb], { encoding: 'utf8', timeout: 60_000 });
        expect(top.status, top.stderr).toBe(0);
        expect(top.stdout).toContain('main.burnCPU');
      }
    } finally {
      cli?.child.kill();
      fx.child.kill();
    }
  }, PROFILE_TEST_TIMEOUT_MS);

  it('off-CPU: time blocked in the known function is within 10 %', async () => {
    const fx = new Stepper(offcpuBin, ['40', '50']); // blocks 40 x 50 ms once told to, then exits
    const svg = join(dir, 'off.svg');
    const folded = join(dir, 'off.folded');
    let cli: FlameRun | undefined;
    try {
      const start = await fx.next();
      // until the fixture exits (not a fixed duration that its waits, slower on a loaded machine, could outlast)
      cli = startFlame(['flame', '--off-cpu', '--pid', String(start.pid), '--duration', '1h', '--out', svg, '--folded', folded]);
      await cli.sampling;
      fx.step();
      const done = await fx.next(FIXTURE_DONE_WAIT_MS);
      const p = { code: await cli.exited, stderr: cli.stderr() };
      expect(p.code, p.stderr).toBe(0);
      const stacks = parseFolded(readFileSync(folded, 'utf8'));
      const blocked = total(stacks.filter((s) => s.frames.includes('main.blockHere')));
      const want = Number(done.blocked_ns);
      console.log(`flame off-CPU: main.blockHere ${(blocked / 1e6).toFixed(1)} ms vs fixture ${(want / 1e6).toFixed(1)} ms; ${p.stderr.trim()}`);
      expect(Math.abs(blocked - want) / want).toBeLessThan(0.1);
      expect(xmlOk(svg)).toBeUndefined();
    } finally {
      cli?.child.kill();
      fx.child.kill();
    }
  }, PROFILE_TEST_TIMEOUT_MS);

  it('bad input: unknown pid, zero or absurd duration exit 2', async () => {
    const cases = [
      ['--pid', '4000000', '--duration', '1s'],
      ['--pid', String(process.pid), '--duration', '0s'],
      ['--pid', String(process.pid), '--duration', '100h'],
    ];
    const results = await Promise.all(cases.map((args) => runCliAsync(['flame', ...args, '--out', join(dir, 'x.svg')]))); // independent: concurrently
    for (const [i, r] of results.entries()) expect(r.code, `${cases[i].join(' ')}: ${r.stderr}`).toBe(2);
  });

  it('a process that exits mid-profile: samples so far are written', async () => {
    const folded = join(dir, 'exit.folded');
    const r = await profileBurnToExit(bin, ['--out', join(dir, 'exit.svg'), '--folded', folded]); // burns, then exits
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('exited mid-profile');
    const all = total(parseFolded(readFileSync(folded, 'utf8')));
    const want = expectedSamples(r.done.cpu_ns);
    console.log(`flame exit mid-profile: ${all} samples written, fixture CPU ${(Number(r.done.cpu_ns) / 1e6).toFixed(0)} ms x ${HZ} Hz = ${want.toFixed(0)}; ${r.stderr.trim()}`);
    expect(Math.abs(all - want) / want).toBeLessThan(SAMPLE_TOLERANCE); // every sample up to the exit
  }, PROFILE_TEST_TIMEOUT_MS);
});
