/**
 * uprobes/shm-ring.ts — shared-memory rings (`--shm-ring`): parse and check a
 * ring's spec, and the entry uprobes that place the shm family's `shm_ring`
 * program (bpf/shm.bpf.c) on the ring's publish, consume and overflow
 * functions. The cookie tells the program which ring, which function, which
 * arguments hold the sequence number and the fill level, and the calling
 * convention (Go's register ABI or the C one, from the binary).
 *
 *   BINARY:publish=SYMBOL,consume=SYMBOL[,overflow=SYMBOL][,seq=argN][,fill=argN]
 *
 * argN counts from 0 (bpftrace's arg0 is the first argument); the defaults,
 * seq=arg1 and fill=arg2, fit `Publish(ring, seq, fill)`. A publish and a
 * consume pair by (ring, seq): seq must be unique among the ring's messages in
 * flight, whichever processes publish and consume.
 */
import type { UprobeSpec } from '../native/index.js';
import { functionOffsets, GoBinaryError, nearMatches } from './go-binary.js';

export interface ShmRing {
  binary: string;
  publish: string;
  consume: string;
  overflow?: string;
  /** argument index (0-based) of the sequence number and of the fill level */
  seq: number;
  fill: number;
}

/** at most this many rings (the cookie's ring byte; ring_pub keys) */
export const MAX_RINGS = 16;
const KEYS = ['publish', 'consume', 'overflow', 'seq', 'fill'] as const;
const MAX_ARG = { go: 8, c: 5 }; // Go amd64: RAX RBX RCX RDI RSI R8 R9 R10 R11; C: RDI RSI RDX RCX R8 R9
const ROLE = { publish: 0, consume: 1, overflow: 2 } as const;
const SPEC = 'BINARY:publish=SYMBOL,consume=SYMBOL[,overflow=SYMBOL][,seq=argN][,fill=argN]';

const bad = (spec: string, why: string) => new GoBinaryError('NO_SYMBOL', `--shm-ring '${spec}': ${why} (expected ${SPEC})`);

/** Parse a ring spec (syntax only; checkShmRing looks at the binary). */
export function parseShmRing(spec: string): ShmRing {
  const colon = spec.indexOf(':');
  if (colon <= 0) throw bad(spec, 'no BINARY: before the functions');
  const binary = spec.slice(0, colon).trim();
  const kv: Record<string, string> = {};
  for (const part of spec.slice(colon + 1).split(',')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    const value = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!(KEYS as readonly string[]).includes(key)) {
      const near = nearMatches(KEYS, key, 2);
      throw bad(spec, `unknown key '${key}'${near.length ? ` (did you mean ${near.join(' or ')}?)` : ''}; keys: ${KEYS.join(', ')}`);
    }
    if (!value) throw bad(spec, `${key}= has no value`);
    if (key in kv) throw bad(spec, `${key} given twice`);
    kv[key] = value;
  }
  for (const k of ['publish', 'consume'] as const) if (!kv[k]) throw bad(spec, `${k}=SYMBOL is required`);
  const arg = (k: 'seq' | 'fill', dflt: number): number => {
    if (kv[k] === undefined) return dflt;
    const m = /^arg(\d)$/i.exec(kv[k]);
    if (!m) throw bad(spec, `${k}=${kv[k]}: give the argument as arg0..arg8`);
    return Number(m[1]);
  };
  const seq = arg('seq', 1);
  const fill = arg('fill', 2);
  if (seq === fill) throw bad(spec, `seq and fill are the same argument (arg${seq})`);
  return { binary, publish: kv.publish, consume: kv.consume, overflow: kv.overflow, seq, fill };
}

/** Check a ring against its binary: the file, its functions (near matches), the argument registers of its convention. */
export function checkShmRing(r: ShmRing): void {
  shmRingSpecs([r]);
}

/** The uprobe specs of the rings (ring index = position), for every process (or these pids). */
export function shmRingSpecs(rings: ShmRing[], pids: number[] = []): UprobeSpec[] {
  if (rings.length > MAX_RINGS) throw new GoBinaryError('NO_SYMBOL', `at most ${MAX_RINGS} --shm-ring rings, got ${rings.length}`);
  const specs: UprobeSpec[] = [];
  rings.forEach((r, idx) => {
    const b = functionOffsets(r.binary, `--shm-ring ${r.binary}`);
    const max = b.go ? MAX_ARG.go : MAX_ARG.c;
    for (const [k, n] of [['seq', r.seq], ['fill', r.fill]] as const) {
      if (n > max) throw new GoBinaryError('NO_SYMBOL', `--shm-ring ${r.binary}: ${k}=arg${n}: a ${b.go ? 'Go' : 'C'} function's register arguments are arg0..arg${max}`);
    }
    const fns = [['publish', r.publish], ['consume', r.consume], ...(r.overflow ? [['overflow', r.overflow]] : [])] as Array<[keyof typeof ROLE, string]>;
    for (const [role, sym] of fns) {
      const cookie = BigInt(idx) | (BigInt(ROLE[role]) << 8n) | (BigInt(r.seq) << 12n) | (BigInt(r.fill) << 16n) | ((b.go ? 1n : 0n) << 24n);
      const offset = b.offsetOf(sym);
      for (const pid of pids.length ? pids : [-1]) specs.push({ program: 'shm_ring', binary: b.path, offset, pid, cookie });
    }
  });
  return specs;
}
