/**
 * cli/explain.ts — `v2probe explain`: where the time of the slowest round
 * trips to a broker went, on both ends of its Unix sockets.
 *
 *   v2probe explain --comm v2broker [--live 30s | --from T --to T] [--slowest 20]
 *                   [--format table|json|md] [--sample 100] [--stacks] [--store DSN] [--host NAME]
 *
 * --live: run the rtt probe for that long (writes the breakdowns to --store
 * when one is given). --from/--to: read `v2e.rtt_breakdown` from the store.
 * Exit codes: 0 (also for "no such process" / "no data in the window",
 * said plainly), 2 malformed flag, 1 kernel/store failure.
 */
import { hostname } from 'node:os';
import { Option, type Command } from 'commander';
import { runExplainLive, findBrokers } from '../explain/live.js';
import { COMPONENTS, type Breakdown } from '../explain/breakdown.js';
import { formatReport, summarize } from '../explain/report.js';
import { applySchema } from '../schema/ddl.js';
import { DEFAULT_STORE, openStore } from '../store/index.js';
import { bpfPrivilege } from '../collector/families/kernel.js';
import { KernelError } from '../collector/errors.js';
import { UsageError } from './errors.js';
import { checkedOption, parseComm, parseDuration, parseIntFlag, parsePid, parseStore, parseTime, type FlagParser } from './parse.js';
import { sqlString } from '../schema/sql.js';

const live: FlagParser<number> = (f, t) => parseDuration(f, t, { max: 3_600_000 });
const slowestN: FlagParser<number> = (f, t) => parseIntFlag(f, t, 0, 10_000);
const sampleEvery: FlagParser<number> = (f, t) => parseIntFlag(f, t, 1, 1_000_000);

type Fmt = 'table' | 'json' | 'md';

function output(trips: Breakdown[], slowest: number, format: Fmt, what: string, note?: string): void {
  const r = summarize(trips, slowest);
  if (format === 'json') {
    process.stdout.write(JSON.stringify({ what, note, ...r }, null, 2) + '\n');
    return;
  }
  if (note) process.stdout.write(`${note}\n`);
  process.stdout.write(formatReport(r, format, what));
}

const num = (v: unknown) => Number(v ?? 0);

export async function readBreakdowns(dsn: string, o: { comm?: string; pid?: number; fromMs: number; toMs: number; limit?: number }): Promise<Breakdown[]> {
  const store = await openStore(dsn);
  try {
    await applySchema(store);
    const where = [
      `ts >= fromUnixTimestamp64Milli(${Math.floor(o.fromMs)})`,
      `ts < fromUnixTimestamp64Milli(${Math.ceil(o.toMs)})`,
      o.comm !== undefined ? `broker_comm = ${sqlString(o.comm)}` : '',
      o.pid !== undefined ? `broker_pid = ${o.pid}` : '',
    ].filter(Boolean).join(' AND ');
    const rows = await store.queryRows<Record<string, unknown>>(
      `SELECT toString(toUnixTimestamp64Nano(ts)) AS ts_ns, client_pid, client_tid, client_comm, broker_pid, broker_tid, broker_comm, total_ns, ${COMPONENTS.join(', ')}, blocked_comp, blocked_ns, blocked_stack
       FROM v2e.rtt_breakdown WHERE ${where} ORDER BY ts_ns LIMIT ${o.limit ?? 1_000_000}`,
    );
    return rows.map((r) => ({
      ts: String(r.ts_ns), client_pid: num(r.client_pid), client_tid: num(r.client_tid), client_comm: String(r.client_comm),
      broker_pid: num(r.broker_pid), broker_tid: num(r.broker_tid), broker_comm: String(r.broker_comm), total_ns: num(r.total_ns),
      ...Object.fromEntries(COMPONENTS.map((c) => [c, num(r[c])])),
      blocked_comp: String(r.blocked_comp ?? ''), blocked_ns: num(r.blocked_ns), blocked_stack: String(r.blocked_stack ?? ''),
    }) as Breakdown);
  } finally {
    await store.close();
  }
}

