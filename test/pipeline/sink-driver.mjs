// A collector's Kafka sink in a process of its own, driven line by line, for the
// sink crash-point tests (test/pipeline/spool.test.ts): the compiled sink
// (dist/collector/sinks/kafka.js), so V2PROBE_CRASH_AT kills this process and not
// the test runner.
//   argv: BROKERS TOPIC SPOOL_DIR HOST
//   prints "ready <spooled>" once open (a spool left on disk is being resumed)
//   stdin: a JSON array of event rows per line -> writeEvents -> "ok <spooled>"
//          "close" -> close(60 s) -> "closed <spooled>", exit 0
import { createInterface } from 'node:readline';
import { KafkaSink } from '../../dist/collector/sinks/kafka.js';

const [brokers, topic, spoolDir, host] = process.argv.slice(2);
const sink = await new KafkaSink({ brokers: [brokers], topic, spoolDir }, { host }).open();
const out = (s) => process.stdout.write(`${s} ${sink.snapshotStats().spoolCount}\n`);
out('ready');
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'close') {
    await sink.close(60_000);
    out('closed');
    process.exit(0);
  }
  await sink.writeEvents(JSON.parse(line));
  out('ok');
}
