// Decoding ring-buffer records into rows: layout from schema/event.ts, names per
// probe, wall-clock conversion, and rejection (counted) of records it cannot name.
import { describe, expect, it } from 'vitest';
import { decodeBatch, tallyBatch } from '../../schema/records.js';
import { EventRow, RECORD_SIZE } from '../../schema/event.js';
import { Batcher } from '../../collector/pipeline/batcher.js';

function record(o: { ts: bigint; value: bigint; arg0: bigint; arg1: bigint; pid: number; tid: number; weight: number; probe: number; event: number; cpu: number; comm: string }): Buffer {
  const b = Buffer.alloc(RECORD_SIZE);
  b.writeBigUInt64LE(o.ts, 0);
  b.writeBigInt64LE(o.value, 8);
  b.writeBigUInt64LE(o.arg0, 16);
  b.writeBigUInt64LE(o.arg1, 24);
  b.writeUInt32LE(o.pid, 32);
  b.writeUInt32LE(o.tid, 36);
  b.writeUInt32LE(o.weight, 40);
  b.writeUInt8(o.probe, 44);
  b.writeUInt8(o.event, 45);
  b.writeUInt16LE(o.cpu, 46);
  b.write(o.comm, 48, 'latin1');
  return b;
}

describe('decodeBatch', () => {
  it('decodes every field and names probe/event/attributes', () => {
    const buf = Buffer.concat([
      record({ ts: 1_000_000_000n, value: 2_000_000n, arg0: 5n, arg1: BigInt.asUintN(64, -11n), pid: 100, tid: 101, weight: 1000, probe: 1, event: 1, cpu: 1, comm: 'v2broker' }),
      record({ ts: 2_000_000_000n, value: 150_000n, arg0: BigInt((8 << 20) | 1), arg1: 4096n, pid: 7, tid: 7, weight: 1, probe: 3, event: 1, cpu: 0, comm: 'dd' }),
    ]);
    const { rows, rejected } = decodeBatch(buf, { host: 'h', monoToWallNs: 1_700_000_000_000_000_000n });
    expect(rejected).toBe(0);
    expect(rows[0]).toEqual({ ts: '1700000001000000000', host: 'h', probe: 'uds', event: 'recvmsg', pid: 100, tid: 101, comm: 'v2broker', value: 2_000_000, weight: 1000, cpu: 1, fd: 5, ret: -11 });
    expect(rows[1]).toMatchObject({ probe: 'blockio', event: 'write', dev: (8 << 20) | 1, bytes: 4096, comm: 'dd' });
    for (const r of rows) expect(() => EventRow.parse(r)).not.toThrow();
  });

  it('a full 15-character comm is kept whole', () => {
    const { rows } = decodeBatch(record({ ts: 1n, value: 1n, arg0: 0n, arg1: 0n, pid: 1, tid: 1, weight: 1, probe: 2, event: 0, cpu: 0, comm: 'v2broker-worker' }), { host: 'h', monoToWallNs: 0n });
    expect(rows[0].comm).toBe('v2broker-worker');
  });

  it('counts records with unknown probe ids or events as rejected', () => {
    const buf = Buffer.concat([
      record({ ts: 1n, value: 1n, arg0: 0n, arg1: 0n, pid: 1, tid: 1, weight: 1, probe: 99, event: 0, cpu: 0, comm: 'x' }),
      record({ ts: 1n, value: 1n, arg0: 0n, arg1: 0n, pid: 1, tid: 1, weight: 1, probe: 1, event: 42, cpu: 0, comm: 'x' }),
    ]);
    expect(decodeBatch(buf, { host: 'h', monoToWallNs: 0n })).toEqual({ rows: [], rejected: 2 });
  });

  it('tallyBatch counts what decodeBatch would make: rows and weight per probe and event, rejected records', () => {
    const r = (probe: number, event: number, weight: number) => record({ ts: 1n, value: 1n, arg0: 0n, arg1: 0n, pid: 1, tid: 1, weight, probe, event, cpu: 0, comm: 'x' });
    const buf = Buffer.concat([r(1, 0, 3), r(1, 1, 1), r(1, 0, 0), r(3, 1, 7), r(99, 0, 5), r(1, 42, 5)]);
    const t = tallyBatch(buf);
    const d = decodeBatch(buf, { host: 'h', monoToWallNs: 0n });
    expect(t.rejected).toBe(d.rejected);
    expect([...t.rows.keys()].sort()).toEqual(['blockio', 'uds']);
    expect(t.rows.get('uds')).toEqual({ rows: 3, weights: new Map([['sendmsg', 4], ['recvmsg', 1]]) });
    expect(t.rows.get('blockio')).toEqual({ rows: 1, weights: new Map([['write', 7]]) });
    const w = (p: string, e: string) => d.rows.filter((x) => x.probe === p && x.event === e).reduce((n, x) => n + x.weight, 0);
    expect(w('uds', 'sendmsg')).toBe(4);
    expect(w('blockio', 'write')).toBe(7);
  });
});

