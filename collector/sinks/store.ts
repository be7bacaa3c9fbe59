/**
 * collector/sinks/store.ts — the store sink: batches inserted into the v2e
 * tables of a store (chDB or a ClickHouse server, store/).
 */
import type { CounterRow, EventRow, HistogramRow } from '../../schema/event.js';
import { DATABASE } from '../../schema/ddl.js';
import type { Store } from '../../store/index.js';
import type { BreakdownRow, Sink } from './sink.js';

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
