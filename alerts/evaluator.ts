/**
 * alerts/evaluator.ts — evaluates rule groups against the store.
 *
 * Each rule is evaluated on windows [end - window, end) whose ends are
 * aligned to its interval. A window is evaluated only when the ingest
 * watermark says every live host has delivered data up to its end (or when
 * it is `maxDelay` late); the last evaluated end per rule is kept in
 * v2e.alert_cursor, so a restart resumes where it stopped. Instances (rule ×
 * label set × severity) move through the state machine of state.ts; every
 * transition is written to v2e.alert_log, the current state to
 * v2e.alert_state, and firing/resolved alerts go to the webhook once
 * (re-sent every repeatInterval while firing).
 */
import type { Store } from '../store/types.js';
import { SEVERITIES, type LoadedRule, type RuleGroup, type Severity } from './rules.js';
import { DEFAULT_LIMITS, runRuleQuery, ruleSql, type QueryLimits } from './query.js';
import {
  loadCursors, loadInstances, newInstance, saveCursors, saveInstances, step, writeLog, fingerprint,
  type Instance, type LogEntry,
} from './state.js';
import { buildPayload, DEFAULT_WEBHOOK, sendWebhook, toWebhookAlert, type WebhookOptions, type WebhookPayload } from './notify.js';
import { readWatermarks, windowReady, DEFAULT_WATERMARK, type WatermarkOptions } from './watermark.js';
import { AlertmanagerClient, type AlertmanagerConfig } from './alertmanager.js';

export interface AlertLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
const silent: AlertLogger = { info() {}, warn() {}, error() {} };

export interface EvaluatorOptions {
  store: Store;
  groups: RuleGroup[];
  webhook?: Partial<WebhookOptions> & { urls: string[] };
  /** Alertmanager(s) to send to through API v2 (a config, or a client made by the caller) */
  alertmanager?: AlertmanagerConfig | AlertmanagerClient;
  externalURL?: string;
  /** re-send a still-firing alert after this long */
  repeatIntervalMs?: number;
  limits?: QueryLimits;
  watermark?: Partial<WatermarkOptions>;
  logger?: AlertLogger;
  now?: () => number;
  /** at most this many windows per rule per round when catching up */
  maxCatchUp?: number;
}

export interface EvalResult {
  rule: string;
  windowStart: number;
  windowEnd: number;
  transitions: LogEntry[];
  error?: string;
  rows: number;
  notified: number;
}

const key = (rule: string, fp: string) => `${rule}\u0000${fp}`;

function breaches(op: string, v: number, thr: number): boolean {
  switch (op) {
    case '>': return v > thr;
    case '>=': return v >= thr;
    case '<': return v < thr;
    default: return v <= thr;
  }
}

function fmt(v: number, unit?: string): string {
  const n = unit === 'us' ? v / 1e3 : unit === 'ms' ? v / 1e6 : unit === 's' ? v / 1e9 : unit === 'pct' ? v * 100 : v;
  const s = Math.abs(n) >= 1e6 || (Math.abs(n) < 1e-3 && n !== 0) ? n.toExponential(3) : String(Number(n.toPrecision(4)));
  return `${s}${unit === 'us' ? ' µs' : unit === 'ms' ? ' ms' : unit === 's' ? ' s' : unit === 'pct' ? ' %' : ''}`;
}

/** `{{ $value }}`, `{{ $value | us }}` (ns → µs; also ms, s, pct), `{{ $labels.host }}`, `{{ $threshold }}`, `{{ $severity }}`, `{{ $window }}`. */
export function renderTemplate(text: string, v: { value: number; threshold: number; labels: Record<string, string>; severity: string; windowMs: number }): string {
  return text.replace(/\{\{\s*\$(\w+)(?:\.(\w+))?\s*(?:\|\s*(\w+)\s*)?\}\}/g, (all, name: string, field: string | undefined, unit: string | undefined) => {
    if (name === 'labels' && field) return v.labels[field] ?? '';
    if (name === 'value') return fmt(v.value, unit);
    if (name === 'threshold') return fmt(v.threshold, unit);
    if (name === 'severity') return v.severity;
    if (name === 'window') return `${v.windowMs / 1000}s`;
    return all;
  });
}

