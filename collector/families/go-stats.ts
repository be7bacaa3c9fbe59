/**
 * collector/families/go-stats.ts — per-process Go runtime figures read from the
 * go_* families' exact maps (goroutines, gc_procs, malloc_procs).
 */
import { readU64, sumPerCpu, type FamilyMapReader } from '../maps.js';

export interface GoroutineCounts {
  /** runtime.newproc1 calls */
  created: number;
  /** runtime.goexit1 calls */
  exited: number;
  /** of created: runtime.* start functions (system goroutines, not in NumGoroutine) */
  system: number;
  /** user goroutines alive: created - system - exited (= runtime.NumGoroutine() when attached before the process started) */
  live: number;
}


/** go_sched counts of one process, or undefined when the probe has seen none of it. */
export function readGoroutines(c: FamilyMapReader, pid: number): GoroutineCounts | undefined {
  const m = c.readFamilyMap('go_sched', 'goroutines');
  if (!m) return undefined;
  for (let i = 0; i < m.count; i++) {
    if (m.keys.readUInt32LE(i * m.keySize) !== pid) continue;
    const o = i * m.valueSize;
    const created = readU64(m.values, o);
    const exited = readU64(m.values, o + 8);
    const system = readU64(m.values, o + 16);
    return { created, exited, system, live: created - system - exited };
  }
  return undefined;
}

/** go_malloc exact counts of one process (runtime.mallocgc calls with size > 0, bytes). */
export function readMallocs(c: FamilyMapReader, pid: number): { calls: number; bytes: number } | undefined {
  const m = c.readFamilyMap('go_malloc', 'malloc_procs');
  if (!m) return undefined;
  for (let i = 0; i < m.count; i++) {
    if (m.keys.readUInt32LE(i * m.keySize) !== pid) continue;
    return { calls: readU64(m.values, i * m.valueSize), bytes: readU64(m.values, i * m.valueSize + 8) };
  }
  return undefined;
}

/** app: exact calls per --uprobe target (index = position) and measured pairs. */
export function readAppCalls(c: FamilyMapReader): Array<{ calls: number; pairs: number }> {
  const calls = c.readFamilyMap('app', 'calls_by_target');
  const pairs = c.readFamilyMap('app', 'pair_ends');
  if (!calls || !pairs) return [];
  const ends = sumPerCpu(pairs, calls.count);
  return sumPerCpu(calls, calls.count).map((n, i) => ({ calls: n, pairs: ends[i] }));
}

export type FamilyCounterRow = { name: string; pid: number; key: string; value: number; gauge?: boolean };
export type AppTarget = { binary: string; symbol: string; pair?: string };

/** go_sched: live user goroutines per process (a gauge; created/exited go out through the family's keyedCounts, collector/families/plans.ts). */
export function goroutineRows(c: FamilyMapReader): FamilyCounterRow[] {
  const out: FamilyCounterRow[] = [];
  const m = c.readFamilyMap('go_sched', 'goroutines');
  for (let i = 0; m && i < m.count; i++) {
    const pid = m.keys.readUInt32LE(i * m.keySize);
    const o = i * m.valueSize;
    const created = readU64(m.values, o);
    const exited = readU64(m.values, o + 8);
    const system = readU64(m.values, o + 16);
    out.push({ name: 'goroutines', pid, key: '', value: Math.max(0, created - system - exited), gauge: true });
  }
  return out;
}

/** app: exact calls (and measured pairs) per --uprobe target, keyed BINARY:SYMBOL[:pair=S2]. */
export function appCallRows(c: FamilyMapReader, targets: ReadonlyArray<AppTarget> = []): FamilyCounterRow[] {
  const out: FamilyCounterRow[] = [];
  readAppCalls(c).forEach((r, i) => {
    const t = targets[i];
    if (!t) return;
    const key = `${t.binary}:${t.symbol}${t.pair ? `:pair=${t.pair}` : ''}`;
    out.push({ name: 'calls', pid: 0, key, value: r.calls });
    if (t.pair) out.push({ name: 'pairs', pid: 0, key, value: r.pairs });
  });
  return out;
}
