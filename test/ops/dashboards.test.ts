// dashboards/: every Grafana dashboard matches the parts of Grafana's dashboard
// JSON model it relies on (a zod schema below), is what dashboards/generate.mjs
// writes, and every panel's SQL — with the ClickHouse plugin's macros and the
// template variables replaced by concrete values — runs on chDB against the
// real schema (applySchema) and returns the rows of synthetic data inserted
// through the same tables the collector writes.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchema } from '../../schema/ddl.js';
import { CounterRow, EventRow, HIST_SLOTS, HistogramRow } from '../../schema/event.js';
import { openStore, type Store } from '../../store/index.js';
import { storeTargets } from '../helpers/stores.js';
import { ROOT } from '../helpers/cli.js';
import { expandMacros } from '../helpers/grafana.js';
// @ts-expect-error: a plain ESM script without type declarations
import { DASHBOARDS, DATASOURCE_TYPE, DATASOURCE_UID, dashboardText } from '../../dashboards/generate.mjs';

const DIR = resolve(ROOT, 'dashboards');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
const dashboards = files.map((f) => ({ file: f, json: JSON.parse(readFileSync(join(DIR, f), 'utf8')) as unknown }));

// ---- Grafana's dashboard JSON model: the required parts ----
const int = z.number().int();
const Datasource = z.object({ type: z.literal(DATASOURCE_TYPE as string), uid: z.string().min(1) });
const Target = z.object({
  refId: z.string().regex(/^[A-Z]{1,3}$/),
  datasource: Datasource,
  editorType: z.literal('sql'),
  format: z.union([z.literal(0), z.literal(1)]),
  queryType: z.enum(['timeSeries', 'table']),
  rawSql: z.string().min(1),
});
const GridPos = z
  .object({ x: int.min(0).max(23), y: int.min(0), w: int.min(1).max(24), h: int.min(1) })
  .refine((g) => g.x + g.w <= 24, 'gridPos: x + w must be <= 24');
const Panel = z.object({
  id: int.min(1),
  type: z.enum(['timeseries', 'table', 'stat', 'gauge', 'heatmap', 'bargauge']),
  title: z.string().min(1),
  description: z.string().optional(),
  datasource: Datasource,
  gridPos: GridPos,
  fieldConfig: z.object({ defaults: z.object({ unit: z.string().min(1) }).passthrough(), overrides: z.array(z.unknown()) }),
  options: z.record(z.string(), z.unknown()),
  targets: z.array(Target).min(1),
});
const Variable = z.discriminatedUnion('type', [
  z.object({ type: z.literal('datasource'), name: z.string().regex(/^\w+$/), query: z.literal(DATASOURCE_TYPE as string), current: z.object({ value: z.string() }).passthrough() }).passthrough(),
  z
    .object({
      type: z.literal('query'),
      name: z.string().regex(/^\w+$/),
      datasource: Datasource,
      query: z.string().min(1),
      refresh: z.union([z.literal(0), z.literal(1), z.literal(2)]),
      multi: z.boolean(),
      includeAll: z.boolean(),
    })
    .passthrough(),
]);
const Dashboard = z
  .object({
    uid: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/),
    title: z.string().min(1),
    schemaVersion: int.min(36),
    version: int.min(0),
    editable: z.boolean(),
    tags: z.array(z.string()),
    time: z.object({ from: z.string(), to: z.string() }),
    timezone: z.string(),
    refresh: z.string(),
    annotations: z.object({ list: z.array(z.object({ name: z.string(), type: z.string() }).passthrough()) }),
    templating: z.object({ list: z.array(Variable) }),
    panels: z.array(Panel).min(1),
  })
  .passthrough();
type Dashboard = z.infer<typeof Dashboard>;

