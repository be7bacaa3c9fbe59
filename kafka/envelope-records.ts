/**
 * kafka/envelope-records.ts — version 2 of the Kafka envelope: one batch of
 * event records (`struct v2_event`, RECORD_FIELDS, 64 B each) as the ring
 * buffer gave them, so neither the collector nor the ingester makes a
 * JavaScript object per event (the ingester hands them to the store's binary
 * insert, schema/raw.ts).
 *
 * Wire format (version 2; version 1 is kafka/envelope.ts, still read):
 *   byte 0-1  'V2' magic, byte 2 version (2), byte 3 codec, byte 4 kind (1 events)
 *   byte 5-8  u32 LE length H of the header
 *   byte 9..  header, JSON (H bytes, not compressed: read without touching the body):
 *     { host, session, seq, sent_ns, mono_to_wall_ns, n, layout, crc32, probes: { <probe>: [rows, weight] } }
 *   byte 9+H.. body: the n records, transposed, compressed with the codec.
 * Transposed: a record is 16 little-endian u32 words; the body holds word 0 of
 * every record, then word 1 of every record, … (a column layout the
 * compressors like: constant high words vanish), and word 0 (the low half of
 * the timestamp) as differences from the record before (mod 2^32). Measured
 * in docs/binary-path.md ("Kafka"): brotli quality 3 on this layout gives
 * fewer bytes per event than version 1's brotli-5 JSON columns at a fraction
 * of the CPU.
 * `crc32` covers the transposed records (what the codec gives back), `layout`
 * is the crc32 of RECORD_FIELDS (a collector with another record layout is
 * refused, never misread), `probes` are the known records and their weight
 * sum per probe (the ingester's ledger rows, without reading the records).
 * Validation is per message — header, length, checksum — not per record;
 * records with an unknown probe or event id are left out by the store's
 * SELECT, by the same rule the collector counts them with.
 */
