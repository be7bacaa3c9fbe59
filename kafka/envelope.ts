/**
 * kafka/envelope.ts — the versioned message a collector writes to
 * Kafka and an ingester reads: one batch of rows of one kind.
 *
 * Wire format (version 1):
 *   byte 0-1  'V2' magic
 *   byte 2    envelope schema version (ENVELOPE_VERSION)
 *   byte 3    body codec (CODECS: 0 none, 1 gzip, 2 brotli)
 *   byte 4    kind (1 events, 2 counters, 3 histograms)
 *   byte 5..  body: JSON, compressed with the codec:
 *     { host, probes, session, seq, sent_ns, ts_base, n, cols: { <column>: [values...] } }
 *
 * The columns are derived from the one event definition (schema/event.ts):
 * events use EVENT_COLUMNS (minus `host`, which the header carries once), and
 * `ts` is sent as offsets in ns from `ts_base` (a decimal string; an offset past
 * 2^53 as a decimal string too), so a batch
 * of rows is a handful of number arrays — compact before and after compression.
 * Decoding validates the header and every row with the zod rows of the same
 * definition (EventRow, CounterRow, HistogramRow).
 *
 * Version 2 (kafka/envelope-records.ts) carries event records as the ring
 * buffer gave them; the collector's Kafka sink writes its events that way and
 * version 1 for counters and histograms. decodeMessage() is the ingester's:
 * version 1 as rows, version 2 as records (validated per message, never
 * decoded per row); decodeEnvelope() gives rows for either (tools, tests).
 */
