/**
 * uprobes/attach.ts — attaches every uprobe v2probe places: a uprobe plan
 * (collector/families/plans.ts, kind 'uprobe') to target binaries and processes, and
 * the app family's user-named symbols (appSpecs): resolve each program's
 * symbols in each binary (ELF symbols, .gopclntab when stripped), check the
 * binary is a Go program of a version the probe supports, and attach entry
 * uprobes through the native addon. Also fills go_sched's table of runtime
 * start functions (system goroutines) per binary.
 */
import { realpathSync } from 'node:fs';
import type { AttachResult, Probe as NativeProbe, UprobeSpec } from '../native/index.js';
import { FAMILIES } from '../bpf/families.gen.js';
import { KernelError } from '../collector/errors.js';
import { callReturnSites, functionOffsets, GoBinaryError, openGoBinary, processBinary, symbolOffset, type GoBinary } from './go-binary.js';
import type { AttachPlan } from '../collector/families/plans.js';
import type { ShmRing } from './shm-ring.js';

export interface UprobeTargets {
  /** executables: every process running them, now and later */
  binaries?: string[];
  /** processes: their executable, only for these pids */
  pids?: number[];
  /** app family: user uprobes (`--uprobe BINARY:SYMBOL[:pair=SYMBOL2]`), target index = position */
  app?: AppUprobe[];
  /** shm family: shared-memory rings (`--shm-ring`, uprobes/shm-ring.ts), ring index = position */
  shmRings?: ShmRing[];
}

export interface AppUprobe {
  binary: string;
  symbol: string;
  /** pair: latency from SYMBOL's entry to PAIR's entry on the same thread */
  pair?: string;
}

/** Parse `BINARY:SYMBOL[:pair=SYMBOL2]` (the binary path may not contain ':'). */
export function parseAppUprobe(spec: string): AppUprobe {
  const m = /^([^:]+):([^:]+)(?::pair=([^:]+))?$/.exec(spec.trim());
  if (!m) throw new GoBinaryError('NO_SYMBOL', `--uprobe '${spec}': expected BINARY:SYMBOL[:pair=SYMBOL2]`);
  return { binary: m[1], symbol: m[2], pair: m[3] };
}

/** Minimum Go version per family (each descriptor's minGoVersion): the register ABI (1.17) puts arguments in RAX; stwReason is 1.21. */
const MIN_GO: Record<string, readonly [number, number]> = Object.fromEntries(
  Object.values(FAMILIES).flatMap((d) => ('minGoVersion' in d ? [[d.name, d.minGoVersion]] : [])),
);

export interface ResolvedTarget {
  binary: string;
  pid?: number;
  bin: GoBinary;
}

/** Resolve targets to Go binaries; throws GoBinaryError (clear message) for a bad one. */
export function resolveTargets(t: UprobeTargets, family: string): ResolvedTarget[] {
  const out: ResolvedTarget[] = [];
  for (const b of t.binaries ?? []) {
    let path: string;
    try {
      path = realpathSync(b);
    } catch {
      throw new GoBinaryError('NO_PROCESS', `binary ${b} does not exist`);
    }
    out.push({ binary: path, bin: checkVersion(openGoBinary(path), family) });
  }
  for (const pid of t.pids ?? []) {
    const exe = processBinary(pid);
    out.push({ binary: exe, pid, bin: checkVersion(openGoBinary(exe), family) });
  }
  return out;
}

function checkVersion(bin: GoBinary, family: string): GoBinary {
  const min = MIN_GO[family];
  if (min) {
    const [ma, mi] = bin.build.version;
    if (ma < min[0] || (ma === min[0] && mi < min[1])) {
      throw new GoBinaryError('OLD_GO', `${bin.path} is ${bin.build.goVersion}: ${family} needs Go >= ${min[0]}.${min[1]} (register ABI${family === 'go_gc' ? ', stwReason' : ''})`);
    }
  }
  return bin;
}

