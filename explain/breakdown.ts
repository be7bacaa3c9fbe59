/**
 * explain/breakdown.ts — round-trip breakdowns from the rtt family's records
 * (bpf/rtt.bpf.c, struct v2_rtt_rec in bpf/rtt.bpf.h): decode, join the four
 * records of a sampled round trip by id, and cut its time into components
 * that add up to the measured total.
 *
 *   client send ──(queue · pickup_runq · pickup_gc)──▶ broker recv
 *   broker recv ──(oncpu · runq · futex · lock · io · pagefault · gc · other)──▶ broker reply
 *   broker reply ──(reply · client_runq)──▶ client recv
 *
 * total = client recv exit − client send entry = send + queue + pickup_runq +
 * pickup_gc + the broker components + reply + client_runq + unattributed.
 * The broker components are differences of the broker thread's cumulative
 * per-component counters between its recv and its reply; when the reply left
 * from another thread (a goroutine that moved between threads), that time is
 * `unattributed`, never spread over the others.
 *
 * The component columns themselves (COMPONENTS, COMPONENT_HELP) are the
 * store's (schema/rtt-tables.ts), re-exported here; what `explain` prints is
 * explain/report.ts.
 */
import { readU64 } from '../collector/maps.js';
import { COMPONENTS, COMPONENT_HELP, type Component } from '../schema/rtt-tables.js';

export { COMPONENTS, COMPONENT_HELP, type Component };

export const REC_SIZE = 160;
export const NCOMP = 8;
export const COMP_NAMES = ['oncpu', 'runq', 'futex', 'lock', 'io', 'pagefault', 'gc', 'other'] as const;
export const STAGE = { clientSend: 0, brokerRecv: 1, brokerReply: 2, clientRecv: 3, stw: 4, gcCycle: 5, gcOpen: 6 } as const;

export interface RttRecord {
  id: bigint;
  tsEnter: number;
  tsExit: number;
  cum: number[];
  wakeTs: number;
  runTs: number;
  sk: bigint;
  pid: number;
  tid: number;
  stage: number;
  ret: number;
  comm: string;
  /** BROKER_REPLY: the longest block while serving, its user stack id (< 0: none) and component index */
  blockedNs: number;
  blockedStack: number;
  blockedComp: number;
}


/** Offsets of struct v2_rtt_rec's fields (bpf/rtt.bpf.h; test/schema/rtt-layout.test.ts compiles the header and compares). */
export const RTT_OFFSETS = {
  id: 0, ts_enter: 8, ts_exit: 16, cum: 24, wake_ts: 88, run_ts: 96, sk: 104, pid: 112, tid: 116, stage: 120, ret: 124, comm: 128,
  blocked_ns: 144, blocked_stack: 152, blocked_comp: 156,
} as const;

export function decodeRtt(buf: Buffer): RttRecord[] {
  const out: RttRecord[] = [];
  const F = RTT_OFFSETS;
  for (let o = 0; o + REC_SIZE <= buf.length; o += REC_SIZE) {
    const cum: number[] = [];
    for (let i = 0; i < NCOMP; i++) cum.push(readU64(buf, o + F.cum + 8 * i));
    let end = o + F.comm;
    while (end < o + F.comm + 16 && buf[end] !== 0) end++;
    out.push({
      id: buf.readBigUInt64LE(o + F.id),
      tsEnter: readU64(buf, o + F.ts_enter),
      tsExit: readU64(buf, o + F.ts_exit),
      cum,
      wakeTs: readU64(buf, o + F.wake_ts),
      runTs: readU64(buf, o + F.run_ts),
      sk: buf.readBigUInt64LE(o + F.sk),
      pid: buf.readUInt32LE(o + F.pid),
      tid: buf.readUInt32LE(o + F.tid),
      stage: buf.readUInt32LE(o + F.stage),
      ret: buf.readInt32LE(o + F.ret),
      comm: buf.toString('latin1', o + F.comm, end),
      blockedNs: readU64(buf, o + F.blocked_ns),
      blockedStack: buf.readInt32LE(o + F.blocked_stack),
      blockedComp: buf.readUInt32LE(o + F.blocked_comp),
    });
  }
  return out;
}

