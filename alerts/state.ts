/**
 * alerts/state.ts — the state machine of one alert instance (a rule, a label
 * set, a severity) and its persistence in v2e.alert_state / alert_log / alert_cursor.
 *
 *   inactive ──breach──► pending ──breach for `for`──► firing ──no breach for keep_firing_for──► resolved
 *       ▲                  │ no breach                                                         │
 *       └──────────────────┘◄──────────────────────────── (next breach: pending again) ◄───────┘
 * With for = 0 a breach goes straight to firing. Times are window ends (data time).
 */
import { createHash } from 'node:crypto';
import { ms64 } from '../store/rows.js';
import type { Store } from '../store/types.js';
import type { Severity } from './rules.js';

export type AlertState = 'inactive' | 'pending' | 'firing' | 'resolved';

export interface Instance {
  rule: string;
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  severity: Severity;
  state: AlertState;
  value: number;
  activeAt: number;
  firedAt: number;
  resolvedAt: number;
  lastBreachAt: number;
  lastEvalAt: number;
  /** state of the last successful notification ('' none, 'firing', 'resolved') */
  notifiedState: string;
  notifiedAt: number;
}

export interface Transition {
  from: AlertState;
  to: AlertState;
}

export function fingerprint(labels: Record<string, string>): string {
  const text = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join('\u0000');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export function newInstance(rule: string, labels: Record<string, string>, severity: Severity): Instance {
  return {
    rule, fingerprint: fingerprint(labels), labels, annotations: {}, severity, state: 'inactive', value: 0,
    activeAt: 0, firedAt: 0, resolvedAt: 0, lastBreachAt: 0, lastEvalAt: 0, notifiedState: '', notifiedAt: 0,
  };
}

/** One evaluation at window end `t`. Mutates `inst`; returns the transition, if any. */
export function step(inst: Instance, breach: boolean, t: number, p: { forMs: number; keepFiringForMs: number }): Transition | undefined {
  const from = inst.state;
  inst.lastEvalAt = t;
  if (breach) inst.lastBreachAt = t;
  switch (inst.state) {
    case 'inactive':
    case 'resolved':
      if (!breach) {
        return undefined;
      }
      inst.activeAt = t;
      inst.resolvedAt = 0;
      inst.firedAt = 0;
      if (p.forMs <= 0) {
        inst.state = 'firing';
        inst.firedAt = t;
      } else inst.state = 'pending';
      break;
    case 'pending':
      if (!breach) {
        inst.state = 'inactive';
        inst.activeAt = 0;
      } else if (t - inst.activeAt >= p.forMs) {
        inst.state = 'firing';
        inst.firedAt = t;
      }
      break;
    case 'firing':
      if (!breach && t - inst.lastBreachAt >= p.keepFiringForMs) {
        inst.state = 'resolved';
        inst.resolvedAt = t;
      }
      break;
  }
  return inst.state !== from ? { from, to: inst.state } : undefined;
}

// ---- persistence -------------------------------------------------------------

const DB = 'v2e';

interface StateRow {
  rule: string; fingerprint: string; labels: Record<string, string>; annotations: Record<string, string>; severity: string; state: string; value: number;
  active_at: number; fired_at: number; resolved_at: number; last_breach_at: number; last_eval_at: number; notified_state: string; notified_at: number;
}

export async function loadInstances(store: Store): Promise<Instance[]> {
  const rows = await store.queryRows<StateRow>(`SELECT rule, fingerprint, labels, annotations, severity, state, value,
    toUnixTimestamp64Milli(active_at) AS active_at, toUnixTimestamp64Milli(fired_at) AS fired_at, toUnixTimestamp64Milli(resolved_at) AS resolved_at,
    toUnixTimestamp64Milli(last_breach_at) AS last_breach_at, toUnixTimestamp64Milli(last_eval_at) AS last_eval_at,
    notified_state, toUnixTimestamp64Milli(notified_at) AS notified_at
    FROM ${DB}.alert_state FINAL WHERE state IN ('pending', 'firing') OR (state = 'resolved' AND notified_state = 'firing')`);
  return rows.map((r) => ({
    rule: r.rule, fingerprint: r.fingerprint, labels: r.labels, annotations: r.annotations, severity: r.severity as Severity, state: r.state as AlertState,
    value: Number(r.value), activeAt: Number(r.active_at), firedAt: Number(r.fired_at), resolvedAt: Number(r.resolved_at), lastBreachAt: Number(r.last_breach_at),
    lastEvalAt: Number(r.last_eval_at), notifiedState: r.notified_state, notifiedAt: Number(r.notified_at),
  }));
}

let lastVersion = 0;
/** ReplacingMergeTree version: strictly increasing within the process, so the latest save wins. */
function version(now: number): number {
  lastVersion = Math.max(now, lastVersion + 1);
  return lastVersion;
}

export async function saveInstances(store: Store, list: Instance[], now = Date.now()): Promise<void> {
  const v = version(now);
  await store.insertRows(
    `${DB}.alert_state`,
    list.map((i) => ({
      rule: i.rule, fingerprint: i.fingerprint, labels: i.labels, annotations: i.annotations, severity: i.severity, state: i.state,
      value: Number.isFinite(i.value) ? i.value : 0, active_at: ms64(i.activeAt), fired_at: ms64(i.firedAt), resolved_at: ms64(i.resolvedAt),
      last_breach_at: ms64(i.lastBreachAt), last_eval_at: ms64(i.lastEvalAt), notified_state: i.notifiedState, notified_at: ms64(i.notifiedAt), updated_at: ms64(v),
    })),
  );
}

export interface LogEntry {
  ts: number;
  rule: string;
  group: string;
  fingerprint: string;
  labels: Record<string, string>;
  severity: string;
  from: string;
  to: string;
  value: number;
  threshold: number;
  windowStart: number;
  windowEnd: number;
  query: string;
  backfill: boolean;
  error: string;
}

export async function writeLog(store: Store, entries: LogEntry[], now = Date.now()): Promise<void> {
  await store.insertRows(
    `${DB}.alert_log`,
    entries.map((e) => ({
      ts: ms64(e.ts), rule: e.rule, rule_group: e.group, fingerprint: e.fingerprint, labels: e.labels, severity: e.severity, from_state: e.from, to_state: e.to,
      value: Number.isFinite(e.value) ? e.value : 0, threshold: Number.isFinite(e.threshold) ? e.threshold : 0, window_start: ms64(e.windowStart), window_end: ms64(e.windowEnd),
      query: e.query, backfill: e.backfill ? 1 : 0, error: e.error, evaluated_at: ms64(now),
    })),
  );
}

export async function loadCursors(store: Store): Promise<Map<string, number>> {
  const rows = await store.queryRows<{ rule: string; t: number }>(`SELECT rule, toUnixTimestamp64Milli(last_end) AS t FROM ${DB}.alert_cursor FINAL`);
  return new Map(rows.map((r) => [r.rule, Number(r.t)]));
}

export async function saveCursors(store: Store, cursors: Array<[string, number]>, now = Date.now()): Promise<void> {
  const v = version(now);
  await store.insertRows(`${DB}.alert_cursor`, cursors.map(([rule, t]) => ({ rule, last_end: ms64(t), updated_at: ms64(v) })));
}
