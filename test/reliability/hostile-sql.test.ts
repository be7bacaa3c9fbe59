// Hostile alert rule SQL: writes, statement stacking, SETTINGS overrides, files,
// table functions, system tables, huge results, sleeps and endless scans. Each is
// refused when the rule file loads (with file:line and a reason) or cut off when
// it runs (read-only, time limit, row limit) — and the good rules of the same
// round keep running and the store is unchanged.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Evaluator } from '../../alerts/evaluator.js';
import { parseRuleFile } from '../../alerts/rules.js';
import { applySchema } from '../../schema/ddl.js';
import { openStore, type Store } from '../../store/index.js';
import { baseMs, insertEvents } from '../alerts/helpers.js';

let store: Store;
beforeAll(async () => {
  store = await openStore(`chdb:${mkdtempSync(join(tmpdir(), 'v2hostile-'))}`);
  await applySchema(store);
});
afterAll(async () => store?.close());

const rule = (name: string, sql: string) => `      - name: ${name}\n        sql: ${JSON.stringify(sql)}\n        thresholds: { warning: 0 }\n`;
const head = 'groups:\n  - name: hostile\n    interval: 10s\n    rules:\n';

/** refused when loading: [name, sql, reason] */
const REFUSED: Array<[string, string, RegExp]> = [
  ['Insert', 'INSERT INTO v2e.events SELECT * FROM v2e.events', /single SELECT|writes are refused/],
  ['Drop', 'DROP TABLE v2e.events', /single SELECT/],
  ['Stacked', 'SELECT 1 AS value; DROP TABLE v2e.events', /single statement/],
  ['Settings', 'SELECT 1 AS value SETTINGS readonly = 0', /SETTINGS/],
  ['Outfile', "SELECT 1 AS value INTO OUTFILE '/tmp/v2probe-pwned'", /OUTFILE/],
  ['SysTables', 'SELECT count() AS value FROM system.tables', /system\.tables/],
  ['SysQuoted', 'SELECT count() AS value FROM `system`.`query_log`', /system\.query_log/],
  ['SysSpaced', 'SELECT count() AS value FROM system . processes', /system\.processes/],
  ['SysUsers', 'WITH (SELECT count() FROM system.users) AS u SELECT u AS value', /system\.users/],
];
/** load, then fail or get cut off when run: [name, sql, error] */
const CUT_OFF: Array<[string, string, RegExp]> = [
  ['FileRead', "SELECT count() AS value FROM file('/etc/passwd', 'LineAsString')", /readonly|READONLY/],
  ['UrlRead', "SELECT count() AS value FROM url('http://127.0.0.1:1/x', 'LineAsString')", /readonly|READONLY/],
  ['Exec', "SELECT count() AS value FROM executable('id', 'TSV', 'x String')", /readonly|READONLY/],
  ['Huge', 'SELECT number AS value, toString(number) AS k FROM numbers(1000000000)', /more than 100 result rows/],
  ['Sleep', 'SELECT sleep(3) + 1 AS value', /Timeout exceeded|TIMEOUT/i],
  ['SleepEachRow', 'SELECT sleepEachRow(1) + 1 AS value FROM numbers(100)', /maximum sleep time|Timeout/i],
  ['Endless', 'SELECT count() AS value FROM numbers(100000000000)', /Timeout exceeded|TIMEOUT/i],
  ['CrossJoin', 'SELECT count() AS value FROM numbers(1000000) AS a, numbers(1000000) AS b', /Timeout exceeded|TIMEOUT|memory/i],
];
const GOOD = `      - name: Good
        template: { source: events, rollup: 10s, probe: uds, aggregate: count, group_by: [host] }
        thresholds: { warning: 5 }
      - name: GoodSql
        sql: "SELECT host, count() AS value FROM v2e.events WHERE ts >= {start} AND ts < {end} GROUP BY host"
        thresholds: { warning: 5 }
`;

describe('hostile alert SQL', () => {
  it('refused at load with file:line and a reason; cut off at run time; good rules keep running; store unchanged', async () => {
    const text = head + REFUSED.map(([n, s]) => rule(n, s)).join('') + CUT_OFF.map(([n, s]) => rule(n, s)).join('') + GOOD;
    const { groups, errors } = parseRuleFile('hostile.yaml', text);
    for (const [name, , reason] of REFUSED) {
      const e = errors.find((x) => x.rule === name);
      expect(e, name).toBeDefined();
      expect(e!.message, name).toMatch(reason);
      expect(e!.line, name).toBeGreaterThan(3);
    }
    const loaded = groups.flatMap((g) => g.rules.map((r) => r.name));
    expect(loaded.sort()).toEqual([...CUT_OFF.map(([n]) => n), 'Good', 'GoodSql'].sort());

    const T0 = baseMs(2);
    await insertEvents(store, Array.from({ length: 20 }, (_, i) => ({ tMs: T0 + 1000 + i * 100, host: 'h1', probe: 'uds', event: 'sendmsg', value: 1000 })));
    const before = await store.queryRows("SELECT name, total_rows FROM system.tables WHERE database = 'v2e' AND name NOT LIKE 'alert_%' ORDER BY name");
    const ev = new Evaluator({ store, groups, limits: { timeoutSec: 1, maxRows: 100 } });
    const t0 = performance.now();
    const results = [];
    for (const r of groups.flatMap((g) => g.rules)) results.push(await ev.evaluateAt(r, T0 + 10_000));
    const ms = performance.now() - t0;
    const by = Object.fromEntries(results.map((r) => [r.rule, r]));
    for (const [name, , err] of CUT_OFF) expect(by[name].error ?? 'no error', name).toMatch(err);
    expect(by.Good.error).toBeUndefined();
    expect(by.GoodSql.error).toBeUndefined();
    expect(by.Good.transitions.map((t) => t.to)).toEqual(['firing']);
    expect(by.GoodSql.transitions.map((t) => t.to)).toEqual(['firing']);
    // every hostile rule was cut off by the limit (its error above names it): the round did not hang
    const errs = await store.queryRows<{ rule: string }>("SELECT DISTINCT rule FROM v2e.alert_log WHERE to_state = 'error' ORDER BY rule");
    expect(errs.map((e) => e.rule)).toEqual(CUT_OFF.map(([n]) => n).sort());
    expect(await store.queryRows("SELECT name, total_rows FROM system.tables WHERE database = 'v2e' AND name NOT LIKE 'alert_%' ORDER BY name")).toEqual(before);
    console.log(`[hostile-sql] ${REFUSED.length} refused at load, ${CUT_OFF.length} cut off at run time in ${Math.round(ms)} ms total; 2 good rules fired`);
  }, 120_000);
});
