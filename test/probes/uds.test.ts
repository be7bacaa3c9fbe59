// uds probe, ground truth: a Unix-socket ping-pong whose server busy-waits a
// known delay before each reply. The client's recvmsg latency is that delay;
// the fixture counts its own syscalls and measures its own round trips.
// The collector follows a private copy of uds_pingpong (a comm of its own): with
// comm 'uds_pingpong', another checkout's suite running the same fixture at the
// same time added its calls to the exact counters.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, percentile, privateFixture, runFixture, startCollector, type MemorySink } from '../helpers/probes.js';
import type { Collector } from '../../collector/collector.js';

interface PingPong {
  rounds: number;
  client_pid: number;
  server_pid: number;
  client_send: number;
  client_recv: number;
  server_send: number;
  server_recv: number;
  rtt_p50_us: number;
}

describe.skipIf(!isRoot)('uds probe (AF_UNIX latency)', () => {
  let c: Collector | undefined;
  let fixture: ReturnType<typeof privateFixture>;
  beforeAll(() => {
    fixture = privateFixture('uds_pingpong', 'uds');
  });
  afterAll(() => fixture?.remove());
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });

  it("1:1 sampling: recvmsg p50 within 5 % of the client's own round-trip clock (2 ms server delay); every call counted exactly", async () => {
    const started = await startCollector({ probes: ['uds'], comm: fixture.comm, perProbe: { uds: { sampleEvery: 1 } } });
    c = started.collector;
    expect(started.status[0].state).toBe('running');
    const before = c.counters('uds');
    const fx = await runFixture<PingPong>(fixture.path, ['-n', '500', '-d', '2000', '-m', 'sendmsg']);
    await c.stop();
    const sink = started.sink as MemorySink;
    const recv = sink.events.filter((e) => e.pid === fx.client_pid && e.event === 'recvmsg');
    const send = sink.events.filter((e) => e.pid === fx.client_pid && e.event === 'sendmsg');
    // exact: one row per call at 1:1, each of weight 1
    expect(recv.length).toBe(fx.client_recv);
    expect(send.length).toBe(fx.client_send);
    expect(recv.every((e) => e.weight === 1 && e.comm === fixture.comm)).toBe(true);
    const p50 = percentile(recv.map((e) => e.value), 50);
    // ground truth is the client's own round-trip clock, not the nominal 2 ms
    // (a VM's wake-up after the server's wait adds a varying few %)
    expect(Math.abs(p50 / 1000 - fx.rtt_p50_us) / fx.rtt_p50_us).toBeLessThan(0.05);
    // the server (comm uds_server) is filtered out in the kernel
    expect(sink.events.some((e) => e.pid === fx.server_pid)).toBe(false);
    // exact counters (comm-filtered) moved by exactly the client's calls
    const after = sink.counters.filter((r) => r.probe === 'uds' && r.pid === 0);
    const last = (name: string) => after.filter((r) => r.name === name).at(-1)!.value;
    expect(last('calls_recvmsg') - (before.calls_recvmsg ?? 0)).toBe(fx.client_recv);
    expect(last('calls_sendmsg') - (before.calls_sendmsg ?? 0)).toBe(fx.client_send);
    expect(last('lost_ringbuf')).toBe(0);
    // the in-kernel histogram of all calls has every recvmsg, mostly in the 2^20..2^21 ns slot (1.05–2.1 ms)
    const hist = sink.histograms.filter((r) => r.probe === 'uds' && r.event === 'recvmsg');
    const total = hist.reduce((n, r) => n + r.counts.reduce((a, b) => a + b, 0), 0);
    expect(total).toBe(fx.client_recv);
  });

  it('1:10 sampling: sum(weight) within 2 % of the calls made; TCP-free, only AF_UNIX', async () => {
    const started = await startCollector({ probes: ['uds'], comm: fixture.comm, perProbe: { uds: { sampleEvery: 10 } } });
    c = started.collector;
    const fx = await runFixture<PingPong>(fixture.path, ['-n', '5000', '-d', '100', '-m', 'sendto']);
    await c.stop();
    const sink = started.sink as MemorySink;
    for (const [event, made] of [['recvfrom', fx.client_recv], ['sendto', fx.client_send]] as const) {
      const rows = sink.events.filter((e) => e.pid === fx.client_pid && e.event === event);
      const sum = rows.reduce((n, e) => n + e.weight, 0);
      expect(rows.length).toBeGreaterThan(made / 10 / 2); // sampled, not all
      expect(rows.length).toBeLessThan(made / 10 * 2);
      expect(Math.abs(sum - made) / made).toBeLessThan(0.02);
    }
  });

  it('read/write on AF_UNIX sockets (Go UnixConn) are timed only when opted in (--uds-rw), exactly', async () => {
    // opted in: every read/write of the client is a row (1:1) with the right latency
    let started = await startCollector({ probes: ['uds'], comm: fixture.comm, optIn: { udsReadWrite: true }, perProbe: { uds: { sampleEvery: 1 } } });
    c = started.collector;
    const fx = await runFixture<PingPong>(fixture.path, ['-n', '300', '-d', '500', '-m', 'rw']);
    await c.stop();
    c = undefined;
    // fd > 2: the fixture's stdout/stderr are AF_UNIX socketpairs too (libuv makes child stdio that way),
    // so its final printf is a real AF_UNIX write; the ping-pong runs on its own socketpair
    const rows = (started.sink as MemorySink).events.filter((e) => e.pid === fx.client_pid && (e.fd ?? 0) > 2);
    expect(rows.filter((e) => e.event === 'read')).toHaveLength(fx.client_recv);
    expect(rows.filter((e) => e.event === 'write')).toHaveLength(fx.client_send);
    const p50 = percentile(rows.filter((e) => e.event === 'read').map((e) => e.value), 50);
    expect(p50).toBeGreaterThan(500_000); // the server's 500 µs busy wait is inside the client's read
    // and each read is inside the client's own round-trip clock (write + read), so its p50 is at most
    // that clock's p50; the write is a small part of it (not a nominal 500 µs: a loaded VM adds 25 %)
    expect(p50 / 1000).toBeLessThanOrEqual(fx.rtt_p50_us * 1.001);
    expect(p50 / 1000).toBeGreaterThan(fx.rtt_p50_us * 0.9);
    // not opted in: the same workload leaves no read/write rows (the hooks are not loaded)
    started = await startCollector({ probes: ['uds'], comm: fixture.comm, perProbe: { uds: { sampleEvery: 1 } } });
    c = started.collector;
    const fx2 = await runFixture<PingPong>(fixture.path, ['-n', '100', '-d', '50', '-m', 'rw']);
    const counters = c.counters('uds');
    await c.stop();
    expect((started.sink as MemorySink).events.filter((e) => e.pid === fx2.client_pid)).toHaveLength(0);
    expect(counters.calls_read ?? 0).toBe(0);
  });
});
