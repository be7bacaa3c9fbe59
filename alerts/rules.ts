/**
 * alerts/rules.ts — the alert rule format (YAML, validated with zod) and its loader.
 *
 * A file holds groups of rules; each rule is either raw SQL (returning a
 * `value` column and any label columns) or a threshold template over a rollup
 * (probe, event, aggregate, group by). Errors name the file, the line and the
 * field; a bad rule is skipped and the others load.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
export function parseDurationMs(text: string): number {
  const m = DURATION_RE.exec(text.trim());
  if (!m) throw new Error(`'${text}' is not a duration (examples: 30s, 5m, 1h, 7d)`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms'];
}
const Duration = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    if (typeof v === 'number') {
      // plain numbers are seconds; a negative or infinite one is not a duration (a window of -1049405130 s was accepted)
      if (!Number.isFinite(v) || v < 0) {
        ctx.addIssue({ code: 'custom', message: `${v} is not a duration (a number of seconds >= 0, or 30s, 5m, 1h, 7d)` });
        return z.NEVER;
      }
      return v * 1000;
    }
    try {
      return parseDurationMs(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });

export const AGGREGATES = ['count', 'rate', 'sum', 'sum_rate', 'time_share', 'avg', 'min', 'max', 'spread', 'p50', 'p90', 'p95', 'p99', 'p999'] as const;
export type Aggregate = (typeof AGGREGATES)[number];
const COUNTER_AGGREGATES: readonly Aggregate[] = ['count', 'rate', 'min', 'max', 'spread'];

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const Ident = z.string().regex(/^[A-Za-z0-9_.:\-]+$/, 'letters, digits, _ . : - only');

export const Template = z
  .object({
    source: z.enum(['events', 'counters']).default('events'),
    rollup: z.enum(['10s', '1m']).default('1m'),
    probe: Ident,
    /** event names (events) */
    event: z.union([Ident, z.array(Ident).min(1)]).optional(),
    /** counter names (counters) */
    name: z.union([Ident, z.array(Ident).min(1)]).optional(),
    aggregate: z.enum(AGGREGATES),
    group_by: z.array(z.enum(['host', 'comm', 'event', 'probe', 'name', 'pid', 'key'])).default(['host']),
    /** counters: only host-wide rows (pid = 0) or only per-process rows (pid > 0) */
    pid: z.enum(['host', 'process', 'any']).default('any'),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.source === 'counters' && !COUNTER_AGGREGATES.includes(t.aggregate))
      ctx.addIssue({ code: 'custom', path: ['aggregate'], message: `aggregate '${t.aggregate}' is not available on counters (use ${COUNTER_AGGREGATES.join(', ')})` });
    if (t.source === 'counters' && t.event) ctx.addIssue({ code: 'custom', path: ['event'], message: 'counters have names, not events: use name' });
    if (t.source === 'events' && t.name) ctx.addIssue({ code: 'custom', path: ['name'], message: 'events have event names: use event' });
    const allowed = t.source === 'events' ? ['host', 'comm', 'event', 'probe'] : ['host', 'comm', 'name', 'probe', 'pid', 'key'];
    t.group_by.forEach((g, i) => {
      if (!allowed.includes(g)) ctx.addIssue({ code: 'custom', path: ['group_by', i], message: `cannot group ${t.source} by '${g}' (use ${allowed.join(', ')})` });
    });
  });
export type Template = z.infer<typeof Template>;

const Thresholds = z
  .object({ info: z.number().finite().optional(), warning: z.number().finite().optional(), critical: z.number().finite().optional() })
  .strict()
  .refine((t) => SEVERITIES.some((s) => t[s] !== undefined), 'at least one of info, warning, critical');

