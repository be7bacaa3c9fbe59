/**
 * bench/v2e-overhead.ts — what v2probe costs the platform it is for: the v2e
 * reference workload (test/fixtures/go/v2e-sim: a broker and K services over
 * Unix sockets, shared-memory rings, a WAL with fdatasync, GC) run without
 * probes, then with each probe family at its default sampling, then with all
 * of them, alternating. Per run: the app's own throughput and RTT p50/p99,
 * and the probes' CPU (bpf_stats run time of the family's programs over
 * wall time x CPUs) against the budgets of DESIGN.md ("Overhead budgets").
 *
 *   node dist/bench/v2e-overhead.js [seconds=8] [rate=4000] [rounds=2]
 *
 * The collector runs in this process with a null sink (the store's cost is
 * bench/store-insert.ts's and bench/drain.ts's). kernel.bpf_stats_enabled is
 * set for the run and restored. The probes see the whole host (no filter):
 * on a machine busy with other work their CPU counts that work's events too.
 * Numbers on a shared or busy machine vary: read the without/with pairs of
 * one round together.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { Collector } from '../collector/collector.js';
import type { Sink } from '../collector/sinks/sink.js';
import type { ProbeName } from '../schema/event.js';
import { repoRoot } from '../native/index.js';

const STATS = '/proc/sys/kernel/bpf_stats_enabled';
const root = repoRoot();
const go = ['/usr/local/go/bin/go', '/usr/bin/go'].find((p) => existsSync(p));
const nullSink: Sink = { name: 'null', async writeEvents() {}, async writeCounters() {}, async writeHistograms() {}, async close() {} };

/** DESIGN.md's per-family budgets, % of all CPUs */
const BUDGET: Partial<Record<string, number>> = { uds: 0.1, lock: 0.5, futex: 0.5, kmem: 0.2, go_malloc: 0.2, sched: 0.3, go_sched: 0.3, all: 1 };

interface Truth { messages: number; rate: number; rtt_p50_us: number; rtt_p99_us: number; ring: { overflow_rate: number } }

function build(): string {
  if (!go) throw new Error('Go toolchain not found');
  const out = resolve(root, 'build/fixtures/go/v2e-sim');
  mkdirSync(resolve(root, 'build/fixtures/go'), { recursive: true });
  const r = spawnSync(go, ['build', '-o', out, './v2e-sim'], { cwd: resolve(root, 'test/fixtures/go'), encoding: 'utf8', env: { ...process.env, GOTOOLCHAIN: 'local', CGO_ENABLED: '0' } });
  if (r.status !== 0) throw new Error(r.stderr);
  return out;
}

function runSim(bin: string, seconds: number, rate: number): Promise<Truth> {
  return new Promise((res, rej) => {
    const p = spawn(bin, ['-k', '4', '-rate', String(rate), '-duration', `${seconds}s`, '-mix', '512:90,16384:10'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? res(JSON.parse(out.trim().split('\n').pop()!)) : rej(new Error(`v2e-sim exited ${code}`))));
  });
}

async function main() {
  const seconds = Number(process.argv[2] ?? 8);
  const rate = Number(process.argv[3] ?? 4000);
  const rounds = Number(process.argv[4] ?? 2);
  const bin = build();
  const ring = { binary: bin, publish: 'main.Publish', consume: 'main.Consume', overflow: 'main.Overflow', seq: 1, fill: 2 };
  const sets: Array<{ label: string; probes: ProbeName[] }> = [
    { label: 'uds (--uds-rw)', probes: ['uds'] },
    { label: 'sched', probes: ['sched'] },
    { label: 'fsync', probes: ['fsync'] },
    { label: 'blockio', probes: ['blockio'] },
    { label: 'shm (--shm-ring)', probes: ['shm'] },
    { label: 'futex', probes: ['futex'] },
    { label: 'go_gc', probes: ['go_gc'] },
    { label: 'go_sched', probes: ['go_sched'] },
    { label: 'all', probes: ['uds', 'sched', 'fsync', 'blockio', 'shm', 'futex', 'go_gc', 'go_sched'] },
  ];
  const ncpu = cpus().length;
  const prevStats = readFileSync(STATS, 'utf8').trim();
  writeFileSync(STATS, '1');
  console.log(`v2e-sim: 4 services, offered ${rate} msgs/s, ${seconds} s per run, ${rounds} round(s), ${ncpu} CPUs; probes at default sampling, null sink`);
  console.log('probes              | msgs/s without → with | RTT p50 µs without → with | RTT p99 µs without → with | probe CPU % (budget) | collector CPU %');
  try {
    await runSim(bin, 1, 500); // warm up
    for (let round = 0; round < rounds; round++) {
      for (const s of sets) {
        const base = await runSim(bin, seconds, rate);
        const c = new Collector({ probes: s.probes, sink: nullSink, logger: pino({ level: 'silent' }), snapshotMs: 60_000, optIn: { udsReadWrite: true }, targets: { binaries: [bin], shmRings: [ring] } });
        const st = await c.start();
        for (const x of st) if (x.state !== 'running') throw new Error(`${x.probe}: ${x.error}`);
        const run0 = new Map(s.probes.map((p) => [p, c.counters(p).run_time_ns ?? 0]));
        const cpu0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        const withP = await runSim(bin, seconds, rate);
        const wallNs = Number(process.hrtime.bigint() - t0);
        const cpu = process.cpuUsage(cpu0);
        const runNs = s.probes.reduce((a, p) => a + ((c.counters(p).run_time_ns ?? 0) - (run0.get(p) ?? 0)), 0);
        await c.stop();
        const pct = (100 * runNs) / (wallNs * ncpu);
        const coll = (100 * (cpu.user + cpu.system) * 1000) / (wallNs * ncpu);
        const budget = BUDGET[s.probes.length > 1 ? 'all' : s.probes[0]];
        console.log(`${s.label.padEnd(19)} | ${base.rate.toFixed(0).padStart(6)} → ${withP.rate.toFixed(0).padEnd(6)}        | ${base.rtt_p50_us.toFixed(0).padStart(6)} → ${withP.rtt_p50_us.toFixed(0).padEnd(6)}            | ${base.rtt_p99_us.toFixed(0).padStart(6)} → ${withP.rtt_p99_us.toFixed(0).padEnd(6)}            | ${pct.toFixed(3).padStart(7)}${budget !== undefined ? ` (< ${budget})` : ''}`.padEnd(150).slice(0, 150).trimEnd() + ` | ${coll.toFixed(2)}`);
      }
    }
  } finally {
    writeFileSync(STATS, prevStats);
  }
}

await main();
