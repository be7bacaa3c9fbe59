/**
 * bench/probes.ts — the hook cost of every kernel probe family of issue 3,
 * next to empty programs on the same attach points in the same run
 * (bpf/hookbase.bpf.c), at the family's default sampling and at 1:1; then the
 * CPU share of all of them together under a mixed workload.
 *   node dist/bench/probes.js [--quick]          (root; after npm run build)
 * Enables kernel.bpf_stats_enabled for the run (restores it after): the
 * kernel then times every program run (run_time_ns / run_cnt).
 * ns/call = sum(run_time_ns) / sum(run_cnt) over the family's programs (and
 * over the matching empty programs): every hook of the family weighted by how
 * often the workload hits it. Families open as the collector opens them
 * (collector/start.ts: rodata v2_wakeup_bytes = an eighth of the ring).
 *   node dist/bench/probes.js --row [--quick] [--reps N]
 * The kernel side of a 1:1 row (issue 16 item 6): every family at 1:1 next to
 * its empty programs, N paired runs (default 5), medians, and the ratio
 * (target <= 3x); no mixed workload.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { ensureTracefs } from '../collector/families/kernel.js';
import { FAMILIES as DESCRIPTORS } from '../bpf/families.gen.js';
import { ATTACH, planAutoload } from '../collector/families/plans.js';
import { loadNative, repoRoot, type Probe } from '../native/index.js';
import { encodeConfig, PROBES, type ProbeName } from '../schema/event.js';

const STATS = '/proc/sys/kernel/bpf_stats_enabled';
const QUICK = process.argv.includes('--quick');
const ROW = process.argv.includes('--row');
const REPS = Number(process.argv[process.argv.indexOf('--reps') + 1]) || 5;
/** the collector's default ring and wakeup (collector/start.ts openObject) */
const RING_BYTES = 256 * 1024;
const WAKEUP_BYTES = RING_BYTES / 8;
const pexec = promisify(execFile);
const fx = (name: string, args: string[]) => pexec(resolve(repoRoot(), 'build/fixtures', name), args, { timeout: 120_000 });

/** the families with a hook-cost baseline (their descriptors' benchBaseline: bpf/hookbase.bpf.c is generated from them) */
const BASE: Record<string, string[]> = Object.fromEntries(
  Object.values(DESCRIPTORS).flatMap((d) => ('benchBaseline' in d ? [[d.name, d.benchBaseline.map((b) => b.program)]] : [])),
);

let tcpPort = 0;
const n = (full: number) => String(QUICK ? Math.ceil(full / 5) : full);
/** the workload that hits a family's hooks (a family with a baseline but no workload here is not measured) */
const WORKLOAD = {
  shm: async () => { for (let i = 0; i < (QUICK ? 20 : 100); i++) await fx('shm_maps', []); },
  lock: () => fx('lock_contend', ['-t', '4', '-d', QUICK ? '200' : '1000', '-f', '/var/tmp/v2probe-bench-lock.dat']),
  futex: () => fx('futex_contend', ['-t', '3', '-n', n(200), '-h', '200']),
  pagefault: () => fx('pf_touch', ['-n', n(200_000)]),
  kmem: () => fx('kmem_poll', ['-n', n(200_000)]),
  fsync: () => fx('fsync_loop', ['-f', '/var/tmp/v2probe-bench-fsync.dat', '-n', n(200)]),
  tcp: () => fx('tcp_connect', ['-p', String(tcpPort), '-n', n(2000)]),
  cpufreq: () => new Promise((r) => setTimeout(r, QUICK ? 300 : 1500)),
} satisfies Partial<Record<ProbeName, () => Promise<unknown>>>;
type Family = keyof typeof WORKLOAD;

/** in catalog order: those with a baseline and a workload above */
const FAMILIES = Object.keys(BASE).filter((f): f is Family => f in WORKLOAD);

/** Open an object with these programs' autoload, configured (enabled, 1-in-sampleEvery), attached and drained. */
async function open(object: string, autoload: Record<string, boolean>, sampleEvery = 1, rodata?: Record<string, number>): Promise<Probe> {
  const p = await loadNative().open(object, { autoload, ...(rodata ? { rodata } : {}) });
  p.updateMap('config', Buffer.alloc(4), encodeConfig({ enabled: true, sampleEvery }));
  const res = await p.attach();
  const bad = res.filter((r) => !r.ok);
  if (bad.length) throw new Error(`${object}: ${bad.map((b) => `${b.program}: ${b.error}`).join('; ')}`);
  // drain the ring so it never fills (its cost is the kernel side only; rows are dropped here)
  p.startPolling(() => {}, { batchMs: 50 });
  return p;
}

type Stat = { name: string; runTimeNs: bigint; runCnt: bigint };
function total(stats: Stat[], names?: string[]): { ns: bigint; cnt: bigint } {
  let ns = 0n, cnt = 0n;
  for (const s of stats) if (!names || names.includes(s.name)) { ns += s.runTimeNs; cnt += s.runCnt; }
  return { ns, cnt };
}
const per = (t: { ns: bigint; cnt: bigint }) => (t.cnt > 0n ? Number(t.ns) / Number(t.cnt) : NaN);

