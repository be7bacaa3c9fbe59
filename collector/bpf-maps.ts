/**
 * collector/bpf-maps.ts — the user side of the maps every probe family shares:
 * the runtime config record (struct v2_config in bpf/v2probe.h) and sums of
 * per-CPU u64 arrays (counters, histograms, sample_skip). No collector state:
 * the collector, the profiler, the rtt session and the Go readers use it.
 */
import { CONFIG_SIZE, type ProbeName } from '../schema/event.js';
import type { MapDump } from '../native/index.js';
import { readU64 } from './decode.js';

/** A raw map read (the native addon's readMap result). */
export interface MapRead { values: Buffer; valueSize: number; nCpu: number; count: number }

/** What readers of a family's maps need from the collector. */
export interface FamilyMapReader {
  readFamilyMap(name: ProbeName, map: string): MapDump | undefined;
}

export function encodeConfig(o: {
  enabled: boolean; pid?: number; sampleEvery?: number; minValue?: number; comm?: string;
  cgroup?: number; burstRate?: number; burstSize?: number;
}): Buffer {
  const b = Buffer.alloc(CONFIG_SIZE);
  b.writeUInt32LE(o.enabled ? 1 : 0, 0);
  b.writeUInt32LE(o.pid ?? 0, 4);
  b.writeUInt32LE(Math.max(1, o.sampleEvery ?? 1), 8);
  b.writeUInt32LE(Math.min(o.minValue ?? 0, 0xffffffff), 12);
  if (o.comm) b.write(o.comm.slice(0, 15), 16, 'latin1');
  b.writeBigUInt64LE(BigInt(o.cgroup ?? 0), 32);
  b.writeUInt32LE(Math.min(o.burstRate ?? 0, 0xffffffff), 40);
  b.writeUInt32LE(Math.min(o.burstSize ?? 0, 0xffffffff), 44);
  return b;
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
