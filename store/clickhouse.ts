/**
 * store/clickhouse.ts — a ClickHouse server through @clickhouse/client (HTTP).
 * Same interface and same SQL as the embedded chDB store.
 */
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { StoreError } from './errors.js';
import type { InsertOptions, QueryFormat, Store } from './types.js';

export class ClickHouseStore implements Store {
  readonly kind = 'clickhouse' as const;
  readonly dsn: string;
  private client: ClickHouseClient;

  constructor(params: { url: string; username: string; password: string; database: string; dsn: string }) {
    this.dsn = params.dsn;
    this.client = createClient({
      url: params.url,
      username: params.username,
      password: params.password,
      // the database may not exist yet (schema apply creates it); tables are always qualified
      database: 'default',
      request_timeout: 30_000,
      // errors reach the caller as StoreError; the client's own logger would print stacks
      log: { level: ClickHouseLogLevel.OFF },
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
  }

  async ping(): Promise<void> {
    const r = await this.client.ping();
    if (!r.success) {
      throw new StoreError('UNREACHABLE', this.dsn, `ClickHouse at ${this.dsn} is unreachable: ${(r as { error?: Error }).error?.message ?? 'no answer'}`);
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

  async close(): Promise<void> {
    await this.client.close();
  }
}
