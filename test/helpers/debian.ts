// Debian packages a test needs (prometheus, docker-compose, …): installed when
// missing (apt-get install; `apt-get update` once when that fails). Returns ''
// when the files are there, else the reason, for the test's skip message.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const known = new Map<string, string>();

export function ensureDebianPackages(packages: string[], files: string[]): string {
  const key = packages.join(' ');
  const have = () => files.every((f) => existsSync(f));
  if (known.has(key)) return known.get(key)!;
  const done = (why: string) => (known.set(key, why), why);
  if (have()) return done('');
  if (process.getuid?.() !== 0) return done(`${key} not installed and installing needs root`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '--no-install-recommends', ...packages], { env, encoding: 'utf8', timeout: 600_000 });
  let r = install();
  if (r.status !== 0 || !have()) {
    spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update'], { env, encoding: 'utf8', timeout: 300_000 });
    r = install();
  }
  if (r.status !== 0 || !have()) return done(`apt-get install ${key} failed: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-2).join(' ')}`);
  return done('');
}
