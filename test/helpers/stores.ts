// Store targets for tests: chDB always (the real engine, in-process), and a
// ClickHouse server when CLICKHOUSE_URL is given (.ci/run starts one with
// scripts/clickhouse.sh; skipped, with the reason, otherwise).
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
      skip: url ? false : `CLICKHOUSE_URL is not set (${process.env.CLICKHOUSE_UNAVAILABLE ?? 'start one: bash scripts/clickhouse.sh start'})`,
      dsn: () => url!.replace(/^http/, 'clickhouse'),
      reset: async (s) => s.exec('DROP DATABASE IF EXISTS v2e SYNC'),
    },
  ];
}
