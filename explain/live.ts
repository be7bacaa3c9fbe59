/**
 * explain/live.ts — run the rtt family for a while against the
 * broker processes named by comm (or pid) and return the sampled round trips'
 * breakdowns (explain/breakdown.ts).
 *
 * The family itself (brokers found by /proc/PID/comm and re-scanned every
 * 500 ms, `procs` map, Go uprobes, polling, joining) is explain/session.ts,
 * shared with the collector (`collect|up --explain`). Joined trips come out of
 * RttSession's deliver(), the one place for both.
 */
import type { Breakdown } from './breakdown.js';
import { RttSession } from './session.js';

export { findBrokers } from './session.js';

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
  /** Go brokers: a uprobe on runtime.gopark gives a parked goroutine's own stack for blocked trips (default false: a uprobe trap per goroutine park in the broker) */
  stacks?: boolean;
}

export interface LiveResult {
  trips: Breakdown[];
  brokers: number[];
  incomplete: number;
  counters: Record<string, number>;
  /** per BPF program run time/count (bpf_stats) */
  programStats: Array<{ name: string; runTimeNs: number; runCnt: number }>;
  /** the session's wall − CLOCK_MONOTONIC offset (decimal ns): BigInt(trip.ts) − it = the client send entry on CLOCK_MONOTONIC */
  monoToWallNs: string;
}

export async function runExplainLive(o: LiveOptions): Promise<LiveResult> {
  const trips: Breakdown[] = [];
  const session = await RttSession.open({
    comms: o.comm !== undefined ? [o.comm] : undefined,
    pid: o.pid,
    sampleEvery: o.sampleEvery,
    stacks: o.stacks,
    rescanMs: 500,
    onTrips: (bs) => {
      for (const b of bs) {
        trips.push(b);
        o.onTrip?.(b);
      }
    },
  });
  try {
    o.onStart?.();
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, o.durationMs);
      o.signal?.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    });
    await session.stop(150); // the last batch, then what can still be joined
    const programStats = session.probe.programStats().map((s) => ({ name: s.name, runTimeNs: Number(s.runTimeNs), runCnt: Number(s.runCnt) }));
    return { trips, brokers: [...session.brokers], incomplete: session.incomplete, counters: session.counters(), programStats, monoToWallNs: session.monoToWallNs.toString() };
  } finally {
    session.close();
  }
}
