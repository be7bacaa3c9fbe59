// ClickHouse over TLS with a CA file and a client certificate
// (clickhouses://user:pass@host:8443/db?ca=FILE&cert=FILE&key=FILE). There is
// no ClickHouse server here, so: the DSN's parsing and validation, the client
// configuration it produces (tls: ca_cert, cert, key), and real TLS handshakes
// against a loopback HTTPS stand-in that answers /ping and one query the way
// ClickHouse does — it requires and checks the client certificate, so the
// material provably reaches the wire. An unknown CA and a missing client
// certificate are refused clearly; the password appears in no message.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickHouseClientConfig } from '../../store/clickhouse.js';
import { openStore, parseStoreDsn, StoreError } from '../../store/index.js';
import { BIN, ROOT } from '../helpers/cli.js';
import { makePki, type TestPki } from '../helpers/tls.js';

const PW = 'Chpw-0b6e2d91f4SECRET';
let pki: TestPki;
let other: TestPki;
let server: Server;
let port = 0;
const seen: Array<{ cn?: string; certAuth?: string; user?: string; url?: string }> = [];

beforeAll(async () => {
  pki = makePki('ch');
  other = makePki('ch-other');
  server = createServer(
    { key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert), ca: readFileSync(pki.ca), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      seen.push({ cn: peer?.subject?.CN, certAuth: String(req.headers['x-clickhouse-ssl-certificate-auth'] ?? ''), user: String(req.headers['x-clickhouse-user'] ?? ''), url: req.url });
      req.resume();
      if (req.url?.startsWith('/ping')) return res.writeHead(200).end('Ok.\n');
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8', 'X-ClickHouse-Format': 'CSV' }).end('1\n');
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => server?.close());

function bad(dsn: string): StoreError {
  try {
    parseStoreDsn(dsn);
  } catch (e) {
    expect(e).toBeInstanceOf(StoreError);
    expect((e as StoreError).code).toBe('BAD_DSN');
    expect((e as Error).message).not.toContain(PW);
    return e as StoreError;
  }
  throw new Error(`accepted: ${dsn}`);
}

describe('ClickHouse TLS options', () => {
  it('clickhouses:// DSN: ca/cert/key parsed, checked, and redacted in text', () => {
    const d = parseStoreDsn(`clickhouses://ops:${PW}@ch.example/v2e?ca=${pki.ca}&cert=${pki.clientCert}&key=${pki.clientKey}`);
    expect(d).toMatchObject({ kind: 'clickhouse', url: 'https://ch.example:8443', username: 'ops', password: PW, database: 'v2e', tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } });
    expect(d.text).toBe(`clickhouses://ops:***@ch.example/v2e?ca=${pki.ca}&cert=${pki.clientCert}&key=${pki.clientKey}`);
    expect(parseStoreDsn(`https://ops:${PW}@ch.example:9443/v2e?ca=${pki.ca}`)).toMatchObject({ url: 'https://ch.example:9443', tls: { ca: pki.ca } });
    expect(parseStoreDsn(`clickhouse://ops:${PW}@ch.example/v2e`)).not.toHaveProperty('tls');

    expect(bad(`clickhouse://ops:${PW}@h/v2e?ca=${pki.ca}`).message).toBe(`store DSN 'clickhouse://ops:***@h/v2e?ca=${pki.ca}': ca= is a TLS option: use clickhouses:// (or https://)`);
    expect(bad(`clickhouses://ops:${PW}@h/v2e?cert=${pki.clientCert}`).message).toContain("cert= needs key= too (the client certificate's private key)");
    expect(bad(`clickhouses://ops:${PW}@h/v2e?key=${pki.clientKey}`).message).toContain('key= needs cert= too');
    expect(bad(`clickhouses://ops:${PW}@h/v2e?ca=/nonexistent/ca.pem`).message).toContain('ca=/nonexistent/ca.pem: cannot read it: no such file');
    expect(bad(`clickhouses://ops:${PW}@h/v2e?ca=/tmp`).message).toContain('ca=/tmp: cannot read it: not a regular file');
    expect(bad(`clickhouses://ops:${PW}@h/v2e?sslmode=require`).message).toContain("unknown option 'sslmode' (known: ca, cert, key");
    expect(bad(`clickhouses://ops:p/w@ss@:bad`).message).not.toContain('p/w@ss'); // unencoded characters: still redacted
  });

  it('the client configuration carries the TLS material (@clickhouse/client tls: ca_cert, cert, key)', () => {
    const base = { url: 'https://h:8443', username: 'ops', password: PW, database: 'v2e', dsn: 'clickhouses://ops:***@h/v2e' };
    const mutual = clickHouseClientConfig({ ...base, tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } });
    expect(mutual.tls).toEqual({ ca_cert: readFileSync(pki.ca), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) });
    expect(clickHouseClientConfig({ ...base, tls: { ca: pki.ca } }).tls).toEqual({ ca_cert: readFileSync(pki.ca) });
    // a client certificate without ca=: the server is checked against the system's CAs
    const sys = clickHouseClientConfig({ ...base, tls: { cert: pki.clientCert, key: pki.clientKey } }).tls as { ca_cert: Buffer };
    expect((sys.ca_cert.toString().match(/BEGIN CERTIFICATE/g) ?? []).length).toBeGreaterThan(50);
    expect(clickHouseClientConfig(base).tls).toBeUndefined();
    let e: unknown;
    try {
      clickHouseClientConfig({ ...base, tls: { cert: pki.clientCert, key: other.clientKey } });
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(StoreError);
    expect((e as Error).message).toBe(`store DSN 'clickhouses://ops:***@h/v2e': cert= / key=: '${pki.clientCert}' and '${other.clientKey}' cannot be used together: the key does not belong to the certificate`);
  });

  it('mutual TLS handshake with a stand-in server: the CA verifies it, the client certificate reaches it', async () => {
    seen.length = 0;
    const store = await openStore(`clickhouses://ops:${PW}@127.0.0.1:${port}/v2e?ca=${pki.ca}&cert=${pki.clientCert}&key=${pki.clientKey}`);
    try {
      expect(seen.some((s) => s.url?.startsWith('/ping'))).toBe(true);
      expect(await store.queryText('SELECT 1', 'CSV')).toBe('1\n');
    } finally {
      await store.close();
    }
    expect(seen.every((s) => s.cn === 'v2probe-client')).toBe(true);
    // with a client certificate @clickhouse/client asks ClickHouse to authenticate the user by it
    expect(seen.find((s) => !s.url?.startsWith('/ping'))).toMatchObject({ certAuth: 'on', user: 'ops' });
  });

  it('refused clearly: unknown CA (none given, or another one), no client certificate — the password in no message', async () => {
    const open = async (dsn: string) => {
      try {
        await openStore(dsn);
      } catch (e) {
        expect(e).toBeInstanceOf(StoreError);
        expect((e as Error).message).not.toContain(PW);
        return e as StoreError;
      }
      throw new Error('opened');
    };
    const noCa = await open(`clickhouses://ops:${PW}@127.0.0.1:${port}/v2e?cert=${pki.clientCert}&key=${pki.clientKey}`);
    expect(noCa.code).toBe('UNREACHABLE');
    expect(noCa.message).toBe(`ClickHouse at clickhouses://ops:***@127.0.0.1:${port}/v2e?cert=${pki.clientCert}&key=${pki.clientKey} is unreachable: self-signed certificate in certificate chain: TLS: the server's certificate is not trusted (give the CA that signed it with ?ca=FILE)`);
    const otherCa = await open(`clickhouses://ops:${PW}@127.0.0.1:${port}/v2e?ca=${other.ca}&cert=${pki.clientCert}&key=${pki.clientKey}`);
    expect(otherCa.message).toContain("TLS: the server's certificate is not trusted");
    const noCert = await open(`clickhouses://ops:${PW}@127.0.0.1:${port}/v2e?ca=${pki.ca}`);
    expect(noCert.code).toBe('UNREACHABLE');
    expect(noCert.message).toMatch(/is unreachable: .*(alert|socket hang up|ECONNRESET)/i);
  });

  it('the CLI: query over mutual TLS works; a bad option exits 2; the password is never printed', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const c = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, V2PROBE_LOG_LEVEL: 'debug' } });
        let out = '';
        c.stdout.on('data', (d) => (out += d));
        c.stderr.on('data', (d) => (out += d));
        c.on('exit', (code) => resolve({ code, out }));
      });
    const ok = await run(['query', '--store', `clickhouses://ops:${PW}@127.0.0.1:${port}/v2e?ca=${pki.ca}&cert=${pki.clientCert}&key=${pki.clientKey}`, '--format', 'csv', 'SELECT 1']);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toBe('1\n');
    const untrusted = await run(['query', '--store', `clickhouses://ops:${PW}@127.0.0.1:${port}/v2e?cert=${pki.clientCert}&key=${pki.clientKey}`, 'SELECT 1']);
    expect(untrusted.code).toBe(2);
    expect(untrusted.out).toContain("TLS: the server's certificate is not trusted");
    const half = await run(['query', '--store', `clickhouses://ops:${PW}@127.0.0.1:${port}/v2e?cert=${pki.clientCert}`, 'SELECT 1']);
    expect(half.code).toBe(2);
    expect(half.out).toContain('cert= needs key= too');
    for (const r of [ok, untrusted, half]) expect(r.out).not.toContain(PW);
  });
});