/** The uprobe specs of a plan for the resolved targets (cookie = target index). */
export function planSpecs(plan: AttachPlan, targets: ResolvedTarget[]): UprobeSpec[] {
  const specs: UprobeSpec[] = [];
  targets.forEach((t, idx) => {
    for (const u of plan.uprobes ?? []) {
      const sym = u.symbols.find((s) => t.bin.funcs.some((f) => f.name === s));
      if (!sym) throw new GoBinaryError('NO_SYMBOL', `${t.bin.path} (${t.bin.build.goVersion}) has none of ${u.symbols.join(', ')}`);
      const cookie = BigInt(idx) | (BigInt(u.cookieRole ?? 0) << 32n);
      if (u.at === 'after-call') {
        const sites = callReturnSites(t.bin, sym, new RegExp(u.callers ?? '.'));
        if (sites.length === 0) throw new GoBinaryError('NO_SYMBOL', `${t.bin.path}: no call sites of ${sym} in ${u.callers}`);
        for (const s of sites) specs.push({ program: u.program, binary: t.binary, offset: s.offset, pid: t.pid, cookie });
      } else {
        specs.push({ program: u.program, binary: t.binary, offset: symbolOffset(t.bin, sym), pid: t.pid, cookie });
      }
    }
  });
  return specs;
}

/** go_sched: entry PCs of runtime.* goroutine start functions, per target (key {cookie, pc}). */
export function fillSystemStarts(probe: NativeProbe, targets: ResolvedTarget[]): number {
  let n = 0;
  targets.forEach((t, idx) => {
    if (t.bin.pie) return; // addresses need the load bias: not classified
    for (const f of t.bin.funcs) {
      if (!f.name.startsWith('runtime.') || f.name === 'runtime.main' || f.name === 'runtime.handleAsyncEvent') continue;
      const k = Buffer.alloc(16);
      k.writeBigUInt64LE(BigInt(idx), 0);
      k.writeBigUInt64LE(BigInt(f.addr), 8);
      try {
        probe.updateMap('sys_pcs', k, Buffer.from([1]));
        n++;
      } catch {
        return; // map full: the rest stays unclassified
      }
    }
  });
  return n;
}

/** app: one spec per target symbol; cookie = index | role << 32 (0 count, 1 pair start, 2 pair end). */
export function appSpecs(app: AppUprobe[], pids: number[] = []): UprobeSpec[] {
  if (app.length > 64) throw new GoBinaryError('NO_SYMBOL', `at most 64 --uprobe targets, got ${app.length}`);
  const specs: UprobeSpec[] = [];
  const bins = new Map<string, ReturnType<typeof functionOffsets>>();
  app.forEach((a, idx) => {
    let b = bins.get(a.binary);
    if (!b) bins.set(a.binary, (b = functionOffsets(a.binary, `--uprobe ${a.binary}`)));
    const role = a.pair ? 1 : 0;
    const targetsPids = pids.length ? pids : [-1];
    for (const pid of targetsPids) {
      specs.push({ program: 'app_uprobe', binary: b.path, offset: b.offsetOf(a.symbol), pid, cookie: BigInt(idx) | (BigInt(role) << 32n) });
      if (a.pair) specs.push({ program: 'app_uprobe', binary: b.path, offset: b.offsetOf(a.pair), pid, cookie: BigInt(idx) | (2n << 32n) });
    }
  });
  return specs;
}

/**
 * The collector's entry point for plans of kind 'uprobe': attach and return
 * the per-uprobe results (failed ones make the collector try the next plan).
 */
export async function attachUprobeResults(probe: NativeProbe, family: string, plan: AttachPlan, targets: UprobeTargets): Promise<AttachResult[]> {
  let specs: UprobeSpec[];
  if (family === 'app') {
    if (!targets.app?.length) throw new KernelError('ATTACH', 'app: no --uprobe BINARY:SYMBOL given');
    specs = appSpecs(targets.app, targets.pids);
  } else {
    const resolved = resolveTargets(targets, family);
    if (resolved.length === 0) throw new KernelError('ATTACH', `${family}: no target: give the Go program with --go-binary PATH or --go-pid PID`);
    specs = planSpecs(plan, resolved);
    if (family === 'go_sched') fillSystemStarts(probe, resolved);
  }
  const results = await probe.attachUprobes(specs);
  if (results.some((r) => !r.ok)) probe.detach();
  return results;
}
