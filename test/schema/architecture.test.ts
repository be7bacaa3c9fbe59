// The rooms of the source tree and what each may import (issue 15; each
// room's README.md says it in words): no import cycle between source files
// (madge over every room tsconfig.json compiles, type-only and dynamic imports
// included), and no import across a room boundary the layering forbids.
// A failure prints every cycle (a > b > a) and every forbidden import
// (file -> file: rule).
import { readFileSync } from 'node:fs';
import { dirname, join, normalize, resolve } from 'node:path';
import madge from 'madge';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/** The rooms tsc compiles: tsconfig.json's "include" (scripts/setup.sh reads the same list). */
function rooms(): string[] {
  const cfg = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] };
  return [...new Set(cfg.include.map((p) => p.split('/')[0]))];
}

const room = (f: string) => f.split('/')[0];
/** The collector's base: what the capability rooms (uprobes/, profile/, explain/) may build on. */
const COLLECTOR_BASE = /^collector\/(errors\.ts|maps\.ts|families\/|pipeline\/)/;
/** Rooms below the collector: the store side, the Kafka side, the ingester, the alerts. */
const LOWER = ['schema', 'store', 'kafka', 'ingester', 'alerts'];
/** Rooms of the collector and its capabilities, and the CLI and benchmarks over them. */
const UPPER = ['collector', 'explain', 'profile', 'uprobes', 'cli', 'bench'];
/** Capability rooms, bottom up: each may import the ones before it, never the ones after. */
const CAPABILITIES = ['uprobes', 'profile', 'explain'];

/** Why `from` may not import `to` (undefined: allowed). */
function forbidden(from: string, to: string): string | undefined {
  const a = room(from);
  const b = room(to);
  if (a === b && a !== 'collector') return undefined;
  if (b === 'cli' && a !== 'cli') return 'only cli/ imports cli/';
  if (b === 'bench' && a !== 'bench') return 'nothing imports bench/';
  if (a === 'native' && b !== 'native') return 'native/ (the addon binding) imports no other room';
  if (LOWER.includes(a) && UPPER.includes(b)) return `${a}/ is below the collector: it imports none of ${UPPER.map((r) => r + '/').join(', ')}`;
  if (CAPABILITIES.includes(a)) {
    if (b === 'collector' && !COLLECTOR_BASE.test(to)) return `${a}/ builds on the collector's base only (collector/errors.ts, maps.ts, families/, pipeline/), not its core, sinks or ops`;
    if (CAPABILITIES.includes(b) && CAPABILITIES.indexOf(b) > CAPABILITIES.indexOf(a)) return `${a}/ is below ${b}/ (${CAPABILITIES.join(' < ')})`;
  }
  if (COLLECTOR_BASE.test(from)) {
    if (b === 'collector' && !COLLECTOR_BASE.test(to)) return "the collector's base imports nothing above it in collector/ (core, sinks, ops)";
    if (CAPABILITIES.includes(b)) return `the collector's base imports none of ${CAPABILITIES.map((r) => r + '/').join(', ')} (they build on it)`;
  }
  return undefined;
}

/** Relative import specifiers of a file (static, `export ... from`, dynamic), as repo paths (.js → .ts). */
function specifiers(file: string): string[] {
  const src = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm)) {
    out.push(normalize(join(dirname(file), m[2])).replace(/\.js$/, '.ts'));
  }
  return out;
}

describe('architecture: rooms and imports', () => {
  let graph: Record<string, string[]>;
  let cycles: string[][];

  beforeAll(async () => {
    const res = await madge(rooms(), { baseDir: ROOT, fileExtensions: ['ts'], tsConfig: join(ROOT, 'tsconfig.json'), excludeRegExp: [/\.d\.ts$/] });
    graph = res.obj();
    cycles = res.circular();
  }, 120_000);

  it('madge saw every room and resolved every relative import (NodeNext .js → .ts, type-only and dynamic ones too)', () => {
    const files = Object.keys(graph);
    for (const r of rooms()) expect(files.some((f) => room(f) === r), `no file of ${r}/ in the graph`).toBe(true);
    const missed: string[] = [];
    for (const f of files) for (const s of specifiers(f)) if (!graph[f].includes(s)) missed.push(`${f} -> ${s}`);
    expect(missed, `imports madge did not resolve:\n${missed.join('\n')}`).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(cycles.map((c) => [...c, c[0]].join(' > ')), 'import cycles').toEqual([]);
  });

  it('imports nothing across a room boundary the layering forbids', () => {
    const bad: string[] = [];
    for (const [f, deps] of Object.entries(graph)) for (const d of deps) {
      const why = forbidden(f, d);
      if (why) bad.push(`${f} -> ${d}: ${why}`);
    }
    expect(bad, `forbidden imports:\n${bad.join('\n')}`).toEqual([]);
  });

  it('the rules catch what they are for', () => {
    expect(forbidden('schema/rtt-tables.ts', 'collector/collector.ts')).toBeDefined();
    expect(forbidden('alerts/incident.ts', 'explain/breakdown.ts')).toBeDefined();
    expect(forbidden('ingester/ingester.ts', 'collector/sinks/kafka.ts')).toBeDefined();
    expect(forbidden('kafka/client.ts', 'collector/ops/config.ts')).toBeDefined();
    expect(forbidden('explain/session.ts', 'collector/collector.ts')).toBeDefined();
    expect(forbidden('uprobes/attach.ts', 'profile/sampler.ts')).toBeDefined();
    expect(forbidden('collector/maps.ts', 'collector/ops/metrics.ts')).toBeDefined();
    expect(forbidden('collector/collector.ts', 'cli/main.ts')).toBeDefined();
    expect(forbidden('explain/session.ts', 'collector/families/plans.ts')).toBeUndefined();
    expect(forbidden('collector/ops/metrics.ts', 'explain/histograms.ts')).toBeUndefined();
    expect(forbidden('alerts/incident.ts', 'schema/rtt-tables.ts')).toBeUndefined();
  });
});