describe('dashboards: Grafana dashboard model', () => {
  it('there are dashboards, one per generator entry, each file exactly what generate.mjs writes', () => {
    expect(files.sort()).toEqual(Object.keys(DASHBOARDS).map((k) => `${k}.json`).sort());
    for (const f of files) expect(readFileSync(join(DIR, f), 'utf8'), `${f}: run node dashboards/generate.mjs`).toBe(dashboardText(f.replace(/\.json$/, '')));
  });

  it.each(dashboards)('$file matches the schema, with unique panel ids, no overlapping panels, known variables', ({ file, json }) => {
    const r = Dashboard.safeParse(json);
    expect(r.success, `${file}: ${r.success ? '' : z.prettifyError(r.error)}`).toBe(true);
    const d = r.data!;
    expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
    const cells = new Set<string>();
    for (const p of d.panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++)
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const c = `${x},${y}`;
          expect(cells.has(c), `${file}: panel ${p.id} overlaps another at ${c}`).toBe(false);
          cells.add(c);
        }
    }
    const vars = new Set(d.templating.list.map((v) => v.name));
    const sqls = [...d.panels.flatMap((p) => p.targets.map((t) => t.rawSql)), ...d.templating.list.map((v) => ('query' in v ? String(v.query) : ''))];
    for (const s of sqls) for (const m of s.matchAll(/\$\{(\w+)(?::\w+)?\}/g)) expect(vars.has(m[1]), `${file}: unknown variable ${m[0]}`).toBe(true);
    for (const p of d.panels) for (const t of p.targets) expect(t.datasource.uid).toBe('${datasource}');
  });

  it('dashboard uids are unique', () => {
    const uids = dashboards.map((d) => (d.json as Dashboard).uid);
    expect(new Set(uids).size).toBe(uids.length);
  });

  it('covers the priority metrics and the probes being added', () => {
    const titles = dashboards.flatMap((d) => (d.json as Dashboard).panels.map((p) => p.title.toLowerCase()));
    for (const want of ['uds latency p99', 'uds latency p50', 'context switches/s per core', 'run-queue latency', 'block i/o latency', 'drops per probe and reason', 'gc stop-the-world pause', 'goroutines', 'page faults/s', 'lock wait'])
      expect(titles.some((t) => t.includes(want)), want).toBe(true);
  });
});

