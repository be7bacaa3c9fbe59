/**
 * cli/topics.ts — the pipeline's Kafka topics (auto-creation is off on the brokers it targets):
 *   v2probe topics create   --kafka ADDRESS --topic T [--partitions 4] [--replication 1] [--retention 7d|forever] [--dlq T.dlq|off]
 *   v2probe topics list     --kafka ADDRESS [--internal] [--json]
 *   v2probe topics describe --kafka ADDRESS --topic T[,T] [--json]
 * `create` makes what `ingest --topic T` needs: T (the collectors write to it)
 * and its dead-letter topic (default T.dlq, one partition). Existing topics are
 * left as they are. ADDRESS is HOST:PORT[,...] or kafka[s]://…?TLS/SASL options,
 * as for `ingest --kafka`. Bad input and Kafka refusing (unreachable, auth,
 * TLS, missing topic, too few brokers for --replication): one line, exit 2.
 */
import type { Command } from 'commander';
import { checkTopic, KafkaError, parseKafkaAddress } from '../kafka/client.js';
import { createTopics, describeTopics, listTopics, type TopicSpec } from '../kafka/admin.js';
import { UsageError } from './errors.js';
import { checkedOption, parseDuration, parseIntFlag, type FlagParser } from './parse.js';

const kafkaUsage = async <T>(fn: () => T | Promise<T>): Promise<T> => {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof KafkaError && err.code !== 'SEND' && err.code !== 'ENVELOPE') throw new UsageError(err.message);
    throw err;
  }
};
const sync = <T>(fn: () => T): T => {
  try {
    return fn();
  } catch (err) {
    if (err instanceof KafkaError) throw new UsageError(err.message);
    throw err;
  }
};

const kafkaAddress: FlagParser<unknown> = (flag, text) => sync(() => parseKafkaAddress(flag, text));
const topicName: FlagParser<string> = (flag, text) => sync(() => checkTopic(flag, text));
const topicList: FlagParser<string[]> = (flag, text) => {
  const list = text.split(',').map((t) => t.trim());
  if (!list.length || list.some((t) => !t)) throw new UsageError(`${flag}: '${text}' has an empty topic name`);
  return list.map((t) => sync(() => checkTopic(flag, t)));
};
const dlqTopic: FlagParser<string> = (flag, text) => (text === 'off' ? text : topicName(flag, text));
const partitions: FlagParser<number> = (flag, text) => parseIntFlag(flag, text, 1, 10_000);
const replication: FlagParser<number> = (flag, text) => parseIntFlag(flag, text, 1, 100);
/** `--retention 7d` → ms; `forever` → -1 (Kafka's retention.ms = -1). */
const retention: FlagParser<number> = (flag, text) => (text === 'forever' ? -1 : parseDuration(flag, text));

const KAFKA_HELP = 'HOST:PORT[,HOST:PORT...], or kafka[s]://[USER@]HOST:PORT,...?tls=1&ca=FILE&cert=FILE&key=FILE&sasl=MECH&password_file=FILE (as for ingest --kafka)';

const fmtRetention = (ms: number | undefined) => (ms === undefined ? '?' : ms < 0 ? 'forever' : ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${ms}ms`);

export function registerTopics(program: Command): void {
  const topics = program.command('topics').description("the pipeline's Kafka topics: create what `ingest` needs (the topic and its DLQ), list, describe");

  topics
    .command('create')
    .description('create the collectors\' topic and its dead-letter topic (existing topics are left as they are)')
    .addOption(checkedOption('--kafka <brokers>', KAFKA_HELP, kafkaAddress).makeOptionMandatory())
    .addOption(checkedOption('--topic <topic>', 'the collectors\' topic (collect --sink kafka://HOST:PORT/TOPIC, ingest --topic)', topicName).makeOptionMandatory())
    .addOption(checkedOption('--partitions <n>', 'partitions of the topic (ingesters in one group share them)', partitions, '4'))
    .addOption(checkedOption('--replication <n>', 'replication factor (at most the number of brokers)', replication, '1'))
    .addOption(checkedOption('--retention <d>', "retention (e.g. 7d, 12h, forever; default: the broker's)", retention))
    .addOption(checkedOption('--dlq <topic|off>', 'dead-letter topic, one partition (default <topic>.dlq; off: none)', dlqTopic))
    .action(async (o: { kafka: string; topic: string; partitions: string; replication: string; retention?: string; dlq?: string }) => {
      const { brokers, security } = sync(() => parseKafkaAddress('--kafka', o.kafka));
      const topic = topicName('--topic', o.topic);
      const dlq = o.dlq === 'off' ? undefined : topicName('--dlq', o.dlq ?? `${topic}.dlq`);
      const common = { replication: replication('--replication', o.replication), retentionMs: o.retention !== undefined ? retention('--retention', o.retention) : undefined };
      const specs: TopicSpec[] = [{ topic, partitions: partitions('--partitions', o.partitions), ...common }];
      if (dlq) specs.push({ topic: dlq, partitions: 1, ...common });
      const r = await kafkaUsage(() => createTopics(brokers, specs, security));
      for (const s of specs) process.stdout.write(`topic ${s.topic} ${r.created.includes(s.topic) ? `created (${s.partitions} partitions, replication ${s.replication}, retention ${s.retentionMs === undefined ? "the broker's default" : fmtRetention(s.retentionMs)})` : 'exists (left as it is)'}\n`);
    });

  topics
    .command('list')
    .description('topic names at the brokers (internal __* topics with --internal)')
    .addOption(checkedOption('--kafka <brokers>', KAFKA_HELP, kafkaAddress).makeOptionMandatory())
    .option('--internal', 'also the internal topics (__consumer_offsets, ...)')
    .option('--json', 'a JSON array')
    .action(async (o: { kafka: string; internal?: boolean; json?: boolean }) => {
      const { brokers, security } = sync(() => parseKafkaAddress('--kafka', o.kafka));
      const names = await kafkaUsage(() => listTopics(brokers, security, { internal: o.internal }));
      process.stdout.write(o.json ? JSON.stringify(names) + '\n' : names.map((n) => `${n}\n`).join(''));
    });

  topics
    .command('describe')
    .description('partitions, replication, retention and partition leaders of topics')
    .addOption(checkedOption('--kafka <brokers>', KAFKA_HELP, kafkaAddress).makeOptionMandatory())
    .addOption(checkedOption('--topic <topics>', 'topic names, comma-separated', topicList).makeOptionMandatory())
    .option('--json', 'JSON lines, one per topic')
    .action(async (o: { kafka: string; topic: string; json?: boolean }) => {
      const { brokers, security } = sync(() => parseKafkaAddress('--kafka', o.kafka));
      const infos = await kafkaUsage(() => describeTopics(brokers, topicList('--topic', o.topic), security));
      if (o.json) {
        for (const i of infos) process.stdout.write(JSON.stringify(i) + '\n');
        return;
      }
      const rows = [['topic', 'partitions', 'replication', 'retention', 'leaders'], ...infos.map((i) => [i.topic, String(i.partitions), String(i.replication), fmtRetention(i.retentionMs), i.leaders.join(',')])];
      const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
      process.stdout.write(rows.map((r) => r.map((x, c) => x.padEnd(w[c])).join('  ').trimEnd() + '\n').join(''));
    });
}
