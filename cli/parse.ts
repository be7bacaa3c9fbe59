/**
 * cli/parse.ts — validate flag values at the edge; every failure is a UsageError
 * naming the flag and the value (secrets excepted). One parser per flag kind
 * (duration, time, pid, URL, file, ...); `checkedOption` / `listOption` attach
 * one to a commander option, so a value is checked when it is parsed, whether
 * or not the code path that uses it runs.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Option } from 'commander';
import { USER_PROBES, type ProbeName } from '../schema/event.js';
import { parseStoreDsn, type StoreDsn } from '../store/dsn.js';
import { StoreError } from '../store/errors.js';
import { UsageError } from './errors.js';

/** A flag kind: checks one value of `flag`, throws a UsageError naming the flag (and the value). */
export type FlagParser<T = unknown> = (flag: string, text: string) => T;

/**
 * A commander option whose value `parse` checks as soon as it is given on the
 * command line (exit 2 naming the flag); the option keeps the text, which the
 * command converts with the same parser. Defaults are not parsed: they are ours.
 */
export function checkedOption(flags: string, description: string, parse: FlagParser, defaultValue?: string): Option {
  const o = new Option(flags, description);
  const flag = o.long ?? o.short!;
  o.argParser((text: string) => {
    parse(flag, text);
    return text;
  });
  if (defaultValue !== undefined) o.default(defaultValue);
  return o;
}

/** A repeatable option (`--x A --x B`; with `split`, also `--x A,B`; `<v...>` flags: `--x A B`): each value checked, the option keeps the list. */
export function listOption(flags: string, description: string, parse: FlagParser, opts: { split?: boolean } = {}): Option {
  const o = new Option(flags, description);
  const flag = o.long ?? o.short!;
  o.argParser((text: string, prev: string[] | undefined) => {
    const items = opts.split ? text.split(',').map((s) => s.trim()).filter(Boolean) : [text];
    if (items.length === 0) throw new UsageError(`${flag}: '${text}' is empty`);
    for (const it of items) parse(flag, it);
    return [...(Array.isArray(prev) ? prev : []), ...items];
  });
  return o;
}

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

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;

/** `1h`, `90s`, `500ms` — for messages. */
export function formatDuration(ms: number): string {
  for (const [u, k] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms >= k && ms % k === 0) return `${ms / k}${u}`;
  return `${ms}ms`;
}

/**
 * A duration: a number with a unit (ms, s, m, h, d; none: seconds). Positive
 * unless `zero` (0 then means "none" / "at once"); optionally within min..max.
 */
export function parseDuration(flag: string, text: string, bounds: { zero?: boolean; min?: number; max?: number } = {}): number {
  const m = DURATION_RE.exec(text.trim());
  if (!m) throw new UsageError(`${flag}: '${text}' is not a duration (examples: 500ms, 10s, 2m, 1h)`);
  const n = Number(m[1]) * UNIT_MS[(m[2] ?? 's') as keyof typeof UNIT_MS];
  if (!Number.isFinite(n)) throw new UsageError(`${flag}: '${text}' is not a duration (examples: 500ms, 10s, 2m, 1h)`);
  if (n === 0 && bounds.zero) return 0;
  if (!(n > 0)) throw new UsageError(`${flag}: duration must be positive, got '${text}'`);
  if (bounds.min !== undefined && n < bounds.min) throw new UsageError(`${flag}: ${text} is shorter than the ${formatDuration(bounds.min)} minimum`);
  if (bounds.max !== undefined && n > bounds.max) throw new UsageError(`${flag}: ${text} is longer than the ${formatDuration(bounds.max)} maximum`);
  return n;
}

/** A duration where 0 means none / at once (`--status 0`, `--max-delay 0s`). */
export const parseDurationOrZero = (flag: string, text: string): number => parseDuration(flag, text, { zero: true });