describe('dashboards: provisioning files', () => {
  it('datasources.yaml provisions the ClickHouse plugin under the uid the dashboards default to', () => {
    const y = parseYaml(readFileSync(join(DIR, 'provisioning/datasources.yaml'), 'utf8'));
    expect(y.apiVersion).toBe(1);
    expect(y.datasources).toEqual([expect.objectContaining({ type: DATASOURCE_TYPE, uid: DATASOURCE_UID, jsonData: expect.objectContaining({ defaultDatabase: 'v2e', protocol: 'native' }) })]);
    for (const d of dashboards) {
      const ds = (d.json as Dashboard).templating.list.find((v) => v.type === 'datasource')!;
      expect(ds.current.value).toBe(DATASOURCE_UID);
    }
  });

  it('dashboards.yaml is a file provider', () => {
    const y = parseYaml(readFileSync(join(DIR, 'provisioning/dashboards.yaml'), 'utf8'));
    expect(y.apiVersion).toBe(1);
    expect(y.providers).toEqual([expect.objectContaining({ type: 'file', options: expect.objectContaining({ path: expect.stringMatching(/^\//) }) })]);
  });
});

// ---- every query on chDB with the real schema ----

const NOW = Math.floor(Date.now() / 1000);
const FROM = NOW - 3600;
const TO = NOW + 60;

/** Expand the ClickHouse plugin's macros and Grafana's variables as Grafana would (test/helpers/grafana.ts). */
function expand(sqlText: string, intervalS: number): string {
  let out = '';
  expect(() => (out = expandMacros(sqlText, { from: FROM, to: TO, intervalS, host: 'test-host', comms: ['v2broker', 'worker'] }))).not.toThrow();
  return out;
}

function syntheticRows(): { events: EventRow[]; counters: CounterRow[]; histograms: HistogramRow[] } {
  const host = 'test-host';
  const events: EventRow[] = [];
  const counters: CounterRow[] = [];
  const histograms: HistogramRow[] = [];
  const ns = (sAgo: number, i = 0) => (BigInt(NOW - sAgo) * 1_000_000_000n + BigInt(i)).toString();
  const ev = (sAgo: number, probe: EventRow['probe'], event: string, comm: string, value: number, extra: Partial<EventRow> = {}, i = 0): EventRow => ({
    ts: ns(sAgo, i),
    host,
    probe,
    event,
    pid: 4242,
    tid: 4243,
    comm,
    value,
    weight: 10,
    cpu: i % 2,
    ...extra,
  });
  let cum = 0;
  for (let s = 300; s >= 0; s -= 5) {
    for (let i = 0; i < 4; i++) {
      events.push(ev(s, 'uds', i % 2 ? 'sendmsg' : 'recvmsg', i < 2 ? 'v2broker' : 'worker', 10_000 + i * 1000, { fd: 3, ret: 64 }, i));
      events.push(ev(s, 'sched', 'switch', 'worker', 0, { state: 1 }, i));
      events.push(ev(s, 'sched', 'runq', 'worker', 5_000 + i * 500, {}, i));
      events.push(ev(s, 'blockio', i % 2 ? 'write' : 'read', 'dd', 200_000 + i * 10_000, { dev: (8 << 20) | 0, bytes: 4096, weight: 1 }, i));
      events.push(ev(s, 'go_gc', 'stw_mark_term', 'v2broker', 80_000 + i * 100, { seq: s, weight: 1 }, i));
      events.push(ev(s, 'lock', 'mutex', 'worker', 30_000, { addr: 1234 }, i));
      events.push(ev(s, 'futex', 'wait', 'v2broker', 50_000, { addr: 5678, ret: 0 }, i));
      events.push(ev(s, 'pagefault', 'user', 'v2broker', 1, { addr: 4096, state: 6 }, i));
    }
    cum += 100;
    const c = (probe: string, name: string, pid: number, comm: string, key = ''): CounterRow => ({ ts: ns(s), host, probe, name, pid, comm, key, value: cum, delta: 100 });
    counters.push(
      c('uds', 'calls_sendmsg', 0, ''),
      c('uds', 'calls_recvmsg', 0, ''),
      c('uds', 'lost_ringbuf', 0, ''),
      c('sched', 'switches', 0, ''),
      c('sched', 'burst_dropped', 0, ''),
      c('blockio', 'completed_write', 0, '', '8:0'),
      c('go_gc', 'gc_cycles', 4242, 'v2broker'),
      c('go_gc', 'gc_stw_ns', 4242, 'v2broker'),
      c('go_sched', 'goroutines_created', 4242, 'v2broker'),
      { ...c('go_sched', 'goroutines_exited', 4242, 'v2broker'), value: cum / 2 },
      c('pagefault', 'faults_user', 0, ''),
      c('pagefault', 'faults_kernel', 0, ''),
      c('pagefault', 'faults_user', 4242, 'v2broker'),
      c('lock', 'wait_ns_mutex', 0, ''),
    );
    const h = (probe: string, event: string): HistogramRow => ({ ts: ns(s), host, probe, event, counts: Array.from({ length: HIST_SLOTS }, (_, i) => (i >= 10 && i <= 14 ? 5 : 0)) });
    histograms.push(h('uds', 'sendmsg'), h('uds', 'recvmsg'), h('sched', 'runq'), h('blockio', 'write'));
  }
  return { events, counters, histograms };
}

for (const target of storeTargets()) {
  describe.skipIf(target.skip)(`dashboards: every query runs on ${target.name} with the real schema${target.skip ? ` (skipped: ${target.skip})` : ''}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await openStore(target.dsn());
      await target.reset?.(store);
      await applySchema(store);
      const rows = syntheticRows();
      // valid rows of the event definition, as the collector writes them
      for (const r of rows.events) EventRow.parse(r);
      for (const r of rows.counters) CounterRow.parse(r);
      for (const r of rows.histograms) HistogramRow.parse(r);
      await store.insertRows('v2e.events', rows.events);
      await store.insertRows('v2e.counters', rows.counters);
      await store.insertRows('v2e.histograms', rows.histograms);
    });
    afterAll(async () => store?.close());

    const panels = dashboards.flatMap((d) => (d.json as Dashboard).panels.map((p) => ({ dashboard: d.file, id: p.id, title: p.title, sql: p.targets[0].rawSql, format: p.targets[0].format })));
    const variables = dashboards.flatMap((d) =>
      (d.json as Dashboard).templating.list.filter((v) => v.type === 'query').map((v) => ({ dashboard: d.file, name: v.name, sql: String((v as { query: string }).query) })),
    );

    it.each(panels)('$dashboard #$id $title', async ({ sql, format }) => {
      for (const interval of [1, 60]) {
        const rows = await store.queryRows<Record<string, unknown>>(expand(sql, interval));
        expect(rows.length, 'no rows from the synthetic data: does the query match the names the probes write?').toBeGreaterThan(0);
        if (format === 0) {
          // time series: a time column, and every other numeric column finite
          const first = rows[0];
          expect(first).toHaveProperty('time');
          for (const r of rows) {
            expect(Number.isNaN(Date.parse(String(r.time).replace(' ', 'T') + 'Z'))).toBe(false);
            for (const [k, v] of Object.entries(r)) if (typeof v === 'number') expect(Number.isFinite(v), `${k}=${v}`).toBe(true);
          }
        }
      }
    });

    it.each(variables)('$dashboard variable $name', async ({ sql }) => {
      const rows = await store.queryRows<Record<string, unknown>>(expand(sql, 10));
      expect(rows.length).toBeGreaterThan(0);
      expect(Object.keys(rows[0])).toHaveLength(1);
    });

    it('a broken query fails (the check is real)', async () => {
      await expect(store.queryRows(expand('SELECT $__timeInterval(ts) AS time, no_such_column FROM v2e.events WHERE $__timeFilter(ts)', 10))).rejects.toThrow();
    });
  });
}
