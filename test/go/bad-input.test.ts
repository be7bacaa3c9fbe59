// Bad input for the Go probes and the profiler:
//  - a stripped Go binary (-ldflags='-s -w', no .symtab): runtime functions come
//    from .gopclntab; go_gc still attaches and counts every GC cycle (= gctrace
//    lines = NumGC); its flame graph still names main.burnCPU;
//  - a stripped binary whose .gopclntab is unreadable: NO_SYMBOLS, exit 2 with the reason;
//  - a non-Go binary: NOT_GO, exit 2 "not a Go program".
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRoot, startCollector } from '../helpers/probes.js';
import { runCli } from '../helpers/cli.js';
import { ElfFile } from '../../uprobes/elf.js';
import { GoBinaryError, openGoBinary } from '../../uprobes/go-binary.js';
import { parseFolded } from '../../profile/flame.js';
import { buildGoFixture, goTool, Stepper } from './go-fixtures.js';
import { expectedSamples, HZ, SAMPLE_TOLERANCE, sumValues, PROFILE_TEST_TIMEOUT_MS, profileBurnToExit } from '../flame/flame-cli.js';

const STRIP = { flags: ['-ldflags=-s -w'], suffix: '-stripped' };
const dir = mkdtempSync(join(tmpdir(), 'v2go-bad-'));
const GCTRACE = /^gc (\d+) @[\d.]+s \d+%: /;

describe.skipIf(!goTool())('Go binaries without symbols, and non-Go binaries', () => {
  it('a stripped Go binary: functions from .gopclntab', () => {
    const bin = buildGoFixture('gcheavy', STRIP);
    expect(ElfFile.read(bin).hasSymtab()).toBe(false);
    const g = openGoBinary(bin);
    expect(g.symbolSource).toBe('pclntab');
    for (const f of ['runtime.stopTheWorldWithSema', 'runtime.startTheWorldWithSema', 'runtime.mallocgc', 'main.churn']) {
      expect(g.funcs.some((x) => x.name === f), f).toBe(true);
    }
  });

  it('a stripped binary with an unreadable .gopclntab, and a non-Go binary: clear errors, exit 2', () => {
    const bin = buildGoFixture('gcheavy', STRIP);
    const broken = join(dir, 'gcheavy-nopclntab');
    copyFileSync(bin, broken);
    const data = readFileSync(broken);
    let n = 0;
    for (const magic of [0xfffffff1, 0xfffffff0, 0xfffffffa]) {
      const pat = Buffer.alloc(4);
      pat.writeUInt32LE(magic, 0);
      for (let i = data.indexOf(pat); i >= 0; i = data.indexOf(pat, i + 4)) {
        if (data[i + 6] === 1 && data[i + 7] === 8) {
          data.writeUInt32LE(0, i);
          n++;
        }
      }
    }
    expect(n).toBeGreaterThan(0);
    writeFileSync(broken, data, { mode: 0o755 });
    expect(() => openGoBinary(broken)).toThrow(/stripped and has no readable \.gopclntab/);
    try {
      openGoBinary('/bin/ls');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(GoBinaryError);
      expect((e as GoBinaryError).code).toBe('NOT_GO');
      expect((e as Error).message).toMatch(/\/bin\/ls is not a Go program/);
    }
    for (const [target, re] of [[broken, /no readable \.gopclntab/], ['/bin/ls', /not a Go program/]] as const) {
      const r = runCli(['collect', '--sink', 'stdout', '--duration', '1s', '--probes', 'go_gc', '--go-binary', target]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
  });

  it.skipIf(!isRoot)('go_gc on a stripped binary attaches and counts every GC cycle (gctrace, NumGC)', async () => {
    const bin = buildGoFixture('gcheavy', STRIP);
    const s = await startCollector({ probes: ['go_gc'], targets: { binaries: [bin] } });
    try {
      expect(s.status[0].state, s.status[0].error).toBe('running');
      const fx = new Stepper(bin, ['1000'], { GODEBUG: 'gctrace=1' });
      const done = await fx.next(30_000);
      expect(await fx.exited).toBe(0);
      const gctrace = fx.stderr.split('\n').filter((l) => GCTRACE.test(l)).length;
      const counted = s.collector.keyedCounts('go_gc').find((k) => k.pid === fx.pid)?.count;
      await s.collector.stop(); // flushes the event rows
      const sweeps = s.sink.events.filter((r) => r.probe === 'go_gc' && r.pid === fx.pid && r.event === 'stw_sweep_term').length;
      console.log(`go_gc stripped: v2probe ${counted} cycles, ${sweeps} sweep-termination pauses; gctrace ${gctrace}, NumGC ${done.numgc}; attach: ${s.status[0].attach}`);
      expect(gctrace).toBeGreaterThan(5);
      expect(Number(done.numgc)).toBe(gctrace);
      expect(counted).toBe(gctrace);
      expect(sweeps).toBe(gctrace);
    } finally {
      await s.collector.stop();
    }
  });

  it.skipIf(!isRoot)('flame on a stripped binary names its functions (from .gopclntab)', async () => {
    const bin = buildGoFixture('busy', STRIP);
    const folded = join(dir, 'stripped.folded');
    // burns BURN_CPU_MS of its own CPU time once the CLI samples, then exits (see test/flame/flame-cli.ts)
    const r = await profileBurnToExit(bin, ['--out', join(dir, 'stripped.svg'), '--folded', folded]);
    const done = r.done;
    expect(r.code, r.stderr).toBe(0);
    const stacks = parseFolded(readFileSync(folded, 'utf8'));
    const total = sumValues(stacks);
    const inBurn = sumValues(stacks.filter((s) => s.frames.includes('main.burnCPU')));
    const want = expectedSamples(done.cpu_ns);
    console.log(`flame stripped: ${total} samples (fixture CPU ${(Number(done.cpu_ns) / 1e6).toFixed(0)} ms x ${HZ} Hz = ${want.toFixed(0)}), main.burnCPU in ${inBurn} (${((inBurn / total) * 100).toFixed(1)} %)`);
    expect(Math.abs(total - want) / want).toBeLessThan(SAMPLE_TOLERANCE);
    expect(inBurn / total).toBeGreaterThanOrEqual(0.6);
  }, PROFILE_TEST_TIMEOUT_MS);
});
