/**
 * bench/alerts.ts — evaluation time of the default rule pack over 24 h of
 * generated data at 1,000 events/s, and the query time of the incident report.
 *   node dist/bench/alerts.js [events_per_s=1000] [hours=24] [rounds=5]
 * Data is generated inside the engine (INSERT … SELECT FROM numbers()), in
 * 1-hour batches, through the materialized views (rollups, watermark), spread
 * evenly over every event of every probe (schema/event.ts PROBES, from the
 * family descriptors: the names cannot go stale), so each default rule that
 * reads a defined event finds rows; then a full round of the pack is
 * timed (each rule on its latest window), and the incident report over the
 * last hour against 7 days. `undefined_events` lists the rule templates that
 * read an event no probe defines (rules for probes to come): they find no rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../store/index.js';
import { applySchema } from '../schema/ddl.js';
import { PROBES, USER_PROBES } from '../schema/event.js';
import { loadRules } from '../alerts/rules.js';
import { DEFAULT_RULES_DIR } from '../alerts/defaults.js';
import { Evaluator } from '../alerts/evaluator.js';
import { incidentReport } from '../alerts/incident.js';

const RATE = Number(process.argv[2] ?? 1000);
const HOURS = Number(process.argv[3] ?? 24);
const ROUNDS = Number(process.argv[4] ?? 5);

const dir = mkdtempSync(join(tmpdir(), 'v2bench-alerts-'));
const store = await openStore(`chdb:${dir}`);
await applySchema(store);
const end = Math.floor(Date.now() / 60_000) * 60_000;
const start = end - HOURS * 3_600_000;
/** (probe, event) of every event a user probe defines */
const KINDS = USER_PROBES.flatMap((p) => PROBES[p].events.map((e) => [p, e] as const));
const kinds = `[${KINDS.map(([p, e]) => `('${p}','${e}')`).join(',')}]`;
const t0 = performance.now();
const perHour = RATE * 3600;
for (let h = 0; h < HOURS; h++) {
  const hs = start + h * 3_600_000;
  await store.exec(`INSERT INTO v2e.events (ts, host, probe, event, pid, tid, comm, value, weight, cpu, bytes)
    SELECT fromUnixTimestamp64Nano(toInt64(${hs}) * 1000000 + intDiv(number * 3600000000000, ${perHour})) AS ts,
      concat('host', toString(number % 4)) AS host, ${kinds}[number % ${KINDS.length} + 1].1 AS probe, ${kinds}[number % ${KINDS.length} + 1].2 AS event,
      toUInt32(1000 + number % 50) AS pid, toUInt32(1000 + number % 50) AS tid, concat('svc', toString(number % 20)) AS comm,
      toInt64(1000 + (number * 2654435761) % 40000) AS value, toUInt32(1 + number % 3) AS weight, toUInt16(number % 2) AS cpu, toUInt64(4096) AS bytes
    FROM numbers(${perHour})`);
  await store.exec(`INSERT INTO v2e.counters SELECT fromUnixTimestamp64Milli(toInt64(${hs}) + number * 5000) AS ts, concat('host', toString(number % 4)) AS host,
      'sched', 'switches', 0, '', '', number * 1000, 5000 FROM numbers(720)`);
}
const genMs = performance.now() - t0;
const [{ n }] = await store.queryRows<{ n: number }>('SELECT count() AS n FROM v2e.events');
const { groups, errors } = loadRules(DEFAULT_RULES_DIR);
if (errors.length) throw new Error(`default rules: ${errors.map((e) => e.message).join('; ')}`);
const rules = groups.flatMap((g) => g.rules);
const defined = new Set(KINDS.map(([p, e]) => `${p}/${e}`));
const undefinedEvents = rules.flatMap((r) => {
  const t = r.template;
  if (!t || t.source !== 'events' || t.event === undefined) return [];
  return [t.event].flat().filter((e) => !defined.has(`${t.probe}/${e}`)).map((e) => `${r.name}: ${t.probe}/${e}`);
});
const ev = new Evaluator({ store, groups });
const times: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const t = performance.now();
  for (const rule of rules) {
    const res = await ev.evaluateAt(rule, end - r * 60_000);
    if (res.error) throw new Error(res.error);
  }
  times.push(performance.now() - t);
}
const inc: number[] = [];
for (let r = 0; r < 3; r++) inc.push((await incidentReport(store, { fromMs: end - 3_600_000, toMs: end, baselineDays: 7 })).elapsedMs);
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(JSON.stringify({
  events: Number(n), events_per_s: RATE, hours: HOURS, generate_s: +(genMs / 1000).toFixed(1), rules: rules.length,
  event_kinds: KINDS.length, undefined_events: undefinedEvents,
  round_ms: { median: +med(times).toFixed(1), max: +Math.max(...times).toFixed(1), all: times.map((t) => +t.toFixed(1)) },
  incident_ms: { median: +med(inc).toFixed(1), all: inc.map((t) => +t.toFixed(1)) },
  goal_round_le_1s: med(times) <= 1000,
}, null, 2));
await store.close();
rmSync(dir, { recursive: true, force: true });
