// A private ClickHouse server for tests that kill and restart it (outage tests):
// scripts/clickhouse.sh with its own state dir, so the server .ci/run shares
// with the other tests is never touched. Needs the chdb-core venv the script
// caches (.ci/run's start installs it); `available` says why not otherwise.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/clickhouse.sh');

export const serverUnavailable: string | false = process.env.CLICKHOUSE_URL
  ? false
  : `no ClickHouse server here (${process.env.CLICKHOUSE_UNAVAILABLE ?? 'CLICKHOUSE_URL is not set; bash scripts/clickhouse.sh start'})`;

export class PrivateServer {
  readonly state = mkdtempSync(join(tmpdir(), 'v2ch-'));
  url = '';

  /** more config.xml elements (remote_servers, macros, …), written at start */
  extraXml = '';

  /** Its native TCP port, chosen now (before start) so that other servers' configs can name it. */
  tcpPort(): number {
    const f = join(this.state, 'tcp.port');
    if (!existsSync(f)) writeFileSync(f, `${freePort()}\n`);
    return Number(readFileSync(f, 'utf8'));
  }

  private run(cmd: string): string {
    const env = { ...process.env, CLICKHOUSE_STATE_DIR: this.state, CLICKHOUSE_EXTRA_XML: this.extraXml };
    const r = spawnSync('bash', [SCRIPT, cmd], { encoding: 'utf8', env, timeout: 300_000 });
    if (r.status !== 0) throw new Error(`clickhouse.sh ${cmd} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  }

  /** Start (again, on the same ports and data); returns the clickhouse:// DSN. */
  start(): string {
    const out = this.run('start');
    this.url = out.trim().split('CLICKHOUSE_URL=').at(-1)!.replace(/^http/, 'clickhouse');
    return this.url;
  }

  /** SIGKILL: the outage. */
  kill(): void {
    this.run('kill');
  }

  stop(): void {
    this.run('stop');
  }
}

function freePort(): number {
  const r = spawnSync('python3', ['-c', 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}
