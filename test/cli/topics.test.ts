// `v2probe topics create|list|describe` against a real broker: what `create`
// makes is read back through kafkajs's own admin client (not our describe),
// and our describe must say the same. A missing topic at the sink's start-up
// check names the command that creates it. Bad input: exit 2, naming the flag.
import { beforeAll, describe, expect, it } from 'vitest';
import { checkKafka, makeKafka } from '../../kafka/client.js';
import { runCli } from '../helpers/cli.js';
import { ensureKafka, uniq } from '../pipeline/kafka-helpers.js';

let brokers = '';
beforeAll(() => {
  brokers = ensureKafka();
});

async function truth(topics: string[]) {
  const admin = makeKafka([brokers]).admin();
  await admin.connect();
  try {
    const md = await admin.fetchTopicMetadata({ topics });
    const cfg = await admin.describeConfigs({ includeSynonyms: false, resources: topics.map((name) => ({ type: 2, name, configNames: ['retention.ms'] })) });
    return Object.fromEntries(md.topics.map((t) => [t.name, {
      partitions: t.partitions.length,
      replication: t.partitions[0].replicas.length,
      retentionMs: Number(cfg.resources.find((r) => r.resourceName === t.name)!.configEntries[0].configValue),
    }]));
  } finally {
    await admin.disconnect();
  }
}

describe('v2probe topics', () => {
  it('create makes the topic and its DLQ as asked; list and describe read them back', async () => {
    const topic = uniq('topics-cli');
    const r = runCli(['topics', 'create', '--kafka', brokers, '--topic', topic, '--partitions', '3', '--retention', '2d']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`topic ${topic} created (3 partitions, replication 1, retention 2d)`);
    expect(r.stdout).toContain(`topic ${topic}.dlq created (1 partitions`);
    expect(await truth([topic, `${topic}.dlq`])).toEqual({
      [topic]: { partitions: 3, replication: 1, retentionMs: 2 * 86_400_000 },
      [`${topic}.dlq`]: { partitions: 1, replication: 1, retentionMs: 2 * 86_400_000 },
    });
    // again: left as it is
    const again = runCli(['topics', 'create', '--kafka', brokers, '--topic', topic, '--partitions', '5']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`topic ${topic} exists (left as it is)`);
    expect((await truth([topic]))[topic].partitions).toBe(3);

    const list = runCli(['topics', 'list', '--kafka', brokers, '--json']);
    expect(list.code, list.stderr).toBe(0);
    const names = JSON.parse(list.stdout) as string[];
    expect(names).toContain(topic);
    expect(names).toContain(`${topic}.dlq`);
    expect(names.some((n) => n.startsWith('__'))).toBe(false);

    const d = runCli(['topics', 'describe', '--kafka', brokers, '--topic', `${topic},${topic}.dlq`, '--json']);
    expect(d.code, d.stderr).toBe(0);
    const infos = d.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(infos.map((i) => [i.topic, i.partitions, i.replication, i.retentionMs, i.leaders.length])).toEqual([
      [topic, 3, 1, 2 * 86_400_000, 3],
      [`${topic}.dlq`, 1, 1, 2 * 86_400_000, 1],
    ]);
  });

  it('--dlq off creates only the topic', async () => {
    const topic = uniq('topics-nodlq');
    const r = runCli(['topics', 'create', '--kafka', brokers, '--topic', topic, '--dlq', 'off']);
    expect(r.code, r.stderr).toBe(0);
    const names = JSON.parse(runCli(['topics', 'list', '--kafka', brokers, '--json']).stdout) as string[];
    expect(names).toContain(topic);
    expect(names).not.toContain(`${topic}.dlq`);
  });

  it('a missing topic: describe and the sink check name `v2probe topics create`, exit 2', async () => {
    const topic = uniq('topics-missing');
    const d = runCli(['topics', 'describe', '--kafka', brokers, '--topic', topic]);
    expect(d.code).toBe(2);
    expect(d.stderr).toContain(`Kafka topic '${topic}' does not exist`);
    expect(d.stderr).toContain(`v2probe topics create --kafka ${brokers} --topic ${topic}`);
    const err = await checkKafka([brokers], [topic]).then(() => undefined, (e: Error) => e);
    expect(err?.message).toContain(`v2probe topics create --kafka ${brokers} --topic ${topic}`);
    expect(err?.message).not.toContain('dist/ingester/topics.js');
  });

  it.each([
    [['create', '--kafka', 'nohostport', '--topic', 't'], /--kafka: 'nohostport' is not a broker address/],
    [['create', '--kafka', '127.0.0.1:9092', '--topic', 't', '--partitions', '0'], /--partitions.*'?0'?/],
    [['create', '--kafka', '127.0.0.1:9092', '--topic', 't', '--retention', 'soon'], /--retention: 'soon' is not a duration/],
    [['create', '--kafka', '127.0.0.1:9092', '--topic', 'bad topic'], /--topic.*bad topic/],
    [['describe', '--kafka', '127.0.0.1:9092', '--topic', 'a,,b'], /--topic: 'a,,b' has an empty topic name/],
  ])('bad input %j: exit 2 naming the flag and value', (args, message) => {
    const r = runCli(['topics', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