/** What `alerts --once` evaluated (see Evaluator.once). */
export interface OnceResult {
  results: EvalResult[];
  /** the newest data in the store (ms); undefined: no data at all */
  watermarkMs: number | undefined;
  /** rules evaluated on the window ending at the watermark (not the one ending now) */
  fromWatermark?: string[];
  /** why nothing was evaluated (only when nothing was) */
  reason?: string;
}

export class Evaluator {
  readonly store: Store;
  readonly groups: RuleGroup[];
  private readonly log: AlertLogger;
  private readonly now: () => number;
  private readonly limits: QueryLimits;
  private readonly webhook: WebhookOptions;
  /** the Alertmanager API v2 client (sends in the background, never blocks evaluation) */
  readonly alertmanager?: AlertmanagerClient;
  private readonly externalURL: string;
  private readonly repeatMs: number;
  private readonly wmOpts: WatermarkOptions;
  private readonly maxCatchUp: number;
  /** live instances: rule × fingerprint */
  readonly instances = new Map<string, Instance>();
  readonly cursors = new Map<string, number>();
  /** payloads delivered (or that would have been, without a webhook), newest last */
  readonly sent: WebhookPayload[] = [];
  private started = false;

  constructor(o: EvaluatorOptions) {
    this.store = o.store;
    this.groups = o.groups;
    this.log = o.logger ?? silent;
    this.now = o.now ?? Date.now;
    this.limits = o.limits ?? DEFAULT_LIMITS;
    this.webhook = { ...DEFAULT_WEBHOOK, ...(o.webhook ?? { urls: [] }) };
    this.alertmanager = o.alertmanager instanceof AlertmanagerClient ? o.alertmanager : o.alertmanager ? new AlertmanagerClient(o.alertmanager, this.log) : undefined;
    this.externalURL = o.externalURL ?? 'http://localhost/v2probe';
    this.repeatMs = o.repeatIntervalMs ?? 4 * 3_600_000;
    this.wmOpts = { ...DEFAULT_WATERMARK, ...(o.watermark ?? {}) };
    this.maxCatchUp = o.maxCatchUp ?? 30;
  }

  get rules(): LoadedRule[] {
    return this.groups.flatMap((g) => g.rules);
  }

  /** Load persisted instances and cursors (a restart keeps firing alerts firing and pending start times). */
  async init(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const mine = new Set(this.rules.map((r) => r.name));
    for (const i of await loadInstances(this.store)) if (mine.has(i.rule)) this.instances.set(key(i.rule, i.fingerprint), i);
    for (const [r, t] of await loadCursors(this.store)) if (mine.has(r) && !this.cursors.has(r)) this.cursors.set(r, t);
  }

