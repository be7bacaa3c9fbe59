// The test services' engine detection (test/helpers/services.ts): testcontainers
// is used exactly when a Docker engine answers. Ground truth is the engine's own
// API: GET /_ping on DOCKER_HOST or the usual sockets answers "OK". On our
// machines (no engine) both say no, and the reason is one line; on a laptop with
// Docker both say yes.
import { request } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { containerEngine } from '../helpers/services.js';

function ping(o: { socketPath?: string; host?: string; port?: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ ...o, path: '/_ping', method: 'GET', timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'OK'));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function dockerAnswers(): Promise<boolean> {
  const h = process.env.DOCKER_HOST;
  if (h?.startsWith('unix://')) return ping({ socketPath: h.slice('unix://'.length) });
  if (h?.startsWith('tcp://')) {
    const u = new URL(h.replace(/^tcp:/, 'http:'));
    return ping({ host: u.hostname, port: Number(u.port || 2375) });
  }
  const sockets = ['/var/run/docker.sock', join(homedir(), '.docker/run/docker.sock'), join(homedir(), '.docker/desktop/docker.sock')];
  if (process.env.XDG_RUNTIME_DIR) sockets.push(join(process.env.XDG_RUNTIME_DIR, 'docker.sock'));
  for (const s of sockets) if (await ping({ socketPath: s })) return true;
  return false;
}

describe('test services: container engine detection', () => {
  it('testcontainers is chosen exactly when a Docker engine answers /_ping; without one the reason is one line', async () => {
    const [engine, truth] = await Promise.all([containerEngine(), dockerAnswers()]);
    expect(engine.ok).toBe(truth);
    if (!engine.ok) {
      expect(engine.reason.length).toBeGreaterThan(0);
      expect(engine.reason).not.toContain('\n');
    }
    // either way the run has a broker (given, a container or scripts/kafka.sh)
    expect(process.env.KAFKA_BROKERS).toMatch(/^[\w.-]+:\d+(,[\w.-]+:\d+)*$/);
  }, 60_000);
});
