// The family descriptors (bpf/NAME.family.ts, issue 15): every generated file
// (bpf/families.gen.h, bpf/families.gen.ts, bpf/hookbase.bpf.c, the README's
// probe table, docs/columns.md) equals what bpf/gen.ts makes of them; every descriptor is
// consistent; and every program a plan names is a program of the family's
// built object (build/bpf/NAME.bpf.o, its symbol table), in a section of the
// plan's kind — a wrong name fails here, not as ENOENT at open.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AttachPlan, FamilyDescriptor } from '../../bpf/family.js';
import { FAMILIES } from '../../bpf/families.gen.js';
import { descriptorNames, generated, loadDescriptors, ROOT } from '../../bpf/gen.js';
import { ATTACH } from '../../collector/families/plans.js';
import { SUBSYSTEM } from '../../collector/ops/metrics.js';
import { MAX_COUNTERS, PROBES, PROBE_NAMES } from '../../schema/event.js';

const OBJ = (name: string) => join(ROOT, 'build/bpf', `${name}.bpf.o`);

/** Programs of a BPF object: function symbol → its ELF section (SEC()). */
export function objectPrograms(obj: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of execFileSync('llvm-objdump', ['-t', obj]).toString().split('\n')) {
    const m = /^[0-9a-f]+ g\s+F (\S+)\s+[0-9a-f]+ (\S+)$/.exec(line);
    if (m) out.set(m[2], m[1]);
  }
  return out;
}

/** The section prefixes a program of a plan of this kind may sit in. */
const SECTIONS: Record<AttachPlan['kind'], RegExp> = {
  // tracepoint and tp_btf plans may mix both (shm: syscall tracepoints + tp_btf/sched_process_exit; rtt); never raw_tp
  tracepoint: /^\??(tracepoint|tp|tp_btf)\//,
  tp_btf: /^\??(tp_btf|tracepoint|tp)\//,
  raw_tp: /^\??raw_tp\//,
  kprobe: /^\??k(ret)?probe\//,
  uprobe: /^\??u(ret)?probe/,
  perf_event: /^\??perf_event/,
};

/**
 * What a family's plans name that its object lacks (or holds in a section of another kind): empty when all is well.
 * The family's sweep (a SEC("syscall") program, run by the collector, attached nowhere) may be in any plan.
 */
export function planProblems(d: Pick<FamilyDescriptor, 'plans' | 'sweep'>, progs: Map<string, string>): string[] {
  const bad: string[] = [];
  if (d.sweep !== undefined && !/^\??syscall$/.test(progs.get(d.sweep) ?? '')) bad.push(`sweep '${d.sweep}' is not a SEC("syscall") program of the object`);
  for (const plan of d.plans) {
    const named = new Set([...plan.programs, ...(plan.uprobes ?? []).map((u) => u.program), ...Object.values(plan.optIn ?? {}).flat()]);
    const placed = new Set([...(plan.uprobes ?? []).map((u) => u.program), ...Object.values(plan.optIn ?? {}).flat()]);
    for (const p of named) {
      const sec = progs.get(p);
      if (sec === undefined) bad.push(`${plan.label}: no program '${p}' in the object`);
      else if (p === d.sweep) continue;
      // uprobe programs of any plan are placed on user targets (a Go runtime's functions, --shm-ring's), not by the plan's kind
      else if (!SECTIONS[plan.kind].test(sec) && !(placed.has(p) && SECTIONS.uprobe.test(sec))) bad.push(`${plan.label}: '${p}' is in section ${sec}, not a ${plan.kind} section`);
    }
  }
  return bad;
}

