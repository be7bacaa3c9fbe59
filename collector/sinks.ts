/**
 * collector/sinks.ts — where the collector's batches go: a store (chDB or a
 * ClickHouse server) or stdout as NDJSON. (Kafka joins here with the fleet
 * pipeline.) A sink is chosen by the `--sink` string.
 */
import type { CounterRow, EventRow, HistogramRow } from '../schema/event.js';
import { applySchema, DATABASE } from '../schema/ddl.js';
import { openStore, type Store } from '../store/index.js';

export interface Sink {
  readonly name: string;
  writeEvents(rows: EventRow[]): Promise<void>;
  writeCounters(rows: CounterRow[]): Promise<void>;
  writeHistograms(rows: HistogramRow[]): Promise<void>;
  close(): Promise<void>;
}

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
  close(): Promise<void> {
    return this.store.close();
  }
}

/** NDJSON on stdout: one event per line. Counters and histograms go out as lines with a `type`. */
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
  writeEvents(rows: EventRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.write(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }
  writeCounters(rows: CounterRow[]): Promise<void> {
    if (!this.withSnapshots || rows.length === 0) return Promise.resolve();
    return this.write(rows.map((r) => JSON.stringify({ type: 'counter', ...r })).join('\n') + '\n');
  }
  writeHistograms(rows: HistogramRow[]): Promise<void> {
    if (!this.withSnapshots || rows.length === 0) return Promise.resolve();
    return this.write(rows.map((r) => JSON.stringify({ type: 'histogram', ...r })).join('\n') + '\n');
  }
  async close(): Promise<void> {}
}

/** `--sink`: a store DSN, or `stdout`. Opens the store and applies the schema. */
export async function openSink(spec: string, opts: { snapshotsToStdout?: boolean } = {}): Promise<Sink> {
  if (spec === 'stdout' || spec === '-') return new StdoutSink(process.stdout, opts.snapshotsToStdout ?? false);
  if (spec.startsWith('kafka://')) return (await import('./kafka-sink.js')).openKafkaSink(spec);
  const store = await openStore(spec);
  await applySchema(store);
  return new StoreSink(store);
}
