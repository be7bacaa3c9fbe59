/**
 * collector/explain-live.ts — run the rtt family for a while against the
 * broker processes named by comm (or pid) and return the sampled round trips'
 * breakdowns (collector/explain.ts).
 *
 * Brokers are found by /proc/PID/comm and re-scanned every 500 ms (a broker
 * that starts later is picked up); each broker tgid goes into the `procs` map
 * (role broker), and Go brokers get the stop-the-world uprobes. Clients are
 * whoever sends a sampled request to a broker socket.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadNative, type Probe } from '../native/index.js';
import { COMMON_COUNTERS, MAX_COUNTERS, PROBES } from '../schema/event.js';
import { encodeConfig } from './collector.js';
import { monoToWallOffset } from './decode.js';
import { decodeRtt, RttJoiner, type Breakdown } from './explain.js';
import { BlockedStacks } from './explain-stacks.js';
import { planSpecs, type ResolvedTarget } from './go-attach.js';
import { openGoBinary, processBinary } from './go-binary.js';
import { ATTACH, type AttachPlan } from './probes.js';
import { KernelError } from './errors.js';
import { ensureTracefs } from './kernel.js';

export interface LiveOptions {
  comm?: string;
  pid?: number;
  durationMs: number;
  /** 1-in-N client requests carry a breakdown (default 100) */
  sampleEvery?: number;
  signal?: AbortSignal;
  /** every breakdown as it completes */
  onTrip?: (b: Breakdown) => void;
  /** called once attached */
  onStart?: () => void;
  /** Go brokers: a uprobe on runtime.gopark gives a parked goroutine's own stack for blocked trips (default true; costs a uprobe hit per park) */
  goStacks?: boolean;
}

export interface LiveResult {
  trips: Breakdown[];
  brokers: number[];
  incomplete: number;
  counters: Record<string, number>;
  /** per BPF program run time/count (bpf_stats) */
  programStats: Array<{ name: string; runTimeNs: number; runCnt: number }>;
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
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === comm) out.push(Number(d));
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
async function attachGoUprobes(probe: Probe, pid: number, plan: AttachPlan, skip: Set<string>): Promise<number> {
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

export async function runExplainLive(o: LiveOptions): Promise<LiveResult> {
  ensureTracefs();
  const plan = ATTACH.rtt.plans[0];
  const want: Record<string, boolean> = { goStacks: o.goStacks !== false };
  const skip = new Set(Object.entries(plan.optIn ?? {}).flatMap(([flag, progs]) => (want[flag] ? [] : progs)));
  const autoload = Object.fromEntries(plan.programs.map((p) => [p, !skip.has(p)]));
  const probe = await loadNative().open('rtt', { autoload, ringBytes: 1 << 22 });
  const stacks = new BlockedStacks(probe);
  const joiner = new RttJoiner(monoToWallOffset(), undefined, stacks.resolve);
  const trips: Breakdown[] = [];
  const brokers = new Set<number>();
  let timer: NodeJS.Timeout | undefined;
  try {
    probe.updateMap('config', Buffer.alloc(4), encodeConfig({ enabled: true, sampleEvery: o.sampleEvery ?? 100 }));
    const scan = async () => {
      for (const pid of findBrokers(o.comm, o.pid)) {
        if (brokers.has(pid)) continue;
        brokers.add(pid);
        probe.updateMap('procs', u32(pid), u32(1));
        await attachGoUprobes(probe, pid, plan, skip);
      }
    };
    await scan();
    // the uprobe programs have no target of their own: their attach() results are expected to fail
    const res = (await probe.attach()).filter((r) => !r.ok && !(plan.uprobes ?? []).some((u) => u.program === r.program));
    if (res.length) throw new KernelError('ATTACH', res.map((r) => r.error).join('; '));
    probe.startPolling((batch) => {
      stacks.refresh();
      joiner.add(decodeRtt(batch));
      for (const b of joiner.take()) {
        trips.push(b);
        o.onTrip?.(b);
      }
    }, { batchMs: 50 });
    timer = setInterval(() => void scan().catch(() => {}), 500);
    o.onStart?.();
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, o.durationMs);
      o.signal?.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    });
    clearInterval(timer);
    await new Promise((r) => setTimeout(r, 150)); // the last batch
    joiner.flush();
    for (const b of joiner.take()) {
      trips.push(b);
      o.onTrip?.(b);
    }
    const m = probe.readMap('counters');
    const stride = Math.ceil(m.valueSize / 8) * 8;
    const vals = new Array<number>(MAX_COUNTERS).fill(0);
    for (let i = 0; i < Math.min(MAX_COUNTERS, m.count); i++) for (let c = 0; c < m.nCpu; c++) vals[i] += Number(m.values.readBigUInt64LE((i * m.nCpu + c) * stride));
    const counters: Record<string, number> = {};
    for (const [n, s] of Object.entries({ ...COMMON_COUNTERS, ...PROBES.rtt.counters })) counters[n] = vals[s];
    const programStats = probe.programStats().map((s) => ({ name: s.name, runTimeNs: Number(s.runTimeNs), runCnt: Number(s.runCnt) }));
    return { trips, brokers: [...brokers], incomplete: joiner.incomplete, counters, programStats };
  } finally {
    if (timer) clearInterval(timer);
    probe.close();
  }
}
