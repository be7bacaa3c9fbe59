/**
 * collector/ops/config.ts — the collector's config file (YAML), validated with zod.
 *
 * It holds everything the `collect` / `up` flags set, plus per-probe sections
 * that have no flag (filters, outlier threshold, burst limit). Keys are
 * snake_case; unknown keys are errors, never ignored. Every error names the
 * file, the line and column, the field path and the value:
 *
 *   /etc/v2probe/v2probe.yaml:7:13: probes.uds.sample = 0: the rate must be 1..1000000000 (1 = every event)
 *
 * Example:
 *   probes:                  # a list, "uds,sched", or a map of per-probe sections
 *     uds: { sample: 1000, comm: v2broker, min_value: 1ms, burst_rate: 5000 }
 *     sched: { sample: 100 }
 *     blockio: {}
 *   sink: chdb:/var/lib/v2probe/data
 *   snapshot: 5s
 *   metrics: 127.0.0.1:9435          # or off
 *   metrics_top: 20
 *   control: /run/v2probe/control.sock   # or 127.0.0.1:9436 with control_token, or off
 *   budget: 1%                       # or off
 *   governor_priority: [blockio, sched, uds]   # acted on first come first
 *   keep_capabilities: false         # true: do not drop capabilities after attaching (--keep-capabilities)
 *   explain: [v2broker]              # round-trip breakdowns to these brokers (or "v2broker,other")
 *   explain_sample: 100              # 1 in N client requests carries one
 *   explain_stacks: false            # Go brokers: blocked stacks (a uprobe hit per goroutine park)
 *   shm_rings:                       # shared-memory rings (--shm-ring), the same syntax
 *     - /usr/bin/v2broker:publish=main.Publish,consume=main.Consume,overflow=main.Overflow
 *   kafka:                           # TLS/SASL of a kafka[s]:// sink (the sink URL's options win)
 *     ca: /etc/v2probe/kafka-ca.pem  # also cert + key (client certificate), servername, insecure: true (no verification)
 *     sasl: scram-sha-512            # plain | scram-sha-256 | scram-sha-512
 *     username: collector
 *     password_file: /etc/v2probe/kafka.password   # or password: (V2PROBE_KAFKA_PASSWORD wins over both)
 */
import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { USER_PROBES, type ProbeName } from '../../schema/event.js';
import { parseStoreDsn, redactDsn } from '../../store/dsn.js';
import { KafkaConfigSection, settingsFromSection, type KafkaSecuritySettings } from '../../kafka/security.js';
import { parseKafkaSinkUrl } from '../../kafka/client.js';
import { checkShmRing, parseShmRing } from '../../uprobes/shm-ring.js';

/** Settings of one probe family. */
export interface ProbeSection {
  /** 1-in-N sampling of per-event rows */
  sample?: number;
  pid?: number;
  comm?: string;
  /** ns: events at least this long are always sampled */
  minValue?: number;
  /** sampled rows/s per CPU and bucket depth (the --burst flag) */
  burstRate?: number;
  burstSize?: number;
}

/** A validated config file, normalized (durations in ms, budget in percent). */
export interface CollectorConfig {
  probes?: ProbeName[];
  sink?: string;
  pid?: number;
  comm?: string;
  /** cgroup v2 directory (checked to exist when the collector starts) */
  cgroup?: string;
  durationMs?: number;
  ringBytes?: number;
  snapshotMs?: number;
  /** HOST:PORT or 'off' */
  metrics?: string;
  metricsTop?: number;
  /** socket path, HOST:PORT or 'off' */
  control?: string;
  controlToken?: string;
  /** percent of all CPUs, or 'off' */
  budget?: number | 'off';
  /** probes the governor acts on first (the others follow in the default order) */
  governorPriority?: ProbeName[];
  /** keep every capability after attaching (default: drop all but the needed ones) */
  keepCapabilities?: boolean;
  /** explain round trips to brokers with these comms (the rtt family) */
  explain?: string[];
  /** 1-in-N client requests carry a breakdown */
  explainSample?: number;
  /** Go brokers: blocked stacks (uprobe on runtime.gopark) */
  explainStacks?: boolean;
  /** shared-memory rings, as --shm-ring specs (checked against their binaries) */
  shmRings?: string[];
  /** TLS/SASL of a kafka[s]:// sink (the `kafka:` section) */
  kafka?: KafkaSecuritySettings;
  perProbe: Partial<Record<ProbeName, ProbeSection>>;
}

