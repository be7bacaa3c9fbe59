// The Kafka envelope: derived from the event definition, versioned, and strict when decoding.
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { decodeEnvelope, encodeEnvelope, ENVELOPE_COLUMNS, ENVELOPE_VERSION, peekEnvelope } from '../../kafka/envelope.js';
import { EVENT_COLUMNS } from '../../schema/event.js';
import { syntheticEvents } from '../pipeline/kafka-helpers.js';
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
});
