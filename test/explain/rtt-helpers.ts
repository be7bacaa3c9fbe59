// Helpers for the explain ground-truth tests: the rttpair Go fixture (client +
// broker over a Unix socket, switchable injected cause) run under
// runExplainLive (collector/explain-live.ts).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runExplainLive, type LiveResult } from '../../collector/explain-live.js';
import { buildGoFixture, Stepper } from '../go/go-fixtures.js';

export interface ClientSummary { n: number; pid: number; mean_ns: number; p50_ns: number; p99_ns: number; rps: number }

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
    const live = o.explain === false ? undefined : runExplainLive({ comm: 'v2broker', durationMs: 120_000, sampleEvery: o.sampleEvery ?? 5, goStacks: true, signal: ac.signal, onStart: () => started() });
    if (live) await Promise.race([isStarted, live]);
    const summary = await runClient(client, sock, o.n ?? 1500, o.gapUs ?? 300);
    ac.abort();
    const res = live ? await live : { trips: [], brokers: [], incomplete: 0, counters: {}, programStats: [] };
    return { live: res, client: summary, brokerPid: Number(ready.pid) };
  } finally {
    b.step();
    await Promise.race([b.exited, new Promise((r) => setTimeout(r, 2000))]);
    if (b.child.exitCode === null) b.child.kill('SIGKILL');
  }
}
