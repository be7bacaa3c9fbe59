/**
 * bench/run-all.ts — `npm run bench`: every benchmark of bench/ in one run, with
 * modest sizes (the whole run takes a few minutes), each as its own process with
 * a time limit, then one report: bench/REPORT.md (Markdown, the machine it ran
 * on, a summary of the key figures side by side, and each benchmark's full
 * output) and bench/report.json (the same, machine-readable).
 *
 *   node dist/bench/run-all.js [--only NAME,NAME] [--out DIR] [--quick]
 * --quick: the benchmarks that have a smoke-test size run with it (seconds
 * instead of minutes), to check the report itself; not for the numbers.
 * --out DIR is created (with its parents) before the first benchmark runs, and
 * the report is rewritten there after every benchmark (marked "in progress"
 * until the last), so a run that is stopped keeps what it measured. Bad
 * arguments (unknown flag, missing value, --only naming no benchmark, an --out
 * that cannot be a directory) exit 2 with one line naming the flag and value.
 *
 * A benchmark this script does not know yet runs with its default arguments.
 * Kafka: $KAFKA_BROKERS, else a broker started with scripts/kafka.sh (stopped
 * after). Needs root for the probe benchmarks (they say so and are reported
 * as failed otherwise). The test fixtures the probe benchmarks drive
 * (build/fixtures/) are built first when missing (make -C test/fixtures).
 * bpftrace-uds installs bpftrace (scripts/bpftrace.sh, apt-get) when it is
 * missing, unless V2PROBE_BENCH_NO_INSTALL=1; without it its bpftrace rows
 * say "bpftrace not installed: skipped".
 * The report starts with the headline figures side by side (taken from each
 * benchmark's output), then each benchmark's key lines and full output.
 */
import { FAMILIES } from '../bpf/families.gen.js';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
/** every family but the bench baseline (bpf/NAME.family.ts): the probes benchmark's lines start with one */
const PROBE_FAMILIES = Object.values(FAMILIES).filter((d) => !('baseline' in d)).map((d) => d.name);
/** where the benchmark scripts are (V2PROBE_BENCH_DIR: another directory of NAME.js scripts, for run-all's own test) */
const DIST = process.env.V2PROBE_BENCH_DIR ? resolve(process.env.V2PROBE_BENCH_DIR) : join(ROOT, 'dist/bench');
const argv = process.argv.slice(2);

/** Bad input: one line naming the flag and the value, exit 2. */
function usage(message: string): never {
  process.stderr.write(`run-all: ${message}\n`);
  process.exit(2);
}
const KNOWN_FLAGS = ['--only', '--out', '--quick'];
for (let i = 0; i < argv.length; i++) {
  if (!KNOWN_FLAGS.includes(argv[i])) usage(`unknown argument '${argv[i]}' (known: --only NAME,NAME, --out DIR, --quick)`);
  if (argv[i] !== '--quick') {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--') || v === '') usage(`${argv[i]}: missing value (${argv[i] === '--out' ? 'a directory for REPORT.md and report.json' : 'benchmark names, comma-separated'})`);
    i++;
  }
}
const flag = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const only = flag('--only')?.split(',').map((n) => n.trim()).filter(Boolean);
const outDir = resolve(flag('--out') ?? join(ROOT, 'bench'));
const QUICK = argv.includes('--quick');