  /**
   * Evaluate one rule on the window ending at `endMs`. Live (default): state
   * persisted and notifications sent. Backfill: `instances` is the caller's
   * scratch map; transitions go to alert_log marked backfill; nothing is sent.
   */
  async evaluateAt(rule: LoadedRule, endMs: number, opts: { backfill?: boolean; instances?: Map<string, Instance>; deferLog?: LogEntry[] } = {}): Promise<EvalResult> {
    await this.init();
    const backfill = !!opts.backfill;
    const instances = opts.instances ?? this.instances;
    const startMs = endMs - rule.windowMs;
    const base = { ts: endMs, rule: rule.name, group: rule.group, windowStart: startMs, windowEnd: endMs, backfill };
    const result: EvalResult = { rule: rule.name, windowStart: startMs, windowEnd: endMs, transitions: [], rows: 0, notified: 0 };
    let sql = ruleSql(rule);
    let rows: Array<{ labels: Record<string, string>; value: number }>;
    try {
      const r = await runRuleQuery(this.store, rule, startMs, endMs, this.limits);
      sql = r.sql;
      rows = r.rows;
    } catch (err) {
      const message = (err as Error).message;
      result.error = message;
      this.log.warn({ rule: rule.name, file: rule.file, line: rule.line, window_end: new Date(endMs).toISOString() }, message);
      const entry: LogEntry = { ...base, fingerprint: '', labels: { alertname: rule.name }, severity: '', from: '', to: 'error', value: 0, threshold: 0, query: sql, error: message };
      if (opts.deferLog) opts.deferLog.push(entry);
      else await writeLog(this.store, [entry], this.now());
      return result; // states keep their last value on error
    }
    result.rows = rows.length;
    const p = { forMs: rule.for, keepFiringForMs: rule.keep_firing_for };
    const touched = new Set<string>();
    const log: LogEntry[] = [];
    const apply = (labels: Record<string, string>, severity: Severity, value: number, threshold: number, breach: boolean) => {
      const fp = fingerprint(labels);
      const k = key(rule.name, fp);
      let inst = instances.get(k);
      if (!inst) {
        if (!breach) return; // nothing to track
        inst = newInstance(rule.name, labels, severity);
        instances.set(k, inst);
      }
      touched.add(k);
      inst.value = value;
      inst.annotations = Object.fromEntries(
        Object.entries(rule.annotations).map(([a, t]) => [a, renderTemplate(t, { value, threshold, labels, severity, windowMs: rule.windowMs })]),
      );
      const tr = step(inst, breach, endMs, p);
      if (tr) log.push({ ...base, fingerprint: fp, labels, severity, from: tr.from, to: tr.to, value, threshold, query: sql, error: '' });
    };
    for (const row of rows) {
      const labels = { alertname: rule.name, ...rule.labels, ...row.labels };
      for (const sev of SEVERITIES) {
        const thr = rule.thresholds[sev];
        if (thr === undefined) continue;
        apply({ ...labels, severity: sev }, sev, row.value, thr, breaches(rule.op, row.value, thr));
      }
    }
    if (rule.no_data === 'alert') {
      const labels = { alertname: rule.name, ...rule.labels, severity: rule.no_data_severity, alertstate: 'nodata' };
      apply(labels, rule.no_data_severity, 0, 0, rows.length === 0);
      touched.add(key(rule.name, fingerprint(labels)));
    }
    // label sets that did not come back in this window
    for (const [k, inst] of instances) {
      if (inst.rule !== rule.name || touched.has(k)) continue;
      if (inst.state !== 'pending' && inst.state !== 'firing') continue;
      if (rule.no_data === 'keep') continue;
      touched.add(k);
      const tr = step(inst, false, endMs, p);
      if (tr) log.push({ ...base, fingerprint: inst.fingerprint, labels: inst.labels, severity: inst.severity, from: tr.from, to: tr.to, value: NaN, threshold: rule.thresholds[inst.severity] ?? 0, query: sql, error: 'no data for this label set' });
    }
    result.transitions = log;
    if (backfill) {
      if (opts.deferLog) opts.deferLog.push(...log);
      else if (log.length) await writeLog(this.store, log, this.now());
      for (const k of touched) {
        const i = instances.get(k)!;
        if (i.state === 'inactive' || i.state === 'resolved') instances.delete(k);
      }
      return result;
    }
    for (const e of log) this.log.info({ rule: e.rule, labels: e.labels, from: e.from, to: e.to, value: e.value, window_end: new Date(endMs).toISOString() }, `alert ${e.rule} ${e.to}`);
    if (log.length) await writeLog(this.store, log, this.now());
    this.alertmanager?.offer(rule, instances.values(), log, { windowStart: startMs, windowEnd: endMs, query: sql, externalURL: this.externalURL });
    result.notified = await this.notify(rule, startMs, endMs, sql);
    const save = [...touched].map((k) => instances.get(k)).filter((i): i is Instance => !!i);
    const dirty = save.filter((i) => i.state === 'pending' || i.state === 'firing' || log.some((e) => e.fingerprint === i.fingerprint));
    if (dirty.length) await saveInstances(this.store, dirty, this.now());
    for (const k of touched) {
      const i = instances.get(k);
      if (i && (i.state === 'inactive' || (i.state === 'resolved' && i.notifiedState !== 'firing'))) instances.delete(k);
    }
    return result;
  }

