// Rule files: good ones load with defaults; bad ones (invalid YAML, unknown
// field, bad threshold, SQL that writes) give an error with file and line, the
// bad rule is skipped, the rest load.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkReadOnlySql, formatRuleError, loadRules, parseRuleFile } from '../../alerts/rules.js';
import { templateSql, substitute } from '../../alerts/query.js';

const GOOD = `groups:
  - name: g
    interval: 30s
    rules:
      - name: Ok1
        template: { probe: uds, aggregate: p99, rollup: 10s }
        thresholds: { warning: 1 }
`;

describe('rule loader', () => {
  it('loads a rule with its defaults', () => {
    const r = parseRuleFile('a.yaml', GOOD);
    expect(r.errors).toEqual([]);
    expect(r.groups[0].rules[0]).toMatchObject({ name: 'Ok1', group: 'g', intervalMs: 30_000, windowMs: 30_000, for: 0, keep_firing_for: 0, no_data: 'ok', op: '>', line: 5 });
    expect(templateSql(r.groups[0].rules[0].template!)).toBe(`SELECT host, quantileTDigestWeightedMerge(0.99)(value_q) AS value
FROM v2e.events_10s
WHERE ts >= {start} AND ts < {end} AND probe = 'uds'
GROUP BY host`);
    expect(substitute('{start} {end} {seconds}', 1000, 61000)).toBe('fromUnixTimestamp64Milli(toInt64(1000)) fromUnixTimestamp64Milli(toInt64(61000)) 60');
  });

  it('invalid YAML: file and line', () => {
    const r = parseRuleFile('bad.yaml', 'groups:\n  - name: g\n    rules: [\n      {name: x\n');
    expect(r.groups).toEqual([]);
    expect(r.errors[0].file).toBe('bad.yaml');
    expect(r.errors[0].line).toBeGreaterThanOrEqual(3);
    expect(r.errors[0].message).toMatch(/invalid YAML/);
  });

  it('unknown field, bad threshold, writing SQL: each rule skipped with file:line, the rest load', () => {
    const text = `groups:
  - name: g
    rules:
      - name: Good
        template: { probe: uds, aggregate: count }
        thresholds: { warning: 5 }
      - name: Unknown
        template: { probe: uds, aggregate: count }
        thresholds: { warning: 5 }
        severity_level: high
      - name: BadThreshold
        template: { probe: uds, aggregate: count }
        thresholds: { warning: "lots" }
      - name: Misordered
        template: { probe: uds, aggregate: count }
        thresholds: { warning: 50, critical: 5 }
      - name: Dropper
        sql: DROP TABLE v2e.events
        thresholds: { warning: 1 }
      - name: Inserter
        sql: |
          INSERT INTO v2e.events SELECT * FROM v2e.events
        thresholds: { warning: 1 }
      - name: Sneaky
        sql: SELECT 1 AS value; DROP TABLE v2e.events
        thresholds: { warning: 1 }
      - name: Settings
        sql: SELECT 1 AS value SETTINGS readonly = 0
        thresholds: { warning: 1 }
      - name: Both
        sql: SELECT 1 AS value
        template: { probe: uds, aggregate: count }
        thresholds: { warning: 1 }
      - name: CounterP99
        template: { source: counters, probe: sched, name: switches, aggregate: p99 }
        thresholds: { warning: 1 }
`;
    const r = parseRuleFile('rules/x.yaml', text);
    expect(r.groups[0].rules.map((x) => x.name)).toEqual(['Good']);
    const msgs = r.errors.map(formatRuleError);
    expect(msgs).toEqual([
      "rules/x.yaml:10: rule Unknown: unknown field 'severity_level'",
      expect.stringMatching(/^rules\/x\.yaml:13: rule BadThreshold: thresholds\.warning: .*number/),
      "rules/x.yaml:16: rule Misordered: thresholds.critical: critical (5) must be >= warning (50) with op '>'",
      expect.stringMatching(/^rules\/x\.yaml:18: rule Dropper: sql: rule SQL must be a single SELECT query \(starts with 'DROP'\); writes are refused$/),
      expect.stringMatching(/^rules\/x\.yaml:21: rule Inserter: sql: .*starts with 'INSERT'/),
      'rules/x.yaml:25: rule Sneaky: sql: rule SQL must be a single statement (found ;)',
      expect.stringMatching(/^rules\/x\.yaml:28: rule Settings: sql: rule SQL may not carry SETTINGS/),
      expect.stringMatching(/^rules\/x\.yaml:3\d: rule Both: .*exactly one of sql or template/),
      expect.stringMatching(/^rules\/x\.yaml:3\d: rule CounterP99: template\.aggregate: aggregate 'p99' is not available on counters/),
    ]);
  });

  it('a directory: every yaml file, duplicate names refused across files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2rules-'));
    writeFileSync(join(dir, 'a.yaml'), GOOD);
    writeFileSync(join(dir, 'b.yml'), GOOD.replace('name: g', 'name: h'));
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const r = loadRules(dir);
    expect(r.groups.map((g) => g.name)).toEqual(['g']);
    expect(r.errors.map(formatRuleError)).toEqual([`${join(dir, 'b.yml')}:5: rule Ok1: rule name 'Ok1' already defined in ${join(dir, 'a.yaml')}:5`]);
  });

  it('read-only SQL check', () => {
    expect(checkReadOnlySql('WITH 1 AS x SELECT x AS value')).toBeUndefined();
    expect(checkReadOnlySql("SELECT ';' AS value;")).toBeUndefined();
    expect(checkReadOnlySql('-- comment\nSELECT 1 AS value')).toBeUndefined();
    expect(checkReadOnlySql('ALTER TABLE v2e.events DELETE WHERE 1')).toMatch(/writes are refused/);
    expect(checkReadOnlySql('SELECT 1 INTO OUTFILE \'/tmp/x\'')).toMatch(/OUTFILE/);
  });
});
