/**
 * uprobes/runtimes.ts — the runtimes (collector/families/runtime.ts) of the
 * uprobe families: go_gc, go_sched, go_malloc and app attach their plans on
 * the user's targets (attach.ts), go_sched adds its live goroutines and app
 * its calls per target to each snapshot (collector/families/go-stats.ts).
 */
import type { FamilyRuntime } from '../collector/families/runtime.js';
import { familyCounterRows } from '../collector/families/go-stats.js';
import { attachUprobeResults, type UprobeTargets } from './attach.js';

export type UprobeFamily = 'go_gc' | 'go_sched' | 'go_malloc' | 'app';

/** The uprobe families' runtimes for one collector, attaching to `targets`. */
export function uprobeRuntimes(targets: UprobeTargets = {}): Record<UprobeFamily, FamilyRuntime> {
  const attach = (family: UprobeFamily): FamilyRuntime['attach'] => (probe, plan) => attachUprobeResults(probe, family, plan, targets);
  return {
    go_gc: { attach: attach('go_gc') },
    go_malloc: { attach: attach('go_malloc') },
    go_sched: { attach: attach('go_sched'), extraRows: (maps) => familyCounterRows(maps, 'go_sched') },
    app: { attach: attach('app'), extraRows: (maps) => familyCounterRows(maps, 'app', targets.app) },
  };
}
