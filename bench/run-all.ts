/**
 * bench/run-all.ts — `npm run bench`: every benchmark of bench/ in one run, with
 * modest sizes (the whole run takes a few minutes), each as its own process with
 * a time limit, then one report: bench/REPORT.md (Markdown, the machine it ran
 * on, a summary of the key figures side by side, and each benchmark's full
 * output) and bench/report.json (the same, machine-readable).
 *
 *   node dist/bench/run-all.js [--only NAME,NAME] [--out DIR]
 *
 * A benchmark this script does not know yet runs with its default arguments.
 * Kafka: $KAFKA_BROKERS, else a broker started with scripts/kafka.sh (stopped
 * after). Needs root for the probe benchmarks (they say so and are reported
 * as failed otherwise).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST = join(ROOT, 'dist/bench');
const argv = process.argv.slice(2);
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1].split(',') : undefined;
const outDir = argv.includes('--out') ? resolve(argv[argv.indexOf('--out') + 1]) : join(ROOT, 'bench');

/** Arguments per benchmark (modest sizes), what it measures, and its time limit. */
const PLAN: Record<string, { args: (brokers: string) => string[]; what: string; timeoutS: number; needs?: 'kafka' }> = {
  'hook-cost': { args: () => ['20000'], what: 'uds hook ns/call vs empty programs (1:1 and 1:1000), UDS round trips/s with and without', timeoutS: 240 },
  probes: { args: () => ['--quick'], what: 'hook ns/call of every probe family vs empty programs; CPU share of all families under a mixed workload', timeoutS: 300 },
  'store-insert': { args: () => ['100000', '5000'], what: 'chDB insert rows/s per path; bytes/row on disk', timeoutS: 180 },
  pipeline: { args: (b) => [b, '100000', '5000'], what: 'envelope bytes/event and CPU; producer batches/s; ingester rows/s and rows per CPU-second; event → queryable latency', timeoutS: 300, needs: 'kafka' },
  alerts: { args: () => ['1000', '6', '3'], what: 'default rule pack evaluation time over generated data; incident report query time', timeoutS: 240 },
  'go-probes': { args: () => ['200000'], what: 'Go runtime uprobes: slowdown of an allocating program, ns/call; profiler CPU share', timeoutS: 240 },
  explain: { args: () => ['5000', '100'], what: 'explain accounting: round trips/s and p99 with and without, per-hook cost', timeoutS: 240 },
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
    probes: /^(uds|sched|blockio|shm|lock|futex|pagefault|kmem|fsync|tcp|cpufreq|rtt)\s|mixed workload|share/i,
    'store-insert': /rows\/s|bytes\/row/,
    pipeline: /brotli|gzip|none|producer|ingester|queryable/,
    'go-probes': /fixture|profiler|ns\/call/,
    explain: /without|with explain/,
  };
  const re = pick[r.name];
  const lines = r.stdout.split('\n').filter((l) => l.trim() && !(l.startsWith('{') && l.endsWith('}')));
  return (re ? lines.filter((l) => re.test(l)) : lines).slice(0, 24);
}

