/**
 * cli/doctor.ts — what this kernel allows, probe by probe: kernel version and
 * the minimums checked, BTF, tracefs, capabilities, bpf_stats, kprobes, and for
 * every probe the attach plan it gets here (tried for real when privileged) or
 * why it gets none.
 */
import { existsSync } from 'node:fs';
import { USER_PROBES, PROBES, type ProbeName } from '../schema/event.js';
import { ATTACH, planAutoload, type AttachPlan } from '../collector/families/plans.js';
import {
  bpfPrivilege,
  ensureTracefs,
  hasBtf,
  kernelAtLeast,
  kernelVersion,
  kprobesAvailable,
  readSysctl,
  tracefsMounted,
  tracepointExists,
  TRACEFS,
} from '../collector/families/kernel.js';
import { loadNative, type UprobeSpec } from '../native/index.js';
import { ElfFile } from '../uprobes/elf.js';

function nativeAvailable(): { ok: boolean; reason?: string } {
  try {
    loadNative();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

export interface Check {
  name: string;
  ok: boolean;
  /** a fallback capability: its absence is information, not a failure */
  optional?: boolean;
  detail: string;
}
export interface ProbeReport {
  probe: ProbeName;
  ok: boolean;
  attach?: string;
  kind?: string;
  why?: string;
  tried: Array<{ plan: string; ok: boolean; why?: string }>;
  /** parts of an attached probe this machine cannot provide (cpufreq in a VM: "not available here") */
  notes?: string[];
}
export interface DoctorReport {
  checks: Check[];
  probes: ProbeReport[];
}

export async function doctor(opts: { mountTracefs?: boolean; tryAttach?: boolean } = {}): Promise<DoctorReport> {
  const checks: Check[] = [];
  const k = kernelVersion();
  checks.push({ name: 'kernel', ok: kernelAtLeast(5, 8), detail: `${k.text} (ring buffer needs >= 5.8; tp_btf >= 5.5; CO-RE needs BTF)` });
  checks.push({ name: 'btf', ok: hasBtf(), detail: hasBtf() ? '/sys/kernel/btf/vmlinux present (CO-RE and tp_btf)' : 'no /sys/kernel/btf/vmlinux: CO-RE needs kernel BTF (CONFIG_DEBUG_INFO_BTF) or an external BTF file' });
  if (!tracefsMounted() && opts.mountTracefs) {
    const r = ensureTracefs();
    checks.push({ name: 'tracefs-mount', ok: r.mounted, detail: r.action === 'mounted' ? `mounted tracefs at ${TRACEFS}` : `could not mount tracefs: ${r.error}` });
  }
  const tfs = tracefsMounted();
  checks.push({ name: 'tracefs', ok: tfs, detail: tfs ? `mounted at ${TRACEFS}` : `not mounted at ${TRACEFS}: tracepoint probes cannot attach (v2probe collect mounts it; or: mount -t tracefs nodev ${TRACEFS})` });
  const priv = bpfPrivilege();
  checks.push({ name: 'capabilities', ok: priv.ok, detail: priv.ok ? 'may load and attach BPF programs (CAP_SYS_ADMIN or CAP_BPF+CAP_PERFMON)' : priv.reason! });
  const stats = readSysctl('kernel.bpf_stats_enabled');
  checks.push({ name: 'bpf_stats', ok: true, detail: stats === undefined ? 'kernel.bpf_stats_enabled not present: probe cost cannot be measured' : `kernel.bpf_stats_enabled=${stats}${stats === '1' ? '' : ' (the benchmark and the overhead governor turn it on)'}` });
  const kp = tfs ? kprobesAvailable() : undefined;
  checks.push({ name: 'kprobes', ok: kp === true, optional: true, detail: kp === undefined ? 'unknown (tracefs not mounted)' : kp ? 'available (fallback attach points usable)' : `not available (no ${TRACEFS}/kprobe_events: CONFIG_KPROBES off); kprobe fallbacks cannot be used here` });
  const nat = nativeAvailable();
  checks.push({ name: 'native', ok: nat.ok, detail: nat.ok ? `addon loaded, libbpf ${loadNative().libbpfVersion()}, BPF objects: ${loadNative().families().join(', ')}` : nat.reason! });

  const probes: ProbeReport[] = [];
  for (const name of USER_PROBES) {
    const rep: ProbeReport = { probe: name, ok: false, tried: [] };
    for (const plan of ATTACH[name].plans) {
      let why: string | undefined;
      if (plan.kind === 'kprobe' && kp !== true) why = 'kprobes not available on this kernel';
      else if (plan.programs.length === 0) why = 'no program for this attach point in this build';
      else if (plan.needsBtf && !hasBtf()) why = 'needs kernel BTF';
      else if (!tfs && plan.kind === 'tracepoint') why = 'tracefs not mounted';
      else {
        const missing = tfs && plan.kind === 'tracepoint' ? plan.tracepoints.filter((t) => !tracepointExists(...(t.split('/') as [string, string]))) : [];
        if (missing.length) why = `tracepoints missing: ${missing.join(', ')}`;
      }
      if (!why && opts.tryAttach !== false && priv.ok && nat.ok) why = await tryAttach(name, plan);
      else if (!why && !priv.ok) why = 'not tried: no BPF privilege';
      rep.tried.push({ plan: plan.label, ok: !why, why });
      if (!why) {
        rep.ok = true;
        rep.attach = plan.label;
        rep.kind = plan.kind;
        break;
      }
    }
    if (!rep.ok) rep.why = rep.tried.map((t) => `${t.plan}: ${t.why}`).join('; ');
    const notes = ATTACH[name].notes?.();
    if (notes) rep.notes = notes;
    probes.push(rep);
  }
  return { checks, probes };
}

/** Load and attach a plan's programs for real, then detach. Returns why it failed, or undefined. */
async function tryAttach(name: ProbeName, plan: AttachPlan): Promise<string | undefined> {
  const fam = ATTACH[name];
  let probe;
  try {
    probe = await loadNative().open(fam.object, { autoload: planAutoload(fam.plans, plan), ringBytes: 4096 * 16 });
    // a uprobe plan has no target of its own (the user's Go binary, --uprobe):
    // attach each program as an entry uprobe at this node binary's entry
    // point, for this process only (it has started: the probe never fires)
    const res = plan.kind === 'uprobe' ? await probe.attachUprobes(uprobeProbeSpecs(plan)) : await probe.attach();
    const bad = res.filter((r) => !r.ok);
    return bad.length ? bad.map((b) => b.error).join('; ') : undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  } finally {
    probe?.close();
  }
}

/** Uprobe specs that check a uprobe plan can attach here: every program at node's ELF entry point, pid = this process. */
function uprobeProbeSpecs(plan: AttachPlan): UprobeSpec[] {
  const elf = ElfFile.read(process.execPath);
  const offset = elf.fileOffset(Number(elf.data.readBigUInt64LE(0x18)));
  if (offset === undefined) throw new Error(`${process.execPath}: its ELF entry point is in no segment`);
  const programs = [...new Set([...plan.programs, ...(plan.uprobes ?? []).map((u) => u.program)])];
  return programs.map((program) => ({ program, binary: process.execPath, offset, pid: process.pid }));
}

export function formatDoctor(r: DoctorReport): string {
  const lines: string[] = ['v2probe doctor', ''];
  for (const c of r.checks) lines.push(`  ${c.ok ? 'ok  ' : c.optional ? 'no  ' : 'FAIL'}  ${c.name.padEnd(13)} ${c.detail}`);
  lines.push('', 'probes:');
  for (const p of r.probes) {
    lines.push(`  ${p.ok ? 'ok  ' : 'FAIL'}  ${p.probe.padEnd(9)} ${p.ok ? p.attach : p.why}`);
    for (const n of p.notes ?? []) lines.push(`        ${''.padEnd(9)} ${n}`);
    if (p.ok) lines.push(`        ${''.padEnd(9)} (${(PROBES[p.probe] as { summary: string }).summary})`);
  }
  if (existsSync('/.dockerenv')) lines.push('', 'note: running in a container');
  return lines.join('\n');
}