export async function writeBreakdowns(dsn: string, host: string, trips: Breakdown[]): Promise<void> {
  if (!trips.length) return;
  const store = await openStore(dsn);
  try {
    await applySchema(store);
    await store.insertRows('v2e.rtt_breakdown', trips.map((b) => ({ ...b, host })));
  } finally {
    await store.close();
  }
}

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description('break the slowest round trips to a broker (Unix sockets) down into run queue, locks, futex, I/O, GC, on-CPU, on both ends')
    .addOption(checkedOption('--comm <name>', 'the broker: processes with this name', parseComm))
    .addOption(checkedOption('--pid <pid>', 'the broker: this process', parsePid))
    .addOption(checkedOption('--live <d>', 'measure now for this long (e.g. 30s)', live))
    .addOption(checkedOption('--from <t>', 'read stored breakdowns from this time (ISO 8601, epoch ms, -1h)', parseTime))
    .addOption(checkedOption('--to <t>', 'until this time (default now)', parseTime))
    .addOption(checkedOption('--slowest <n>', 'show this many slowest round trips', slowestN, '20'))
    .addOption(new Option('--format <f>', 'output format').choices(['table', 'json', 'md']).default('table'))
    .addOption(checkedOption('--sample <n>', 'live: 1 in N client requests carries a breakdown', sampleEvery, '100'))
    .option('--stacks', "live, Go brokers: the parked goroutine's own stack where the broker blocked (a uprobe on runtime.gopark: costs every goroutine park)")
    .addOption(checkedOption('--store <dsn>', 'store to read (--from/--to; default ' + DEFAULT_STORE + ') or, with --live, to write the breakdowns to', parseStore))
    .action(async (o: Record<string, string | undefined>, cmd: Command) => {
      const comm = o.comm !== undefined ? parseComm('--comm', o.comm) : undefined;
      const pid = o.pid !== undefined ? parsePid('--pid', o.pid) : undefined;
      if (comm === undefined && pid === undefined) throw new UsageError('explain: give the broker with --comm NAME or --pid N');
      const slowest = slowestN('--slowest', String(o.slowest));
      const format = (o.format ?? 'table') as Fmt;
      const what = comm !== undefined ? `--comm ${comm}` : `--pid ${pid}`;
      if (o.live !== undefined && (o.from !== undefined || o.to !== undefined)) throw new UsageError('explain: --live and --from/--to exclude each other');
      if (o.live === undefined && (cmd.getOptionValueSource('sample') === 'cli' || o.stacks !== undefined))
        throw new UsageError(`explain: ${o.stacks !== undefined ? '--stacks' : '--sample'} only with --live (it shapes a live measurement)`);
      if (o.live !== undefined) {
        const durationMs = live('--live', o.live);
        const sampleN = sampleEvery('--sample', String(o.sample));
        const priv = bpfPrivilege();
        if (!priv.ok) throw new KernelError('PERMISSION', priv.reason!);
        const running = findBrokers(comm, pid);
        if (running.length === 0) process.stderr.write(`explain: no process ${what.replace('--', '')} is running now; waiting for one for ${o.live}\n`);
        const ac = new AbortController();
        const onSig = () => ac.abort();
        process.on('SIGINT', onSig);
        process.on('SIGTERM', onSig);
        try {
          const r = await runExplainLive({ comm, pid, durationMs, sampleEvery: sampleN, stacks: o.stacks !== undefined, signal: ac.signal, onStart: () => process.stderr.write(`explain: measuring ${what} for ${o.live} (1 in ${sampleN} requests)\n`) });
          let note: string | undefined;
          if (r.brokers.length === 0) note = `explain: no process ${what.replace('--', '')} ran during the window: nothing to explain`;
          else if (r.trips.length === 0) note = `explain: ${what} (pids ${r.brokers.join(',')}) had no sampled Unix-socket round trips in the window (${r.counters.seen ?? 0} sampled requests seen)`;
          if (o.store !== undefined && r.trips.length) await writeBreakdowns(o.store, hostname(), r.trips);
          output(r.trips, slowest, format, what, note);
        } finally {
          process.off('SIGINT', onSig);
          process.off('SIGTERM', onSig);
        }
        return;
      }
      if (o.from === undefined) throw new UsageError('explain: give --live DURATION, or --from T [--to T] to read stored breakdowns');
      const now = Date.now();
      const fromMs = parseTime('--from', o.from, now);
      const toMs = o.to !== undefined ? parseTime('--to', o.to, now) : now;
      if (toMs <= fromMs) throw new UsageError(`explain: --to must be after --from`);
      const trips = await readBreakdowns(o.store ?? DEFAULT_STORE, { comm, pid, fromMs, toMs });
      const note = trips.length ? undefined : `explain: no stored breakdowns for ${what} between ${new Date(fromMs).toISOString()} and ${new Date(toMs).toISOString()} (nothing collected then, or older than the store's retention)`;
      output(trips, slowest, format, what, note);
    });
}