export interface ConfigIssue {
  file: string;
  line?: number;
  col?: number;
  /** dotted field path, e.g. probes.uds.sample ('' for the whole file) */
  path: string;
  /** the offending value, as YAML would show it (undefined when absent) */
  value?: string;
  message: string;
}

export function formatIssue(i: ConfigIssue): string {
  const where = `${i.file}${i.line ? `:${i.line}:${i.col ?? 1}` : ''}`;
  const field = i.path ? `${i.path}${i.value !== undefined ? ` = ${i.value}` : ''}: ` : '';
  return `${where}: ${field}${i.message}`;
}

/** A bad config file: the collector refuses to start on it. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(`config ${file}: ${issues.length} error${issues.length === 1 ? '' : 's'}\n${issues.map(formatIssue).join('\n')}`);
    this.name = 'ConfigError';
  }
}

// ---- value checks (the same rules as the flags in cli/parse.ts) ----

const DURATION = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** '10s' | '500ms' | 2 (seconds) → ms; undefined when malformed. */
function durationMs(v: string | number): number | undefined {
  const m = DURATION.exec(String(v).trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] ?? 's'];
}

type Ctx = z.RefinementCtx;
const fail = (ctx: Ctx, message: string) => {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
};

const int = (min: number, max: number, what = '') =>
  z
    .number({ error: `should be an integer ${min}..${max}${what}` })
    .int({ error: `should be an integer ${min}..${max}${what}` })
    .min(min, { error: `should be ${min}..${max}${what}` })
    .max(max, { error: `should be ${min}..${max}${what}` });

const Duration = z.union([z.string(), z.number()], { error: "should be a duration such as 500ms, 10s, 2m, 1h" }).transform((v, ctx) => {
  const ms = durationMs(v);
  if (ms === undefined) return fail(ctx, 'is not a duration (examples: 500ms, 10s, 2m, 1h; a bare number is seconds)');
  if (!(ms > 0)) return fail(ctx, 'should be a positive duration');
  return ms;
});

const UNKNOWN_PROBE = `unknown probe; valid probes: ${USER_PROBES.join(', ')}`;
const Probe = z.string({ error: 'should be a probe name' }).refine((p) => (USER_PROBES as string[]).includes(p), { error: UNKNOWN_PROBE });

const Pid = int(1, 4_194_304, ' (a process id)');
const Comm = z
  .string({ error: "should be a task name (the kernel's comm, 1 to 15 characters)" })
  .min(1, { error: "should be 1 to 15 characters (the kernel's task comm)" })
  .max(15, { error: "should be 1 to 15 characters (the kernel's task comm)" });
const Listen = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
const listenOk = (s: string) => {
  const m = Listen.exec(s);
  return !!m && Number(m[2]) <= 65535;
};

const Section = z
  .object({
    sample: int(1, 1_000_000_000, ' (1-in-N; 1 = every event)').optional(),
    pid: Pid.optional(),
    comm: Comm.optional(),
    /** a duration (always sample events at least this long) or ns as an integer */
    min_value: z
      .union([z.string(), z.number()], { error: 'should be a duration (e.g. 1ms) or nanoseconds' })
      .transform((v, ctx) => {
        const ns = typeof v === 'number' ? v : (durationMs(v) ?? NaN) * 1e6;
        if (!Number.isInteger(Math.round(ns)) || ns < 0) return fail(ctx, 'should be a duration such as 1ms, or an integer of nanoseconds');
        if (ns > 0xffffffff) return fail(ctx, 'should be at most 4294967295 ns (~4.29 s): the kernel keeps it in 32 bits');
        return Math.round(ns);
      })
      .optional(),
    burst_rate: int(1, 10_000_000, ' (sampled rows/s per CPU; over it: counted as burst_dropped)').optional(),
    burst_size: int(1, 100_000_000, ' (token bucket depth; default = burst_rate)').optional(),
  })
  .strict()
  .refine((s) => s.burst_size === undefined || s.burst_rate !== undefined, { error: 'burst_size needs burst_rate', path: ['burst_size'] });

