/**
 * collector/sinks/sink.ts — the one interface every sink of the collector's
 * batches implements (store, stdout, Kafka), and the row type of round-trip
 * breakdowns. Which sink a `--sink` string names is sinks/registry.ts.
 */
import type { CounterRow, EventRow, HistogramRow } from '../../schema/event.js';
import type { Breakdown } from '../../explain/breakdown.js';
import type { RecordBatch } from '../pipeline/records.js';

export interface Sink {
  readonly name: string;
  writeEvents(rows: EventRow[]): Promise<void>;
  /** event records as the ring buffer gave them (no row objects); a sink that has it gets the binary queue (pipeline/records.ts) */
  writeRecords?(batch: RecordBatch): Promise<void>;
  writeCounters(rows: CounterRow[]): Promise<void>;
  writeHistograms(rows: HistogramRow[]): Promise<void>;
  /** round-trip breakdowns (`--explain`); absent: the sink cannot take them (Kafka: Prometheus only) */
  writeBreakdowns?(rows: BreakdownRow[]): Promise<void>;
  close(): Promise<void>;
}

/** One row of `v2e.rtt_breakdown`: a breakdown and the collector's host. */
export type BreakdownRow = Breakdown & { host: string };
