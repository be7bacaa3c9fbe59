// docker-compose.yml, checked by a real compose parser (Debian's docker-compose:
// `config` validates and normalises without a Docker engine) and held against
// what the tests run: the ClickHouse server version (scripts/clickhouse.sh), the
// Kafka version (scripts/kafka.sh), the ports and the wiring of collector →
// topic → ingester → store (the ingester applies the schema at start).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ROOT } from '../helpers/cli.js';
import { ensureDebianPackages } from '../helpers/debian.js';

const COMPOSE = '/usr/bin/docker-compose';
const skip = ensureDebianPackages(['docker-compose'], [COMPOSE]);
const scriptDefault = (file: string, name: string) => new RegExp(`\\$\\{${name}:-([^}]+)\\}`).exec(readFileSync(resolve(ROOT, 'scripts', file), 'utf8'))![1];

interface Service { image: string; command?: string[]; entrypoint?: string[]; ports?: Array<{ published: number; target: number }> }

describe.skipIf(skip)(`docker-compose.yml${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const r = spawnSync(COMPOSE, ['-f', 'docker-compose.yml', 'config'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent' } });
  const cfg = r.status === 0 ? (parseYaml(r.stdout) as { services: Record<string, Service> }) : undefined;
  const arg = (cmd: string[] | undefined, flag: string) => cmd?.[cmd.indexOf(flag) + 1];

  it('is valid for docker-compose (config, no engine needed)', () => {
    expect(r.status, r.stderr).toBe(0);
    expect(Object.keys(cfg!.services).sort()).toEqual(['clickhouse', 'collector', 'ingester', 'kafka', 'topics']);
  });

  it('runs the versions the tests run: ClickHouse server and Kafka', () => {
    const ch = scriptDefault('clickhouse.sh', 'CHDB_CORE_VERSION').split('.').slice(0, 2).join('.');
    expect(cfg!.services.clickhouse.image).toBe(`clickhouse/clickhouse-server:${ch}`);
    const kafka = scriptDefault('kafka.sh', 'KAFKA_VERSION');
    expect(cfg!.services.kafka.image).toBe(`apache/kafka:${kafka}`);
    expect(cfg!.services.topics.image).toBe(`apache/kafka:${kafka}`);
  });

  it('wires collector → topic → ingester → the ClickHouse service on its HTTP port', () => {
    const s = cfg!.services;
    const sink = new URL(arg(s.collector.command, '--sink')!);
    const topic = sink.pathname.slice(1);
    expect(sink.protocol).toBe('kafka:');
    expect(arg(s.ingester.command, '--topic')).toBe(topic);
    expect(arg(s.ingester.command, '--kafka')).toBe(sink.host);
    expect(s.topics.entrypoint!.join(' ')).toContain(`--topic ${topic} `);
    const store = new URL(arg(s.ingester.command, '--store')!.replace(/^clickhouse:/, 'http:'));
    expect(store.hostname).toBe('clickhouse');
    expect(s.clickhouse.ports!.map((p) => p.target)).toContain(Number(store.port));
  });
});
