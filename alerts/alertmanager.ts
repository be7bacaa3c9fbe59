/**
 * alerts/alertmanager.ts — an Alertmanager API v2 client, the way Prometheus
 * talks to Alertmanager: `POST /api/v2/alerts` with a JSON array of alerts
 * ({labels, annotations, startsAt, endsAt, generatorURL}) to every configured
 * Alertmanager (several for HA; each gets every alert). Alertmanager does
 * the grouping, inhibition, silences and routing.
 *
 * - Firing alerts are sent when they start firing and re-sent every
 *   `resendDelayMs` while they fire, with `endsAt` = now + 4 × max(resend
 *   delay, rule interval), so Alertmanager resolves them by itself if v2probe
 *   goes away (as Prometheus does).
 * - Resolved alerts are sent once with `endsAt` = the end of the window that
 *   resolved them (retried from the queue until delivered).
 * - `push()` never waits: each Alertmanager has a bounded in-memory queue
 *   (newest state of an alert replaces a queued older one; when full the
 *   oldest alerts are dropped and counted) drained by its own sender with
 *   exponential backoff after failures. A 4xx other than 429 means the
 *   Alertmanager refuses the batch: it is dropped and counted, not retried.
 * - Counters per Alertmanager (sent, failed sends, dropped, queue length)
 *   for /metrics (`registerMetrics`) and the status (`stats()`).
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { LoadedRule } from './rules.js';
import type { Instance, LogEntry } from './state.js';

export interface AlertmanagerTls {
  /** CA bundle (PEM) to verify the Alertmanager's certificate */
  caFile?: string;
  /** client certificate and key (PEM) for mutual TLS */
  certFile?: string;
  keyFile?: string;
  /** expected server name (SNI and verification), when it differs from the URL's host */
  serverName?: string;
  /** do not verify the server certificate (testing only) */
  insecureSkipVerify?: boolean;
}

export interface AlertmanagerConfig {
  /** base URLs (`http(s)://host:port[/prefix]`); `/api/v2/alerts` is appended */
  urls: string[];
  /** per request (default 10 s) */
  timeoutMs?: number;
  basicAuth?: { username: string; password: string };
  bearerToken?: string;
  tls?: AlertmanagerTls;
  /** re-send a still-firing alert after this long (default 1 min, as Prometheus' --rules.alert.resend-delay) */
  resendDelayMs?: number;
  /** alerts held per Alertmanager while it cannot be reached (default 10,000, as Prometheus) */
  queueCapacity?: number;
  /** alerts per POST (default 64, as Prometheus) */
  maxBatch?: number;
  /** first retry delay after a failed send, doubled each failure up to maxBackoffMs (defaults 500 ms, 30 s) */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export interface AlertmanagerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** One alert as Alertmanager's API v2 (postableAlert) takes it. */
export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

export interface AlertmanagerStats {
  url: string;
  /** alerts delivered (accepted with 2xx) */
  sent: number;
  /** POSTs that failed (network error, timeout, non-2xx) */
  failed: number;
  /** alerts given up: queue overflow or refused by the Alertmanager (4xx) */
  dropped: number;
  queued: number;
  lastError: string;
  lastSuccess: string;
}

export class AlertmanagerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlertmanagerConfigError';
  }
}

