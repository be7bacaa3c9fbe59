/**
 * collector/bpf-maps.ts — the user side of the maps every probe family shares:
 * sums of per-CPU u64 arrays (counters, histograms, sample_skip). The runtime
 * config record (struct v2_config) is encoded by schema/event.ts encodeConfig. No collector state:
 * the collector, the profiler, the rtt session and the Go readers use it.
 */
import type { ProbeName } from '../schema/event.js';
import type { MapDump } from '../native/index.js';
import { readU64 } from './decode.js';

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
