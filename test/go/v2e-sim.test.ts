// v2e-sim, the reference workload (test/fixtures/go/v2e-sim: a broker and K
// services over Unix sockets, a shared-memory ring per connection, a WAL with
// group-commit fdatasync, allocation per message): v2probe's counts in one run
// against the workload's own counters, exactly, and the broker's fdatasync
// latency against its own clock. The processes run under private names (a
// comm prefix of their own), so the same workload run by another suite beside
// this one is not counted.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadRules } from '../../alerts/rules.js';
import { ruleSql, substitute } from '../../alerts/query.js';
import { openStore } from '../../store/index.js';
import { ROOT, startCli } from '../helpers/cli.js';
import { isRoot, percentile, startCollector } from '../helpers/probes.js';
import { buildGoFixture, Stepper } from './go-fixtures.js';

interface Truth {
  messages: number;
  ring: { publishes: number; overflows: number; capacity: number; consumed: number; overflow_rate: number; max_fill: number; access_p50_us: number; access_p99_us: number };
  fsync: { count: number; p50_us: number };
  broker: { pid: number; fsyncs: number; requests: number; runtime: { gc_cycles: number } };
  services: Array<{ pid: number; messages: number; runtime: { gc_cycles: number } }>;
}

/**
 * v2e-sim with a consumer slower than its publishers (8-slot rings, one slot
 * consumed per 2 ms poll): the rings overflow now and then. Its ground truth.
 */
async function overflowingRun(bin: string, prefix: string): Promise<Truth> {
  const fx = new Stepper(bin, ['-hold', '-k', '2', '-rate', '2000', '-duration', '2s', '-mix', '512:50,16384:50',
    '-ring-slots', '8', '-consume-every', '2ms', '-consume-max', '1', '-broker-name', `${prefix}b`, '-service-name', `${prefix}s`]);
  onTestFinished(() => void fx.child.kill());
  await fx.next(60_000); // every process connected, its ring registered
  fx.step();
  const t = (await fx.next(120_000)) as unknown as Truth;
  expect(await fx.exited, fx.stderr).toBe(0);
  return t;
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

  it('--shm-ring: publishes, overflows and paired accesses exact; overflow rate within 0.5 pp; access p50 within 10 % of the app\'s clock', async () => {
    const bin = buildGoFixture('v2e-sim');
    const prefix = `v2e${randomBytes(3).toString('hex')}`;
    const ring = { binary: bin, publish: 'main.Publish', consume: 'main.Consume', overflow: 'main.Overflow', seq: 1, fill: 2 };
    const s = await startCollector({ probes: ['shm'], comm: prefix, targets: { shmRings: [ring] } });
    onTestFinished(() => s.collector.stop());
    expect(s.status[0].state, s.status[0].error).toBe('running');
    const t = await overflowingRun(bin, prefix);
    const k = s.collector.counters('shm');
    const h = s.collector.histograms('shm');
    await s.collector.stop();
    const rows = s.sink.events.filter((e) => e.probe === 'shm');
    const of = (ev: string) => rows.filter((e) => e.event === ev);
    const access = of('access').map((e) => e.value);
    const p50us = percentile(access, 50) / 1e3;
    const rate = k.calls_overflow / (k.calls_publish + k.calls_overflow);
    console.log(`shm ring: app ${t.ring.publishes} publishes, ${t.ring.overflows} overflows (${(100 * t.ring.overflow_rate).toFixed(2)} %), access p50 ${t.ring.access_p50_us.toFixed(1)} µs; ` +
      `v2probe ${k.calls_publish} / ${k.calls_overflow} (${(100 * rate).toFixed(2)} %), ${k.calls_access} paired, ${k.ring_unpaired} unpaired, access p50 ${p50us.toFixed(1)} µs`);
    expect(t.ring.publishes).toBeGreaterThan(50);
    expect(t.ring.overflows).toBeGreaterThan(0);
    // exact: every call of each function (entry uprobes, attached before the load started)
    expect([k.calls_publish, k.calls_overflow]).toEqual([t.ring.publishes, t.ring.overflows]);
    expect([k.calls_access, k.ring_unpaired]).toEqual([t.ring.consumed, 0]);
    expect(Math.abs(rate - t.ring.overflow_rate)).toBeLessThanOrEqual(0.005);
    // rows (1:1 by default) and the fill-level histogram: one per publish
    expect([of('publish').length, of('overflow').length, access.length]).toEqual([t.ring.publishes, t.ring.overflows, t.ring.consumed]);
    expect(h.publish.reduce((a, b) => a + b, 0)).toBe(t.ring.publishes);
    expect(Math.max(...of('publish').map((e) => e.value)) + 1).toBe(t.ring.max_fill);
    expect(of('overflow').every((e) => e.value === t.ring.capacity)).toBe(true);
    expect(Math.abs(p50us - t.ring.access_p50_us), `access p50: v2probe ${p50us.toFixed(1)} µs, app ${t.ring.access_p50_us.toFixed(1)} µs`).toBeLessThanOrEqual(0.1 * t.ring.access_p50_us);
  });

  it('collect --shm-ring into chDB: the default rules ShmOverflowRateHigh and ShmAccessLatencyHigh compute on real rows (the app\'s overflow rate; an access p99 past the 10 µs target fires)', async () => {
    const bin = buildGoFixture('v2e-sim');
    const prefix = `v2e${randomBytes(3).toString('hex')}`;
    const dsn = `chdb:${mkdtempSync(join(tmpdir(), 'v2e-shm-'))}`;
    const t0 = Date.now();
    const run = startCli(['collect', '--probes', 'shm', '--comm', prefix, '--sink', dsn,
      '--shm-ring', `${bin}:publish=main.Publish,consume=main.Consume,overflow=main.Overflow,seq=arg1,fill=arg2`]);
    onTestFinished(() => void run.child.kill('SIGKILL'));
    await run.ready;
    const t = await overflowingRun(bin, prefix);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    const { groups } = loadRules(resolve(ROOT, 'alerts/rules'));
    const rule = (name: string) => groups.flatMap((g) => g.rules).find((r) => r.name === name)!;
    const store = await openStore(dsn);
    onTestFinished(() => store.close());
    const value = async (name: string) => (await store.queryRows<{ comm: string; value: number }>(substitute(ruleSql(rule(name)), t0 - 60_000, Date.now() + 60_000)))
      .map((r) => ({ comm: r.comm, value: Number(r.value) }));
    const overflow = await value('ShmOverflowRateHigh');
    const access = await value('ShmAccessLatencyHigh');
    console.log(`rules on real rows: ShmOverflowRateHigh ${JSON.stringify(overflow)} (app ${(100 * t.ring.overflow_rate).toFixed(2)} %), ShmAccessLatencyHigh ${JSON.stringify(access)} (app p99 ${t.ring.access_p99_us.toFixed(0)} µs)`);
    // publishes and overflows happen in the services (one comm), consumes in the broker
    expect(overflow.map((r) => r.comm)).toEqual([`${prefix}s`]);
    expect(Math.abs(overflow[0].value - t.ring.overflow_rate)).toBeLessThanOrEqual(0.005);
    expect(access.map((r) => r.comm)).toEqual([`${prefix}b`]);
    expect(t.ring.access_p99_us).toBeGreaterThan(10);
    expect(access[0].value).toBeGreaterThan(rule('ShmAccessLatencyHigh').thresholds.warning!);
  });
});
