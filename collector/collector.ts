/**
 * collector/collector.ts — one host's collector: opens the requested probe
 * families through the native addon, configures sampling and filters, hands
 * the ring-buffer thread's batches to the event queue of its sink
 * (pipeline/queue.ts: records as bytes into a store, decoded rows otherwise),
 * and snapshots the exact counters and histograms every `snapshotMs`.
 * A probe that cannot attach is reported and the others keep running.
 *
 * A family that runs otherwise implements a runtime
 * (collector/families/runtime.ts; which family has which: runtimes.ts): its
 * own start and stop (a session), attach, counters, extra snapshot rows.
 */
import { hostname } from 'node:os';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { COMMON_COUNTERS, encodeConfig, HIST_SLOTS, MAX_COUNTERS, PROBES, RECORD_SIZE, type CounterRow, type HistogramRow, type ProbeDef, type ProbeName } from '../schema/event.js';
import { loadNative, type Probe as NativeProbe } from '../native/index.js';
import { DEFAULT_BATCH } from './pipeline/batcher.js';
import { eventQueue, type EventQueue } from './pipeline/queue.js';
import { decodeKeyedCounts, monoToWallOffset, sumPerCpu, type KeyedCount } from './maps.js';
import { ATTACH } from './families/plans.js';
import type { FamilyRuntime } from './families/runtime.js';
import { familyRuntimes } from './runtimes.js';
import { NATIVE_QUEUE_BYTES, type CollectorOptions, type ProbeOptions, type ProbeStatus, type Running } from './options.js';
import { probeOptions, startFamily, type NativeAddon } from './start.js';
import { KernelError } from './errors.js';

