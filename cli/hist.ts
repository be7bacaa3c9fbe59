/**
 * cli/hist.ts — `v2probe hist`: the exact in-kernel log2 histograms of any
 * probe's events in the terminal, bcc/libbpf-tools style (`runqlat`,
 * `biolatency`): `nsecs : count | distribution` with `*` bars.
 *   live:       hist --probes uds[,sched] [--event E] [--interval 1s] [--duration 10s] [--pid N] [--comm NAME]
 *   past window: hist --store STORE --from T --to T [--probes …] [--event E] [--host H]
 * Buckets are the stored ones (v2e.histograms, bpf/hist.bpf.h): slot s counts
 * values in [2^s, 2^(s+1)) of the event's unit, slot 0 also holds 0, the last
 * slot everything above. Live, the kernel's histograms are per event kind for
 * what passes the probe's filter (--pid/--comm are filtered in the kernel, so
 * the histogram is that process's); the store's have no process dimension.
 */
import type { Command } from 'commander';
import { pino } from 'pino';
import { Collector } from '../collector/collector.js';
import { bpfPrivilege, ensureTracefs } from '../collector/families/kernel.js';
import { KernelError } from '../collector/errors.js';
import type { Sink } from '../collector/sinks/sink.js';
import { PROBES, type ProbeDef, type ProbeName } from '../schema/event.js';
import { sqlList, sqlString } from '../schema/sql.js';
import { DEFAULT_STORE, openStore } from '../store/index.js';
import { UsageError } from './errors.js';
import { checkedOption, parseComm, parseDuration, parseHostname, parseIdentifier, parsePid, parseProbes, parseStore, parseTime } from './parse.js';

const UNIT_LABEL: Record<string, string> = { ns: 'nsecs', bytes: 'bytes', count: 'count', kHz: 'kHz' };
const BAR = 40;

/** One histogram as bcc prints it: only the rows from the first to the last non-empty slot. */
export function renderLog2(title: string, counts: readonly number[], unit: string): string {
  const lo = counts.findIndex((c) => c > 0);
  if (lo < 0) return `${title}\n     (no events)\n`;
  let hi = counts.length - 1;
  while (counts[hi] === 0) hi--;
  const max = Math.max(...counts);
  const label = UNIT_LABEL[unit] ?? unit;
  const lines = [title, `${label.padStart(20)}${''.padEnd(15)}: count    distribution`];
  for (let s = lo; s <= hi; s++) {
    const low = s === 0 ? 0 : 2 ** s;
    const high = s === counts.length - 1 ? '…' : String(2 ** (s + 1) - 1);
    const stars = Math.round((counts[s] / max) * BAR);
    lines.push(`${String(low).padStart(20)} -> ${high.padEnd(11)}: ${String(counts[s]).padEnd(8)} |${'*'.repeat(stars).padEnd(BAR)}|`);
  }
  return `${lines.join('\n')}\n`;
}

const unitOf = (probe: ProbeName, event: string): string => {
  const d = PROBES[probe] as ProbeDef;
  return d.eventUnits[d.events.indexOf(event)] ?? d.unit;
};

/** A row per (probe, event) with any count, rendered; events of `only` when given. */
function renderAll(hists: Array<{ probe: ProbeName; event: string; counts: number[] }>, only?: string): string {
  const out: string[] = [];
  for (const h of hists) {
    if (only && h.event !== only) continue;
    if (!h.counts.some((c) => c > 0)) continue;
    const total = h.counts.reduce((a, b) => a + b, 0);
    out.push(renderLog2(`${h.probe} ${h.event} (${total} events)`, h.counts, unitOf(h.probe, h.event)));
  }
  if (out.length) return out.join('\n');
  const other = [...new Set(hists.filter((h) => h.counts.some((c) => c > 0)).map((h) => `${h.probe} ${h.event}`))];
  return only && other.length ? `(no events in the ${only} histogram; histograms with events: ${other.join(', ')})\n` : '(no events)\n';
}

function checkEvent(probes: ProbeName[], event: string | undefined): void {
  if (event === undefined) return;
  const all = probes.flatMap((p) => (PROBES[p] as ProbeDef).events);
  if (!all.includes(event)) throw new UsageError(`--event: '${event}' is not an event of ${probes.join(', ')} (events: ${[...new Set(all)].join(', ')})`);
}

/** From the store: the sum of the stored snapshot increments in [from, to). */
async function fromStore(o: { store: string; from: string; to: string; probes: ProbeName[]; event?: string; host?: string }): Promise<string> {
  const fromMs = parseTime('--from', o.from);
  const toMs = parseTime('--to', o.to);
  if (!(toMs > fromMs)) throw new UsageError('--to must be after --from');
  const store = await openStore(o.store);
  try {
    const where = [
      `ts >= fromUnixTimestamp64Milli(${Math.floor(fromMs)})`,
      `ts < fromUnixTimestamp64Milli(${Math.ceil(toMs)})`,
      `probe IN (${sqlList(o.probes)})`,
      ...(o.event ? [`event = ${sqlString(o.event)}`] : []),
      ...(o.host ? [`host = ${sqlString(o.host)}`] : []),
    ];
    const rows = await store.queryRows<{ probe: ProbeName; event: string; counts: Array<number | string> }>(
      `SELECT probe, event, sumForEach(counts) AS counts FROM v2e.histograms WHERE ${where.join(' AND ')} GROUP BY probe, event ORDER BY probe, event`,
    );
    return renderAll(rows.map((r) => ({ probe: r.probe, event: r.event, counts: r.counts.map(Number) })), o.event);
  } finally {
    await store.close();
  }
}