import { brotliCompressSync, brotliDecompressSync, constants as zc, gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { CounterRow, EVENT_COLUMNS, EventRow, HistogramRow } from '../schema/event.js';
import { KafkaError } from './client.js';
import { decodeBatch } from '../schema/records.js';
import { decodeRecordsEnvelope, peekRecordsEnvelope, RECORDS_VERSION, writeRecords, type RecordsEnvelope } from './envelope-records.js';

/** the version the rows of this file are written with (events go as RECORDS_VERSION records) */
export const ENVELOPE_VERSION = 1;
/** every version an ingester reads */
export const ENVELOPE_VERSIONS = [ENVELOPE_VERSION, RECORDS_VERSION] as const;
const MAGIC0 = 0x56; // 'V'
const MAGIC1 = 0x32; // '2'
export const HEADER_BYTES = 5;

export const CODECS = { none: 0, gzip: 1, brotli: 2 } as const;
export type Codec = keyof typeof CODECS;
/** Picked by bench/pipeline.ts (bytes/event and CPU; see README). */
export const DEFAULT_CODEC: Codec = 'brotli';
const CODEC_BY_ID = new Map<number, Codec>(Object.entries(CODECS).map(([k, v]) => [v, k as Codec]));

export const KINDS = { events: 1, counters: 2, histograms: 3 } as const;
export type Kind = keyof typeof KINDS;
const KIND_BY_ID = new Map<number, Kind>(Object.entries(KINDS).map(([k, v]) => [v, k as Kind]));

export type RowOf<K extends Kind> = K extends 'events' ? EventRow : K extends 'counters' ? CounterRow : HistogramRow;

/** Column lists per kind, from the event definition. */
export const ENVELOPE_COLUMNS: Record<Kind, readonly string[]> = {
  events: EVENT_COLUMNS.map((c) => c.name).filter((n) => n !== 'host'),
  counters: Object.keys(CounterRow.shape).filter((n) => n !== 'host'),
  histograms: Object.keys(HistogramRow.shape).filter((n) => n !== 'host'),
};
const ROW_SCHEMA = { events: EventRow, counters: CounterRow, histograms: HistogramRow } as const;

/** Rows one envelope may declare (the sink sends at most 20,000; a bigger `n` is rejected, never allocated). */
export const MAX_ENVELOPE_ROWS = 1_000_000;

export interface EnvelopeMeta {
  host: string;
  /** collector process session (random per start): with seq, identifies a batch */
  session: string;
  seq: number;
}

const Body = z.object({
  host: z.string().min(1).max(255),
  probes: z.array(z.string()),
  session: z.string().min(1).max(64),
  seq: z.number().int().min(0),
  sent_ns: z.string().regex(/^\d{1,20}$/),
  ts_base: z.string().regex(/^\d{1,20}$/),
  n: z.number().int().min(0).max(MAX_ENVELOPE_ROWS),
  cols: z.record(z.string(), z.array(z.unknown())),
});
export type EnvelopeBody = z.infer<typeof Body>;

export interface Envelope<K extends Kind = Kind> {
  version: number;
  codec: Codec;
  kind: K;
  host: string;
  probes: string[];
  session: string;
  seq: number;
  sentNs: string;
  rows: RowOf<K>[];
}

function compress(codec: Codec, b: Buffer): Buffer {
  if (codec === 'gzip') return gzipSync(b, { level: 6 });
  if (codec === 'brotli') return brotliCompressSync(b, { params: { [zc.BROTLI_PARAM_QUALITY]: 5, [zc.BROTLI_PARAM_SIZE_HINT]: b.length } });
  return b;
}
function decompress(codec: Codec, b: Buffer): Buffer {
  if (codec === 'gzip') return gunzipSync(b, { maxOutputLength: 256 << 20 });
  if (codec === 'brotli') return brotliDecompressSync(b, { maxOutputLength: 256 << 20 });
  return b;
}

const nowNs = () => (BigInt(Date.now()) * 1_000_000n).toString();

/** Encode one batch of rows of one kind (all from `meta.host`). */
export function encodeEnvelope<K extends Kind>(kind: K, rows: readonly RowOf<K>[], meta: EnvelopeMeta, codec: Codec = DEFAULT_CODEC): Buffer {
  const names = ENVELOPE_COLUMNS[kind];
  let base = rows.length ? BigInt((rows[0] as { ts: string }).ts) : 0n;
  for (const r of rows) {
    const t = BigInt((r as { ts: string }).ts);
    if (t < base) base = t;
  }
  const cols: Record<string, unknown[]> = {};
  const probes = new Set<string>();
  for (const name of names) {
    const col = new Array<unknown>(rows.length);
    let any = false;
    for (let i = 0; i < rows.length; i++) {
      const v = (rows[i] as Record<string, unknown>)[name];
      if (name === 'ts') {
        // offsets past 2^53 ns (~104 days of spread in one batch) would lose precision as JSON numbers: send those as decimal strings
        const off = BigInt(v as string) - base;
        col[i] = off <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(off) : off.toString();
      }
      else col[i] = v === undefined ? null : v;
      if (v !== undefined) any = true;
    }
    if (any) cols[name] = col;
  }
  for (const r of rows) probes.add((r as { probe: string }).probe);
  const body: EnvelopeBody = {
    host: meta.host,
    probes: [...probes],
    session: meta.session,
    seq: meta.seq,
    sent_ns: nowNs(),
    ts_base: base.toString(),
    n: rows.length,
    cols,
  };
  const payload = compress(codec, Buffer.from(JSON.stringify(body)));
  const head = Buffer.from([MAGIC0, MAGIC1, ENVELOPE_VERSION, CODECS[codec], KINDS[kind]]);
  return Buffer.concat([head, payload]);
}

const bad = (msg: string) => new KafkaError('ENVELOPE', msg);

/** One message as the ingester takes it: version 1 rows, or version 2 records (validated, still binary). */
export type Message = Envelope | RecordsEnvelope;

function checkHead(buf: Buffer | null): asserts buf is Buffer {
  if (!buf || buf.length < HEADER_BYTES) throw bad(`envelope too short (${buf?.length ?? 0} bytes)`);
  if (buf[0] !== MAGIC0 || buf[1] !== MAGIC1) throw bad(`not a v2probe envelope (magic 0x${buf.subarray(0, 2).toString('hex')})`);
  if (!(ENVELOPE_VERSIONS as readonly number[]).includes(buf[2])) throw bad(`envelope schema version ${buf[2]} is not supported (this ingester reads versions ${ENVELOPE_VERSIONS.join(', ')})`);
}

/** Decode and validate for the ingester; throws KafkaError('ENVELOPE') naming what is wrong. */
export function decodeMessage(buf: Buffer | null): Message {
  checkHead(buf);
  return buf[2] === RECORDS_VERSION ? decodeRecordsEnvelope(buf) : decodeRows(buf);
}

/** Rows of a message (version 2 records decoded to rows: for tools and tests, not the ingester's path). */
export function decodeEnvelope(buf: Buffer | null): Envelope {
  const m = decodeMessage(buf);
  if (!isRecords(m)) return m;
  const records = Buffer.from(new ArrayBuffer(m.planes.length));
  writeRecords(m.planes, m.n, records);
  const rows = decodeBatch(records, { host: m.host, monoToWallNs: m.monoToWallNs }).rows;
  return { version: m.version, codec: m.codec, kind: 'events', host: m.host, probes: Object.keys(m.probes), session: m.session, seq: m.seq, sentNs: m.sentNs, rows };
}

/** Rows in a message (records in version 2, known or not). */
export const messageRows = (m: Message): number => (isRecords(m) ? m.n : m.rows.length);
export const isRecords = (m: Message): m is RecordsEnvelope => 'planes' in m;

function decodeRows(buf: Buffer): Envelope {
  const codec = CODEC_BY_ID.get(buf[3]);
  if (!codec) throw bad(`unknown body codec ${buf[3]}`);
  const kind = KIND_BY_ID.get(buf[4]);
  if (!kind) throw bad(`unknown envelope kind ${buf[4]}`);
  let json: unknown;
  try {
    json = JSON.parse(decompress(codec, buf.subarray(HEADER_BYTES)).toString('utf8'));
  } catch (err) {
    throw bad(`body does not decode (${codec}): ${(err as Error).message}`);
  }
  const h = Body.safeParse(json);
  if (!h.success) throw bad(`bad envelope header: ${h.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const b = h.data;
  const names = ENVELOPE_COLUMNS[kind];
  for (const [k, col] of Object.entries(b.cols)) {
    if (!names.includes(k)) throw bad(`unknown column '${k}' for ${kind}`);
    if (col.length !== b.n) throw bad(`column '${k}' has ${col.length} values, expected ${b.n}`);
  }
  const base = BigInt(b.ts_base);
  const schema = ROW_SCHEMA[kind];
  const rows: RowOf<Kind>[] = new Array(b.n);
  const present = names.filter((n) => b.cols[n]);
  for (let i = 0; i < b.n; i++) {
    const r: Record<string, unknown> = { host: b.host };
    for (const name of present) {
      const v = b.cols[name][i];
      if (v === null) continue;
      if (name === 'ts') {
        const okNum = typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
        if (!okNum && !(typeof v === 'string' && /^\d{1,20}$/.test(v))) throw bad(`row ${i}: ts offset ${JSON.stringify(v)} is not a non-negative integer`);
        r.ts = (base + BigInt(v)).toString();
      } else r[name] = v;
    }
    const p = schema.safeParse(r);
    if (!p.success) throw bad(`row ${i} is invalid: ${p.error.issues.slice(0, 3).map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
    rows[i] = p.data as RowOf<Kind>;
  }
  return { version: buf[2], codec, kind, host: b.host, probes: b.probes, session: b.session, seq: b.seq, sentNs: b.sent_ns, rows };
}

/** Best effort for a message that failed decodeEnvelope: what its header says (for the ledger of dead letters). */
export function peekEnvelope(buf: Buffer | null): { kind: Kind; host: string; session: string; seq: number; rowsByProbe: Record<string, number> } | undefined {
  try {
    if (!buf || buf.length < HEADER_BYTES || buf[0] !== MAGIC0 || buf[1] !== MAGIC1) return undefined;
    if (buf[2] === RECORDS_VERSION) return peekRecordsEnvelope(buf);
    const codec = CODEC_BY_ID.get(buf[3]);
    const kind = KIND_BY_ID.get(buf[4]);
    if (!codec || !kind) return undefined;
    const b = JSON.parse(decompress(codec, buf.subarray(HEADER_BYTES)).toString('utf8')) as Partial<EnvelopeBody>;
    if (typeof b.host !== 'string') return undefined;
    const rowsByProbe: Record<string, number> = {};
    const probe = b.cols?.probe;
    if (kind === 'events' && Array.isArray(probe)) for (const p of probe) rowsByProbe[String(p)] = (rowsByProbe[String(p)] ?? 0) + 1;
    else rowsByProbe[''] = typeof b.n === 'number' ? b.n : 0;
    return { kind, host: b.host, session: String(b.session ?? ''), seq: Number(b.seq ?? 0), rowsByProbe };
  } catch {
    return undefined;
  }
}
