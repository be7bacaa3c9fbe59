/**
 * collector/sinks.ts — where the collector's batches go: a store (chDB or a
 * ClickHouse server), Kafka (collector/kafka-sink.ts) or stdout as NDJSON.
 * A sink is chosen by the `--sink` string; a Kafka sink may come already
 * resolved (TLS/SASL merged from the URL, environment and config file).
 */
import type { CounterRow, EventRow, HistogramRow } from '../schema/event.js';
import type { KafkaSinkSpec } from '../kafka/client.js';
import type { Breakdown } from '../explain/breakdown.js';
import { applySchema, DATABASE } from '../schema/ddl.js';
import { openStore, type Store } from '../store/index.js';

export interface Sink {
  readonly name: string;
  writeEvents(rows: EventRow[]): Promise<void>;
  writeCounters(rows: CounterRow[]): Promise<void>;
  writeHistograms(rows: HistogramRow[]): Promise<void>;
  /** round-trip breakdowns (`--explain`); absent: the sink cannot take them (Kafka: Prometheus only) */
  writeBreakdowns?(rows: BreakdownRow[]): Promise<void>;
  close(): Promise<void>;
}

/** One row of `v2e.rtt_breakdown`: a breakdown and the collector's host. */
export type BreakdownRow = Breakdown & { host: string };

export class StoreSink implements Sink {
  readonly name: string;
  constructor(readonly store: Store) {
    this.name = store.dsn;
  }
  writeEvents(rows: EventRow[]): Promise<void> {
    return this.store.insertRows(`${DATABASE}.events`, rows);
  }
  writeCounters(rows: CounterRow[]): Promise<void> {
    return this.store.insertRows(`${DATABASE}.counters`, rows);
  }
  writeHistograms(rows: HistogramRow[]): Promise<void> {
    return this.store.insertRows(`${DATABASE}.histograms`, rows);
  }
  writeBreakdowns(rows: BreakdownRow[]): Promise<void> {
    return this.store.insertRows(`${DATABASE}.rtt_breakdown`, rows);
  }
  close(): Promise<void> {
    return this.store.close();
  }
}

/** Event rows serialized per write of the stdout sink (~0.4 MB of text). */
const STDOUT_CHUNK_ROWS = 2000;

/**
 * NDJSON on stdout: one event per line. Counters and histograms go out as
 * lines with a `type` (with snapshots on), round-trip breakdowns always, as
 * lines with `"type":"rtt_breakdown"` (the columns of v2e.rtt_breakdown).
 */
export class StdoutSink implements Sink {
  readonly name = 'stdout';
  constructor(
    private readonly out: NodeJS.WritableStream = process.stdout,
    private readonly withSnapshots = false,
  ) {}
  private write(lines: string): Promise<void> {
    return new Promise((resolve) => {
      if (this.out.write(lines)) resolve();
      else this.out.once('drain', resolve);
    });
  }
  /**
   * A batch goes out STDOUT_CHUNK_ROWS lines at a time, each chunk written
   * (and drained) before the next is serialized: the text of a whole batch
   * (up to 50,000 rows, ~10 MB, twice over as string and buffer) never sits
   * in memory beside the rows waiting for the sink.
   */
  async writeEvents(rows: EventRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += STDOUT_CHUNK_ROWS) {
      let text = '';
      for (const r of rows.slice(i, i + STDOUT_CHUNK_ROWS)) text += JSON.stringify(r) + '\n';
      await this.write(text);
    }
  }
  writeCounters(rows: CounterRow[]): Promise<void> {
    if (!this.withSnapshots || rows.length === 0) return Promise.resolve();
    return this.write(rows.map((r) => JSON.stringify({ type: 'counter', ...r })).join('\n') + '\n');
  }
  writeHistograms(rows: HistogramRow[]): Promise<void> {
    if (!this.withSnapshots || rows.length === 0) return Promise.resolve();
    return this.write(rows.map((r) => JSON.stringify({ type: 'histogram', ...r })).join('\n') + '\n');
  }
  writeBreakdowns(rows: BreakdownRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.write(rows.map((r) => JSON.stringify({ type: 'rtt_breakdown', ...r })).join('\n') + '\n');
  }
  async close(): Promise<void> {}
}

/** `--sink`: a store DSN, kafka[s]://…, or `stdout`. Opens the store and applies the schema. */
export async function openSink(spec: string, opts: { snapshotsToStdout?: boolean; kafka?: KafkaSinkSpec } = {}): Promise<Sink> {
  if (spec === 'stdout' || spec === '-') return new StdoutSink(process.stdout, opts.snapshotsToStdout ?? false);
  if (/^kafkas?:\/\//.test(spec)) return (await import('./kafka-sink.js')).openKafkaSink(opts.kafka ?? spec);
  const store = await openStore(spec);
  await applySchema(store);
  return new StoreSink(store);
}
