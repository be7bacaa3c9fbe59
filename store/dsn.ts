/**
 * store/dsn.ts — parse a store DSN: `chdb:PATH` (embedded) or
 * `clickhouse://user:pass@host:8123/db` (server, http or https).
 */
import { StoreError } from './errors.js';

export const DEFAULT_STORE = 'chdb:./.v2probe/data';

export type StoreDsn =
  | { kind: 'chdb'; path: string; text: string }
  | { kind: 'clickhouse'; url: string; username: string; password: string; database: string; text: string };

/** The DSN with any password replaced, for logs and errors. */
export function redactDsn(dsn: string): string {
  return dsn.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
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
    const port = u.port || (u.protocol === 'https:' ? '8443' : '8123');
    return {
      kind: 'clickhouse',
      url: `${u.protocol}//${u.hostname}:${port}`,
      username: decodeURIComponent(u.username) || 'default',
      password: decodeURIComponent(u.password),
      database,
      text,
    };
  }
  throw new StoreError(
    'BAD_DSN',
    text,
    `store DSN '${text}' is not understood: use chdb:PATH or clickhouse://user:pass@host:8123/db`,
  );
}