/** Check an Alertmanager base URL: http(s), a host, no query or fragment. Userinfo becomes basic auth. */
export function parseAlertmanagerUrl(text: string): { url: URL; basicAuth?: { username: string; password: string } } {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new AlertmanagerConfigError(`'${text}' is not a URL (example: http://127.0.0.1:9093)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new AlertmanagerConfigError(`'${text}': the scheme must be http or https, not ${u.protocol.replace(/:$/, '')}`);
  if (!u.hostname) throw new AlertmanagerConfigError(`'${text}' has no host`);
  if (u.search || u.hash) throw new AlertmanagerConfigError(`'${text}': give the Alertmanager's base URL, without a query or fragment`);
  if (/\/api\/v[12]\/alerts\/?$/.test(u.pathname)) throw new AlertmanagerConfigError(`'${text}': give the Alertmanager's base URL; /api/v2/alerts is added by v2probe`);
  const basicAuth = u.username ? { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : undefined;
  u.username = '';
  u.password = '';
  return { url: u, basicAuth };
}

interface Target {
  base: string;
  endpoint: URL;
  basicAuth?: { username: string; password: string };
  /** queued alerts by identity (labels); the newest state replaces an older one */
  queue: Map<string, AmAlert>;
  sending: boolean;
  timer?: NodeJS.Timeout;
  failures: number;
  stats: AlertmanagerStats;
}

const key = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
const silent: AlertmanagerLogger = { info() {}, warn() {}, error() {} };

export class AlertmanagerClient {
  readonly timeoutMs: number;
  readonly resendDelayMs: number;
  readonly queueCapacity: number;
  readonly maxBatch: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly targets: Target[];
  private readonly headers: Record<string, string>;
  private readonly tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; servername?: string; rejectUnauthorized: boolean };
  private readonly log: AlertmanagerLogger;
  private readonly now: () => number;
  /** when each firing alert (rule × fingerprint) was last handed to the queues */
  private readonly lastSent = new Map<string, number>();
  private closed = false;
  private idleWaiters: Array<() => void> = [];

  /** Validates everything now (URLs, TLS files): a bad configuration throws AlertmanagerConfigError at start-up. */
  constructor(cfg: AlertmanagerConfig, logger: AlertmanagerLogger = silent, opts: { now?: () => number } = {}) {
    if (!cfg.urls.length) throw new AlertmanagerConfigError('no Alertmanager URL given');
    const pos = (name: string, v: number | undefined, d: number) => {
      const x = v ?? d;
      if (!(Number.isFinite(x) && x > 0)) throw new AlertmanagerConfigError(`${name} must be a positive number, not ${v}`);
      return x;
    };
    this.timeoutMs = pos('timeout', cfg.timeoutMs, 10_000);
    this.resendDelayMs = pos('resend delay', cfg.resendDelayMs, 60_000);
    this.queueCapacity = Math.floor(pos('queue capacity', cfg.queueCapacity, 10_000));
    this.maxBatch = Math.floor(pos('max batch', cfg.maxBatch, 64));
    this.backoffMs = pos('backoff', cfg.backoffMs, 500);
    this.maxBackoffMs = Math.max(this.backoffMs, pos('max backoff', cfg.maxBackoffMs, 30_000));
    this.log = logger;
    this.now = opts.now ?? Date.now;
    if (cfg.basicAuth && cfg.bearerToken) throw new AlertmanagerConfigError('give either basic auth or a bearer token, not both');
    this.headers = { 'content-type': 'application/json', 'user-agent': 'v2probe-alerts' };
    if (cfg.bearerToken) this.headers.authorization = `Bearer ${cfg.bearerToken}`;
    const read = (what: string, f: string | undefined) => {
      if (!f) return undefined;
      try {
        return readFileSync(f);
      } catch (e) {
        throw new AlertmanagerConfigError(`TLS ${what} ${f}: ${(e as Error).message}`);
      }
    };
    const t = cfg.tls ?? {};
    if (!!t.certFile !== !!t.keyFile) throw new AlertmanagerConfigError('a TLS client certificate needs both the certificate and the key file');
    this.tls = { ca: read('CA file', t.caFile), cert: read('certificate file', t.certFile), key: read('key file', t.keyFile), servername: t.serverName, rejectUnauthorized: !t.insecureSkipVerify };
    const seen = new Set<string>();
    this.targets = cfg.urls.map((text) => {
      const { url, basicAuth } = parseAlertmanagerUrl(text);
      const base = url.toString().replace(/\/$/, '');
      if (seen.has(base)) throw new AlertmanagerConfigError(`Alertmanager ${base} is given twice`);
      seen.add(base);
      const endpoint = new URL(`${base}/api/v2/alerts`);
      return {
        base, endpoint, basicAuth: basicAuth ?? cfg.basicAuth, queue: new Map(), sending: false, failures: 0,
        stats: { url: base, sent: 0, failed: 0, dropped: 0, queued: 0, lastError: '', lastSuccess: '' },
      };
    });
  }

  get urls(): string[] {
    return this.targets.map((t) => t.base);
  }

  /**
   * The evaluator's hook, after each live evaluation of `rule`: queue the
   * rule's firing alerts that are new or due for a re-send, and the ones
   * that resolved in this evaluation (or were sent firing before). Returns
   * how many alerts were queued. Never waits for the network.
   */
  offer(rule: LoadedRule, instances: Iterable<Instance>, transitions: LogEntry[], ctx: { windowStart: number; windowEnd: number; query: string; externalURL: string }): number {
    const now = this.now();
    const resolvedNow = new Set(transitions.filter((t) => t.to === 'resolved' && t.from === 'firing').map((t) => t.fingerprint));
    const validFor = 4 * Math.max(this.resendDelayMs, rule.intervalMs);
    const out: AmAlert[] = [];
    for (const i of instances) {
      if (i.rule !== rule.name) continue;
      const k = `${i.rule}\u0000${i.fingerprint}`;
      if (i.state === 'firing') {
        const last = this.lastSent.get(k);
        if (last !== undefined && now - last < this.resendDelayMs) continue;
        this.lastSent.set(k, now);
        out.push(toAmAlert(i, { ...ctx, endsAt: now + validFor }));
      } else if ((i.state === 'resolved' || i.state === 'inactive') && (resolvedNow.has(i.fingerprint) || this.lastSent.has(k))) {
        this.lastSent.delete(k);
        out.push(toAmAlert(i, { ...ctx, endsAt: i.resolvedAt || ctx.windowEnd }));
      }
    }
    this.push(out);
    return out.length;
  }

  /** Queue alerts for every Alertmanager and wake the senders; returns at once. */
  push(alerts: AmAlert[]): void {
    if (this.closed || alerts.length === 0) return;
    for (const t of this.targets) {
      for (const a of alerts) {
        const k = key(a.labels);
        t.queue.delete(k); // the newest state wins and goes to the back
        t.queue.set(k, a);
      }
      let over = t.queue.size - this.queueCapacity;
      if (over > 0) {
        t.stats.dropped += over;
        this.log.warn({ alertmanager: t.base, dropped: over, capacity: this.queueCapacity }, 'Alertmanager queue full: oldest alerts dropped');
        for (const k of t.queue.keys()) {
          if (over-- <= 0) break;
          t.queue.delete(k);
        }
      }
      t.stats.queued = t.queue.size;
      if (!t.timer) void this.drain(t);
    }
  }

  /** Wait until every queue is empty or `timeoutMs` passed; true when everything was delivered (or given up). */
  async flush(timeoutMs = this.timeoutMs * 2): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.targets.some((t) => t.queue.size > 0 || t.sending)) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.min(left, 50));
        this.idleWaiters.push(() => { clearTimeout(timer); r(); });
      });
    }
    return true;
  }

  stats(): AlertmanagerStats[] {
    return this.targets.map((t) => ({ ...t.stats, queued: t.queue.size }));
  }

  /** Stop the senders (queued alerts are kept in `stats().queued` but no longer sent). */
  close(): void {
    this.closed = true;
    for (const t of this.targets) {
      if (t.timer) clearTimeout(t.timer);
      t.timer = undefined;
    }
    this.wakeIdle();
  }

  /** Counters for /metrics: sent, failed sends, dropped, queue length, per Alertmanager. */
  registerMetrics(reg: Registry): void {
    const per = (pick: (s: AlertmanagerStats) => number) => this.stats().map((s) => [{ alertmanager: s.url }, pick(s)] as const);
    new Counter({
      name: 'v2probe_alertmanager_alerts_sent_total', help: 'Alerts delivered to the Alertmanager (accepted by POST /api/v2/alerts).', labelNames: ['alertmanager'], registers: [reg],
      collect() { this.reset(); for (const [l, v] of per((s) => s.sent)) this.inc(l, v); },
    });
    new Counter({
      name: 'v2probe_alertmanager_send_failures_total', help: 'Failed sends to the Alertmanager (network error, timeout, non-2xx answer); the alerts stay queued and are retried.', labelNames: ['alertmanager'], registers: [reg],
      collect() { this.reset(); for (const [l, v] of per((s) => s.failed)) this.inc(l, v); },
    });
    new Counter({
      name: 'v2probe_alertmanager_alerts_dropped_total', help: 'Alerts given up: the queue was full (oldest dropped) or the Alertmanager refused them (4xx).', labelNames: ['alertmanager'], registers: [reg],
      collect() { this.reset(); for (const [l, v] of per((s) => s.dropped)) this.inc(l, v); },
    });
    new Gauge({
      name: 'v2probe_alertmanager_queue_length', help: 'Alerts waiting to be sent to the Alertmanager.', labelNames: ['alertmanager'], registers: [reg],
      collect() { this.reset(); for (const [l, v] of per((s) => s.queued)) this.set(l, v); },
    });
    const cap = this.queueCapacity;
    new Gauge({ name: 'v2probe_alertmanager_queue_capacity', help: 'Alerts each Alertmanager queue holds at most.', registers: [reg], collect() { this.set(cap); } });
  }

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  private async drain(t: Target): Promise<void> {
    if (t.sending || this.closed) return;
    t.sending = true;
    try {
      while (!this.closed && t.queue.size > 0) {
        const batch = [...t.queue.entries()].slice(0, this.maxBatch);
        const r = await this.post(t, batch.map(([, a]) => a));
        if (r.ok || r.refused) {
          for (const [k, a] of batch) if (t.queue.get(k) === a) t.queue.delete(k); // unless a newer state arrived meanwhile
          t.stats.queued = t.queue.size;
        }
        if (r.ok) {
          t.failures = 0;
          t.stats.sent += batch.length;
          t.stats.lastSuccess = new Date().toISOString();
          continue;
        }
        t.stats.failed++;
        t.stats.lastError = r.error;
        if (r.refused) {
          t.stats.dropped += batch.length;
          this.log.error({ alertmanager: t.base, alerts: batch.length, err: r.error }, 'Alertmanager refused the alerts; dropped');
          continue;
        }
        t.failures++;
        const wait = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** (t.failures - 1));
        this.log.warn({ alertmanager: t.base, queued: t.queue.size, retry_in_ms: wait, err: r.error }, 'sending alerts to Alertmanager failed; will retry');
        t.timer = setTimeout(() => {
          t.timer = undefined;
          void this.drain(t);
        }, wait);
        t.timer.unref();
        return;
      }
    } finally {
      t.sending = false;
      if (t.queue.size === 0 || this.closed) this.wakeIdle();
    }
  }

  private post(t: Target, alerts: AmAlert[]): Promise<{ ok: boolean; refused: boolean; error: string }> {
    const body = JSON.stringify(alerts);
    const headers: Record<string, string> = { ...this.headers, 'content-length': String(Buffer.byteLength(body)) };
    if (t.basicAuth) headers.authorization = `Basic ${Buffer.from(`${t.basicAuth.username}:${t.basicAuth.password}`).toString('base64')}`;
    const https = t.endpoint.protocol === 'https:';
    return new Promise((resolve) => {
      let done = false;
      const finish = (r: { ok: boolean; refused: boolean; error: string }) => {
        if (!done) {
          done = true;
          resolve(r);
        }
      };
      const opts = { method: 'POST', headers, timeout: this.timeoutMs, ...(https ? this.tls : {}) };
      const req = (https ? httpsRequest : httpRequest)(t.endpoint, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) finish({ ok: true, refused: false, error: '' });
          else {
            const text = Buffer.concat(chunks).toString('utf8').slice(0, 300).trim();
            finish({ ok: false, refused: code >= 400 && code < 500 && code !== 429 && code !== 408, error: `HTTP ${code}${text ? `: ${text}` : ''}` });
          }
        });
        res.on('error', (e) => finish({ ok: false, refused: false, error: e.message }));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (e) => finish({ ok: false, refused: false, error: e.message || String(e) }));
      req.end(body);
    });
  }
}

/** The generatorURL: the rule, the evaluated window and the query (runnable with `v2probe query`). */
export function generatorURL(externalURL: string, rule: string, windowStart: number, windowEnd: number, query: string): string {
  const q = new URLSearchParams({ rule, from: new Date(windowStart).toISOString(), to: new Date(windowEnd).toISOString(), query: query.length > 4000 ? query.slice(0, 4000) : query });
  return `${externalURL.replace(/\/$/, '')}/alerts?${q.toString()}`;
}

export function toAmAlert(i: Instance, ctx: { windowStart: number; windowEnd: number; query: string; externalURL: string; endsAt: number }): AmAlert {
  return {
    labels: { ...i.labels },
    annotations: { ...i.annotations },
    startsAt: new Date(i.firedAt || i.activeAt || ctx.windowEnd).toISOString(),
    endsAt: new Date(ctx.endsAt).toISOString(),
    generatorURL: generatorURL(ctx.externalURL, i.rule, ctx.windowStart, ctx.windowEnd, ctx.query),
  };
}