  /** Send firing (new or due for repeat) and resolved alerts of a rule; dedup by notifiedState. */
  private async notify(rule: LoadedRule, startMs: number, endMs: number, sql: string): Promise<number> {
    const now = this.now();
    const due = [...this.instances.values()].filter(
      (i) =>
        i.rule === rule.name &&
        ((i.state === 'firing' && (i.notifiedState !== 'firing' || now - i.notifiedAt >= this.repeatMs)) || (i.state === 'resolved' && i.notifiedState === 'firing')),
    );
    if (due.length === 0) return 0;
    const payload = buildPayload(rule.name, due.map((i) => toWebhookAlert(i, { externalURL: this.externalURL, windowStart: startMs, windowEnd: endMs, query: sql })), { externalURL: this.externalURL });
    for (const a of payload.alerts) this.log.info({ rule: rule.name, status: a.status, labels: a.labels, value: a.value }, `notify ${rule.name} ${a.status}`);
    if (this.webhook.urls.length > 0) {
      try {
        await sendWebhook(payload, this.webhook);
      } catch (err) {
        this.log.error({ rule: rule.name }, (err as Error).message);
        return 0; // not marked: retried at the next evaluation
      }
    }
    this.sent.push(payload);
    for (const i of due) {
      i.notifiedState = i.state === 'firing' ? 'firing' : 'resolved';
      i.notifiedAt = now;
    }
    const resolvedDone = due.filter((i) => i.state === 'resolved');
    await saveInstances(this.store, due, now);
    for (const i of resolvedDone) this.instances.delete(key(i.rule, i.fingerprint));
    return due.length;
  }

  /** Evaluate every due, ready window of the given groups (all by default). */
  async round(groups: RuleGroup[] = this.groups): Promise<EvalResult[]> {
    await this.init();
    const now = this.now();
    const wm = await readWatermarks(this.store);
    const out: EvalResult[] = [];
    const moved: Array<[string, number]> = [];
    for (const g of groups) {
      for (const rule of g.rules) {
        const iv = rule.intervalMs;
        const latest = Math.floor(now / iv) * iv;
        const cursor = this.cursors.get(rule.name) ?? latest - iv;
        let next = Math.max(cursor + iv, latest - (this.maxCatchUp - 1) * iv);
        let last = cursor;
        while (next <= latest) {
          const ready = windowReady(wm, next, now, this.wmOpts);
          if (!ready.ready) {
            this.log.info({ rule: rule.name, window_end: new Date(next).toISOString(), waiting_for: ready.waitingFor }, 'waiting for data');
            break;
          }
          if (ready.late) this.log.warn({ rule: rule.name, window_end: new Date(next).toISOString(), late_hosts: ready.waitingFor }, 'evaluating without data from some hosts (max delay reached)');
          out.push(await this.evaluateAt(rule, next));
          last = next;
          next += iv;
        }
        if (last !== cursor) {
          this.cursors.set(rule.name, last);
          moved.push([rule.name, last]);
        }
      }
    }
    if (moved.length) await saveCursors(this.store, moved, this.now());
    return out;
  }

