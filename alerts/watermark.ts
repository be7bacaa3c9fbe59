/**
 * alerts/watermark.ts — the ingest watermark: how far each host's data has arrived.
 *
 * v2e.ingest_watermark is kept by materialized views on v2e.events and
 * v2e.counters: per host, the newest `ts` received. Collectors write a
 * counter snapshot every few seconds after flushing the events before it, so
 * the snapshot is the host's heartbeat even when nothing happens.
 * A window ending at E is ready when every live host (watermark within
 * `staleAfter` of E) has a watermark >= E. Hosts older than that are
 * considered gone and are not waited for (their rules see no data). After
 * `maxDelay` past E the window is evaluated anyway, marked late.
 */
import type { Store } from '../store/types.js';

export interface WatermarkOptions {
  staleAfterMs: number;
  maxDelayMs: number;
}
export const DEFAULT_WATERMARK: WatermarkOptions = { staleAfterMs: 5 * 60_000, maxDelayMs: 2 * 60_000 };

export async function readWatermarks(store: Store): Promise<Map<string, number>> {
  const rows = await store.queryRows<{ host: string; t: number }>(
    'SELECT host, toUnixTimestamp64Milli(max(max_ts)) AS t FROM v2e.ingest_watermark GROUP BY host',
  );
  return new Map(rows.map((r) => [r.host, Number(r.t)]));
}

export function windowReady(wm: Map<string, number>, endMs: number, nowMs: number, o: WatermarkOptions): { ready: boolean; late: boolean; waitingFor: string[] } {
  if (endMs > nowMs) return { ready: false, late: false, waitingFor: [] };
  const waitingFor = [...wm].filter(([, t]) => t >= endMs - o.staleAfterMs && t < endMs).map(([h]) => h);
  if (waitingFor.length === 0) return { ready: true, late: false, waitingFor };
  if (nowMs - endMs >= o.maxDelayMs) return { ready: true, late: true, waitingFor };
  return { ready: false, late: false, waitingFor };
}