/** --out DIR: created (with its parents) before any benchmark runs; a path that cannot be a directory is bad input. */
function prepareOutDir(dir: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) usage(`--out '${dir}': exists and is not a directory`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    usage(`--out '${dir}': cannot create the directory (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Write a file whole or not at all (temporary file + rename): a killed run never leaves half a report. */
function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

/** Arguments per benchmark (modest sizes), what it measures, and its time limit. */
const PLAN: Record<string, { args: (brokers: string) => string[]; quickArgs?: string[]; what: string; timeoutS: number; needs?: 'kafka' }> = {
  'hook-cost': { args: () => ['20000'], what: 'uds hook ns/call vs empty programs (1:1 and 1:1000), UDS round trips/s with and without', timeoutS: 240 },
  probes: { args: () => ['--quick'], what: 'hook ns/call of every probe family vs empty programs; CPU share of all families under a mixed workload', timeoutS: 300 },
  'store-insert': { args: () => ['100000', '5000'], what: 'chDB insert rows/s per path; bytes/row on disk', timeoutS: 180 },
  pipeline: { args: (b) => [b, '100000', '5000'], what: 'envelope bytes/event and CPU; producer batches/s; ingester rows/s and rows per CPU-second; event → queryable latency', timeoutS: 300, needs: 'kafka' },
  alerts: { args: () => ['1000', '6', '3'], what: 'default rule pack evaluation time over generated data; incident report query time', timeoutS: 240 },
  'go-probes': { args: () => ['200000'], what: 'Go runtime uprobes: slowdown of an allocating program, ns/call; profiler CPU share', timeoutS: 240 },
  explain: { args: () => ['5000', '100'], what: 'explain accounting: round trips/s and p99 with and without, per-hook cost', timeoutS: 240 },
  'bpftrace-uds': { args: () => ['50000', '--reps', '3'], quickArgs: ['10000', '--reps', '1'], what: 'uds probe vs bpftrace doing the same job (bench/uds-latency.bt) on a UDS ping-pong: ns/call from wall time, ns per program run from bpf_stats, tracer CPU', timeoutS: 420 },
  drain: { args: () => ['--step-s', '4', '--rates', '25000,50000,100000,150000,200000,300000'], quickArgs: ['--quick', '--sinks', 'null,stdout'], what: 'collector drain rate: events/s through ring buffer → poll thread → JS → batcher → sink (null, stdout, chdb) without loss, where it saturates, CPU %, RSS', timeoutS: 600 },
};

interface Result {
  name: string;
  what: string;
  args: string[];
  exitCode: number | null;
  seconds: number;
  stdout: string;
  stderr: string;
  json?: unknown;
  skipped?: string;
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return '';
  }
}

function machine() {
  const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return {
    nproc: Number(sh('nproc', [])) || cpus().length,
    cpu: cpuModel.trim(),
    kernel: sh('uname', ['-r']),
    memGiB: +(totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    os: /PRETTY_NAME="([^"]*)"/.exec(existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '')?.[1] ?? '',
    virt: sh('systemd-detect-virt', []) || 'unknown',
    bpftrace: sh('bpftrace', ['--version']) || 'not installed',
    root: process.getuid?.() === 0,
    date: new Date().toISOString(),
  };
}

function run(name: string, args: string[], timeoutS: number): Promise<Omit<Result, 'what'>> {
  return new Promise((res) => {
    const t0 = performance.now();
    const c = spawn(process.execPath, [join(DIST, `${name}.js`), ...args], { cwd: ROOT, env: { ...process.env, V2PROBE_LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => {
      stdout += d;
      process.stdout.write(d);
    });
    c.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\nrun-all: killed after ${timeoutS} s`;
      c.kill('SIGKILL');
    }, timeoutS * 1000);
    c.on('exit', (code) => {
      clearTimeout(timer);
      const jsonLine = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{') && l.endsWith('}'));
      let json: unknown;
      try {
        json = jsonLine ? JSON.parse(jsonLine) : undefined;
      } catch {
        json = undefined;
      }
      res({ name, args, exitCode: code, seconds: +((performance.now() - t0) / 1000).toFixed(1), stdout, stderr: stderr.slice(-4000), json });
    });
  });
}

/** Lines of a benchmark's output that carry the figures the report puts side by side. */
function keyLines(r: Result): string[] {
  const pick: Record<string, RegExp> = {
    'hook-cost': /without v2probe|with v2probe|ns\/call|ns per call|x the empty/i,
    probes: new RegExp(`^(${PROBE_FAMILIES.join('|')})\\s|mixed workload|share`, 'i'),
    'store-insert': /rows\/s|bytes\/row/,
    pipeline: /brotli|gzip|none|producer|ingester|queryable/,
    'go-probes': /fixture|profiler|ns\/call/,
    explain: /without|with explain/,
    'bpftrace-uds': /^(setup|bare|v2probe|bpftrace)|vs bpftrace|not installed|what differs/,
    drain: /^(sink|null|stdout|chdb)\b|follows/,
  };
  const re = pick[r.name];
  const lines = r.stdout.split('\n').filter((l) => l.trim() && !(l.startsWith('{') && l.endsWith('}')));
  return (re ? lines.filter((l) => re.test(l)) : lines).slice(0, r.name === 'drain' ? 48 : 24);
}

