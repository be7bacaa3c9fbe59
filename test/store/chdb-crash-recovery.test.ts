// chDB crash recovery (store/chdb-recover.ts): a process killed between the
// engine's dedup-log record and the rename that commits the part must not make
// the retried insert (same insert_deduplication_token) a silent no-op.
//
// The on-disk state such a kill leaves is built exactly: a clean insert, then its
// part directory renamed back to tmp_insert_<part> (the record already written,
// the rename not done) and chDB's `status` file left naming a dead PID. Each step
// runs in its own process (one chDB engine per process), as the ingester does.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recoverDedupLogs } from '../../store/chdb-recover.js';
import { ROOT } from '../helpers/cli.js';

const ROWS = { T0: 250, T1: 750, T2: 400 } as const;
/** event times (ns): now, so the events' TTL keeps them */
const BASE = BigInt(Date.now()) * 1_000_000n;
const ALL = ROWS.T0 + ROWS.T1 + ROWS.T2;

/** Run `body` in a fresh node process with `store` = ChdbStore(dir) and `insert(token)`; returns its JSON output. */
function inChild(dir: string, body: string): any {
  const code = `
    import { ChdbStore } from ${JSON.stringify(join(ROOT, 'dist/store/chdb.js'))};
    import { applySchema } from ${JSON.stringify(join(ROOT, 'dist/schema/ddl.js'))};
    const store = new ChdbStore(${JSON.stringify(join(dir, 'data'))});
    const first = { T0: 0, T1: 10000, T2: 20000 };
    const n = ${JSON.stringify(ROWS)};
    // the same rows every time for a token, as the ingester rebuilds a range from the same messages
    const base = ${BASE}n;
    const rows = (t) => Array.from({ length: n[t] }, (_, i) => ({ ts: String(base + BigInt(first[t] + i)), host: 'h', probe: 'uds', event: 'sendmsg', pid: 1, tid: 1, comm: 'crash', value: first[t] + i, weight: 1, cpu: 0 }));
    const insert = (t) => store.insertRows('v2e.events', rows(t), { dedupToken: 'topic:0:' + t });
    const count = async () => (await store.queryRows("SELECT count() AS n, uniqExact(value) AS u FROM v2e.events WHERE comm = 'crash'"))[0];
    const out = await (async () => { ${body} })();
    await store.close();
    process.stdout.write(JSON.stringify(out ?? null));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 120_000, cwd: ROOT });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The directory of v2e.events (an Atomic database keeps it under store/). */
function eventsDir(dir: string, uuid: string): string {
  return join(dir, 'data', 'store', uuid.slice(0, 3), uuid);
}

/** Remove part directories covered by another (what the engine's cleanup does after a merge). */
function dropCoveredParts(table: string): void {
  const parts = readdirSync(table)
    .map((name) => ({ name, m: /^(\d+)_(\d+)_(\d+)_(\d+)$/.exec(name) }))
    .filter((p) => p.m)
    .map((p) => ({ name: p.name, part: p.m![1], lo: Number(p.m![2]), hi: Number(p.m![3]) }));
  for (const p of parts)
    if (parts.some((q) => q !== p && q.part === p.part && q.lo <= p.lo && p.hi <= q.hi)) rmSync(join(table, p.name), { recursive: true });
}

/** A PID that is not running (a child that has exited). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('chDB: a kill between the dedup-log record and the part commit', () => {
  it('the retried insert is stored once (recovered at open), committed ones stay deduplicated, merged ones too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2probe-chdb-crash-'));
    // T0 and T2 committed and merged into one part; T1 committed last
    const setup = inChild(
      dir,
      `await applySchema(store);
       await insert('T0'); await insert('T2');
       await store.exec('OPTIMIZE TABLE v2e.events FINAL');
       await insert('T1');
       const [t] = await store.queryRows("SELECT uuid FROM system.tables WHERE database = 'v2e' AND name = 'events'");
       const parts = await store.queryRows("SELECT name, rows FROM system.parts WHERE database = 'v2e' AND table = 'events' AND active ORDER BY name");
       return { uuid: t.uuid, parts, count: await count() };`,
    );
    expect(setup.count).toEqual({ n: ALL, u: ALL });
    const table = eventsDir(dir, setup.uuid);
    const t1 = setup.parts.find((p: { rows: number | string }) => Number(p.rows) === ROWS.T1).name as string;
    expect(t1).toMatch(/^\d+_(\d+)_\1_0$/);
    dropCoveredParts(table);
    const log = readdirSync(join(table, 'deduplication_logs')).map((f) => readFileSync(join(table, 'deduplication_logs', f), 'utf8')).join('');
    expect(log).toContain(`\t${t1}\t`);

    // the kill: T1's record is in the log, its part still tmp_insert_, chDB's status names the dead process
    renameSync(join(table, t1), join(table, `tmp_insert_${t1}`));
    writeFileSync(join(dir, 'data', 'status'), `PID: ${deadPid()}\nStarted at: 2026-01-01 00:00:00\nRevision: 54513\n`);
    const crashed = join(mkdtempSync(join(tmpdir(), 'v2probe-chdb-crash-copy-')), 'c');
    cpSync(dir, crashed, { recursive: true });

    // what the engine alone does with that state: the retried T1 is dropped as a duplicate (the loss)
    const raw = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { Session } from 'chdb';
         const s = new Session(${JSON.stringify(join(crashed, 'data'))});
         const rows = Array.from({ length: ${ROWS.T1} }, (_, i) => JSON.stringify({ ts: String(${BASE}n + BigInt(10000 + i)), host: 'h', probe: 'uds', event: 'sendmsg', pid: 1, tid: 1, comm: 'crash', value: 10000 + i, weight: 1, cpu: 0 })).join('\\n') + '\\n';
         await s.insert({ table: 'v2e.events', values: Buffer.from(rows), format: 'JSONEachRow', settings: { insert_deduplication_token: 'topic:0:T1' } });
         const r = await s.queryAsync("SELECT count() FROM v2e.events WHERE comm = 'crash'", { format: 'TSV' });
         process.stdout.write(r.text().trim());
         s.close();`,
      ],
      { encoding: 'utf8', cwd: ROOT, timeout: 120_000 },
    );
    expect(raw.status, raw.stderr).toBe(0);
    expect(Number(raw.stdout)).toBe(ROWS.T0 + ROWS.T2);

    // through ChdbStore: the record of the never-committed part is removed before the engine loads it;
    // every range is redone with its token: T1 is stored, T0/T2 (committed, merged) are dropped
    const redo = inChild(
      dir,
      `const before = await count();
       await insert('T0'); await insert('T1'); await insert('T2');
       await insert('T1');
       return { recovered: store.recovered.map((r) => r.part), before, after: await count() };`,
    );
    expect(redo.recovered).toEqual([t1]);
    expect(redo.before).toEqual({ n: ROWS.T0 + ROWS.T2, u: ROWS.T0 + ROWS.T2 });
    expect(redo.after).toEqual({ n: ALL, u: ALL });
    // and again: nothing left to recover, every token deduplicated
    const again = inChild(dir, `await insert('T0'); await insert('T1'); await insert('T2'); return { recovered: store.recovered.length, after: await count() };`);
    expect(again).toEqual({ recovered: 0, after: { n: ALL, u: ALL } });
  }, 180_000);

  it('leaves a directory alone while a live engine holds it; a dead or reused PID in its status does not hold it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2probe-chdb-live-'));
    const data = join(dir, 'data');
    const setup = inChild(
      dir,
      `await applySchema(store); await insert('T1');
       const [t] = await store.queryRows("SELECT uuid FROM system.tables WHERE database = 'v2e' AND name = 'events'");
       const [p] = await store.queryRows("SELECT name FROM system.parts WHERE database = 'v2e' AND table = 'events' AND active");
       return { uuid: t.uuid, part: p.name };`,
    );
    const table = eventsDir(dir, setup.uuid);
    renameSync(join(table, setup.part), join(table, `tmp_insert_${setup.part}`));
    const logs = join(table, 'deduplication_logs');
    const read = () => readdirSync(logs).map((f) => readFileSync(join(logs, f), 'utf8'));
    const before = read();
    // an engine that has the directory open (it writes and holds `status`)
    const engine = spawn(process.execPath, ['-e', `const { Session } = require('chdb'); const s = new Session(${JSON.stringify(data)}); s.query('SELECT 1'); process.stdout.write('open'); setTimeout(() => {}, 60000);`], { cwd: ROOT });
    const exited = new Promise((r) => engine.once('exit', r));
    try {
      await new Promise<void>((resolve, reject) => {
        engine.stdout.on('data', () => resolve());
        engine.once('exit', (c) => reject(new Error(`engine exited ${c}`)));
      });
      expect(readFileSync(join(data, 'status'), 'utf8')).toContain(`PID: ${engine.pid}`);
      expect(recoverDedupLogs(data)).toEqual([]);
      expect(read()).toEqual(before);
    } finally {
      engine.kill('SIGKILL');
    }
    await exited;
    // killed: its status stays behind naming a dead PID; then a live process that reuses the PID
    expect(readFileSync(join(data, 'status'), 'utf8')).toContain(`PID: ${engine.pid}`);
    const other = spawn('sleep', ['60']);
    try {
      writeFileSync(join(data, 'status'), `PID: ${other.pid}\nStarted at: 2026-01-01 00:00:00\nRevision: 54513\n`);
      expect(recoverDedupLogs(data).map((r) => r.part)).toEqual([setup.part]);
    } finally {
      other.kill();
    }
  }, 120_000);
});
