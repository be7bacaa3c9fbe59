// vitest globalSetup: the services the tests need — a Kafka broker and a
// ClickHouse server — so that `npm test` alone runs every test.
//  - given by the caller (KAFKA_BROKERS, CLICKHOUSE_URL / CLICKHOUSE_UNAVAILABLE:
//    .ci/run starts both and stops them): used as they are;
//  - else, where a Docker engine answers (testcontainers' own runtime detection):
//    containers from the images docker-compose.yml runs, stopped after the run;
//  - else (our machines: no engine, no image pulls): the local scripts,
//    scripts/kafka.sh and scripts/clickhouse.sh, which reuse a running service
//    and leave it running for the next run.
// One line says which was used. The container path cannot run here; only its
// detection can (test/ops/services.test.ts).
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
export const KAFKA_IMAGE = 'confluentinc/cp-kafka:8.1.0';
export const CLICKHOUSE_IMAGE = 'clickhouse/clickhouse-server:26.9';

export type Engine = { ok: true; host: string } | { ok: false; reason: string };

/** Does a container engine answer? testcontainers' strategies (DOCKER_HOST, ~/.testcontainers.properties, the sockets), bounded in time. */
export async function containerEngine(timeoutMs = 15_000): Promise<Engine> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    const client = await Promise.race([
      getContainerRuntimeClient(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs / 1000} s`)), timeoutMs))),
    ]);
    return { ok: true, host: client.info.containerRuntime.host };
  } catch (err) {
    return { ok: false, reason: String((err as Error).message ?? err).split('\n')[0] };
  } finally {
    clearTimeout(timer);
  }
}

const say = (s: string) => process.stderr.write(`test services: ${s}\n`);
const script = (name: string, env: NodeJS.ProcessEnv = process.env) =>
  execFileSync('bash', [join(ROOT, 'scripts', name), 'start'], { cwd: ROOT, encoding: 'utf8', timeout: 600_000, env, stdio: ['ignore', 'pipe', 'pipe'] });

export default async function setup(): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<unknown>> = [];
  const needKafka = !process.env.KAFKA_BROKERS;
  const needClickHouse = !process.env.CLICKHOUSE_URL && !process.env.CLICKHOUSE_UNAVAILABLE;
  if (!needKafka && !needClickHouse) {
    say('Kafka and ClickHouse given by the caller (KAFKA_BROKERS, CLICKHOUSE_URL)');
    return async () => {};
  }
  const engine = process.env.V2PROBE_TEST_CONTAINERS === '0' ? ({ ok: false, reason: 'V2PROBE_TEST_CONTAINERS=0' } as Engine) : await containerEngine();
  if (engine.ok) {
    say(`container engine at ${engine.host}: testcontainers (${[needKafka && KAFKA_IMAGE, needClickHouse && CLICKHOUSE_IMAGE].filter(Boolean).join(', ')})`);
    if (needKafka) {
      const { KafkaContainer } = await import('@testcontainers/kafka');
      const k = await new KafkaContainer(KAFKA_IMAGE).withKraft().start();
      stops.push(() => k.stop());
      process.env.KAFKA_BROKERS = `${k.getHost()}:${k.getMappedPort(9093)}`;
    }
    if (needClickHouse) {
      const { ClickHouseContainer } = await import('@testcontainers/clickhouse');
      const c = await new ClickHouseContainer(CLICKHOUSE_IMAGE).withUsername('v2probe').withPassword('v2probe-test').start();
      stops.push(() => c.stop());
      process.env.CLICKHOUSE_URL = `http://v2probe:v2probe-test@${c.getHost()}:${c.getHttpPort()}`;
    }
  } else {
    say(`no container engine (${engine.reason}): local scripts (scripts/kafka.sh, scripts/clickhouse.sh)`);
    if (needKafka) {
      const m = /KAFKA_BROKERS=(\S+)/.exec(script('kafka.sh'));
      if (!m) throw new Error('scripts/kafka.sh start printed no KAFKA_BROKERS=');
      process.env.KAFKA_BROKERS = m[1];
    }
    if (needClickHouse) {
      try {
        const m = /CLICKHOUSE_URL=(\S+)/.exec(script('clickhouse.sh'));
        if (!m) throw new Error('scripts/clickhouse.sh start printed no CLICKHOUSE_URL=');
        process.env.CLICKHOUSE_URL = m[1];
      } catch (err) {
        const e = err as { status?: number; stderr?: string };
        if (e.status !== 3) throw err;
        // exit 3: this machine cannot get the server; its tests are skipped with this reason
        process.env.CLICKHOUSE_UNAVAILABLE = (e.stderr ?? '').trim().split('\n').pop() ?? 'scripts/clickhouse.sh: unavailable';
        say(`no ClickHouse server: ${process.env.CLICKHOUSE_UNAVAILABLE}`);
      }
    }
  }
  say(`Kafka at ${process.env.KAFKA_BROKERS}; ClickHouse ${process.env.CLICKHOUSE_URL ? `at ${process.env.CLICKHOUSE_URL.replace(/\/\/([^:@/]+):[^@]*@/, '//$1:***@')}` : 'none'}`);
  return async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
}
