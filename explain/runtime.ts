/**
 * explain/runtime.ts — the rtt family in the collector (`collect|up
 * --explain`): its runtime (collector/families/runtime.ts). One RttSession
 * (session.ts) for the brokers by comm; joined breakdowns are counted into
 * histograms for /metrics (histograms.ts) and, when the sink takes them,
 * batched to it as v2e.rtt_breakdown rows (retried like events; rows dropped
 * or given up on are counted as the rtt probe's lost_sink). Its records are
 * not event rows and its counters not snapshot rows.
 */
import type { Logger } from 'pino';
import { PROBES } from '../schema/event.js';
import { Batcher, EVENT_ROW_BYTES, type BatcherOptions } from '../collector/pipeline/batcher.js';
import type { FamilyRuntime, FamilySession } from '../collector/families/runtime.js';
import type { Breakdown } from './breakdown.js';
import { RttSession } from './session.js';
import { TripHistograms } from './histograms.js';

export interface ExplainOptions {
  /** broker processes by comm (exact), re-scanned while running */
  comms: string[];
  /** 1-in-N client requests carry a breakdown (default 100) */
  sampleEvery?: number;
  /** Go brokers: uprobe runtime.gopark for blocked stacks (a uprobe hit per goroutine park; default off in the collector) */
  stacks?: boolean;
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

/** The sink as the rtt runtime sees it (collector/sinks/sink.ts Sink). */
export interface BreakdownSink {
  readonly name: string;
  writeBreakdowns?(rows: Array<Breakdown & { host: string }>): Promise<void>;
}

type RttRow = Breakdown & { host: string; probe: 'rtt' };

/** Memory of a breakdown row while it waits: ~22 fields (estimated like EVENT_ROW_BYTES) and its stack text. */
const rttRowBytes = (r: RttRow) => 2 * EVENT_ROW_BYTES + r.blocked_stack.length;

export class RttRuntime implements FamilyRuntime {
  readonly implied: boolean;
  readonly sampleEvery: number | undefined;
  readonly snapshot = false;
  readonly rows: Batcher<RttRow> | undefined;
  /** breakdown rows get an eighth of the pending bound when the sink takes them */
  readonly pendingBytes: number;
  readonly hist = new TripHistograms();
  private session: RttSession | undefined;
  private incompleteClosed = 0;

  constructor(private readonly o: { explain?: ExplainOptions; sink: BreakdownSink; host: string; logger: Logger; batch: BatcherOptions }) {
    this.implied = o.explain !== undefined;
    this.sampleEvery = o.explain?.sampleEvery;
    const sink = o.sink;
    this.pendingBytes = o.explain && sink.writeBreakdowns ? Math.floor(o.batch.maxPendingBytes / 8) : 0;
    if (o.explain && sink.writeBreakdowns) {
      this.rows = new Batcher<RttRow>(
        (rows) => sink.writeBreakdowns!(rows.map(({ probe: _, ...r }) => r)),
        { ...o.batch, maxPendingBytes: this.pendingBytes, rowBytes: rttRowBytes },
        (err, n, attempt) => {
          if (attempt === 1 || attempt % 10 === 0) o.logger.error({ err: err.message, rows: n, attempt, sink: sink.name, table: 'rtt_breakdown' }, 'sink write of breakdown rows failed; retrying with backoff');
        },
      );
    }
  }

  unavailable(): string | undefined {
    if (!this.o.explain?.comms.length) return 'rtt explains round trips to brokers: start the collector with --explain COMM[,COMM]';
    return undefined;
  }

  /** One session for the collector, its brokers by comm. */
  async start(sampleEvery: number | undefined): Promise<FamilySession> {
    const ex = this.o.explain!;
    const s = await RttSession.open({
      comms: ex.comms,
      sampleEvery: sampleEvery ?? ex.sampleEvery ?? PROBES.rtt.defaultSampleEvery,
      stacks: ex.stacks === true,
      rescanMs: ex.rescanMs ?? 1000,
      onTrips: (trips) => this.onTrips(trips),
    });
    this.session = s;
    return {
      native: s.probe,
      plan: s.plan,
      logFields: { comms: ex.comms, brokers: [...s.live.keys()] },
      detach: () => s.detach(),
      finish: () => s.finish(),
      close: () => {
        this.incompleteClosed += s.incomplete;
        s.close();
        if (this.session === s) this.session = undefined;
      },
    };
  }

  /** Joined breakdowns: into the histograms, and to the sink when it takes them. */
  private onTrips(trips: Breakdown[]): void {
    for (const b of trips) this.hist.observe(b);
    this.rows?.add(trips.map((b) => ({ ...b, host: this.o.host, probe: 'rtt' as const })));
  }

  /** rtt's records are joined, not stored: what counts is trips (breakdowns) and trips given up on. */
  counters(out: Record<string, number>): void {
    const r = this.stats()!;
    out.trips = r.hist.trips;
    out.trips_incomplete = r.incomplete;
    out.lost_sink = r.rowsLost;
  }

  /** The explained round trips so far (undefined without --explain). */
  stats(): RttStats | undefined {
    const ex = this.o.explain;
    if (!ex) return undefined;
    const s = this.session;
    const brokers: Record<string, number> = Object.fromEntries(ex.comms.map((c) => [c, 0]));
    for (const c of s?.live.values() ?? []) brokers[c] = (brokers[c] ?? 0) + 1;
    return {
      comms: ex.comms,
      hist: this.hist,
      incomplete: this.incompleteClosed + (s?.incomplete ?? 0),
      rowsWritten: this.rows?.sentRows ?? 0,
      rowsLost: (this.rows?.dropped.get('rtt') ?? 0) + (this.rows?.failed.get('rtt') ?? 0),
      rowsToSink: this.rows !== undefined,
      brokers,
    };
  }
}

/** The explained round trips of a collector (undefined without --explain): its rtt runtime's stats. */
export function rttStats(c: { runtime(name: 'rtt'): FamilyRuntime | undefined }): RttStats | undefined {
  const r = c.runtime('rtt');
  return r instanceof RttRuntime ? r.stats() : undefined;
}
