/**
 * store/serve.ts — a store behind ClickHouse's HTTP interface, so it can be
 * read while the process that holds it runs (one chDB engine per directory):
 *   - the store socket `<PATH>.sock` beside a chDB store directory, served by
 *     the `up`/`collect` that holds it: any statement (mode 0600, root's), so
 *     `query`, `alerts --once`, `incident`, `explain --from`, `flame --store`,
 *     `loss` and `hist --store` work as if they had opened the store
 *     (openStore() goes through it when the directory is locked);
 *   - `up --http HOST:PORT`: read-only (readOnlyStatement: SELECT and WITH
 *     run with readonly=1; SHOW, DESCRIBE, EXISTS), a token (basic-auth password, X-ClickHouse-Key or ?password=)
 *     required when the address is not loopback.
 * What it answers, as a ClickHouse server does: `GET /ping` → `Ok.`;
 * `GET|POST /?query=…` (the body, when there is one, follows the query: the
 * data of an INSERT … FORMAT <text format>) or the query as the POST body;
 * `default_format` (TabSeparated when absent); an INSERT's
 * `insert_deduplication_token` URL setting; on the store socket also
 * `INSERT … SELECT … FROM input(…) FORMAT RowBinary` with a binary body (a
 * server store's insertBinary: an ingester into a held chDB store). Errors: the engine's own
 * `Code: N. DB::Exception: …` text with HTTP 500 (403 read-only, 401 token).
 */
import { timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Store } from './types.js';

export type StoreListen = { socket: string } | { host: string; port: number; token?: string };

/** The store socket of a chDB store directory. */
export const storeSocketPath = (chdbPath: string): string => `${chdbPath.replace(/\/+$/, '')}.sock`;