/**
 * The figures the issue asks for side by side, taken from each benchmark's
 * output of this run (its JSON line where it prints one, else its text);
 * "—" where a benchmark failed, was skipped or did not print the figure.
 */
function headline(results: Result[]): string[][] {
  const ok = (name: string) => results.find((r) => r.name === name && r.exitCode === 0 && !r.skipped);
  const text = (name: string) => ok(name)?.stdout ?? '';
  const json = <T>(name: string): T | undefined => {
    const r = ok(name);
    if (!r) return undefined;
    if (r.json) return r.json as T;
    try {
      return JSON.parse(r.stdout) as T; // a benchmark that prints one (multi-line) JSON document
    } catch {
      return undefined;
    }
  };
  const m = (name: string, re: RegExp) => re.exec(text(name));
  const rows: string[][] = [];
  const add = (figure: string, value: string | undefined, from: string) => rows.push([figure, value ?? '—', from]);

  for (const every of ['1', '1000']) {
    const h = m('hook-cost', new RegExp(`uds 1:${every}\\s+ns/call: uds ([\\d.]+) vs empty ([\\d.]+) \\(ratio ([\\d.]+)x`));
    add(`uds hook cost per call, sampling 1:${every}, vs empty programs (bpf_stats)`, h ? `${h[1]} ns vs ${h[2]} ns (${h[3]}x)` : undefined, 'hook-cost');
  }
  const fam = text('probes').split('\n').map((l) => /^(\w+)\s+1:(\d+)\s+\d+\s+\d+\s+\d+\s+([\d.]+)$/.exec(l)).filter((x): x is RegExpExecArray => !!x);
  if (fam.length) {
    const ratios = fam.map((f) => Number(f[3]));
    add('other probe families: hook cost vs empty programs (ratio, min–max over families and samplings)', `${Math.min(...ratios).toFixed(2)}x – ${Math.max(...ratios).toFixed(2)}x (${new Set(fam.map((f) => f[1])).size} families)`, 'probes');
  } else add('other probe families: hook cost vs empty programs', undefined, 'probes');
  type BtRow = { nsPerCall: number; progNsPerRun: number | null };
  const bt = json<{ uds_default?: BtRow; uds_1?: BtRow; bpftrace?: BtRow; bpftraceSkipped?: string | null }>('bpftrace-uds');
  const btCell = (x?: BtRow) => (x ? `${x.nsPerCall} ns/call wall, ${x.progNsPerRun ?? '—'} ns per program run` : undefined);
  add('uds probe (default 1:1000) on a UDS ping-pong', btCell(bt?.uds_default), 'bpftrace-uds');
  add('bpftrace doing the same (bench/uds-latency.bt)', bt ? (bt.bpftrace ? btCell(bt.bpftrace) : (bt.bpftraceSkipped ?? 'bpftrace not installed: skipped')) : undefined, 'bpftrace-uds');
  const mixed = m('probes', /mixed workload[^:]*: ([\d.]+) s wall, probes ran ([\d.]+) ms = ([\d.]+) % of one core \(([\d.]+) % of (\d+) cores\)/);
  add('all kernel probe families at default sampling, mixed workload: probe CPU', mixed ? `${mixed[3]} % of one core (${mixed[4]} % of ${mixed[5]} cores)` : undefined, 'probes');
  type DrainSink = { lossFreeTo: number; keepsUpTo: number; saturation: string };
  const drain = json<{ sinks: Record<string, DrainSink> }>('drain');
  for (const sink of ['null', 'stdout', 'chdb']) {
    const d = drain?.sinks?.[sink];
    add(`collector drain rate, ${sink} sink`, d ? `loss-free up to ${d.lossFreeTo} events/s, keeps up (< 1 % lost) up to ${d.keepsUpTo} events/s; ${d.saturation}` : undefined, 'drain');
  }
  const pipe = json<{ ingester?: { rowsPerS: number; rowsPerCpuS: number }; latencyMs?: { p50: number; p99: number }; producer?: { bytesPerEvent: number }; codecs?: Record<string, { bytes: number }> }>('pipeline');
  add('pipeline: ingester rows/s and rows per CPU-second', pipe?.ingester ? `${Math.round(pipe.ingester.rowsPerS)} rows/s, ${Math.round(pipe.ingester.rowsPerCpuS)} rows per CPU-second` : undefined, 'pipeline');
  add('event → queryable latency (p50 / p99)', pipe?.latencyMs ? `${pipe.latencyMs.p50} ms / ${pipe.latencyMs.p99} ms` : undefined, 'pipeline');
  add('bytes per event on the wire (Kafka envelope, brotli)', pipe?.producer ? `${pipe.producer.bytesPerEvent.toFixed(2)} bytes` : undefined, 'pipeline');
  const disk = m('store-insert', /on disk with DDL codecs: ([\d.]+) bytes\/row/);
  add('bytes per event on disk (chDB, DDL codecs)', disk ? `${disk[1]} bytes` : undefined, 'store-insert');
  const al = json<{ rules?: number; round_ms?: { median: number; max: number } }>('alerts');
  add('alert evaluation: one round of the default rule pack (median / max)', al?.round_ms ? `${al.round_ms.median} ms / ${al.round_ms.max} ms (${al.rules} rules)` : undefined, 'alerts');
  return rows;
}