describe('family descriptors', () => {
  let ds: FamilyDescriptor[];
  beforeAll(async () => {
    ds = await loadDescriptors();
  });

  it('the generated files equal what bpf/gen.ts makes of the descriptors (node dist/bpf/gen.js rewrites them)', async () => {
    for (const [path, text] of Object.entries(await generated())) expect(readFileSync(join(ROOT, path), 'utf8'), `${path} is stale: run npx tsc -p tsconfig.json && node dist/bpf/gen.js`).toBe(text);
  });

  it('a family is its BPF file plus its descriptor: every bpf/*.bpf.c but the generated baseline has one, and back', () => {
    const objects = readdirSync(join(ROOT, 'bpf')).filter((f) => f.endsWith('.bpf.c')).map((f) => f.slice(0, -'.bpf.c'.length)).filter((f) => f !== 'hookbase').sort();
    expect(descriptorNames()).toEqual(objects);
    expect(Object.keys(FAMILIES).sort()).toEqual(objects);
    expect(PROBE_NAMES).toEqual(ds.map((d) => d.name));
  });

  it('ids unique, at most 8 events, counter slots unique inside the family range', () => {
    expect(new Set(ds.map((d) => d.id)).size).toBe(ds.length);
    for (const d of ds) {
      expect(d.events.length, d.name).toBeLessThanOrEqual(8);
      const slots = Object.values({ ...d.counters, ...(d.bpfCounters ?? {}) });
      expect(new Set(slots).size, `${d.name}: two counters on one slot`).toBe(slots.length);
      for (const s of slots) expect(s >= 8 && s < MAX_COUNTERS, `${d.name}: slot ${s}`).toBe(true);
    }
  });

  it('every user family says what `value` and each attribute column it fills hold (docs/columns.md); per-event meanings name its events', () => {
    for (const d of ds) {
      if (d.internal || d.events.length === 0) continue;
      expect(d.columns, `${d.name}: no columns (what value, arg0 and arg1 hold)`).toBeDefined();
      for (const slot of ['arg0', 'arg1'] as const) expect(d.columns![slot] !== undefined, `${d.name}: columns.${slot} given iff args.${slot} is`).toBe(d.args[slot] !== undefined);
      const events = d.events.map((e) => e.name);
      for (const [col, m] of Object.entries(d.columns!)) if (typeof m === 'object') for (const e of Object.keys(m)) expect(events, `${d.name}: columns.${col} names event '${e}'`).toContain(e);
    }
  });

  it('PROBES, ATTACH and SUBSYSTEM are the descriptors\'', () => {
    for (const d of ds) {
      const p = PROBES[d.name as keyof typeof PROBES];
      expect([d.name, p.id, p.events, p.counters, p.defaultSampleEvery]).toEqual([d.name, d.id, d.events.map((e) => e.name), d.counters, d.defaultSampleEvery]);
      expect(ATTACH[d.name as keyof typeof ATTACH].plans).toBe(d.plans);
      expect(SUBSYSTEM[d.name]).toBe(d.subsystem);
    }
  });
});

describe('every planned program name is a program of the built object', () => {
  const built = existsSync(OBJ('uds'));

  it.skipIf(!built)('every plan of every family (programs, uprobe programs, opt-in programs), in a section of the plan\'s kind', () => {
    const problems: string[] = [];
    for (const d of Object.values(FAMILIES) as FamilyDescriptor[]) problems.push(...planProblems(d, objectPrograms(OBJ(d.name))).map((p) => `${d.name}: ${p}`));
    expect(problems).toEqual([]);
  });

  it.skipIf(!built)('every bench baseline program is in hookbase.bpf.o', () => {
    const progs = objectPrograms(OBJ('hookbase'));
    for (const d of Object.values(FAMILIES) as FamilyDescriptor[]) for (const b of d.benchBaseline ?? []) expect([b.program, progs.get(b.program)]).toEqual([b.program, b.sec]);
  });

  it.skipIf(!built)('a wrong name fails: a misspelled program, and a right name in a plan of the wrong kind', () => {
    const progs = objectPrograms(OBJ('kmem'));
    const plans = FAMILIES.kmem.plans as AttachPlan[];
    const typo: AttachPlan = { ...plans[0], programs: ['kmalloc_btf', 'kfre_btf'] };
    expect(planProblems({ plans: [typo] }, progs)).toEqual([`${typo.label}: no program 'kfre_btf' in the object`]);
    const swapped: AttachPlan = { ...plans[1], programs: ['kmalloc_btf'] };
    expect(planProblems({ plans: [swapped] }, progs)).toEqual([`${swapped.label}: 'kmalloc_btf' is in section tp_btf/kmalloc, not a raw_tp section`]);
  });
});
