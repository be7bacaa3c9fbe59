// Flame graphs: a Go fixture that spends most of its time in main.burnCPU.
// `v2probe flame --pid N` must put that frame in >= 60 % of on-CPU samples,
// write an SVG that parses as XML and contains it, and a pprof profile in
// which `go tool pprof -top` lists it. Off-CPU: a fixture that blocks its
// thread in main.blockHere for a known time: the off-CPU time attributed to
// it is within 10 % of that time. Bad input gets exit code 2.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isRoot } from '../helpers/probes.js';
import { BIN, ROOT, runCli } from '../helpers/cli.js';
import { parseFolded } from '../../collector/flame.js';
import { buildGoFixture, goTool, Stepper } from '../go/go-fixtures.js';

/** The CLI in the background; `sampling` resolves once it samples. */
function startFlame(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT });
  let err = '';
  const sampling = new Promise<void>((res, rej) => {
    child.stderr.on('data', (d) => {
      err += d;
      if (err.includes('flame: sampling')) res();
    });
    child.on('exit', (c) => rej(new Error(`flame exited ${c}: ${err}`)));
  });
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  return { sampling, exited, stderr: () => err };
}

const dir = mkdtempSync(join(tmpdir(), 'v2flame-'));

function xmlOk(path: string): string | undefined {
  const r = spawnSync('python3', ['-c', 'import sys,xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])', path], { encoding: 'utf8' });
  return r.status === 0 ? undefined : r.stderr;
}

describe.skipIf(!isRoot)('v2probe flame', () => {
  it('on-CPU: the busy function dominates; SVG is XML; go tool pprof lists it', async () => {
    const bin = buildGoFixture('busy');
    const fx = new Stepper(bin, ['6000']);
    const start = await fx.next();
    const svg = join(dir, 'cpu.svg');
    const pb = join(dir, 'cpu.pb.gz');
    const folded = join(dir, 'cpu.folded');
    const r = runCli(['flame', '--pid', String(start.pid), '--duration', '3s', '--out', svg, '--pprof', pb, '--folded', folded]);
    fx.child.kill();
    expect(r.code, r.stderr).toBe(0);
    const stacks = parseFolded(readFileSync(folded, 'utf8'));
    const total = stacks.reduce((s, x) => s + x.value, 0);
    const inBurn = stacks.filter((s) => s.frames.includes('main.burnCPU')).reduce((s, x) => s + x.value, 0);
    console.log(`flame on-CPU: ${total} samples, main.burnCPU in ${inBurn} (${((inBurn / total) * 100).toFixed(1)} %); ${r.stderr.trim()}`);
    expect(total).toBeGreaterThan(100);
    expect(inBurn / total).toBeGreaterThanOrEqual(0.6);
    expect(xmlOk(svg)).toBeUndefined();
    expect(readFileSync(svg, 'utf8')).toContain('main.burnCPU');
    const go = goTool();
    if (go) {
      const top = spawnSync(go, ['tool', 'pprof', '-top', pb], { encoding: 'utf8', env: { ...process.env, GOTOOLCHAIN: 'local' } });
      expect(top.status, top.stderr).toBe(0);
      expect(top.stdout).toContain('main.burnCPU');
    }
  });

  it('off-CPU: time blocked in the known function is within 10 %', async () => {
    const bin = buildGoFixture('offcpu');
    const fx = new Stepper(bin, ['40', '50']);
    const start = await fx.next();
    const svg = join(dir, 'off.svg');
    const folded = join(dir, 'off.folded');
    const cli = startFlame(['flame', '--off-cpu', '--pid', String(start.pid), '--duration', '4s', '--out', svg, '--folded', folded]);
    await cli.sampling;
    fx.step();
    const done = await fx.next();
    const p = { code: await cli.exited, stderr: cli.stderr() };
    expect(p.code, p.stderr).toBe(0);
    const stacks = parseFolded(readFileSync(folded, 'utf8'));
    const blocked = stacks.filter((s) => s.frames.includes('main.blockHere')).reduce((s, x) => s + x.value, 0);
    const want = Number(done.blocked_ns);
    console.log(`flame off-CPU: main.blockHere ${(blocked / 1e6).toFixed(1)} ms vs fixture ${(want / 1e6).toFixed(1)} ms; ${p.stderr.trim()}`);
    expect(Math.abs(blocked - want) / want).toBeLessThan(0.1);
    expect(xmlOk(svg)).toBeUndefined();
  });

  it('bad input: unknown pid, zero or absurd duration exit 2', () => {
    expect(runCli(['flame', '--pid', '4000000', '--duration', '1s', '--out', join(dir, 'x.svg')]).code).toBe(2);
    expect(runCli(['flame', '--pid', String(process.pid), '--duration', '0s', '--out', join(dir, 'x.svg')]).code).toBe(2);
    expect(runCli(['flame', '--pid', String(process.pid), '--duration', '100h', '--out', join(dir, 'x.svg')]).code).toBe(2);
  });

  it('a process that exits mid-profile: samples so far are written', async () => {
    const bin = buildGoFixture('busy');
    const fx = new Stepper(bin, ['1000']);
    const start = await fx.next();
    const folded = join(dir, 'exit.folded');
    const r = runCli(['flame', '--pid', String(start.pid), '--duration', '10s', '--out', join(dir, 'exit.svg'), '--folded', folded]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('exited mid-profile');
    expect(parseFolded(readFileSync(folded, 'utf8')).length).toBeGreaterThan(0);
  });
});