/** A family on its first plan, loaded as the collector loads it (planAutoload, no opt-in programs). */
const openFamily = (f: Family, sampleEvery: number) =>
  open(f, planAutoload(ATTACH[f].plans, ATTACH[f].plans[0]), sampleEvery, { v2_wakeup_bytes: WAKEUP_BYTES });
/** The family's empty programs in the baseline object (its other programs keep their default autoload). */
const openBaseline = (f: Family) => open('hookbase', Object.fromEntries(BASE[f].map((p) => [p, true])));

/** One paired run: the family (1-in-every) and its empty programs attached together, the workload once. */
async function paired(f: Family, every: number): Promise<{ calls: bigint; probe: number; empty: number }> {
  const fam = await openFamily(f, every);
  const base = await openBaseline(f);
  try {
    await WORKLOAD[f]();
    const t = total(fam.programStats());
    return { calls: t.cnt, probe: per(t), empty: per(total(base.programStats(), BASE[f])) };
  } finally {
    fam.close();
    base.close();
  }
}

/** the median of the runs that measured something (a run without calls, e.g. no cpufreq event in a VM, is NaN) */
const median = (xs: number[]) => {
  const ok = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return ok.length ? ok[Math.floor(ok.length / 2)] : NaN;
};

/** --row: every family at 1:1, REPS paired runs each, medians (the table of issue 16 item 6). */
async function rowTable() {
  console.log(`the kernel side of a 1:1 row: ns per call (bpf_stats), median of ${REPS} paired runs (family + empty programs on its attach points)${QUICK ? ' (--quick)' : ''}`);
  console.log(`${'family'.padEnd(10)} ${'calls'.padStart(9)} ${'empty ns'.padStart(9)} ${'1:1 ns'.padStart(9)} ${'ratio'.padStart(6)}  ${'runs (ns)'}`);
  for (const f of FAMILIES) {
    const runs = [];
    for (let i = 0; i < REPS; i++) runs.push(await paired(f, 1));
    const probe = median(runs.map((r) => r.probe));
    const empty = median(runs.map((r) => r.empty));
    const calls = median(runs.map((r) => Number(r.calls)));
    console.log(`${f.padEnd(10)} ${String(calls).padStart(9)} ${empty.toFixed(0).padStart(9)} ${probe.toFixed(0).padStart(9)} ${(probe / empty).toFixed(2).padStart(6)}  ${runs.map((r) => r.probe.toFixed(0)).join(' ')}`);
  }
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('bench/probes needs root (BPF)');
  ensureTracefs();
  const oldStats = readFileSync(STATS, 'utf8').trim();
  writeFileSync(STATS, '1');
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  tcpPort = (server.address() as { port: number }).port;
  const rows: string[] = [];
  try {
    if (ROW) {
      await rowTable();
      return;
    }
    console.log(`hook cost, ns per call (bpf_stats), each family next to empty programs on its attach points, same run${QUICK ? ' (--quick)' : ''}`);
    console.log(`${'family'.padEnd(10)} ${'sampling'.padEnd(9)} ${'calls'.padStart(9)} ${'probe ns'.padStart(9)} ${'empty ns'.padStart(9)} ${'ratio'.padStart(6)}`);
    for (const f of FAMILIES) {
      for (const every of [PROBES[f].defaultSampleEvery, 1]) {
        if (every === 1 && PROBES[f].defaultSampleEvery === 1 && rows.some((r) => r.startsWith(f.padEnd(10)))) continue;
        const r = await paired(f, every);
        const line = `${f.padEnd(10)} ${`1:${every}`.padEnd(9)} ${String(r.calls).padStart(9)} ${r.probe.toFixed(0).padStart(9)} ${r.empty.toFixed(0).padStart(9)} ${(r.probe / r.empty).toFixed(2).padStart(6)}`;
        rows.push(line);
        console.log(line);
      }
    }

    // mixed workload: every family at its default sampling, all workloads at once
    const all = await Promise.all(FAMILIES.map((f) => openFamily(f, PROBES[f].defaultSampleEvery)));
    try {
      const t0 = process.hrtime.bigint();
      const s0 = all.map((p) => total(p.programStats()));
      await Promise.all(FAMILIES.map((f) => WORKLOAD[f]()));
      const wallNs = Number(process.hrtime.bigint() - t0);
      let busyNs = 0;
      all.forEach((p, i) => { busyNs += Number(total(p.programStats()).ns - s0[i].ns); });
      const cores = cpus().length;
      console.log(`\nmixed workload (all ${FAMILIES.length} families, default sampling, all fixtures at once): ${(wallNs / 1e9).toFixed(2)} s wall, ` +
        `probes ran ${(busyNs / 1e6).toFixed(1)} ms = ${((100 * busyNs) / wallNs).toFixed(2)} % of one core (${((100 * busyNs) / wallNs / cores).toFixed(2)} % of ${cores} cores)`);
    } finally {
      for (const p of all) p.close();
    }
  } finally {
    server.close();
    writeFileSync(STATS, oldStats);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
