/**
 * collector/families/kernel.ts — facts about the running kernel that decide what can
 * attach: version, BTF, tracefs, capabilities, bpf_stats. Used by `doctor`
 * and by the collector before it loads anything.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';

export const TRACEFS = '/sys/kernel/tracing';
export const BTF_VMLINUX = '/sys/kernel/btf/vmlinux';

export const CAP = { SYS_ADMIN: 21, PERFMON: 38, BPF: 39, SYS_RESOURCE: 24 } as const;

export function kernelVersion(): { text: string; major: number; minor: number } {
  const text = release();
  const m = /^(\d+)\.(\d+)/.exec(text);
  return { text, major: m ? Number(m[1]) : 0, minor: m ? Number(m[2]) : 0 };
}

export function kernelAtLeast(major: number, minor: number): boolean {
  const k = kernelVersion();
  return k.major > major || (k.major === major && k.minor >= minor);
}

export function hasBtf(): boolean {
  return existsSync(BTF_VMLINUX);
}

export function tracefsMounted(): boolean {
  return existsSync(`${TRACEFS}/events`);
}

/** Mount tracefs when it is missing; returns what happened. */
export function ensureTracefs(): { mounted: boolean; action: 'already' | 'mounted' | 'failed'; error?: string } {
  if (tracefsMounted()) return { mounted: true, action: 'already' };
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { stdio: 'pipe' });
    return { mounted: tracefsMounted(), action: 'mounted' };
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    return { mounted: false, action: 'failed', error: (e.stderr?.toString() || e.message).trim() };
  }
}

/** Effective capability bits of this process (from /proc/self/status CapEff). */
export function effectiveCaps(): bigint {
  const status = readFileSync('/proc/self/status', 'utf8');
  const m = /^CapEff:\s*([0-9a-f]+)/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

export function hasCap(cap: number, caps = effectiveCaps()): boolean {
  return (caps & (1n << BigInt(cap))) !== 0n;
}

/**
 * Whether this process may load and attach tracing BPF programs: root with
 * CAP_SYS_ADMIN, or CAP_BPF + CAP_PERFMON (kernel >= 5.8). Returns the reason when not.
 */
export function bpfPrivilege(): { ok: boolean; reason?: string } {
  const caps = effectiveCaps();
  if (hasCap(CAP.SYS_ADMIN, caps)) return { ok: true };
  if (hasCap(CAP.BPF, caps) && hasCap(CAP.PERFMON, caps)) return { ok: true };
  const uid = process.getuid?.() ?? -1;
  return {
    ok: false,
    reason: `loading eBPF probes needs root, or CAP_BPF and CAP_PERFMON (running as uid ${uid}, CapEff=0x${caps.toString(16)}): run as root or grant the capabilities (setcap cap_bpf,cap_perfmon,cap_sys_admin+ep on node)`,
  };
}

export function readSysctl(name: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Whether a tracepoint exists in tracefs (needs tracefs mounted). */
export function tracepointExists(category: string, name: string): boolean {
  return existsSync(`${TRACEFS}/events/${category}/${name}`);
}

/** Whether kprobes exist on this kernel (CONFIG_KPROBES): the fallback attach type. */
export function kprobesAvailable(): boolean {
  return existsSync(`${TRACEFS}/kprobe_events`) || existsSync('/sys/kernel/debug/tracing/kprobe_events');
}
