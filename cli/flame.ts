/**
 * cli/flame.ts — `v2probe flame`: sample stacks of a process (or a comm, or
 * the whole host) for a while, write an interactive SVG flame graph, and
 * optionally folded stacks and a gzipped pprof profile; with --store also
 * write the sampled stacks to the store (v2e.stacks, per --window, folded
 * with counts). With --store and --from/--to, draw the flame graph of a past
 * window from the store instead (fleet-wide: every host and pid, optionally
 * one --comm/--host/--pid), and with --diff a differential flame graph of
 * that window against --baseline-from/--baseline-to.
 *
 *   v2probe flame --pid N --duration 10s --out flame.svg [--pprof p.pb.gz] [--folded f.txt]
 *                 [--off-cpu] [--comm NAME] [--frequency 99] [--store DSN [--window 10s]]
 *   v2probe flame --store DSN --from T --to T [--comm NAME] [--kind oncpu|offcpu] --out x.svg [--pprof p.pb.gz]
 *                 [--diff --baseline-from T --baseline-to T]
 *
 * Exit codes: 0 ok (also when the process exited mid-profile: what was
 * sampled is written, to the files and the store), 2 bad input (unknown pid,
 * bad duration or time, unreachable store), 1 kernel or store failure, or no
 * samples.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { toFolded, toPprof, toSvg } from '../profile/flame.js';
import { runProfile, type Stack } from '../profile/sampler.js';
import { readStacks, stackRows, writeStacks, type StackKind } from '../profile/stack-store.js';
import { bpfPrivilege } from '../collector/families/kernel.js';
import { KernelError } from '../collector/errors.js';
import { applySchema } from '../schema/ddl.js';
import { openStore, type Store } from '../store/index.js';
import { UsageError } from './errors.js';
import { checkedOption, parseChoice, parseComm, parseDuration, parseDurationOrZero, parseHostname, parseIntFlag, parseOutputFile, parsePid, parseStore, parseTime, type FlagParser } from './parse.js';

const MAX_DURATION_MS = 3_600_000;
const MAX_RANGE_MS = 31 * 86_400_000;

type Opts = Record<string, string | boolean | undefined>;

const iso = (ms: number) => new Date(ms).toISOString();

const KINDS = ['oncpu', 'offcpu'] as const;
const duration: FlagParser<number> = (f, t) => parseDuration(f, t, { max: MAX_DURATION_MS });
const windowLength: FlagParser<number> = (f, t) => parseDuration(f, t, { min: 1000, max: MAX_DURATION_MS });
const frequency: FlagParser<number> = (f, t) => parseIntFlag(f, t, 1, 10000);
const kindOf: FlagParser<StackKind> = (f, t) => parseChoice(f, t, KINDS);

function range(fromFlag: string, toFlag: string, from: string | undefined, to: string | undefined): { fromMs: number; toMs: number } {
  if (from === undefined) throw new UsageError(`${fromFlag} is required`);
  const fromMs = parseTime(fromFlag, from);
  const toMs = parseTime(toFlag, to ?? 'now');
  if (!(toMs > fromMs)) throw new UsageError(`${toFlag} must be after ${fromFlag}`);
  if (toMs - fromMs > MAX_RANGE_MS) throw new UsageError(`${fromFlag}/${toFlag}: the window must be at most 31 days`);
  return { fromMs, toMs };
}

/** --out/--pprof/--folded (also the default --out): the directory must exist and be writable (checked before sampling: exit 2). */
function checkOutputs(o: Opts): void {
  for (const f of ['out', 'pprof', 'folded'] as const) if (o[f] !== undefined && o[f] !== false) parseOutputFile(`--${f}`, String(o[f]));
}

