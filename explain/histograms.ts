/**
 * explain/histograms.ts — the collector's running histograms of round-trip
 * breakdowns (`collect|up --explain`), read by /metrics at scrape time
 * (collector/ops/metrics.ts): per broker comm, the total and each component of
 * schema/rtt-tables.ts COMPONENTS, with fixed buckets from 1 µs to 1 s and an
 * exact sum.
 */
import { COMPONENTS, type Breakdown, type Component } from './breakdown.js';

/** Bucket upper bounds (seconds): 1-2.5-5 steps from 1 µs to 1 s. */
export const RTT_BUCKETS_S = [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const;
const BOUNDS_NS = RTT_BUCKETS_S.map((s) => Math.round(s * 1e9));

/** broker_comm label values beyond this many are folded into "other" (a bound on series). */
export const MAX_BROKER_COMMS = 64;

/** The `component` label of a component column: its name without `_ns`. */
export const componentLabel = (c: Component) => c.slice(0, -3);

export class FixedHist {
  /** per bucket (not cumulative); the last one is +Inf */
  readonly counts = new Array<number>(BOUNDS_NS.length + 1).fill(0);
  sumNs = 0;
  count = 0;
  observe(ns: number): void {
    let i = 0;
    while (i < BOUNDS_NS.length && ns > BOUNDS_NS[i]) i++;
    this.counts[i]++;
    this.sumNs += ns;
    this.count++;
  }
}

export interface CommHists {
  total: FixedHist;
  components: Record<Component, FixedHist>;
}

export class TripHistograms {
  readonly byComm = new Map<string, CommHists>();
  /** breakdowns observed */
  trips = 0;

  observe(b: Breakdown): void {
    let comm = b.broker_comm;
    if (!this.byComm.has(comm) && this.byComm.size >= MAX_BROKER_COMMS) comm = 'other';
    let h = this.byComm.get(comm);
    if (!h) {
      h = { total: new FixedHist(), components: Object.fromEntries(COMPONENTS.map((c) => [c, new FixedHist()])) as Record<Component, FixedHist> };
      this.byComm.set(comm, h);
    }
    h.total.observe(b.total_ns);
    for (const c of COMPONENTS) h.components[c].observe(b[c]);
    this.trips++;
  }
}