import { brotliCompressSync, brotliDecompressSync, constants as zc, crc32, gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { RECORD_FIELDS, RECORD_SIZE } from '../schema/event.js';
import { knownProbe, recordWeight } from '../schema/records.js';
import { KafkaError } from './client.js';

export const RECORDS_VERSION = 2;
const MAGIC = [0x56, 0x32] as const;
const FIXED_BYTES = 9;
const WORDS = RECORD_SIZE / 4;
/** the record layout's id: a collector and an ingester must agree on it */
export const RECORD_LAYOUT = crc32(JSON.stringify(RECORD_FIELDS));
/** records one message may declare (the sink sends at most MAX_ROWS_PER_MESSAGE) */
export const MAX_RECORDS = 1_000_000;
const MAX_HEADER = 64 << 10;

export const RECORD_CODECS = { none: 0, gzip: 1, brotli: 2 } as const;
export type RecordCodec = keyof typeof RECORD_CODECS;
export const DEFAULT_RECORD_CODEC: RecordCodec = 'brotli';
const CODEC_BY_ID = new Map<number, RecordCodec>(Object.entries(RECORD_CODECS).map(([k, v]) => [v, k as RecordCodec]));
const BROTLI_QUALITY = 3;

const Header = z.object({
  host: z.string().min(1).max(255),
  session: z.string().min(1).max(64),
  seq: z.number().int().min(0),
  sent_ns: z.string().regex(/^\d{1,20}$/),
  mono_to_wall_ns: z.string().regex(/^-?\d{1,20}$/),
  n: z.number().int().min(0).max(MAX_RECORDS),
  layout: z.number().int(),
  crc32: z.number().int().min(0).max(0xffffffff),
  probes: z.record(z.string().min(1).max(64), z.tuple([z.number().int().min(0), z.number().min(0)])),
});

export interface RecordsMeta {
  host: string;
  session: string;
  seq: number;
  /** wall-clock ns minus CLOCK_MONOTONIC ns of the collector that read the records */
  monoToWallNs: bigint;
}

/** A decoded (validated) version-2 message: the records stay transposed until written out. */
export interface RecordsEnvelope {
  version: typeof RECORDS_VERSION;
  codec: RecordCodec;
  kind: 'events';
  host: string;
  session: string;
  seq: number;
  sentNs: string;
  monoToWallNs: bigint;
  /** records in the message */
  n: number;
  /** known records and their weight sum, per probe (from the header) */
  probes: Record<string, [rows: number, weight: number]>;
  /** the n records, transposed (see the file's head): writeRecords() lays them out */
  planes: Buffer;
}

/** u32 view of a buffer (copied first when its offset is not 4-aligned). */
function words(b: Buffer): Uint32Array {
  const a = b.byteOffset % 4 === 0 ? b : Buffer.from(b);
  return new Uint32Array(a.buffer, a.byteOffset, a.length >> 2);
}

/** n records → planes (word w of record i at w*n + i; word 0 as differences). */
export function transpose(records: Buffer): Buffer {
  const n = Math.floor(records.length / RECORD_SIZE);
  const s = words(records.subarray(0, n * RECORD_SIZE));
  const out = Buffer.from(new ArrayBuffer(n * RECORD_SIZE));
  const d = new Uint32Array(out.buffer, 0, n * WORDS);
  let prev = 0;
  for (let i = 0, r = 0; i < n; i++, r += WORDS) {
    const lo = s[r];
    d[i] = (lo - prev) >>> 0;
    prev = lo;
    for (let w = 1; w < WORDS; w++) d[w * n + i] = s[r + w];
  }
  return out;
}

/**
 * Lay n transposed records out as rows of `stride` bytes (≥ 64) into `dst`
 * from row `at`; with `tag`, the u32 after each record (bytes 64-67) is set to
 * it (the ingester's per-message group index). `dst` must be 4-aligned.
 */
export function writeRecords(planes: Buffer, n: number, dst: Buffer, at = 0, stride = RECORD_SIZE, tag?: number): void {
  const s = words(planes);
  const sw = stride >> 2;
  const d = new Uint32Array(dst.buffer, dst.byteOffset, dst.length >> 2);
  let prev = 0;
  for (let i = 0, r = at * sw; i < n; i++, r += sw) {
    prev = (prev + s[i]) >>> 0;
    d[r] = prev;
    for (let w = 1; w < WORDS; w++) d[r + w] = s[w * n + i];
    if (tag !== undefined) d[r + WORDS] = tag;
  }
}

/** Known records and weight per probe (the header's `probes`). */
export function recordCensus(records: Buffer): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (let o = 0; o + RECORD_SIZE <= records.length; o += RECORD_SIZE) {
    const p = knownProbe(records, o);
    if (!p) continue;
    const e = (out[p] ??= [0, 0]);
    e[0]++;
    e[1] += recordWeight(records, o);
  }
  return out;
}

