/**
 * collector/collector.ts — one host's collector: opens the requested probe
 * families through the native addon, configures sampling and filters, receives
 * batches from the ring-buffer thread, decodes them, batches rows to a sink,
 * and snapshots the exact counters and histograms every `snapshotMs`.
 * A probe that cannot attach is reported and the others keep running.
 *
 * With `explain`, the rtt family runs too (explain/session.ts): round
 * trips to the named brokers are joined into breakdowns continuously, counted
 * into histograms for /metrics (explain/histograms.ts) and, when the sink
 * takes them, batched to it as v2e.rtt_breakdown rows (retried like events;
 * rows dropped or given up on are counted as the rtt probe's lost_sink).
 */
import { hostname } from 'node:os';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Logger } from 'pino';
import {
  COMMON_COUNTERS,
  encodeConfig,
  HIST_SLOTS,
  MAX_COUNTERS,
  PROBES,
  RECORD_SIZE,
  type CounterRow,
  type EventRow,
  type HistogramRow,
  type ProbeDef,
  type ProbeName,
} from '../schema/event.js';
import { loadNative, type Probe as NativeProbe } from '../native/index.js';
import { Batcher, DEFAULT_BATCH, EVENT_ROW_BYTES, type BatcherOptions } from './pipeline/batcher.js';
import { decodeBatch, tallyBatch } from './pipeline/decode.js';
import { decodeKeyedCounts, monoToWallOffset, sumPerCpu, type KeyedCount } from './maps.js';
import { attachUprobeResults, type UprobeTargets } from '../uprobes/attach.js';
import { familyCounterRows } from './families/go-stats.js';
import { ATTACH, planAutoload, type AttachPlan } from './families/plans.js';
import type { BreakdownRow, Sink } from './sinks/sink.js';
import type { Breakdown } from '../explain/breakdown.js';
import { RttSession } from '../explain/session.js';
import { TripHistograms } from '../explain/histograms.js';
import { KernelError } from './errors.js';

export interface ProbeOptions {
  sampleEvery?: number;
  pid?: number;
  comm?: string;
  /** ns: events at least this long are always sampled (0: off) */
  minValue?: number;
  /** cgroup v2 id (inode number of the cgroup directory, see cgroupId()); 0: every cgroup */
  cgroup?: number;
  /** per-CPU token bucket for sampled rows: rows/s (0: off) and depth (default = rate) */
  burstRate?: number;
  burstSize?: number;
}

export interface CollectorOptions {
  probes: ProbeName[];
  sink: Sink;
  logger: Logger;
  host?: string;
  /** per-probe options; `pid`/`comm` given at the top apply to all */
  perProbe?: Partial<Record<ProbeName, ProbeOptions>>;
  pid?: number;
  comm?: string;
  /** cgroup filter for every probe (cgroup v2 id) */
  cgroup?: number;
  ringBytes?: number;
  snapshotMs?: number;
  /**
   * batching to the sink; `maxPendingBytes` bounds what waits for it (event
   * rows pending and in batches not yet written; with --explain, breakdown
   * rows get an eighth of it): beyond it rows are dropped as lost_sink
   */
  batch?: Partial<BatcherOptions>;
  /** at stop, how long to keep retrying a failing sink before counting the rows as lost_sink (default 10 s) */
  closeDeadlineMs?: number;
  /** opt-in programs of the attach plans, e.g. { udsReadWrite: true } (uds also hooks read/write) */
  optIn?: Record<string, boolean>;
  /** ring-buffer bytes waiting before the reader is woken (default ring/8; 0: wake for every row) */
  wakeupBytes?: number;
  /** how long an exited process's per-process counts stay in the kernel maps (default 30 s) */
  exitGraceMs?: number;
  /**
   * native batch hand-off tuning. `queueBytes` bounds the batches the
   * ring-buffer threads have handed over and the JS thread has not taken yet,
   * over all probes (default NATIVE_QUEUE_BYTES); beyond it a batch is
   * dropped and counted as lost_userspace. `maxQueuedBatches` overrides the
   * per-probe count derived from it.
   */
  poll?: { batchRecords?: number; batchMs?: number; maxQueuedBatches?: number; queueBytes?: number };
  /** uprobe families (go_*, app): the binaries and processes to attach to */
  targets?: UprobeTargets;
  /** explain round trips to these brokers (the rtt family) */
  explain?: ExplainOptions;
}

