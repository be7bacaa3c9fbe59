/**
 * bench/bpftrace-uds.ts — v2probe's uds probe next to bpftrace doing the same
 * job (bench/uds-latency.bt: AF_UNIX send/recv latency per syscall into log2
 * histograms, on the same syscall tracepoints), on the same UDS ping-pong in
 * the same run: bare, empty programs, uds at its default sampling (1:1000)
 * and at 1:1, bpftrace. Per-call overhead (ns per traced syscall) from the
 * ping-pong's wall time against the bare runs, and per-program run time from
 * bpf_stats (kernel.bpf_stats_enabled, set for the run and restored after)
 * for both; tracer userspace CPU for both.
 *   node dist/bench/bpftrace-uds.js [rounds=50000] [--reps 3] [--no-install]
 * Root. bpftrace missing: installed with scripts/bpftrace.sh (apt-get) unless
 * --no-install or V2PROBE_BENCH_NO_INSTALL=1; if it still is missing the
 * bpftrace rows say "bpftrace not installed: skipped" and the rest runs.
 * The ping-pong (both ends) runs on CPU 0, the tracers (this process with the
 * in-process collector, and bpftrace) on the last CPU, so the wall-time
 * difference is the in-kernel cost on the traced path. The bpftrace child is
 * started under `setpriv --pdeathsig KILL` and killed on every exit path.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { Collector } from '../collector/collector.js';
import { ensureTracefs } from '../collector/families/kernel.js';
import type { Sink } from '../collector/sinks/sink.js';
import { repoRoot } from '../native/index.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const opt = (name: string, dflt: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt);
const ROUNDS = Number(argv.find((a, i) => /^\d+$/.test(a) && argv[i - 1] !== '--reps') ?? 50_000);
const REPS = opt('--reps', 3);
const NO_INSTALL = flag('--no-install') || process.env.V2PROBE_BENCH_NO_INSTALL === '1';
const ROOT = repoRoot();
const STATS = '/proc/sys/kernel/bpf_stats_enabled';
const SCRIPT = join(ROOT, 'bench/uds-latency.bt');
const NCPU = cpus().length;
const WORK_CPU = 0;
const TRACER_CPU = NCPU > 1 ? NCPU - 1 : 0;
const CALLS = ROUNDS * 4; // per round trip: client sendmsg+recvmsg, server recvmsg+sendmsg
const pexec = promisify(execFile);
/** `setpriv --pdeathsig KILL`: children die with this process, even when it is killed with SIGKILL (run-all's time limit). */
const DIE_WITH_US = existsSync('/usr/bin/setpriv') ? ['setpriv', '--pdeathsig', 'KILL'] : [];

const nullSink: Sink = { name: 'null', writeEvents: async () => {}, writeCounters: async () => {}, writeHistograms: async () => {}, close: async () => {} };

type Stat = { runTimeNs: bigint; runCnt: bigint };
const sumStats = (s: Stat[]) => s.reduce((a, x) => ({ runTimeNs: a.runTimeNs + x.runTimeNs, runCnt: a.runCnt + x.runCnt }), { runTimeNs: 0n, runCnt: 0n });
const diff = (a: Stat, b: Stat) => ({ runTimeNs: b.runTimeNs - a.runTimeNs, runCnt: b.runCnt - a.runCnt });

/** CPU seconds (user+sys) of a process from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

async function pingpong(): Promise<{ elapsedUs: number; rtps: number }> {
  const bin = resolve(ROOT, 'build/fixtures/uds_pingpong');
  const { stdout } = await pexec('taskset', ['-c', String(WORK_CPU), ...DIE_WITH_US, bin, '-n', String(ROUNDS), '-d', '0', '-m', 'sendmsg'], { timeout: 600_000 });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as { rounds: number; elapsed_us: number };
  return { elapsedUs: r.elapsed_us, rtps: Math.round((r.rounds * 1e6) / r.elapsed_us) };
}

interface Run {
  elapsedUs: number;
  rtps: number;
  /** bpf_stats over the tracer's programs during the ping-pong */
  stat?: Stat;
  /** calls the tracer timed (v2probe: counters.seen; bpftrace: histogram total) */
  timed?: number;
  /** tracer userspace CPU seconds during the ping-pong */
  cpuS?: number;
  extra?: Record<string, number>;
}