function compress(codec: RecordCodec, b: Buffer): Buffer {
  if (codec === 'gzip') return gzipSync(b, { level: 1 });
  if (codec === 'brotli') return brotliCompressSync(b, { params: { [zc.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [zc.BROTLI_PARAM_SIZE_HINT]: b.length } });
  return b;
}
function decompress(codec: RecordCodec, b: Buffer, size: number): Buffer {
  // the declared size bounds the output: a decompression bomb stops there (and fails the length check)
  const max = Math.max(size, 1);
  if (codec === 'gzip') return gunzipSync(b, { maxOutputLength: max });
  if (codec === 'brotli') return brotliDecompressSync(b, { maxOutputLength: max });
  return b;
}

/** Encode one batch of records (whole records only) of one collector. `probes`: recordCensus(records) when the caller has it. */
export function encodeRecordsEnvelope(records: Buffer, meta: RecordsMeta, codec: RecordCodec = DEFAULT_RECORD_CODEC, probes = recordCensus(records)): Buffer {
  const n = Math.floor(records.length / RECORD_SIZE);
  const planes = transpose(records);
  const header = Buffer.from(
    JSON.stringify({
      host: meta.host,
      session: meta.session,
      seq: meta.seq,
      sent_ns: (BigInt(Date.now()) * 1_000_000n).toString(),
      mono_to_wall_ns: meta.monoToWallNs.toString(),
      n,
      layout: RECORD_LAYOUT,
      crc32: crc32(planes),
      probes,
    }),
  );
  const fixed = Buffer.from([MAGIC[0], MAGIC[1], RECORDS_VERSION, RECORD_CODECS[codec], 1, 0, 0, 0, 0]);
  fixed.writeUInt32LE(header.length, 5);
  return Buffer.concat([fixed, header, compress(codec, planes)]);
}

const bad = (msg: string) => new KafkaError('ENVELOPE', msg);

function readHeader(buf: Buffer): { codec: RecordCodec | undefined; header: unknown; bodyAt: number } {
  if (buf.length < FIXED_BYTES) throw bad(`version-2 envelope too short (${buf.length} bytes)`);
  if (buf[4] !== 1) throw bad(`unknown envelope kind ${buf[4]} for version 2 (records are events: 1)`);
  const len = buf.readUInt32LE(5);
  if (len > MAX_HEADER || FIXED_BYTES + len > buf.length) throw bad(`version-2 header length ${len} does not fit the ${buf.length}-byte message`);
  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', FIXED_BYTES, FIXED_BYTES + len));
  } catch (err) {
    throw bad(`version-2 header is not JSON: ${(err as Error).message}`);
  }
  return { codec: CODEC_BY_ID.get(buf[3]), header, bodyAt: FIXED_BYTES + len };
}

/** Decode and validate a version-2 message (magic and version already checked): header, length, checksum; the records stay binary. */
export function decodeRecordsEnvelope(buf: Buffer): RecordsEnvelope {
  const { codec, header, bodyAt } = readHeader(buf);
  if (!codec) throw bad(`unknown body codec ${buf[3]}`);
  const h = Header.safeParse(header);
  if (!h.success) throw bad(`bad version-2 header: ${h.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const m = h.data;
  if (m.layout !== RECORD_LAYOUT) throw bad(`record layout ${m.layout} is not this ingester's (${RECORD_LAYOUT}): the collector was built with another struct v2_event`);
  const want = m.n * RECORD_SIZE;
  let planes: Buffer;
  try {
    planes = decompress(codec, buf.subarray(bodyAt), want);
  } catch (err) {
    throw bad(`body does not decode (${codec}): ${(err as Error).message}`);
  }
  if (planes.length !== want) throw bad(`body holds ${planes.length} bytes, the header declares ${m.n} records (${want} bytes)`);
  const sum = crc32(planes);
  if (sum !== m.crc32) throw bad(`checksum mismatch: body crc32 ${sum}, header ${m.crc32}`);
  const known = Object.values(m.probes).reduce((a, [r]) => a + r, 0);
  if (known > m.n) throw bad(`header counts ${known} known records in ${m.n}`);
  return {
    version: RECORDS_VERSION,
    codec,
    kind: 'events',
    host: m.host,
    session: m.session,
    seq: m.seq,
    sentNs: m.sent_ns,
    monoToWallNs: BigInt(m.mono_to_wall_ns),
    n: m.n,
    probes: m.probes,
    planes,
  };
}

/** Best effort for a version-2 message that failed to decode: what its header says (for the ledger of dead letters). */
export function peekRecordsEnvelope(buf: Buffer): { kind: 'events'; host: string; session: string; seq: number; rowsByProbe: Record<string, number> } | undefined {
  try {
    const { header } = readHeader(buf);
    const h = header as { host?: unknown; session?: unknown; seq?: unknown; probes?: Record<string, unknown> };
    if (typeof h.host !== 'string') return undefined;
    const rowsByProbe: Record<string, number> = {};
    for (const [p, v] of Object.entries(h.probes ?? {})) rowsByProbe[p] = Array.isArray(v) && typeof v[0] === 'number' ? v[0] : 0;
    if (!Object.keys(rowsByProbe).length) rowsByProbe[''] = 0;
    return { kind: 'events', host: h.host, session: String(h.session ?? ''), seq: Number(h.seq ?? 0) || 0, rowsByProbe };
  } catch {
    return undefined;
  }
}
