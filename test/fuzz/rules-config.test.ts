// Fuzz the alert rule parser (alerts/rules.ts parseRuleFile) and the collector
// config parser (collector/ops/config.ts parseConfig) with fast-check: arbitrary
// text, YAML built from near-valid documents with hostile values, and known
// YAML attacks (alias bombs, deep nesting, tags, merge keys, duplicate keys).
// Neither may throw or hang; every rejection is an error/issue with a line and
// a message; everything a parser accepts is valid by its own rules.
import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { checkReadOnlySql, parseRuleFile, AGGREGATES } from '../../alerts/rules.js';
import { formatIssue, parseConfig } from '../../collector/ops/config.js';
import { USER_PROBES } from '../../schema/event.js';
import { note, params, PROPERTY_TIMEOUT, RUNS, summary, tally, timed, type Tally } from './fuzz-helpers.js';

const lines: string[] = [];
afterAll(() => console.log(`[fuzz] rules/config, ${RUNS} cases per property\n  ${lines.join('\n  ')}`));

function checkRules(t: Tally, text: string): void {
  const r = timed(t, 'parseRuleFile', () => parseRuleFile('fuzz.yaml', text));
  for (const e of r.errors) {
    expect(e.file).toBe('fuzz.yaml');
    expect(Number.isInteger(e.line) && e.line >= 1).toBe(true);
    expect(typeof e.message).toBe('string');
    expect(e.message.trim().length).toBeGreaterThan(3);
    note(t, e.message);
  }
  for (const g of r.groups)
    for (const rule of g.rules) {
      t.accepted++;
      expect(!!rule.sql !== !!rule.template).toBe(true);
      if (rule.sql) expect(checkReadOnlySql(rule.sql)).toBeUndefined();
      expect(rule.intervalMs % 10_000).toBe(0);
      expect(rule.windowMs % 10_000).toBe(0);
    }
}

function checkConfig(t: Tally, text: string): void {
  const r = timed(t, 'parseConfig', () => parseConfig(text, 'fuzz.yaml'));
  if (r.config) {
    t.accepted++;
    expect(r.issues).toEqual([]);
    for (const p of r.config.probes ?? []) expect(USER_PROBES).toContain(p);
    return;
  }
  expect(r.issues.length).toBeGreaterThan(0);
  for (const i of r.issues) {
    expect(i.message.trim().length).toBeGreaterThan(3);
    expect(formatIssue(i)).toMatch(/^fuzz\.yaml(:\d+:\d+)?: /);
    note(t, i.message);
  }
}

const hostile = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('0', '-1', '1e309', 'NaN', '.inf', '10', '10s', '5m', '0s', '1.5s', '7d', '99999999999999999999h', 'off', '127.0.0.1:99999', '/tmp/x', 'chdb:', 'kafka://x', '__proto__', ''),
  fc.jsonValue({ maxDepth: 2 }),
);
const mostly = <A>(good: fc.Arbitrary<A>) => fc.oneof({ weight: 15, arbitrary: good as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: hostile as fc.Arbitrary<unknown> });
/** absent 19 times in 20 */
const rare = <A>(a: fc.Arbitrary<A>) => fc.oneof({ weight: 19, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: a as fc.Arbitrary<unknown> });
const opt = <A>(a: fc.Arbitrary<A>) => fc.option(mostly(a), { nil: undefined, freq: 3 });