  /**
   * `alerts --once`: one round. A rule whose window ending now is past the
   * store's ingest watermark (the newest data, over all hosts: a capture that
   * has ended, or data that has not arrived yet) is evaluated on its newest
   * complete window instead — the one ending at the watermark, rounded down to
   * the rule's interval — unless that window was evaluated before (cursor).
   * The result says which windows were evaluated on which basis, and why
   * nothing was when nothing was.
   */
  async once(): Promise<OnceResult> {
    await this.init();
    const now = this.now();
    const wm = await readWatermarks(this.store);
    if (wm.size === 0) return { results: [], watermarkMs: undefined, reason: 'no data in the store (v2e.ingest_watermark is empty: nothing was collected into it)' };
    const dataEnd = Math.max(...wm.values());
    const live: RuleGroup[] = [];
    const behind: LoadedRule[] = [];
    for (const g of this.groups) {
      const rules = g.rules.filter((r) => Math.floor(now / r.intervalMs) * r.intervalMs <= dataEnd);
      behind.push(...g.rules.filter((r) => !rules.includes(r)));
      if (rules.length) live.push({ ...g, rules });
    }
    const results = live.length ? await this.round(live) : [];
    const fromWatermark: EvalResult[] = [];
    const moved: Array<[string, number]> = [];
    for (const rule of behind) {
      const end = Math.floor(dataEnd / rule.intervalMs) * rule.intervalMs;
      const cursor = this.cursors.get(rule.name);
      if (cursor !== undefined && end <= cursor) continue;
      const r = await this.evaluateAt(rule, end);
      fromWatermark.push(r);
      this.cursors.set(rule.name, end);
      moved.push([rule.name, end]);
    }
    if (moved.length) await saveCursors(this.store, moved, this.now());
    if (fromWatermark.length) {
      const from = Math.min(...fromWatermark.map((r) => r.windowStart));
      const to = Math.max(...fromWatermark.map((r) => r.windowEnd));
      this.log.info(
        { rules: fromWatermark.length, window_start: new Date(from).toISOString(), window_end: new Date(to).toISOString(), data_end: new Date(dataEnd).toISOString() },
        `evaluated up to the store's ingest watermark: the windows ending now have no data yet (data ends at ${new Date(dataEnd).toISOString()}); window ${new Date(from).toISOString()} → ${new Date(to).toISOString()}`,
      );
    }
    const all = [...results, ...fromWatermark];
    const out: OnceResult = { results: all, watermarkMs: dataEnd, fromWatermark: fromWatermark.map((r) => r.rule) };
    if (all.length === 0)
      out.reason = behind.length
        ? `data ends at ${new Date(dataEnd).toISOString()}; the windows up to it were already evaluated`
        : `waiting for data: the window ending now is not complete on every host yet (data ends at ${new Date(dataEnd).toISOString()})`;
    return out;
  }

  /**
   * Evaluate the rules over [fromMs, toMs] as if live, with fresh state, and
   * write what would have happened to alert_log (backfill = 1). No
   * notifications, no alert_state or cursor changes.
   */
  async backfill(fromMs: number, toMs: number): Promise<{ windows: number; transitions: LogEntry[]; errors: number }> {
    let windows = 0;
    let errors = 0;
    const all: LogEntry[] = [];
    for (const rule of this.rules) {
      const scratch = new Map<string, Instance>();
      const entries: LogEntry[] = [];
      const iv = rule.intervalMs;
      for (let end = Math.ceil((fromMs + rule.windowMs) / iv) * iv; end <= toMs; end += iv) {
        const r = await this.evaluateAt(rule, end, { backfill: true, instances: scratch, deferLog: entries });
        windows++;
        if (r.error) errors++;
      }
      if (entries.length) await writeLog(this.store, entries, this.now());
      all.push(...entries);
    }
    return { windows, transitions: all, errors };
  }

  /** Run until the signal aborts: each group on its own interval, rounds never overlap within a group. */
  async run(signal: AbortSignal, opts: { tickMs?: number } = {}): Promise<void> {
    await this.init();
    const loops = this.groups.map(async (g) => {
      const tick = opts.tickMs ?? Math.min(g.intervalMs, 5000);
      while (!signal.aborted) {
        try {
          await this.round([g]);
        } catch (err) {
          this.log.error({ group: g.name }, `alert round failed: ${(err as Error).message}`);
        }
        // the listener goes when the timer fires: one added per tick and kept would grow without bound (node warned at 11)
        await new Promise<void>((r) => {
          const onAbort = () => { clearTimeout(t); r(); };
          const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); r(); }, tick);
          signal.addEventListener('abort', onAbort, { once: true });
        });
      }
    });
    await Promise.all(loops);
  }

  /** Firing and pending alerts, for `up`'s status line and the CLI. */
  status(): Array<{ rule: string; severity: string; state: string; labels: Record<string, string>; value: number; since: string }> {
    return [...this.instances.values()]
      .filter((i) => i.state === 'firing' || i.state === 'pending')
      .map((i) => ({ rule: i.rule, severity: i.severity, state: i.state, labels: i.labels, value: i.value, since: new Date(i.activeAt).toISOString() }));
  }
}
