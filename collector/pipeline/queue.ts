/**
 * collector/pipeline/queue.ts — the one interface of the collector's event
 * queue, and which one a sink gets: a sink that takes records
 * (Sink.writeRecords: the store) gets the binary RecordQueue (records.ts);
 * the others (stdout, Kafka) get the row queue below, which decodes each
 * ring-buffer batch into rows (schema/records.ts) for a Batcher (batcher.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { EventRow } from '../../schema/event.js';
import type { RawContext } from '../../schema/raw.js';
import { Batcher, EVENT_ROW_BYTES, type BatcherOptions } from './batcher.js';
import { decodeBatch, tallyBatch } from '../../schema/records.js';
import { RecordQueue, type RecordBatch } from './records.js';

/** What the queues need of a sink (sinks/sink.ts Sink has it; the base does not import the sinks). */
export interface EventSink {
  readonly name: string;
  writeEvents(rows: EventRow[]): Promise<void>;
  writeRecords?(batch: RecordBatch): Promise<void>;
}

/**
 * The event queue for `sink`: binary (RecordQueue) when it takes records and
 * `rowPath` is not asked for, else rows (RowQueue). Write failures are logged
 * once when an outage starts, then every 10th attempt (the backoff caps at 10 s).
 */
export function eventQueue(sink: EventSink, bound: BatcherOptions, logger: Logger, o: { session: string; rowPath?: boolean }): EventQueue {
  const onError = (err: Error, n: number, attempt: number) => {
    if (attempt === 1 || attempt % 10 === 0) logger.error({ err: err.message, rows: n, attempt, sink: sink.name }, 'sink write failed; retrying with backoff (rows wait in memory, bounded)');
  };
  const onRecover = (downMs: number) => logger.info({ sink: sink.name, downMs }, 'sink is back; caught up');
  if (sink.writeRecords && !o.rowPath) return new RecordQueue((b) => sink.writeRecords!(b), bound, `${o.session}:${randomBytes(6).toString('hex')}`, onError, onRecover);
  return new RowQueue(new Batcher<EventRow>((rows) => sink.writeEvents(rows), bound, onError, onRecover));
}

export interface EventQueue {
  /** take one ring-buffer batch of records; returns how many were rejected (unknown ids, a partial record) */
  offer(buf: Buffer, ctx: RawContext): number;
  /** records dropped because too much was waiting, per probe */
  readonly dropped: ReadonlyMap<string, number>;
  /** records given up on at close, per probe */
  readonly failed: ReadonlyMap<string, number>;
  readonly sentRows: number;
  readonly pendingRows: number;
  readonly pendingBytes: number;
  readonly retries: number;
  readonly down: boolean;
  readonly downSince: number | undefined;
  readonly lastError: Error | undefined;
  /** weight of dropped records not yet carried by a kept one */
  carriedWeight(probe?: string): number;
  flush(): Promise<void>;
  close(deadlineMs?: number): Promise<void>;
}

/** The row queue: decode, then batch rows (sinks without writeRecords). */
export class RowQueue implements EventQueue {
  constructor(readonly batcher: Batcher<EventRow>) {}

  offer(buf: Buffer, ctx: RawContext): number {
    if (!this.batcher.hasRoom(EVENT_ROW_BYTES)) {
      // nothing more may wait: count the batch's rows as dropped (weights
      // carried) without building rows that would only be dropped
      const t = tallyBatch(buf);
      for (const [probe, r] of t.rows) this.batcher.drop(probe, r.rows, r.weights);
      return t.rejected;
    }
    const { rows, rejected } = decodeBatch(buf, ctx);
    this.batcher.add(rows);
    return rejected;
  }

  get dropped() { return this.batcher.dropped; }
  get failed() { return this.batcher.failed; }
  get sentRows() { return this.batcher.sentRows; }
  get pendingRows() { return this.batcher.pendingRows; }
  get pendingBytes() { return this.batcher.pendingBytes; }
  get retries() { return this.batcher.retries; }
  get down() { return this.batcher.down; }
  get downSince() { return this.batcher.downSince; }
  get lastError() { return this.batcher.lastError; }
  carriedWeight(probe?: string): number {
    return this.batcher.carriedWeight(probe);
  }
  flush(): Promise<void> {
    return this.batcher.flush();
  }
  close(deadlineMs?: number): Promise<void> {
    return this.batcher.close(deadlineMs);
  }
}
