/**
 * collector/pipeline/records.ts — the event queue of a binary sink: ring-buffer
 * batches of `struct v2_event` records wait as the bytes they came in and go
 * to the sink as one buffer per write (Sink.writeRecords; the store maps them
 * to rows in SQL, schema/raw.ts). No JS object per event.
 *
 * Same contract as the row queue (pipeline/batcher.ts, which the other sinks
 * use): what waits is bounded by bytes (the records' own 64 B each); beyond
 * the bound a whole ring-buffer batch is dropped and counted per probe, and
 * its weight per probe and event is carried to the next kept record of the
 * same probe and event (written into that record's weight), so sum(weight)
 * still estimates the events seen; records with an unknown probe id or event
 * index and a trailing partial record are counted as rejected (the store's
 * SELECT leaves them out by the same rule); a failed write is retried with
 * backoff (pipeline/retry.ts); at close what cannot be written is counted as
 * failed, per probe.
 */
import { PROBE_BY_ID, RECORD_SIZE } from '../../schema/event.js';
import { knownProbe, OFF, recordWeight } from '../../schema/records.js';
import type { RawContext } from '../../schema/raw.js';
import { RetryingQueue, type RetryOptions } from './retry.js';

export interface RecordBatch {
  /** n × RECORD_SIZE bytes of `struct v2_event`, as the ring buffer gave them */
  records: Buffer;
  /** records in it with a known probe and event (what the store will hold) */
  rows: number;
  /** the host and clock offset of the collector that read them */
  ctx: RawContext;
  /** one id per batch for the store's insert_deduplication_token (a retried write is stored once) */
  token: string;
}

export interface RecordQueueOptions extends RetryOptions {
  /** a write holds at most this many records */
  maxRows: number;
  lingerMs: number;
  /** bound on the bytes of records waiting (pending + being written) */
  maxPendingBytes: number;
}

const MAX_WEIGHT = 0xffffffff;
const W_OFF = OFF.weight;
const PROBE_OFF = OFF.probe;
const EVENT_OFF = OFF.event;

interface Chunk {
  buf: Buffer;
  /** known records per probe name */
  perProbe: Map<string, number>;
  rows: number;
  ctx: RawContext;
}

/** Known records per probe, and rejected ones, of a batch (two bytes read per record). */
function census(buf: Buffer): { perProbe: Map<string, number>; rows: number; rejected: number } {
  const perProbe = new Map<string, number>();
  const n = Math.floor(buf.length / RECORD_SIZE);
  let rows = 0;
  let lastId = -1;
  let lastName = '';
  let lastCount = 0;
  for (let o = 0; o < n * RECORD_SIZE; o += RECORD_SIZE) {
    const name = knownProbe(buf, o);
    if (!name) continue;
    const id = buf[o + PROBE_OFF];
    rows++;
    // runs of one probe are the rule (a batch is one family's ring buffer): count a run at once
    if (id === lastId) lastCount++;
    else {
      if (lastCount) perProbe.set(lastName, (perProbe.get(lastName) ?? 0) + lastCount);
      lastId = id;
      lastName = name;
      lastCount = 1;
    }
  }
  if (lastCount) perProbe.set(lastName, (perProbe.get(lastName) ?? 0) + lastCount);
  return { perProbe, rows, rejected: n - rows + (buf.length % RECORD_SIZE ? 1 : 0) };
}

export class RecordQueue extends RetryingQueue {
  private pending: Chunk[] = [];
  private pendingRowCount = 0;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> = Promise.resolve();
  private flushingRows = 0;
  private waitingBytes = 0;
  private seq = 0;
  /** weight of dropped records not yet carried, by probe id × 256 + event */
  private readonly carry = new Map<number, number>();
  /** records dropped because too much was waiting (sink slow or down), per probe */
  readonly dropped = new Map<string, number>();
  /** records given up on (sink still failing at close), per probe */
  readonly failed = new Map<string, number>();
  sentRows = 0;
  sentBatches = 0;

  constructor(
    private readonly write: (batch: RecordBatch) => Promise<void>,
    private readonly opts: RecordQueueOptions,
    /** a prefix unique to this queue's process (the batches' tokens are prefix:seq) */
    private readonly session: string,
    onError: (err: Error, rows: number, attempt: number) => void = () => {},
    onRecover: (downMs: number) => void = () => {},
  ) {
    super(opts, onError, onRecover);
  }

