// The README's example `explain` output (docs/explain-example.txt, quoted in
// README.md) is formatReport(summarize(...)) of a fixed, generated set of
// round trips: a Go broker that mostly answers in ~40 µs, with 2 % of trips
// parked on a futex and 0.5 % stalled by a page fault. It must stay what
// the report code prints today; V2PROBE_UPDATE_DOCS=1 rewrites it (then paste
// the new table into the README).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMPONENTS, type Component } from '../../schema/rtt-tables.js';
import type { Breakdown } from '../../explain/breakdown.js';
import { formatReport, summarize } from '../../explain/report.js';

const ROOT = join(import.meta.dirname, '../..');

function trips(): Breakdown[] {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const out: Breakdown[] = [];
  for (let i = 0; i < 2000; i++) {
    const c = Object.fromEntries(COMPONENTS.map((k) => [k, 0])) as Record<Component, number>;
    c.send_ns = 3000 + Math.round(rnd() * 1000);
    c.queue_ns = 1000 + Math.round(rnd() * 500);
    c.pickup_runq_ns = Math.round(rnd() * 4000);
    c.oncpu_ns = 18_000 + Math.round(rnd() * 8000);
    c.runq_ns = Math.round(rnd() * 3000);
    c.reply_ns = 4000 + Math.round(rnd() * 1000);
    c.client_runq_ns = Math.round(rnd() * 2000);
    let blocked = '';
    let blockedNs = 0;
    let stack = '';
    const r = rnd();
    if (r < 0.02) {
      c.futex_ns = 400_000 + Math.round(rnd() * 300_000);
      [blocked, blockedNs, stack] = ['futex', c.futex_ns, 'runtime.goexit;main.serve;main.(*Broker).handle;sync.(*Mutex).Lock;runtime.semacquire1;runtime.futexsleep'];
    } else if (r < 0.025) {
      c.pagefault_ns = 1_500_000 + Math.round(rnd() * 500_000);
      [blocked, blockedNs, stack] = ['pagefault', c.pagefault_ns, 'runtime.goexit;main.serve;main.(*Broker).handle;main.(*Log).append;runtime.memmove'];
    }
    const total = COMPONENTS.reduce((s, k) => s + c[k], 0);
    out.push({
      ts: String(1_767_225_600_000_000_000n + BigInt(i) * 5_000_000n), client_pid: 2100, client_tid: 2100 + (i % 4), client_comm: 'v2client',
      broker_pid: 1800, broker_tid: 1803 + (i % 3), broker_comm: 'v2broker', total_ns: total, blocked_comp: blocked, blocked_ns: blockedNs, blocked_stack: stack, ...c,
    });
  }
  return out;
}

describe('the README example explain report', () => {
  it('docs/explain-example.txt is the report of the fixed trips, and the README quotes its table', () => {
    const text = formatReport(summarize(trips(), 5), 'table', '--comm v2broker --from -10m');
    const path = join(ROOT, 'docs/explain-example.txt');
    if (process.env.V2PROBE_UPDATE_DOCS === '1') writeFileSync(path, text);
    expect(readFileSync(path, 'utf8'), 'docs/explain-example.txt is stale: V2PROBE_UPDATE_DOCS=1 rewrites it (and update README.md)').toBe(text);
    const table = text.split('\n\n').slice(0, 2).join('\n\n'); // the title and the p50/p99/p99.9 table
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain(table);
  });
});
