/**
 * collector/batcher.ts — group rows into batches bounded by rows, bytes and
 * linger time (whichever comes first) and hand them to a sink one at a time.
 * A failed write is retried with backoff (the store may be down or full);
 * meanwhile new rows wait, at most `maxPendingRows` of them: beyond that the
 * newest rows are dropped and counted per probe (never silently). At close,
 * what still cannot be written within the deadline is counted as failed.
 */
export interface BatcherOptions {
  maxRows: number;
  maxBytes: number;
  lingerMs: number;
  maxPendingRows: number;
  /** first retry after this long, doubling up to maxBackoffMs */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export const DEFAULT_BATCH: BatcherOptions = { maxRows: 50_000, maxBytes: 16 << 20, lingerMs: 1000, maxPendingRows: 200_000, minBackoffMs: 250, maxBackoffMs: 10_000 };

/** Rough JSON size of a row, used for the byte bound without serializing twice. */
const ROW_BYTES_ESTIMATE = 200;

export class Batcher<T extends { probe: string }> {
  private pending: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> = Promise.resolve();
  private flushing = 0;
  private closing = false;
  private wakeRetry: (() => void) | undefined;
  /** rows dropped because too many were waiting (sink slow or down), per probe */
  readonly dropped = new Map<string, number>();
  /** rows given up on (sink still failing at close), per probe */
  readonly failed = new Map<string, number>();
  sentRows = 0;
  sentBatches = 0;
  /** failed write attempts (each retried) */
  retries = 0;
  /** the sink's last write failed and has not succeeded since */
  down = false;
  downSince: number | undefined;
  lastError: Error | undefined;

  constructor(
    private readonly write: (rows: T[]) => Promise<void>,
    private readonly opts: BatcherOptions = DEFAULT_BATCH,
    private readonly onError: (err: Error, rows: number, attempt: number) => void = () => {},
    private readonly onRecover: (downMs: number) => void = () => {},
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

  private async writeWithRetry(batch: T[]): Promise<void> {
    let backoff = this.opts.minBackoffMs ?? 250;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.write(batch);
        this.sentRows += batch.length;
        this.sentBatches++;
        if (this.down) {
          const downMs = Date.now() - (this.downSince ?? Date.now());
          this.down = false;
          this.downSince = undefined;
          this.onRecover(downMs);
        }
        return;
      } catch (err) {
        this.lastError = err as Error;
        if (!this.down) this.downSince = Date.now();
        this.down = true;
        this.retries++;
        this.onError(err as Error, batch.length, attempt);
        if (this.closing) {
          for (const r of batch) this.failed.set(r.probe, (this.failed.get(r.probe) ?? 0) + 1);
          return;
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, backoff);
          this.wakeRetry = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wakeRetry = undefined;
        backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? 10_000);
      }
    }
  }

  /** Send what is pending; resolves when every batch handed so far is written (or, closing, given up). */
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
          await this.writeWithRetry(batch);
        } finally {
          this.flushing -= batch.length;
        }
      });
    }
    return this.inflight;
  }

  /**
   * Flush and wait up to `deadlineMs` for the sink; after it, one last attempt
   * per batch, and what still fails is counted in `failed`.
   */
  async close(deadlineMs = 10_000): Promise<void> {
    const done = this.flush();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)));
    await Promise.race([done, timeout]);
    clearTimeout(timer);
    this.closing = true;
    this.wakeRetry?.();
    await this.flush();
  }

  get pendingRows(): number {
    return this.pending.length + this.flushing;
  }
}
