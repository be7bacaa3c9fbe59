// Run the built CLI (bin/v2probe.js → dist/) as a user would.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
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
