/**
 * collector/ops/control.ts — the runtime control API of a running collector:
 * HTTP/JSON on a Unix socket (default; access by file permissions, 0600 owned
 * by the collector's user) or on 127.0.0.1 with a bearer token. List probes,
 * enable/disable a family, change its sample rate and filters — no restart.
 * Every change is logged; a bad request gets 400 with the reason and changes nothing.
 *
 *   GET  /probes                      → [{probe, state, attach, options, counters}]
 *   POST /probes/NAME  {"enabled":false} | {"sampleEvery":100} | {"pid":123,"comm":"v2broker"}
 *   GET  /capabilities                → what was kept/dropped after attaching, what every thread holds now
 */
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { PROBE_NAMES, type ProbeName } from '../../schema/event.js';
import type { Collector } from '../collector.js';

export const DEFAULT_CONTROL_SOCKET = '/run/v2probe/control.sock';

/** A change request, validated at the edge. */
export const ControlChange = z
  .object({
    enabled: z.boolean().optional(),
    sampleEvery: z.number().int().min(1).max(1_000_000_000).optional(),
    pid: z.number().int().min(0).max(4_194_304).optional(),
    comm: z.string().max(15).optional(),
    minValue: z.number().int().min(0).max(0xffffffff).optional(),
  })
  .strict()
  .refine((c) => Object.keys(c).length > 0, 'empty change: give enabled, sampleEvery, pid, comm or minValue');
export type ControlChange = z.infer<typeof ControlChange>;

export type ControlListen = { socket: string } | { host: string; port: number; token: string };

function send(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'Content-Type': 'application/json' }).end(JSON.stringify(body) + '\n');
}

async function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) throw new Error(`request body over ${limit} bytes`);
  }
  return body;
}

function tokenOk(req: IncomingMessage, token: string): boolean {
  const given = Buffer.from((req.headers.authorization ?? '').replace(/^Bearer /, ''));
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** Read-only extras of the API (undefined: the endpoint answers 404). */
export interface ControlExtras {
  /** GET /capabilities */
  capabilities?: () => unknown;
}

export async function serveControl(collector: Collector, listen: ControlListen, logger: Logger, extras: ControlExtras = {}): Promise<{ server: Server; address: string; close(): void }> {
  const log = logger.child({ component: 'control' });
  const server = createServer(async (req, res) => {
    if ('token' in listen && !tokenOk(req, listen.token)) return send(res, 401, { error: 'missing or wrong bearer token' });
    try {
      const url = new URL(req.url ?? '/', 'http://control');
      if (req.method === 'GET' && url.pathname === '/probes') return send(res, 200, collector.status());
      if (req.method === 'GET' && url.pathname === '/capabilities' && extras.capabilities) return send(res, 200, extras.capabilities());
      const m = /^\/probes\/([a-z_]+)$/.exec(url.pathname);
      if (req.method === 'POST' && m) {
        const name = m[1];
        if (!(PROBE_NAMES as string[]).includes(name)) return send(res, 400, { error: `unknown probe '${name}'; valid probes: ${PROBE_NAMES.join(', ')}` });
        let parsed: unknown;
        try {
          parsed = JSON.parse((await readBody(req)) || '{}');
        } catch (err) {
          return send(res, 400, { error: `body is not JSON: ${(err as Error).message}` });
        }
        const change = ControlChange.safeParse(parsed);
        if (!change.success) return send(res, 400, { error: change.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') });
        const { enabled, ...options } = change.data;
        if (enabled !== undefined) {
          const st = await collector.setEnabled(name as ProbeName, enabled);
          if (enabled && st.state !== 'running') return send(res, 400, { error: `probe '${name}' could not attach: ${st.error}` });
        }
        if (Object.keys(options).length > 0) {
          const running = collector.status().find((s) => s.probe === name);
          if (!running || running.state !== 'running') return send(res, 400, { error: `probe '${name}' is not running in this collector (state: ${running?.state ?? 'not requested'}); enable it first` });
          collector.configure(name as ProbeName, options);
        }
        log.info({ probe: name, change: change.data }, 'probe reconfigured');
        return send(res, 200, collector.status().find((s) => s.probe === name));
      }
      return send(res, 404, { error: `no such endpoint: ${req.method} ${url.pathname} (GET /probes, POST /probes/NAME, GET /capabilities)` });
    } catch (err) {
      return send(res, 400, { error: (err as Error).message });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('socket' in listen) {
      mkdirSync(dirname(listen.socket), { recursive: true, mode: 0o700 });
      if (existsSync(listen.socket)) rmSync(listen.socket);
      const old = process.umask(0o177);
      server.listen(listen.socket, () => {
        process.umask(old);
        chmodSync(listen.socket, 0o600);
        resolve();
      });
    } else server.listen(listen.port, listen.host, () => resolve());
  });
  const a = server.address();
  const address = 'socket' in listen ? listen.socket : `http://${listen.host}:${typeof a === 'object' && a ? a.port : listen.port}`;
  log.info({ address }, 'control API listening');
  return {
    server,
    address,
    close: () => {
      server.close();
      try {
        if ('socket' in listen && existsSync(listen.socket)) rmSync(listen.socket);
      } catch {
        // a directory of another user, and no CAP_DAC_OVERRIDE after the capability drop: the next start replaces it
      }
    },
  };
}
