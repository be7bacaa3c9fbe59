/**
 * cli/ingest.ts — the fleet pipeline's commands:
 *   v2probe ingest --kafka HOST:PORT --topic T --store STORE [--group G] [--dlq T.dlq] [--metrics HOST:PORT]
 *     (--kafka also takes kafka[s]://[USER@]HOST:PORT,...?tls=1&ca=FILE&cert=FILE&key=FILE&sasl=MECH&password_file=FILE;
 *      the password from V2PROBE_KAFKA_PASSWORD or password_file=)
 *   v2probe loss   --store STORE [--since T] [--format table|json|csv]     (the loss ledger)
 * and the check of `--sink kafka://...` used by collect/up.
 * Bad --kafka, a missing topic, an unreachable broker or store at start: one
 * line, exit 2. At run time the ingester retries with backoff and logs what it
 * waits for.
 */
import { Option, type Command } from 'commander';
import { applySchema } from '../schema/ddl.js';
import { DEFAULT_STORE, openStore } from '../store/index.js';
import type { QueryFormat } from '../store/types.js';
import { checkKafka, checkTopic, ensureTopics, KafkaError, kafkaFailure, parseKafkaAddress, parseKafkaSinkUrl, resolveKafkaSink, type KafkaSinkSpec, type KafkaSinkUrl } from '../kafka/client.js';
import { describeSecurity, type KafkaSecuritySettings } from '../kafka/security.js';
import { CODECS } from '../kafka/envelope.js';
import { Ingester } from '../ingester/ingester.js';
import { IngestMetrics, serveMetrics } from '../ingester/metrics.js';
import { lossQuery } from '../ingester/loss.js';
import { UsageError } from './errors.js';
import { makeLogger } from './log.js';
import { checkedOption, parseIntFlag, parseListenOrOff, parseName, parseStore, type FlagParser } from './parse.js';

const usage = <T>(fn: () => T): T => {
  try {
    return fn();
  } catch (err) {
    if (err instanceof KafkaError) throw new UsageError(err.message);
    throw err;
  }
};

/**
 * `--sink kafka[s]://...`: parse, then resolve TLS/SASL with the environment's
 * password and the config file's `kafka:` section (files read, password found;
 * the broker is asked when the sink opens). Throws UsageError naming the option.
 */
export function checkKafkaSink(flag: string, spec: string, file?: { path: string; settings: KafkaSecuritySettings }): KafkaSinkSpec {
  return usage(() => resolveKafkaSink(parseKafkaSink(flag, spec), { flag, file }));
}

/** `--sink kafka[s]://...` as written (URL, options, codec); what it refers to (files, password) is resolved by checkKafkaSink. */
export function parseKafkaSink(flag: string, spec: string): KafkaSinkUrl {
  const u = usage(() => parseKafkaSinkUrl(spec, flag));
  if (u.codec && !(u.codec in CODECS)) throw new UsageError(`${flag}: codec '${u.codec}' is not one of ${Object.keys(CODECS).join(', ')}`);
  return u;
}

