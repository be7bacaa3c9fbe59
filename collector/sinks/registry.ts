/**
 * collector/sinks/registry.ts — where the collector's batches go: the sink a
 * `--sink` string names — a store (chDB or a ClickHouse server, sinks/store.ts),
 * Kafka (sinks/kafka.ts, loaded only when named) or stdout as NDJSON
 * (sinks/stdout.ts). A Kafka sink may come already resolved (TLS/SASL merged
 * from the URL, environment and config file).
 */
import type { KafkaSinkSpec } from '../../kafka/client.js';
import { applySchema } from '../../schema/ddl.js';
import { openStore } from '../../store/index.js';
import type { Sink } from './sink.js';
import { StdoutSink } from './stdout.js';
import { StoreSink } from './store.js';

/** `--sink`: a store DSN, kafka[s]://…, or `stdout`. Opens the store and applies the schema. */
export async function openSink(spec: string, opts: { snapshotsToStdout?: boolean; kafka?: KafkaSinkSpec } = {}): Promise<Sink> {
  if (spec === 'stdout' || spec === '-') return new StdoutSink(process.stdout, opts.snapshotsToStdout ?? false);
  if (/^kafkas?:\/\//.test(spec)) return (await import('./kafka.js')).openKafkaSink(opts.kafka ?? spec);
  const store = await openStore(spec);
  await applySchema(store);
  return new StoreSink(store);
}