export interface ExplainOptions {
  /** broker processes by comm (exact), re-scanned while running */
  comms: string[];
  /** 1-in-N client requests carry a breakdown (default 100) */
  sampleEvery?: number;
  /** Go brokers: uprobe runtime.gopark for blocked stacks (a uprobe hit per goroutine park; default off in the collector) */
  goStacks?: boolean;
  /** how often brokers are looked for (default 1 s) */
  rescanMs?: number;
}

/** What the collector knows of the round trips it explains (read by /metrics and the status). */
export interface RttStats {
  comms: string[];
  hist: TripHistograms;
  /** trips given up on (records missing or unjoinable), over every session */
  incomplete: number;
  /** breakdown rows the sink accepted, and those dropped or given up on */
  rowsWritten: number;
  rowsLost: number;
  /** does the sink take breakdown rows (store, stdout) or only /metrics (Kafka) */
  rowsToSink: boolean;
  /** broker processes being explained now, per comm */
  brokers: Record<string, number>;
}

export type ProbeState = 'starting' | 'running' | 'failed' | 'stopped';

export interface ProbeStatus {
  probe: ProbeName;
  state: ProbeState;
  attach?: string;
  error?: string;
  attachErrors: string[];
  /** e.g. cpufreq: "frequency transitions: not available here (...)" */
  notes?: string[];
  counters: Record<string, number>;
}

interface Running {
  name: ProbeName;
  def: ProbeDef;
  native?: NativeProbe;
  plan?: AttachPlan;
  state: ProbeState;
  error?: string;
  attachErrors: string[];
  /** previous cumulative values for deltas: counter key → value */
  last: Map<string, number>;
  lastHist: Map<string, number[]>;
  decodeRejected: number;
  /** the rtt family: its session (brokers, joiner); `native` is its BPF object */
  rtt?: RttSession;
  /** the native reader's weight still to carry when its object was closed */
  closedPendingWeight?: number;
}

type RttRow = BreakdownRow & { probe: 'rtt' };

/**
 * Default bound on batches waiting between the ring-buffer threads and the JS
 * thread, all probes together: split evenly between the probes (at least two
 * batches each), each batch counted at its full capacity (batchRecords x
 * RECORD_SIZE, 256 KiB by default). 16 MiB is 64 such batches: with one probe,
 * what the queue held before it was bounded by bytes; ~2 s of rows at 120k/s.
 */
export const NATIVE_QUEUE_BYTES = 16 << 20;

/** Memory of a breakdown row while it waits: ~22 fields (estimated like EVENT_ROW_BYTES) and its stack text. */
const rttRowBytes = (r: RttRow) => 2 * EVENT_ROW_BYTES + r.blocked_stack.length;

function comm(pid: number, cache: Map<number, string>): string {
  let c = cache.get(pid);
  if (c === undefined) {
    try {
      c = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      c = '';
    }
    cache.set(pid, c);
  }
  return c;
}

/** The cgroup v2 id of a cgroup directory (what bpf_get_current_cgroup_id returns): its inode number. */
export function cgroupId(path: string): number {
  return Number(statSync(path).ino);
}


const nowNs = () => (BigInt(Date.now()) * 1_000_000n).toString();

export class Collector {
  readonly host: string;
  private readonly probes: Running[];
  private readonly events: Batcher<EventRow>;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private readonly commCache = new Map<number, string>();
  private monoToWall = monoToWallOffset();
  private stopped = false;
  private snapshotting: Promise<void> = Promise.resolve();
  receivedRecords = 0;
  /** per-process map entries deleted after their process exited */
  prunedEntries = 0;
  /** counter/histogram snapshots the sink refused (their increase is carried to the next) */
  snapshotFailures = 0;
  private snapshotError: string | undefined;
  private readonly goneSince = new Map<number, number>();
  /** --explain: breakdown histograms, rows on their way to the sink, incomplete trips of closed sessions */
  private readonly rttHist = new TripHistograms();
  private readonly rttRows: Batcher<RttRow> | undefined;
  private rttIncompleteClosed = 0;

