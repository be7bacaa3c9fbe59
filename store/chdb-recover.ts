/**
 * store/chdb-recover.ts — crash recovery of chDB's insert-deduplication logs,
 * run before the engine opens a data directory.
 *
 * A MergeTree with `non_replicated_deduplication_window` commits an insert in
 * two steps (ClickHouse 26.7, MergeTreeSink::finishDelayedChunk): it appends
 * `1 <TAB> <part> <TAB> <block id>` to `deduplication_logs/deduplication_log_N.txt`,
 * then renames `tmp_insert_<part>/` to `<part>/`. chDB runs inside our process,
 * so a SIGKILL between the two leaves a record for a part that never became
 * visible: the next start removes the `tmp_insert_` directory but loads the
 * record, and a retried insert with the same `insert_deduplication_token` is
 * dropped as a duplicate of rows that are not there — silently lost. That is
 * exactly what the ingester's redo of an interrupted range does (same token),
 * so one such kill lost a whole range (test/pipeline/exactly-once.test.ts).
 *
 * Recovery: an ADD record whose block no part directory on disk covers (same
 * partition, min_block <= block <= max_block; active or not yet cleaned up)
 * names a part that was never committed — a committed part is always covered,
 * by itself or by the part a merge made of it. Such records are removed, so the
 * retried insert is stored. (A part dropped by DROP PART/PARTITION has a DROP
 * record that cancels its ADD anyway; one emptied by TTL is gone and a token
 * replayed after that would be stored again — not a redo's case.)
 *
 * Only a directory no live engine holds is touched: chDB's `status` file names
 * the PID of the engine that has it open and stays behind when that process is
 * killed; the engine keeps it open while it runs.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DroppedDedupRecord {
  /** the table's directory (store/xxx/UUID) */
  table: string;
  /** the part the record named, never committed */
  part: string;
  blockId: string;
}

/** `<partition>_<min>_<max>_<level>[_<mutation>]`; partition ids have no '_'. */
const PART = /^([0-9A-Za-z-]+)_(\d+)_(\d+)_(\d+)(?:_(\d+))?$/;

function parsePart(name: string): { partition: string; min: bigint; max: bigint } | undefined {
  if (name.startsWith('tmp')) return undefined; // tmp_insert_, tmp_merge_, tmp-fetch_, ...
  const m = PART.exec(name);
  return m ? { partition: m[1], min: BigInt(m[2]), max: BigInt(m[3]) } : undefined;
}

/**
 * The PID in chDB's status file when that process still runs an engine on the
 * directory (it keeps the file open, locked), else undefined: no file, our own
 * PID, a dead process, or a reused PID that does not hold the file.
 */
function liveOwner(path: string): number | undefined {
  const status = join(path, 'status');
  let text: string;
  try {
    text = readFileSync(status, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(/^PID:\s*(\d+)/m.exec(text)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return pid; // alive and we cannot look: assume it holds the directory
  }
  const target = realpathSync(status);
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return pid;
    } catch {
      // closed meanwhile
    }
  }
  return undefined;
}

/** Table directories (store/xxx/UUID) that keep a deduplication log. */
function tablesWithDedupLogs(path: string): string[] {
  const store = join(path, 'store');
  if (!existsSync(store)) return [];
  const out: string[] = [];
  for (const shard of readdirSync(store, { withFileTypes: true })) {
    if (!shard.isDirectory()) continue;
    for (const t of readdirSync(join(store, shard.name), { withFileTypes: true })) {
      const dir = join(store, shard.name, t.name);
      if (t.isDirectory() && existsSync(join(dir, 'deduplication_logs'))) out.push(dir);
    }
  }
  return out;
}

/**
 * Remove the deduplication records of parts that were never committed, in every
 * table of the chDB directory `path`. Returns what was removed (empty: nothing
 * to do, or the directory is open in another live process).
 */
export function recoverDedupLogs(path: string): DroppedDedupRecord[] {
  if (!existsSync(path) || liveOwner(path) !== undefined) return [];
  const dropped: DroppedDedupRecord[] = [];
  for (const table of tablesWithDedupLogs(path)) {
    const covers = new Map<string, Array<[bigint, bigint]>>();
    for (const e of readdirSync(table, { withFileTypes: true })) {
      const p = e.isDirectory() ? parsePart(e.name) : undefined;
      if (!p) continue;
      const list = covers.get(p.partition) ?? [];
      list.push([p.min, p.max]);
      covers.set(p.partition, list);
    }
    const covered = (partition: string, block: bigint) => (covers.get(partition) ?? []).some(([lo, hi]) => lo <= block && block <= hi);
    const logs = join(table, 'deduplication_logs');
    for (const file of readdirSync(logs)) {
      if (!/^deduplication_log_\d+\.txt$/.test(file)) continue;
      const full = join(logs, file);
      const text = readFileSync(full, 'utf8');
      const lines = text.split('\n');
      const keep: string[] = [];
      let removed = 0;
      for (const line of lines) {
        const f = line.split('\t');
        const p = f.length === 3 && f[0] === '1' ? parsePart(f[1]) : undefined;
        if (p && p.min === p.max && !covered(p.partition, p.min)) {
          dropped.push({ table, part: f[1], blockId: f[2] });
          removed++;
          continue;
        }
        keep.push(line);
      }
      if (removed === 0) continue;
      // replace the file whole (a crash here leaves the old or the new log, never half of one);
      // the temporary file lives outside deduplication_logs/, whose every file the engine parses
      const tmpDir = join(path, 'tmp');
      mkdirSync(tmpDir, { recursive: true });
      const tmp = join(tmpDir, `v2probe-${process.pid}-${file}`);
      writeFileSync(tmp, keep.join('\n'));
      renameSync(tmp, full);
    }
  }
  return dropped;
}
