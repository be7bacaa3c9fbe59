/**
 * bench/go-probes.ts — cost of the Go runtime probes and of the profiler.
 *
 *   node dist/bench/go-probes.js [objects]
 *
 * Runs the allocs fixture (test/fixtures/go/allocs, built with the Go
 * toolchain) without probes, then with go_gc + go_sched + go_malloc attached
 * by binary path; prints the fixture's wall time both ways (slowdown) and
 * each uprobe program's ns/call from bpf_stats (kernel.bpf_stats_enabled is
 * set for the run and restored). Then profiles the busy fixture at 99 Hz and
 * prints the profiler's CPU cost (run time of profile_cpu / wall time).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { Collector } from '../collector/collector.js';
import type { Sink } from '../collector/sinks/sink.js';
import { loadNative, repoRoot } from '../native/index.js';

const STATS = '/proc/sys/kernel/bpf_stats_enabled';
const root = repoRoot();
const go = ['/usr/local/go/bin/go', '/usr/bin/go'].find((p) => existsSync(p));

function build(name: string): string {
  if (!go) throw new Error('Go toolchain not found');
  const out = resolve(root, 'build/fixtures/go', name);
  mkdirSync(resolve(root, 'build/fixtures/go'), { recursive: true });
  const r = spawnSync(go, ['build', '-o', out, `./${name}`], { cwd: resolve(root, 'test/fixtures/go'), encoding: 'utf8', env: { ...process.env, GOTOOLCHAIN: 'local', CGO_ENABLED: '0' } });
  if (r.status !== 0) throw new Error(r.stderr);
  return out;
}

function runAllocs(bin: string, n: number): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(bin, [String(n)], { input: '\n\n', encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`allocs failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const nullSink: Sink = { name: 'null', async writeEvents() {}, async writeCounters() {}, async writeHistograms() {}, async close() {} };

async function main() {
  const n = Number(process.argv[2] ?? 1_000_000);
  const prevStats = readFileSync(STATS, 'utf8').trim();
  writeFileSync(STATS, '1');
  try {
    const allocs = build('allocs');
    runAllocs(allocs, 1000); // warm the page cache
    const base = Math.min(runAllocs(allocs, n), runAllocs(allocs, n));
    const c = new Collector({ probes: ['go_gc', 'go_sched', 'go_malloc'], sink: nullSink, logger: pino({ level: 'silent' }), snapshotMs: 60_000, targets: { binaries: [allocs] } });
    const st = await c.start();
    for (const s of st) if (s.state !== 'running') throw new Error(`${s.probe}: ${s.error}`);
    const probed = Math.min(runAllocs(allocs, n), runAllocs(allocs, n));
    console.log(`allocs fixture, ${n} objects: ${base.toFixed(0)} ms without probes, ${probed.toFixed(0)} ms with go_gc+go_sched+go_malloc (x${(probed / base).toFixed(2)}, +${(((probed - base) * 1e6) / n).toFixed(0)} ns per allocation, uprobe trap + program)`);
    for (const p of ['go_gc', 'go_sched', 'go_malloc'] as const) {
      for (const s of c.programStats(p)) {
        const cnt = Number(s.runCnt);
        console.log(`  ${p}/${s.name}: ${cnt} calls, ${cnt ? (Number(s.runTimeNs) / cnt).toFixed(0) : '-'} ns/call (BPF program only; the uprobe trap itself is in the slowdown above)`);
      }
    }
    await c.stop();

    const busy = build('busy');
    const child = spawnSync('sh', ['-c', `${busy} 4000 >/dev/null & echo $!`], { encoding: 'utf8' });
    const pid = Number(child.stdout.trim());
    const native = loadNative();
    const probe = await native.open('profile');
    const cfg = Buffer.alloc(48);
    cfg.writeUInt32LE(1, 0);
    cfg.writeUInt32LE(1, 8);
    probe.updateMap('config', Buffer.alloc(4), cfg);
    const t0 = Date.now();
    await probe.attachPerfEvent({ program: 'profile_cpu', frequency: 99 });
    await new Promise((r) => setTimeout(r, 3000));
    const wallNs = (Date.now() - t0) * 1e6;
    const s = probe.programStats().find((x) => x.name === 'profile_cpu')!;
    probe.close();
    const ncpu = Number(spawnSync('nproc', { encoding: 'utf8' }).stdout.trim());
    console.log(`profiler 99 Hz, all CPUs (${ncpu}), 3 s with pid ${pid} busy: ${s.runCnt} samples, ${(Number(s.runTimeNs) / Number(s.runCnt || 1n)).toFixed(0)} ns/sample, CPU share ${((Number(s.runTimeNs) / (wallNs * ncpu)) * 100).toFixed(4)} % of the machine`);
  } finally {
    writeFileSync(STATS, prevStats);
  }
}

await main();
