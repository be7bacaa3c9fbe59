/**
 * collector/sinks/stdout.ts — `--sink stdout`: the batches as NDJSON on stdout.
 */
import type { CounterRow, EventRow, HistogramRow } from '../../schema/event.js';
import type { BreakdownRow, Sink } from './sink.js';

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
