// Shared by the fault tests: cycle counts (3 by default, 20 with V2PROBE_LONG=1),
// the synthetic collector child, a broker of the test's own, the loss ledger and
// the duplicate check over the store.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { queryJson } from '../pipeline/kafka-helpers.js';

export const LONG = process.env.V2PROBE_LONG === '1';
export const CYCLES = Number(process.env.V2PROBE_FAULT_CYCLES ?? (LONG ? 20 : 3));
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Synth = ChildProcess & { acked: Array<[number, number]>; out: string[]; err: string[]; exited: Promise<number | null> };

/** Start the synthetic collector; `acked` collects [first, last] of each acknowledged batch. */
export function startSynth(a: { brokers: string; topic: string; spool: string; host: string; first: number; batches: number; size: number; intervalMs: number; env?: Record<string, string> }): Synth {
  const c = spawn(process.execPath, [join(ROOT, 'test/reliability/fixtures/synth-collector.mjs'), a.brokers, a.topic, a.spool, a.host, String(a.first), String(a.batches), String(a.size), String(a.intervalMs)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...a.env },
  }) as Synth;
  c.acked = [];
  c.out = [];
  c.err = [];
  let buf = '';
  c.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      c.out.push(line);
      const m = /^acked (\d+) (\d+)$/.exec(line);
      if (m) c.acked.push([Number(m[1]), Number(m[2])]);
    }
  });
  c.stderr!.setEncoding('utf8').on('data', (d: string) => c.err.push(d));
  c.exited = new Promise((r) => c.on('exit', (code) => r(code)));
  return c;
}

/**
 * Wait until the synthetic collector has acknowledged `n` batches (it is connected
 * and streaming) or has exited; true when it has. "Mid-stream" faults start from
 * here, not from a fixed sleep after spawn: on a busy machine node's start-up and
 * the broker check alone can take longer than such a sleep, and a fault injected
 * before the sink has opened tests start-up, not the stream.
 */
export async function waitAcked(s: Synth, n: number, timeoutMs = 120_000): Promise<boolean> {
  let exited = false;
  void s.exited.then(() => (exited = true));
  const until = Date.now() + timeoutMs;
  while (s.acked.length < n && !exited && Date.now() < until) await sleep(20);
  return s.acked.length >= n;
}

export const ackedCount = (s: { acked: Array<[number, number]> }) => s.acked.reduce((n, [a, b]) => n + b - a + 1, 0);

/** A broker of the test's own (own state dir), so the shared one keeps running. */
export function ownBroker(state: string) {
  const run = (cmd: string) =>
    execFileSync('bash', [join(ROOT, 'scripts/kafka.sh'), cmd], { encoding: 'utf8', timeout: 170_000, env: { ...process.env, KAFKA_STATE_DIR: state } });
  return {
    start: () => /KAFKA_BROKERS=(\S+)/.exec(run('start'))![1],
    stop: () => run('stop'),
    /** kill -9 the broker JVM */
    kill9: () => {
      const pid = Number(readFileSync(join(state, 'broker.pid'), 'utf8').trim());
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          return;
        }
        execFileSync('sleep', ['0.1']);
      }
    },
  };
}

export interface Ledger {
  sampled: number;
  stored: number;
  drops: number;
  unaccounted: number;
}
/** The loss ledger of one host (uds), from `v2probe loss`. */
export function ledger(store: string, host: string): Ledger {
  const r = runLoss(store).find((x) => x.host === host && x.probe === 'uds');
  if (!r) return { sampled: 0, stored: 0, drops: 0, unaccounted: 0 };
  const n = (k: string) => Number(r[k] ?? 0);
  return { sampled: n('sampled'), stored: n('stored'), drops: n('lost_userspace') + n('rejected_decode') + n('lost_collector') + n('lost_spool') + n('dead_lettered'), unaccounted: n('unaccounted') };
}
function runLoss(store: string): Array<Record<string, string>> {
  const out = execFileSync(process.execPath, [join(ROOT, 'bin/v2probe.js'), 'loss', '--store', store, '--format', 'json'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** count, distinct ids, and ids stored more than once, of the synthetic events of `host`. */
export function storedIds(store: string, host: string): { n: number; u: number; dups: number } {
  const [r] = queryJson<{ n: string; u: string }>(store, `SELECT count() AS n, uniqExact(value) AS u FROM v2e.events WHERE comm = 'synth' AND host = '${host}'`);
  return { n: Number(r.n), u: Number(r.u), dups: Number(r.n) - Number(r.u) };
}

/** ids in [lo, hi] missing from the store */
export function missingIds(store: string, host: string, ranges: Array<[number, number]>): number {
  if (!ranges.length) return 0;
  const cond = ranges.map(([a, b]) => `(number BETWEEN ${a} AND ${b})`).join(' OR ');
  const lo = Math.min(...ranges.map((r) => r[0]));
  const hi = Math.max(...ranges.map((r) => r[1]));
  const [r] = queryJson<{ m: string }>(
    store,
    `SELECT count() AS m FROM (SELECT number FROM numbers(${lo}, ${hi - lo + 1}) WHERE ${cond}) WHERE number NOT IN (SELECT value FROM v2e.events WHERE comm = 'synth' AND host = '${host}')`,
  );
  return Number(r.m);
}
