/**
 * collector/sinks/spool.ts — a bounded on-disk queue of Kafka messages, used
 * while Kafka is unreachable or slow. One file per message, named by a
 * monotonically increasing number, so order survives restarts:
 *   <dir>/<000000000001>.msg = u32 meta length | meta JSON {key, rows:{probe:n}} | value
 * When adding a message would exceed `maxBytes`, the OLDEST messages are
 * dropped (the newest data is the one an incident needs) and their rows are
 * counted per probe in `dropped` (reported as the `lost_spool` counter).
 * File I/O is synchronous and small; it runs on the JS thread, never on the
 * ring-buffer thread. A disk that fills before maxBytes (ENOSPC) is treated
 * like a full spool: the oldest messages are dropped (counted) until the new one
 * fits; with nothing left to drop, push throws naming the directory.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SpoolEntry {
  id: number;
  key: string;
  value: Buffer;
  rows: Record<string, number>;
}

export class Spool {
  private ids: number[] = [];
  private sizes = new Map<number, number>();
  private next = 1;
  bytes = 0;
  readonly dropped = new Map<string, number>();
  droppedMessages = 0;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir)) {
      if (/^\d{12}\.msg\.tmp$/.test(f)) {
        unlinkSync(join(dir, f)); // a write cut short (crash, disk full): never renamed, so never acknowledged
        continue;
      }
      const m = /^(\d{12})\.msg$/.exec(f);
      if (!m) continue;
      const id = Number(m[1]);
      const size = statSync(join(dir, f)).size;
      this.ids.push(id);
      this.sizes.set(id, size);
      this.bytes += size;
    }
    this.ids.sort((a, b) => a - b);
    if (this.ids.length) this.next = this.ids[this.ids.length - 1] + 1;
  }

  get count(): number {
    return this.ids.length;
  }

  private file(id: number): string {
    return join(this.dir, `${String(id).padStart(12, '0')}.msg`);
  }

  private readMeta(id: number): { key: string; rows: Record<string, number> } {
    const fd = openSync(this.file(id), 'r');
    try {
      const len = Buffer.alloc(4);
      readSync(fd, len, 0, 4, 0);
      const meta = Buffer.alloc(len.readUInt32LE(0));
      readSync(fd, meta, 0, meta.length, 4);
      return JSON.parse(meta.toString('utf8'));
    } finally {
      closeSync(fd);
    }
  }

  /** Append a message; drops the oldest when over the bound. */
  push(key: string, value: Buffer, rows: Record<string, number>): void {
    const meta = Buffer.from(JSON.stringify({ key, rows }));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(meta.length, 0);
    const data = Buffer.concat([len, meta, value]);
    while (this.ids.length > 0 && this.bytes + data.length > this.maxBytes) this.dropOldest();
    const id = this.next++;
    const tmp = this.file(id) + '.tmp';
    for (;;) {
      try {
        writeFileSync(tmp, data);
        const fd = openSync(tmp, 'r');
        fsyncSync(fd);
        closeSync(fd);
        renameSync(tmp, this.file(id));
        break;
      } catch (err) {
        // never leave a partial file behind (it would hold the space and is never read)
        try {
          unlinkSync(tmp);
        } catch {
          /* not created */
        }
        const code = (err as NodeJS.ErrnoException).code;
        // the disk is smaller than maxBytes: the spool is full, so drop the oldest (counted) and retry
        if ((code === 'ENOSPC' || code === 'EDQUOT') && this.ids.length > 0) {
          this.dropOldest();
          continue;
        }
        throw new Error(`spool ${this.dir}: cannot write a ${data.length}-byte batch: ${code ?? ''} ${(err as Error).message}`.replace(/\s+/g, ' '), { cause: err });
      }
    }
    this.ids.push(id);
    this.sizes.set(id, data.length);
    this.bytes += data.length;
  }

  private dropOldest(): void {
    const id = this.ids[0];
    try {
      const meta = this.readMeta(id);
      for (const [p, n] of Object.entries(meta.rows)) this.dropped.set(p, (this.dropped.get(p) ?? 0) + n);
    } catch {
      /* unreadable meta: the message is still counted below */
    }
    this.droppedMessages++;
    this.remove(id);
  }

  /** The oldest message, without removing it. */
  peek(): SpoolEntry | undefined {
    const id = this.ids[0];
    if (id === undefined) return undefined;
    const data = readFileSync(this.file(id));
    const mlen = data.readUInt32LE(0);
    const meta = JSON.parse(data.subarray(4, 4 + mlen).toString('utf8')) as { key: string; rows: Record<string, number> };
    return { id, key: meta.key, rows: meta.rows, value: data.subarray(4 + mlen) };
  }

  remove(id: number): void {
    const i = this.ids.indexOf(id);
    if (i < 0) return;
    this.ids.splice(i, 1);
    this.bytes -= this.sizes.get(id) ?? 0;
    this.sizes.delete(id);
    try {
      unlinkSync(this.file(id));
    } catch {
      /* already gone */
    }
  }
}