/** A point in time: ISO 8601, epoch milliseconds, `now`, or `now-24h` / `-24h`. */
export function parseTime(flag: string, text: string, now = Date.now()): number {
  const t = text.trim();
  if (t === 'now') return now;
  const rel = /^(?:now)?-(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(t);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS];
  if (/^\d{12,14}$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new UsageError(`${flag}: '${text}' is not a time (ISO 8601 like 2025-01-31T12:00:00Z, epoch ms, now, or -24h)`);
  return ms;
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

/** `--explain v2broker,other`: the brokers' task names, comma-separated, at least one. */
export function parseCommList(flag: string, text: string): string[] {
  const comms = [...new Set(text.split(',').map((c) => c.trim()).filter(Boolean))].map((c) => parseComm(flag, c));
  if (comms.length === 0) throw new UsageError(`${flag}: give the brokers' task names, e.g. ${flag} v2broker (got '${text}')`);
  return comms;
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

/** `--metrics HOST:PORT` (port 0: any free port; no host: 127.0.0.1). */
export function parseListen(flag: string, text: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):(\d{1,5})$/.exec(text.trim());
  if (!m || Number(m[2]) > 65535) throw new UsageError(`${flag}: '${text}' should be HOST:PORT (e.g. 127.0.0.1:9435)`);
  return { host: m[1].replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(m[2]) };
}

/** `--metrics HOST:PORT|off`. */
export function parseListenOrOff(flag: string, text: string): { host: string; port: number } | undefined {
  if (text === 'off') return undefined;
  if (!/:\d{1,5}$/.test(text.trim())) throw new UsageError(`${flag}: '${text}' should be HOST:PORT (e.g. 127.0.0.1:9435) or off`);
  return parseListen(flag, text);
}

/** A Unix socket to listen on or connect to: fits sun_path; if something is there, it is a socket (never a file a listener would remove). */
export function parseSocketPath(flag: string, text: string): string {
  if (text.length === 0) throw new UsageError(`${flag}: empty socket path`);
  if (Buffer.byteLength(text) > 107) throw new UsageError(`${flag}: '${text}' is longer than the 107 bytes of a Unix socket path`);
  let st;
  try {
    st = statSync(text);
  } catch {
    return text; // nothing there (yet): a listener creates it; a client finds no collector (exit 1)
  }
  if (!st.isSocket()) throw new UsageError(`${flag}: '${text}' exists and is not a Unix socket`);
  return text;
}

/** `--control PATH|HOST:PORT|off`: a socket path starts with / or . */
export function parseControlListen(flag: string, text: string): { socket: string } | { host: string; port: number } | undefined {
  if (text === 'off') return undefined;
  if (text.startsWith('/') || text.startsWith('.')) return { socket: parseSocketPath(flag, text) };
  if (!/:\d{1,5}$/.test(text.trim())) throw new UsageError(`${flag}: '${text}' should be a socket path (/… or ./…), HOST:PORT, or off`);
  return parseListen(flag, text);
}

/** A bearer token (a secret: never echoed): 16 to 4096 visible ASCII characters. */
export function parseToken(flag: string, text: string): string {
  if (text.length < 16) throw new UsageError(`${flag}: use at least 16 characters (got ${text.length})`);
  if (text.length > 4096 || !/^[\x21-\x7e]+$/.test(text)) throw new UsageError(`${flag}: 16 to 4096 visible ASCII characters, without spaces`);
  return text;
}

/** An http(s) URL with a host (`schemes` narrows it, e.g. to http: only). */
export function parseHttpUrl(flag: string, text: string, schemes: readonly string[] = ['http:', 'https:']): URL {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`${flag}: '${text}' is not a URL (e.g. ${schemes[0]}//127.0.0.1:9093)`);
  }
  if (!schemes.includes(u.protocol)) throw new UsageError(`${flag}: '${text}': the scheme must be ${schemes.map((x) => x.replace(/:$/, '')).join(' or ')}`);
  if (!u.hostname) throw new UsageError(`${flag}: '${text}' has no host`);
  return u;
}

/** A host name (RFC 1123 labels; `_` tolerated): a TLS server name, a stored `host`. */
export function parseHostname(flag: string, text: string): string {
  const label = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
  if (text.length > 253 || !new RegExp(`^${label}(?:\\.${label})*\\.?$`).test(text)) throw new UsageError(`${flag}: '${text}' is not a host name (letters, digits, - and . , e.g. am.example.com)`);
  return text;
}

