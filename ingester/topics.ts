/**
 * ingester/topics.ts — create a topic (tests, scripts, users):
 *   node dist/ingester/topics.js HOST:PORT|kafka[s]://[USER@]HOST:PORT?OPTIONS TOPIC [PARTITIONS]
 * The broker address takes the same TLS/SASL options as `ingest --kafka` (password: V2PROBE_KAFKA_PASSWORD or password_file=).
 */
import { ensureTopics, KafkaError, parseKafkaAddress } from '../kafka/client.js';

const [address, topic, parts] = process.argv.slice(2);
if (!address || !topic) {
  process.stderr.write('usage: node dist/ingester/topics.js HOST:PORT|kafka[s]://[USER@]HOST:PORT?OPTIONS TOPIC [PARTITIONS]\n');
  process.exit(2);
}
try {
  const { brokers, security } = parseKafkaAddress('brokers', address);
  await ensureTopics(brokers, [{ topic, partitions: Number(parts ?? 4) }], security);
} catch (err) {
  process.stderr.write(`topics: ${(err as Error).message}\n`);
  process.exit(err instanceof KafkaError && err.code !== 'SEND' ? 2 : 1);
}
process.stdout.write(`topic ${topic} ready\n`);
process.exit(0);
