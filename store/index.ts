/** store/index.ts — open a store from its DSN (chdb:PATH | clickhouse://... | clickhouses://...?ca=&cert=&key=). */
import { ClickHouseStore } from './clickhouse.js';
import { parseStoreDsn } from './dsn.js';
import type { Store } from './types.js';

export { StoreError } from './errors.js';
export { DEFAULT_STORE, parseStoreDsn, redactDsn, type StoreTlsFiles } from './dsn.js';
export type { Store, QueryFormat, InsertOptions } from './types.js';

/** Parse the DSN and connect; throws StoreError (BAD_DSN / UNREACHABLE). */
export async function openStore(dsn: string): Promise<Store> {
  const d = parseStoreDsn(dsn);
  // chDB's engine (~175 MB mapped) is loaded only when a chdb: store is opened
  const store: Store =
    d.kind === 'chdb'
      ? new (await import('./chdb.js')).ChdbStore(d.path)
      : new ClickHouseStore({ url: d.url, username: d.username, password: d.password, database: d.database, dsn: d.text, tls: d.tls });
  await store.ping();
  return store;
}
