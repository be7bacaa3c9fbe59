// The status of `up` / `collect --status`: on a terminal a compact view redrawn
// in place every second (events/s, sampled/s, dropped, hook CPU per probe,
// stored rows); otherwise one structured pino line per interval.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { ProbeStatus } from '../../collector/collector.js';
import { formatLiveView, statusSnapshot } from '../../cli/run-collector.js';
import { BIN, ROOT, runCli } from '../helpers/cli.js';

const status = (probe: ProbeStatus['probe'], counters: Record<string, number>, state: ProbeStatus['state'] = 'running', error?: string): ProbeStatus => ({
  probe,
  state,
  counters,
  error,
  attachErrors: [],
});

describe('live status: snapshot and view', () => {
  const governor = { perProbe: { uds: 0.0001, sched: 0.0012 }, share: 0.0013, budgetRatio: 0.01 };
  const prev = new Map([
    ['uds', { seen: 1000, sampled: 10 }],
    ['sched', { seen: 50_000, sampled: 500 }],
  ]);
  const now = [
    status('uds', { seen: 3000, sampled: 12, lost_ringbuf: 3, burst_dropped: 2 }),
    status('sched', { seen: 150_000, sampled: 1500 }),
    status('blockio', {}, 'failed', 'failed to attach blockio: EPERM'),
  ];

  it('rates over the interval, every kind of drop, hook CPU from the governor', () => {
    const s = statusSnapshot(now, prev, 1000, 4321, governor);
    expect(s.storedRows).toBe(4321);
    expect(s.cpuPct).toBeCloseTo(0.13);
    expect(s.budgetPct).toBe(1);
    expect(s.probes).toEqual([
      { probe: 'uds', state: 'running', eventsPerS: 2000, sampledPerS: 2, dropped: 5, hookCpuPct: 0.01 },
      { probe: 'sched', state: 'running', eventsPerS: 100_000, sampledPerS: 1000, dropped: 0, hookCpuPct: 0.12 },
      { probe: 'blockio', state: 'failed', error: 'failed to attach blockio: EPERM' },
    ]);
    // over 2 s the rates halve; without a previous sample or a governor they are unknown
    expect(statusSnapshot(now, prev, 2000, 0).probes[1]).toMatchObject({ eventsPerS: 50_000, hookCpuPct: undefined });
    expect(statusSnapshot(now, new Map(), 1000, 0).probes[0]).toMatchObject({ eventsPerS: undefined, dropped: 5 });
  });

  it('the view: a header, one aligned line per probe', () => {
    const lines = formatLiveView(statusSnapshot(now, prev, 1000, 4321, governor)).split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^v2probe {2}\d\d:\d\d:\d\d {3}stored 4,321 rows {3}probes 0\.130% of CPU \(budget 1\.000%\)$/);
    expect(lines[1]).toMatch(/^probe +state +events\/s +sampled\/s +dropped +hook CPU$/);
    expect(lines[2]).toMatch(/^uds +running +2,000 +2 +5 +0\.010%$/);
    expect(lines[3]).toMatch(/^sched +running +100,000 +1,000 +0 +0\.120%$/);
    expect(lines[4]).toMatch(/^blockio +failed +failed to attach blockio: EPERM$/);
    // columns line up under the header
    expect(lines[2].length).toBe(lines[1].length);
    expect(lines[3].length).toBe(lines[1].length);
  });
});

const root = process.getuid?.() === 0;
describe.skipIf(!root)('live status of the CLI (needs root)', () => {
  it('not a terminal: structured pino lines', () => {
    const r = runCli(['collect', '--probes', 'sched', '--sink', 'stdout', '--status', '500ms', '--duration', '2200ms']);
    expect(r.code).toBe(0);
    const lines = r.stderr
      .split('\n')
      .filter((l) => l.includes('"msg":"status"'))
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    const last = lines.at(-1);
    // dropped is a count, not a promise of 0: a busy machine may fill the pipe to the test faster than it reads (k1quiet: 53)
    expect(last).toMatchObject({ level: 30, storedRows: expect.any(Number), probes: [{ probe: 'sched', state: 'running', eventsPerS: expect.any(Number), dropped: expect.any(Number) }] });
    expect(last.probes[0].dropped).toBeGreaterThanOrEqual(0);
    expect(last.probes[0].eventsPerS).toBeGreaterThan(0); // a machine always switches
    expect(r.stderr).not.toContain('\x1b[');
  });

  const hasScript = spawnSync('script', ['--version']).status === 0;
  it.skipIf(!hasScript)('on a terminal: the view, redrawn in place every second', () => {
    // `script` gives the command a pseudo-terminal (stdout to /dev/null: NDJSON rows)
    const cmd = `'${process.execPath}' '${BIN}' collect --probes sched --sink stdout --status 2s --duration 3500ms --budget 1 >/dev/null`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
    expect(r.status).toBe(0);
    const out = r.stdout;
    // redrawn every second even with --status 2s: at least 3 views, each after the first moves up over the last
    expect(out.match(/events\/s +sampled\/s +dropped +hook CPU/g)?.length ?? 0).toBeGreaterThanOrEqual(3);
    expect(out).toContain('\x1b[3F\x1b[J');
    expect(out).toMatch(/sched +running +[\d,]+ +[\d,]+ +\d+ +\d+\.\d{3}%/);
    expect(out).not.toContain('"msg":"status"');
  });
});