function report(m: ReturnType<typeof machine>, results: Result[], totalS: number): string {
  const out: string[] = [];
  out.push('# v2probe benchmark report', '');
  out.push(`One run of \`npm run bench\` (bench/run-all.ts) on ${m.date.slice(0, 10)}; every figure below comes from this same run.`, '');
  out.push('## Machine', '');
  out.push('| | |', '|---|---|');
  out.push(`| CPUs (nproc) | ${m.nproc} |`, `| CPU model | ${m.cpu} |`, `| kernel | ${m.kernel} |`, `| memory | ${m.memGiB} GiB |`, `| OS | ${m.os} |`, `| virtualization | ${m.virt} |`, `| Node.js | ${m.node} |`, `| bpftrace | ${m.bpftrace} |`, `| root | ${m.root} |`);
  out.push('', `Total wall time: ${totalS.toFixed(0)} s. Shared machine: other work ran at the same time, so treat small differences as noise.`, '');
  out.push('## Summary', '');
  out.push('| benchmark | measures | arguments | result | time |', '|---|---|---|---|---|');
  for (const r of results) out.push(`| ${r.name} | ${r.what} | \`${r.args.join(' ')}\` | ${r.skipped ? `skipped: ${r.skipped}` : r.exitCode === 0 ? 'ok' : `FAILED (exit ${r.exitCode})`} | ${r.seconds} s |`);
  out.push('', '## Key figures', '');
  for (const r of results) {
    if (r.skipped) continue;
    out.push(`**${r.name}**`, '', '```', ...(r.exitCode === 0 ? keyLines(r) : [`failed (exit ${r.exitCode}):`, ...r.stderr.trim().split('\n').slice(-6)]), '```', '');
  }
  out.push('## Full output', '');
  for (const r of results) {
    out.push(`### ${r.name}`, '', `\`node dist/bench/${r.name}.js ${r.args.join(' ')}\` — exit ${r.exitCode}, ${r.seconds} s`, '');
    if (r.skipped) out.push(`skipped: ${r.skipped}`, '');
    else out.push('```', r.stdout.trim() || '(no output)', '```', '');
    if (r.exitCode !== 0 && r.stderr.trim()) out.push('stderr (last lines):', '', '```', ...r.stderr.trim().split('\n').slice(-15), '```', '');
  }
  out.push('## Reproduce', '', '```', 'npm run bench                      # builds if needed, runs every benchmark, writes bench/REPORT.md and bench/report.json', 'node dist/bench/run-all.js --only pipeline,alerts   # a subset', '```', '');
  return out.join('\n');
}

async function main() {
  const m = machine();
  const names = readdirSync(DIST)
    .filter((f) => f.endsWith('.js') && f !== 'run-all.js')
    .map((f) => f.replace(/\.js$/, ''))
    .filter((n) => !only || only.includes(n))
    .sort((a, b) => (Object.keys(PLAN).indexOf(a) + 1 || 99) - (Object.keys(PLAN).indexOf(b) + 1 || 99));
  let brokers = process.env.KAFKA_BROKERS ?? '';
  let startedKafka = false;
  const t0 = performance.now();
  const results: Result[] = [];
  for (const name of names) {
    const plan = PLAN[name] ?? { args: () => [], what: '(not described in run-all.ts)', timeoutS: 300 };
    if (plan.needs === 'kafka' && !brokers) {
      try {
        const o = execFileSync('bash', [join(ROOT, 'scripts/kafka.sh'), 'start'], { encoding: 'utf8', timeout: 200_000 });
        brokers = /KAFKA_BROKERS=(\S+)/.exec(o)?.[1] ?? '';
        startedKafka = !!brokers;
      } catch (err) {
        results.push({ name, what: plan.what, args: [], exitCode: null, seconds: 0, stdout: '', stderr: '', skipped: `no Kafka broker (${(err as Error).message.split('\n')[0]})` });
        continue;
      }
    }
    const args = plan.args(brokers);
    console.log(`\n== bench ${name} ${args.join(' ')}`);
    results.push({ ...(await run(name, args, plan.timeoutS)), what: plan.what });
  }
  if (startedKafka) execFileSync('bash', [join(ROOT, 'scripts/kafka.sh'), 'stop'], { stdio: 'ignore', timeout: 60_000 });
  const totalS = (performance.now() - t0) / 1000;
  writeFileSync(join(outDir, 'REPORT.md'), report(m, results, totalS));
  writeFileSync(join(outDir, 'report.json'), JSON.stringify({ machine: m, totalSeconds: +totalS.toFixed(1), results: results.map(({ stderr, ...r }) => ({ ...r, stderr: r.exitCode === 0 ? undefined : stderr })) }, null, 2) + '\n');
  console.log(`\nrun-all: ${results.length} benchmarks in ${totalS.toFixed(0)} s; ${results.filter((r) => r.exitCode !== 0 && !r.skipped).length} failed; wrote ${join(outDir, 'REPORT.md')} and report.json`);
  process.exitCode = results.some((r) => r.exitCode !== 0 && !r.skipped) ? 1 : 0;
}

await main();