export const Rule = z
  .object({
    name: z.string().regex(NAME, 'a name is letters, digits and _'),
    /** the operators' target this rule enforces (documentation) */
    target: z.string().optional(),
    sql: z.string().min(1).optional(),
    template: Template.optional(),
    /** compare the window with the same window on the last N days */
    baseline: z.object({ days: z.number().int().min(1).max(60), mode: z.enum(['ratio', 'zscore']).default('ratio'), min_days: z.number().int().min(1).default(1) }).strict().optional(),
    op: z.enum(['>', '>=', '<', '<=']).default('>'),
    thresholds: Thresholds,
    window: Duration.optional(),
    interval: Duration.optional(),
    for: Duration.default(0),
    keep_firing_for: Duration.default(0),
    no_data: z.enum(['ok', 'alert', 'keep']).default('ok'),
    no_data_severity: z.enum(SEVERITIES).default('warning'),
    labels: z.record(z.string().regex(NAME), z.string()).default({}),
    annotations: z.record(z.string().regex(NAME), z.string()).default({}),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (!!r.sql === !!r.template) ctx.addIssue({ code: 'custom', path: [r.sql ? 'template' : 'sql'], message: 'a rule has exactly one of sql or template' });
    if (r.baseline && !r.template) ctx.addIssue({ code: 'custom', path: ['baseline'], message: 'baseline works with a template rule' });
    // graded thresholds must be ordered in the direction of op
    const set = SEVERITIES.filter((s) => r.thresholds[s] !== undefined).map((s) => [s, r.thresholds[s]!] as const);
    const up = r.op.startsWith('>');
    for (let i = 1; i < set.length; i++) {
      const [pa, a] = set[i - 1];
      const [pb, b] = set[i];
      if (up ? b < a : b > a)
        ctx.addIssue({ code: 'custom', path: ['thresholds', pb], message: `${pb} (${b}) must be ${up ? '>=' : '<='} ${pa} (${a}) with op '${r.op}'` });
    }
    if (r.sql) {
      const problem = checkReadOnlySql(r.sql);
      if (problem) ctx.addIssue({ code: 'custom', path: ['sql'], message: problem });
    }
  });
export type RuleInput = z.input<typeof Rule>;
export type RuleSpec = z.infer<typeof Rule>;

const GroupHead = z.object({ name: z.string().regex(NAME), interval: Duration.default(60_000), rules: z.array(z.unknown()).min(1) }).strict();
const FileHead = z.object({ groups: z.array(z.unknown()).min(1) }).strict();

/** A loaded rule with its defaults resolved. */
export interface LoadedRule extends RuleSpec {
  group: string;
  file: string;
  line: number;
  intervalMs: number;
  windowMs: number;
}
export interface RuleGroup {
  name: string;
  file: string;
  intervalMs: number;
  rules: LoadedRule[];
}
export interface RuleError {
  file: string;
  line: number;
  rule?: string;
  message: string;
}

/**
 * Static read-only check of rule SQL: one SELECT (or WITH … SELECT) statement,
 * no SETTINGS clause (the evaluator sets readonly and the limits), no
 * statement separator. The evaluator also runs it as a subquery with
 * readonly=1, so a write cannot even parse.
 */
const SYSTEM_TABLES_ALLOWED = ['numbers', 'numbers_mt', 'one', 'zeros', 'zeros_mt'];
export function checkReadOnlySql(sql: string): string | undefined {
  const text = sql
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .trim()
    .replace(/;\s*$/, '');
  if (!/^(SELECT|WITH)\b/i.test(text)) return `rule SQL must be a single SELECT query (starts with '${text.split(/\s+/)[0] ?? ''}'); writes are refused`;
  const noStrings = text.replace(/'(?:[^'\\]|\\.)*'/g, "''");
  if (noStrings.includes(';')) return 'rule SQL must be a single statement (found ;)';
  if (/\bSETTINGS\b/i.test(noStrings)) return 'rule SQL may not carry SETTINGS (the evaluator sets readonly, time and row limits)';
  if (/\bINTO\s+OUTFILE\b/i.test(noStrings)) return 'rule SQL may not write files (INTO OUTFILE)';
  // readonly=1 lets a SELECT read every system table (settings, query log, users on a server): rules read the v2e tables only
  for (const m of noStrings.matchAll(/[`"]?\bsystem[`"]?\s*\.\s*[`"]?(\w+)/gi))
    if (!SYSTEM_TABLES_ALLOWED.includes(m[1].toLowerCase())) return `rule SQL may not read system.${m[1]} (rules read the v2e tables; system.numbers, system.one and system.zeros are allowed)`;
  return undefined;
}

function lineOf(doc: Document, lc: LineCounter, path: Array<string | number>): number {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return lc.linePos(node.range[0]).line;
  }
  return 1;
}

function zodMessage(err: z.ZodError): Array<{ path: Array<string | number>; message: string }> {
  return err.issues.map((i) => {
    const path = i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)) as Array<string | number>;
    if (i.code === 'unrecognized_keys') {
      // point at the unknown key's line
      const where = path.length ? `${path.join('.')}: ` : '';
      return { path: [...path, i.keys[0]], message: `${where}unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `'${k}'`).join(', ')}` };
    }
    return { path, message: `${path.length ? `${path.join('.')}: ` : ''}${i.message}` };
  });
}

