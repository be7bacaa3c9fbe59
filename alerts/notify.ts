/**
 * alerts/notify.ts — Alertmanager-compatible webhook notifications (payload
 * version 4), retried with exponential backoff. One payload per rule and
 * evaluation, holding that rule's alerts that changed (firing, resolved) or
 * are due for a repeat. Each alert also carries the evaluated window, the
 * value and the query.
 */
import type { Instance } from './state.js';

export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
  value: number;
  window: { start: string; end: string };
  query: string;
}

export interface WebhookPayload {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: WebhookAlert[];
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

export function toWebhookAlert(i: Instance, ctx: { externalURL: string; windowStart: number; windowEnd: number; query: string }): WebhookAlert {
  const resolved = i.state === 'resolved' || i.state === 'inactive';
  return {
    status: resolved ? 'resolved' : 'firing',
    labels: i.labels,
    annotations: i.annotations,
    startsAt: new Date(i.activeAt || i.firedAt).toISOString(),
    endsAt: resolved ? new Date(i.resolvedAt || i.lastEvalAt).toISOString() : ZERO_TIME,
    generatorURL: `${ctx.externalURL.replace(/\/$/, '')}/alerts?rule=${encodeURIComponent(i.rule)}`,
    fingerprint: i.fingerprint,
    value: i.value,
    window: { start: new Date(ctx.windowStart).toISOString(), end: new Date(ctx.windowEnd).toISOString() },
    query: ctx.query,
  };
}

function common<T extends Record<string, string>>(list: T[]): Record<string, string> {
  if (list.length === 0) return {};
  const out: Record<string, string> = { ...list[0] };
  for (const m of list.slice(1)) for (const k of Object.keys(out)) if (m[k] !== out[k]) delete out[k];
  return out;
}

export function buildPayload(rule: string, alerts: WebhookAlert[], opts: { receiver?: string; externalURL: string }): WebhookPayload {
  return {
    version: '4',
    groupKey: `{}:{alertname="${rule}"}`,
    truncatedAlerts: 0,
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: opts.receiver ?? 'v2probe',
    groupLabels: { alertname: rule },
    commonLabels: common(alerts.map((a) => a.labels)),
    commonAnnotations: common(alerts.map((a) => a.annotations)),
    externalURL: opts.externalURL,
    alerts,
  };
}

export interface WebhookOptions {
  urls: string[];
  /** attempts per URL (first try included) */
  attempts: number;
  /** first backoff, doubled each retry */
  backoffMs: number;
  timeoutMs: number;
}
export const DEFAULT_WEBHOOK: Omit<WebhookOptions, 'urls'> = { attempts: 5, backoffMs: 500, timeoutMs: 5000 };

export class NotifyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NotifyError';
  }
}

/** POST the payload to every URL; retries 5xx/network errors with backoff. Throws NotifyError when a URL never accepted it. */
export async function sendWebhook(payload: WebhookPayload, o: WebhookOptions): Promise<{ attempts: number }> {
  let total = 0;
  const failures: string[] = [];
  for (const url of o.urls) {
    let last = '';
    let ok = false;
    for (let attempt = 1; attempt <= o.attempts && !ok; attempt++) {
      total++;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'v2probe-alerts' },
          body: JSON.stringify(payload),
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        await res.arrayBuffer();
        if (res.ok) ok = true;
        else {
          last = `HTTP ${res.status}`;
          if (res.status >= 400 && res.status < 500 && res.status !== 429) break; // the receiver refuses it: retrying will not help
        }
      } catch (err) {
        last = (err as Error).message;
      }
      if (!ok && attempt < o.attempts) await new Promise((r) => setTimeout(r, o.backoffMs * 2 ** (attempt - 1)));
    }
    if (!ok) failures.push(`${url}: ${last}`);
  }
  if (failures.length) throw new NotifyError(`webhook delivery of ${payload.groupKey} failed: ${failures.join('; ')}`);
  return { attempts: total };
}
