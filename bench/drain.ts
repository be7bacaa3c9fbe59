/**
 * bench/drain.ts — the collector's drain rate: how many events/s the whole
 * chain (ring buffer -> addon poll thread -> JS decode -> batcher -> sink)
 * sustains without losses, and where it saturates, per sink.
 *   node dist/bench/drain.js [--sinks null,null-rows,stdout,chdb,chdb-rows,kafka,kafka-rows] [--step-s 4] [--rates 25000,50000,...] [--ring-bytes N] [--quick]
 * Root. The collector runs in a child process of its own (this script with
 * --child SINK: the Collector class with the uds probe at sampling 1:1, as
 * `v2probe collect` runs it), pinned to the last CPU; UDS ping-pongs
 * (build/fixtures/uds_pingpong, both ends pinned, one pair per other CPU)
 * generate far more events than it can take. The offered rate is stepped up
 * with the uds probe's own per-CPU token bucket (burst limit, counted as
 * burst_dropped in the kernel, before the ring buffer), then unlimited.
 * Per step: offered events/s (rows the probe tried to put into the ring),
 * delivered to JS and written to the sink per second, lost_ringbuf,
 * lost_userspace, lost_sink, the backlog's growth, the collector's CPU (from
 * /proc/PID/stat and /proc/PID/task/*\/stat: JS main thread vs the others),
 * RSS, and how late the collector answered (event-loop lag).
 * A step is loss-free when nothing was lost and the backlog stayed bounded
 * (grew by at most one batcher batch plus 5 %); the collector keeps up while
 * losses stay under 1 % of what was offered and the backlog stays bounded.
 * The sweep stops at the first step where it does not keep up; when it keeps
 * up at every limit: unlimited, then unlimited with one more ping-pong pair
 * on the collector's own CPU (it then competes with the workload for CPU).
 * The workload runs in a cgroup v2 of its own which the probe follows, so
 * other UDS traffic on the host is not counted.
 * Sinks: null (records taken as they are, nothing decoded), stdout (NDJSON to /dev/null),
 * chdb (a temporary chdb: store, schema applied, removed after: records inserted
 * binary); kafka (a new topic on $KAFKA_BROKERS or scripts/kafka.sh's broker:
 * records as envelope version 2); NAME-rows runs NAME on the row path (decoded to JS rows: before issue 16).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { cgroupId, Collector } from '../collector/collector.js';
import { ensureTracefs } from '../collector/families/kernel.js';
import { ensureTopics } from '../kafka/client.js';
import { openSink } from '../collector/sinks/registry.js';
import type { Sink } from '../collector/sinks/sink.js';
import { StdoutSink } from '../collector/sinks/stdout.js';
import { repoRoot } from '../native/index.js';

const argv = process.argv.slice(2);
const opt = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const QUICK = argv.includes('--quick');
const NCPU = cpus().length;
const COLLECTOR_CPU = NCPU - 1;
const WORK_CPUS = NCPU > 1 ? Array.from({ length: NCPU - 1 }, (_, i) => i) : [0];
const ROOT = repoRoot();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** `setpriv --pdeathsig KILL`: the child dies with this process, even when it is killed with SIGKILL. */
const DIE_WITH_US = existsSync('/usr/bin/setpriv') ? ['setpriv', '--pdeathsig', 'KILL'] : [];

// ---- child: the collector ----------------------------------------------------------------

