// Run the built CLI (bin/v2probe.js → dist/) as a user would.
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = resolve(ROOT, 'bin/v2probe.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: SpawnSyncOptions & { prefix?: string[] } = {}): CliResult {
  const cmd = opts.prefix ? opts.prefix[0] : process.execPath;
  const argv = opts.prefix ? [...opts.prefix.slice(1), process.execPath, BIN, ...args] : [BIN, ...args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 120_000, cwd: ROOT, ...opts });
  return { code: r.status, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** Start the CLI in the background; `ready` resolves once it logs `collecting`. */
export function startCli(args: string[], prefix: string[] = []) {
  const [cmd, ...pre] = prefix.length ? prefix : [process.execPath];
  const child = spawn(cmd, [...pre, ...(prefix.length ? [process.execPath] : []), BIN, ...args], { cwd: ROOT });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.includes('"msg":"collecting"')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before collecting: ${stderr}`)));
  });
  // 'close', not 'exit': the last of its stdout/stderr can arrive after the process exited
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, ready, exited, out: () => ({ stdout, stderr }) };
}

