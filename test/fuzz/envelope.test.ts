// Fuzz the Kafka envelope decoder (kafka/envelope.ts) with fast-check:
// arbitrary bytes, valid headers over garbage bodies, structured bodies with
// hostile fields, bit-flipped and truncated real envelopes of both versions. Every input is either
// decoded into rows that pass the event definition's zod rows, or rejected with a
// KafkaError('ENVELOPE') whose message says why — never another exception, never
// a case slower than MAX_CASE_MS. peekEnvelope (used for dead letters) never throws.
// Valid rows survive a round trip exactly.
import { brotliCompressSync, constants as zc, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, ENVELOPE_COLUMNS, MAX_ENVELOPE_ROWS, peekEnvelope, type Codec, type Kind } from '../../kafka/envelope.js';
import { KafkaError } from '../../kafka/client.js';
import { encodeRecordsEnvelope } from '../../kafka/envelope-records.js';
import { CounterRow, EventRow, HistogramRow, HIST_SLOTS, PROBE_NAMES } from '../../schema/event.js';
import { note, params, PROPERTY_TIMEOUT, RUNS, summary, tally, timed, type Tally } from './fuzz-helpers.js';

const t = tally();
const lines: string[] = [];
afterAll(() => console.log(`[fuzz] envelope, ${RUNS} cases per property\n  ${lines.join('\n  ')}`));

/** The property: decode, or reject with a reason; peek never throws. */
function check(t: Tally, buf: Buffer): void {
  timed(t, 'decodeEnvelope', () => {
    try {
      const env = decodeEnvelope(buf);
      t.accepted++;
      if (env.version === 2) {
        // version 2 carries records, not rows: the ingester never makes rows of them. decodeEnvelope's rows
        // are a display decoding, and arbitrary 64-bit record fields need not fit EventRow's safe integers
        // (value 2^63 is a valid record, not a valid JSON row); each row still names a known probe and event
        for (const r of env.rows) {
          expect(PROBE_NAMES).toContain(r.probe);
          expect((r as EventRow).ts).toMatch(/^\d{1,20}$/);
        }
        return;
      }
      const schema = { events: EventRow, counters: CounterRow, histograms: HistogramRow }[env.kind];
      for (const r of env.rows) expect(schema.safeParse(r).success).toBe(true);
    } catch (err) {
      if (!(err instanceof KafkaError)) throw new Error(`decodeEnvelope threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message} on ${buf.subarray(0, 64).toString('hex')}`);
      expect(err.code).toBe('ENVELOPE');
      expect(err.message.length).toBeGreaterThan(5);
      note(t, err.message);
    }
  });
  timed(t, 'peekEnvelope', () => peekEnvelope(buf));
}

const HEADER = (codec: number, kind: number, version = 1) => Buffer.from([0x56, 0x32, version, codec, kind]);
const compress = (codec: number, b: Buffer) => (codec === 1 ? gzipSync(b) : codec === 2 ? brotliCompressSync(b) : b);

const digits = fc.stringMatching(/^\d{1,20}$/);
const eventRow = fc.record({
  ts: fc.bigInt({ min: 1_600_000_000_000_000_000n, max: 1_900_000_000_000_000_000n }).map(String),
  host: fc.constant('fuzz-host'),
  probe: fc.constantFrom(...PROBE_NAMES),
  event: fc.string({ minLength: 1, maxLength: 64 }),
  pid: fc.integer({ min: 0, max: 0xffffffff }),
  tid: fc.integer({ min: 0, max: 0xffffffff }),
  comm: fc.string({ maxLength: 64 }),
  value: fc.maxSafeInteger(),
  weight: fc.integer({ min: 1, max: 0xffffffff }),
  cpu: fc.integer({ min: 0, max: 0xffff }),
  bytes: fc.option(fc.nat(), { nil: undefined }),
});