/** Flame graph of a past window (and optionally a baseline window) from the store. */
async function fromStore(o: Opts): Promise<void> {
  const kind = o.kind !== undefined ? kindOf('--kind', String(o.kind)) : o.offCpu ? 'offcpu' : 'oncpu';
  const win = range('--from', '--to', o.from as string | undefined, o.to as string | undefined);
  const base = o.diff ? range('--baseline-from', '--baseline-to', o.baselineFrom as string | undefined, o.baselineTo as string | undefined) : undefined;
  if (!o.diff && (o.baselineFrom !== undefined || o.baselineTo !== undefined)) throw new UsageError('--baseline-from/--baseline-to need --diff');
  const comm = o.comm !== undefined ? parseComm('--comm', String(o.comm)) : undefined;
  const pid = o.pid !== undefined ? parsePid('--pid', String(o.pid)) : undefined;
  const host = o.host !== undefined ? String(o.host) : undefined;
  const store = await openStore(String(o.store));
  try {
    await applySchema(store);
    const cur = await readStacks(store, { ...win, kind, comm, host, pid });
    const bl = base ? await readStacks(store, { ...base, kind, comm, host, pid }) : undefined;
    const unit = kind === 'oncpu' ? 'samples' : 'ns';
    const total = cur.stacks.reduce((s, x) => s + x.value, 0);
    const what = [comm !== undefined ? `comm ${comm}` : '', pid !== undefined ? `pid ${pid}` : '', host !== undefined ? `host ${host}` : `${cur.hosts.length} host(s)`].filter(Boolean).join(', ');
    const span = (r: { fromMs: number; toMs: number }) => `${iso(r.fromMs)} .. ${iso(r.toMs)}`;
    const title = `${kind === 'oncpu' ? 'on-CPU' : 'off-CPU'} — ${what} — ${span(win)}${base ? ` vs baseline ${span(base)}` : ''}`;
    writeFileSync(String(o.out), toSvg(cur.stacks, { title, unit, baseline: bl?.stacks }));
    if (o.pprof) writeFileSync(String(o.pprof), toPprof(cur.stacks, { kind, frequency: cur.frequency || 99, startNs: BigInt(win.fromMs) * 1_000_000n, durationMs: win.toMs - win.fromMs }));
    if (o.folded) writeFileSync(String(o.folded), toFolded(cur.stacks));
    const btotal = bl ? bl.stacks.reduce((s, x) => s + x.value, 0) : 0;
    process.stderr.write(
      `flame: ${total} ${unit} in ${cur.stacks.length} stacks from ${cur.windows} window(s) of ${cur.hosts.join(', ') || 'no host'} in ${store.dsn}` +
        `${bl ? `; baseline ${btotal} ${unit} in ${bl.stacks.length} stacks from ${bl.windows} window(s)` : ''}; wrote ${o.out}${o.pprof ? `, ${o.pprof}` : ''}${o.folded ? `, ${o.folded}` : ''}\n`,
    );
    if (total === 0) {
      process.stderr.write(`flame: no ${kind} stacks in ${store.dsn} for ${span(win)}${comm !== undefined ? ` and comm ${comm}` : ''}\n`);
      process.exitCode = 1;
    }
  } finally {
    await store.close();
  }
}

export function registerFlame(program: Command): void {
  program
    .command('flame')
    .description('on-CPU (or --off-cpu) flame graph of a process: SVG, folded stacks, pprof; live, or a past window from the store')
    .addOption(checkedOption('--pid <pid>', 'only this process', parsePid))
    .addOption(checkedOption('--comm <name>', 'only tasks with this name', parseComm))
    .option('--all', 'every process on the host')
    .addOption(checkedOption('--duration <d>', 'how long to sample (e.g. 10s; at most 1h)', duration, '10s'))
    .addOption(checkedOption('--out <file>', 'SVG flame graph to write', parseOutputFile, 'flame.svg'))
    .addOption(checkedOption('--pprof <file>', 'also write a gzipped pprof profile (go tool pprof reads it)', parseOutputFile))
    .addOption(checkedOption('--folded <file>', 'also write folded stacks', parseOutputFile))
    .option('--off-cpu', 'time blocked off CPU instead of on-CPU samples')
    .addOption(checkedOption('--frequency <hz>', 'on-CPU sampling frequency', frequency, '99'))
    .addOption(checkedOption('--min-block <d>', 'off-CPU: ignore waits shorter than this', parseDurationOrZero, '0ms'))
    .addOption(checkedOption('--store <dsn>', 'live: also write the sampled stacks to this store; with --from: read them from it', parseStore))
    .addOption(checkedOption('--window <d>', 'live with --store: one row set per window of this length', windowLength, '10s'))
    .addOption(checkedOption('--from <t>', 'with --store: draw a past window (ISO time, epoch ms, -1h)', parseTime))
    .addOption(checkedOption('--to <t>', 'with --from: window end (default now)', parseTime))
    .addOption(checkedOption('--kind <k>', 'with --from: oncpu or offcpu (default oncpu; --off-cpu means offcpu)', kindOf))
    .addOption(checkedOption('--host <name>', 'with --from: only this host (default: every host)', parseHostname))
    .option('--diff', 'with --from: differential flame graph against --baseline-from/--baseline-to (red grew, blue shrank)')
    .addOption(checkedOption('--baseline-from <t>', 'with --diff: baseline window start', parseTime))
    .addOption(checkedOption('--baseline-to <t>', 'with --diff: baseline window end (default now)', parseTime))
    .action(async (o: Opts) => {
      checkOutputs(o);
      if (o.from !== undefined || o.diff) {
        if (o.store === undefined) throw new UsageError('--from/--diff read past stacks from a store: give --store DSN');
        return fromStore(o);
      }
      return live(o);
    });
}

