/**
 * explain/session.ts — one running rtt family (bpf/rtt.bpf.c): the
 * brokers it explains, its Go uprobes, and the joiner that turns its records
 * into round-trip breakdowns (explain/breakdown.ts). Used by `explain --live`
 * (explain/live.ts) and by the collector (`collect|up --explain`).
 *
 * Brokers are found by /proc/PID/comm (one or more comms) or by pid, and
 * re-scanned every `rescanMs` (a broker that starts later is picked up); each
 * broker tgid goes into the `procs` map (role broker), and Go brokers get the
 * plan's uprobes (GC windows; goroutine parks with `stacks`). Clients are
 * whoever sends a sampled request to a broker socket (the kernel adds them).
 * Entries of exited processes (brokers and clients) are removed from `procs`
 * and `stw` every few seconds, so a long run does not fill the maps.
 *
 * Joined trips come out of one place, deliver(): the batch callback and the
 * final flush both go through it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { loadNative, type Probe } from '../native/index.js';
import { COMMON_COUNTERS, encodeConfig, MAX_COUNTERS, PROBES } from '../schema/event.js';
import { monoToWallOffset, sumPerCpu } from '../collector/maps.js';
import { decodeRtt, RttJoiner, type Breakdown } from './breakdown.js';
import { BlockedStacks } from './stacks.js';
import { planSpecs, type ResolvedTarget } from '../uprobes/attach.js';
import { openGoBinary, processBinary } from '../uprobes/go-binary.js';
import { ATTACH, planAutoload, type AttachPlan } from '../collector/families/plans.js';
import { KernelError } from '../collector/errors.js';
import { ensureTracefs } from '../collector/families/kernel.js';

export interface RttSessionOptions {
  /** the brokers: processes whose comm is one of these (exact) ... */
  comms?: string[];
  /** ... or this process */
  pid?: number;
  /** 1-in-N client requests carry a breakdown (default 100) */
  sampleEvery?: number;
  /** ring buffer bytes (default 4 MiB) */
  ringBytes?: number;
  /** how often brokers are looked for (default 500 ms) */
  rescanMs?: number;
  /** Go brokers: a uprobe on runtime.gopark gives a parked goroutine's own stack for blocked trips (default false: a uprobe hit per goroutine park) */
  stacks?: boolean;
  /** every batch of joined breakdowns, as they complete */
  onTrips: (trips: Breakdown[]) => void;
}

/** Pids whose comm is `comm` (exact), or [pid] if it exists. */
export function findBrokers(comm?: string, pid?: number): number[] {
  if (pid !== undefined) {
    try {
      readFileSync(`/proc/${pid}/comm`);
      return [pid];
    } catch {
      return [];
    }
  }
  return comm === undefined ? [] : [...findByComm(new Set([comm])).keys()];
}

/** Processes whose comm is in `comms` (one pass over /proc): pid → comm. */
export function findByComm(comms: ReadonlySet<string>): Map<number, string> {
  const out = new Map<number, string>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const c = readFileSync(`/proc/${d}/comm`, 'utf8').trim();
      if (comms.has(c)) out.set(Number(d), c);
    } catch {
      /* exited */
    }
  }
  return out;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/**
 * The plan's Go uprobes (GC windows, goroutine parks) on one broker, each where the binary has
 * its symbol (runtime.GC is absent from programs that never call it).
 * Returns how many attached; 0 for a non-Go program (no GC attribution).
 */
async function attachGoUprobes(probe: Probe, pid: number, plan: AttachPlan, skip: ReadonlySet<string>): Promise<number> {
  let target: ResolvedTarget;
  try {
    const binary = processBinary(pid);
    target = { binary, pid, bin: openGoBinary(binary) };
  } catch {
    return 0; // not a Go program (or too old)
  }
  const specs = (plan.uprobes ?? []).filter((u) => !skip.has(u.program)).flatMap((u) => {
    try {
      return planSpecs({ ...plan, uprobes: [u] }, [target]);
    } catch {
      return [];
    }
  });
  return (await probe.attachUprobes(specs)).filter((x) => x.ok).length;
}

const PRUNE_EVERY_MS = 5000;
const RTT_PLAN = ATTACH.rtt.plans[0];

export class RttSession {
  readonly plan: AttachPlan = RTT_PLAN;
  /** every broker pid seen during the session */
  readonly brokers = new Set<number>();
  /** brokers running now: pid → comm */
  readonly live = new Map<number, string>();
  /** breakdowns delivered */
  trips = 0;
  /** wall-clock ns minus CLOCK_MONOTONIC ns used for the breakdowns' `ts` (fixed for the session) */
  readonly monoToWallNs = monoToWallOffset();
  private readonly joiner: RttJoiner;
  private readonly stacks: BlockedStacks;
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> = Promise.resolve();
  private lastPrune = Date.now();
  private finished = false;
  private closed = false;