  /**
   * Take one ring-buffer batch (copied: the caller's buffer may be reused).
   * Returns the records rejected (unknown probe or event, partial record).
   */
  offer(buf: Buffer, ctx: RawContext): number {
    const c = census(buf);
    const used = buf.length - (buf.length % RECORD_SIZE);
    if (c.rows === 0) return c.rejected;
    if (this.waitingBytes + used > this.opts.maxPendingBytes) {
      this.dropChunk(buf.subarray(0, used), c.perProbe);
      return c.rejected;
    }
    const own = Buffer.from(buf.subarray(0, used));
    if (this.carry.size > 0) this.carryInto(own);
    this.pending.push({ buf: own, perProbe: c.perProbe, rows: c.rows, ctx });
    this.pendingRowCount += c.rows;
    this.waitingBytes += used;
    if (this.pendingRowCount >= this.opts.maxRows) void this.flush();
    else if (!this.timer) this.timer = setTimeout(() => void this.flush(), this.opts.lingerMs);
    return c.rejected;
  }

  private dropChunk(buf: Buffer, perProbe: Map<string, number>): void {
    for (const [p, n] of perProbe) this.dropped.set(p, (this.dropped.get(p) ?? 0) + n);
    for (let o = 0; o < buf.length; o += RECORD_SIZE) {
      if (!knownProbe(buf, o)) continue;
      const key = buf[o + PROBE_OFF] * 256 + buf[o + EVENT_OFF];
      this.carry.set(key, (this.carry.get(key) ?? 0) + recordWeight(buf, o));
    }
  }

  /** Give carried weight to the first kept record of each probe and event (capped at UInt32; the rest waits). */
  private carryInto(buf: Buffer): void {
    for (let o = 0; o < buf.length && this.carry.size > 0; o += RECORD_SIZE) {
      const key = buf[o + PROBE_OFF] * 256 + buf[o + EVENT_OFF];
      const c = this.carry.get(key);
      if (c === undefined) continue;
      const w = recordWeight(buf, o);
      const nw = Math.min(MAX_WEIGHT, w + c);
      buf.writeUInt32LE(nw, o + W_OFF);
      if (w + c - nw > 0) this.carry.set(key, w + c - nw);
      else this.carry.delete(key);
    }
  }

  /** Send what is pending (chunks of one clock offset together, ≤ maxRows each); resolves when all handed so far is written or given up. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.pending.length > 0) {
      const group: Chunk[] = [this.pending[0]];
      let rows = this.pending[0].rows;
      for (let i = 1; i < this.pending.length; i++) {
        const c = this.pending[i];
        if (c.ctx.monoToWallNs !== group[0].ctx.monoToWallNs || c.ctx.host !== group[0].ctx.host || rows + c.rows > this.opts.maxRows) break;
        group.push(c);
        rows += c.rows;
      }
      this.pending.splice(0, group.length);
      this.pendingRowCount -= rows;
      const bytes = group.reduce((n, c) => n + c.buf.length, 0);
      const batch: RecordBatch = {
        records: group.length === 1 ? group[0].buf : Buffer.concat(group.map((c) => c.buf), bytes),
        rows,
        ctx: group[0].ctx,
        token: `${this.session}:${this.seq++}`,
      };
      this.flushingRows += rows;
      this.inflight = this.inflight.then(async () => {
        try {
          if (await this.retry.run(() => this.write(batch), rows)) {
            this.sentRows += rows;
            this.sentBatches++;
          } else for (const c of group) for (const [p, n] of c.perProbe) this.failed.set(p, (this.failed.get(p) ?? 0) + n);
        } finally {
          this.flushingRows -= rows;
          this.waitingBytes -= bytes;
        }
      });
    }
    return this.inflight;
  }

  /** Flush and wait up to `deadlineMs`; after it one last attempt per batch, and what still fails is counted in `failed`. */
  async close(deadlineMs = 10_000): Promise<void> {
    const done = this.flush();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)))]);
    clearTimeout(timer);
    this.retry.close();
    await this.flush();
  }

  get pendingRows(): number {
    return this.pendingRowCount + this.flushingRows;
  }
  get pendingBytes(): number {
    return this.waitingBytes;
  }
  /** weight of dropped records still waiting for a kept record of their probe and event */
  carriedWeight(probe?: string): number {
    let n = 0;
    for (const [key, w] of this.carry) if (probe === undefined || PROBE_BY_ID.get(key >> 8) === probe) n += w;
    return n;
  }
}
