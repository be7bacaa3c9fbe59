/**
 * schema/event.ts — the one definition of a v2probe event.
 *
 * Everything else derives from this file:
 *  - the binary record layout that bpf/v2probe.h declares (`RECORD_FIELDS`;
 *    test/schema/layout.test.ts compiles the header and checks every name,
 *    size and offset against it),
 *  - the store DDL (schema/ddl.ts builds `v2e.events` from `EVENT_COLUMNS`),
 *  - the row validation used by sinks and ingesters (`EventRow`, zod),
 *  - the probe catalog (`PROBES`: ids, events, counter slots, arg columns,
 *    sampling), built from the family descriptors (bpf/NAME.family.ts, listed
 *    by the generated bpf/families.gen.ts).
 */
import { z } from 'zod';
import { FAMILY_COUNTER_BASE, type AttributeName, type FamilyDescriptor, type Unit } from '../bpf/family.js';
import { FAMILIES } from '../bpf/families.gen.js';

export { FAMILY_COUNTER_BASE, type AttributeName };

/** Record layout of `struct v2_event` (bpf/v2probe.h): C name, offset, size, kind. */
export const RECORD_SIZE = 64;
export const RECORD_FIELDS = [
  { name: 'ts_ns', offset: 0, size: 8, kind: 'u64' },
  { name: 'value', offset: 8, size: 8, kind: 's64' },
  { name: 'arg0', offset: 16, size: 8, kind: 'u64' },
  { name: 'arg1', offset: 24, size: 8, kind: 'u64' },
  { name: 'pid', offset: 32, size: 4, kind: 'u32' },
  { name: 'tid', offset: 36, size: 4, kind: 'u32' },
  { name: 'weight', offset: 40, size: 4, kind: 'u32' },
  { name: 'probe', offset: 44, size: 1, kind: 'u8' },
  { name: 'event', offset: 45, size: 1, kind: 'u8' },
  { name: 'cpu', offset: 46, size: 2, kind: 'u16' },
  { name: 'comm', offset: 48, size: 16, kind: 'char[16]' },
] as const;

/** Layout of `struct v2_config` (key 0 of each family's `config` map). */
export const CONFIG_SIZE = 48;
export const CONFIG_FIELDS = [
  { name: 'enabled', offset: 0, size: 4, kind: 'u32' },
  { name: 'targ_tgid', offset: 4, size: 4, kind: 'u32' },
  { name: 'sample_every', offset: 8, size: 4, kind: 'u32' },
  { name: 'min_value', offset: 12, size: 4, kind: 'u32' },
  { name: 'targ_comm', offset: 16, size: 16, kind: 'char[16]' },
  { name: 'targ_cgroup', offset: 32, size: 8, kind: 'u64' },
  { name: 'burst_rate', offset: 40, size: 4, kind: 'u32' },
  { name: 'burst_size', offset: 44, size: 4, kind: 'u32' },
] as const;

/** The bytes of a `struct v2_config` (CONFIG_FIELDS) for a family's `config` map, key 0. */
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

/** Counter slots shared by every family (enum v2_counter). */
export const COMMON_COUNTERS = {
  seen: 0,
  sampled: 1,
  lost_ringbuf: 2,
  lost_mapfull: 3,
  missed_start: 4,
  burst_dropped: 5,
} as const;
export const HIST_SLOTS = 32;
export const MAX_COUNTERS = 32;

/**
 * Named attribute columns. A probe maps the record's arg0/arg1 onto these;
 * columns a probe does not use stay at their default (sparse, ~free on disk).
 */
export const ATTRIBUTE_COLUMNS = {
  fd: { type: 'Int32', from: 'i64' },
  ret: { type: 'Int64', from: 'i64' },
  dev: { type: 'UInt32', from: 'u64' },
  bytes: { type: 'UInt64', from: 'u64' },
  peer_pid: { type: 'UInt32', from: 'u64' },
  state: { type: 'UInt32', from: 'u64' },
  /** an address (fault address, futex/lock word, mapping, kmalloc call site; tcp: IPv4 daddr << 16 | dport).
   * Signed so that kernel addresses (0xffff...) stay exact as JS numbers: hex(reinterpretAsUInt64(addr)) in SQL. */
  addr: { type: 'Int64', from: 'i64' },
  /** a sequence number (go_gc: the process's GC cycle) */
  seq: { type: 'UInt64', from: 'u64' },
  /** app: index of the --uprobe target */
  target: { type: 'UInt16', from: 'u64' },
} as const satisfies Record<AttributeName, { type: string; from: 'i64' | 'u64' }>;

export interface ProbeDef {
  /** enum v2_probe_id */
  id: number;
  /** what it measures, one line (shown by --help and doctor) */
  summary: string;
  /** event kinds, indexed by the record's `event` byte (enum v2_<probe>_event) */
  events: readonly string[];
  /** unit of each event's `value`, same index as `events` */
  eventUnits: readonly Unit[];
  /** which attribute columns arg0/arg1 fill, per probe */
  args: { arg0?: AttributeName; arg1?: AttributeName };
  /** extra exact counters (slot → name) beyond the common ones */
  counters: Record<string, number>;
  /** unit of `value` (the first event's, or the family's own when it has no events) */
  unit: Unit;
  /** default 1-in-N sampling of per-event rows */
  defaultSampleEvery: number;
  /** internal families (bench baseline) are not user-selectable */
  internal?: boolean;
}