  constructor(private readonly opts: CollectorOptions) {
    this.host = opts.host ?? hostname();
    const names = opts.explain && !opts.probes.includes('rtt') ? [...opts.probes, 'rtt' as const] : opts.probes;
    // the rtt family's rate lives where `ctl sample rtt N` / configure() keep every probe's
    if (opts.explain?.sampleEvery !== undefined && opts.perProbe?.rtt?.sampleEvery === undefined) opts.perProbe = { ...opts.perProbe, rtt: { ...opts.perProbe?.rtt, sampleEvery: opts.explain.sampleEvery } };
    this.probes = names.map((name) => ({
      name,
      def: PROBES[name] as ProbeDef,
      state: 'starting' as ProbeState,
      attachErrors: [],
      last: new Map(),
      lastHist: new Map(),
      decodeRejected: 0,
    }));
    const batch = { ...DEFAULT_BATCH, ...opts.batch };
    const rttShare = opts.explain && opts.sink.writeBreakdowns ? Math.floor(batch.maxPendingBytes / 8) : 0;
    this.events = new Batcher<EventRow>(
      (rows) => opts.sink.writeEvents(rows),
      { ...batch, maxPendingBytes: batch.maxPendingBytes - rttShare },
      (err, n, attempt) => {
        // one line when the outage starts, then every 10th attempt (the backoff caps at 10 s)
        if (attempt === 1 || attempt % 10 === 0) opts.logger.error({ err: err.message, rows: n, attempt, sink: opts.sink.name }, 'sink write failed; retrying with backoff (rows wait in memory, bounded)');
      },
      (downMs) => opts.logger.info({ sink: opts.sink.name, downMs }, 'sink is back; caught up'),
    );
    const sink = opts.sink;
    if (opts.explain && sink.writeBreakdowns) {
      this.rttRows = new Batcher<RttRow>(
        (rows) => sink.writeBreakdowns!(rows.map(({ probe: _, ...r }) => r)),
        { ...batch, maxPendingBytes: rttShare, rowBytes: rttRowBytes },
        (err, n, attempt) => {
          if (attempt === 1 || attempt % 10 === 0) opts.logger.error({ err: err.message, rows: n, attempt, sink: sink.name, table: 'rtt_breakdown' }, 'sink write of breakdown rows failed; retrying with backoff');
        },
      );
    }
  }

  /** Open, configure, attach and start every probe. Rejects only when none could start. */
  async start(): Promise<ProbeStatus[]> {
    const native = loadNative();
    await Promise.all(this.probes.map((p) => this.startProbe(native, p)));
    const running = this.probes.filter((p) => p.state === 'running');
    if (running.length === 0) {
      const why = this.probes.map((p) => `${p.name}: ${p.error}`).join('; ');
      await this.stop();
      throw new KernelError('ATTACH', `no probe could start: ${why}`);
    }
    const every = this.opts.snapshotMs ?? 1000;
    this.snapshotTimer = setInterval(() => {
      this.snapshotting = this.snapshotting.then(() => this.snapshot()).catch((err) => this.opts.logger.error({ err: (err as Error).message }, 'snapshot failed'));
    }, every);
    return this.status();
  }

  /** The options a probe runs with now (sampling, filters). */
  probeOptionsOf(name: ProbeName): ProbeOptions | undefined {
    const p = this.probes.find((x) => x.name === name);
    return p ? this.probeOptions(p) : undefined;
  }

  private probeOptions(p: Running): ProbeOptions {
    const o = this.opts.perProbe?.[p.name] ?? {};
    return {
      sampleEvery: o.sampleEvery ?? p.def.defaultSampleEvery,
      pid: o.pid ?? this.opts.pid,
      comm: o.comm ?? this.opts.comm,
      minValue: o.minValue ?? 0,
      cgroup: o.cgroup ?? this.opts.cgroup,
      burstRate: o.burstRate,
      burstSize: o.burstSize,
    };
  }

