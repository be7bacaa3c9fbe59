/**
 * collector/families/plans.ts — the attach plans: how each probe family attaches, which BPF programs form
 * its primary attach plan (stable tracepoints, tp_btf) and which its fallbacks,
 * what tracepoints it needs, and the family-specific maps it exposes.
 * The collector tries the plans in order and reports which one it got.
 */
import { FAMILIES } from '../../bpf/families.gen.js';
import type { AttachPlan, KeyedCount } from '../../bpf/family.js';
import type { ProbeName } from '../../schema/event.js';

export type { AttachPlan, UprobeTarget } from '../../bpf/family.js';
export { cpufreqNotes } from '../../bpf/family.js';

/** Which programs of a family's object load for one of its plans: that plan's (opt-in ones only when asked for), no other plan's. */
export function planAutoload(plans: readonly AttachPlan[], plan: AttachPlan, optIn: Record<string, boolean | undefined> = {}): Record<string, boolean> {
  const autoload: Record<string, boolean> = {};
  for (const other of plans) for (const prog of other.programs) autoload[prog] = false;
  for (const prog of plan.programs) autoload[prog] = true;
  for (const [flag, progs] of Object.entries(plan.optIn ?? {})) for (const prog of progs) autoload[prog] = optIn[flag] === true;
  return autoload;
}

export interface FamilyAttach {
  object: string;
  plans: AttachPlan[];
  /** extra maps with per-key exact counts: map name → how to read its key */
  keyedCounts?: KeyedCount[];
  /** parts of the family this machine cannot provide although the probe attaches (doctor and status show them) */
  notes?: () => string[] | undefined;
  /** a SEC("syscall") program run before each read of the counts (FamilyDescriptor.sweep) */
  sweep?: string;
}

/** Every family's attach plans, from its descriptor (bpf/NAME.family.ts): the object is the family's name. */
export const ATTACH = Object.fromEntries(
  Object.values(FAMILIES).map((d) => [d.name, {
    object: d.name,
    plans: d.plans,
    ...('keyedCounts' in d ? { keyedCounts: d.keyedCounts } : {}),
    ...('notes' in d ? { notes: d.notes } : {}),
    ...('sweep' in d ? { sweep: d.sweep } : {}),
  }]),
) as Record<ProbeName, FamilyAttach>;