  private constructor(readonly probe: Probe, private readonly o: RttSessionOptions, private readonly skip: ReadonlySet<string>) {
    this.stacks = new BlockedStacks(probe);
    this.joiner = new RttJoiner(this.monoToWallNs, undefined, this.stacks.resolve);
  }

  /** Open, configure and attach the rtt family, find the brokers, start polling. */
  static async open(o: RttSessionOptions): Promise<RttSession> {
    ensureTracefs();
    const plan = RTT_PLAN;
    const autoload = planAutoload(ATTACH.rtt.plans, plan, { explainStacks: o.stacks });
    const skip = new Set(plan.programs.filter((p) => !autoload[p]));
    const probe = await loadNative().open('rtt', { autoload, ringBytes: o.ringBytes ?? 1 << 22 });
    const s = new RttSession(probe, o, skip);
    try {
      probe.updateMap('config', Buffer.alloc(4), encodeConfig({ enabled: true, sampleEvery: o.sampleEvery ?? 100 }));
      await s.scan();
      // the uprobe programs have no target of their own: their attach() results are expected to fail
      const res = (await probe.attach()).filter((r) => !r.ok && !(plan.uprobes ?? []).some((u) => u.program === r.program));
      if (res.length) throw new KernelError('ATTACH', res.map((r) => r.error).join('; '));
      probe.startPolling((batch) => s.onBatch(batch), { batchMs: 50 });
      s.timer = setInterval(() => {
        s.scanning = s.scanning.then(() => s.scan()).catch(() => {});
      }, o.rescanMs ?? 500);
      return s;
    } catch (err) {
      s.close();
      throw err;
    }
  }

  /** Trips given up on: records missing, out of order, or still open at the end. */
  get incomplete(): number {
    return this.joiner.incomplete;
  }

  private onBatch(batch: Buffer): void {
    if (this.closed) return;
    this.stacks.refresh();
    this.joiner.add(decodeRtt(batch));
    // a batch handed over after finish(): complete it at once (nothing newer will come)
    if (this.finished) this.joiner.flush();
    this.deliver(this.joiner.take());
  }

  /** The one place joined breakdowns come out. */
  private deliver(trips: Breakdown[]): void {
    if (trips.length === 0) return;
    this.trips += trips.length;
    this.o.onTrips(trips);
  }

  private async scan(): Promise<void> {
    if (this.closed) return;
    const found = this.o.comms?.length ? findByComm(new Set(this.o.comms)) : new Map(findBrokers(undefined, this.o.pid).map((p) => [p, '']));
    for (const [pid, comm] of found) {
      if (this.live.has(pid) || this.closed) continue;
      this.live.set(pid, comm);
      this.brokers.add(pid);
      this.probe.updateMap('procs', u32(pid), u32(1));
      await attachGoUprobes(this.probe, pid, this.plan, this.skip);
    }
    if (Date.now() - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = Date.now();
      this.pruneExited();
    }
  }

  /** Forget processes that exited: brokers (a new one with the same pid is scanned again) and clients. */
  private pruneExited(): void {
    if (this.closed) return;
    for (const pid of this.live.keys()) {
      if (existsSync(`/proc/${pid}`)) continue;
      this.live.delete(pid);
      this.joiner.forget(pid);
      this.stacks.forget(pid);
    }
    for (const map of ['procs', 'stw']) {
      let m;
      try {
        m = this.probe.readMap(map);
      } catch {
        continue;
      }
      for (let i = 0; i < m.count; i++) {
        const pid = m.keys.readUInt32LE(i * m.keySize);
        if (!existsSync(`/proc/${pid}`)) this.probe.deleteMapEntry(map, Buffer.from(m.keys.subarray(i * m.keySize, (i + 1) * m.keySize)));
      }
    }
  }

  /** Exact counters of the family (common + rtt's), summed over CPUs. */
  counters(): Record<string, number> {
    const vals = sumPerCpu(this.probe.readMap('counters'), MAX_COUNTERS);
    const out: Record<string, number> = {};
    for (const [n, s] of Object.entries({ ...COMMON_COUNTERS, ...PROBES.rtt.counters })) out[n] = vals[s];
    return out;
  }

  /** Stop looking for brokers and detach every program (the maps stay readable). */
  async detach(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.scanning;
    if (!this.closed) this.probe.detach();
  }

  /** After detach() and the last batch: complete what can be (also trips waiting for a GC window's end). */
  finish(): void {
    if (this.finished || this.closed) return;
    this.finished = true;
    this.stacks.refresh();
    this.joiner.flush();
    this.deliver(this.joiner.take());
  }

  /** detach(), let the reader hand over the last batch, finish(). */
  async stop(handOffMs = 150): Promise<void> {
    await this.detach();
    await new Promise((r) => setTimeout(r, handOffMs));
    this.finish();
  }

  /** Free the BPF object. Idempotent. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    this.closed = true;
    this.probe.close();
  }
}