  private async startProbe(native: ReturnType<typeof loadNative>, p: Running): Promise<void> {
    if (p.name === 'rtt') return this.startRtt(p);
    const fam = ATTACH[p.name];
    const log = this.opts.logger.child({ probe: p.name });
    for (const plan of fam.plans) {
      if (plan.programs.length === 0) {
        p.attachErrors.push(`${plan.label}: not available`);
        continue;
      }
      let probe: NativeProbe | undefined;
      try {
        probe = await this.openObject(native, fam.object, planAutoload(fam.plans, plan, this.opts.optIn));
        probe.updateMap('config', Buffer.alloc(4), encodeConfig({ enabled: true, ...this.probeOptions(p) }));
        const results = plan.kind === 'uprobe' ? await attachUprobeResults(probe, p.name, plan, this.opts.targets ?? {}) : await probe.attach();
        const failed = results.filter((r) => !r.ok);
        if (failed.length > 0) throw new KernelError('ATTACH', failed.map((f) => f.error).join('; '));
        p.native = probe;
        p.plan = plan;
        p.state = 'running';
        probe.startPolling((batch, records) => this.onBatch(p, batch, records), this.pollOptions());
        log.info({ attach: plan.label }, 'probe attached');
        return;
      } catch (err) {
        probe?.close();
        const msg = (err as Error).message;
        p.attachErrors.push(`${plan.label}: ${msg}`);
        log.warn({ attach: plan.label, err: msg }, 'attach plan failed, trying the next');
      }
    }
    p.state = 'failed';
    p.error = p.attachErrors.join(' | ');
    log.error({ err: p.error }, 'probe could not attach');
  }

  /** The rtt family: one session for the collector, its brokers by comm (--explain). */
  private async startRtt(p: Running): Promise<void> {
    const log = this.opts.logger.child({ probe: p.name });
    const ex = this.opts.explain;
    const label = ATTACH.rtt.plans[0].label;
    if (!ex?.comms.length) {
      p.state = 'failed';
      p.error = 'rtt explains round trips to brokers: start the collector with --explain COMM[,COMM]';
      p.attachErrors.push(p.error);
      log.error({ err: p.error }, 'probe could not attach');
      return;
    }
    try {
      const s = await RttSession.open({
        comms: ex.comms,
        sampleEvery: this.opts.perProbe?.rtt?.sampleEvery ?? ex.sampleEvery ?? PROBES.rtt.defaultSampleEvery,
        goStacks: ex.goStacks === true,
        rescanMs: ex.rescanMs ?? 1000,
        onTrips: (trips) => this.onTrips(trips),
      });
      p.rtt = s;
      p.native = s.probe;
      p.plan = s.plan;
      p.state = 'running';
      log.info({ attach: label, comms: ex.comms, brokers: [...s.live.keys()] }, 'probe attached');
    } catch (err) {
      const msg = (err as Error).message;
      p.attachErrors.push(`${label}: ${msg}`);
      p.state = 'failed';
      p.error = p.attachErrors.join(' | ');
      log.error({ err: p.error }, 'probe could not attach');
    }
  }

  /** Joined breakdowns: into the histograms, and to the sink when it takes them. */
  private onTrips(trips: Breakdown[]): void {
    for (const b of trips) this.rttHist.observe(b);
    this.rttRows?.add(trips.map((b) => ({ ...b, host: this.host, probe: 'rtt' as const })));
  }

  /** Stop an rtt session: detach, take the last batch, join what can be, free it. */
  private async closeRtt(p: Running, handOffMs: number): Promise<void> {
    const s = p.rtt!;
    await s.detach();
    await new Promise((r) => setTimeout(r, handOffMs));
    s.finish();
    this.rttIncompleteClosed += s.incomplete;
    s.close();
    p.rtt = undefined;
  }