/** `--kafka HOST:PORT[,...]` or kafka[s]://…?options (no topic). */
const kafkaAddress: FlagParser = (flag, text) => usage(() => parseKafkaAddress(flag, text));
/** `--topic` / `--dlq`: a Kafka topic name. */
const topicName: FlagParser = (flag, text) => usage(() => checkTopic(flag, text));
const maxRows: FlagParser<number> = (flag, text) => parseIntFlag(flag, text, 1, 100_000_000);
/** `--since`: ClickHouse date/time text (it goes into the query as a DateTime literal). */
const dateTimeText: FlagParser = (flag, text) => {
  if (!/^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(text.trim()))
    throw new UsageError(`${flag}: '${text}' is not a date/time (e.g. '2026-01-01 00:00:00')`);
  return text;
};

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description('consume collector batches from Kafka into a store, exactly once (dead letters to a DLQ topic and v2e.ingest_errors)')
    .addOption(checkedOption('--kafka <brokers>', 'HOST:PORT[,HOST:PORT...], or kafka[s]://[USER@]HOST:PORT,...?tls=1&ca=FILE&cert=FILE&key=FILE&servername=NAME&sasl=plain|scram-sha-256|scram-sha-512&password_file=FILE (password: V2PROBE_KAFKA_PASSWORD or password_file=)', kafkaAddress).makeOptionMandatory())
    .addOption(checkedOption('--topic <topic>', 'the collectors\' topic', topicName).makeOptionMandatory())
    .addOption(checkedOption('--store <dsn>', 'store DSN', parseStore, DEFAULT_STORE))
    .addOption(checkedOption('--group <id>', 'consumer group (ingesters in one group share the partitions)', parseName, 'v2probe-ingest'))
    .addOption(checkedOption('--dlq <topic>', 'dead-letter topic (created when missing; default <topic>.dlq)', topicName))
    .addOption(checkedOption('--metrics <hostport>', 'serve Prometheus /metrics here (off: none)', parseListenOrOff, '127.0.0.1:9466'))
    .addOption(checkedOption('--max-rows <n>', 'rows per insert range', maxRows, '200000'))
    .action(async (o: { kafka: string; topic: string; store: string; group: string; dlq?: string; metrics: string; maxRows: string }) => {
      const { brokers, security } = usage(() => parseKafkaAddress('--kafka', o.kafka));
      const topic = usage(() => checkTopic('--topic', o.topic));
      const dlq = usage(() => checkTopic('--dlq', o.dlq ?? `${topic}.dlq`));
      const maxRowsN = maxRows('--max-rows', o.maxRows);
      const listen = parseListenOrOff('--metrics', o.metrics);
      parseStore('--store', o.store); // a bad DSN is exit 2 before Kafka is asked anything
      const logger = makeLogger();
      for (const w of security.warnings) logger.warn(w);
      try {
        await checkKafka(brokers, [topic], security);
        await ensureTopics(brokers, [{ topic: dlq, partitions: 1 }], security);
      } catch (err) {
        if (err instanceof KafkaError) throw new UsageError(err.message);
        throw err;
      }
      const store = await openStore(o.store); // UNREACHABLE → exit 2
      await applySchema(store);
      const metrics = new IngestMetrics();
      const ing = new Ingester({ brokers, security, topic, groupId: o.group, dlqTopic: dlq, store, logger, metrics, maxRows: maxRowsN });
      let server: { close(): void } | undefined;
      if (listen) {
        const s = await serveMetrics(metrics.registry, listen.host, listen.port).catch((err: Error) => {
          throw new UsageError(`--metrics ${o.metrics}: cannot listen: ${err.message}`);
        });
        server = s.server;
        logger.info({ url: s.url }, 'serving Prometheus metrics');
      }
      let wake: () => void = () => {};
      const done = new Promise<void>((r) => (wake = r));
      const onSignal = (sig: NodeJS.Signals) => {
        logger.info({ signal: sig }, 'stopping: finishing the in-flight range, committing, leaving the group');
        wake();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await ing.start();
      } catch (err) {
        await store.close().catch(() => {});
        server?.close();
        if (err instanceof KafkaError) throw err;
        throw kafkaFailure(err, brokers, security);
      }
      logger.info({ brokers, security: describeSecurity(security), topic, group: o.group, dlq, store: store.dsn, id: ing.id }, 'ingesting');
      const status = setInterval(() => logger.info({ ...ing.stats }, 'ingest status'), 10_000);
      await done;
      clearInterval(status);
      await ing.stop();
      server?.close();
      await store.close();
      logger.info({ ...ing.stats }, 'stopped');
    });

  program
    .command('loss')
    .description('the loss ledger per host and probe: sampled = stored + every counted drop (v2probe query --preset loss)')
    .addOption(checkedOption('--store <dsn>', 'store DSN', parseStore, DEFAULT_STORE))
    .addOption(checkedOption('--since <time>', 'window start (ClickHouse date/time text)', dateTimeText, '1970-01-01 00:00:00'))
    .addOption(new Option('--format <f>', 'output format').choices(['table', 'json', 'csv']).default('table'))
    .action(async (o: { store: string; since: string; format: 'table' | 'json' | 'csv' }) => {
      const fmt: Record<string, QueryFormat> = { table: 'PrettyCompactMonoBlock', json: 'JSONEachRow', csv: 'CSVWithNames' };
      const store = await openStore(o.store);
      try {
        const { applyIngestSchema } = await import('../ingester/ddl.js');
        await applySchema(store);
        await applyIngestSchema(store);
        process.stdout.write(await store.queryText(lossQuery({ since: o.since }), fmt[o.format]));
      } finally {
        await store.close();
      }
    });
}
