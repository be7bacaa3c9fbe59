/**
 * collector/batcher.ts — group rows into batches bounded by rows, bytes and
 * linger time (whichever comes first) and hand them to a sink one at a time.
 * When the sink falls behind, at most `maxPendingRows` wait; beyond that the
 * newest rows are dropped and counted per probe (never silently).
 */
export interface BatcherOptions {
  maxRows: number;
  maxBytes: number;
  lingerMs: number;
  maxPendingRows: number;
}

export const DEFAULT_BATCH: BatcherOptions = { maxRows: 50_000, maxBytes: 16 << 20, lingerMs: 1000, maxPendingRows: 1_000_000 };

/** Rough JSON size of a row, used for the byte bound without serializing twice. */
const ROW_BYTES_ESTIMATE = 200;

export class Batcher<T extends { probe: string }> {
  private pending: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> = Promise.resolve();
  private flushing = 0;
  readonly dropped = new Map<string, number>();
  readonly failed = new Map<string, number>();
  sentRows = 0;
  sentBatches = 0;
  lastError: Error | undefined;

  constructor(
    private readonly write: (rows: T[]) => Promise<void>,
    private readonly opts: BatcherOptions = DEFAULT_BATCH,
    private readonly onError: (err: Error, rows: number) => void = () => {},
  ) {}

  add(rows: readonly T[]): void {
    if (rows.length === 0) return;
    let room = this.opts.maxPendingRows - this.pending.length - this.flushing;
    for (const r of rows) {
      if (room <= 0) {
        this.dropped.set(r.probe, (this.dropped.get(r.probe) ?? 0) + 1);
        continue;
      }
      this.pending.push(r);
      room--;
    }
    if (this.pending.length >= this.opts.maxRows || this.pending.length * ROW_BYTES_ESTIMATE >= this.opts.maxBytes) {
      void this.flush();
    } else if (!this.timer && this.pending.length > 0) {
      this.timer = setTimeout(() => void this.flush(), this.opts.lingerMs);
    }
  }

  /** Send what is pending; resolves when every batch handed so far is written (or failed). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.opts.maxRows);
      this.flushing += batch.length;
      this.inflight = this.inflight.then(async () => {
        try {
          await this.write(batch);
          this.sentRows += batch.length;
          this.sentBatches++;
        } catch (err) {
          this.lastError = err as Error;
          for (const r of batch) this.failed.set(r.probe, (this.failed.get(r.probe) ?? 0) + 1);
          this.onError(err as Error, batch.length);
        } finally {
          this.flushing -= batch.length;
        }
      });
    }
    return this.inflight;
  }

  get pendingRows(): number {
    return this.pending.length + this.flushing;
  }
}
