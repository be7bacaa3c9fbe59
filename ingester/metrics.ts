/** ingester/metrics.ts — the ingester's Prometheus metrics (prom-client) and its /metrics server. */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class IngestMetrics {
  readonly registry = new Registry();
  readonly lag = new Gauge({ name: 'v2probe_ingest_consumer_lag', help: 'messages behind the partition high watermark after the last commit', labelNames: ['topic', 'partition'], registers: [this.registry] });
  readonly rows = new Counter({ name: 'v2probe_ingest_rows_total', help: 'rows inserted into the store, by table', labelNames: ['table'], registers: [this.registry] });
  readonly messages = new Counter({ name: 'v2probe_ingest_messages_total', help: 'Kafka messages consumed, by outcome (ok, dlq)', labelNames: ['status'], registers: [this.registry] });
  readonly batches = new Counter({ name: 'v2probe_ingest_batches_total', help: 'insert ranges committed (one dedup token each)', registers: [this.registry] });
  readonly insertSeconds = new Histogram({ name: 'v2probe_ingest_insert_seconds', help: 'time to insert one range into the store (all tables)', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });
  readonly dedupHits = new Counter({ name: 'v2probe_ingest_dedup_hits_total', help: 'ranges re-inserted after a restart/rebalance with the same token (the store drops them)', registers: [this.registry] });
  readonly dlq = new Counter({ name: 'v2probe_ingest_dlq_total', help: 'messages dead-lettered (DLQ topic + v2e.ingest_errors)', registers: [this.registry] });
  readonly rowsPerSecond = new Gauge({ name: 'v2probe_ingest_rows_per_second', help: 'event rows inserted per second over the last 10 s', registers: [this.registry] });
  readonly latency = new Histogram({ name: 'v2probe_ingest_event_to_store_seconds', help: 'collector encode → insert acknowledged, per message', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [this.registry] });
  readonly waiting = new Gauge({ name: 'v2probe_ingest_waiting', help: '1 while retrying the store or Kafka', labelNames: ['for'], registers: [this.registry] });
  private window: Array<{ t: number; n: number }> = [];

  addEventRows(n: number): void {
    const t = Date.now();
    this.window.push({ t, n });
    while (this.window.length && this.window[0].t < t - 10_000) this.window.shift();
    const span = Math.max(1, (t - (this.window[0]?.t ?? t)) / 1000);
    this.rowsPerSecond.set(this.window.reduce((a, w) => a + w.n, 0) / Math.max(span, 1));
  }
}

export function serveMetrics(reg: Registry, host: string, port: number): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('see /metrics\n');
      return;
    }
    reg.metrics().then(
      (text) => res.writeHead(200, { 'content-type': reg.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address();
      const p = typeof a === 'object' && a ? a.port : port;
      resolve({ server, url: `http://${host}:${p}/metrics` });
    });
  });
}
