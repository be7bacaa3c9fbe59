/**
 * ingester/loss.ts — the loss ledger: one SQL query over the store that shows,
 * per host and probe, where every sampled row went. The kernel counts every
 * event (`seen`) and every row it handed to the ring buffer (`sampled`); each
 * such row is stored, or counted as dropped at a named place:
 *
 *   sampled = stored + lost_userspace + rejected_decode + lost_sink (collector)
 *             + lost_spool (Kafka sink spool full) + dead_lettered + in_flight
 *
 * `unaccounted` is sampled minus the right-hand side without in_flight: 0 when
 * the pipeline is at rest. The counters arrive as snapshots (every --snapshot),
 * the rows as they come: so that a ledger read while a collector runs compares
 * like with like, rows count up to their host's and probe's latest counter
 * snapshot (a row stamped later was sampled after it). Rows in flight show as
 * unaccounted > 0, never < 0. lost_ringbuf (the kernel could not write the row) is
 * shown beside it; its weight moved to the next row, so sum(weight) still
 * estimates `seen`. The collector does the same for the rows it drops
 * (lost_userspace, lost_sink: their weight goes to the next row of the same
 * probe and event).
 */
export function lossQuery(o: { since?: string } = {}): string {
  const since = o.since ?? '1970-01-01 00:00:00';
  const w = `ts >= parseDateTime64BestEffort('${since.replace(/'/g, '')}', 3)`;
  return `
WITH
  c AS (
    SELECT host, probe,
      sumIf(delta, name = 'seen') AS seen,
      sumIf(delta, name = 'sampled') AS sampled,
      sumIf(delta, name = 'lost_ringbuf') AS lost_kernel,
      sumIf(delta, name = 'lost_userspace') AS lost_userspace,
      sumIf(delta, name = 'rejected_decode') AS rejected_decode,
      sumIf(delta, name = 'lost_sink') AS lost_collector,
      sumIf(delta, name = 'lost_spool') AS lost_spool,
      max(ts) AS last
    FROM v2e.counters WHERE pid = 0 AND key = '' AND ${w} GROUP BY host, probe),
  e AS (SELECT ev.host AS host, ev.probe AS probe, count() AS stored, sum(ev.weight) AS stored_weight
    FROM v2e.events AS ev INNER JOIN c ON ev.host = c.host AND ev.probe = c.probe
    WHERE ev.${w} AND ev.ts <= c.last GROUP BY host, probe),
  d AS (SELECT host, probe, sum(rows) AS dlq_rows FROM v2e.ingest_ledger WHERE status = 'dlq' AND kind = 'events' AND ${w} GROUP BY host, probe)
SELECT c.host AS host, c.probe AS probe, seen, sampled, ifNull(e.stored, 0) AS stored, ifNull(e.stored_weight, 0) AS stored_weight,
  lost_kernel, lost_userspace, rejected_decode, lost_collector, lost_spool, ifNull(d.dlq_rows, 0) AS dead_lettered,
  toInt64(sampled) - toInt64(ifNull(e.stored, 0)) - toInt64(lost_userspace) - toInt64(rejected_decode) - toInt64(lost_collector) - toInt64(lost_spool) - toInt64(ifNull(d.dlq_rows, 0)) AS unaccounted
FROM c LEFT JOIN e ON c.host = e.host AND c.probe = e.probe
LEFT JOIN d ON c.host = d.host AND c.probe = d.probe
ORDER BY host, probe
SETTINGS join_use_nulls = 1`;
}
