/**
 * explain/report.ts — what `v2probe explain` prints: the slowest trips and
 * the mean breakdown around p50/p99/p99.9 (summarize), as a fixed-column
 * table or markdown (formatReport), with where the slowest trips' broker
 * threads blocked longest (topFrames of their stacks).
 */
import { COMPONENT_HELP, COMPONENTS, type Component } from '../schema/rtt-tables.js';
import type { Breakdown } from './breakdown.js';

export interface BucketSummary {
  label: string;
  /** round trips in the bucket */
  count: number;
  total_ns: number;
  /** mean ns per component over the bucket */
  components: Record<Component, number>;
}

export interface ExplainReport {
  trips: number;
  slowest: Breakdown[];
  buckets: BucketSummary[];
}

function meanOf(bs: Breakdown[], label: string): BucketSummary {
  const components = Object.fromEntries(COMPONENTS.map((c) => [c, bs.length ? bs.reduce((s, b) => s + b[c], 0) / bs.length : 0])) as Record<Component, number>;
  return { label, count: bs.length, total_ns: bs.length ? bs.reduce((s, b) => s + b.total_ns, 0) / bs.length : 0, components };
}

/**
 * The slowest N trips, and for p50/p99/p99.9 the mean breakdown of the trips
 * around that percentile (p50: 45th–55th percentile; p99: 98.5th–99.5th;
 * p99.9: the slowest 0.1 %, at least one trip), plus all trips.
 */
export function summarize(bs: Breakdown[], slowest = 20): ExplainReport {
  const s = [...bs].sort((a, b) => a.total_ns - b.total_ns);
  const n = s.length;
  const slice = (lo: number, hi: number) => s.slice(Math.floor(lo * n), Math.max(Math.floor(lo * n) + 1, Math.ceil(hi * n)));
  const buckets = n ? [meanOf(s, 'all'), meanOf(slice(0.45, 0.55), 'p50'), meanOf(slice(0.985, 0.995), 'p99'), meanOf(s.slice(Math.min(n - 1, Math.floor(0.999 * n))), 'p99.9')] : [];
  return { trips: n, slowest: s.slice(Math.max(0, n - slowest)).reverse(), buckets };
}

const us = (ns: number) => (ns / 1000).toFixed(1);
/** A component's label in reports: its column name without the unit suffix (the table says µs). */
const label = (c: Component): string => c.replace(/_ns$/, '');

/** The leaf-most frames of a blocked stack, skipping the runtime's and syscall wrappers' own (where user code blocked). */
export function topFrames(stack: string, n = 3): string {
  const frames = stack.split(';').filter(Boolean);
  const user = frames.filter((f) => !/^(runtime\.|runtime\/internal|internal\/|syscall\.|\[unknown\])/.test(f));
  const pick = (user.length ? user : frames).slice(-n);
  return pick.reverse().join(' ← ');
}

/** Where each of the slowest trips' broker thread blocked longest (blocked categories only). */
function blockedLines(trips: Breakdown[], format: 'table' | 'md'): string[] {
  const lines = trips
    .filter((b) => b.blocked_comp && b.blocked_comp !== 'runq')
    .map((b) => `${format === 'md' ? '- ' : '  '}${b.broker_comm}/${b.broker_tid} ${us(b.total_ns)} µs: longest block ${b.blocked_comp} ${us(b.blocked_ns)} µs at ${b.blocked_stack ? topFrames(b.blocked_stack) : '[stack not captured]'}`);
  return lines.length ? ['where the slowest blocked (leaf first):', ...lines, ''] : [];
}

/** Human output: table (fixed columns, µs) or markdown. */
export function formatReport(r: ExplainReport, format: 'table' | 'md', what: string): string {
  if (r.trips === 0) return `explain ${what}: no sampled round trips in the window (does it talk over a Unix socket? is the window right?)\n`;
  const head = ['', 'n', 'total', ...COMPONENTS.map((c) => label(c))];
  const rows: string[][] = [];
  for (const b of r.buckets) rows.push([b.label, String(b.count), us(b.total_ns), ...COMPONENTS.map((c) => us(b.components[c]))]);
  const trips: string[][] = r.slowest.map((b) => [`${b.broker_comm}/${b.broker_tid}←${b.client_comm}/${b.client_tid}`, new Date(Number(BigInt(b.ts) / 1_000_000n)).toISOString().slice(11, 23), us(b.total_ns), ...COMPONENTS.map((c) => us(b[c]))]);
  const render = (h: string[], rs: string[][]) => {
    if (format === 'md') return [`| ${h.join(' | ')} |`, `|${h.map(() => '---').join('|')}|`, ...rs.map((x) => `| ${x.join(' | ')} |`)].join('\n');
    const w = h.map((_, i) => Math.max(h[i].length, ...rs.map((x) => x[i].length)));
    return [h, ...rs].map((x) => x.map((v, i) => (i === 0 ? v.padEnd(w[i]) : v.padStart(w[i]))).join('  ')).join('\n');
  };
  const legend = COMPONENTS.map((c) => `  ${label(c).padEnd(16)} ${COMPONENT_HELP[c]}`).join('\n');
  return [
    `explain ${what}: ${r.trips} sampled round trips (µs; components add up to total)`,
    '',
    render(head, rows),
    '',
    `slowest ${r.slowest.length}:`,
    render(['broker←client', 'time', 'total', ...COMPONENTS.map((c) => label(c))], trips),
    '',
    ...blockedLines(r.slowest, format),
    'components:',
    legend,
    '',
  ].join('\n');
}
