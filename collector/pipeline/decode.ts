/**
 * collector/pipeline/decode.ts — turn a batch of `struct v2_event` records (bytes from
 * the native ring-buffer thread) into store rows, using the layout and names
 * of schema/event.ts.
 */
import { PROBES, PROBE_BY_ID, RECORD_SIZE, type EventRow, type ProbeDef, type ProbeName } from '../../schema/event.js';
import { readU64 } from '../maps.js';

export interface DecodeContext {
  host: string;
  /** wall-clock ns minus CLOCK_MONOTONIC ns (bpf_ktime_get_ns) */
  monoToWallNs: bigint;
}

const U32 = 0x1_0000_0000;

function readS64(buf: Buffer, off: number): number {
  return buf.readInt32LE(off + 4) * U32 + buf.readUInt32LE(off);
}
function readComm(buf: Buffer, off: number): string {
  let end = off;
  while (end < off + 16 && buf[end] !== 0) end++;
  return buf.toString('latin1', off, end);
}

export interface DecodeResult {
  rows: EventRow[];
  /** records with an unknown probe id or event index (counted, never silently dropped) */
  rejected: number;
}

export function decodeBatch(buf: Buffer, ctx: DecodeContext): DecodeResult {
  const rows: EventRow[] = [];
  let rejected = 0;
  const n = Math.floor(buf.length / RECORD_SIZE);
  for (let i = 0; i < n; i++) {
    const o = i * RECORD_SIZE;
    const probeName = PROBE_BY_ID.get(buf[o + 44]);
    const def = probeName ? (PROBES[probeName] as ProbeDef) : undefined;
    const event = def?.events[buf[o + 45]];
    if (!probeName || !def || !event) {
      rejected++;
      continue;
    }
    const ts = buf.readBigUInt64LE(o) + ctx.monoToWallNs;
    const row: EventRow = {
      ts: ts.toString(),
      host: ctx.host,
      probe: probeName,
      event,
      pid: buf.readUInt32LE(o + 32),
      tid: buf.readUInt32LE(o + 36),
      comm: readComm(buf, o + 48),
      value: readS64(buf, o + 8),
      weight: buf.readUInt32LE(o + 40) || 1,
      cpu: buf.readUInt16LE(o + 46),
    };
    if (def.args.arg0) setArg(row, def.args.arg0, buf, o + 16);
    if (def.args.arg1) setArg(row, def.args.arg1, buf, o + 24);
    rows.push(row);
  }
  return { rows, rejected: rejected + (buf.length % RECORD_SIZE ? 1 : 0) };
}

export interface TallyResult {
  /** rows decodeBatch would make, per probe, and their weight per event */
  rows: Map<ProbeName, { rows: number; weights: Map<string, number> }>;
  /** records decodeBatch would reject (same rules) */
  rejected: number;
}

/**
 * What decodeBatch would make of a batch, without making it: rows and weight
 * per probe and event, and rejected records. For dropping a whole batch
 * (counted, weights carried) without building rows nobody will write.
 */
export function tallyBatch(buf: Buffer): TallyResult {
  const out: TallyResult['rows'] = new Map();
  let rejected = 0;
  const n = Math.floor(buf.length / RECORD_SIZE);
  for (let i = 0; i < n; i++) {
    const o = i * RECORD_SIZE;
    const probeName = PROBE_BY_ID.get(buf[o + 44]);
    const event = probeName ? (PROBES[probeName] as ProbeDef).events[buf[o + 45]] : undefined;
    if (!probeName || !event) {
      rejected++;
      continue;
    }
    let t = out.get(probeName);
    if (!t) out.set(probeName, (t = { rows: 0, weights: new Map() }));
    t.rows++;
    t.weights.set(event, (t.weights.get(event) ?? 0) + (buf.readUInt32LE(o + 40) || 1));
  }
  return { rows: out, rejected: rejected + (buf.length % RECORD_SIZE ? 1 : 0) };
}

function setArg(row: EventRow, name: keyof typeof ATTR_SIGNED, buf: Buffer, off: number): void {
  (row as Record<string, unknown>)[name] = ATTR_SIGNED[name] ? readS64(buf, off) : readU64(buf, off);
}
const ATTR_SIGNED = { fd: true, ret: true, dev: false, bytes: false, peer_pid: false, state: false, addr: true, seq: false, target: false } as const;