const ProbeList = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : v),
  z.array(Probe, { error: `should be a list of probes, "uds,sched", or a map of probe → settings; valid probes: ${USER_PROBES.join(', ')}` }).min(1, {
    error: 'empty probe list',
  }),
);

const FileSchema = z
  .object({
    /** checked by ProbesField (its shape depends on the value's type) */
    probes: z.unknown().optional(),
    sink: z
      .string({ error: 'should be a store DSN (chdb:PATH | clickhouse://…), kafka[s]://HOST:PORT/TOPIC or stdout' })
      .superRefine((s, ctx) => {
        if (s === 'stdout' || s === '-') return;
        if (/^kafkas?:\/\//.test(s)) {
          try {
            parseKafkaSinkUrl(s, 'sink'); // syntax and option names; files and password are checked when the collector starts
          } catch (err) {
            ctx.addIssue({ code: 'custom', message: (err as Error).message });
          }
          return;
        }
        try {
          parseStoreDsn(s);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      })
      .optional(),
    pid: Pid.optional(),
    comm: Comm.optional(),
    cgroup: z
      .string({ error: 'should be a cgroup v2 directory, e.g. /sys/fs/cgroup/system.slice/v2broker.service' })
      .regex(/^\/sys\/fs\/cgroup(\/|$)/, { error: 'should be a cgroup v2 directory under /sys/fs/cgroup' })
      .optional(),
    duration: Duration.optional(),
    ring_bytes: int(4096, 1 << 30, ' (a power of two)')
      .refine((n) => (n & (n - 1)) === 0, { error: 'should be a power of two (4096, 8192, … 1073741824)' })
      .optional(),
    snapshot: Duration.optional(),
    metrics: z
      .union([z.string(), z.literal(false)], { error: 'should be HOST:PORT (e.g. 127.0.0.1:9435) or off' })
      .transform((v) => (v === false ? 'off' : v))
      .refine((v) => v === 'off' || listenOk(v), { error: 'should be HOST:PORT (e.g. 127.0.0.1:9435) or off' })
      .optional(),
    metrics_top: int(1, 10_000, ' (processes with their own metric series)').optional(),
    control: z
      .union([z.string(), z.literal(false)], { error: 'should be a Unix socket path, 127.0.0.1:PORT or off' })
      .transform((v) => (v === false ? 'off' : v))
      .refine((v) => v === 'off' || v.startsWith('/') || v.startsWith('.') || listenOk(v), {
        error: 'should be a Unix socket path (/run/v2probe/control.sock), HOST:PORT or off',
      })
      .optional(),
    control_token: z.string({ error: 'should be a string' }).min(16, { error: 'use at least 16 characters' }).optional(),
    budget: z
      .union([z.number(), z.string(), z.literal(false)], { error: 'should be a percentage of all CPUs in (0, 100], e.g. 1 or 0.5%, or off' })
      .transform((v, ctx) => {
        if (v === false || v === 'off') return 'off' as const;
        const m = /^(\d+(?:\.\d+)?)%?$/.exec(String(v).trim());
        const n = m ? Number(m[1]) : NaN;
        if (!(n > 0 && n <= 100)) return fail(ctx, 'should be a percentage of all CPUs in (0, 100], e.g. 1 or 0.5%, or off');
        return n;
      })
      .optional(),
    governor_priority: z.array(Probe, { error: 'should be a list of probes (acted on first come first)' }).min(1, { error: 'empty list' }).optional(),
    keep_capabilities: z.boolean({ error: 'should be true or false' }).optional(),
    explain: z
      .preprocess(
        (v) => (typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : v),
        z.array(Comm, { error: 'should be broker task names: a list, or "v2broker,other"' }).min(1, { error: 'empty list of brokers' }),
      )
      .optional(),
    explain_sample: int(1, 1_000_000, ' (1 in N client requests carries a breakdown)').optional(),
    explain_stacks: z.boolean({ error: 'should be true or false' }).optional(),
    shm_rings: z
      .array(
        z.string().transform((v, ctx) => {
          try {
            checkShmRing(parseShmRing(v));
            return v;
          } catch (err) {
            return fail(ctx, (err as Error).message);
          }
        }),
        { error: 'should be a list of rings: BINARY:publish=SYMBOL,consume=SYMBOL[,overflow=SYMBOL][,seq=argN][,fill=argN]' },
      )
      .min(1, { error: 'empty list of rings' })
      .optional(),
    kafka: KafkaConfigSection.optional(),
  })
  .strict();

const ProbeMap = z.record(z.string(), Section.nullable());
/** `probes:` is a list, a comma-separated string, or a map of probe → section. */
function probesSchema(v: unknown) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? ProbeMap : ProbeList;
}