async function runV2probe(probe: 'uds' | 'empty', sampleEvery: number): Promise<Run> {
  const c = new Collector({ probes: [probe], sink: nullSink, logger: pino({ level: 'warn' }), perProbe: { [probe]: { sampleEvery } }, snapshotMs: 60_000 });
  const st = await c.start();
  for (const s of st) if (s.state !== 'running') throw new Error(`${s.probe}: ${s.error}`);
  try {
    const s0 = sumStats(c.programStats(probe));
    const k0 = c.counters(probe);
    const u0 = process.cpuUsage();
    const w = await pingpong();
    const u = process.cpuUsage(u0);
    const s1 = sumStats(c.programStats(probe));
    const k1 = c.counters(probe);
    return {
      ...w,
      stat: diff(s0, s1),
      timed: probe === 'uds' ? k1.seen - k0.seen : undefined,
      cpuS: (u.user + u.system) / 1e6,
      extra: probe === 'uds' ? { sampled: k1.sampled - k0.sampled, lost: k1.lost_ringbuf - k0.lost_ringbuf + k1.lost_userspace - k0.lost_userspace } : undefined,
    };
  } finally {
    await c.stop();
  }
}

// ---- bpftrace ------------------------------------------------------------------------------

let bpftraceChild: ChildProcess | undefined;
function killBpftrace(): void {
  const c = bpftraceChild;
  if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', killBpftrace);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    killBpftrace();
    process.exit(130);
  });
}

