/**
 * store/dsn.ts — parse a store DSN: `chdb:PATH` (embedded) or
 * `clickhouse://user:pass@host:8123/db` (server, http), `clickhouses://` /
 * `https://` (TLS, default port 8443) with optional TLS files in the query:
 * `?ca=FILE` (CA bundle that signed the server's certificate) and
 * `&cert=FILE&key=FILE` (client certificate, mutual TLS). Also the redaction
 * of every URL-with-credentials shown in logs and errors (store and Kafka).
 */
import { accessSync, constants, statSync } from 'node:fs';
import { StoreError } from './errors.js';

export const DEFAULT_STORE = 'chdb:./.v2probe/data';

/** TLS files of a clickhouses:// DSN (paths; read when the store opens). */
export interface StoreTlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

export type StoreDsn =
  | { kind: 'chdb'; path: string; text: string }
  | { kind: 'clickhouse'; url: string; username: string; password: string; database: string; text: string; tls?: StoreTlsFiles };

/**
 * Text with every password replaced, for logs and errors: the `user:PASSWORD@`
 * of any URL (clickhouse://, https://, kafka://, kafkas://; also when the
 * password holds characters that should have been percent-encoded) and any
 * `password=` / `token=` style query value.
 */
export function redactDsn(dsn: string): string {
  return dsn
    .replace(/\/\/([^:@/?#\s]*):[^\s]*@/g, '//$1:***@')
    .replace(/([?&](?:password|pass|pwd|secret|token)=)[^&\s'"]*/gi, '$1***');
}

const TLS_PARAMS = ['ca', 'cert', 'key'] as const;

function checkFile(text: string, param: string, path: string): void {
  if (!path) throw new StoreError('BAD_DSN', text, `store DSN '${text}': ${param}= needs a file path`);
  try {
    if (!statSync(path).isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    accessSync(path, constants.R_OK);
  } catch (err) {
    const c = (err as NodeJS.ErrnoException).code;
    const why = c === 'ENOENT' ? 'no such file' : c === 'EACCES' ? 'permission denied' : c === 'EISDIR' ? 'not a regular file' : (c ?? (err as Error).message);
    throw new StoreError('BAD_DSN', text, `store DSN '${text}': ${param}=${path}: cannot read it: ${why}`);
  }
}

export function parseStoreDsn(dsn: string): StoreDsn {
  const text = redactDsn(dsn);
  if (dsn.startsWith('chdb:')) {
    const path = dsn.slice('chdb:'.length);
    if (!path) throw new StoreError('BAD_DSN', text, `store DSN '${text}': chdb: needs a path, e.g. chdb:./.v2probe/data`);
    return { kind: 'chdb', path, text };
  }
  if (/^clickhouses?:\/\//.test(dsn) || /^https?:\/\//.test(dsn)) {
    let u: URL;
    try {
      u = new URL(dsn.replace(/^clickhouse(s?):/, 'http$1:'));
    } catch {
      throw new StoreError('BAD_DSN', text, `store DSN '${text}' is not a valid URL (expected clickhouse://user:pass@host:8123/db)`);
    }
    if (!u.hostname) throw new StoreError('BAD_DSN', text, `store DSN '${text}' has no host`);
    const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'v2e';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database))
      throw new StoreError('BAD_DSN', text, `store DSN '${text}': database name '${database}' is not a plain identifier`);
    const https = u.protocol === 'https:';
    const tls: StoreTlsFiles = {};
    for (const [k, v] of u.searchParams) {
      if (!(TLS_PARAMS as readonly string[]).includes(k))
        throw new StoreError('BAD_DSN', text, `store DSN '${text}': unknown option '${k}' (known: ${TLS_PARAMS.join(', ')}, for clickhouses:// / https://)`);
      if (!https) throw new StoreError('BAD_DSN', text, `store DSN '${text}': ${k}= is a TLS option: use clickhouses:// (or https://)`);
      checkFile(text, k, v);
      tls[k as (typeof TLS_PARAMS)[number]] = v;
    }
    if (tls.cert !== undefined && tls.key === undefined)
      throw new StoreError('BAD_DSN', text, `store DSN '${text}': cert= needs key= too (the client certificate's private key)`);
    if (tls.key !== undefined && tls.cert === undefined)
      throw new StoreError('BAD_DSN', text, `store DSN '${text}': key= needs cert= too (the client certificate)`);
    const port = u.port || (https ? '8443' : '8123');
    return {
      kind: 'clickhouse',
      url: `${u.protocol}//${u.hostname}:${port}`,
      username: decodeURIComponent(u.username) || 'default',
      password: decodeURIComponent(u.password),
      database,
      text,
      ...(Object.keys(tls).length ? { tls } : {}),
    };
  }
  throw new StoreError(
    'BAD_DSN',
    text,
    `store DSN '${text}' is not understood: use chdb:PATH or clickhouse://user:pass@host:8123/db (clickhouses://…:8443/db?ca=FILE&cert=FILE&key=FILE for TLS)`,
  );
}
