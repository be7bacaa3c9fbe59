// What a store-outage test asserts at the end: every call of each uds ping-pong
// run is stored exactly once (one row per call at 1:1), and the loss ledger
// balances with nothing lost in the collector.
import { expect } from 'vitest';
import { runCli } from './cli.js';

export type PingPong = { client_pid: number; client_send: number; client_recv: number };

export function expectStoredOnceAndBalanced(dsn: string, runs: PingPong[]): void {
  for (const fx of runs) {
    const q = runCli(['query', '--store', dsn, '--format', 'json', `SELECT count() AS n, uniqExact(tid, event, ts) AS u FROM v2e.events WHERE probe = 'uds' AND pid = ${fx.client_pid}`]);
    expect(q.code, q.stderr).toBe(0);
    const r = JSON.parse(q.stdout);
    expect([Number(r.n), Number(r.u)]).toEqual([fx.client_send + fx.client_recv, fx.client_send + fx.client_recv]);
  }
  const loss = runCli(['query', '--store', dsn, '--preset', 'loss', '--format', 'json']);
  const uds = loss.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((r) => r.probe === 'uds');
  expect(Number(uds.unaccounted)).toBe(0);
  expect(Number(uds.lost_collector)).toBe(0);
}