/** The statement without comments and string literals (for keyword checks). */
function bare(sql: string): string {
  return sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ').replace(/'(?:[^'\\]|\\.)*'/g, "''");
}

/** The statement's first keyword (comments and parentheses skipped). */
export function firstKeyword(sql: string): string {
  return (/^[A-Za-z]+/.exec(bare(sql).replace(/^[\s(]+/, ''))?.[0] ?? '').toUpperCase();
}

/**
 * A statement for the read-only endpoint, or why it is refused. SELECT/WITH
 * run as a subquery with readonly=1 (so table functions that read files or
 * URLs, and any write, fail in the engine); a trailing FORMAT becomes the
 * output format. SHOW and EXISTS run as they are, DESCRIBE of a table (not of
 * a table function). Changing `readonly` is refused: a subquery's SETTINGS
 * would override the outer one.
 */
export function readOnlyStatement(sql: string): { sql: string; format?: string } | { refused: string } {
  return planStatement(sql, {}, true);
}

/** HTTP parameters that are not engine settings (ClickHouse's own, and its clients'). */
const NOT_SETTINGS = new Set(['query', 'default_format', 'database', 'query_id', 'session_id', 'session_timeout', 'session_check', 'user', 'password', 'compress', 'decompress', 'enable_http_compression', 'wait_end_of_query', 'buffer_size', 'role', 'quota_key', 'param', 'insert_deduplication_token']);

/** The engine settings among the URL parameters (a client's clickhouse_settings). */
export function urlSettings(params: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of params) if (/^[a-z][a-z0-9_]*$/.test(k) && !NOT_SETTINGS.has(k) && !k.startsWith('param_')) out[k] = v;
  return out;
}

const settingValue = (v: string) => (/^-?\d+(\.\d+)?$/.test(v) ? v : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`);

/**
 * How a statement runs: SELECT/WITH as `SELECT * FROM (<it>) SETTINGS …`
 * (the URL's settings, and readonly=1 on the read-only endpoint, so that
 * table functions reading files or URLs, and any write, fail in the engine),
 * a trailing FORMAT taken as the output format; read-only: SHOW and EXISTS
 * as they are, DESCRIBE of a table (not of a table function), nothing else,
 * and `readonly` may not be changed (a subquery's SETTINGS would override
 * the outer one).
 */
export function planStatement(sql: string, settings: Record<string, string>, readOnly: boolean): { sql: string; format?: string } | { refused: string } {
  const b = bare(sql).trim().replace(/;\s*$/, '');
  if (b.includes(';')) return { refused: 'one statement per request' };
  if (readOnly && (/\breadonly\b/i.test(b) || 'readonly' in settings)) return { refused: 'the readonly setting may not be changed' };
  const k = firstKeyword(sql);
  if (k === 'SELECT' || k === 'WITH') {
    if (readOnly && /\bINTO\s+OUTFILE\b/i.test(b)) return { refused: 'INTO OUTFILE is not allowed' };
    const f = /\bFORMAT\s+(\w+)\s*;?\s*$/i.exec(sql);
    const body = (f ? sql.slice(0, f.index) : sql).trim().replace(/;\s*$/, '');
    const all = { ...settings, ...(readOnly ? { readonly: '1' } : {}) };
    const list = Object.entries(all).map(([n, v]) => `${n} = ${settingValue(v)}`).join(', ');
    return { sql: list ? `SELECT * FROM (\n${body}\n) SETTINGS ${list}` : body, format: f?.[1] };
  }
  if (!readOnly) return { sql };
  if (k === 'SHOW' || k === 'EXISTS') return { sql };
  if ((k === 'DESCRIBE' || k === 'DESC') && !b.includes('(')) return { sql };
  return { refused: `${k || 'this statement'} is not allowed: the endpoint is read-only (SELECT, WITH, SHOW, DESCRIBE, EXISTS)` };
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host);

function tokenOf(req: IncomingMessage, url: URL): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Basic ')) return Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':').slice(1).join(':');
  const key = req.headers['x-clickhouse-key'];
  if (typeof key === 'string') return key;
  return url.searchParams.get('password') ?? undefined;
}

const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

async function body(req: IncomingMessage, max = 256 << 20): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > max) throw new Error(`request body over ${max} bytes`);
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts);
}

/**
 * `INSERT INTO t SELECT … FROM input('structure') … FORMAT RowBinary` with the
 * rows as the body (Store.insertBinary of a server store): the same insert
 * through the store's own insertBinary (chDB reads the body from a file).
 */
const INPUT_INSERT = /^\s*INSERT\s+INTO\s+([\w.`"]+)\s+([\s\S]*?)\binput\(\s*'((?:[^'\\]|\\.)*)'\s*\)([\s\S]*?)\s*FORMAT\s+RowBinary\s*$/i;
export function binaryInsert(sql: string): { table: string; structure: string; select: (source: string) => string } | undefined {
  const m = INPUT_INSERT.exec(sql);
  if (!m) return undefined;
  const [, table, pre, structure, post] = m;
  return { table, structure: structure.replace(/\\(.)/g, '$1'), select: (source) => `${pre}${source}${post}` };
}

/** `INSERT INTO t …` with `SETTINGS k=v` placed after the table (and its column list). */
function withInsertSettings(sql: string, settings: Record<string, string>): string {
  const keys = Object.keys(settings);
  if (!keys.length) return sql;
  const m = /^(\s*INSERT\s+INTO\s+(?:TABLE\s+)?[\w.`"]+\s*(?:\([^)]*\))?)/i.exec(sql);
  if (!m) return sql;
  const list = keys.map((k) => `${k} = '${settings[k].replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(', ');
  return `${m[1]} SETTINGS ${list}${sql.slice(m[1].length)}`;
}

/** Serve `store` on `listen`; read-only unless it is the store socket. */
export async function serveStore(store: Store, listen: StoreListen, o: { readOnly: boolean; onQuery?: (sql: string, ok: boolean) => void }): Promise<{ server: Server; address: string; close(): void }> {
  const needToken = 'host' in listen && !isLoopback(listen.host);
  if (needToken && !('token' in listen && listen.token)) throw new Error(`--http ${listen.host}:${listen.port}: not a loopback address, so a token is required (--http-token)`);
  const server = createServer((req, res) => void handle(req, res));
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (code: number, text: string, headers: Record<string, string> = {}) => {
      res.writeHead(code, { 'Content-Type': 'text/plain; charset=UTF-8', ...headers });
      res.end(text);
    };
    try {
      const url = new URL(req.url ?? '/', 'http://store');
      if (url.pathname === '/ping' || (url.pathname === '/' && req.method === 'GET' && !url.searchParams.has('query'))) return reply(200, 'Ok.\n');
      if (url.pathname !== '/') return reply(404, `Code: 404. DB::Exception: no such endpoint ${url.pathname} (/, /ping)\n`);
      if (needToken && 'token' in listen && !same(tokenOf(req, url) ?? '', listen.token!)) return reply(401, 'Code: 516. DB::Exception: v2probe: wrong or missing token (AUTHENTICATION_FAILED)\n');
      if (req.method !== 'GET' && req.method !== 'POST') return reply(405, `Code: 405. DB::Exception: ${req.method} is not supported\n`);
      const raw = await body(req);
      const q = url.searchParams.get('query');
      const bin = q !== null && !o.readOnly ? binaryInsert(q) : undefined;
      if (bin) {
        const token = url.searchParams.get('insert_deduplication_token') ?? undefined;
        try {
          await store.insertBinary(bin.table, raw, bin.structure, bin.select, { dedupToken: token });
          o.onQuery?.(q!, true);
          return reply(200, '', { 'X-ClickHouse-Summary': '{}' });
        } catch (err) {
          o.onQuery?.(q!, false);
          return reply(500, `${(err as Error).message}\n`);
        }
      }
      const data = raw.toString('utf8');
      const sql = q !== null ? (data ? `${q}\n${data}` : q) : data;
      if (!sql.trim()) return reply(400, 'Code: 62. DB::Exception: empty query (SYNTAX_ERROR)\n');
      const isInsert = firstKeyword(sql) === 'INSERT';
      const plan = planStatement(isInsert ? sql : q !== null && data ? q : sql, urlSettings(url.searchParams), o.readOnly);
      if ('refused' in plan) return reply(403, `Code: 164. DB::Exception: v2probe: ${plan.refused} (READONLY)\n`);
      const run = isInsert ? sql : plan.sql;
      const format = plan.format ?? url.searchParams.get('default_format') ?? 'TabSeparated';
      const settings: Record<string, string> = {};
      const token = url.searchParams.get('insert_deduplication_token');
      if (token) settings.insert_deduplication_token = token;
      try {
        const bytes = (store as { queryBytes?: (sql: string, format: string) => Promise<Buffer> }).queryBytes;
        const out = isInsert ? (await store.exec(withInsertSettings(run, settings)), '') : bytes ? await bytes.call(store, run, format) : await store.queryText(run, format as never);
        o.onQuery?.(sql, true);
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8', 'X-ClickHouse-Format': format, 'X-ClickHouse-Summary': '{}' });
        res.end(out);
      } catch (err) {
        o.onQuery?.(sql, false);
        const msg = (err as Error).message;
        const m = /Code: \d+\.[\s\S]*/.exec(msg);
        reply(500, `${m ? m[0] : `Code: 1000. DB::Exception: ${msg}`}\n`, { 'X-ClickHouse-Exception-Code': /Code: (\d+)/.exec(msg)?.[1] ?? '1000' });
      }
    } catch (err) {
      if (!res.headersSent) reply(400, `Code: 1000. DB::Exception: ${(err as Error).message}\n`);
    }
  }
  if ('socket' in listen) {
    if (existsSync(listen.socket)) rmSync(listen.socket, { force: true });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(listen.socket, resolve));
    chmodSync(listen.socket, 0o600);
  } else await new Promise<void>((resolve, reject) => server.once('error', reject).listen(listen.port, listen.host, resolve));
  const a = server.address();
  const address = typeof a === 'string' ? a : `${(a as AddressInfo).address}:${(a as AddressInfo).port}`;
  return {
    server,
    address,
    close: () => {
      server.close();
      server.closeAllConnections?.();
      if ('socket' in listen) rmSync(listen.socket, { force: true });
    },
  };
}
