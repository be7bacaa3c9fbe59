// The real Prometheus and Alertmanager (Debian packages `prometheus` and
// `prometheus-alertmanager`) for the integration tests: installed when
// missing (apt-get install; `apt-get update` once when that fails), started on
// free 127.0.0.1 ports with a config written by the test, stopped after.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDebianPackages } from '../../helpers/debian.js';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';
export const ALERTMANAGER = '/usr/bin/prometheus-alertmanager';

/** '' when the programs are there (installing them if needed), else why not. */
export function ensurePrometheusPackages(): string {
  return ensureDebianPackages(['prometheus', 'prometheus-alertmanager'], [PROMETHEUS, PROMTOOL, ALERTMANAGER]);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = netServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs = 15_000, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export interface Daemon {
  url: string;
  port: number;
  dir: string;
  child: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

async function startDaemon(bin: string, args: (port: number, dir: string) => string[], dir: string, name: string): Promise<Daemon> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(bin, args(port, dir), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    const url = `http://127.0.0.1:${port}`;
    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    };
    try {
      await waitFor(`${name} on ${url}`, async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}: ${log.slice(-600)}`);
        const r = await fetch(`${url}/-/ready`);
        return r.ok;
      }, 20_000, 100);
      return { url, port, dir, child, log: () => log, stop };
    } catch (e) {
      await stop();
      if (attempt < 2 && /address already in use/.test(log)) continue; // lost the free-port race
      throw e;
    }
  }
}

export interface AlertmanagerRoute {
  /** the webhook receiver's URL (a listener in the test) */
  webhookUrl: string;
  groupBy?: string[];
  groupWait?: string;
  groupInterval?: string;
  repeatInterval?: string;
}

/** A real Alertmanager, clustering off, routing everything to one webhook receiver with tiny group timers. */
export async function startAlertmanager(route: AlertmanagerRoute): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'v2am-'));
  const cfg = `route:
  receiver: test
  group_by: [${(route.groupBy ?? ['alertname']).map((g) => `'${g}'`).join(', ')}]
  group_wait: ${route.groupWait ?? '1s'}
  group_interval: ${route.groupInterval ?? '1s'}
  repeat_interval: ${route.repeatInterval ?? '1h'}
receivers:
  - name: test
    webhook_configs:
      - url: '${route.webhookUrl}'
        send_resolved: true
`;
  writeFileSync(join(dir, 'alertmanager.yml'), cfg);
  const check = spawnSync('/usr/bin/amtool', ['check-config', join(dir, 'alertmanager.yml')], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`amtool check-config: ${check.stdout}${check.stderr}`);
  return startDaemon(ALERTMANAGER, (port, d) => [
    `--config.file=${join(d, 'alertmanager.yml')}`, `--storage.path=${join(d, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=', '--log.level=warn',
  ], dir, 'alertmanager');
}

/** A real Prometheus scraping `targets` every `interval`. */
export async function startPrometheus(targets: string[], interval = '1s'): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'v2prom-'));
  const cfg = `global:
  scrape_interval: ${interval}
  evaluation_interval: ${interval}
scrape_configs:
  - job_name: v2probe
    scrape_interval: ${interval}
    scrape_timeout: ${interval}
    static_configs:
      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]
`;
  writeFileSync(join(dir, 'prometheus.yml'), cfg);
  const check = spawnSync(PROMTOOL, ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`promtool check config: ${check.stdout}${check.stderr}`);
  return startDaemon(PROMETHEUS, (port, d) => [
    `--config.file=${join(d, 'prometheus.yml')}`, `--storage.tsdb.path=${join(d, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], dir, 'prometheus');
}

/** `promtool check metrics` on an exposition text: '' when clean, else its complaints. */
export function promtoolCheckMetrics(text: string): string {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return r.status === 0 ? '' : `${r.stdout}${r.stderr}`.trim() || `exit ${r.status}`;
}

/** A tiny HTTP listener standing in for an on-call tool: keeps every JSON body posted to it, by path. */
export interface Receiver {
  url: string;
  bodies: Array<{ path: string; at: number; body: any }>;
  close(): Promise<void>;
}
export async function startReceiver(): Promise<Receiver> {
  const bodies: Receiver['bodies'] = [];
  const read = (req: IncomingMessage) => new Promise<string>((r) => {
    let s = '';
    req.on('data', (d) => (s += d));
    req.on('end', () => r(s));
  });
  const server: Server = createServer(async (req, res) => {
    const text = await read(req);
    try {
      bodies.push({ path: req.url ?? '/', at: Date.now(), body: JSON.parse(text) });
    } catch {
      bodies.push({ path: req.url ?? '/', at: Date.now(), body: text });
    }
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return { url: `http://127.0.0.1:${port}`, bodies, close: () => new Promise((r) => server.close(() => r())) };
}

export async function getJson<T = any>(url: string, init?: RequestInit): Promise<T> {
  const r = await fetch(url, init);
  const text = await r.text();
  if (!r.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: HTTP ${r.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}
