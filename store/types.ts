/** store/types.ts — what every store (chDB embedded, ClickHouse server) offers. */
export type QueryFormat = 'JSONEachRow' | 'CSVWithNames' | 'TabSeparatedWithNames' | 'PrettyCompactMonoBlock' | 'JSON';

export interface InsertOptions {
  /** insert_deduplication_token: a repeated token is dropped by the engine */
  dedupToken?: string;
}

export interface Store {
  readonly kind: 'chdb' | 'clickhouse';
  /** the DSN with secrets redacted */
  readonly dsn: string;
  /** fails with StoreError('UNREACHABLE') when the store cannot be used */
  ping(): Promise<void>;
  /** run one statement that returns nothing (DDL, SET, ...) */
  exec(sql: string): Promise<void>;
  /** run a query, return its text in the given format */
  queryText(sql: string, format: QueryFormat): Promise<string>;
  /** run a query, return its rows as objects (64-bit integers as numbers where safe) */
  queryRows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** insert rows (objects keyed by column) into db.table; an empty list is a no-op */
  insertRows(table: string, rows: readonly object[], opts?: InsertOptions): Promise<void>;
  /**
   * insert a RowBinary body of `structure` (e.g. ring-buffer records, schema/raw.ts)
   * as `INSERT INTO table <select(source)>`, the engine mapping its columns:
   * source is where the body is read from (chDB: a tmpfs file; server: input())
   */
  insertBinary(table: string, body: Buffer, structure: string, select: (source: string) => string, opts?: InsertOptions): Promise<void>;
  close(): Promise<void>;
}