/** Live: a collector with no sink for rows; every interval (or once at the end) the increase of its histograms. */
async function live(o: { probes: ProbeName[]; event?: string; intervalMs?: number; durationMs?: number; pid?: number; comm?: string }): Promise<void> {
  const priv = bpfPrivilege();
  if (!priv.ok) throw new KernelError('PERMISSION', priv.reason!);
  ensureTracefs();
  const none: Sink = { name: 'none', writeEvents: async () => {}, writeRecords: async () => {}, writeCounters: async () => {}, writeHistograms: async () => {}, close: async () => {} };
  const logger = pino({ level: process.env.V2PROBE_LOG_LEVEL ?? 'warn', base: { app: 'v2probe' } }, pino.destination({ fd: 2, sync: true }));
  // rows are not wanted: the least sampling the probes take; the histograms count every event
  const perProbe = Object.fromEntries(o.probes.map((p) => [p, { sampleEvery: 1_000_000 }]));
  const c = new Collector({ probes: o.probes, sink: none, logger, perProbe, pid: o.pid, comm: o.comm, snapshotMs: 3_600_000 });
  const st = await c.start();
  const failed = st.filter((s) => s.state !== 'running');
  if (failed.length === st.length) {
    await c.stop();
    throw new KernelError('ATTACH', failed.map((s) => `${s.probe}: ${s.error}`).join('; '));
  }
  for (const s of failed) process.stderr.write(`${s.probe}: not running (${s.error})\n`);
  const running = st.filter((s) => s.state === 'running').map((s) => s.probe);
  process.stderr.write(`Tracing ${running.join(', ')}${o.pid ? ` of pid ${o.pid}` : ''}${o.comm ? ` of comm ${o.comm}` : ''}${o.durationMs ? ` for ${o.durationMs / 1000} s` : ''}... Hit Ctrl-C to end.\n`);
  let last = new Map(running.map((p) => [p, c.histograms(p)] as const));
  const print = () => {
    const now = new Map(running.map((p) => [p, c.histograms(p)] as const));
    const hists = running.flatMap((p) => Object.entries(now.get(p)!).map(([event, counts]) => ({ probe: p, event, counts: counts.map((v, i) => v - (last.get(p)?.[event]?.[i] ?? 0)) })));
    last = now;
    process.stdout.write(`${o.intervalMs ? `\n${new Date().toTimeString().slice(0, 8)}\n` : '\n'}${renderAll(hists, o.event)}`);
  };
  await new Promise<void>((resolve) => {
    const end = () => {
      clearInterval(tick);
      clearTimeout(stopAt);
      process.off('SIGINT', end);
      process.off('SIGTERM', end);
      resolve();
    };
    const tick = o.intervalMs ? setInterval(print, o.intervalMs) : undefined;
    const stopAt = o.durationMs ? setTimeout(end, o.durationMs) : undefined;
    process.on('SIGINT', end);
    process.on('SIGTERM', end);
  });
  print();
  await c.stop();
}

export function registerHist(program: Command): void {
  program
    .command('hist')
    .description('bcc-style log2 histograms of probe events in the terminal: live (--interval), or from the store for a past window (--store --from --to)')
    .addOption(checkedOption('--probes <list>', 'probes (comma-separated)', parseProbes, 'uds'))
    .addOption(checkedOption('--event <name>', 'only this event (e.g. recvmsg)', parseIdentifier))
    .addOption(checkedOption('--interval <d>', 'live: print every interval (e.g. 1s); default: once at the end', (f, t) => parseDuration(f, t, { min: 100 })))
    .addOption(checkedOption('--duration <d>', 'live: stop after this long (default: Ctrl-C)', (f, t) => parseDuration(f, t, { min: 100 })))
    .addOption(checkedOption('--pid <n>', 'live: only this process (filtered in the kernel)', parsePid))
    .addOption(checkedOption('--comm <name>', 'live: only tasks whose name starts with this (filtered in the kernel)', parseComm))
    .addOption(checkedOption('--store <dsn>', `past window: read the stored histograms of this store (${DEFAULT_STORE} is the default store)`, parseStore))
    .addOption(checkedOption('--from <t>', 'past window start (ISO time, epoch ms, -1h)', parseTime))
    .addOption(checkedOption('--to <t>', 'past window end', parseTime))
    .addOption(checkedOption('--host <name>', 'past window: only this host', parseHostname))
    .action(async (o: { probes: string; event?: string; interval?: string; duration?: string; pid?: string; comm?: string; store?: string; from?: string; to?: string; host?: string }) => {
      const probes = parseProbes('--probes', o.probes);
      checkEvent(probes, o.event);
      const past = o.store !== undefined || o.from !== undefined || o.to !== undefined;
      if (past) {
        if (o.from === undefined) throw new UsageError('--from: a past window needs --from (and --to, default now)');
        for (const [flag, v] of [['--interval', o.interval], ['--duration', o.duration], ['--pid', o.pid], ['--comm', o.comm]] as const)
          if (v !== undefined) throw new UsageError(`${flag}: only for a live histogram (the stored histograms have no process dimension); drop --store/--from/--to`);
        process.stdout.write(await fromStore({ store: o.store ?? DEFAULT_STORE, from: o.from, to: o.to ?? 'now', probes, event: o.event, host: o.host }));
        return;
      }
      if (o.host !== undefined) throw new UsageError('--host: only for a past window (--store --from --to)');
      await live({
        probes,
        event: o.event,
        intervalMs: o.interval ? parseDuration('--interval', o.interval) : undefined,
        durationMs: o.duration ? parseDuration('--duration', o.duration) : undefined,
        pid: o.pid ? parsePid('--pid', o.pid) : undefined,
        comm: o.comm,
      });
    });
}