const template = fc.record(
  {
    source: opt(fc.constantFrom('events', 'counters')),
    rollup: opt(fc.constantFrom('10s', '1m')),
    probe: mostly(fc.constantFrom(...USER_PROBES)),
    event: opt(fc.oneof(fc.constantFrom('sendmsg', 'switch'), fc.array(fc.constantFrom('a', 'b'), { minLength: 1, maxLength: 2 }))),
    aggregate: mostly(fc.constantFrom(...AGGREGATES)),
    group_by: opt(fc.array(fc.constantFrom('host', 'comm', 'event', 'probe', 'pid', 'name'), { maxLength: 3 })),
  },
  { requiredKeys: [] },
);
const sqlText = fc.oneof(
  fc.constantFrom(
    'SELECT 1 AS value',
    'SELECT count() AS value FROM v2e.events WHERE ts >= {start} AND ts < {end}',
    'WITH 1 AS x SELECT x AS value',
    'INSERT INTO v2e.events VALUES (1)',
    'SELECT 1 AS value; DROP TABLE v2e.events',
    'SELECT 1 AS value SETTINGS readonly = 0',
    "SELECT ';' AS value",
    'SELECT 1 AS value INTO OUTFILE \'/tmp/x\'',
    '/* c */ SELECT 1 AS value -- x',
  ),
  fc.string({ maxLength: 60 }),
);
const rule = fc.record(
  {
    name: mostly(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/)),
    sql: fc.option(mostly(sqlText), { nil: undefined, freq: 2 }),
    template: fc.option(mostly(template), { nil: undefined, freq: 2 }),
    thresholds: mostly(fc.oneof(fc.record({ warning: fc.integer() }), fc.record({ info: fc.option(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { nil: undefined }), warning: fc.option(fc.integer(), { nil: undefined }), critical: fc.option(fc.integer(), { nil: undefined }) }, { requiredKeys: [] }))),
    op: opt(fc.constantFrom('>', '>=', '<', '<=', '==')),
    for: opt(fc.constantFrom('0s', '30s', '5m', 10)),
    window: opt(fc.constantFrom('10s', '1m', '5m', '15s', 60)),
    interval: opt(fc.constantFrom('10s', '1m', '5s')),
    keep_firing_for: opt(fc.constantFrom('1m', '0s')),
    no_data: opt(fc.constantFrom('ok', 'alert', 'keep')),
    baseline: rare(fc.record({ days: fc.integer({ min: 0, max: 70 }), mode: fc.constantFrom('ratio', 'zscore') })),
    labels: opt(fc.dictionary(fc.stringMatching(/^[a-z_]{1,6}$/), fc.string({ maxLength: 6 }), { maxKeys: 3 })),
    annotations: opt(fc.dictionary(fc.constantFrom('summary', 'description'), fc.string({ maxLength: 20 }), { maxKeys: 2 })),
    extra: rare(hostile),
  },
  { requiredKeys: ['name', 'thresholds'] },
);
const ruleFile = fc.record(
  { groups: mostly(fc.array(fc.record({ name: mostly(fc.constantFrom('g1', 'g2')), interval: opt(fc.constantFrom('10s', '1m', '30s', '7s')), rules: mostly(fc.array(rule, { maxLength: 4 })) }, { requiredKeys: [] }), { maxLength: 3 })) },
  { requiredKeys: [] },
);

const section = fc.record(
  {
    sample: opt(fc.integer({ min: 1, max: 10_000 })),
    pid: opt(fc.integer({ min: 1, max: 100_000 })),
    comm: opt(fc.stringMatching(/^[a-z]{1,15}$/)),
    min_value: opt(fc.constantFrom('1ms', '10us', 5000)),
    burst_rate: opt(fc.integer({ min: 1, max: 100_000 })),
    burst_size: opt(fc.integer({ min: 1, max: 100_000 })),
  },
  { requiredKeys: [] },
);
const configDoc = fc.record(
  {
    probes: opt(fc.oneof(fc.array(fc.constantFrom(...USER_PROBES), { minLength: 1, maxLength: 3 }), fc.constantFrom('uds,sched', 'uds'), fc.dictionary(fc.constantFrom(...USER_PROBES, 'nope'), fc.option(section, { nil: null }), { maxKeys: 3 }))),
    sink: opt(fc.constantFrom('stdout', 'chdb:/tmp/x', 'clickhouse://u:p@h:8123/db', 'kafka://127.0.0.1:9092/t', 'kafka://bad', 'mysql://x')),
    pid: opt(fc.integer({ min: 1, max: 5_000_000 })),
    comm: opt(fc.string({ maxLength: 20 })),
    cgroup: opt(fc.constantFrom('/sys/fs/cgroup/x', '/tmp')),
    duration: opt(fc.constantFrom('10s', '1h', 0, '5x')),
    ring_bytes: opt(fc.constantFrom(4096, 65536, 5000, 1 << 31)),
    snapshot: opt(fc.constantFrom('5s', '1s', '-1s')),
    metrics: opt(fc.constantFrom('127.0.0.1:9435', 'off', false, 'localhost')),
    metrics_top: opt(fc.integer({ min: 0, max: 20_000 })),
    control: opt(fc.constantFrom('/run/v2probe/c.sock', '127.0.0.1:9436', 'off', 'nope')),
    control_token: opt(fc.string({ minLength: 10, maxLength: 30 })),
    budget: opt(fc.constantFrom('1%', 0.5, 'off', false, 0, 150)),
    governor_priority: opt(fc.array(fc.constantFrom(...USER_PROBES, 'nope'), { maxLength: 3 })),
    unknown_key: rare(hostile),
  },
  { requiredKeys: [] },
);

