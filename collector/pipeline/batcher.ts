/**
 * collector/pipeline/batcher.ts — group rows into batches bounded by rows, bytes and
 * linger time (whichever comes first) and hand them to a sink one at a time.
 * A failed write is retried with backoff (the store may be down or full);
 * meanwhile new rows wait.
 *
 * What waits is bounded by BYTES, whatever the offered rate: rows pending and
 * rows in batches not yet written (the one the sink is writing included) may
 * together take at most `maxPendingBytes`, each row costing `rowBytes(row)`
 * (for event rows a fixed cost measured once: EVENT_ROW_BYTES). Beyond the
 * bound the newest rows are dropped and counted per probe (`dropped`, shown as
 * lost_sink: never silently), and a dropped row's weight is carried to the
 * next row of the same probe and event that is kept, as the kernel does for a
 * full ring buffer, so sum(weight) still estimates the events seen. At close,
 * what still cannot be written within the deadline is counted as failed.
 */
import { RetryingQueue, type RetryOptions } from './retry.js';

export interface BatcherOptions extends RetryOptions {
  /** a batch holds at most this many rows ... */
  maxRows: number;
  /** ... and about this many serialized bytes (ROW_BYTES_ESTIMATE per row) */
  maxBytes: number;
  lingerMs: number;
  /** bound on the memory of rows waiting (pending + batches not yet written), in bytes of rowBytes() */
  maxPendingBytes: number;
  /** optional bound on the count of rows waiting as well (whichever is hit first) */
  maxPendingRows?: number;
}

/**
 * Memory of one decoded event row (schema/records.ts decodeBatch) while it waits: V8
 * heap bytes retained per row, measured once with --expose-gc over 100k
 * decoded uds rows (the widest kind: 12 fields with fd and ret, a fresh ts
 * and comm string each, and its slot in the pending array): 274 B, rounded up.
 */
export const EVENT_ROW_BYTES = 288;

/** Default bound on what waits for the sink (see README, --pending-bytes). */
export const DEFAULT_PENDING_BYTES = 32 << 20;

export const DEFAULT_BATCH: BatcherOptions = { maxRows: 50_000, maxBytes: 16 << 20, lingerMs: 1000, maxPendingBytes: DEFAULT_PENDING_BYTES, minBackoffMs: 250, maxBackoffMs: 10_000 };

/** Rough JSON size of a row, used for the batch byte bound without serializing twice. */
const ROW_BYTES_ESTIMATE = 200;

const MAX_WEIGHT = 0xffffffff;

type Row = { probe: string; event?: string; weight?: number };

export class Batcher<T extends Row> extends RetryingQueue {
  private pending: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> = Promise.resolve();
  private flushing = 0;
  /** rowBytes of the rows pending and in batches not yet written */
  private waitingBytes = 0;
  private readonly rowBytes: (row: T) => number;
  /** weight of dropped rows not yet carried by a kept row, per probe and event */
  private readonly carry = new Map<string, number>();
  /** rows dropped because too much was waiting (sink slow or down), per probe */
  readonly dropped = new Map<string, number>();
  /** rows given up on (sink still failing at close), per probe */
  readonly failed = new Map<string, number>();
  sentRows = 0;
  sentBatches = 0;

  constructor(
    private readonly write: (rows: T[]) => Promise<void>,
    private readonly opts: BatcherOptions & { rowBytes?: (row: T) => number } = DEFAULT_BATCH,
    onError: (err: Error, rows: number, attempt: number) => void = () => {},
    onRecover: (downMs: number) => void = () => {},
  ) {
    super(opts, onError, onRecover);
    this.rowBytes = opts.rowBytes ?? (() => EVENT_ROW_BYTES);
  }

  /** Is there room for about `bytes` more of rows? (callers may skip decoding when there is none) */
  hasRoom(bytes = 1): boolean {
    return this.waitingBytes + bytes <= this.opts.maxPendingBytes && (this.opts.maxPendingRows === undefined || this.pendingRows < this.opts.maxPendingRows);
  }

  /**
   * Count rows as dropped without having them as objects: `weights` is the
   * weight per event of the dropped rows (carried like any dropped row's).
   */
  drop(probe: string, rows: number, weights?: ReadonlyMap<string, number>): void {
    if (rows <= 0) return;
    this.dropped.set(probe, (this.dropped.get(probe) ?? 0) + rows);
    for (const [event, w] of weights ?? []) {
      const key = `${probe}\0${event}`;
      this.carry.set(key, (this.carry.get(key) ?? 0) + w);
    }
  }

  add(rows: readonly T[]): void {
    if (rows.length === 0) return;
    const maxBytes = this.opts.maxPendingBytes;
    let roomRows = this.opts.maxPendingRows === undefined ? Infinity : this.opts.maxPendingRows - this.pending.length - this.flushing;
    for (const r of rows) {
      const size = this.rowBytes(r);
      const key = r.event === undefined ? r.probe : `${r.probe}\0${r.event}`;
      if (roomRows <= 0 || this.waitingBytes + size > maxBytes) {
        this.dropped.set(r.probe, (this.dropped.get(r.probe) ?? 0) + 1);
        if (typeof r.weight === 'number') this.carry.set(key, (this.carry.get(key) ?? 0) + r.weight);
        continue;
      }
      if (this.carry.size > 0 && typeof r.weight === 'number') {
        const c = this.carry.get(key);
        if (c !== undefined) {
          const w = Math.min(MAX_WEIGHT, r.weight + c);
          const left = r.weight + c - w;
          if (left > 0) this.carry.set(key, left);
          else this.carry.delete(key);
          r.weight = w;
        }
      }
      this.pending.push(r);
      this.waitingBytes += size;
      roomRows--;
    }
    if (this.pending.length >= this.opts.maxRows || this.pending.length * ROW_BYTES_ESTIMATE >= this.opts.maxBytes) {
      void this.flush();
    } else if (!this.timer && this.pending.length > 0) {
      this.timer = setTimeout(() => void this.flush(), this.opts.lingerMs);
    }
  }

  private async writeWithRetry(batch: T[]): Promise<void> {
    if (await this.retry.run(() => this.write(batch), batch.length)) {
      this.sentRows += batch.length;
      this.sentBatches++;
    } else for (const r of batch) this.failed.set(r.probe, (this.failed.get(r.probe) ?? 0) + 1);
  }

  /** Send what is pending; resolves when every batch handed so far is written (or, closing, given up). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.opts.maxRows);
      let bytes = 0;
      for (const r of batch) bytes += this.rowBytes(r);
      this.flushing += batch.length;
      this.inflight = this.inflight.then(async () => {
        try {
          await this.writeWithRetry(batch);
        } finally {
          this.flushing -= batch.length;
          this.waitingBytes -= bytes;
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
    this.retry.close();
    await this.flush();
  }

  /** rows waiting: pending and in batches not yet written */
  get pendingRows(): number {
    return this.pending.length + this.flushing;
  }

  /** bytes (rowBytes) of the rows waiting */
  get pendingBytes(): number {
    return this.waitingBytes;
  }

  /** weight of dropped rows still waiting for a kept row of their probe and event to carry it */
  carriedWeight(probe?: string): number {
    let n = 0;
    for (const [k, w] of this.carry) if (probe === undefined || k === probe || k.startsWith(`${probe}\0`)) n += w;
    return n;
  }
}
