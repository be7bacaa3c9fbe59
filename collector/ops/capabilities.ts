/**
 * collector/ops/capabilities.ts — which capabilities the running collector still
 * needs after its probes are attached, and the process-wide drop of all the
 * others (the native addon's dropCapabilities: every thread, bounding set,
 * ambient set, no_new_privs; verified per thread from /proc). Also what the
 * process holds now, for /metrics (v2probe_capability_held) and the control
 * API (GET /capabilities, `v2probe ctl caps`). See SECURITY.md "Capabilities".
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { isCapDropError, loadNative, type CapDropReport } from '../../native/index.js';
import { KernelError } from '../errors.js';
import { kernelAtLeast } from '../families/kernel.js';

/** Capability numbers → names (linux/capability.h); beyond the table: CAP_<n>. */
export const CAP_NAMES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

export function capNumber(name: string): number {
  const n = CAP_NAMES.indexOf(name.toUpperCase().replace(/^(CAP_)?/, 'CAP_') as (typeof CAP_NAMES)[number]);
  if (n < 0) throw new Error(`unknown capability '${name}'`);
  return n;
}

/** The names of the bits set in a mask. */
export function capNames(mask: bigint): string[] {
  const out: string[] = [];
  for (let c = 0; c < 64; c++) if (mask & (1n << BigInt(c))) out.push(CAP_NAMES[c] ?? `CAP_${c}`);
  return out;
}

export function capMask(names: readonly string[]): bigint {
  return names.reduce((m, n) => m | (1n << BigInt(capNumber(n))), 0n);
}

/** What the running collector does after attaching that needs a capability. */
export interface CapabilityNeeds {
  /** the process's uid (0: root-owned files such as tracefs are its own) */
  uid: number;
  /** uprobes on executables given by path (--go-binary, --uprobe): re-attached by `ctl enable` */
  binaries?: boolean;
  /** processes given by pid or found while running (--go-pid, --explain brokers): /proc/PID/exe of other users */
  processes?: boolean;
  /** for tests: the kernel version instead of the running one */
  kernel?: { major: number; minor: number };
}

/**
 * The capabilities to keep, each with why. Attaching again at run time (the
 * control API's enable, the governor's restore, brokers found by --explain)
 * loads programs, creates maps and opens perf events, so the eBPF pair stays.
 */
export function capabilitiesNeeded(n: CapabilityNeeds): Record<string, string> {
  const atLeast = (maj: number, min: number) => (n.kernel ? n.kernel.major > maj || (n.kernel.major === maj && n.kernel.minor >= min) : kernelAtLeast(maj, min));
  const keep: Record<string, string> = {};
  if (atLeast(5, 8)) {
    keep.CAP_BPF = 'bpf(2): load programs, create maps and BTF when a probe is enabled again (ctl enable, governor restore); map reads';
    keep.CAP_PERFMON = 'attach tracing programs (tracepoints, tp_btf/raw_tp, kprobes, uprobes) and perf events when a probe is enabled again';
  } else {
    keep.CAP_SYS_ADMIN = 'kernel < 5.8 has no CAP_BPF/CAP_PERFMON: loading and attaching at run time needs CAP_SYS_ADMIN';
  }
  if (!atLeast(5, 11)) keep.CAP_SYS_RESOURCE = 'kernel < 5.11 charges BPF maps to RLIMIT_MEMLOCK';
  if (n.uid !== 0) keep.CAP_DAC_READ_SEARCH = 'tracepoint ids under /sys/kernel/tracing (mode 0700, root\'s) when a probe is enabled again';
  else if (n.binaries || n.processes) keep.CAP_DAC_READ_SEARCH = 'executables of other users (uprobes re-attached or attached to processes found later)';
  if (n.processes) keep.CAP_SYS_PTRACE = '/proc/PID/exe of other users\' processes (--go-pid, --explain brokers found while running)';
  return keep;
}

/** One thread's sets, from /proc/PID/task/TID/status. */
export interface ThreadCaps {
  tid: number;
  name: string;
  eff: bigint;
  prm: bigint;
  inh: bigint;
  bnd: bigint;
  amb: bigint;
  noNewPrivs: boolean;
}

/** Every thread of a process (default: this one). Threads that exit while read are left out. */
export function threadCaps(pid: number | 'self' = 'self'): ThreadCaps[] {
  const out: ThreadCaps[] = [];
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    let s: string;
    try {
      s = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue;
    }
    const hex = (k: string) => BigInt(`0x${new RegExp(`^${k}:\\s*([0-9a-f]+)`, 'm').exec(s)?.[1] ?? '0'}`);
    out.push({
      tid: Number(tid),
      name: /^Name:\s*(.*)$/m.exec(s)?.[1] ?? '',
      eff: hex('CapEff'),
      prm: hex('CapPrm'),
      inh: hex('CapInh'),
      bnd: hex('CapBnd'),
      amb: hex('CapAmb'),
      noNewPrivs: /^NoNewPrivs:\s*1/m.test(s),
    });
  }
  return out;
}

