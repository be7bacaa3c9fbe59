// Secrets never reach logs, /metrics or doctor output: the ClickHouse password
// of a clickhouse:// DSN (sink, store, ingester), and the control token (flag,
// environment, config file). The collector runs for real (root) with a TCP
// control API and /metrics; a loopback stand-in for a ClickHouse server receives
// the password (so it was used) and answers with errors, so every error path
// that names the store runs too.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, runCli } from '../helpers/cli.js';
import { isRoot } from '../helpers/probes.js';
import { tmp } from '../pipeline/kafka-helpers.js';

const PW = 'Pw-9f3c1e77a2SECRET';
const TOKEN = 'Tok-5d1b0c9e44e2a8f0SECRET';
const FILE_TOKEN = 'File-7a7a7a7a7a7a7aSECRET';
const leaks = (s: string) => [PW, TOKEN, FILE_TOKEN, encodeURIComponent(PW)].filter((x) => s.includes(x));

let fake: Server;
let fakePort = 0;
const seenAuth: string[] = [];
beforeAll(async () => {
  // answers /ping, rejects every query like a ClickHouse server that refuses the statement
  fake = createServer((req, res) => {
    seenAuth.push(String(req.headers.authorization ?? req.headers['x-clickhouse-key'] ?? ''));
    req.resume();
    if (req.url?.startsWith('/ping')) return res.writeHead(200).end('Ok.\n');
    res.writeHead(500, { 'X-ClickHouse-Exception-Code': '60' }).end('Code: 60. DB::Exception: Table v2e.schema_version does not exist. (UNKNOWN_TABLE)\n');
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', () => r()));
  fakePort = (fake.address() as AddressInfo).port;
});
afterAll(() => fake?.close());

/** the CLI without blocking this process (the stand-in server must answer meanwhile) */
function runAsync(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('secrets stay out of logs, /metrics and doctor', () => {
  it('ClickHouse password: unreachable server, server that rejects queries, every command that takes a DSN', async () => {
    const dsnDown = `clickhouse://ops:${PW}@127.0.0.1:1/v2e`;
    const dsnUp = `clickhouse://ops:${PW}@127.0.0.1:${fakePort}/v2e`;
    const cases = [
      ['query', '--store', dsnDown, 'SELECT 1'],
      ['query', '--store', dsnUp, 'SELECT 1'],
      ['schema', 'apply', '--store', dsnUp],
      ['loss', '--store', dsnUp],
      ['alerts', '--once', '--store', dsnUp],
      ['incident', '--from', '-1h', '--store', dsnUp],
      ['collect', '--probes', 'uds', '--duration', '1s', '--sink', dsnDown],
      ['collect', '--probes', 'uds', '--duration', '1s', '--sink', dsnUp],
      ['ingest', '--kafka', '127.0.0.1:1', '--topic', 't', '--store', dsnUp, '--metrics', 'off'],
      ['collect', '--sink', `clickhouse://ops:${PW}@:bad`],
    ];
    for (const args of cases) {
      const r = await runAsync(args, { V2PROBE_LOG_LEVEL: 'debug' });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).not.toBe(0);
      expect(leaks(r.stdout + r.stderr), `${args.slice(0, 2).join(' ')} leaked: ${r.stderr}`).toEqual([]);
      expect(r.stderr.length).toBeGreaterThan(0);
    }
    // the password was really sent (as HTTP auth), just never printed
    expect(seenAuth.some((a) => a.length > 0)).toBe(true);
  }, 240_000);

  it.skipIf(!isRoot)('control token (flag, environment, config file) and DSN: not in the collector log, /metrics, ctl errors or doctor', async () => {
    const dir = tmp('secrets');
    const cfg = join(dir, 'v2probe.yaml');
    writeFileSync(cfg, `probes: [uds]\ncontrol_token: ${FILE_TOKEN}\n`, { mode: 0o600 });
    const metricsPort = 20000 + Math.floor(Math.random() * 20000);
    const runs = [
      { args: ['--control-token', TOKEN], env: {} },
      { args: [], env: { V2PROBE_CONTROL_TOKEN: TOKEN } },
      { args: ['--config', cfg], env: {} },
    ];
    for (const [i, run] of runs.entries()) {
      const port = metricsPort + i;
      const child = spawn(process.execPath, [BIN, 'collect', '--probes', 'uds', '--sink', 'stdout', '--duration', '4s', '--status', '1s', '--metrics', `127.0.0.1:${port}`, '--control', '127.0.0.1:0', ...run.args], {
        cwd: ROOT,
        env: { ...process.env, V2PROBE_LOG_LEVEL: 'debug', ...run.env },
      });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.stdout.resume();
      const exited = new Promise<number | null>((r) => child.on('exit', r));
      for (let k = 0; k < 100 && !err.includes('"msg":"collecting"'); k++) await new Promise((r) => setTimeout(r, 100));
      expect(err, err).toContain('"msg":"collecting"');
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toContain('v2probe_');
      // a request with a wrong token is refused, and the refusal does not echo the right one
      const addr = /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(err)?.[1];
      expect(addr).toBeDefined();
      const denied = await fetch(`${addr}/probes`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } });
      expect(denied.status).toBe(401);
      const deniedBody = await denied.text();
      const ok = await fetch(`${addr}/probes`, { headers: { authorization: `Bearer ${i === 2 ? FILE_TOKEN : TOKEN}` } });
      expect(ok.status).toBe(200);
      const okBody = await ok.text();
      expect(await exited).toBe(0);
      expect({ run: i, leaks: leaks(err + metrics + deniedBody + okBody) }).toEqual({ run: i, leaks: [] });
    }
    // ctl with a wrong token against a dead address: the token given is not printed back
    const ctl = runCli(['ctl', '--url', 'http://127.0.0.1:1', '--token', TOKEN, 'status']);
    expect(ctl.code).not.toBe(0);
    expect(leaks(ctl.stdout + ctl.stderr)).toEqual([]);
    // doctor, with every secret in its environment
    const doc = spawnSync(process.execPath, [BIN, 'doctor', '--json', '--no-attach'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, V2PROBE_CONTROL_TOKEN: TOKEN, CLICKHOUSE_URL: `http://ops:${PW}@127.0.0.1:1`, CLICKHOUSE_PASSWORD: PW },
    });
    expect(doc.status).toBe(0);
    expect(leaks(doc.stdout + doc.stderr)).toEqual([]);
  }, 120_000);
});