  /** The explained round trips so far (undefined without --explain). */
  rttStats(): RttStats | undefined {
    if (!this.opts.explain) return undefined;
    const s = this.probes.find((x) => x.name === 'rtt')?.rtt;
    const brokers: Record<string, number> = Object.fromEntries(this.opts.explain.comms.map((c) => [c, 0]));
    for (const c of s?.live.values() ?? []) brokers[c] = (brokers[c] ?? 0) + 1;
    return {
      comms: this.opts.explain.comms,
      hist: this.rttHist,
      incomplete: this.rttIncompleteClosed + (s?.incomplete ?? 0),
      rowsWritten: this.rttRows?.sentRows ?? 0,
      rowsLost: (this.rttRows?.dropped.get('rtt') ?? 0) + (this.rttRows?.failed.get('rtt') ?? 0),
      rowsToSink: this.rttRows !== undefined,
      brokers,
    };
  }

  /**
   * Open a family's object. Rows are submitted without waking the reader until
   * `wakeupBytes` are waiting (default: an eighth of the ring); the reader also
   * polls every 50 ms, so a quiet probe's rows still arrive. This saves an
   * irq_work + wakeup per sampled row. Objects without the option open as built.
   */
  private async openObject(native: ReturnType<typeof loadNative>, object: string, autoload: Record<string, boolean>): Promise<NativeProbe> {
    const ring = this.opts.ringBytes ?? 256 * 1024;
    const wakeup = this.opts.wakeupBytes ?? Math.max(64, Math.floor(ring / 32));
    if (wakeup > 0) {
      try {
        return await native.open(object, { ringBytes: this.opts.ringBytes, autoload, rodata: { v2_wakeup_bytes: wakeup } });
      } catch (err) {
        if (!/no load-time option/.test((err as Error).message)) throw err;
      }
    }
    return native.open(object, { ringBytes: this.opts.ringBytes, autoload });
  }

  /** The native hand-off of a probe: its share of the byte bound on batches waiting for the JS thread. */
  private pollOptions(): { batchRecords?: number; batchMs?: number; maxQueuedBatches: number; carryWeight: boolean } {
    const { queueBytes = NATIVE_QUEUE_BYTES, maxQueuedBatches, ...rest } = this.opts.poll ?? {};
    const batchBytes = (rest.batchRecords ?? 4096) * RECORD_SIZE;
    const share = queueBytes / Math.max(1, this.probes.filter((p) => p.name !== 'rtt').length);
    return { ...rest, maxQueuedBatches: maxQueuedBatches ?? Math.max(2, Math.floor(share / batchBytes)), carryWeight: true };
  }

  private onBatch(p: Running, batch: Buffer, records: number): void {
    this.receivedRecords += records;
    if (!this.events.hasRoom(EVENT_ROW_BYTES)) {
      // nothing more may wait: count the batch's rows as dropped (weights
      // carried) without building rows that would only be dropped
      const t = tallyBatch(batch);
      p.decodeRejected += t.rejected;
      for (const [probe, r] of t.rows) this.events.drop(probe, r.rows, r.weights);
      return;
    }
    const { rows, rejected } = decodeBatch(batch, { host: this.host, monoToWallNs: this.monoToWall });
    p.decodeRejected += rejected;
    this.events.add(rows);
  }

  /**
   * Enable (attach) or disable (detach) a probe family at run time. Disabling
   * takes a last snapshot of it, then frees its BPF object; enabling opens and
   * attaches it again (counters start from zero; deltas restart cleanly).
   * Probes not given to the constructor can be enabled too.
   */
  async setEnabled(name: ProbeName, enabled: boolean): Promise<ProbeStatus> {
    if (this.stopped) throw new KernelError('NOT_RUNNING', 'collector is stopped');
    let p = this.probes.find((x) => x.name === name);
    if (enabled) {
      if (!p) {
        p = { name, def: PROBES[name] as ProbeDef, state: 'starting', attachErrors: [], last: new Map(), lastHist: new Map(), decodeRejected: 0 };
        this.probes.push(p);
      }
      if (!p.native) {
        p.state = 'starting';
        p.error = undefined;
        p.attachErrors = [];
        p.last.clear();
        p.lastHist.clear();
        await this.startProbe(loadNative(), p);
      }
    } else if (p?.native) {
      await this.snapshotting;
      await this.snapshot();
      if (p.rtt) await this.closeRtt(p, 150);
      else {
        p.native.close();
        p.closedPendingWeight = p.native.stats().pendingWeight ?? 0;
      }
      p.native = undefined;
      p.plan = undefined;
      p.state = 'stopped';
    }
    return this.status().find((s) => s.probe === name)!;
  }