/** A column value: mostly plausible, sometimes hostile. */
const cell = fc.oneof(
  { weight: 3, arbitrary: fc.oneof(fc.integer(), fc.string({ maxLength: 20 }), fc.constant(null)) },
  { weight: 1, arbitrary: fc.oneof(fc.double(), fc.boolean(), fc.constant(-1), fc.constant(2 ** 64), fc.constant('__proto__'), fc.jsonValue({ maxDepth: 2 })) },
);
const colName = (kind: Kind) => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...ENVELOPE_COLUMNS[kind]) }, { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'host')) });
const mostly = <A, B>(good: fc.Arbitrary<A>, hostile: fc.Arbitrary<B>) => fc.oneof({ weight: 8, arbitrary: good as fc.Arbitrary<A | B> }, { weight: 1, arbitrary: hostile as fc.Arbitrary<A | B> });
const structuredBody = (kind: Kind) =>
  fc.integer({ min: 0, max: 6 }).chain((n) =>
    fc.record({
      host: mostly(fc.constant('h'), fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue({ maxDepth: 1 }))),
      probes: mostly(fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
      session: mostly(fc.constant('s1'), fc.string({ maxLength: 80 })),
      seq: mostly(fc.nat(), fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 4 }))),
      sent_ns: mostly(digits, fc.string({ maxLength: 25 })),
      ts_base: mostly(digits, fc.oneof(fc.string({ maxLength: 25 }), fc.constant('99999999999999999999'))),
      n: fc.oneof({ weight: 5, arbitrary: fc.constant(n) }, { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.constant(MAX_ENVELOPE_ROWS + 1), fc.constant(2 ** 32), fc.constant(2 ** 53), fc.double()) }),
      cols: fc.dictionary(colName(kind), fc.oneof({ weight: 6, arbitrary: fc.array(cell, { minLength: n, maxLength: n }) }, { weight: 1, arbitrary: fc.array(cell, { maxLength: 8 }) }), { maxKeys: 12 }),
    }),
  );

