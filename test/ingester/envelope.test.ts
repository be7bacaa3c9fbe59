// The Kafka envelope: derived from the event definition, versioned, and strict when decoding.
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { decodeEnvelope, encodeEnvelope, ENVELOPE_COLUMNS, ENVELOPE_VERSION, peekEnvelope } from '../../kafka/envelope.js';
import { EVENT_COLUMNS } from '../../schema/event.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { syntheticEvents, syntheticRecords } from '../pipeline/kafka-helpers.js';
import { decodeMessage, isRecords } from '../../kafka/envelope.js';
import { encodeRecordsEnvelope, RECORD_LAYOUT, recordCensus, writeRecords } from '../../kafka/envelope-records.js';
import { decodeBatch } from '../../schema/records.js';
import { RECORD_SIZE } from '../../schema/event.js';
import { ROOT } from '../helpers/cli.js';
import { parseBrokers, parseKafkaSink } from '../../kafka/client.js';

const meta = { host: 'h1', session: 's', seq: 7 };

describe('kafka envelope', () => {
  it('carries every column of the event definition except host (in the header)', () => {
    expect(ENVELOPE_COLUMNS.events).toEqual(EVENT_COLUMNS.map((c) => c.name).filter((n) => n !== 'host'));
  });

  for (const codec of ['none', 'gzip', 'brotli'] as const) {
    it(`round-trips rows exactly (${codec})`, () => {
      const rows = syntheticEvents('h1', 1, 500);
      rows[3] = { ...rows[3], ts: '1795620367870123456', dev: 7 }; // a sparse attribute, a big ts
      const env = decodeEnvelope(encodeEnvelope('events', rows, meta, codec));
      expect(env).toMatchObject({ version: ENVELOPE_VERSION, codec, kind: 'events', host: 'h1', seq: 7, probes: ['uds'] });
      expect(env.rows).toEqual(rows);
    });
  }

  it('rejects garbage, a wrong version and invalid rows with a reason', () => {
    expect(() => decodeEnvelope(Buffer.from('hello world'))).toThrow(/not a v2probe envelope/);
    expect(() => decodeEnvelope(null)).toThrow(/too short/);
    const good = encodeEnvelope('events', syntheticEvents('h1', 1, 3), meta, 'gzip');
    const v9 = Buffer.from(good);
    v9[2] = 9;
    expect(() => decodeEnvelope(v9)).toThrow(/schema version 9 is not supported/);
    const body = { host: 'h1', probes: ['uds'], session: 's', seq: 1, sent_ns: '1', ts_base: '1', n: 1, cols: { ts: [0], probe: ['nope'] } };
    const bad = Buffer.concat([Buffer.from([0x56, 0x32, 1, 1, 1]), gzipSync(JSON.stringify(body))]);
    expect(() => decodeEnvelope(bad)).toThrow(/row 0 is invalid/);
    expect(peekEnvelope(bad)).toMatchObject({ kind: 'events', host: 'h1', rowsByProbe: { nope: 1 } });
  });

  it('parses kafka:// sinks and broker lists, naming what is wrong', () => {
    expect(parseKafkaSink('kafka://127.0.0.1:9092/t1?codec=brotli')).toMatchObject({ brokers: ['127.0.0.1:9092'], topic: 't1', codec: 'brotli' });
    expect(() => parseKafkaSink('kafka://127.0.0.1:9092')).toThrow(/no topic/);
    expect(() => parseBrokers('--kafka', 'localhost')).toThrow(/not a broker address/);
  });

  describe('version 2: event records', () => {
    // 6,000 real records of 8 families and the decoder's edge cases (test/fixtures/batches)
    const real = readFileSync(join(ROOT, 'test/fixtures/batches/records.bin'));
    const meta2 = { host: 'vm', session: 's2', seq: 3, monoToWallNs: BigInt(JSON.parse(readFileSync(join(ROOT, 'test/fixtures/batches/meta.json'), 'utf8')).monoToWallNs) };

    for (const codec of ['none', 'gzip', 'brotli'] as const) {
      it(`round-trips the records byte for byte, and as rows (${codec})`, () => {
        const buf = encodeRecordsEnvelope(real, meta2, codec);
        const m = decodeMessage(buf);
        if (!isRecords(m)) throw new Error('not decoded as records');
        expect(m).toMatchObject({ version: 2, codec, kind: 'events', host: 'vm', session: 's2', seq: 3, monoToWallNs: meta2.monoToWallNs, n: real.length / RECORD_SIZE });
        const back = Buffer.from(new ArrayBuffer(real.length));
        writeRecords(m.planes, m.n, back);
        expect(back.equals(real)).toBe(true);
        expect(m.probes).toEqual(recordCensus(real));
        expect(decodeEnvelope(buf).rows).toEqual(decodeBatch(real, meta2).rows);
      });
    }

    it('counts known records and their weight per probe in the header', () => {
      const { records } = syntheticRecords(0, 10);
      records.writeUInt32LE(0, 2 * RECORD_SIZE + 40); // weight 0 stands for 1
      records.writeUInt32LE(5, 3 * RECORD_SIZE + 40);
      records[9 * RECORD_SIZE + 44] = 250; // unknown probe id: not counted
      expect(recordCensus(records)).toEqual({ uds: [9, 1 + 1 + 1 + 5 + 5 * 1] });
    });

    it('a truncated, corrupt (checksum), oversized-claim, other-layout or unknown-version message is refused with the reason', () => {
      const { records, monoToWallNs } = syntheticRecords(0, 500);
      const good = encodeRecordsEnvelope(records, { host: 'h', session: 's', seq: 0, monoToWallNs }, 'none');
      expect(() => decodeMessage(good.subarray(0, good.length - 10))).toThrow(/body holds \d+ bytes, the header declares 500 records/);
      const flipped = Buffer.from(good);
      flipped[flipped.length - 100] ^= 0x10;
      expect(() => decodeMessage(flipped)).toThrow(/checksum mismatch/);
      const hl = good.readUInt32LE(5);
      const header = JSON.parse(good.toString('utf8', 9, 9 + hl));
      const rebuild = (h: object, version = 2) => {
        const hb = Buffer.from(JSON.stringify(h));
        const fixed = Buffer.from([0x56, 0x32, version, 0, 1, 0, 0, 0, 0]);
        fixed.writeUInt32LE(hb.length, 5);
        return Buffer.concat([fixed, hb, good.subarray(9 + hl)]);
      };
      expect(() => decodeMessage(rebuild({ ...header, n: 501 }))).toThrow(/header declares 501 records/);
      expect(() => decodeMessage(rebuild({ ...header, n: 5_000_000 }))).toThrow(/bad version-2 header: n/);
      expect(() => decodeMessage(rebuild({ ...header, layout: RECORD_LAYOUT + 1 }))).toThrow(/record layout .* is not this ingester's/);
      expect(() => decodeMessage(rebuild({ ...header, probes: { uds: [501, 501] } }))).toThrow(/counts 501 known records in 500/);
      expect(() => decodeMessage(rebuild(header, 3))).toThrow(/schema version 3 is not supported/);
      // the dead-letter ledger still reads who sent it
      expect(peekEnvelope(flipped)).toMatchObject({ kind: 'events', host: 'h', session: 's', seq: 0, rowsByProbe: { uds: 500 } });
      // a brotli body that inflates past the declared size stops there
      const bomb = encodeRecordsEnvelope(Buffer.alloc(64 * 20_000), { host: 'h', session: 's', seq: 0, monoToWallNs }, 'brotli');
      const bh = JSON.parse(bomb.toString('utf8', 9, 9 + bomb.readUInt32LE(5)));
      const small = Buffer.from(JSON.stringify({ ...bh, n: 10 }));
      const fixed = Buffer.from([0x56, 0x32, 2, 2, 1, 0, 0, 0, 0]);
      fixed.writeUInt32LE(small.length, 5);
      expect(() => decodeMessage(Buffer.concat([fixed, small, bomb.subarray(9 + bomb.readUInt32LE(5))]))).toThrow(/body does not decode|body holds/);
    });
  });
});
