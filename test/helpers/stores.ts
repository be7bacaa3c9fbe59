// Store targets for tests: chDB always (the real engine, in-process), and a
// ClickHouse server when CLICKHOUSE_URL is given (skipped, with that reason, otherwise).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '../../store/index.js';

export interface StoreTarget {
  name: string;
  skip: string | false;
  dsn(): string;
  reset?(store: Store): Promise<void>;
}

export function storeTargets(): StoreTarget[] {
  const url = process.env.CLICKHOUSE_URL;
  return [
    { name: 'chDB', skip: false, dsn: () => `chdb:${mkdtempSync(join(tmpdir(), 'v2store-'))}` },
    {
      name: 'ClickHouse server',
      skip: url ? false : 'CLICKHOUSE_URL is not set (no ClickHouse server or Docker engine on this machine)',
      dsn: () => url!.replace(/^http/, 'clickhouse'),
      reset: async (s) => s.exec('DROP DATABASE IF EXISTS v2e SYNC'),
    },
  ];
}
