/**
 * store/clickhouse.ts — a ClickHouse server through @clickhouse/client (HTTP or
 * HTTPS). Same interface and same SQL as the embedded chDB store. TLS files of
 * the DSN (`?ca=&cert=&key=`) are read and checked here and given to the
 * client as `tls: { ca_cert, cert, key }`.
 */
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseClientConfigOptions } from '@clickhouse/client';
import { Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { sqlString } from '../schema/sql.js';
import type { StoreTlsFiles } from './dsn.js';
import { StoreError } from './errors.js';
import { loadTlsFiles, TlsFileError } from './tls.js';
import type { InsertOptions, QueryFormat, Store } from './types.js';

export interface ClickHouseParams {
  url: string;
  username: string;
  password: string;
  database: string;
  /** the redacted DSN, for messages */
  dsn: string;
  tls?: StoreTlsFiles;
  /** a Unix socket to reach the server by (a chDB store's socket, store/serve.ts), instead of the URL's host */
  socketPath?: string;
}

/** An HTTP agent whose connections go to a Unix socket. */
class UnixSocketAgent extends Agent {
  constructor(private readonly path: string) {
    super({ keepAlive: true });
  }
  override createConnection(_opts: unknown, cb?: (err: Error | null, s: Socket) => void): Socket {
    const s = connect(this.path);
    if (cb) s.once('connect', () => cb(null, s)).once('error', (e) => cb(e, s));
    return s;
  }
}

/**
 * The client's configuration. With `ca` the server's certificate must chain to
 * that CA (instead of the system's); with `cert`+`key` the client presents its
 * certificate (mutual TLS; @clickhouse/client then also asks the server to
 * authenticate the user by it: X-ClickHouse-SSL-Certificate-Auth). Throws
 * StoreError BAD_DSN naming the option when a file cannot be used.
 */
export function clickHouseClientConfig(params: ClickHouseParams): ClickHouseClientConfigOptions {
  let tls: ClickHouseClientConfigOptions['tls'];
  if (params.tls && (params.tls.ca || params.tls.cert)) {
    let m;
    try {
      m = loadTlsFiles(params.tls, { ca: 'ca=', cert: 'cert=', key: 'key=' });
    } catch (err) {
      if (err instanceof TlsFileError) throw new StoreError('BAD_DSN', params.dsn, `store DSN '${params.dsn}': ${err.message}`);
      throw err;
    }
    // the client wants a CA either way: without ca= it is the system's bundle (what Node trusts by default)
    const ca_cert = m.ca ?? Buffer.from(rootCertificates.join('\n'));
    tls = m.cert && m.key ? { ca_cert, cert: m.cert, key: m.key } : { ca_cert };
  }
  return {
    url: params.url,
    username: params.username,
    password: params.password,
    // the database may not exist yet (schema apply creates it); tables are always qualified
    database: 'default',
    request_timeout: 30_000,
    // errors reach the caller as StoreError; the client's own logger would print stacks
    log: { level: ClickHouseLogLevel.OFF },
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    ...(tls ? { tls } : {}),
    ...(params.socketPath ? { http_agent: new UnixSocketAgent(params.socketPath), set_basic_auth_header: true } : {}),
  };
}

export class ClickHouseStore implements Store {
  readonly kind = 'clickhouse' as const;
  readonly dsn: string;
  private client: ClickHouseClient;

  constructor(params: ClickHouseParams) {
    this.dsn = params.dsn;
    this.client = createClient(clickHouseClientConfig(params));
  }

  async ping(): Promise<void> {
    const r = await this.client.ping();
    if (!r.success) {
      const e = (r as { error?: Error & { code?: string } }).error;
      const code = e?.code ?? '';
      const hint = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)
        ? ": TLS: the server's certificate is not trusted (give the CA that signed it with ?ca=FILE)"
        : /ALTNAME/.test(code)
          ? ": TLS: the server's certificate does not name this host"
          : /ALERT/.test(code)
            ? ': TLS: the server refused the handshake (a client certificate is needed or was refused: ?cert=FILE&key=FILE)'
            : '';
      throw new StoreError('UNREACHABLE', this.dsn, `ClickHouse at ${this.dsn} is unreachable: ${e?.message ?? 'no answer'}${hint}`);
    }
    // /ping needs no credentials: check them once, so a wrong password is a start-up error, not a failing first query
    try {
      await this.client.command({ query: 'SELECT 1' });
    } catch (err) {
      const msg = (err as Error).message;
      if (/AUTHENTICATION_FAILED|Authentication failed|\bCode: 516\b/.test(msg) || (err as { code?: string }).code === '516') {
        const u = new URL(this.dsn.replace(/^clickhouses?:/, 'http:'));
        throw new StoreError('AUTH', this.dsn, `ClickHouse at ${u.host} refused user '${decodeURIComponent(u.username) || 'default'}': wrong password or no such user (store ${this.dsn})`, { cause: err });
      }
      throw new StoreError('QUERY', this.dsn, msg, { cause: err });
    }
  }

  async exec(sql: string): Promise<void> {
    try {
      await this.client.command({ query: sql });
    } catch (err) {
      throw new StoreError('QUERY', this.dsn, (err as Error).message, { cause: err });
    }
  }

  async queryText(sql: string, format: QueryFormat): Promise<string> {
    try {
      const rs = await this.client.query({ query: sql, format: format as 'JSONEachRow' });
      return await rs.text();
    } catch (err) {
      throw new StoreError('QUERY', this.dsn, (err as Error).message, { cause: err });
    }
  }

  async queryRows<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    try {
      const rs = await this.client.query({ query: sql, format: 'JSONEachRow' });
      return await rs.json<T>();
    } catch (err) {
      throw new StoreError('QUERY', this.dsn, (err as Error).message, { cause: err });
    }
  }

  async insertRows(table: string, rows: readonly object[], opts: InsertOptions = {}): Promise<void> {
    if (rows.length === 0) return;
    try {
      await this.client.insert({
        table,
        values: rows as object[],
        format: 'JSONEachRow',
        clickhouse_settings: opts.dedupToken ? { insert_deduplication_token: opts.dedupToken } : {},
      });
    } catch (err) {
      throw new StoreError('INSERT', this.dsn, `insert of ${rows.length} rows into ${table} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async insertBinary(table: string, body: Buffer, structure: string, select: (source: string) => string, opts: InsertOptions = {}): Promise<void> {
    if (body.length === 0) return;
    try {
      const r = await this.client.exec({
        query: `INSERT INTO ${table} ${select(`input(${sqlString(structure)})`)} FORMAT RowBinary`,
        values: Readable.from([body]),
        clickhouse_settings: opts.dedupToken ? { insert_deduplication_token: opts.dedupToken } : {},
      });
      for await (const _ of r.stream) { /* the response body: empty; drained so the socket is reused */ }
    } catch (err) {
      throw new StoreError('INSERT', this.dsn, `binary insert of ${body.length} bytes into ${table} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
