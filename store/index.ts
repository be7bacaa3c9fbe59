/** store/index.ts — open a store from its DSN (chdb:PATH | clickhouse://... | clickhouses://...?ca=&cert=&key=). */
import { ClickHouseStore } from './clickhouse.js';
import { parseStoreDsn } from './dsn.js';
import type { Store } from './types.js';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { storeSocketPath } from './serve.js';

export { StoreError } from './errors.js';
export { DEFAULT_STORE, parseStoreDsn, redactDsn, type StoreTlsFiles } from './dsn.js';
export type { Store, QueryFormat, InsertOptions } from './types.js';

/** chDB directories this process has open (its own store socket is for others). */
const OPENED_HERE = new Set<string>();

/**
 * Parse the DSN and connect; throws StoreError (BAD_DSN / UNREACHABLE).
 * A chDB directory held by a running `up`/`collect` (one engine per
 * directory) is reached through that process's store socket (store/serve.ts),
 * saying so on stderr (`quiet` to not).
 */
export async function openStore(dsn: string, o: { quiet?: boolean } = {}): Promise<Store> {
  const d = parseStoreDsn(dsn);
  if (d.kind !== 'chdb') {
    const store = new ClickHouseStore({ url: d.url, username: d.username, password: d.password, database: d.database, dsn: d.text, tls: d.tls });
    await store.ping();
    return store;
  }
  // held by a running up/collect (its store socket answers): through the socket, without loading an engine here
  const path = resolve(d.path);
  const sock = storeSocketPath(path);
  if (!OPENED_HERE.has(path) && existsSync(sock)) {
    const held = new ClickHouseStore({ url: 'http://localhost', username: 'default', password: '', database: 'default', dsn: d.text, socketPath: sock });
    try {
      await held.ping();
      if (!o.quiet) process.stderr.write(`v2probe: ${d.text} is held by a running v2probe; going through its store socket ${sock}\n`);
      return held;
    } catch {
      await held.close().catch(() => {}); // a socket left by a process that is gone: open the directory
    }
  }
  // chDB's engine (~175 MB mapped) is loaded only when a chdb: store is opened
  const store = new (await import('./chdb.js')).ChdbStore(d.path);
  await store.ping();
  OPENED_HERE.add(path);
  return store;
}
