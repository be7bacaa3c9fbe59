/**
 * collector/sinks/store.ts — the store sink: batches inserted into the v2e
 * tables of a store (chDB or a ClickHouse server, store/).
 */
import type { CounterRow, EventRow, HistogramRow } from '../../schema/event.js';
import { DATABASE } from '../../schema/ddl.js';
import type { Store } from '../../store/index.js';
import type { BreakdownRow, Sink } from './sink.js';
import type { RecordBatch } from '../pipeline/records.js';
import { RAW_STRUCTURE, rawEventsSelect } from '../../schema/raw.js';

export class StoreSink implements Sink {
  readonly name: string;
  constructor(readonly store: Store) {
    this.name = store.dsn;
  }
  writeEvents(rows: EventRow[]): Promise<void> {
    return this.store.insertRows(`${DATABASE}.events`, rows);
  }
  /** records inserted as they are: the engine maps them to event rows (schema/raw.ts), one insert and token per batch */
  writeRecords(b: RecordBatch): Promise<void> {
    return this.store.insertBinary(`${DATABASE}.events`, b.records, RAW_STRUCTURE, (source) => rawEventsSelect(source, b.ctx), { dedupToken: b.token });
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
