/**
 * kafka/crash-point.ts — a test-only switch: SIGKILL this process at a named
 * step of the Kafka path (collector sink, ingester), to prove a kill there
 * loses and doubles nothing.
 *
 * V2PROBE_CRASH_AT=<point>:<K> kills the process (SIGKILL, no cleanup) the K-th
 * time it reaches crashPoint('<point>'), after one line on stderr naming the
 * point. Unset (production): a no-op costing one comparison.
 * Points, each reached after its step completed:
 *  - ingester (ingester/ingester.ts), once per range: ledger,
 *    insert:<table> (e.g. insert:v2e.events), dlq, commit;
 *  - collector Kafka sink (collector/sinks/kafka.ts), once per message:
 *    produce (sent, Kafka acknowledged), spool (written to the on-disk spool),
 *    spool-sent (a spooled message acknowledged, not yet removed from the spool).
 */
const spec = process.env.V2PROBE_CRASH_AT;
const sep = spec ? spec.lastIndexOf(':') : -1;
const target: string | undefined = spec && sep > 0 ? spec.slice(0, sep) : undefined;
const nth = spec && sep > 0 ? Number(spec.slice(sep + 1)) : 0;
if (spec && !(target && Number.isInteger(nth) && nth >= 1)) throw new Error(`V2PROBE_CRASH_AT=${spec}: expected <point>:<K>, K >= 1`);
let hits = 0;

export function crashPoint(point: string): void {
  if (point !== target) return;
  if (++hits < nth) return;
  process.stderr.write(`V2PROBE_CRASH_AT: SIGKILL at crash point ${point} (hit ${hits} of ${nth})\n`);
  process.kill(process.pid, 'SIGKILL');
}
