// Go fixtures (test/fixtures/go/<name>/main.go), built on demand with the Go
// toolchain on the machine into build/fixtures/go/<name>, and a line-driven
// process wrapper for the fixtures that the tests step through stdin.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ROOT } from '../helpers/cli.js';

export const GO_SRC = resolve(ROOT, 'test/fixtures/go');
export const GO_OUT = resolve(ROOT, 'build/fixtures/go');

export function goTool(): string | undefined {
  for (const p of [process.env.GO, '/usr/local/go/bin/go', '/usr/bin/go']) if (p && existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * A Go toolchain other than the local one (e.g. 'go1.22.12'), fetched through
 * the Go module proxy by `GOTOOLCHAIN=<version> go version`: undefined when it
 * works, else the exact error (for a skip reason).
 */
export function toolchainError(version: string): string | undefined {
  const go = goTool();
  if (!go) return 'the Go toolchain is not installed';
  const r = spawnSync(go, ['version'], { encoding: 'utf8', env: { ...process.env, GOTOOLCHAIN: version }, timeout: 300_000, cwd: GO_SRC });
  if (r.status === 0 && r.stdout.includes(`go version ${version} `)) return undefined;
  return `GOTOOLCHAIN=${version} go version: exit ${r.status}: ${(r.stderr || r.stdout || String(r.error ?? '')).trim().split('\n').slice(-3).join(' | ')}`;
}

/**
 * Build (when the source is newer) and return the path of fixture `name`.
 * flags: e.g. ['-ldflags=-s -w'] with a suffix; toolchain: e.g. 'go1.22.12'
 * (GOTOOLCHAIN; the output name gets `-<toolchain>` unless a suffix is given).
 */
export function buildGoFixture(name: string, opts: { flags?: string[]; suffix?: string; toolchain?: string } = {}): string {
  const go = goTool();
  if (!go) throw new Error('the Go toolchain is not installed (looked for /usr/local/go/bin/go and go in PATH)');
  const src = resolve(GO_SRC, name, 'main.go');
  const out = resolve(GO_OUT, name + (opts.suffix ?? (opts.toolchain ? `-${opts.toolchain}` : '')));
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  mkdirSync(GO_OUT, { recursive: true });
  const r = spawnSync(go, ['build', ...(opts.flags ?? []), '-o', out + '.tmp', `./${name}`], {
    cwd: GO_SRC,
    encoding: 'utf8',
    env: { ...process.env, GOTOOLCHAIN: opts.toolchain ?? 'local', GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
    timeout: 180_000,
  });
  if (r.status !== 0) throw new Error(`go build ${name} failed: ${r.stderr}`);
  spawnSync('mv', ['-f', out + '.tmp', out]);
  return out;
}

/** A fixture that prints JSON lines and waits for a line on stdin between phases. */
export class Stepper {
  readonly child: ChildProcessWithoutNullStreams;
  stderr = '';
  private lines: Array<Record<string, unknown>> = [];
  private waiters: Array<(l: Record<string, unknown>) => void> = [];
  private buf = '';
  readonly exited: Promise<number | null>;

  constructor(bin: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(bin, args, { env: { ...process.env, ...env } });
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.child.stdout.on('data', (d) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (!line.trim()) continue;
        const obj = JSON.parse(line) as Record<string, unknown>;
        const w = this.waiters.shift();
        if (w) w(obj);
        else this.lines.push(obj);
      }
    });
    this.exited = new Promise((r) => this.child.on('exit', (c) => r(c)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Next JSON line (waits up to ms). */
  next(ms = 30_000): Promise<Record<string, unknown>> {
    const l = this.lines.shift();
    if (l) return Promise.resolve(l);
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`fixture printed nothing for ${ms} ms; stderr: ${this.stderr.slice(-500)}`)), ms);
      this.waiters.push((x) => {
        clearTimeout(t);
        res(x);
      });
    });
  }

  step(): void {
    this.child.stdin.write('\n');
  }
}
