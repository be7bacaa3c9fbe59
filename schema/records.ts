/**
 * schema/records.ts — `struct v2_event` records (the ring buffer's 64-byte
 * rows, RECORD_FIELDS) read in JavaScript: the one rule for which records are
 * known (a probe id of the definition and an event index inside its list —
 * schema/raw.ts's WHERE is the same rule in SQL), byte offsets from the one
 * layout, and the decoding of a batch into event rows for the places that need
 * objects (the stdout sink, the row path, human-facing decoding of a Kafka
 * message). The binary paths (store inserts, Kafka version 2) never decode.
 */
import { ATTRIBUTE_COLUMNS, PROBES, PROBE_BY_ID, type AttributeName, RECORD_FIELDS, RECORD_SIZE, type EventRow, type ProbeDef, type ProbeName } from './event.js';

type FieldName = (typeof RECORD_FIELDS)[number]['name'];
/** byte offset of a field in a record (RECORD_FIELDS, checked against bpf/v2probe.h by test/schema/layout.test.ts) */
export const offsetOf = (name: FieldName): number => RECORD_FIELDS.find((f) => f.name === name)!.offset;
export const OFF = {
  ts: offsetOf('ts_ns'),
  value: offsetOf('value'),
  arg0: offsetOf('arg0'),
  arg1: offsetOf('arg1'),
  pid: offsetOf('pid'),
  tid: offsetOf('tid'),
  weight: offsetOf('weight'),
  probe: offsetOf('probe'),
  event: offsetOf('event'),
  cpu: offsetOf('cpu'),
  comm: offsetOf('comm'),
} as const;

/** per probe id: its name and definition (index = id) */
const KNOWN: Array<{ name: ProbeName; def: ProbeDef } | undefined> = [];
for (const [id, name] of PROBE_BY_ID) KNOWN[id] = { name, def: PROBES[name] as ProbeDef };

/** The probe name of the record at `o` when the record is known (its probe id and event index are in the definition), else undefined. */
export function knownProbe(buf: Buffer, o: number): ProbeName | undefined {
  const k = KNOWN[buf[o + OFF.probe]];
  return k && buf[o + OFF.event] < k.def.events.length ? k.name : undefined;
}

/** The weight a record stands for (0 in a record means 1). */
export const recordWeight = (buf: Buffer, o: number): number => buf.readUInt32LE(o + OFF.weight) || 1;

const U32 = 0x1_0000_0000;
export function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off + 4) * U32 + buf.readUInt32LE(off);
}
function readS64(buf: Buffer, off: number): number {
  return buf.readInt32LE(off + 4) * U32 + buf.readUInt32LE(off);
}
function readComm(buf: Buffer, off: number): string {
  let end = off;
  while (end < off + 16 && buf[end] !== 0) end++;
  return buf.toString('latin1', off, end);
}

export interface DecodeContext {
  host: string;
  /** wall-clock ns minus CLOCK_MONOTONIC ns (bpf_ktime_get_ns) */
  monoToWallNs: bigint;
}

export interface DecodeResult {
  rows: EventRow[];
  /** records with an unknown probe id or event index, and a trailing partial record (counted, never silently dropped) */
  rejected: number;
}

/** Call `each` for every known record of a batch; returns the rejected ones (unknown ids, a trailing partial record). */
export function forEachKnown(buf: Buffer, each: (o: number, probe: ProbeName, def: ProbeDef) => void): number {
  let rejected = 0;
  const n = Math.floor(buf.length / RECORD_SIZE);
  for (let o = 0; o < n * RECORD_SIZE; o += RECORD_SIZE) {
    const probe = knownProbe(buf, o);
    if (probe) each(o, probe, KNOWN[buf[o + OFF.probe]]!.def);
    else rejected++;
  }
  return rejected + (buf.length % RECORD_SIZE ? 1 : 0);
}

export function decodeBatch(buf: Buffer, ctx: DecodeContext): DecodeResult {
  const rows: EventRow[] = [];
  const rejected = forEachKnown(buf, (o, probe, def) => {
    const ts = buf.readBigUInt64LE(o + OFF.ts) + ctx.monoToWallNs;
    const row: EventRow = {
      ts: ts.toString(),
      host: ctx.host,
      probe,
      event: def.events[buf[o + OFF.event]],
      pid: buf.readUInt32LE(o + OFF.pid),
      tid: buf.readUInt32LE(o + OFF.tid),
      comm: readComm(buf, o + OFF.comm),
      value: readS64(buf, o + OFF.value),
      weight: recordWeight(buf, o),
      cpu: buf.readUInt16LE(o + OFF.cpu),
    };
    if (def.args.arg0) setArg(row, def.args.arg0, buf, o + OFF.arg0);
    if (def.args.arg1) setArg(row, def.args.arg1, buf, o + OFF.arg1);
    rows.push(row);
  });
  return { rows, rejected };
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
  const rejected = forEachKnown(buf, (o, probe, def) => {
    const event = def.events[buf[o + OFF.event]];
    let t = out.get(probe);
    if (!t) out.set(probe, (t = { rows: 0, weights: new Map() }));
    t.rows++;
    t.weights.set(event, (t.weights.get(event) ?? 0) + recordWeight(buf, o));
  });
  return { rows: out, rejected };
}

function setArg(row: EventRow, name: AttributeName, buf: Buffer, off: number): void {
  (row as Record<string, unknown>)[name] = ATTRIBUTE_COLUMNS[name].from === 'i64' ? readS64(buf, off) : readU64(buf, off);
}