type Raw = Omit<z.output<typeof FileSchema>, 'probes'> & { probes?: string[] | z.output<typeof ProbeMap> };

function normalize(r: Raw): CollectorConfig {
  const perProbe: CollectorConfig['perProbe'] = {};
  let probes: ProbeName[] | undefined;
  if (Array.isArray(r.probes)) probes = [...new Set(r.probes)] as ProbeName[];
  else if (r.probes) {
    probes = Object.keys(r.probes) as ProbeName[];
    for (const [p, s] of Object.entries(r.probes)) {
      if (!s) continue;
      const sec: ProbeSection = {};
      if (s.sample !== undefined) sec.sample = s.sample;
      if (s.pid !== undefined) sec.pid = s.pid;
      if (s.comm !== undefined) sec.comm = s.comm;
      if (s.min_value !== undefined) sec.minValue = s.min_value;
      if (s.burst_rate !== undefined) sec.burstRate = s.burst_rate;
      if (s.burst_size !== undefined) sec.burstSize = s.burst_size;
      perProbe[p as ProbeName] = sec;
    }
  }
  const out: CollectorConfig = { perProbe };
  const set = <K extends keyof CollectorConfig>(k: K, v: CollectorConfig[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('probes', probes);
  set('sink', r.sink);
  set('pid', r.pid);
  set('comm', r.comm);
  set('cgroup', r.cgroup);
  set('durationMs', r.duration);
  set('ringBytes', r.ring_bytes);
  set('snapshotMs', r.snapshot);
  set('metrics', r.metrics);
  set('metricsTop', r.metrics_top);
  set('control', r.control);
  set('controlToken', r.control_token);
  set('budget', r.budget);
  set('governorPriority', r.governor_priority as ProbeName[] | undefined);
  set('keepCapabilities', r.keep_capabilities);
  set('explain', r.explain ? [...new Set(r.explain)] : undefined);
  set('explainSample', r.explain_sample);
  set('explainStacks', r.explain_stacks);
  set('shmRings', r.shm_rings);
  set('kafka', r.kafka ? settingsFromSection(r.kafka) : undefined);
  return out;
}

// ---- locating a field in the YAML source ----

function showValue(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** The node of `path` (or, for a key, the key's node) and its value. */
function locate(doc: Document, text: string, path: ReadonlyArray<PropertyKey>, key?: string): { node?: Node; value: unknown; source?: string } {
  const strPath = path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (key !== undefined) {
    const parent = strPath.length ? doc.getIn(strPath, true) : doc.contents;
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === key);
      if (pair && isPair(pair)) return { node: pair.key as Node, value: key };
    }
    return { node: parent as Node | undefined, value: key };
  }
  // walk down to the deepest existing node, so a missing field points at its parent
  for (let n = strPath.length; n >= 0; n--) {
    const node = (n === 0 ? doc.contents : doc.getIn(strPath.slice(0, n), true)) as Node | undefined;
    if (node) {
      const value = n === strPath.length ? (isScalar(node) ? node.value : (node as { toJSON?: () => unknown }).toJSON?.()) : undefined;
      return { node, value, source: n === strPath.length && isScalar(node) && node.range ? text.slice(node.range[0], node.range[1]) : undefined };
    }
  }
  return { value: undefined };
}

/** Validate config text; `file` is only used in messages. */
export function parseConfig(text: string, file: string): { config?: CollectorConfig; issues: ConfigIssue[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const pos = (offset: number | undefined) => (offset === undefined ? {} : { line: lc.linePos(offset).line, col: lc.linePos(offset).col });
  if (doc.errors.length > 0) {
    return {
      issues: doc.errors.map((e) => ({ file, ...pos(e.pos[0]), path: '', message: `YAML: ${e.message.split('\n')[0]}` })),
    };
  }
  let js: unknown;
  try {
    js = doc.toJS() ?? {}; // throws on alias bombs (yaml's maxAliasCount) and similar resource limits
  } catch (err) {
    return { issues: [{ file, line: 1, col: 1, path: '', message: `YAML: ${(err as Error).message}` }] };
  }
  if (typeof js !== 'object' || js === null || Array.isArray(js)) {
    return { issues: [{ file, ...pos(doc.contents?.range?.[0]), path: '', value: showValue(js), message: 'the file should be a map of settings (key: value)' }] };
  }
  const top = FileSchema.safeParse(js);
  const rawProbes = (js as Record<string, unknown>).probes;
  const zIssues: z.core.$ZodIssue[] = top.success ? [] : [...top.error.issues];
  let probes: Raw['probes'];
  if (rawProbes !== undefined) {
    const pr = probesSchema(rawProbes).safeParse(rawProbes);
    if (pr.success) probes = pr.data;
    else zIssues.push(...pr.error.issues.map((i) => ({ ...i, path: ['probes', ...i.path] })));
    if (pr.success ? !Array.isArray(pr.data) : probesSchema(rawProbes) === ProbeMap) {
      for (const k of Object.keys(rawProbes as object)) {
        if (!(USER_PROBES as string[]).includes(k)) zIssues.push({ code: 'custom', message: UNKNOWN_PROBE, path: ['probes', k], input: k } as z.core.$ZodIssue);
      }
    }
  }
  if (zIssues.length === 0 && top.success) return { config: normalize({ ...top.data, probes }), issues: [] };
  const issues: ConfigIssue[] = [];
  for (const i of zIssues) {
    const path = i.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    if (i.message === UNKNOWN_PROBE && path.length === 2 && path[0] === 'probes' && typeof path[1] === 'string') {
      const { node } = locate(doc, text, path.slice(0, -1), path[1]);
      issues.push({ file, ...pos(node?.range?.[0]), path: path.join('.'), value: showValue(path[1]), message: UNKNOWN_PROBE });
      continue;
    }
    if (i.code === 'unrecognized_keys') {
      for (const k of i.keys) {
        const { node } = locate(doc, text, path, k);
        issues.push({
          file,
          ...pos(node?.range?.[0]),
          path: [...path, k].join('.'),
          message: `unknown field${unknownHint(path)}`,
        });
      }
      continue;
    }
    const { node, value, source } = locate(doc, text, path);
    const message = i.code === 'invalid_union' && 'errors' in i ? unionMessage(i) : i.message;
    issues.push({ file, ...pos(node?.range?.[0]), path: path.join('.'), value: secretValue(path, source?.trim() || showValue(value)), message });
  }
  issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
  return { issues };
}

/** Values of secret fields never appear in a message; DSNs appear with their password replaced. */
function secretValue(path: ReadonlyArray<string | number>, v: string | undefined): string | undefined {
  if (v === undefined) return v;
  const last = String(path[path.length - 1] ?? '');
  if (last === 'password' || last === 'control_token') return '***';
  return redactDsn(v);
}

function unionMessage(i: z.core.$ZodIssue): string {
  // a union whose branches all failed: prefer the message of a branch that got past the type check
  const errs = (i as { errors?: z.core.$ZodIssue[][] }).errors ?? [];
  for (const branch of errs) {
    const deep = branch.find((e) => e.code !== 'invalid_type' && e.code !== 'invalid_union');
    if (deep) return deep.message;
  }
  return i.message;
}

const TOP_KEYS = Object.keys(FileSchema.shape);
const SECTION_KEYS = Object.keys(Section.shape);
function unknownHint(parent: ReadonlyArray<PropertyKey>): string {
  if (parent.length === 0) return `; known fields: ${TOP_KEYS.join(', ')}`;
  if (parent[0] === 'probes') return `; a probe section knows: ${SECTION_KEYS.join(', ')}`;
  if (parent[0] === 'kafka') return `; the kafka section knows: ${Object.keys(KafkaConfigSection.shape).join(', ')}`;
  return '';
}

/** Read and validate a config file; throws ConfigError on any problem (including a missing file). */
export function loadConfig(file: string): CollectorConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(file, [{ file, path: '', message: `cannot read: ${e.code ?? ''} ${e.message}`.trim() }]);
  }
  const r = parseConfig(text, file);
  if (!r.config) throw new ConfigError(file, r.issues);
  return r.config;
}
