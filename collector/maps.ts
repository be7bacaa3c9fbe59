/**
 * collector/maps.ts — the user side of the maps every probe family shares:
 * sums of per-CPU u64 arrays (counters, histograms, sample_skip), u64 fields
 * (readU64), the families' keyed count maps (decodeKeyedCounts), and the
 * offset from the BPF clock to the wall clock. No collector state: the
 * collector, the profiler, the rtt session and the Go readers use it. The
 * runtime config record (struct v2_config) is schema/event.ts encodeConfig.
 */
import type { ProbeName } from '../schema/event.js';
import { readU64 } from '../schema/records.js';
import type { MapDump } from '../native/index.js';
import type { FamilyAttach } from './families/plans.js';

/** A u64 field as a JS number (exact below 2^53: ns timestamps, counters): schema/records.ts. */
export { readU64 };

/** Current offset from CLOCK_MONOTONIC (what bpf_ktime_get_ns reads) to the wall clock. */
export function monoToWallOffset(): bigint {
  return BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
}


/** A raw map read (the native addon's readMap result). */
export interface MapRead { values: Buffer; valueSize: number; nCpu: number; count: number }

/** What readers of a family's maps need from the collector. */
export interface FamilyMapReader {
  readFamilyMap(name: ProbeName, map: string): MapDump | undefined;
}

/** Sum a per-CPU u64 array map into one number per index. */
export function sumPerCpu(m: MapRead, count: number): number[] {
  const stride = Math.ceil(m.valueSize / 8) * 8;
  const out = new Array<number>(count).fill(0);
  for (let i = 0; i < Math.min(count, m.count); i++) {
    const base = i * stride * m.nCpu;
    let s = 0;
    for (let c = 0; c < m.nCpu; c++) {
      const o = base + c * stride;
      s += readU64(m.values, o);
    }
    out[i] = s;
  }
  return out;
}

/** dev_kind keys: kinds from here on are unseen completions of kind - UNSEEN_KIND (V2_BLOCKIO_UNSEEN, bpf/blockio.bpf.c). */
export const UNSEEN_KIND = 8;

/** One entry of a family's keyed count map (Collector.keyedCounts). */
export interface KeyedCount { counter: string; pid: number; key: string; count: number; total: number; totalCounter?: string }

/**
 * The entries of a keyed count map (a family's `keyedCounts`, collector/families/plans.ts):
 * values are {u64 count, u64 total}; keys a pid, {pid, addr} or {dev, event kind}
 * (`events` names the kinds).
 */
export function decodeKeyedCounts(m: MapDump, k: NonNullable<FamilyAttach['keyedCounts']>[number], events: readonly string[]): KeyedCount[] {
  const out: KeyedCount[] = [];
  for (let i = 0; i < m.count; i++) {
    const ko = i * m.keySize;
    const vo = i * (m.perCpu ? Math.ceil(m.valueSize / 8) * 8 * m.nCpu : m.valueSize);
    const count = m.values.readUInt32LE(vo + 4) * 0x1_0000_0000 + m.values.readUInt32LE(vo);
    const total = m.values.readUInt32LE(vo + 12) * 0x1_0000_0000 + m.values.readUInt32LE(vo + 8);
    if (k.key === 'pid') {
      out.push({ counter: k.counter, pid: m.keys.readUInt32LE(ko), key: '', count, total, totalCounter: k.total });
    } else if (k.key === 'pid_addr') {
      // {u32 tgid, u32 pad, u64 addr}: e.g. futex waits per process and futex word
      const addr = m.keys.readBigUInt64LE(ko + 8).toString(16);
      out.push({ counter: k.counter, pid: m.keys.readUInt32LE(ko), key: `0x${addr}`, count, total, totalCounter: k.total });
    } else {
      // kind 8 + event: the completions of that kind the family's programs never ran for (blockio: unseen)
      const dev = m.keys.readUInt32LE(ko);
      const kindIdx = m.keys.readUInt32LE(ko + 4);
      const key = `${dev >>> 20}:${dev & 0xfffff}`;
      if (kindIdx >= UNSEEN_KIND) {
        const kind = events[kindIdx - UNSEEN_KIND] ?? 'other';
        out.push({ counter: `unseen_${kind}`, pid: 0, key, count, total, totalCounter: `unseen_bytes_${kind}` });
      } else {
        out.push({ counter: `${k.counter}_${events[kindIdx] ?? 'other'}`, pid: 0, key, count, total });
      }
    }
  }
  return out;
}
