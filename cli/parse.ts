/** cli/parse.ts — validate flag values at the edge; every failure is a UsageError naming the flag. */
import { statSync } from 'node:fs';
import { USER_PROBES, type ProbeName } from '../schema/event.js';
import { UsageError } from './errors.js';

export function parseProbes(flag: string, text: string): ProbeName[] {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError(`${flag}: empty probe list; valid probes: ${USER_PROBES.join(', ')}`);
  for (const n of names) {
    if (!(USER_PROBES as string[]).includes(n)) {
      throw new UsageError(`${flag}: unknown probe '${n}'; valid probes: ${USER_PROBES.join(', ')}`);
    }
  }
  return [...new Set(names)] as ProbeName[];
}

export function parseDuration(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag}: '${text}' is not a duration (examples: 500ms, 10s, 2m, 1h)`);
  const n = Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000);
  if (!(n > 0)) throw new UsageError(`${flag}: duration must be positive, got '${text}'`);
  return n;
}

export function parsePid(flag: string, text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${flag}: '${text}' is not a process id (a positive integer)`);
  const n = Number(text);
  if (n < 1 || n > 4_194_304) throw new UsageError(`${flag}: ${text} is outside the pid range 1..4194304`);
  return n;
}

export function parseComm(flag: string, text: string): string {
  if (text.length === 0 || text.length > 15) throw new UsageError(`${flag}: '${text}' must be 1 to 15 characters (the kernel's task comm)`);
  return text;
}

/** `--sample uds=1000,sched=10`: 1-in-N per probe. */
export function parseSample(flag: string, text: string, probes: readonly string[] = USER_PROBES): Partial<Record<ProbeName, number>> {
  const out: Partial<Record<ProbeName, number>> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z_]+)=(\d+)$/.exec(part);
    if (!m) throw new UsageError(`${flag}: '${part}' should look like PROBE=N (e.g. uds=1000)`);
    if (!probes.includes(m[1])) throw new UsageError(`${flag}: unknown probe '${m[1]}'; valid probes: ${USER_PROBES.join(', ')}`);
    const n = Number(m[2]);
    if (n < 1 || n > 1_000_000_000) throw new UsageError(`${flag}: ${m[1]}=${m[2]}: the rate must be 1..1000000000 (1 = every event)`);
    out[m[1] as ProbeName] = n;
  }
  return out;
}

export function parseIntFlag(flag: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${flag}: '${text}' is not an integer`);
  const n = Number(text);
  if (n < min || n > max) throw new UsageError(`${flag}: ${text} is outside ${min}..${max}`);
  return n;
}

/** `--metrics HOST:PORT` (port 0: any free port). */
export function parseListen(flag: string, text: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text.trim());
  if (!m || Number(m[2]) > 65535) throw new UsageError(`${flag}: '${text}' should be HOST:PORT (e.g. 127.0.0.1:9435)`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** `--cgroup PATH`: a cgroup v2 directory → its id (the inode number bpf_get_current_cgroup_id returns). */
export function parseCgroup(flag: string, path: string): number {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new UsageError(`${flag}: '${path}' does not exist (give a cgroup v2 directory, e.g. /sys/fs/cgroup/system.slice/v2broker.service)`);
  }
  if (!st.isDirectory() || !path.startsWith('/sys/fs/cgroup')) throw new UsageError(`${flag}: '${path}' is not a cgroup v2 directory under /sys/fs/cgroup`);
  return Number(st.ino);
}

/** `--burst uds=5000[:10000],sched=2000`: per-CPU token bucket, rows/s and depth. */
export function parseBurst(flag: string, text: string): Partial<Record<ProbeName, { rate: number; size?: number }>> {
  const out: Partial<Record<ProbeName, { rate: number; size?: number }>> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z_]+)=(\d+)(?::(\d+))?$/.exec(part);
    if (!m) throw new UsageError(`${flag}: '${part}' should look like PROBE=RATE[:DEPTH] (rows/s per CPU, e.g. uds=5000:10000)`);
    if (!(USER_PROBES as string[]).includes(m[1])) throw new UsageError(`${flag}: unknown probe '${m[1]}'; valid probes: ${USER_PROBES.join(', ')}`);
    const rate = Number(m[2]);
    const size = m[3] !== undefined ? Number(m[3]) : undefined;
    if (rate < 1 || rate > 10_000_000) throw new UsageError(`${flag}: ${m[1]} rate ${m[2]} must be 1..10000000 rows/s`);
    if (size !== undefined && (size < 1 || size > 100_000_000)) throw new UsageError(`${flag}: ${m[1]} depth ${m[3]} must be 1..100000000`);
    out[m[1] as ProbeName] = { rate, size };
  }
  return out;
}

/** `--go-pid 123,456`. */
export function parsePidList(flag: string, text: string): number[] {
  return text.split(',').map((x) => x.trim()).filter(Boolean).map((x) => parsePid(flag, x));
}