/** YAML attacks and oddities, each a fixed text. */
const ATTACKS = [
  'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n',
  'groups: &g [{name: x, rules: *g}]\n',
  '['.repeat(2000) + ']'.repeat(2000),
  '- '.repeat(2000) + 'x',
  'a:\n' + Array.from({ length: 300 }, (_, i) => ' '.repeat(i + 1) + 'b:').join('\n'),
  'groups: !!binary aGVsbG8=\n',
  'groups: !!set {a, b}\n',
  'groups: !!js/function "function(){}"\n',
  'groups: !<tag:yaml.org,2002:omap> [a: 1]\n',
  'probes: {<<: {uds: {}}, sched: {}}\n',
  'probes: uds\nprobes: sched\n',
  'groups:\n  - name: g\n    rules:\n      - name: r\n        name: r2\n',
  '\uFEFFprobes: uds\n',
  '%YAML 1.1\n---\nprobes: [uds]\n...\n---\nsink: stdout\n',
  'x'.repeat(200_000),
  `sink: "${'\\u0000'.repeat(100)}"\n`,
  'probes: {__proto__: {sample: 1}}\n',
  'groups: [{name: g, rules: [{name: r, sql: "SELECT 1 AS value", thresholds: {warning: .nan}}]}]\n',
];

describe('fuzz: alert rule parser', () => {
  it('arbitrary text', () => {
    const t = tally();
    fc.assert(fc.property(fc.string({ maxLength: 300, unit: 'binary' }), (s) => checkRules(t, s)), params('rules-text'));
    lines.push(summary('rules text', t));
  }, PROPERTY_TIMEOUT);

  it('YAML documents of near-valid rules with hostile values', () => {
    const t = tally();
    fc.assert(fc.property(ruleFile, (doc) => checkRules(t, stringify(doc))), params('rules-doc'));
    lines.push(summary('rules docs', t));
    expect(t.accepted).toBeGreaterThan(0); // the generator reaches valid rules too
  }, PROPERTY_TIMEOUT);

  it('YAML attacks: no throw, no hang, a reason each', () => {
    const t = tally();
    for (const a of ATTACKS) checkRules(t, a);
    lines.push(summary('rules attacks', t));
  }, 60_000);
});

describe('fuzz: collector config parser', () => {
  it('arbitrary text', () => {
    const t = tally();
    fc.assert(fc.property(fc.string({ maxLength: 300, unit: 'binary' }), (s) => checkConfig(t, s)), params('config-text'));
    lines.push(summary('config text', t));
  }, PROPERTY_TIMEOUT);

  it('YAML documents of near-valid configs with hostile values', () => {
    const t = tally();
    fc.assert(fc.property(configDoc, (doc) => checkConfig(t, stringify(doc))), params('config-doc'));
    lines.push(summary('config docs', t));
    expect(t.accepted).toBeGreaterThan(0);
  }, PROPERTY_TIMEOUT);

  it('YAML attacks: no throw, no hang, a reason each', () => {
    const t = tally();
    for (const a of ATTACKS) checkConfig(t, a);
    lines.push(summary('config attacks', t));
  }, 60_000);
});
