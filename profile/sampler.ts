/**
 * profile/sampler.ts — sample stacks with the `profile` family (on-CPU:
 * cpu-clock perf events per CPU) or the `offcpu` family (time blocked, from
 * sched_switch), read the in-kernel aggregated counts, and symbolize them.
 */
import { existsSync } from 'node:fs';
import { CONFIG_SIZE, encodeConfig, MAX_COUNTERS } from '../schema/event.js';
import { loadNative, type MapDump, type Probe as NativeProbe } from '../native/index.js';
import { readU64, sumPerCpu } from '../collector/maps.js';
import { KernelError } from '../collector/errors.js';

/** What a stack's value counts: on-CPU samples, or off-CPU blocked ns (the `kind` column of `v2e.stacks`, `flame --kind`). */
export type StackKind = 'oncpu' | 'offcpu';
import { ProcessSymbolizer, symbolizeKernel } from '../uprobes/symbols.js';

export interface Stack {
  pid: number;
  comm: string;
  /** root first, leaf last; kernel frames carry the suffix `_[k]` */
  frames: string[];
  /** samples (on-CPU) or ns blocked (off-CPU) */
  value: number;
}

export interface ProfileResult {
  kind: StackKind;
  stacks: Stack[];
  /** sampling frequency (on-CPU) */
  frequency: number;
  durationMs: number;
  startNs: bigint;
  /** true when the target process exited before the end */
  exited: boolean;
  counters: Record<string, number>;
}

export interface ProfileOptions {
  pid?: number;
  comm?: string;
  durationMs: number;
  frequency?: number;
  offCpu?: boolean;
  /** off-CPU: skip waits shorter than this (ns) */
  minBlockNs?: number;
  /** stop early (e.g. SIGINT) */
  signal?: AbortSignal;
  /** include kernel frames (default true) */
  kernel?: boolean;
  /** called once sampling runs */
  onStart?: () => void;
  /**
   * Called every windowMs (and once at the end, also when the process exited
   * or the signal fired) with the stacks sampled in that window: the increase
   * of the in-kernel counts since the previous call. The windows add up to
   * the returned stacks.
   */
  onWindow?: (stacks: Stack[], w: { startMs: number; endMs: number }) => void | Promise<void>;
  windowMs?: number;
}

const STACK_DEPTH = 127;


export function stackTraces(m: MapDump): Map<number, bigint[]> {
  const out = new Map<number, bigint[]>();
  for (let i = 0; i < m.count; i++) {
    const id = m.keys.readUInt32LE(i * m.keySize);
    const ips: bigint[] = [];
    for (let j = 0; j < STACK_DEPTH; j++) {
      const o = i * m.valueSize + j * 8;
      const ip = m.values.readBigUInt64LE(o);
      if (!ip) break;
      ips.push(ip);
    }
    out.set(id, ips);
  }
  return out;
}

/** Decode stack_counts + stack_traces into symbolized stacks. */
export function decodeStacks(counts: MapDump, traces: MapDump, symbolizers: Map<number, ProcessSymbolizer>, kernel = true): Stack[] {
  const tr = stackTraces(traces);
  const out: Stack[] = [];
  for (let i = 0; i < counts.count; i++) {
    const k = i * counts.keySize;
    const pid = counts.keys.readUInt32LE(k);
    const uid = counts.keys.readInt32LE(k + 8);
    const kid = counts.keys.readInt32LE(k + 12);
    let end = k + 16;
    while (end < k + 32 && counts.keys[end] !== 0) end++;
    const comm = counts.keys.toString('latin1', k + 16, end);
    const value = readU64(counts.values, i * counts.valueSize);
    let sym = symbolizers.get(pid);
    if (!sym) {
      sym = new ProcessSymbolizer(pid);
      symbolizers.set(pid, sym);
    }
    const frames: string[] = [];
    // leaf first in the map: reverse to root first
    const user = uid >= 0 ? tr.get(uid) ?? [] : [];
    for (let j = user.length - 1; j >= 0; j--) frames.push(sym.symbolize(Number(user[j])));
    if (uid < 0 && uid !== -14) frames.push('[lost user stack]');
    if (kernel) {
      const ks = kid >= 0 ? tr.get(kid) ?? [] : [];
      for (let j = ks.length - 1; j >= 0; j--) frames.push(symbolizeKernel(ks[j]) + '_[k]');
    }
    if (frames.length === 0) frames.push('[no stack]');
    out.push({ pid, comm, frames: [comm || `pid ${pid}`, ...frames], value });
  }
  return out;
}