  /** Change a running probe's options (sample rate, filters) without reloading. */
  configure(name: ProbeName, o: ProbeOptions): void {
    const p = this.probes.find((x) => x.name === name);
    if (!p?.native) throw new KernelError('NOT_RUNNING', `probe ${name} is not running`);
    const cur = { ...this.probeOptions(p), ...o };
    this.opts.perProbe = { ...this.opts.perProbe, [name]: cur };
    p.native.updateMap('config', Buffer.alloc(4), encodeConfig({ enabled: true, ...cur }));
  }

  /**
   * Weight of rows the collector dropped (native queue full, too much waiting
   * for the sink) that no kept row has carried yet: it goes to the next row of
   * the same probe and event. With the kernel's pending sample_skip, sum(weight)
   * of the rows written + this = seen.
   */
  pendingWeight(name: ProbeName): number {
    const p = this.probes.find((x) => x.name === name);
    if (!p || p.rtt) return 0;
    return (p.native ? (p.native.stats().pendingWeight ?? 0) : (p.closedPendingWeight ?? 0)) + this.events.carriedWeight(name);
  }

  /** Exact counters of a probe: common + family + userspace drops, summed over CPUs. */
  counters(name: ProbeName): Record<string, number> {
    const p = this.probes.find((x) => x.name === name);
    if (!p?.native) return {};
    return this.readCounters(p);
  }

  private readCounters(p: Running): Record<string, number> {
    const m = p.native!.readMap('counters');
    const vals = sumPerCpu(m, MAX_COUNTERS);
    const out: Record<string, number> = {};
    for (const [n, slot] of Object.entries(COMMON_COUNTERS)) out[n] = vals[slot];
    for (const [n, slot] of Object.entries(p.def.counters)) out[n] = vals[slot];
    const s = p.native!.stats();
    out.delivered = s.deliveredRecords;
    out.lost_userspace = s.droppedRecords;
    out.lost_sink = (this.events.dropped.get(p.name) ?? 0) + (this.events.failed.get(p.name) ?? 0);
    out.rejected_decode = p.decodeRejected;
    if (p.rtt) {
      // rtt's records are joined, not stored: what counts is trips (breakdowns) and trips given up on
      const r = this.rttStats()!;
      out.trips = r.hist.trips;
      out.trips_incomplete = r.incomplete;
      out.lost_sink = r.rowsLost;
    }
    // hook cost from bpf_stats (0 unless kernel.bpf_stats_enabled=1): the overhead rule reads run_time_ns
    let runNs = 0n;
    let runs = 0n;
    for (const st of p.native!.programStats()) {
      runNs += st.runTimeNs;
      runs += st.runCnt;
    }
    out.run_time_ns = Number(runNs);
    out.run_cnt = Number(runs);
    return out;
  }

  /**
   * Per-process entries of processes that have exited are deleted from the
   * kernel maps after a grace period (their last counts were snapshotted), so
   * the maps do not fill and exited processes leave /metrics.
   */
  private pruneExited(p: Running): void {
    const graceMs = this.opts.exitGraceMs ?? 30_000;
    const now = Date.now();
    for (const k of ATTACH[p.name].keyedCounts ?? []) {
      if (k.key !== 'pid' && k.key !== 'pid_addr') continue;
      const m = p.native!.readMap(k.map);
      for (let i = 0; i < m.count; i++) {
        const pid = m.keys.readUInt32LE(i * m.keySize);
        if (pid === 0 || existsSync(`/proc/${pid}`)) {
          this.goneSince.delete(pid);
          continue;
        }
        const since = this.goneSince.get(pid) ?? now;
        this.goneSince.set(pid, since);
        if (now - since >= graceMs) {
          p.native!.deleteMapEntry(k.map, Buffer.from(m.keys.subarray(i * m.keySize, (i + 1) * m.keySize)));
          this.prunedEntries++;
        }
      }
    }
    if (this.goneSince.size > 100_000) this.goneSince.clear();
  }