function probeDef(d: FamilyDescriptor): ProbeDef {
  return {
    id: d.id,
    summary: d.summary,
    events: d.events.map((e) => e.name),
    eventUnits: d.events.map((e) => e.unit),
    args: d.args,
    counters: d.counters,
    unit: d.unit ?? d.events[0]?.unit ?? 'count',
    defaultSampleEvery: d.defaultSampleEvery,
    ...(d.internal ? { internal: true } : {}),
  };
}

/** The probe catalog: one entry per family descriptor, in catalog order (by id, the bench baseline last). */
export const PROBES = Object.fromEntries(Object.entries(FAMILIES).map(([n, d]) => [n, probeDef(d)])) as {
  readonly [K in keyof typeof FAMILIES]: ProbeDef;
};

export type ProbeName = keyof typeof PROBES;
export const PROBE_NAMES = Object.keys(PROBES) as ProbeName[];
/** Probes a user can select (CLI, config). */
export const USER_PROBES = PROBE_NAMES.filter((p) => !(PROBES[p] as ProbeDef).internal);
export const PROBE_BY_ID: ReadonlyMap<number, ProbeName> = new Map(
  PROBE_NAMES.map((n) => [PROBES[n].id, n]),
);

/**
 * One row of `v2e.events`, as sinks, the Kafka encoding and the ingester see it.
 * `ts` is nanoseconds since the Unix epoch as a decimal string (exact; JSON
 * numbers cannot hold it).
 */
export const EventRow = z.object({
  ts: z.string().regex(/^\d{1,20}$/, 'ts: nanoseconds since the epoch as a decimal string'),
  host: z.string().min(1).max(255),
  probe: z.enum(PROBE_NAMES as [ProbeName, ...ProbeName[]]),
  event: z.string().min(1).max(64),
  pid: z.number().int().min(0).max(0xffffffff),
  tid: z.number().int().min(0).max(0xffffffff),
  comm: z.string().max(64),
  value: z.number().int(),
  weight: z.number().int().min(1).max(0xffffffff),
  cpu: z.number().int().min(0).max(0xffff),
  fd: z.number().int().optional(),
  ret: z.number().int().optional(),
  dev: z.number().int().min(0).optional(),
  bytes: z.number().int().min(0).optional(),
  peer_pid: z.number().int().min(0).optional(),
  state: z.number().int().min(0).optional(),
  addr: z.number().int().optional(),
  seq: z.number().int().min(0).optional(),
  target: z.number().int().min(0).max(0xffff).optional(),
});
export type EventRow = z.infer<typeof EventRow>;

/** ClickHouse columns of `v2e.events`, in order (DDL and inserts use this). */
export const EVENT_COLUMNS: ReadonlyArray<{ name: string; type: string; codec?: string; comment: string }> = [
  { name: 'ts', type: 'DateTime64(9)', codec: 'Delta, ZSTD(1)', comment: 'end of the event (wall clock, ns)' },
  { name: 'host', type: 'LowCardinality(String)', comment: 'host name of the collector' },
  { name: 'probe', type: 'LowCardinality(String)', comment: 'probe family (uds, sched, ...)' },
  { name: 'event', type: 'LowCardinality(String)', comment: 'event kind within the probe' },
  { name: 'pid', type: 'UInt32', codec: 'ZSTD(1)', comment: 'process id (tgid)' },
  { name: 'tid', type: 'UInt32', codec: 'ZSTD(1)', comment: 'thread id' },
  { name: 'comm', type: 'LowCardinality(String)', comment: 'task name' },
  { name: 'value', type: 'Int64', codec: 'T64, ZSTD(1)', comment: 'ns for latencies, bytes for sizes' },
  { name: 'weight', type: 'UInt32', codec: 'T64, ZSTD(1)', comment: 'real events this row stands for' },
  { name: 'cpu', type: 'UInt16', codec: 'T64, ZSTD(1)', comment: 'CPU the event ended on' },
  ...Object.entries(ATTRIBUTE_COLUMNS).map(([name, a]) => ({
    name,
    type: a.type,
    codec: 'T64, ZSTD(1)',
    comment: `probe attribute (${Object.entries(PROBES)
      .filter(([, p]) => Object.values((p as ProbeDef).args).includes(name as AttributeName))
      .map(([n]) => n)
      .join(', ')})`,
  })),
];

/** Snapshot rows of exact counters (`v2e.counters`). */
export const CounterRow = z.object({
  ts: z.string().regex(/^\d{1,20}$/),
  host: z.string().min(1),
  probe: z.string().min(1),
  name: z.string().min(1),
  pid: z.number().int().min(0),
  comm: z.string(),
  key: z.string(),
  value: z.number().int().min(0),
  delta: z.number().int().min(0),
});
export type CounterRow = z.infer<typeof CounterRow>;

/** Snapshot rows of in-kernel log2 histograms (`v2e.histograms`). */
export const HistogramRow = z.object({
  ts: z.string().regex(/^\d{1,20}$/),
  host: z.string().min(1),
  probe: z.string().min(1),
  event: z.string().min(1),
  /** per log2 slot s (values in [2^s, 2^(s+1)) ns), increments since the last snapshot */
  counts: z.array(z.number().int().min(0)).length(HIST_SLOTS),
});
export type HistogramRow = z.infer<typeof HistogramRow>;