describe('Batcher', () => {
  it('flushes by rows, keeps order, and counts what overflows per probe', async () => {
    const got: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = new Batcher<{ probe: string; i: number }>(
      async (rows) => {
        await gate;
        got.push(rows.map((r) => r.i));
      },
      { maxRows: 3, maxBytes: 1 << 30, lingerMs: 10_000, maxPendingBytes: 1 << 30, maxPendingRows: 5 },
    );
    b.add([0, 1, 2, 3, 4, 5, 6].map((i) => ({ probe: i < 6 ? 'uds' : 'sched', i })));
    expect(b.dropped.get('uds')).toBe(1);
    expect(b.dropped.get('sched')).toBe(1);
    release();
    await b.flush();
    expect(got).toEqual([[0, 1, 2], [3, 4]]);
    expect(b.sentRows).toBe(5);
  });

  it('a failing sink is retried with backoff; rows wait (bounded) and are written when it recovers', async () => {
    let failures = 3;
    const written: number[] = [];
    const b = new Batcher<{ probe: string; i: number }>(async (rows) => {
      if (failures-- > 0) throw new Error('store down');
      written.push(...rows.map((r) => r.i));
    }, { maxRows: 10, maxBytes: 1 << 30, lingerMs: 5, maxPendingBytes: 1 << 30, maxPendingRows: 100, minBackoffMs: 5, maxBackoffMs: 20 });
    b.add([0, 1, 2].map((i) => ({ probe: 'uds', i })));
    await b.flush();
    expect(written).toEqual([0, 1, 2]);
    expect(b.retries).toBe(3);
    expect(b.down).toBe(false);
    expect(b.failed.size).toBe(0);
  });

  it('at close, rows the sink still refuses after the deadline are counted as failed, per probe', async () => {
    const b = new Batcher<{ probe: string }>(async () => {
      throw new Error('store down');
    }, { maxRows: 10, maxBytes: 1 << 30, lingerMs: 5, maxPendingBytes: 1 << 30, maxPendingRows: 100, minBackoffMs: 5, maxBackoffMs: 10 });
    b.add([{ probe: 'uds' }, { probe: 'uds' }]);
    await b.close(50);
    expect(b.failed.get('uds')).toBe(2);
    expect(b.down).toBe(true);
    expect(b.lastError?.message).toBe('store down');
  });

  it('what waits is bounded by bytes: pending rows and batches not yet written, the excess dropped and counted per probe', async () => {
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    const written: number[] = [];
    const b = new Batcher<{ probe: string; i: number }>(
      async (rows) => {
        await gate;
        written.push(...rows.map((r) => r.i));
      },
      { maxRows: 2, maxBytes: 1 << 30, lingerMs: 10_000, maxPendingBytes: 500, rowBytes: () => 100 },
    );
    // 2 batches handed to the sink (stuck in the write) + 1 pending = 5 rows = 500 bytes: the rest is dropped
    b.add([0, 1, 2, 3, 4, 5, 6].map((i) => ({ probe: i % 2 ? 'sched' : 'uds', i })));
    expect(b.pendingRows).toBe(5);
    expect(b.pendingBytes).toBe(500);
    expect(b.hasRoom(100)).toBe(false);
    expect(b.dropped.get('sched')).toBe(1);
    expect(b.dropped.get('uds')).toBe(1);
    release();
    await b.flush();
    expect(written).toEqual([0, 1, 2, 3, 4]);
    // written batches free their bytes
    expect(b.pendingBytes).toBe(0);
    gate = Promise.resolve();
    b.add([{ probe: 'uds', i: 7 }]);
    await b.flush();
    expect(written).toEqual([0, 1, 2, 3, 4, 7]);
  });

  it('a dropped row\'s weight goes to the next kept row of the same probe and event: sum(weight) is kept', async () => {
    type R = { probe: string; event: string; weight: number };
    const written: R[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = new Batcher<R>(
      async (rows) => {
        await gate;
        written.push(...rows);
      },
      { maxRows: 1, maxBytes: 1 << 30, lingerMs: 10_000, maxPendingBytes: 2 * 288 },
    );
    const row = (event: string, weight: number): R => ({ probe: 'uds', event, weight });
    // two rows fit (EVENT_ROW_BYTES each); the next three are dropped
    b.add([row('sendmsg', 1), row('recvmsg', 1), row('sendmsg', 10), row('sendmsg', 5), row('recvmsg', 2)]);
    expect(b.dropped.get('uds')).toBe(3);
    expect(b.carriedWeight('uds')).toBe(17);
    release();
    await b.flush();
    // rows of another event do not take it; the next sendmsg takes 15, the next recvmsg 2
    b.add([row('sendmsg', 1)]);
    expect(b.carriedWeight('uds')).toBe(2);
    await b.flush();
    b.add([row('recvmsg', 3)]);
    expect(b.carriedWeight()).toBe(0);
    await b.flush();
    b.add([row('recvmsg', 1)]);
    await b.flush();
    expect(written.map((r) => `${r.event}:${r.weight}`)).toEqual(['sendmsg:1', 'recvmsg:1', 'sendmsg:16', 'recvmsg:5', 'recvmsg:1']);
    expect(written.reduce((n, r) => n + r.weight, 0)).toBe(1 + 1 + 10 + 5 + 2 + 1 + 3 + 1);
    // a whole batch counted without its rows (drop): counted and carried the same way
    b.drop('uds', 4, new Map([['sendmsg', 9]]));
    expect(b.dropped.get('uds')).toBe(7);
    b.add([row('sendmsg', 1)]);
    await b.flush();
    expect(written[written.length - 1].weight).toBe(10);
  });
});