describe('fuzz: Kafka envelope decoder', () => {
  it('arbitrary bytes: decoded or rejected with a reason', () => {
    const tt = tally();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => check(tt, Buffer.from(b))), params('bytes'));
    lines.push(summary('bytes', tt));
  }, PROPERTY_TIMEOUT);

  it('a valid header over garbage (raw, gzip, brotli, unknown codec/kind/version)', () => {
    const tt = tally();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 5 }), fc.constantFrom(1, 1, 1, 0, 2, 255), fc.uint8Array({ maxLength: 400 }), fc.boolean(), (codec, kind, version, body, pack) =>
        check(tt, Buffer.concat([HEADER(codec, kind, version), pack ? compress(codec, Buffer.from(body)) : Buffer.from(body)])),
      ),
      params('header'),
    );
    lines.push(summary('header+garbage', tt));
  }, PROPERTY_TIMEOUT);

  it('structured bodies with hostile fields, every codec and kind', () => {
    const tt = tally();
    fc.assert(
      fc.property(
        fc.constantFrom<Kind>('events', 'counters', 'histograms').chain((kind) => fc.tuple(fc.constant(kind), structuredBody(kind), fc.integer({ min: 0, max: 2 }))),
        ([kind, body, codec]) => {
          const k = { events: 1, counters: 2, histograms: 3 }[kind];
          check(tt, Buffer.concat([HEADER(codec, k), compress(codec, Buffer.from(JSON.stringify(body)))]));
        },
      ),
      params('structured'),
    );
    lines.push(summary('structured', tt));
    t.accepted += tt.accepted;
  }, PROPERTY_TIMEOUT);

  it('bit flips and truncation of real envelopes', () => {
    const tt = tally();
    fc.assert(
      fc.property(
        fc.array(eventRow, { minLength: 1, maxLength: 20 }),
        fc.constantFrom<Codec>('none', 'gzip', 'brotli'),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat(), { nil: undefined }),
        (rows, codec, flips, cut) => {
          const buf = Buffer.from(encodeEnvelope('events', rows, { host: 'fuzz-host', session: 'fz', seq: 1 }, codec));
          for (const [pos, byte] of flips) buf[pos % buf.length] = byte;
          check(tt, cut === undefined ? buf : buf.subarray(0, cut % (buf.length + 1)));
        },
      ),
      params('mutate'),
    );
    lines.push(summary('mutated', tt));
  }, PROPERTY_TIMEOUT);

  it('bit flips and truncation of version-2 (records) envelopes', () => {
    const tt = tally();
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 64, maxLength: 64 * 40 }),
        fc.constantFrom<Codec>('none', 'gzip', 'brotli'),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat(), { nil: undefined }),
        (bytes, codec, flips, cut) => {
          // arbitrary records (known or not) in a valid envelope, then damaged
          const records = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length - (bytes.length % 64));
          const buf = Buffer.from(encodeRecordsEnvelope(records, { host: 'fuzz-host', session: 'fz', seq: 1, monoToWallNs: 1_790_000_000_000_000_000n }, codec));
          for (const [pos, byte] of flips) buf[pos % buf.length] = byte;
          check(tt, cut === undefined ? buf : buf.subarray(0, cut % (buf.length + 1)));
        },
      ),
      params('mutate2'),
    );
    lines.push(summary('mutated v2', tt));
  }, PROPERTY_TIMEOUT);

  it('valid rows round-trip exactly (events, counters, histograms)', () => {
    const counter = fc.record({ ts: fc.bigInt({ min: 1n, max: 1_900_000_000_000_000_000n }).map(String), host: fc.constant('fuzz-host'), probe: fc.string({ minLength: 1, maxLength: 8 }), name: fc.string({ minLength: 1, maxLength: 12 }), pid: fc.nat(), comm: fc.string({ maxLength: 15 }), key: fc.string({ maxLength: 8 }), value: fc.nat(), delta: fc.nat() });
    const hist = fc.record({ ts: fc.bigInt({ min: 1n, max: 1_900_000_000_000_000_000n }).map(String), host: fc.constant('fuzz-host'), probe: fc.string({ minLength: 1, maxLength: 8 }), event: fc.string({ minLength: 1, maxLength: 8 }), counts: fc.array(fc.nat(), { minLength: HIST_SLOTS, maxLength: HIST_SLOTS }) });
    const strip = (r: object) => JSON.parse(JSON.stringify(r));
    fc.assert(
      fc.property(fc.constantFrom<Codec>('none', 'gzip', 'brotli'), fc.array(eventRow, { maxLength: 30 }), fc.array(counter, { maxLength: 10 }), fc.array(hist, { maxLength: 3 }), (codec, evs, cs, hs) => {
        const meta = { host: 'fuzz-host', session: 'rt', seq: 7 };
        expect(decodeEnvelope(encodeEnvelope('events', evs, meta, codec)).rows).toEqual(evs.map(strip));
        expect(decodeEnvelope(encodeEnvelope('counters', cs, meta, codec)).rows).toEqual(cs);
        expect(decodeEnvelope(encodeEnvelope('histograms', hs, meta, codec)).rows).toEqual(hs);
      }),
      { ...params('roundtrip'), numRuns: Math.max(200, Math.floor(RUNS / 10)) },
    );
  }, PROPERTY_TIMEOUT);

  it('known hostile cases: huge n, decompression bomb bound, prototype keys', () => {
    const body = (o: object) => Buffer.from(JSON.stringify({ host: 'h', probes: [], session: 's', seq: 0, sent_ns: '1', ts_base: '1', cols: {}, ...o }));
    for (const n of [2 ** 32, 2 ** 53, MAX_ENVELOPE_ROWS + 1]) expect(() => decodeEnvelope(Buffer.concat([HEADER(0, 1), body({ n })]))).toThrow(KafkaError);
    expect(() => decodeEnvelope(Buffer.concat([HEADER(0, 1), body({ n: 1, cols: { __proto__: [1] } })]))).toThrow(KafkaError);
    // 300 MiB of zeros compress to ~300 kB of brotli: refused at 256 MiB, with a reason
    const bomb = brotliCompressSync(Buffer.alloc(300 << 20), { params: { [zc.BROTLI_PARAM_QUALITY]: 1 } });
    expect(() => decodeEnvelope(Buffer.concat([HEADER(2, 1), bomb]))).toThrow(/body does not decode/);
  }, 60_000);
});
