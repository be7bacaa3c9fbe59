// incident (issue 19): the p99 column fits each event's unit, taken from its
// family descriptor (schema/event.ts): a latency for durations (uds sendmsg,
// ns → µs), a size for sizes (kmem kmalloc, bytes), none for counts
// (pagefault user: the value is a count per row, its p99 means nothing).
// And v2probe's own threads — chDB's engine pools inside a process that also
// has a Node.js main thread — are left out (--include-self shows them,
// marked), while another program's `node` thread and a ClickHouse server's
// pools (no `node` thread) stay.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchema } from '../../schema/ddl.js';
import { PROBES } from '../../schema/event.js';
import { openStore, type Store } from '../../store/index.js';
import { eventUnit, formatIncident, incidentReport } from '../../alerts/incident.js';
import { runCli } from '../helpers/cli.js';
import { baseMs, insertEvents, type Ev } from './helpers.js';

let store: Store;
let dsn = '';
const T0 = baseMs(1); // window [T0, T0 + 10 min)
const W = { fromMs: T0, toMs: T0 + 600_000, baselineDays: 1 };

beforeAll(async () => {
  dsn = `chdb:${mkdtempSync(join(tmpdir(), 'v2incident-units-'))}`;
  store = await openStore(dsn);
  await applySchema(store);
  const evs: Ev[] = [];
  for (let m = 0; m < 10; m++) {
    const t = T0 + m * 60_000 + 1000;
    evs.push({ tMs: t, host: 'h', comm: 'v2broker', pid: 10, probe: 'uds', event: 'sendmsg', value: 250_000, weight: 10 });
    evs.push({ tMs: t, host: 'h', comm: 'v2broker', pid: 10, probe: 'kmem', event: 'kmalloc', value: 4096, weight: 5 });
    evs.push({ tMs: t, host: 'h', comm: 'v2broker', pid: 10, probe: 'pagefault', event: 'user', value: 1, weight: 50 });
    // v2probe itself (pid 20): a node main thread and chDB engine threads
    for (const comm of ['node', 'Segmentator', 'QueryCompPipeEx', 'ChunkParser', 'MergeMutate', 'BgSchPool'])
      evs.push({ tMs: t, host: 'h', comm, pid: 20, probe: 'pagefault', event: 'user', value: 1, weight: 500 });
    // another Node.js program (pid 30) and a ClickHouse server (pid 40: engine pools, no node thread)
    evs.push({ tMs: t, host: 'h', comm: 'node', pid: 30, probe: 'pagefault', event: 'user', value: 1, weight: 40 });
    evs.push({ tMs: t, host: 'h', comm: 'MergeMutate', pid: 40, probe: 'pagefault', event: 'user', value: 1, weight: 30 });
  }
  await insertEvents(store, evs);
});
afterAll(async () => store?.close());

describe('incident: units and v2probe itself', () => {
  it('units come from the family descriptors', () => {
    expect([eventUnit('uds', 'sendmsg'), eventUnit('kmem', 'kmalloc'), eventUnit('pagefault', 'user'), eventUnit('cpufreq', 'freq')]).toEqual(['ns', 'bytes', 'count', 'kHz']);
    for (const [p, d] of Object.entries(PROBES)) d.events.forEach((e, i) => expect(eventUnit(p, e)).toBe(d.eventUnits[i]));
  });

  it('p99 per unit: µs for durations, bytes for sizes, nothing for counts; engine threads of v2probe left out', async () => {
    const r = await incidentReport(store, W);
    const by = (comm: string, probe: string) => r.rows.find((x) => x.comm === comm && x.probe === probe);
    expect(by('v2broker', 'uds')).toMatchObject({ unit: 'ns', p99_now: 250_000 });
    expect(by('v2broker', 'kmem')).toMatchObject({ unit: 'bytes', p99_now: 4096 });
    const pf = by('v2broker', 'pagefault')!;
    expect(pf.unit).toBe('count');
    expect(Number.isNaN(pf.p99_now)).toBe(true);
    expect(pf.change).not.toMatch(/p99/);
    // v2probe's own engine threads: gone; other programs' node and ClickHouse's MergeMutate: kept
    expect(r.self.pids).toEqual([20]);
    expect(r.self.comms).toEqual(['BgSchPool', 'ChunkParser', 'QueryCompPipeEx', 'Segmentator']);
    const comms = r.rows.map((x) => x.comm).sort();
    expect(comms).toEqual(['MergeMutate', 'node', 'v2broker', 'v2broker', 'v2broker']);
    // the pagefault rate of `node` is pid 20's plus pid 30's (a shared name is not dropped)
    expect(by('node', 'pagefault')!.rate_now).toBeCloseTo((500 + 40) * 10 / 600, 6);

    const table = formatIncident(r, 'table');
    const head = table.split('\n').find((l) => l.startsWith('probe'))!;
    expect(head).not.toMatch(/p99 ns/);
    const line = (probe: string) => table.split('\n').find((l) => l.startsWith(probe) && l.includes('v2broker'))!;
    expect(line('uds')).toContain('250.0 µs');
    expect(line('kmem')).toContain('4096 B');
    expect(line('pagefault')).not.toMatch(/µs| B\b/);
    expect(table).toContain("Left out: v2probe's own threads (pid 20: BgSchPool, ChunkParser, QueryCompPipeEx, Segmentator); --include-self shows them.");
  });

  it('--include-self shows them, marked', async () => {
    const r = await incidentReport(store, { ...W, includeSelf: true });
    const selfRows = r.rows.filter((x) => x.self).map((x) => x.comm).sort();
    expect(selfRows).toEqual(['BgSchPool', 'ChunkParser', 'QueryCompPipeEx', 'Segmentator']);
    expect(formatIncident(r, 'table')).toMatch(/^pagefault\s+h\s+Segmentator \(v2probe itself\)/m);
  });

  it('the CLI: --include-self, and a bad --limit exits 2 naming it', async () => {
    await store.close();
    const out = runCli(['incident', '--store', dsn, '--from', String(W.fromMs), '--to', String(W.toMs), '--baseline', '1d', '--format', 'json']);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout).rows.some((x: { comm: string }) => x.comm === 'Segmentator')).toBe(false);
    const inc = runCli(['incident', '--store', dsn, '--from', String(W.fromMs), '--to', String(W.toMs), '--baseline', '1d', '--format', 'json', '--include-self']);
    expect(inc.code, inc.stderr).toBe(0);
    expect(JSON.parse(inc.stdout).rows.some((x: { comm: string; self?: boolean }) => x.comm === 'Segmentator' && x.self)).toBe(true);
    const bad = runCli(['incident', '--store', dsn, '--from', '-1h', '--limit', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--limit.*lots/);
    store = await openStore(dsn);
  });
});