/** What the collector did with its capabilities (shown by /metrics, the control API and the logs). */
export interface CapabilityState {
  /** dropped: every thread holds only `kept`; kept-all: --keep-capabilities; none: held nothing to begin with */
  mode: 'dropped' | 'kept-all' | 'none';
  /** the kept set, with why (mode dropped) */
  kept: Record<string, string>;
  /** what was held before and is not any more */
  dropped: string[];
  boundingDropped: boolean;
  noNewPrivs: boolean;
  /** threads changed and verified */
  threads: number;
}

/** Permitted ∪ effective of every thread now. */
export function heldNow(): bigint {
  return threadCaps().reduce((m, t) => m | t.prm | t.eff, 0n);
}

/**
 * Drop everything but `keep` on every thread, or (keepAll) log what is held.
 * Throws KernelError('CAPABILITIES') naming the thread and errno when a
 * thread could not be changed (the process is then partly privileged: stop).
 */
export function dropCollectorCapabilities(keep: Record<string, string>, o: { keepAll: boolean; logger: Logger }): CapabilityState {
  const held = heldNow();
  const state: CapabilityState = { mode: 'none', kept: {}, dropped: [], boundingDropped: false, noNewPrivs: false, threads: 0 };
  if (held === 0n) {
    o.logger.info('capabilities: none held, nothing to drop');
    return state;
  }
  if (o.keepAll) {
    o.logger.warn({ held: capNames(held) }, 'capabilities: keeping every capability the process started with (--keep-capabilities)');
    return { ...state, mode: 'kept-all' };
  }
  const t0 = process.hrtime.bigint();
  let r: CapDropReport;
  try {
    r = loadNative().dropCapabilities(Object.keys(keep));
  } catch (err) {
    if (isCapDropError(err)) {
      const bad = err.report.threads.filter((t) => !t.ok);
      o.logger.error({ err: err.message, code: err.code, threads: bad.slice(0, 20) }, 'capabilities: the drop failed');
      throw new KernelError('CAPABILITIES', `${err.message} — stopping; run with --keep-capabilities (keep_capabilities: true) to skip the drop`, { cause: err });
    }
    throw err;
  }
  const kept = Object.fromEntries(r.kept.map((k) => [k, keep[k] ?? '']));
  const notHeld = Object.keys(keep).filter((k) => !r.kept.includes(k));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  o.logger.info(
    { kept: r.kept, notHeld: notHeld.length ? notHeld : undefined, dropped: r.dropped, threads: r.threads.length, rounds: r.rounds, boundingDropped: r.boundingDropped, noNewPrivs: r.noNewPrivs, ms: +ms.toFixed(1) },
    `dropped ${r.dropped.length} capabilities on every thread; kept ${r.kept.join(', ') || 'none'}`,
  );
  if (!r.boundingDropped && (BigInt(`0x${r.threads[0]?.capBnd ?? '0'}`) & ~capMask(r.kept)) !== 0n) {
    o.logger.warn('capabilities: the bounding set was left as it was (no CAP_SETPCAP): bound it from outside (systemd CapabilityBoundingSet=)');
  }
  return { mode: 'dropped', kept, dropped: r.dropped, boundingDropped: r.boundingDropped, noNewPrivs: r.noNewPrivs, threads: r.threads.length };
}

/** What GET /capabilities and `ctl caps` show: the state, and what every thread holds now. */
export function capabilityReport(state: CapabilityState): CapabilityState & { held: string[]; threadsOverKept: number } {
  const keptMask = state.mode === 'dropped' ? capMask(Object.keys(state.kept)) : undefined;
  const threads = threadCaps();
  const held = threads.reduce((m, t) => m | t.prm | t.eff, 0n);
  return {
    ...state,
    held: capNames(held),
    threadsOverKept: keptMask === undefined ? 0 : threads.filter((t) => ((t.prm | t.eff) & ~keptMask) !== 0n).length,
  };
}

/** v2probe_capability_held{capability} (read at scrape time, every thread) and v2probe_capabilities_dropped. */
export function registerCapabilityMetrics(reg: Registry, state: () => CapabilityState): void {
  new Gauge({
    name: 'v2probe_capability_held',
    help: 'A capability some thread of the collector holds now (permitted or effective set, read from /proc/self/task at scrape time).',
    labelNames: ['capability'],
    registers: [reg],
    collect() {
      this.reset();
      for (const c of capNames(heldNow())) this.set({ capability: c }, 1);
    },
  });
  new Gauge({
    name: 'v2probe_capabilities_dropped',
    help: '1 when every thread dropped all capabilities but the kept ones after attaching (0: --keep-capabilities, or none were held).',
    registers: [reg],
    collect() {
      this.set(state().mode === 'dropped' ? 1 : 0);
    },
  });
}