const stackKey = (s: Stack) => `${s.pid}\0${s.comm}\0${s.frames.join('\0')}`;

/** Increase of each stack since `prev` (cumulative values by key; updated in place). */
export function stackDelta(cur: Stack[], prev: Map<string, number>): Stack[] {
  const sum = new Map<string, Stack>();
  for (const s of cur) {
    const k = stackKey(s);
    const x = sum.get(k);
    if (x) x.value += s.value;
    else sum.set(k, { ...s, frames: s.frames.slice() });
  }
  const out: Stack[] = [];
  for (const [k, s] of sum) {
    const d = s.value - (prev.get(k) ?? 0);
    prev.set(k, s.value);
    if (d > 0) out.push({ ...s, value: d });
  }
  return out;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * Profile for durationMs (or until the target process exits, or the signal
 * fires): the samples taken so far are always returned.
 */
export async function runProfile(o: ProfileOptions): Promise<ProfileResult> {
  if (o.pid !== undefined && !existsSync(`/proc/${o.pid}`)) throw new KernelError('NOT_RUNNING', `no process ${o.pid}`);
  const native = loadNative();
  const family = o.offCpu ? 'offcpu' : 'profile';
  const frequency = o.frequency ?? 99;
  const probe: NativeProbe = await native.open(family);
  const symbolizers = new Map<number, ProcessSymbolizer>();
  if (o.pid) symbolizers.set(o.pid, new ProcessSymbolizer(o.pid));
  try {
    const cfg = encodeConfig({ enabled: true, pid: o.pid, comm: o.comm, minValue: o.minBlockNs ?? 0 });
    if (cfg.length !== CONFIG_SIZE) throw new KernelError('LOAD', 'config size mismatch');
    probe.updateMap('config', Buffer.alloc(4), cfg);
    const results = o.offCpu ? await probe.attach() : await probe.attachPerfEvent({ program: 'profile_cpu', frequency });
    const failed = results.filter((r) => !r.ok);
    if (failed.length === results.length) throw new KernelError('ATTACH', failed.map((f) => f.error).join('; '));
    const startNs = BigInt(Date.now()) * 1_000_000n;
    const t0 = Date.now();
    o.onStart?.();
    let exited = false;
    const prev = new Map<string, number>();
    let wStart = t0;
    const windowMs = o.windowMs ?? 10_000;
    const flushWindow = async (stacks: Stack[]) => {
      const end = Date.now();
      const delta = stackDelta(stacks, prev);
      const w = { startMs: wStart, endMs: end };
      wStart = end;
      await o.onWindow?.(delta, w);
    };
    while (Date.now() - t0 < o.durationMs && !o.signal?.aborted) {
      await sleep(Math.min(250, o.durationMs - (Date.now() - t0), o.onWindow ? Math.max(1, wStart + windowMs - Date.now()) : 250), o.signal);
      if (o.onWindow && Date.now() - wStart >= windowMs && Date.now() - t0 < o.durationMs) {
        await flushWindow(decodeStacks(probe.readMap('stack_counts'), probe.readMap('stack_traces'), symbolizers, o.kernel ?? true));
      }
      if (o.pid !== undefined) {
        const sym = symbolizers.get(o.pid)!;
        if (!sym.refresh()) {
          exited = true;
          break;
        }
      }
    }
    probe.detach();
    const counts = probe.readMap('stack_counts');
    const traces = probe.readMap('stack_traces');
    const stacks = decodeStacks(counts, traces, symbolizers, o.kernel ?? true);
    if (o.onWindow) await flushWindow(stacks);
    const vals = sumPerCpu(probe.readMap('counters'), MAX_COUNTERS);
    const sum = (slot: number) => vals[slot];
    const counters: Record<string, number> = o.offCpu
      ? { waits: sum(0), offcpu_ns: sum(8), stack_lost: sum(9), lost_mapfull: sum(3) }
      : { samples: sum(0), user_stack_lost: sum(8), kern_stack_lost: sum(9), idle_samples: sum(10), lost_mapfull: sum(3) };
    return { kind: o.offCpu ? 'offcpu' : 'oncpu', stacks, frequency, durationMs: Date.now() - t0, startNs, exited, counters };
  } finally {
    probe.close();
  }
}
