/**
 * collector/pipeline/retry.ts — the write loop every queue of the collector
 * shares (event rows, records, a family's own rows): a failed write is
 * retried with backoff doubling up to a cap, the sink's health (down since,
 * last error, retries) is kept, and once closing the next failure gives up.
 */
export interface RetryOptions {
  /** first retry after this long, doubling up to maxBackoffMs */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class RetryLoop {
  /** failed write attempts (each retried) */
  retries = 0;
  /** the sink's last write failed and has not succeeded since */
  down = false;
  downSince: number | undefined;
  lastError: Error | undefined;
  private closing = false;
  private wakeRetry: (() => void) | undefined;

  constructor(
    private readonly opts: RetryOptions,
    private readonly onError: (err: Error, rows: number, attempt: number) => void = () => {},
    private readonly onRecover: (downMs: number) => void = () => {},
  ) {}

  /** Write until it succeeds (true) or, closing, fails once more (false: given up). */
  async run(write: () => Promise<void>, rows: number): Promise<boolean> {
    let backoff = this.opts.minBackoffMs ?? 250;
    for (let attempt = 1; ; attempt++) {
      try {
        await write();
        if (this.down) {
          const downMs = Date.now() - (this.downSince ?? Date.now());
          this.down = false;
          this.downSince = undefined;
          this.onRecover(downMs);
        }
        return true;
      } catch (err) {
        this.lastError = err as Error;
        if (!this.down) this.downSince = Date.now();
        this.down = true;
        this.retries++;
        this.onError(err as Error, rows, attempt);
        if (this.closing) return false;
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

  /** From now on a failure gives up; a write waiting for its retry tries once more now. */
  close(): void {
    this.closing = true;
    this.wakeRetry?.();
  }
}

/** A queue that writes through a RetryLoop: the sink's health as the collector reads it. */
export class RetryingQueue {
  protected readonly retry: RetryLoop;
  constructor(opts: RetryOptions, onError?: (err: Error, rows: number, attempt: number) => void, onRecover?: (downMs: number) => void) {
    this.retry = new RetryLoop(opts, onError, onRecover);
  }
  /** failed write attempts (each retried) */
  get retries(): number {
    return this.retry.retries;
  }
  /** the sink's last write failed and has not succeeded since */
  get down(): boolean {
    return this.retry.down;
  }
  get downSince(): number | undefined {
    return this.retry.downSince;
  }
  get lastError(): Error | undefined {
    return this.retry.lastError;
  }
}