/** A live profile's flags: what to sample, how long, how often (exit 2 on bad input, before anything attaches). */
function liveOptions(o: Opts): { pid?: number; comm?: string; durationMs: number; hz: number; minBlockMs: number; windowMs: number } {
  for (const f of ['to', 'kind', 'host', 'baselineFrom', 'baselineTo'] as const)
    if (o[f] !== undefined) throw new UsageError(`--${f.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} needs --store DSN --from T`);
  const pid = o.pid !== undefined ? parsePid('--pid', String(o.pid)) : undefined;
  const comm = o.comm !== undefined ? parseComm('--comm', String(o.comm)) : undefined;
  if (pid === undefined && comm === undefined && !o.all) throw new UsageError('flame: give --pid N, --comm NAME or --all');
  if (pid !== undefined && !existsSync(`/proc/${pid}`)) throw new UsageError(`--pid: no process ${pid}`);
  const durationMs = duration('--duration', String(o.duration));
  const hz = frequency('--frequency', String(o.frequency));
  const minBlockMs = parseDurationOrZero('--min-block', String(o.minBlock));
  const windowMs = windowLength('--window', String(o.window));
  return { pid, comm, durationMs, hz, minBlockMs, windowMs };
}

/** With --store: each window's stacks written as they come (a failed write is kept, sampling goes on), and what was stored. */
function stackWriter(store: Store, host: string, kind: StackKind, hz: number) {
  const w = { stored: 0, windows: 0, firstMs: 0, lastMs: 0, error: undefined as string | undefined };
  const onWindow = async (stacks: Stack[], win: { startMs: number; endMs: number }) => {
    if (w.error) return;
    const rows = stackRows(stacks, { ...win, host, kind, frequency: hz });
    try {
      await writeStacks(store, rows);
      w.stored += rows.length;
      w.windows++;
      if (!w.firstMs) w.firstMs = win.startMs;
      w.lastMs = win.endMs;
    } catch (err) {
      w.error = (err as Error).message; // keep sampling: the files are still written
    }
  };
  return { w, onWindow };
}

/** Sample now: write the SVG (and pprof, folded), and with --store the stacks per window. */
async function live(o: Opts): Promise<void> {
  const { pid, comm, durationMs, hz, minBlockMs, windowMs } = liveOptions(o);
  const priv = bpfPrivilege();
  if (!priv.ok) throw new KernelError('PERMISSION', priv.reason!);

  let store: Store | undefined;
  if (o.store !== undefined) {
    store = await openStore(String(o.store)); // BAD_DSN / UNREACHABLE → exit 2
    await applySchema(store);
  }
  const host = hostname();
  const kind: StackKind = o.offCpu ? 'offcpu' : 'oncpu';
  const writer = store ? stackWriter(store, host, kind, hz) : undefined;

  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  try {
    const r = await runProfile({ pid, comm, durationMs, frequency: hz, offCpu: !!o.offCpu, minBlockNs: minBlockMs * 1e6, signal: ac.signal, onWindow: writer?.onWindow, windowMs,
      onStart: () => process.stderr.write(`flame: sampling for ${o.duration}\n`) });
    const unit = r.kind === 'oncpu' ? 'samples' : 'ns';
    const total = r.stacks.reduce((s, x) => s + x.value, 0);
    const what = pid !== undefined ? `pid ${pid}` : comm !== undefined ? `comm ${comm}` : 'all';
    const title = `${r.kind === 'oncpu' ? `on-CPU ${hz} Hz` : 'off-CPU'} — ${what} — ${(r.durationMs / 1000).toFixed(1)} s`;
    writeFileSync(String(o.out), toSvg(r.stacks, { title, unit }));
    if (o.pprof) writeFileSync(String(o.pprof), toPprof(r.stacks, r));
    if (o.folded) writeFileSync(String(o.folded), toFolded(r.stacks));
    const w = writer?.w;
    process.stderr.write(
      `flame: ${total} ${unit} in ${r.stacks.length} stacks over ${(r.durationMs / 1000).toFixed(1)} s${r.exited ? ` (process ${pid} exited mid-profile; samples so far written)` : ''}; ` +
        `wrote ${o.out}${o.pprof ? `, ${o.pprof}` : ''}${o.folded ? `, ${o.folded}` : ''}` +
        `${store && w ? `; stored ${w.stored} stack rows in ${w.windows} window(s) to ${store.dsn} (host ${host}, kind ${kind}, from ${w.firstMs} to ${w.lastMs})` : ''}; counters ${JSON.stringify(r.counters)}\n`,
    );
    if (w?.error) {
      process.stderr.write(`flame: writing stacks to ${store!.dsn} failed: ${w.error}\n`);
      process.exitCode = 1;
    }
    if (total === 0) process.exitCode = 1;
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    await store?.close();
  }
}