/** /proc/<pid>/stat utime+stime in seconds (USER_HZ = 100). */
function cpuOf(path: string): number {
  const f = readFileSync(path, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100;
}
function rssMb(pid: number | 'self'): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

async function child(spec: string): Promise<void> {
  ensureTracefs();
  // null: records taken as they are (the binary path, issue 16); null-rows: decoded to rows and discarded (the row path)
  const nullSink: Sink = { name: 'null', writeEvents: async () => {}, writeRecords: async () => {}, writeCounters: async () => {}, writeHistograms: async () => {}, close: async () => {} };
  const rowPath = process.env.DRAIN_ROW_PATH === '1';
  const sink = spec === 'null' ? nullSink : spec === 'stdout' ? new StdoutSink(process.stdout) : await openSink(spec);
  const cgroup = process.env.DRAIN_CGROUP ? cgroupId(process.env.DRAIN_CGROUP) : undefined;
  const ringBytes = process.env.DRAIN_RING_BYTES ? Number(process.env.DRAIN_RING_BYTES) : undefined;
  const c = new Collector({ probes: ['uds'], sink, logger: pino({ level: 'warn' }, pino.destination(2)), perProbe: { uds: { sampleEvery: 1 } }, cgroup, ringBytes, snapshotMs: 5000, rowPath });
  const st = await c.start();
  if (st[0].state !== 'running') throw new Error(`uds: ${st[0].error}`);
  const workCpus = Number(process.env.DRAIN_WORK_CPUS ?? 1);
  const say = (o: object) => process.stderr.write(`DRAIN ${JSON.stringify(o)}\n`);
  const mark = () => {
    const k = c.counters('uds');
    let main = 0;
    let all = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const s = cpuOf(`/proc/self/task/${tid}/stat`);
        all += s;
        if (Number(tid) === process.pid) main = s;
      } catch {
        // thread gone
      }
    }
    const h = c.sinkHealth();
    return { t: performance.now(), cpuS: cpuOf('/proc/self/stat'), mainCpuS: main, threadsCpuS: all, rssMb: rssMb('self'), sinkRows: c.sinkRows, pendingRows: h.pendingRows, ...k };
  };
  say({ ready: true, pid: process.pid, ...mark() });
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === 'rate') {
      const total = Number(arg);
      const perCpu = total > 0 ? Math.max(1, Math.round(total / workCpus)) : 0;
      c.configure('uds', { sampleEvery: 1, burstRate: perCpu, burstSize: perCpu });
      say({ ack: 'rate', rate: total });
    } else if (cmd === 'mark') say({ mark: true, ...mark() });
    else if (cmd === 'stop') break;
  }
  await c.stop();
  await sink.close();
  say({ stopped: true, sinkRows: c.sinkRows });
  process.exit(0);
}

// ---- parent -------------------------------------------------------------------------------

type Mark = Record<string, number> & { t: number; cpuS: number; mainCpuS: number; threadsCpuS: number; rssMb: number; sinkRows: number; pendingRows: number };

