/** ingester/ — Kafka → store, exactly once: the consumer, its tables, metrics and the loss ledger. */
export { Ingester, type IngesterOptions } from './ingester.js';
export { applyIngestSchema } from './ddl.js';
export { IngestMetrics, serveMetrics } from './metrics.js';
export { lossQuery } from './loss.js';
