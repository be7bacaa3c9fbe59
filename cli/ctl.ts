/**
 * cli/ctl.ts — `v2probe ctl`: talk to a running collector's control API.
 *   v2probe ctl status | caps | enable P | disable P | sample P N | filter P [--pid N] [--comm NAME]
 * over the Unix socket (default /run/v2probe/control.sock) or --url with --token.
 * A refused change (HTTP 400) exits 2 with the reason; no collector / no access exits 1.
 */
import { request } from 'node:http';
import type { Command } from 'commander';
import { DEFAULT_CONTROL_SOCKET } from '../collector/ops/control.js';
import { UsageError } from './errors.js';
import { checkedOption, parseComm, parseHttpUrl, parseIntFlag, parsePid, parseSocketPath, parseToken, type FlagParser } from './parse.js';

/** `ctl --url`: the control API over TCP is plain http (with a bearer token). */
const controlUrl: FlagParser = (flag, text) => parseHttpUrl(flag, text, ['http:']);
/** `ctl filter --pid 0` / `--comm ""`: 0 and the empty name clear the filter. */
const pidOrZero: FlagParser = (flag, text) => (text === '0' ? 0 : parsePid(flag, text));
const commOrEmpty: FlagParser = (flag, text) => (text === '' ? '' : parseComm(flag, text));

interface Target {
  socket?: string;
  url?: string;
  token?: string;
}

class ControlError extends Error {}

function call(t: Target, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (t.token) headers.Authorization = `Bearer ${t.token}`;
    const opts = t.url
      ? (() => {
          const u = new URL(t.url);
          return { host: u.hostname, port: Number(u.port || 80), path, method, headers };
        })()
      : { socketPath: t.socket ?? DEFAULT_CONTROL_SOCKET, path, method, headers };
    const req = request(opts, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) });
        } catch {
          resolve({ status: res.statusCode ?? 0, json: { error: text.trim() } });
        }
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const where = t.url ?? t.socket ?? DEFAULT_CONTROL_SOCKET;
      const why =
        err.code === 'EACCES' ? 'permission denied (the socket belongs to the collector\'s user; run as that user or root)'
        : err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'no collector is listening there (start `v2probe up` or `collect --control …`)'
        : err.message;
      reject(new ControlError(`control API at ${where}: ${why}`));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timed out after 10 s')));
    if (payload) req.write(payload);
    req.end();
  });
}

async function change(t: Target, probe: string, body: Record<string, unknown>): Promise<void> {
  const r = await call(t, 'POST', `/probes/${encodeURIComponent(probe)}`, body);
  const j = r.json as { error?: string };
  if (r.status === 400) throw new UsageError(`ctl: ${j.error}`);
  if (r.status !== 200) throw new ControlError(`ctl: HTTP ${r.status}: ${j.error ?? JSON.stringify(j)}`);
  process.stdout.write(JSON.stringify(r.json) + '\n');
}

export function registerCtl(program: Command): void {
  const ctl = program
    .command('ctl')
    .description('change a running collector: status, enable/disable a probe, sample rate, filters')
    .addOption(checkedOption('--socket <path>', 'control socket', parseSocketPath, DEFAULT_CONTROL_SOCKET))
    .addOption(checkedOption('--url <url>', 'control API over TCP instead, e.g. http://127.0.0.1:9436 (needs --token)', controlUrl))
    .addOption(checkedOption('--token <t>', 'bearer token for --url (or V2PROBE_CONTROL_TOKEN)', parseToken));
  const target = (): Target => {
    const o = ctl.opts<{ socket: string; url?: string; token?: string }>();
    const token = o.token ?? process.env.V2PROBE_CONTROL_TOKEN;
    if (o.url && !token) throw new UsageError('ctl: --url needs --token (or V2PROBE_CONTROL_TOKEN)');
    return o.url ? { url: o.url, token } : { socket: o.socket };
  };
  ctl.command('status').description('probes, their state and counters').action(async () => {
    const r = await call(target(), 'GET', '/probes');
    if (r.status !== 200) throw new ControlError(`ctl: HTTP ${r.status}: ${(r.json as { error?: string }).error}`);
    process.stdout.write(JSON.stringify(r.json, null, 2) + '\n');
  });
  ctl.command('caps').description('capabilities: kept and dropped after attaching, held now by the collector\'s threads').action(async () => {
    const r = await call(target(), 'GET', '/capabilities');
    if (r.status !== 200) throw new ControlError(`ctl: HTTP ${r.status}: ${(r.json as { error?: string }).error}`);
    process.stdout.write(JSON.stringify(r.json, null, 2) + '\n');
  });
  ctl.command('enable').argument('<probe>').description('turn a probe on').action((p: string) => change(target(), p, { enabled: true }));
  ctl.command('disable').argument('<probe>').description('turn a probe off (its hooks return at once)').action((p: string) => change(target(), p, { enabled: false }));
  ctl.command('sample').argument('<probe>').argument('<n>', '1-in-N').description('set the 1-in-N sampling of per-event rows')
    .action((p: string, n: string) => change(target(), p, { sampleEvery: parseIntFlag('sample N', n, 1, 1_000_000_000) }));
  ctl.command('filter').argument('<probe>').description('set the pid/comm filter (0 / "" = all)')
    .addOption(checkedOption('--pid <pid>', 'only this process; 0 for all', pidOrZero))
    .addOption(checkedOption('--comm <name>', 'only tasks with this name; "" for all', commOrEmpty))
    .action((p: string, o: { pid?: string; comm?: string }) => {
      const body: Record<string, unknown> = {};
      if (o.pid !== undefined) body.pid = pidOrZero('--pid', o.pid);
      if (o.comm !== undefined) body.comm = commOrEmpty('--comm', o.comm);
      if (Object.keys(body).length === 0) throw new UsageError('ctl filter: give --pid and/or --comm');
      return change(target(), p, body);
    });
}
