/** ingester/topics.ts — create a topic: `node dist/ingester/topics.js HOST:PORT TOPIC [PARTITIONS]` (tests, scripts, users). */
import { ensureTopics, parseBrokers } from '../collector/kafka.js';

const [brokers, topic, parts] = process.argv.slice(2);
if (!brokers || !topic) {
  process.stderr.write('usage: node dist/ingester/topics.js HOST:PORT TOPIC [PARTITIONS]\n');
  process.exit(2);
}
await ensureTopics(parseBrokers('brokers', brokers), [{ topic, partitions: Number(parts ?? 4) }]);
process.stdout.write(`topic ${topic} ready\n`);
process.exit(0);
