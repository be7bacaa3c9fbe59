/**
 * uprobes/runtimes.ts — the runtimes (collector/families/runtime.ts) of the
 * uprobe families, the descriptors whose every plan is uprobes (go_gc,
 * go_sched, go_malloc, app): they attach their plans on the user's targets
 * (attach.ts); go_sched adds its live goroutines and app its calls per target
 * to each snapshot (collector/families/go-stats.ts). With --shm-ring, the
 * shm family's runtime attaches its tracepoints and then its ring uprobes.
 */
import type { FamilyRuntime } from '../collector/families/runtime.js';
import { appCallRows, goroutineRows } from '../collector/families/go-stats.js';
import { FAMILIES } from '../bpf/families.gen.js';
import type { ProbeName } from '../schema/event.js';
import { attachUprobeResults, type UprobeTargets } from './attach.js';
import { shmRingSpecs } from './shm-ring.js';

/** The families whose every attach plan is uprobes (from the descriptors, bpf/*.family.ts): they attach on the user's targets. */
export const UPROBE_FAMILIES: readonly ProbeName[] = Object.values(FAMILIES)
  .filter((d) => d.plans.length > 0 && d.plans.every((p) => p.kind === 'uprobe'))
  .map((d) => d.name as ProbeName);

/** The uprobe families' runtimes for one collector, attaching to `targets`; go_sched and app add their own rows to each snapshot. */
export function uprobeRuntimes(targets: UprobeTargets = {}): Partial<Record<ProbeName, FamilyRuntime>> {
  const extraRows: Partial<Record<ProbeName, FamilyRuntime['extraRows']>> = {
    go_sched: (maps) => goroutineRows(maps),
    app: (maps) => appCallRows(maps, targets.app),
  };
  const rts: Partial<Record<ProbeName, FamilyRuntime>> = Object.fromEntries(UPROBE_FAMILIES.map((f) => [f, { attach: (probe, plan) => attachUprobeResults(probe, f, plan, targets), extraRows: extraRows[f] } satisfies FamilyRuntime]));
  const rings = targets.shmRings ?? [];
  if (rings.length) {
    rts.shm = {
      optIn: { shmRing: true },
      // the plan's tracepoints, then shm_ring on each ring's functions (it has no target of its own: attach() leaves it)
      attach: async (probe) => {
        const base = await probe.attach();
        if (base.some((r) => !r.ok)) return base;
        const ring = await probe.attachUprobes(shmRingSpecs(rings, targets.pids));
        if (ring.some((r) => !r.ok)) probe.detach();
        return [...base, ...ring];
      },
    };
  }
  return rts;
}