/** bpftrace present, or installed now (when allowed); otherwise why not. */
function ensureBpftrace(): { ok: true; version: string } | { ok: false; why: string } {
  const version = () => {
    try {
      return execFileSync('bpftrace', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  let v = version();
  if (v) return { ok: true, version: v };
  if (NO_INSTALL) return { ok: false, why: 'not installed, and installing was not allowed (--no-install / V2PROBE_BENCH_NO_INSTALL=1)' };
  try {
    execFileSync('bash', [join(ROOT, 'scripts/bpftrace.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 900_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { ok: false, why: `not installed; scripts/bpftrace.sh failed: ${(e.stderr || e.message).trim().split('\n').slice(-2).join(' ')}` };
  }
  v = version();
  return v ? { ok: true, version: v } : { ok: false, why: 'not installed (scripts/bpftrace.sh ran, but no bpftrace on PATH)' };
}

/**
 * bpf_stats of the BPF programs a process holds, from /proc/PID/fdinfo (each
 * program fd shows prog_id, run_time_ns and run_cnt): no bpftool, and no race
 * with programs other processes load and unload meanwhile.
 */
function progStatsOf(pid: number): Stat & { programs: number } {
  const seen = new Map<number, Stat>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // fd closed meanwhile
    }
    const id = /^prog_id:\s+(\d+)/m.exec(info);
    if (!id) continue;
    const num = (k: string) => BigInt(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(info)?.[1] ?? '0');
    seen.set(Number(id[1]), { runTimeNs: num('run_time_ns'), runCnt: num('run_cnt') });
  }
  return { ...sumStats([...seen.values()]), programs: seen.size };
}

async function runBpftrace(): Promise<Run> {
  const cmd = ['taskset', '-c', String(TRACER_CPU), ...DIE_WITH_US, 'bpftrace', '--no-warnings', '-f', 'json', SCRIPT];
  const c = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  bpftraceChild = c;
  let out = '';
  let err = '';
  c.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  c.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((r) => c.on('exit', () => r()));
  try {
    for (let t = 0; !out.includes('"attached_probes"'); t += 50) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`bpftrace exited before attaching: ${err.trim().split('\n').slice(-3).join(' | ')}`);
      if (t > 120_000) throw new Error('bpftrace did not attach within 120 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const s0 = progStatsOf(c.pid!);
    const cpu0 = cpuSeconds(c.pid!);
    const w = await pingpong();
    const cpuS = cpuSeconds(c.pid!) - cpu0;
    const s1 = progStatsOf(c.pid!);
    // Ctrl-C: bpftrace prints the histograms and exits
    c.kill('SIGINT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
    let timed = 0;
    for (const line of out.split('\n')) {
      if (!line.startsWith('{')) continue;
      const j = JSON.parse(line) as { type: string; data: Record<string, Record<string, Array<{ count: number }>>> };
      if (j.type === 'hist' && j.data['@lat']) for (const buckets of Object.values(j.data['@lat'])) timed += buckets.reduce((n, b) => n + b.count, 0);
    }
    return { ...w, stat: diff(s0, s1), timed, cpuS, extra: { programs: s1.programs } };
  } finally {
    killBpftrace();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000).unref())]);
    bpftraceChild = undefined;
  }
}

// ---- main --------------------------------------------------------------------------------

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bpftrace-uds needs root (it loads BPF programs and sets kernel.bpf_stats_enabled)');
  if (!existsSync(resolve(ROOT, 'build/fixtures/uds_pingpong'))) throw new Error('build/fixtures/uds_pingpong is missing: make -C test/fixtures');
  ensureTracefs();
  const bt = ensureBpftrace();
  // this process (the in-process collector, its poll thread) on the tracer CPU; ping-pongs are pinned to CPU 0
  if (NCPU > 1) execFileSync('taskset', ['-a', '-p', '-c', String(TRACER_CPU), String(process.pid)], { stdio: 'ignore' });
  const prevStats = readFileSync(STATS, 'utf8').trim();
  writeFileSync(STATS, '1');
  const configs: Array<{ key: string; label: string; run: () => Promise<Run> }> = [
    { key: 'bare', label: 'bare (no tracer)', run: pingpong },
    { key: 'empty', label: 'v2probe empty programs', run: () => runV2probe('empty', 1) },
    { key: 'uds_default', label: 'v2probe uds 1:1000 (default)', run: () => runV2probe('uds', 1000) },
    { key: 'uds_1', label: 'v2probe uds 1:1', run: () => runV2probe('uds', 1) },
  ];
  if (bt.ok) configs.push({ key: 'bpftrace', label: 'bpftrace uds-latency.bt', run: runBpftrace });
  const runs: Record<string, Run[]> = Object.fromEntries(configs.map((c) => [c.key, []]));
  try {
    await pingpong(); // warm-up
    for (let rep = 0; rep < REPS; rep++) for (const c of configs) runs[c.key].push(await c.run());
  } finally {
    writeFileSync(STATS, prevStats);
    killBpftrace();
  }

  const bareUs = median(runs.bare.map((r) => r.elapsedUs));
  console.log(`bpftrace-uds: UDS ping-pong (SOCK_SEQPACKET, 64 B, sendmsg/recvmsg), ${ROUNDS} round trips = ${CALLS} traced syscalls per run, ${REPS} runs per setup interleaved; ` +
    `ping-pong on CPU ${WORK_CPU}, tracers on CPU ${TRACER_CPU}; kernel ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}; ${bt.ok ? bt.version : 'bpftrace not installed'}`);
  console.log(`${'setup'.padEnd(30)} ${'rt/s'.padStart(8)} ${'ns/call'.padStart(8)} ${'prog ns/run'.padStart(11)} ${'prog ns/call'.padStart(12)} ${'timed'.padStart(8)} ${'tracer CPU'.padStart(10)}`);
  const summary: Record<string, unknown> = { rounds: ROUNDS, reps: REPS, callsPerRun: CALLS, bpftraceVersion: bt.ok ? bt.version : null, bpftraceSkipped: bt.ok ? null : `bpftrace not installed: skipped (${bt.why})` };
  for (const c of configs) {
    const rs = runs[c.key];
    const el = median(rs.map((r) => r.elapsedUs));
    const overhead = c.key === 'bare' ? 0 : ((el - bareUs) * 1000) / CALLS;
    const stat = rs.every((r) => r.stat) ? rs.map((r) => r.stat!).reduce((a, b) => ({ runTimeNs: a.runTimeNs + b.runTimeNs, runCnt: a.runCnt + b.runCnt })) : undefined;
    const perRun = stat && stat.runCnt > 0n ? Number(stat.runTimeNs) / Number(stat.runCnt) : NaN;
    // programs per traced syscall: enter + exit (unfiltered programs also run for the host's other calls, so use the ratio)
    const perCall = perRun * 2;
    const timed = rs.every((r) => r.timed !== undefined) ? median(rs.map((r) => r.timed!)) : undefined;
    const cpuPct = rs.every((r) => r.cpuS !== undefined) ? (100 * rs.reduce((n, r) => n + r.cpuS!, 0)) / (rs.reduce((n, r) => n + r.elapsedUs, 0) / 1e6) : undefined;
    const rtps = Math.round(median(rs.map((r) => r.rtps)));
    console.log(`${c.label.padEnd(30)} ${String(rtps).padStart(8)} ${(c.key === 'bare' ? '-' : overhead.toFixed(0)).padStart(8)} ${(Number.isNaN(perRun) ? '-' : perRun.toFixed(0)).padStart(11)} ${(Number.isNaN(perCall) ? '-' : perCall.toFixed(0)).padStart(12)} ${(timed === undefined ? '-' : String(timed)).padStart(8)} ${(cpuPct === undefined ? '-' : `${cpuPct.toFixed(1)} %`).padStart(10)}`);
    summary[c.key] = { rtps, nsPerCall: +overhead.toFixed(1), progNsPerRun: Number.isNaN(perRun) ? null : +perRun.toFixed(1), progNsPerCall: Number.isNaN(perCall) ? null : +perCall.toFixed(1), timed: timed ?? null, tracerCpuPct: cpuPct === undefined ? null : +cpuPct.toFixed(2), runsUs: rs.map((r) => r.elapsedUs), ...(rs[0].extra ? { extra: rs.map((r) => r.extra) } : {}) };
  }
  if (!bt.ok) console.log(`bpftrace not installed: skipped (${bt.why})`);
  console.log('  ns/call: (median wall time of the ping-pong - bare) / traced syscalls: everything the tracer adds on the traced path (tracepoint dispatch, program, ring-buffer wakeups)');
  console.log('  prog ns/run: bpf_stats run_time_ns / run_cnt of the tracer\'s programs (the program bodies only); prog ns/call = 2 runs (enter + exit) per syscall');
  console.log('  timed: calls the tracer measured per run (v2probe: counters.seen; bpftrace: histogram total), expected ~' + CALLS + ' (+ other AF_UNIX calls on the host)');
  console.log('  tracer CPU: userspace CPU of the tracer process during the ping-pong, % of one core (v2probe: this process, the in-process collector with a null sink; bpftrace: its process)');
  console.log('  what differs: same tracepoints and the same AF_UNIX check (fd -> file -> S_IFSOCK inode -> sk_family) and log2 histograms per syscall; bpftrace 0.17 reads that chain with bpf_probe_read_kernel ' +
    '(uds: direct BTF loads), keeps start times in a HASH by tid (uds: task-local storage), does not check that exit and enter are the same syscall, keeps no exact counters, has no pid/comm/cgroup filter lookup and sends no per-event rows (uds samples 1 in N into a ring buffer)');
  if (bt.ok) {
    const u = summary.uds_default as { nsPerCall: number; progNsPerRun: number };
    const b = summary.bpftrace as { nsPerCall: number; progNsPerRun: number };
    console.log(`  uds (default sampling) vs bpftrace: ${u.nsPerCall} vs ${b.nsPerCall} ns/call (wall), ${u.progNsPerRun} vs ${b.progNsPerRun} ns per program run (bpf_stats)`);
  }
  console.log(JSON.stringify(summary));
}

main().catch((e) => {
  killBpftrace();
  console.error(e);
  process.exit(1);
});
