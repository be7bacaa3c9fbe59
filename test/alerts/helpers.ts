// Shared helpers of the alert tests: synthetic rows at known times (recent, inside the TTL), rules from YAML text.
import { parseRuleFile, type LoadedRule, type RuleGroup } from '../../alerts/rules.js';
import type { Store } from '../../store/types.js';

/** A 10-minute boundary `hoursAgo` hours before now: windows are aligned to it. */
export function baseMs(hoursAgo: number): number {
  return Math.floor((Date.now() - hoursAgo * 3_600_000) / 600_000) * 600_000;
}

export function groupsOf(yaml: string, file = 'test.yaml'): RuleGroup[] {
  const r = parseRuleFile(file, yaml);
  if (r.errors.length) throw new Error(r.errors.map((e) => `${e.file}:${e.line}: ${e.message}`).join('\n'));
  return r.groups;
}
export function ruleOf(groups: RuleGroup[], name: string): LoadedRule {
  const r = groups.flatMap((g) => g.rules).find((x) => x.name === name);
  if (!r) throw new Error(`no rule ${name}`);
  return r;
}

export interface Ev { tMs: number; host?: string; probe: string; event: string; comm?: string; value: number; weight?: number; pid?: number; bytes?: number; cpu?: number }
export async function insertEvents(store: Store, evs: Ev[]): Promise<void> {
  await store.insertRows(
    'v2e.events',
    evs.map((e) => ({
      ts: (BigInt(Math.round(e.tMs)) * 1_000_000n).toString(), host: e.host ?? 'h1', probe: e.probe, event: e.event, pid: e.pid ?? 100, tid: e.pid ?? 100,
      comm: e.comm ?? 'v2broker', value: Math.round(e.value), weight: e.weight ?? 1, cpu: e.cpu ?? 0, bytes: e.bytes ?? 0,
    })),
  );
}
export interface Cnt { tMs: number; host?: string; probe: string; name: string; pid?: number; comm?: string; key?: string; value?: number; delta?: number }
export async function insertCounters(store: Store, cs: Cnt[]): Promise<void> {
  await store.insertRows(
    'v2e.counters',
    cs.map((c) => ({ ts: String(Math.round(c.tMs)), host: c.host ?? 'h1', probe: c.probe, name: c.name, pid: c.pid ?? 0, comm: c.comm ?? '', key: c.key ?? '', value: c.value ?? 0, delta: c.delta ?? 0 })),
  );
}

export async function logOf(store: Store, rule: string, backfill = 0): Promise<Array<{ t: number; host: string; severity: string; from: string; to: string }>> {
  return store.queryRows(`SELECT toUnixTimestamp64Milli(ts) AS t, labels['host'] AS host, severity, from_state AS from, to_state AS to
    FROM v2e.alert_log WHERE rule = '${rule}' AND backfill = ${backfill} AND to_state != 'error' ORDER BY ts, host, severity`);
}
