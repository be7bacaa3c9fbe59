/**
 * cli/flame.ts — `v2probe flame`: sample stacks of a process (or a comm, or
 * the whole host) for a while, write an interactive SVG flame graph, and
 * optionally folded stacks and a gzipped pprof profile.
 *
 *   v2probe flame --pid N --duration 10s --out flame.svg [--pprof p.pb.gz] [--folded f.txt]
 *                 [--off-cpu] [--comm NAME] [--frequency 99]
 *
 * Exit codes: 0 ok (also when the process exited mid-profile: what was
 * sampled is written), 2 bad input (unknown pid, bad duration), 1 kernel
 * failure or no samples.
 */
import { existsSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { toFolded, toPprof, toSvg } from '../collector/flame.js';
import { runProfile } from '../collector/profile.js';
import { bpfPrivilege } from '../collector/kernel.js';
import { KernelError } from '../collector/errors.js';
import { UsageError } from './errors.js';
import { parseComm, parseDuration, parseIntFlag, parsePid } from './parse.js';

const MAX_DURATION_MS = 3_600_000;

export function registerFlame(program: Command): void {
  program
    .command('flame')
    .description('on-CPU (or --off-cpu) flame graph of a process: SVG, folded stacks, pprof')
    .option('--pid <pid>', 'only this process')
    .option('--comm <name>', 'only tasks with this name')
    .option('--all', 'every process on the host')
    .option('--duration <d>', 'how long to sample (e.g. 10s; at most 1h)', '10s')
    .option('--out <file>', 'SVG flame graph to write', 'flame.svg')
    .option('--pprof <file>', 'also write a gzipped pprof profile (go tool pprof reads it)')
    .option('--folded <file>', 'also write folded stacks')
    .option('--off-cpu', 'time blocked off CPU instead of on-CPU samples')
    .option('--frequency <hz>', 'on-CPU sampling frequency', '99')
    .option('--min-block <d>', 'off-CPU: ignore waits shorter than this', '0ms')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const pid = o.pid !== undefined ? parsePid('--pid', String(o.pid)) : undefined;
      const comm = o.comm !== undefined ? parseComm('--comm', String(o.comm)) : undefined;
      if (pid === undefined && comm === undefined && !o.all) throw new UsageError('flame: give --pid N, --comm NAME or --all');
      if (pid !== undefined && !existsSync(`/proc/${pid}`)) throw new UsageError(`--pid: no process ${pid}`);
      const durationMs = parseDuration('--duration', String(o.duration));
      if (durationMs > MAX_DURATION_MS) throw new UsageError(`--duration: ${o.duration} is longer than the 1h maximum`);
      const frequency = parseIntFlag('--frequency', String(o.frequency), 1, 10000);
      const minBlockMs = o.minBlock === '0ms' ? 0 : parseDuration('--min-block', String(o.minBlock));
      const priv = bpfPrivilege();
      if (!priv.ok) throw new KernelError('PERMISSION', priv.reason!);

      const ac = new AbortController();
      const onSig = () => ac.abort();
      process.on('SIGINT', onSig);
      process.on('SIGTERM', onSig);
      try {
        const r = await runProfile({ pid, comm, durationMs, frequency, offCpu: !!o.offCpu, minBlockNs: minBlockMs * 1e6, signal: ac.signal,
          onStart: () => process.stderr.write(`flame: sampling for ${o.duration}\n`) });
        const unit = r.kind === 'cpu' ? 'samples' : 'ns';
        const total = r.stacks.reduce((s, x) => s + x.value, 0);
        const what = pid !== undefined ? `pid ${pid}` : comm !== undefined ? `comm ${comm}` : 'all';
        const title = `${r.kind === 'cpu' ? `on-CPU ${frequency} Hz` : 'off-CPU'} — ${what} — ${(r.durationMs / 1000).toFixed(1)} s`;
        writeFileSync(String(o.out), toSvg(r.stacks, { title, unit }));
        if (o.pprof) writeFileSync(String(o.pprof), toPprof(r.stacks, r));
        if (o.folded) writeFileSync(String(o.folded), toFolded(r.stacks));
        process.stderr.write(
          `flame: ${total} ${unit} in ${r.stacks.length} stacks over ${(r.durationMs / 1000).toFixed(1)} s${r.exited ? ` (process ${pid} exited mid-profile; samples so far written)` : ''}; ` +
            `wrote ${o.out}${o.pprof ? `, ${o.pprof}` : ''}${o.folded ? `, ${o.folded}` : ''}; counters ${JSON.stringify(r.counters)}\n`,
        );
        if (total === 0) process.exitCode = 1;
      } finally {
        process.off('SIGINT', onSig);
        process.off('SIGTERM', onSig);
      }
    });
}