/** A plain identifier (letters, digits, _; not starting with a digit): it goes into SQL as is. */
export function parseIdentifier(flag: string, text: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(text)) throw new UsageError(`${flag}: '${text}' is not a plain identifier (letters, digits, _)`);
  return text;
}

/** A name that may hold any text but must not be empty (or hold control characters). */
export function parseName(flag: string, text: string): string {
  if (text.trim().length === 0) throw new UsageError(`${flag}: '${text}' is empty`);
  if (/[\x00-\x1f\x7f]/.test(text)) throw new UsageError(`${flag}: '${JSON.stringify(text).slice(1, -1)}' holds control characters`);
  return text;
}

/** One of a fixed set. */
export function parseChoice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) throw new UsageError(`${flag}: '${text}' should be ${choices.join(' or ')}`);
  return text as T;
}

/** A file that must exist and be readable (`what`: how messages call it). */
export function parseReadableFile(flag: string, text: string, what = 'file'): string {
  try {
    if (!statSync(text).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    accessSync(text, constants.R_OK);
  } catch (err) {
    const c = (err as NodeJS.ErrnoException).code;
    const why = c === 'ENOENT' || c === 'ENOTDIR' ? 'no such file' : c === 'EACCES' ? 'permission denied' : c === 'EISDIR' ? 'not a regular file' : (c ?? (err as Error).message);
    throw new UsageError(`${flag}: cannot read ${what} ${text}: ${why}`);
  }
  return text;
}

/** A file or directory that must exist (`what`: what it should be). */
export function parseExistingPath(flag: string, text: string, what: string): string {
  try {
    statSync(text);
  } catch {
    throw new UsageError(`${flag}: '${text}' does not exist (${what})`);
  }
  return text;
}

/** A file to write: its directory exists and is writable, and it is not a directory. */
export function parseOutputFile(flag: string, text: string): string {
  const file = resolve(text);
  const dir = dirname(file);
  let ok = false;
  try {
    ok = statSync(dir).isDirectory();
    accessSync(dir, constants.W_OK);
  } catch {
    ok = false;
  }
  if (!ok) throw new UsageError(`${flag}: cannot write ${text}: directory ${dir} does not exist or is not writable`);
  let isDir = false;
  try {
    isDir = statSync(file).isDirectory();
  } catch {
    /* a new file */
  }
  if (isDir) throw new UsageError(`${flag}: ${text} is a directory`);
  return text;
}

/** A store DSN (chdb:PATH, clickhouse[s]://…); the message names the flag and the DSN, password redacted. */
export function parseStore(flag: string, text: string): StoreDsn {
  try {
    return parseStoreDsn(text);
  } catch (err) {
    if (err instanceof StoreError) throw new UsageError(`${flag}: ${err.message}`);
    throw err;
  }
}

/** `--budget 1` / `0.5%` / `off`: a share of all CPUs in (0, 1]; undefined: off. */
export function parseBudget(flag: string, text: string): number | undefined {
  if (text === 'off') return undefined;
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(text);
  const n = m ? Number(m[1]) : NaN;
  if (!(n > 0 && n <= 100)) throw new UsageError(`${flag}: '${text}' should be a percentage of all CPUs in (0, 100], e.g. 1 or 0.5%, or off`);
  return n / 100;
}

/** `--ring-bytes`: a power of two, 4096 .. 1 GiB. */
export function parseRingBytes(flag: string, text: string): number {
  const n = parseIntFlag(flag, text, 4096, 1 << 30);
  if ((n & (n - 1)) !== 0) throw new UsageError(`${flag}: ${text} is not a power of two (4096, 8192, … 1073741824)`);
  return n;
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
    if (rate < 1 || rate > 10_000_000) throw new UsageError(`${flag}: ${part}: the rate ${m[2]} must be 1..10000000 rows/s`);
    if (size !== undefined && (size < 1 || size > 100_000_000)) throw new UsageError(`${flag}: ${part}: the depth ${m[3]} must be 1..100000000`);
    out[m[1] as ProbeName] = { rate, size };
  }
  return out;
}

/** `--go-pid 123,456`. */
export function parsePidList(flag: string, text: string): number[] {
  return text.split(',').map((x) => x.trim()).filter(Boolean).map((x) => parsePid(flag, x));
}