function report(m: ReturnType<typeof machine>, results: Result[], totalS: number): string {
  const out: string[] = [];
  out.push('# v2probe benchmark report', '');
  out.push(`One run of \`npm run bench\` (bench/run-all.ts) on ${m.date.slice(0, 10)}; every figure below comes from this same run.`, '');
  out.push('## Machine', '');
  out.push('| | |', '|---|---|');
  out.push(`| CPUs (nproc) | ${m.nproc} |`, `| CPU model | ${m.cpu} |`, `| kernel | ${m.kernel} |`, `| memory | ${m.memGiB} GiB |`, `| OS | ${m.os} |`, `| virtualization | ${m.virt} |`, `| Node.js | ${m.node} |`, `| bpftrace | ${m.bpftrace} |`, `| root | ${m.root} |`);
  out.push('', `Total wall time: ${totalS.toFixed(0)} s. Shared machine: other work ran at the same time, so treat small differences as noise.`, '');
  out.push('## Headline figures', '');
  out.push('| figure | this run | benchmark |', '|---|---|---|');
  for (const [f, v, b] of headline(results)) out.push(`| ${f} | ${v.replace(/\|/g, '\\|')} | ${b} |`);
  out.push('');
  out.push('## Summary', '');
  out.push('| benchmark | measures | arguments | result | time |', '|---|---|---|---|---|');
  for (const r of results) out.push(`| ${r.name} | ${r.what} | \`${r.args.join(' ')}\` | ${r.skipped ? `skipped: ${r.skipped}` : r.exitCode === 0 ? 'ok' : `FAILED (exit ${r.exitCode})`} | ${r.seconds} s |`);
  out.push('', '## Key figures', '');
  for (const r of results) {
    if (r.skipped) continue;
    out.push(`**${r.name}** — ${m.nproc} CPUs (${m.cpu}), kernel ${m.kernel}, ${m.virt}, Node.js ${m.node}${r.name === 'bpftrace-uds' ? `, ${m.bpftrace}` : ''}`, '', '```', ...(r.exitCode === 0 ? keyLines(r) : [`failed (exit ${r.exitCode}):`, ...r.stderr.trim().split('\n').slice(-6)]), '```', '');
  }
  out.push('## Full output', '');
  for (const r of results) {
    out.push(`### ${r.name}`, '', `\`node dist/bench/${r.name}.js ${r.args.join(' ')}\` — exit ${r.exitCode}, ${r.seconds} s`, '');
    if (r.skipped) out.push(`skipped: ${r.skipped}`, '');
    else out.push('```', r.stdout.trim() || '(no output)', '```', '');
    if (r.exitCode !== 0 && r.stderr.trim()) out.push('stderr (last lines):', '', '```', ...r.stderr.trim().split('\n').slice(-15), '```', '');
  }
  out.push('## Reproduce', '', '```', 'npm run bench                      # builds if needed, runs every benchmark, writes bench/REPORT.md and bench/report.json', 'node dist/bench/run-all.js --only pipeline,alerts   # a subset', 'node dist/bench/run-all.js --quick --out /tmp/r     # smoke sizes, to check the report (not for the numbers)', '```', '');
  if (QUICK) out.splice(2, 0, '**--quick run: smoke-test sizes, not for the numbers.**', '');
  return out.join('\n');
}