  /** The task name of a process (cached; '' once it has exited). */
  commOf(pid: number): string {
    return comm(pid, this.commCache);
  }

  /** A map of a running probe's BPF object (family-specific tables: go_sched goroutines, app calls, ...). */
  readFamilyMap(name: ProbeName, map: string): ReturnType<NativeProbe['readMap']> | undefined {
    const p = this.probes.find((x) => x.name === name);
    return p?.native ? p.native.readMap(map) : undefined;
  }

  /** Per-program run time and count (non-zero with kernel.bpf_stats_enabled=1). */
  programStats(name: ProbeName): Array<{ name: string; runTimeNs: bigint; runCnt: bigint }> {
    const p = this.probes.find((x) => x.name === name);
    return p?.native ? p.native.programStats() : [];
  }

  /** In-kernel log2 histograms, one per event kind (cumulative). */
  histograms(name: ProbeName): Record<string, number[]> {
    const p = this.probes.find((x) => x.name === name);
    if (!p?.native) return {};
    const m = p.native.readMap('hists');
    const vals = sumPerCpu(m, m.count);
    const out: Record<string, number[]> = {};
    p.def.events.forEach((ev, h) => (out[ev] = vals.slice(h * HIST_SLOTS, (h + 1) * HIST_SLOTS)));
    return out;
  }

  /** Per-key exact counts of family maps (sched: switches per pid; blockio: per device and kind). */
  keyedCounts(name: ProbeName): KeyedCount[] {
    const p = this.probes.find((x) => x.name === name);
    const out: KeyedCount[] = [];
    if (!p?.native) return out;
    for (const k of ATTACH[name].keyedCounts ?? []) out.push(...decodeKeyedCounts(p.native.readMap(k.map), k, p.def.events));
    return out;
  }

  /**
   * Read every counter and histogram, write the increases to the sink. The
   * baselines advance only once the rows are written: when the store is down
   * the next snapshot carries the whole increase (nothing lost, nothing
   * doubled), and exited processes are pruned only after their last counts landed.
   */
  async snapshot(): Promise<void> {
    const ts = nowNs();
    const counterRows: CounterRow[] = [];
    const histRows: HistogramRow[] = [];
    const advance: Array<() => void> = [];
    for (const p of this.probes) {
      // rtt: its records become breakdown rows, not events; its counters are in /metrics and the status
      // (in v2e.counters they would read as loss in the ledger, which balances event rows)
      if (!p.native || p.rtt) continue;
      const push = (name: string, pid: number, key: string, value: number, gauge = false) => {
        const id = `${name}/${pid}/${key}`;
        const prev = p.last.get(id) ?? 0;
        advance.push(() => p.last.set(id, value));
        const delta = Math.max(0, value - prev);
        if (!gauge && delta === 0 && prev !== 0 && pid !== 0) return; // idle per-pid series: nothing new
        counterRows.push({ ts, host: this.host, probe: p.name, name, pid, comm: pid ? comm(pid, this.commCache) : '', key, value, delta });
      };
      for (const [n, v] of Object.entries(this.readCounters(p))) push(n, 0, '', v);
      for (const k of this.keyedCounts(p.name)) {
        push(k.counter, k.pid, k.key, k.count);
        if (k.totalCounter) push(k.totalCounter, k.pid, k.key, k.total);
        else if (k.key) push(k.counter.replace('completed', 'bytes'), 0, k.key, k.total);
      }
      for (const r of familyCounterRows(this, p.name, this.opts.targets?.app)) push(r.name, r.pid, r.key, r.value, r.gauge);
      for (const [ev, counts] of Object.entries(this.histograms(p.name))) {
        const prev = p.lastHist.get(ev) ?? new Array<number>(HIST_SLOTS).fill(0);
        advance.push(() => p.lastHist.set(ev, counts));
        const delta = counts.map((c, i) => Math.max(0, c - prev[i]));
        if (delta.some((d) => d > 0)) histRows.push({ ts, host: this.host, probe: p.name, event: ev, counts: delta });
      }
    }
    if (this.commCache.size > 10_000) this.commCache.clear();
    this.monoToWall = monoToWallOffset();
    try {
      await this.opts.sink.writeCounters(counterRows);
      await this.opts.sink.writeHistograms(histRows);
    } catch (err) {
      this.snapshotFailures++;
      this.snapshotError = (err as Error).message;
      throw err;
    }
    this.snapshotError = undefined;
    for (const a of advance) a();
    for (const p of this.probes) if (p.native && !p.rtt) this.pruneExited(p);
  }

