// Helpers for ground-truth probe tests: a sink that keeps everything in memory,
// a collector started in-process, and the fixture workloads (test/fixtures).
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { Collector, type CollectorOptions } from '../../collector/collector.js';
import { ensureTracefs } from '../../collector/families/kernel.js';
import type { Sink } from '../../collector/sinks/sink.js';
import type { CounterRow, EventRow, HistogramRow } from '../../schema/event.js';
import { ROOT } from './cli.js';

export class MemorySink implements Sink {
  readonly name = 'memory';
  events: EventRow[] = [];
  counters: CounterRow[] = [];
  histograms: HistogramRow[] = [];
  async writeEvents(rows: EventRow[]) {
    this.events.push(...rows);
  }
  async writeCounters(rows: CounterRow[]) {
    this.counters.push(...rows);
  }
  async writeHistograms(rows: HistogramRow[]) {
    this.histograms.push(...rows);
  }
  async close() {}
}

export const quietLogger = pino({ level: process.env.V2PROBE_TEST_LOG ?? 'silent' });

export async function startCollector(o: Omit<CollectorOptions, 'sink' | 'logger'> & { sink?: Sink }) {
  ensureTracefs();
  const sink = (o.sink ?? new MemorySink()) as MemorySink;
  const c = new Collector({ snapshotMs: 60_000, ...o, sink, logger: quietLogger });
  const status = await c.start();
  return { collector: c, sink, status };
}

const pexec = promisify(execFile);
export const FIXTURES = resolve(ROOT, 'build/fixtures');

/** Run a fixture program (a name under build/fixtures, or a path); returns its JSON summary line. timeoutMs only stops a hang. */
export async function runFixture<T = Record<string, number>>(name: string, args: string[], timeoutMs = 120_000): Promise<T> {
  const bin = resolve(FIXTURES, name);
  if (!existsSync(bin)) throw new Error(`fixture ${bin} is not built: run npm run build`);
  const { stdout } = await pexec(bin, args, { timeout: timeoutMs });
  const last = stdout.trim().split('\n').pop()!;
  return JSON.parse(last) as T;
}

/**
 * A copy of fixture `name` under a file name of its own, which becomes its
 * processes' comm (`prefix` + random hex, at most 15 characters): a `--comm`
 * filter on it selects this test's processes only, not the same fixture run
 * by anything else on the machine (another checkout's suite, another
 * engineer's run). Pass `path` to runFixture; `remove()` deletes the copy.
 */
export function privateFixture(name: string, prefix: string): { path: string; comm: string; remove: () => void } {
  const src = resolve(FIXTURES, name);
  if (!existsSync(src)) throw new Error(`fixture ${src} is not built: run npm run build`);
  const comm = (prefix + randomBytes(8).toString('hex')).slice(0, 15);
  const dir = mkdtempSync(join(tmpdir(), 'v2probe-fixture-'));
  const path = join(dir, comm);
  copyFileSync(src, path);
  chmodSync(path, 0o755);
  return { path, comm, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function procStatCtxt(): number {
  const m = /^ctxt (\d+)/m.exec(readFileSync('/proc/stat', 'utf8'));
  return Number(m![1]);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export const isRoot = process.getuid?.() === 0;
