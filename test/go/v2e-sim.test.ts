// v2e-sim, the reference workload (test/fixtures/go/v2e-sim: a broker and K
// services over Unix sockets, a shared-memory ring per connection, a WAL with
// group-commit fdatasync, allocation per message): v2probe's counts in one run
// against the workload's own counters, exactly, and the broker's fdatasync
// latency against its own clock. The processes run under private names (a
// comm prefix of their own), so the same workload run by another suite beside
// this one is not counted.
import { randomBytes } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isRoot, percentile, startCollector } from '../helpers/probes.js';
import { buildGoFixture, Stepper } from './go-fixtures.js';

interface Truth {
  messages: number;
  ring: { publishes: number; overflows: number; capacity: number };
  fsync: { count: number; p50_us: number };
  broker: { pid: number; fsyncs: number; requests: number; runtime: { gc_cycles: number } };
  services: Array<{ pid: number; messages: number; runtime: { gc_cycles: number } }>;
}

describe.skipIf(!isRoot)('v2e-sim reference workload vs its own ground truth', () => {
  it('uds, shm, fsync and go_gc counts equal the app\'s; fdatasync p50 within 15 % + 20 µs of its clock', async () => {
    const bin = buildGoFixture('v2e-sim');
    const prefix = `v2e${randomBytes(3).toString('hex')}`;
    const K = 2, SLOTS = 8, SLOT_BYTES = 16384;
    const s = await startCollector({ probes: ['uds', 'shm', 'fsync', 'go_gc'], comm: prefix, optIn: { udsReadWrite: true }, targets: { binaries: [bin] } });
    onTestFinished(() => s.collector.stop());
    for (const st of s.status) expect(st.state, `${st.probe}: ${st.error}`).toBe('running');
    const fx = new Stepper(bin, ['-hold', '-k', String(K), '-rate', '1000', '-duration', '2s', '-mix', '512:70,16384:30',
      '-ring-slots', String(SLOTS), '-slot-bytes', String(SLOT_BYTES), '-consume-every', '5ms', '-consume-max', '1',
      '-broker-name', `${prefix}b`, '-service-name', `${prefix}s`]);
    onTestFinished(() => void fx.child.kill());
    await fx.next(60_000); // every process connected, its ring registered
    fx.step();
    const t = (await fx.next(120_000)) as unknown as Truth;
    expect(await fx.exited, fx.stderr).toBe(0);
    const uds = s.collector.counters('uds');
    const shm = s.collector.counters('shm');
    const fsync = s.collector.counters('fsync');
    const gc = s.collector.keyedCounts('go_gc');
    await s.collector.stop();
    console.log(`v2e-sim: ${t.messages} messages, ring ${t.ring.publishes} publishes / ${t.ring.overflows} overflows, ${t.fsync.count} fdatasyncs (p50 ${t.fsync.p50_us.toFixed(1)} µs); ` +
      `v2probe uds ${JSON.stringify(uds)}, shm ${JSON.stringify(shm)}, fsync ${JSON.stringify(fsync)}`);

    // the workload did what it was asked (a ring that overflows, a WAL that syncs)
    expect(t.messages).toBeGreaterThan(100);
    expect(t.broker.requests).toBe(t.messages);
    expect(t.ring.publishes).toBeGreaterThan(0);
    // uds (AF_UNIX only, read/write hooked): one write per request (services) and per reply (broker);
    // each connection is one connect and one sendmsg (the ring's memfd, SCM_RIGHTS)
    const conns = K;
    expect(uds.calls_write).toBe(2 * t.messages);
    expect([uds.calls_connect, uds.calls_sendmsg]).toEqual([conns, conns]);
    // shm: a memfd per connection, sized once, mapped shared by the service and by the broker
    const ringBytes = 128 + SLOTS * (24 + SLOT_BYTES);
    expect([shm.calls_memfd_create, shm.calls_ftruncate, shm.calls_mmap]).toEqual([conns, conns, 2 * conns]);
    expect(shm.bytes_ftruncate).toBe(conns * ringBytes);
    // fsync: every WAL batch is one small write and one fdatasync, by the broker only
    expect(fsync.calls_fdatasync).toBe(t.broker.fsyncs);
    const rows = s.sink.events.filter((e) => e.probe === 'fsync' && e.pid === t.broker.pid);
    const datasync = rows.filter((e) => e.event === 'fdatasync').map((e) => e.value);
    expect(datasync.length).toBe(t.broker.fsyncs);
    expect(rows.filter((e) => e.event === 'write').length).toBe(t.broker.fsyncs);
    const p50us = percentile(datasync, 50) / 1e3;
    console.log(`fdatasync p50: v2probe ${p50us.toFixed(1)} µs, app ${t.fsync.p50_us.toFixed(1)} µs; GC cycles broker ${t.broker.runtime.gc_cycles}, services ${t.services.map((x) => x.runtime.gc_cycles).join('/')}`);
    expect(Math.abs(p50us - t.fsync.p50_us), `fdatasync p50: v2probe ${p50us.toFixed(1)} µs, app ${t.fsync.p50_us.toFixed(1)} µs`).toBeLessThanOrEqual(0.15 * t.fsync.p50_us + 20);
    // go_gc: every completed GC cycle of every process (each forces one before it reports)
    const cycles = (pid: number) => gc.find((k) => k.pid === pid)?.count ?? 0;
    expect(cycles(t.broker.pid)).toBe(t.broker.runtime.gc_cycles);
    for (const svc of t.services) expect(cycles(svc.pid)).toBe(svc.runtime.gc_cycles);
  });
});