class CollectorChild {
  readonly proc: ChildProcess;
  private waiters: Array<(o: Record<string, unknown>) => void> = [];
  private err = '';
  maxRss = 0;
  private rssTimer: NodeJS.Timeout;
  readonly exited: Promise<number | null>;
  constructor(spec: string, rowPath = false) {
    const out = spec === 'stdout' ? openSync('/dev/null', 'w') : 'ignore';
    this.proc = spawn('taskset', ['-c', String(COLLECTOR_CPU), ...DIE_WITH_US, process.execPath, join(ROOT, 'dist/bench/drain.js'), '--child', spec], {
      stdio: ['pipe', out, 'pipe'],
      env: { ...process.env, DRAIN_WORK_CPUS: String(WORK_CPUS.length), DRAIN_CGROUP: cgroupDir ?? '', DRAIN_RING_BYTES: opt('--ring-bytes') ?? '', DRAIN_ROW_PATH: rowPath ? '1' : '' },
    });
    if (typeof out === 'number') closeSync(out);
    this.proc.stdin!.on('error', () => {}); // EPIPE once the child is gone: its exit is what counts
    this.exited = new Promise((r) => this.proc.on('exit', (code) => r(code)));
    createInterface({ input: this.proc.stderr! }).on('line', (l) => {
      if (l.startsWith('DRAIN ')) this.waiters.shift()?.(JSON.parse(l.slice(6)));
      else this.err = (this.err + l + '\n').slice(-4000);
    });
    this.rssTimer = setInterval(() => {
      try {
        this.maxRss = Math.max(this.maxRss, rssMb(this.proc.pid!));
      } catch {
        // not yet exec'd or gone
      }
    }, 250);
  }
  next(timeoutMs = 120_000): Promise<Record<string, unknown>> {
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`collector child did not answer within ${timeoutMs} ms: ${this.err.trim().split('\n').slice(-3).join(' | ')}`)), timeoutMs);
      const onExit = () => rej(new Error(`collector child exited: ${this.err.trim().split('\n').filter((l) => !/^\s+at /.test(l)).slice(-5).join(' | ')}`));
      this.proc.once('exit', onExit);
      this.waiters.push((o) => {
        clearTimeout(timer);
        this.proc.off('exit', onExit);
        res(o);
      });
    });
  }
  async send(cmd: string, timeoutMs = 120_000): Promise<Record<string, unknown> & { lagMs: number }> {
    const t0 = performance.now();
    const p = this.next(timeoutMs);
    this.proc.stdin!.write(cmd + '\n');
    const o = await p;
    return { ...o, lagMs: performance.now() - t0 };
  }
  async stop(): Promise<void> {
    clearInterval(this.rssTimer);
    if (this.proc.killed || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.stdin!.write('stop\n');
    const done = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 60_000).unref())]);
    if (!done) this.proc.kill('SIGKILL');
  }
  kill(): void {
    clearInterval(this.rssTimer);
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

/**
 * The workload runs in a cgroup v2 of its own and the probe follows only that
 * cgroup, so other UDS traffic on the host (other test runs) is not counted.
 * Without a writable cgroup v2 hierarchy the probe follows every process.
 */
const CGROUP_ROOT = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((d) => existsSync(`${d}/cgroup.procs`) && existsSync(`${d}/cgroup.controllers`));
let cgroupDir: string | undefined;

/** Ping-pongs that never end on their own: one pair per CPU given, both ends pinned to it. */
function startWorkload(cpuList: number[]): ChildProcess[] {
  const bin = resolve(ROOT, 'build/fixtures/uds_pingpong');
  const started = cpuList.map((cpu) => {
    const cmd = ['taskset', '-c', String(cpu), ...DIE_WITH_US, bin, '-n', '100000000', '-d', '0', '-m', 'sendmsg'];
    // into the cgroup before the fixture forks its server (which inherits it)
    return cgroupDir ? spawn('sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroupDir, ...cmd], { stdio: 'ignore' }) : spawn(cmd[0], cmd.slice(1), { stdio: 'ignore' });
  });
  workload.push(...started);
  return started;
}
const workload: ChildProcess[] = [];
let current: CollectorChild | undefined;
function cleanup() {
  for (const w of workload) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL'); // the server child has PDEATHSIG
  current?.kill();
  const dir = cgroupDir;
  if (dir) {
    // the killed processes leave the cgroup within a moment
    for (let i = 0; i < 40; i++) {
      try {
        rmdirSync(dir);
        cgroupDir = undefined;
        break;
      } catch {
        execFileSync('sleep', ['0.05']);
      }
    }
  }
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => { cleanup(); process.exit(130); });

interface Step {
  /** rows/s let through by the token bucket (0: unlimited) */
  nominal: number;
  /** unlimited, and one more ping-pong pair on the collector's own CPU */
  shared: boolean;
  seconds: number;
  offered: number;
  generated: number;
  delivered: number;
  written: number;
  lostRingbuf: number;
  lostUserspace: number;
  lostSink: number;
  backlogGrowth: number;
  cpuPct: number;
  mainCpuPct: number;
  otherCpuPct: number;
  rssMb: number;
  lagMs: number;
  /** nothing lost, backlog bounded */
  lossFree: boolean;
  /** losses under 1 % of offered, backlog bounded */
  keepsUp: boolean;
  /** the collector did not answer a status request within MARK_TIMEOUT_MS */
  stalled?: boolean;
}

const MARK_TIMEOUT_MS = 30_000;
const stepLabel = (s: { nominal: number; shared: boolean }) => (s.shared ? 'max+shared' : s.nominal ? String(s.nominal) : 'max');

/**
 * Rows may wait in the batcher up to one batch (50,000 rows or 1 s) plus two
 * native batches (4096 rows each) before a write: the backlog is bounded when
 * it grew by at most that plus 5 % of what was offered.
 */
const allowedGrowth = (offeredPerS: number, dt: number) => Math.min(1.2 * offeredPerS, 50_000 + 2 * 4096) + 0.05 * offeredPerS * dt;

async function measureSink(spec: string, rates: number[], stepS: number): Promise<{ sink: string; steps: Step[]; maxRss: number; error?: string }> {
  let dir: string | undefined;
  // NAME-rows: the same sink on the row path (decode to JS rows), for the before/after of issue 16
  const rowPath = spec.endsWith('-rows');
  let target = rowPath ? spec.slice(0, -'-rows'.length) : spec;
  if (target === 'chdb') {
    dir = mkdtempSync('/var/tmp/v2probe-drain-');
    target = `chdb:${dir}`;
  } else if (target === 'kafka') {
    // a fresh topic on $KAFKA_BROKERS (else scripts/kafka.sh's broker)
    const brokers = process.env.KAFKA_BROKERS ?? execFileSync('bash', ['scripts/kafka.sh', 'brokers'], { encoding: 'utf8' }).trim();
    const topic = `drain-${Date.now().toString(36)}`;
    await ensureTopics([brokers], [{ topic, partitions: 1 }]);
    dir = mkdtempSync('/var/tmp/v2probe-drain-spool-');
    target = `kafka://${brokers}/${topic}?spool=${dir}`;
  }
  const c = (current = new CollectorChild(target, rowPath));
  const steps: Step[] = [];
  const extra: ChildProcess[] = [];
  const print = (s: Step) =>
    console.log(
      `${spec.padEnd(7)} ${stepLabel(s).padStart(10)} ${String(s.offered).padStart(9)} ${String(s.delivered).padStart(9)} ${String(s.written).padStart(9)} ` +
        `${String(s.lostRingbuf).padStart(10)} ${String(s.lostUserspace).padStart(10)} ${String(s.backlogGrowth).padStart(9)} ${`${s.cpuPct}`.padStart(6)} ${`${s.mainCpuPct}/${s.otherCpuPct}`.padStart(11)} ${String(s.rssMb).padStart(6)} ${String(s.lagMs).padStart(6)}  ${s.stalled ? 'stalled' : s.lossFree ? 'loss-free' : s.keepsUp ? 'keeps up' : 'SATURATED'}`,
    );
  try {
    await c.next(180_000); // ready
    // warm-up, not measured: JIT, first allocations, the first chDB parts
    await c.send(`rate ${rates[0] ?? 0}`);
    await sleep(3000);
    const backlog = (m: Mark) => m.sampled - m.lost_userspace - m.sinkRows - m.lost_sink;
    const plan = rates.map((nominal) => ({ nominal, shared: false }));
    for (let i = 0; i < plan.length; i++) {
      const { nominal, shared } = plan[i];
      if (shared) extra.push(...startWorkload([COLLECTOR_CPU]));
      await c.send(`rate ${nominal}`);
      await sleep(1000); // settle: the bucket refills, the previous step's batches land
      const m0 = (await c.send('mark', MARK_TIMEOUT_MS).catch(() => undefined)) as (Mark & { lagMs: number }) | undefined;
      if (m0) await sleep(stepS * 1000);
      const m1 = m0 && ((await c.send('mark', MARK_TIMEOUT_MS).catch(() => undefined)) as (Mark & { lagMs: number }) | undefined);
      if (!m0 || !m1) {
        const s = { nominal, shared, seconds: 0, offered: 0, generated: 0, delivered: 0, written: 0, lostRingbuf: 0, lostUserspace: 0, lostSink: 0, backlogGrowth: 0, cpuPct: 0, mainCpuPct: 0, otherCpuPct: 0, rssMb: +c.maxRss.toFixed(0), lagMs: MARK_TIMEOUT_MS, lossFree: false, keepsUp: false, stalled: true };
        steps.push(s);
        print(s);
        c.kill();
        break;
      }
      const dt = (m1.t - m0.t) / 1000;
      const d = (k: string) => (m1[k] ?? 0) - (m0[k] ?? 0);
      const s: Step = {
        nominal,
        shared,
        seconds: +dt.toFixed(2),
        offered: Math.round((d('sampled') + d('lost_ringbuf')) / dt),
        generated: Math.round(d('seen') / dt),
        delivered: Math.round(d('delivered') / dt),
        written: Math.round(d('sinkRows') / dt),
        lostRingbuf: d('lost_ringbuf'),
        lostUserspace: d('lost_userspace'),
        lostSink: d('lost_sink'),
        backlogGrowth: backlog(m1) - backlog(m0),
        cpuPct: +((100 * d('cpuS')) / dt).toFixed(1),
        mainCpuPct: +((100 * d('mainCpuS')) / dt).toFixed(1),
        otherCpuPct: +((100 * (d('threadsCpuS') - d('mainCpuS'))) / dt).toFixed(1),
        rssMb: +m1.rssMb.toFixed(0),
        lagMs: Math.round(Math.max(m0.lagMs, m1.lagMs)),
        lossFree: false,
        keepsUp: false,
      };
      const lost = s.lostRingbuf + s.lostUserspace + s.lostSink;
      const bounded = s.backlogGrowth <= allowedGrowth(s.offered, dt);
      s.lossFree = lost === 0 && bounded;
      s.keepsUp = lost <= 0.01 * s.offered * dt && bounded;
      steps.push(s);
      print(s);
      // past the first saturated step the sweep stops (a sink that falls behind only piles rows up);
      // when nothing saturated, the workload's maximum, then the same with the collector's CPU shared
      if (!s.keepsUp) break;
      if (i === plan.length - 1 && !shared) {
        if (nominal !== 0) plan.push({ nominal: 0, shared: false });
        else if (NCPU > 1) plan.push({ nominal: 0, shared: true });
      }
    }
    for (const w of extra) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL'); // before the collector has to stop
    await c.stop();
    return { sink: spec, steps, maxRss: +c.maxRss.toFixed(0) };
  } catch (err) {
    c.kill();
    console.log(`${spec.padEnd(7)} FAILED: ${(err as Error).message}`);
    return { sink: spec, steps, maxRss: +c.maxRss.toFixed(0), error: (err as Error).message };
  } finally {
    for (const w of extra) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    current = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

async function parent(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/drain needs root (BPF)');
  if (!existsSync(resolve(ROOT, 'build/fixtures/uds_pingpong'))) throw new Error('build/fixtures/uds_pingpong is missing: make -C test/fixtures');
  const sinks = (opt('--sinks') ?? 'null,stdout,chdb').split(',');
  const stepS = Number(opt('--step-s') ?? (QUICK ? 2 : 4));
  const rates = (opt('--rates') ?? (QUICK ? '50000,100000,200000' : '25000,50000,75000,100000,150000,200000,250000,300000')).split(',').map(Number);
  console.log(`drain: uds probe at 1:1 -> ring buffer (${opt('--ring-bytes') ? `${Number(opt('--ring-bytes')) / 1024} KiB` : '256 KiB, the default'}) -> poll thread -> JS decode -> batcher -> sink; collector pinned to CPU ${COLLECTOR_CPU}, ` +
    `${WORK_CPUS.length} UDS ping-pong pair(s) pinned to CPU ${WORK_CPUS.join(',')}; offered rate stepped with the probe's token bucket; ${stepS} s per step; kernel ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}`);
  console.log(`${'sink'.padEnd(7)} ${'limit/s'.padStart(10)} ${'offered/s'.padStart(9)} ${'to JS/s'.padStart(9)} ${'written/s'.padStart(9)} ${'lost_ring'.padStart(10)} ${'lost_user'.padStart(10)} ${'backlog+'.padStart(9)} ${'CPU %'.padStart(6)} ${'main/other'.padStart(11)} ${'RSS MB'.padStart(6)} ${'lag ms'.padStart(6)}  result`);
  if (CGROUP_ROOT) {
    cgroupDir = `${CGROUP_ROOT}/v2probe-drain-${process.pid}`;
    try {
      mkdirSync(cgroupDir);
    } catch {
      cgroupDir = undefined;
    }
  }
  console.log(`  the probe follows ${cgroupDir ? `only the workload's cgroup (${cgroupDir})` : 'every process (no writable cgroup v2 here: other UDS traffic on the host counts too)'}`);
  startWorkload(WORK_CPUS);
  await sleep(500);
  const results = [];
  try {
    for (const s of sinks) results.push(await measureSink(s, [...rates], stepS));
  } finally {
    cleanup();
  }
  console.log('');
  const summary: Record<string, unknown> = { collectorCpu: COLLECTOR_CPU, workCpus: WORK_CPUS, stepS, sinks: {} };
  for (const r of results) {
    // loss-free up to: the highest offered rate with every step up to it loss-free
    let lossFreeTo = 0;
    for (const st of r.steps) {
      if (!st.lossFree) break;
      lossFreeTo = Math.max(lossFreeTo, st.offered);
    }
    const firstLoss = r.steps.find((st) => !st.lossFree);
    const sat = r.steps.find((st) => !st.keepsUp);
    const keepsUpTo = Math.max(0, ...r.steps.filter((st) => st.keepsUp).map((st) => st.offered));
    const losses = (st: Step) =>
      [
        st.lostRingbuf ? `lost_ringbuf ${st.lostRingbuf} (ring buffer full: the poll thread fell behind)` : '',
        st.lostUserspace ? `lost_userspace ${st.lostUserspace} (JS fell behind: the addon's queue of batches was full)` : '',
        st.lostSink ? `lost_sink ${st.lostSink} (the sink fell behind)` : '',
        st.backlogGrowth > allowedGrowth(st.offered, st.seconds) ? `backlog grew by ${st.backlogGrowth} rows in ${st.seconds} s (the sink writes ${st.written}/s)` : '',
      ]
        .filter(Boolean)
        .join(', ');
    let why: string;
    if (!sat) why = `keeps up at the workload's maximum (${Math.max(0, ...r.steps.map((st) => st.offered))} events/s offered)`;
    else if (sat.stalled) why = `at limit ${stepLabel(sat)} the collector did not answer for ${MARK_TIMEOUT_MS / 1000} s (event loop busy), RSS ${r.maxRss} MB`;
    else why = `saturates at ${sat.offered} events/s offered (limit ${stepLabel(sat)}): ${losses(sat)}; collector CPU ${sat.cpuPct} % of one core (JS main thread ${sat.mainCpuPct} %), RSS ${sat.rssMb} MB`;
    const firstLossText = firstLoss && firstLoss !== sat && !firstLoss.stalled ? `; first loss at ${firstLoss.offered} events/s: ${losses(firstLoss)}` : '';
    console.log(`${r.sink}: loss-free up to ${lossFreeTo} events/s; keeps up (< 1 % lost) up to ${keepsUpTo} events/s; ${why}${firstLossText}; max RSS ${r.maxRss} MB${r.error ? `; FAILED: ${r.error}` : ''}`);
    (summary.sinks as Record<string, unknown>)[r.sink] = { lossFreeTo, keepsUpTo, saturation: why, firstLoss: firstLoss ? losses(firstLoss) || 'stalled' : null, maxRssMb: r.maxRss, steps: r.steps, error: r.error };
  }
  console.log('  offered: rows the probe tried to put into the ring buffer (sampled + lost_ringbuf) per s; to JS: rows the addon handed to JavaScript; written: rows the sink accepted');
  console.log('  backlog+: growth of rows taken from the ring but not yet written (native queue + batcher); CPU: the collector process, % of one core (main = JS thread, other = poll thread, GC, libuv, chDB)');
  console.log('  lag: how late the collector answered a status request (its event loop was busy); max+shared: no limit, and one more ping-pong pair on the collector\'s CPU');
  console.log(JSON.stringify(summary));
  if (results.some((r) => r.error)) process.exitCode = 1;
}

if (argv[0] === '--child') {
  child(argv[1]).catch((e) => {
    process.stderr.write(`drain child failed: ${(e as Error).message}\n${(e as Error).stack}\n`);
    process.exit(1);
  });
} else {
  parent().catch((e) => {
    cleanup();
    console.error(e);
    process.exit(1);
  });
}