export type { ExplainOptions, RttStats } from '../explain/runtime.js';
export { NATIVE_QUEUE_BYTES, type CollectorOptions, type ProbeOptions, type ProbeState, type ProbeStatus } from './options.js';

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
  private readonly events: EventQueue;
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
  /** the families' runtimes (collector/runtimes.ts) */
  private readonly runtimes: Partial<Record<ProbeName, FamilyRuntime>>;

  constructor(private readonly opts: CollectorOptions) {
    this.host = opts.host ?? hostname();
    const batch = { ...DEFAULT_BATCH, ...opts.batch };
    this.runtimes = familyRuntimes({ sink: opts.sink, logger: opts.logger, host: this.host, batch, targets: opts.targets, explain: opts.explain });
    const rts = Object.entries(this.runtimes) as Array<[ProbeName, FamilyRuntime]>;
    const names = [...opts.probes, ...rts.filter(([n, rt]) => rt.implied && !opts.probes.includes(n)).map(([n]) => n)];
    // a runtime's rate lives where `ctl sample NAME N` / configure() keep every probe's
    for (const [n, rt] of rts) if (rt.sampleEvery !== undefined && opts.perProbe?.[n]?.sampleEvery === undefined) opts.perProbe = { ...opts.perProbe, [n]: { ...opts.perProbe?.[n], sampleEvery: rt.sampleEvery } };
    this.probes = names.map((name) => this.running(name));
    const ownShare = rts.reduce((n, [, rt]) => n + (rt.pendingBytes ?? 0), 0);
    this.events = eventQueue(opts.sink, { ...batch, maxPendingBytes: batch.maxPendingBytes - ownShare }, opts.logger, { session: `${this.host}:${process.pid}`, rowPath: opts.rowPath });
  }

  private running(name: ProbeName): Running {
    return { name, def: PROBES[name] as ProbeDef, state: 'starting', attachErrors: [], last: new Map(), lastHist: new Map(), decodeRejected: 0, rt: this.runtimes[name] };
  }

  /** A family's runtime (collector/families/runtime.ts), if it has one: explain/runtime.ts rttStats() reads rtt's. */
  runtime(name: ProbeName): FamilyRuntime | undefined {
    return this.runtimes[name];
  }

  /** Does a family's snapshot go to the sink (false: its runtime keeps its own rows)? */
  private snapshots(p: Running): boolean {
    return p.rt?.snapshot !== false;
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
    return probeOptions(this.opts, p);
  }

  private async startProbe(native: NativeAddon, p: Running): Promise<void> {
    await startFamily({ opts: this.opts, options: (x) => this.probeOptions(x), poll: () => this.pollOptions(), onBatch: (x, batch, records) => this.onBatch(x, batch, records) }, native, p);
  }

  /** The native hand-off of a probe: its share of the byte bound on batches waiting for the JS thread. */
  private pollOptions(): { batchRecords?: number; batchMs?: number; maxQueuedBatches: number; carryWeight: boolean } {
    const { queueBytes = NATIVE_QUEUE_BYTES, maxQueuedBatches, ...rest } = this.opts.poll ?? {};
    const batchBytes = (rest.batchRecords ?? 4096) * RECORD_SIZE;
    const share = queueBytes / Math.max(1, this.probes.filter((p) => this.snapshots(p)).length);
    return { ...rest, maxQueuedBatches: maxQueuedBatches ?? Math.max(2, Math.floor(share / batchBytes)), carryWeight: true };
  }

  private onBatch(p: Running, batch: Buffer, records: number): void {
    this.receivedRecords += records;
    p.decodeRejected += this.events.offer(batch, { host: this.host, monoToWallNs: this.monoToWall });
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
        p = this.running(name);
        this.probes.push(p);
      }
      if (!p.native) {
        p.state = 'starting';
        p.error = undefined;
        p.attachErrors = [];
        p.sweepFailed = false;
        p.detached = false;
        p.last.clear();
        p.lastHist.clear();
        await this.startProbe(loadNative(), p);
      }
    } else if (p?.native) {
      await this.snapshotting;
      // as in stop(): last sweep, detach, let the reader hand the ring's rows over, and only then
      // read the counters. Read while attached, every row submitted between that read and the
      // detach is stored without its `sampled` (the object and its counters go): unaccounted < 0.
      const native = p.native;
      this.sweep(p);
      p.detached = true;
      if (p.session) await p.session.detach();
      else native.detach();
      await new Promise((r) => setTimeout(r, this.handOffMs()));
      p.session?.finish();
      try {
        await this.snapshot();
      } finally {
        if (p.session) {
          p.session.close();
          p.session = undefined;
        } else {
          native.close();
          p.closedPendingWeight = native.stats().pendingWeight ?? 0;
        }
        p.native = undefined;
        p.plan = undefined;
        p.state = 'stopped';
      }
    }
    return this.status().find((s) => s.probe === name)!;
  }

  /** After a detach: the reader polls every 50 ms and hands a batch over after batchMs. */
  private handOffMs(): number {
    return (this.opts.poll?.batchMs ?? 100) + 100;
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
    if (!p || p.session) return 0;
    return (p.native ? (p.native.stats().pendingWeight ?? 0) : (p.closedPendingWeight ?? 0)) + this.events.carriedWeight(name);
  }

  /** Exact counters of a probe: common + family + userspace drops, summed over CPUs. */
  counters(name: ProbeName): Record<string, number> {
    const p = this.probes.find((x) => x.name === name);
    if (!p?.native) return {};
    return this.readCounters(p);
  }

  /**
   * Run the family's sweep (FamilyDescriptor.sweep) when its plan loaded it: blockio counts there the
   * completions its programs never ran for, so the counts read next include them.
   */
  private sweep(p: Running): void {
    const name = ATTACH[p.name].sweep;
    if (!name || !p.native || p.detached || !p.plan?.programs.includes(name)) return;
    try {
      p.native.runProgram(name);
    } catch (err) {
      if (!p.sweepFailed) this.opts.logger.warn({ probe: p.name, program: name, err: (err as Error).message }, 'sweep failed: unseen completions are not counted');
      p.sweepFailed = true;
    }
  }

  private readCounters(p: Running): Record<string, number> {
    this.sweep(p);
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
    p.rt?.counters?.(out);
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
    this.sweep(p);
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
      // a family whose runtime keeps its own rows (rtt: breakdowns): its counters are in /metrics and the status
      // (in v2e.counters they would read as loss in the ledger, which balances event rows)
      if (!p.native || !this.snapshots(p)) continue;
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
      for (const r of p.rt?.extraRows?.(this) ?? []) push(r.name, r.pid, r.key, r.value, r.gauge);
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
    for (const p of this.probes) if (p.native && this.snapshots(p)) this.pruneExited(p);
  }

  /** The sink's health as the collector sees it (events and snapshots). */
  sinkHealth(): { down: boolean; downSinceMs?: number; lastError?: string; retries: number; pendingRows: number; pendingBytes: number; snapshotFailures: number } {
    const b = this.events;
    const r = Object.values(this.runtimes).find((rt) => rt.rows)?.rows;
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
    // `sampled` equals what the reader delivers (an exact loss ledger).
    // The sweeps run once more before: what completes after the detach is not unseen.
    for (const p of this.probes) {
      this.sweep(p);
      p.detached = true;
      try {
        if (p.session) await p.session.detach();
        else p.native?.detach();
      } catch (err) {
        this.opts.logger.warn({ probe: p.name, err: (err as Error).message }, 'detach failed; closing anyway');
      }
    }
    if (this.probes.some((p) => p.native)) await new Promise((r) => setTimeout(r, this.handOffMs()));
    // sessions complete what the last batches completed (rtt: trips that waited for a GC window's end too)
    for (const p of this.probes) p.session?.finish();
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
      if (p.session) {
        p.session.close();
        p.session = undefined;
      } else p.native?.close();
      if (p.state === 'running') p.state = 'stopped';
    }
    // batches queued before close() are still delivered: give them a turn of the event loop
    await new Promise((r) => setTimeout(r, 20));
    for (const p of this.probes) {
      if (p.native) p.closedPendingWeight = p.native.stats().pendingWeight ?? 0;
      p.native = undefined;
    }
    const deadline = this.opts.closeDeadlineMs ?? 10_000;
    await Promise.all([this.events.close(deadline), ...Object.values(this.runtimes).map((rt) => rt.rows?.close(deadline))]);
  }
}
