/**
 * ingester/topics.ts — create a topic from scripts (kept for them; users have
 * `v2probe topics create|list|describe`, which runs the same code, kafka/admin.ts):
 *   node dist/ingester/topics.js HOST:PORT|kafka[s]://[USER@]HOST:PORT?OPTIONS TOPIC [PARTITIONS]
 * The broker address takes the same TLS/SASL options as `ingest --kafka` (password: V2PROBE_KAFKA_PASSWORD or password_file=).
 */
import { KafkaError, parseKafkaAddress } from '../kafka/client.js';
import { createTopics } from '../kafka/admin.js';

const [address, topic, parts] = process.argv.slice(2);
if (!address || !topic) {
  process.stderr.write('usage: node dist/ingester/topics.js HOST:PORT|kafka[s]://[USER@]HOST:PORT?OPTIONS TOPIC [PARTITIONS] (or: v2probe topics create --kafka ADDRESS --topic TOPIC)\n');
  process.exit(2);
}
const partitions = Number(parts ?? 4);
if (!Number.isInteger(partitions) || partitions < 1) {
  process.stderr.write(`topics: PARTITIONS '${parts}' is not a whole number >= 1\n`);
  process.exit(2);
}
try {
  const { brokers, security } = parseKafkaAddress('brokers', address);
  await createTopics(brokers, [{ topic, partitions, replication: 1 }], security);
} catch (err) {
  process.stderr.write(`topics: ${(err as Error).message}\n`);
  process.exit(err instanceof KafkaError && err.code !== 'SEND' ? 2 : 1);
}
process.stdout.write(`topic ${topic} ready\n`);
process.exit(0);
