// Helpers for the explain ground-truth tests: the rttpair Go fixture (client +
// broker over a Unix socket, switchable injected cause) run under
// runExplainLive (explain/live.ts).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Breakdown } from '../../explain/breakdown.js';
import { runExplainLive, type LiveResult } from '../../explain/live.js';
import { buildGoFixture, Stepper } from '../go/go-fixtures.js';

/**
 * One request as the client saw it: [CLOCK_MONOTONIC ns just before its write, then the
 * broker's own measurement (truth in rttpair/main.go) of its cause section for
 * oncpu/futex/pagefault/io: window, run-queue wait (schedstat run_delay) and CPU (thread
 * CPU clock), 0 for the other causes; then, any cause, the run-queue waits for this
 * request of the broker's thread (previous reply → this read) and of the client's
 * (write → the reply's read)].
 */
export type Req = [mark: number, window: number, runq: number, cpu: number, brokerPickupRunq: number, clientRunq: number];
export interface ClientSummary { n: number; pid: number; mean_ns: number; p50_ns: number; p99_ns: number; rps: number; reqs: Req[] }

/** Build rttpair and give it the names the tests look for (comm = the exec'd file name). */
export function rttBinaries(): { broker: string; client: string } {
  const bin = buildGoFixture('rttpair');
  const dir = dirname(bin);
  const broker = join(dir, 'v2broker');
  const client = join(dir, 'v2client');
  if (!existsSync(broker)) symlinkSync('rttpair', broker);
  if (!existsSync(client)) symlinkSync('rttpair', client);
  return { broker, client };
}

/**
 * rttpair as a broker of a private name (a symlink: comm = its name, at most 15
 * characters), so that a v2broker of another checkout's suite running at the
 * same time is neither followed nor counted by a comm filter. remove() deletes it.
 */
export function privateBroker(): { path: string; comm: string; remove: () => void } {
  const { broker } = rttBinaries();
  const comm = `v2brk${randomBytes(5).toString('hex')}`.slice(0, 15);
  const dir = mkdtempSync(join(tmpdir(), 'rtt-broker-'));
  const path = join(dir, comm);
  symlinkSync(realpathSync(broker), path);
  return { path, comm, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function runClient(bin: string, sock: string, n: number, gapUs: number): Promise<ClientSummary> {
  return new Promise((resolve, reject) => {
    const c = spawn(bin, ['client', sock, String(n), String(gapUs)]);
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`client exited ${code}: ${err.slice(-400)}`))));
  });
}

export interface Scenario { live: LiveResult; client: ClientSummary; brokerPid: number }

/** Start the broker with a cause, explain it live while a client does n round trips. */
export async function scenario(cause: string, ms: number, o: { n?: number; gapUs?: number; sampleEvery?: number; env?: NodeJS.ProcessEnv; explain?: boolean } = {}): Promise<Scenario> {
  const { broker, client } = rttBinaries();
  const sock = join(mkdtempSync(join(tmpdir(), 'rtt-')), 's.sock');
  const b = new Stepper(broker, ['broker', sock, cause, String(ms)], { RTT_IO_DIR: '/var/tmp', ...o.env });
  try {
    const ready = await b.next(30_000);
    const ac = new AbortController();
    let started!: () => void;
    const isStarted = new Promise<void>((r) => (started = r));
    const live = o.explain === false ? undefined : runExplainLive({ comm: 'v2broker', durationMs: 120_000, sampleEvery: o.sampleEvery ?? 5, stacks: true, signal: ac.signal, onStart: () => started() });
    if (live) await Promise.race([isStarted, live]);
    const summary = await runClient(client, sock, o.n ?? 1500, o.gapUs ?? 300);
    ac.abort();
    const res = live ? await live : { trips: [], brokers: [], incomplete: 0, counters: {}, programStats: [], monoToWallNs: '0' };
    // only this scenario's round trips: on a shared machine another v2broker may be running
    res.trips = res.trips.filter((t) => t.broker_pid === Number(ready.pid) && t.client_pid === summary.pid);
    return { live: res, client: summary, brokerPid: Number(ready.pid) };
  } finally {
    b.step();
    await Promise.race([b.exited, new Promise((r) => setTimeout(r, 2000))]);
    if (b.child.exitCode === null) b.child.kill('SIGKILL');
  }
}

/** A sampled round trip with the client's record of the same request (its reqs entry). */
export interface Matched { trip: Breakdown; req: Req }

/**
 * Pair each trip with its request, exactly: the trip's client send entry on
 * CLOCK_MONOTONIC (ts minus the session's offset) is at or after the request's
 * mark (taken just before the write) and before the next request's mark (taken
 * after the reply was read). Trips that pair with no request are returned apart.
 */
/** Why a trip paired with no request: its send entry on CLOCK_MONOTONIC and the marks around it. */
export function describeUnmatched(s: Scenario, trip: Breakdown): string {
  const mono = Number(BigInt(trip.ts) - BigInt(s.live.monoToWallNs));
  const reqs = s.client.reqs;
  const i = reqs.findIndex((r) => r[0] > mono);
  const near = reqs.slice(Math.max(0, (i < 0 ? reqs.length : i) - 2), (i < 0 ? reqs.length : i) + 2).map((r) => r[0] - mono);
  return `send entry ${mono} (mono), total ${trip.total_ns} ns; marks around it, relative: ${near.join(', ')}; trip ${JSON.stringify(trip)}`;
}

export function matchRequests(s: Scenario): { matched: Matched[]; unmatched: Breakdown[] } {
  const reqs = s.client.reqs;
  const off = BigInt(s.live.monoToWallNs);
  const matched: Matched[] = [];
  const unmatched: Breakdown[] = [];
  for (const trip of s.live.trips) {
    const mono = Number(BigInt(trip.ts) - off);
    let lo = 0;
    let hi = reqs.length - 1;
    let i = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (reqs[mid][0] <= mono) {
        i = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (i >= 0 && (i + 1 >= reqs.length || reqs[i + 1][0] >= mono + trip.total_ns)) matched.push({ trip, req: reqs[i] });
    else unmatched.push(trip);
  }
  return { matched, unmatched };
}