export type Breakdown = {
  /** wall-clock ns of the client's send entry */
  ts: string;
  client_pid: number;
  client_tid: number;
  client_comm: string;
  broker_pid: number;
  broker_tid: number;
  broker_comm: string;
  total_ns: number;
  /** the broker thread's longest block while serving: component ('' none), ns, user stack (root first, ';'-joined; '' unknown) */
  blocked_comp: string;
  blocked_ns: number;
  blocked_stack: string;
} & Record<Component, number>;

/** Resolves a blocked stack id of a broker process to its frames (root first), or undefined when gone. */
export type StackResolver = (pid: number, stackId: number) => string[] | undefined;

const overlap = (a0: number, a1: number, b0: number, b1: number) => Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));

/**
 * Joins records into breakdowns. Feed it batches as they come; complete trips
 * come out of take(). Incomplete ones are dropped after `maxAgeNs`.
 */
export class RttJoiner {
  private readonly open = new Map<bigint, RttRecord[]>();
  private readonly stw = new Map<number, Array<[number, number]>>();
  /** starts of GC windows still running, per broker pid (their record comes at their end) */
  private readonly gcOpen = new Map<number, number[]>();
  private readonly done: Breakdown[] = [];
  incomplete = 0;
  constructor(private readonly monoToWall: bigint, private readonly maxAgeNs = 5e9, private readonly resolveStack?: StackResolver) {}

  add(recs: RttRecord[]): void {
    let newest = 0;
    for (const r of recs) {
      newest = Math.max(newest, r.tsExit);
      if (r.stage === STAGE.gcOpen) {
        this.gcOpen.set(r.pid, [...(this.gcOpen.get(r.pid) ?? []), r.tsEnter]);
        continue;
      }
      if (r.stage === STAGE.stw || r.stage === STAGE.gcCycle) {
        const opens = this.gcOpen.get(r.pid);
        if (opens?.includes(r.tsEnter)) opens.splice(opens.indexOf(r.tsEnter), 1);
        const l = this.stw.get(r.pid) ?? [];
        l.push([r.tsEnter, r.tsExit]);
        if (l.length > 1 && l[l.length - 2][0] > r.tsEnter) l.sort((a, b) => a[0] - b[0]); // by start (they arrive by end)
        if (l.length > 10_000) l.splice(0, l.length - 10_000);
        this.stw.set(r.pid, l);
        continue;
      }
      const l = this.open.get(r.id) ?? [];
      l.push(r);
      this.open.set(r.id, l);
    }
    // a GC window whose end never came (process killed mid-GC) stops holding trips after maxAgeNs
    for (const [pid, opens] of this.gcOpen) {
      const live = opens.filter((t) => newest - t <= this.maxAgeNs);
      if (live.length) this.gcOpen.set(pid, live);
      else this.gcOpen.delete(pid);
    }
    this.complete(newest, false);
  }

  /** Complete what can be: at the end of a run, also the trips still waiting for a GC window's end. */
  flush(): void {
    this.complete(Infinity, true);
  }

  private complete(newest: number, final: boolean): void {
    for (const [id, l] of this.open) {
      const last = l.find((x) => x.stage === STAGE.clientRecv);
      if (last && l.length >= 4) {
        // a trip picked up while a GC window of its broker is still open waits for that window's record
        const b1 = l.find((x) => x.stage === STAGE.brokerRecv);
        if (!final && b1 && (this.gcOpen.get(b1.pid) ?? []).some((t) => t < b1.tsExit)) continue;
        const b = this.breakdown(l);
        this.open.delete(id);
        if (b) this.done.push(b);
        else this.incomplete++;
      } else if (final || newest - Math.max(...l.map((x) => x.tsExit)) > this.maxAgeNs) {
        this.open.delete(id);
        this.incomplete++;
      }
    }
  }

  /** Drop what is kept per broker pid (its GC windows) once it has exited. */
  forget(pid: number): void {
    this.stw.delete(pid);
    this.gcOpen.delete(pid);
  }

  take(): Breakdown[] {
    return this.done.splice(0);
  }