/** Parse one YAML text (a rule file). Bad rules become errors; good ones load. */
export function parseRuleFile(file: string, text: string): { groups: RuleGroup[]; errors: RuleError[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const errors: RuleError[] = [];
  if (doc.errors.length > 0) {
    for (const e of doc.errors) errors.push({ file, line: e.linePos?.[0]?.line ?? lc.linePos(e.pos[0]).line, message: `invalid YAML: ${e.message.split('\n')[0]}` });
    return { groups: [], errors };
  }
  let data: unknown;
  try {
    data = doc.toJS(); // throws on alias bombs (yaml's maxAliasCount) and similar resource limits
  } catch (err) {
    errors.push({ file, line: 1, message: `invalid YAML: ${(err as Error).message}` });
    return { groups: [], errors };
  }
  const head = FileHead.safeParse(data);
  if (!head.success) {
    for (const i of zodMessage(head.error)) errors.push({ file, line: lineOf(doc, lc, i.path), message: i.message });
    return { groups: [], errors };
  }
  const groups: RuleGroup[] = [];
  head.data.groups.forEach((g, gi) => {
    const gh = GroupHead.safeParse(g);
    if (!gh.success) {
      for (const i of zodMessage(gh.error)) errors.push({ file, line: lineOf(doc, lc, ['groups', gi, ...i.path]), message: `group ${gi}: ${i.message}` });
      return;
    }
    const group: RuleGroup = { name: gh.data.name, file, intervalMs: gh.data.interval, rules: [] };
    gh.data.rules.forEach((r, ri) => {
      const base = ['groups', gi, 'rules', ri];
      const line = lineOf(doc, lc, base);
      const name = typeof r === 'object' && r && 'name' in r ? String((r as { name: unknown }).name) : undefined;
      const parsed = Rule.safeParse(r);
      if (!parsed.success) {
        for (const i of zodMessage(parsed.error)) errors.push({ file, line: lineOf(doc, lc, [...base, ...i.path]), rule: name, message: i.message });
        return;
      }
      const intervalMs = parsed.data.interval ?? gh.data.interval;
      const windowMs = parsed.data.window ?? intervalMs;
      if (intervalMs < 10_000 || intervalMs % 10_000 !== 0) {
        errors.push({ file, line, rule: name, message: `interval ${intervalMs / 1000}s: must be a multiple of 10s` });
        return;
      }
      if (windowMs < 10_000 || windowMs % 10_000 !== 0) {
        errors.push({ file, line, rule: name, message: `window ${windowMs / 1000}s: must be a multiple of 10s` });
        return;
      }
      if (parsed.data.template?.rollup === '1m' && (windowMs % 60_000 !== 0 || intervalMs % 60_000 !== 0)) {
        errors.push({ file, line, rule: name, message: 'a template over the 1m rollup needs window and interval in whole minutes' });
        return;
      }
      const dup = groups.flatMap((x) => x.rules).concat(group.rules).find((x) => x.name === parsed.data.name);
      if (dup) {
        errors.push({ file, line, rule: name, message: `rule name '${parsed.data.name}' already used at line ${dup.line}` });
        return;
      }
      group.rules.push({ ...parsed.data, group: group.name, file, line, intervalMs, windowMs });
    });
    if (group.rules.length > 0) groups.push(group);
  });
  void isMap;
  void isSeq;
  return { groups, errors };
}

/** Load every *.yaml / *.yml file of a directory (or one file). Rule names must be unique across files. */
export function loadRules(path: string): { groups: RuleGroup[]; errors: RuleError[] } {
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
        .map((f) => join(path, f))
    : [path];
  const out: { groups: RuleGroup[]; errors: RuleError[] } = { groups: [], errors: [] };
  const seen = new Map<string, string>();
  for (const f of files) {
    const r = parseRuleFile(f, readFileSync(f, 'utf8'));
    out.errors.push(...r.errors);
    for (const g of r.groups) {
      g.rules = g.rules.filter((rule) => {
        const where = seen.get(rule.name);
        if (where) {
          out.errors.push({ file: f, line: rule.line, rule: rule.name, message: `rule name '${rule.name}' already defined in ${where}` });
          return false;
        }
        seen.set(rule.name, `${f}:${rule.line}`);
        return true;
      });
      if (g.rules.length) out.groups.push(g);
    }
  }
  return out;
}

export function formatRuleError(e: RuleError): string {
  return `${e.file}:${e.line}: ${e.rule ? `rule ${e.rule}: ` : ''}${e.message}`;
}
