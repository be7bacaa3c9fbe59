/**
 * bench/explain.ts — cost of `v2probe explain`'s accounting on the rttpair
 * fixture: round trips/s and p99 without and with the rtt probe (default
 * sampling 1:100), in one run, and the per-hook cost from bpf_stats.
 *   node dist/bench/explain.js [round_trips=20000] [sample=100]
 * Needs root and the fixture built (test/fixtures/go/rttpair -> build/fixtures/go/rttpair).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runExplainLive } from '../explain/live.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FX = join(ROOT, 'build/fixtures/go');

function run(bin: string, args: string[]): Promise<Record<string, number>> {
  return new Promise((res, rej) => {
    const c = spawn(bin, args);
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => (code === 0 ? res(JSON.parse(out.trim().split('\n').pop()!)) : rej(new Error(`${bin} exited ${code}`))));
  });
}

async function main() {
  const n = Number(process.argv[2] ?? 20000);
  const sample = Number(process.argv[3] ?? 100);
  if (!existsSync(join(FX, 'rttpair'))) throw new Error(`build the fixture first: ${join(FX, 'rttpair')} (npx vitest run test/explain builds it)`);
  for (const name of ['v2broker', 'v2client']) if (!existsSync(join(FX, name))) symlinkSync('rttpair', join(FX, name));
  const stats = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
  writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1');
  const sock = join(mkdtempSync(join(tmpdir(), 'rttb-')), 's.sock');
  const broker = spawn(join(FX, 'v2broker'), ['broker', sock, 'none', '0']);
  await new Promise((r) => broker.stdout.once('data', r));
  try {
    const client = join(FX, 'v2client');
    await run(client, ['client', sock, '2000', '0']); // warm-up
    const off1 = await run(client, ['client', sock, String(n), '0']);
    const withExplain = async (stacks: boolean) => {
      const ac = new AbortController();
      let started!: () => void;
      const st = new Promise<void>((r) => (started = r));
      const live = runExplainLive({ comm: 'v2broker', durationMs: 600_000, sampleEvery: sample, stacks, signal: ac.signal, onStart: () => started() });
      await st;
      const res = await run(client, ['client', sock, String(n), '0']);
      ac.abort();
      return { res, r: await live };
    };
    const plain = await withExplain(false);
    const { res: on, r } = await withExplain(true);
    const off2 = await run(client, ['client', sock, String(n), '0']);
    const f = (x: Record<string, number>) => `${Math.round(x.rps)} rt/s, p50 ${(x.p50_ns / 1e3).toFixed(1)} µs, p99 ${(x.p99_ns / 1e3).toFixed(1)} µs`;
    console.log(`rttpair ${n} round trips, explain sampling 1:${sample}`);
    console.log(`  without v2probe (before):          ${f(off1)}`);
    console.log(`  with explain (default):            ${f(plain.res)}  (${plain.r.trips.length} breakdowns)`);
    console.log(`  with explain --stacks (+ runtime.gopark uprobe): ${f(on)}  (${r.trips.length} breakdowns)`);
    console.log(`  without v2probe (after):           ${f(off2)}`);
    console.log('  per-hook cost (bpf_stats, whole host during the run):');
    for (const p of r.programStats.filter((x) => x.runCnt > 0).sort((a, b) => b.runTimeNs - a.runTimeNs)) {
      console.log(`    ${p.name.padEnd(22)} ${String(p.runCnt).padStart(9)} runs  ${(p.runTimeNs / p.runCnt).toFixed(0).padStart(5)} ns/run  ${(p.runTimeNs / 1e6).toFixed(1)} ms total`);
    }
  } finally {
    broker.stdin.end();
    broker.kill();
    writeFileSync('/proc/sys/kernel/bpf_stats_enabled', stats);
  }
}

await main();