  private breakdown(l: RttRecord[]): Breakdown | undefined {
    const st = (s: number) => l.find((x) => x.stage === s);
    const c0 = st(STAGE.clientSend), b1 = st(STAGE.brokerRecv), b2 = st(STAGE.brokerReply), c3 = st(STAGE.clientRecv);
    if (!c0 || !b1 || !b2 || !c3) return undefined;
    if (!(c0.tsEnter <= c0.tsExit && c0.tsExit <= b1.tsExit && b1.tsExit <= b2.tsExit && b2.tsExit <= c3.tsExit)) return undefined;
    const total = c3.tsExit - c0.tsEnter;
    const send = c0.tsExit - c0.tsEnter;
    // pickup: client send exit → broker recv exit
    const p0 = c0.tsExit, p1 = b1.tsExit;
    const pickupRunq = b1.runTs >= b1.wakeTs ? overlap(b1.wakeTs, b1.runTs, p0, p1) : 0;
    const gcEnd = b1.runTs >= b1.wakeTs && b1.wakeTs > p0 ? Math.min(p1, b1.wakeTs) : p1;
    // GC windows of the broker (cycles, runtime.GC() calls, other STWs) may nest: count their union
    let pickupGc = 0;
    let reach = p0;
    for (const [s, e] of this.stw.get(b1.pid) ?? []) {
      pickupGc += overlap(Math.max(s, reach), e, p0, gcEnd);
      reach = Math.max(reach, e);
    }
    pickupGc = Math.min(pickupGc, p1 - p0 - pickupRunq);
    const queue = p1 - p0 - pickupRunq - pickupGc;
    // hold: broker recv exit → broker reply exit
    const hold = b2.tsExit - b1.tsExit;
    const comp = new Array<number>(NCOMP).fill(0);
    let unattributed = 0;
    if (b1.tid === b2.tid) {
      for (let i = 0; i < NCOMP; i++) comp[i] = Math.max(0, b2.cum[i] - b1.cum[i]);
      const sum = comp.reduce((a, b) => a + b, 0);
      if (sum > hold) {
        // cannot happen with continuous accounting; never let components exceed the interval
        const k = hold / sum;
        for (let i = 0; i < NCOMP; i++) comp[i] = Math.floor(comp[i] * k);
      }
      unattributed = hold - comp.reduce((a, b) => a + b, 0);
    } else {
      unattributed = hold;
    }
    // reply: broker reply exit → client recv exit
    const r0 = b2.tsExit, r1 = c3.tsExit;
    const clientRunq = c3.runTs >= c3.wakeTs ? overlap(c3.wakeTs, c3.runTs, r0, r1) : 0;
    const reply = r1 - r0 - clientRunq;
    // where the broker thread blocked longest (only when the reply left from the recv's thread)
    const blocked = b1.tid === b2.tid && b2.blockedNs > 0 ? b2 : undefined;
    const frames = blocked && blocked.blockedStack >= 0 ? this.resolveStack?.(b1.pid, blocked.blockedStack) : undefined;
    return {
      ts: (BigInt(c0.tsEnter) + this.monoToWall).toString(),
      client_pid: c0.pid, client_tid: c0.tid, client_comm: c0.comm,
      broker_pid: b1.pid, broker_tid: b1.tid, broker_comm: b1.comm,
      total_ns: total,
      send_ns: send, queue_ns: queue, pickup_runq_ns: pickupRunq, pickup_gc_ns: pickupGc,
      oncpu_ns: comp[0], runq_ns: comp[1], futex_ns: comp[2], lock_ns: comp[3], io_ns: comp[4], pagefault_ns: comp[5], gc_ns: comp[6], other_ns: comp[7],
      reply_ns: reply, client_runq_ns: clientRunq, unattributed_ns: unattributed,
      blocked_comp: blocked ? COMP_NAMES[blocked.blockedComp] ?? '' : '',
      blocked_ns: blocked?.blockedNs ?? 0,
      blocked_stack: frames?.join(';') ?? '',
    };
  }
}

/** Sum of the components (equals total_ns by construction). */
export const componentSum = (b: Breakdown) => COMPONENTS.reduce((s, c) => s + b[c], 0);
