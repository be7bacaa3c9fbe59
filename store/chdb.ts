/**
 * store/chdb.ts — the embedded store: ClickHouse's engine in-process (npm chdb),
 * data in a directory. Queries and inserts use chdb's async calls, which run
 * off the event loop, so the collector's JS thread keeps draining batches.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sqlString } from '../schema/sql.js';
import { Session } from 'chdb';
import { recoverDedupLogs, type DroppedDedupRecord } from './chdb-recover.js';
import { StoreError } from './errors.js';
import type { InsertOptions, QueryFormat, Store } from './types.js';
import { toJsonEachRow } from './rows.js';

/**
 * Where binary inserts stage their body: npm chdb's insert() takes only text
 * formats, so the body is written to a tmpfs file the engine reads with
 * file(…, RowBinary) (docs/binary-path.md). One directory per process,
 * removed at exit; each file is removed after its insert.
 */
const STAGE_DIR = join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `v2probe-chdb-${process.pid}`);
let stageSeq = 0;
let stageReady = false;
function stageFile(): string {
  if (!stageReady) {
    mkdirSync(STAGE_DIR, { recursive: true, mode: 0o700 });
    process.once('exit', () => rmSync(STAGE_DIR, { recursive: true, force: true }));
    stageReady = true;
  }
  return join(STAGE_DIR, `${stageSeq++}.bin`);
}

/** chDB holds one engine per process: sessions on the same path are shared. */
const sessions = new Map<string, { session: Session; refs: number }>();

export class ChdbStore implements Store {
  readonly kind = 'chdb' as const;
  readonly dsn: string;
  readonly path: string;
  private session: Session | undefined;
  /** deduplication records of never-committed parts removed when this process opened the directory (store/chdb-recover.ts) */
  recovered: DroppedDedupRecord[] = [];

  constructor(path: string) {
    this.path = resolve(path);
    this.dsn = `chdb:${path}`;
  }

  private open(): Session {
    if (this.session) return this.session;
    const shared = sessions.get(this.path);
    if (shared) {
      shared.refs++;
      this.session = shared.session;
      return shared.session;
    }
    if (sessions.size > 0) {
      const other = [...sessions.keys()][0];
      throw new StoreError('UNREACHABLE', this.dsn, `chDB store ${this.dsn}: this process already has chDB open at ${other} (one engine per process)`);
    }
    try {
      mkdirSync(this.path, { recursive: true });
      // before the engine loads the tables: a process killed inside an insert may have
      // left a dedup record without its part, which would drop the retried insert
      this.recovered = recoverDedupLogs(this.path);
      const session = new Session(this.path);
      sessions.set(this.path, { session, refs: 1 });
      this.session = session;
      return session;
    } catch (err) {
      throw new StoreError('UNREACHABLE', this.dsn, `cannot open chDB store at ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  async ping(): Promise<void> {
    await this.queryText('SELECT 1', 'CSVWithNames');
  }

  async exec(sql: string): Promise<void> {
    await this.run(sql, 'CSV');
  }

  async queryText(sql: string, format: QueryFormat): Promise<string> {
    return this.run(sql, format);
  }

  async queryRows<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    const text = await this.run(sql, 'JSONEachRow');
    const out: T[] = [];
    for (const line of text.split('\n')) if (line) out.push(JSON.parse(line) as T);
    return out;
  }

  async insertRows(table: string, rows: readonly object[], opts: InsertOptions = {}): Promise<void> {
    if (rows.length === 0) return;
    const session = this.open();
    const settings: Record<string, string | number> = {};
    if (opts.dedupToken) settings.insert_deduplication_token = opts.dedupToken;
    try {
      await session.insert({ table, values: toJsonEachRow(rows), format: 'JSONEachRow', settings });
    } catch (err) {
      throw new StoreError('INSERT', this.dsn, `insert of ${rows.length} rows into ${table} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async insertBinary(table: string, body: Buffer, structure: string, select: (source: string) => string, opts: InsertOptions = {}): Promise<void> {
    if (body.length === 0) return;
    const session = this.open();
    const file = stageFile();
    const settings = opts.dedupToken ? ` SETTINGS insert_deduplication_token=${sqlString(opts.dedupToken)}` : '';
    try {
      await writeFile(file, body);
      await session.queryAsync(`INSERT INTO ${table}${settings}\n${select(`file(${sqlString(file)}, RowBinary, ${sqlString(structure)})`)}`, { format: 'CSV' });
    } catch (err) {
      throw new StoreError('INSERT', this.dsn, `binary insert of ${body.length} bytes into ${table} failed: ${(err as Error).message.trim()}`, { cause: err });
    } finally {
      await rm(file, { force: true });
    }
  }

  /** The result's bytes in any output format the engine has (the store socket and --http pass them through). */
  async queryBytes(sql: string, format: string): Promise<Buffer> {
    const session = this.open();
    try {
      const res = await session.queryAsync(sql, { format });
      const b = res.bytes();
      return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    } catch (err) {
      throw new StoreError('QUERY', this.dsn, `${(err as Error).message.trim()}`, { cause: err });
    }
  }

  private async run(sql: string, format: string): Promise<string> {
    const session = this.open();
    try {
      const res = await session.queryAsync(sql, { format });
      return res.text();
    } catch (err) {
      throw new StoreError('QUERY', this.dsn, `${(err as Error).message.trim()}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    if (!this.session) return;
    const shared = sessions.get(this.path);
    this.session = undefined;
    if (shared && --shared.refs === 0) {
      sessions.delete(this.path);
      shared.session.close();
    }
  }
}