async function main() {
  prepareOutDir(outDir);
  const m = machine();
  const available = readdirSync(DIST).filter((f) => f.endsWith('.js') && f !== 'run-all.js').map((f) => f.replace(/\.js$/, ''));
  const unknown = (only ?? []).filter((n) => !available.includes(n));
  if (unknown.length) usage(`--only: no benchmark named ${unknown.map((n) => `'${n}'`).join(', ')} in ${DIST} (known: ${available.sort().join(', ')})`);
  const names = available
    .filter((n) => !only || only.includes(n))
    .sort((a, b) => (Object.keys(PLAN).indexOf(a) + 1 || 99) - (Object.keys(PLAN).indexOf(b) + 1 || 99));
  // the probe benchmarks drive the test fixtures; `npm run bench` builds only the product
  if (!existsSync(join(ROOT, 'build/fixtures/uds_pingpong'))) {
    console.log('run-all: building the test fixtures (make -C test/fixtures)');
    try {
      execFileSync('make', ['-C', join(ROOT, 'test/fixtures')], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
    } catch (err) {
      console.log(`run-all: building the fixtures failed (${(err as Error).message.split('\n')[0]}); the benchmarks that need them will fail`);
    }
  }
  let brokers = process.env.KAFKA_BROKERS ?? '';
  let startedKafka = false;
  const t0 = performance.now();
  const results: Result[] = [];
  /** the report so far: rewritten after every benchmark, so a run that stops (killed, timed out, crashed) keeps what it measured */
  const save = (done: boolean) => {
    const totalS = (performance.now() - t0) / 1000;
    const pending = names.filter((n) => !results.some((r) => r.name === n));
    const md = report(m, results, totalS);
    writeAtomic(join(outDir, 'REPORT.md'), done ? md : md.replace('\n', `\n\n**In progress: ${results.length} of ${names.length} benchmarks done; still to run: ${pending.join(', ')}.**\n`));
    writeAtomic(join(outDir, 'report.json'), JSON.stringify({ machine: m, totalSeconds: +totalS.toFixed(1), complete: done, pending, results: results.map(({ stderr, ...r }) => ({ ...r, stderr: r.exitCode === 0 ? undefined : stderr })) }, null, 2) + '\n');
  };
  save(false);
  for (const name of names) {
    const plan = PLAN[name] ?? { args: () => [], what: '(not described in run-all.ts)', timeoutS: 300 };
    if (plan.needs === 'kafka' && !brokers) {
      try {
        const o = execFileSync('bash', [join(ROOT, 'scripts/kafka.sh'), 'start'], { encoding: 'utf8', timeout: 200_000 });
        brokers = /KAFKA_BROKERS=(\S+)/.exec(o)?.[1] ?? '';
        startedKafka = !!brokers;
      } catch (err) {
        results.push({ name, what: plan.what, args: [], exitCode: null, seconds: 0, stdout: '', stderr: '', skipped: `no Kafka broker (${(err as Error).message.split('\n')[0]})` });
        save(false);
        continue;
      }
    }
    const args = QUICK && plan.quickArgs ? plan.quickArgs : plan.args(brokers);
    console.log(`\n== bench ${name} ${args.join(' ')}`);
    results.push({ ...(await run(name, args, plan.timeoutS)), what: plan.what });
    save(false);
  }
  if (startedKafka) execFileSync('bash', [join(ROOT, 'scripts/kafka.sh'), 'stop'], { stdio: 'ignore', timeout: 60_000 });
  const totalS = (performance.now() - t0) / 1000;
  m.bpftrace = sh('bpftrace', ['--version']) || 'not installed'; // bpftrace-uds may have installed it
  save(true);
  console.log(`\nrun-all: ${results.length} benchmarks in ${totalS.toFixed(0)} s; ${results.filter((r) => r.exitCode !== 0 && !r.skipped).length} failed; wrote ${join(outDir, 'REPORT.md')} and report.json`);
  process.exitCode = results.some((r) => r.exitCode !== 0 && !r.skipped) ? 1 : 0;
}

await main();