  /** The sink's health as the collector sees it (events and snapshots). */
  sinkHealth(): { down: boolean; downSinceMs?: number; lastError?: string; retries: number; pendingRows: number; pendingBytes: number; snapshotFailures: number } {
    const b = this.events;
    const r = this.rttRows;
    return {
      down: b.down || this.snapshotError !== undefined || r?.down === true,
      downSinceMs: b.downSince ?? r?.downSince,
      lastError: b.down ? b.lastError?.message : (this.snapshotError ?? (r?.down ? r.lastError?.message : undefined)),
      retries: b.retries + (r?.retries ?? 0),
      pendingRows: b.pendingRows + (r?.pendingRows ?? 0),
      pendingBytes: b.pendingBytes + (r?.pendingBytes ?? 0),
      snapshotFailures: this.snapshotFailures,
    };
  }

  status(): ProbeStatus[] {
    return this.probes.map((p) => ({
      probe: p.name,
      state: p.state,
      attach: p.plan?.label,
      error: p.error,
      attachErrors: p.attachErrors,
      notes: ATTACH[p.name].notes?.(),
      counters: p.native ? this.readCounters(p) : {},
    }));
  }

  get sinkRows(): number {
    return this.events.sentRows;
  }

  /**
   * Stop: let the ring-buffer threads hand over what they hold, take the last
   * snapshot, detach everything, deliver the last batches, flush. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    await this.snapshotting;
    // detach first: nothing new enters the rings, so the last snapshot's
    // `sampled` equals what the reader delivers (an exact loss ledger)
    for (const p of this.probes) {
      try {
        if (p.rtt) await p.rtt.detach();
        else p.native?.detach();
      } catch (err) {
        this.opts.logger.warn({ probe: p.name, err: (err as Error).message }, 'detach failed; closing anyway');
      }
    }
    // the reader polls every 50 ms and hands a batch over after batchMs
    const handOffMs = (this.opts.poll?.batchMs ?? 100) + 100;
    if (this.probes.some((p) => p.native)) await new Promise((r) => setTimeout(r, handOffMs));
    // rtt: join what the last batches completed (and trips that waited for a GC window's end)
    for (const p of this.probes) p.rtt?.finish();
    // the last snapshot: retried (the store may be down) until the close deadline
    const until = Date.now() + (this.opts.closeDeadlineMs ?? 10_000);
    for (;;) {
      try {
        await this.snapshot();
        break;
      } catch (err) {
        if (Date.now() >= until) {
          this.opts.logger.error({ err: (err as Error).message }, 'final snapshot failed: the last counter increases are not in the store');
          break;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    for (const p of this.probes) {
      if (p.rtt) {
        this.rttIncompleteClosed += p.rtt.incomplete;
        p.rtt.close();
        p.rtt = undefined;
      } else p.native?.close();
      if (p.state === 'running') p.state = 'stopped';
    }
    // batches queued before close() are still delivered: give them a turn of the event loop
    await new Promise((r) => setTimeout(r, 20));
    for (const p of this.probes) {
      if (p.native) p.closedPendingWeight = p.native.stats().pendingWeight ?? 0;
      p.native = undefined;
    }
    await Promise.all([this.events.close(this.opts.closeDeadlineMs ?? 10_000), this.rttRows?.close(this.opts.closeDeadlineMs ?? 10_000)]);
  }
}
