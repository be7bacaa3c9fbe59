/**
 * kafka/admin.ts — the pipeline's topics: create (with the dead-letter topic
 * `ingest` writes to), list and describe (partitions, replication, retention).
 * Used by `v2probe topics` and `node dist/ingester/topics.js`. Throws
 * KafkaError (UNREACHABLE / AUTH / TLS / NO_TOPIC / BAD_OPTION).
 */
import type { Admin } from 'kafkajs';
import { KafkaError, kafkaFailure, makeKafka } from './client.js';
import type { KafkaSecurity } from './security.js';

export interface TopicSpec {
  topic: string;
  partitions: number;
  replication: number;
  /** retention.ms; undefined: the broker's default */
  retentionMs?: number;
}
export interface TopicInfo {
  topic: string;
  partitions: number;
  replication: number;
  /** retention.ms as the broker reports it (-1: forever); undefined when not readable */
  retentionMs?: number;
  /** partition → leader broker id */
  leaders: number[];
}

async function withAdmin<T>(brokers: string[], security: KafkaSecurity | undefined, fn: (a: Admin) => Promise<T>): Promise<T> {
  const admin = makeKafka(brokers, { retries: 1, security }).admin();
  try {
    await admin.connect();
  } catch (err) {
    await admin.disconnect().catch(() => {});
    throw kafkaFailure(err, brokers, security);
  }
  try {
    return await fn(admin);
  } catch (err) {
    if (err instanceof KafkaError) throw err;
    const m = (err as Error).message;
    if (/replication factor|INVALID_REPLICATION_FACTOR|larger than available brokers/i.test(m)) throw new KafkaError('BAD_OPTION', `Kafka at ${brokers.join(',')}: ${m} (--replication is more than the brokers there)`, { cause: err });
    throw kafkaFailure(err, brokers, security);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Create the topics that are missing; existing ones are left alone (and reported as such). */
export async function createTopics(brokers: string[], specs: TopicSpec[], security?: KafkaSecurity): Promise<{ created: string[]; existing: string[] }> {
  return withAdmin(brokers, security, async (admin) => {
    const have = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !have.has(s.topic));
    if (missing.length)
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: s.partitions,
          replicationFactor: s.replication,
          configEntries: s.retentionMs !== undefined ? [{ name: 'retention.ms', value: String(s.retentionMs) }] : [],
        })),
      });
    return { created: missing.map((s) => s.topic), existing: specs.filter((s) => have.has(s.topic)).map((s) => s.topic) };
  });
}

/** Topic names (internal `__*` topics left out unless asked), sorted. */
export async function listTopics(brokers: string[], security?: KafkaSecurity, o: { internal?: boolean } = {}): Promise<string[]> {
  return withAdmin(brokers, security, async (admin) => (await admin.listTopics()).filter((t) => o.internal || !t.startsWith('__')).sort());
}

/** Partitions, replication, retention and leaders of each topic, in the order asked; a missing topic is NO_TOPIC. */
export async function describeTopics(brokers: string[], topics: string[], security?: KafkaSecurity): Promise<TopicInfo[]> {
  return withAdmin(brokers, security, async (admin) => {
    const have = new Set(await admin.listTopics());
    for (const t of topics) if (!have.has(t)) throw new KafkaError('NO_TOPIC', `Kafka topic '${t}' does not exist at ${brokers.join(',')} (create it: v2probe topics create --kafka ${brokers.join(',')} --topic ${t})`);
    if (!topics.length) return [];
    const md = await admin.fetchTopicMetadata({ topics });
    const retention = new Map<string, number>();
    try {
      const cfg = await admin.describeConfigs({ includeSynonyms: false, resources: topics.map((name) => ({ type: 2 /* TOPIC */, name, configNames: ['retention.ms'] })) });
      for (const r of cfg.resources) {
        const v = r.configEntries.find((e) => e.configName === 'retention.ms')?.configValue;
        if (v !== undefined && v !== null) retention.set(r.resourceName, Number(v));
      }
    } catch {
      // no DescribeConfigs permission: retention stays unknown
    }
    const byName = new Map(md.topics.map((t) => [t.name, t]));
    return topics.map((name) => byName.get(name)!).map((t) => {
      const parts = [...t.partitions].sort((a, b) => a.partitionId - b.partitionId);
      return { topic: t.name, partitions: parts.length, replication: Math.max(0, ...parts.map((p) => p.replicas.length)), retentionMs: retention.get(t.name), leaders: parts.map((p) => p.leader) };
    });
  });
}
