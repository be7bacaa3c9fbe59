// Grafana's side of the dashboards, for tests: the panels' SQL, and the
// ClickHouse plugin's macros (pkg/macros/macros.go) and the dashboards'
// variables expanded as Grafana would for a window.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export interface GrafanaWindow {
  /** unix seconds */
  from: number;
  to: number;
  intervalS: number;
  host: string;
  comms: string[];
}

/** Expand macros and variables; throws when one is left. */
export function expandMacros(sqlText: string, w: GrafanaWindow): string {
  const out = sqlText
    .replace(/\$__timeFilter\(([^)]+)\)/g, (_, c: string) => `${c} >= toDateTime(${w.from}) AND ${c} <= toDateTime(${w.to})`)
    .replace(/\$__timeFilter_ms\(([^)]+)\)/g, (_, c: string) => `${c} >= fromUnixTimestamp64Milli(${w.from * 1000}) AND ${c} <= fromUnixTimestamp64Milli(${w.to * 1000})`)
    .replace(/\$__timeInterval\(([^)]+)\)/g, (_, c: string) => `toStartOfInterval(toDateTime(${c}), INTERVAL ${w.intervalS} second)`)
    .replace(/\$__fromTime\b/g, `toDateTime(${w.from})`)
    .replace(/\$__toTime\b/g, `toDateTime(${w.to})`)
    .replace(/\$__interval_s\b/g, String(w.intervalS))
    .replace(/\$\{host:singlequote\}/g, `'${w.host}'`)
    .replace(/\$\{comm:singlequote\}/g, w.comms.map((c) => `'${c}'`).join(', '));
  if (/\$/.test(out)) throw new Error(`a macro or variable was left unexpanded: ${out}`);
  return out;
}

/** Every panel's first query, from the dashboards of dashboards/. */
export function panelQueries(): Array<{ dashboard: string; id: number; title: string; sql: string; format?: unknown }> {
  const dir = join(ROOT, 'dashboards');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => {
      const d = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { panels: Array<{ id: number; title: string; targets: Array<{ rawSql: string; format?: unknown }> }> };
      return d.panels.map((p) => ({ dashboard: f, id: p.id, title: p.title, sql: p.targets[0].rawSql, format: p.targets[0].format }));
    });
}
