/**
 * schema/raw.ts — the binary insert of `struct v2_event` records: the records
 * go to the store as they came from the ring buffer (RowBinary of the
 * RECORD_FIELDS layout) and the store's engine turns them into `v2e.events`
 * rows with one SELECT built here from the one event definition (PROBES,
 * EVENT_COLUMNS, ATTRIBUTE_COLUMNS): probe and event ids to names, the
 * monotonic→wall clock offset and the host added, comm cut at its NUL, weight
 * 0 read as 1, arg0/arg1 into the family's attribute columns. Records the
 * decoder would reject (unknown probe id or event index) are left out by the
 * WHERE; the collector counts them (schema/records.ts knownProbe: the same rule).
 * Measured against the JSON row path in docs/binary-path.md.
 */
import { ATTRIBUTE_COLUMNS, EVENT_COLUMNS, PROBES, PROBE_NAMES, RECORD_FIELDS, RECORD_SIZE, type ProbeDef } from './event.js';
import { sqlString } from './sql.js';

const CH_TYPE = { u64: 'UInt64', s64: 'Int64', u32: 'UInt32', u16: 'UInt16', u8: 'UInt8', 'char[16]': 'FixedString(16)' } as const;

/** `struct v2_event` as ClickHouse types, same order and widths: the structure of `file(…, RowBinary, …)` / `input(…)`. */
export const RAW_STRUCTURE = RECORD_FIELDS.map((f) => `${f.name} ${CH_TYPE[f.kind]}`).join(', ');

const probeDefs = PROBE_NAMES.map((n) => [n, PROBES[n] as ProbeDef] as const);
const PROBE_IDS = probeDefs.map(([, d]) => d.id);
const EVENT_KEYS = probeDefs.flatMap(([, d]) => d.events.map((_, i) => d.id * 256 + i));
const EVENT_NAMES = probeDefs.flatMap(([, d]) => [...d.events]);

/**
 * The ingester's inserts hold the records of many collectors: each record is
 * followed by a u32 `g`, the index of its collector's context in the list the
 * SELECT is built with (RAW_GROUPED_STRIDE bytes per record).
 */
export const RAW_GROUPED_STRUCTURE = `${RAW_STRUCTURE}, g UInt32`;
export const RAW_GROUPED_STRIDE = RECORD_SIZE + 4;

/** What one insert of records stands for: the host and the wall − CLOCK_MONOTONIC offset of the collector that read them. */
export interface RawContext {
  host: string;
  /** wall-clock ns minus CLOCK_MONOTONIC ns (bpf_ktime_get_ns) */
  monoToWallNs: bigint;
}

/** One context for every record, or (grouped records) one per group index. */
export type RawContexts = RawContext | readonly RawContext[];

function columnExpr(name: string, ctx: RawContexts): string {
  const grouped = Array.isArray(ctx) ? (ctx as readonly RawContext[]) : undefined;
  const one = ctx as RawContext;
  switch (name) {
    case 'ts': return grouped
      ? `fromUnixTimestamp64Nano(toInt64(r.ts_ns) + arrayElement(CAST([${grouped.map((c) => c.monoToWallNs.toString()).join(',')}] AS Array(Int64)), r.g + 1))`
      : `fromUnixTimestamp64Nano(toInt64(r.ts_ns) + ${one.monoToWallNs.toString()})`;
    case 'host': return grouped ? `arrayElement([${grouped.map((c) => sqlString(c.host)).join(',')}], r.g + 1)` : sqlString(one.host);
    case 'probe': return `transform(r.probe, [${PROBE_IDS.join(',')}], [${probeDefs.map(([n]) => sqlString(n)).join(',')}], '')`;
    case 'event': return `transform(toUInt16(r.probe) * 256 + r.event, [${EVENT_KEYS.join(',')}], [${EVENT_NAMES.map(sqlString).join(',')}], '')`;
    case 'comm': return 'toStringCutToZero(r.comm)';
    case 'weight': return 'if(r.weight = 0, 1, r.weight)';
    case 'pid': case 'tid': case 'value': case 'cpu': return `r.${name}`;
  }
  const a = ATTRIBUTE_COLUMNS[name as keyof typeof ATTRIBUTE_COLUMNS];
  if (!a) throw new Error(`schema/raw.ts: no mapping for events column ${name}`);
  const conv = (arg: string) => {
    const s = a.from === 'i64' ? `reinterpretAsInt64(r.${arg})` : `r.${arg}`;
    return a.type === 'Int64' || a.type === 'UInt64' ? s : `to${a.type}(${s})`;
  };
  const branches: string[] = [];
  for (const slot of ['arg0', 'arg1'] as const) {
    const ids = probeDefs.filter(([, d]) => d.args[slot] === name).map(([, d]) => d.id);
    if (ids.length) branches.push(`r.probe IN (${ids.join(',')}), ${conv(slot)}`);
  }
  return branches.length ? `multiIf(${branches.join(', ')}, 0)` : '0';
}

/**
 * The SELECT list that turns a record (`r`) into a `v2e.events` row, in
 * EVENT_COLUMNS order. Every record column is `r.`-qualified: the aliases
 * (`… AS probe`) would otherwise shadow the record's own `probe` byte.
 */
export function rawSelectList(ctx: RawContexts): string {
  return EVENT_COLUMNS.map((c) => `${columnExpr(c.name, ctx)} AS ${c.name}`).join(',\n  ');
}

/** The decoder's rejection rule in SQL: a known probe id and an event index inside its list. */
export const RAW_WHERE = `has([${EVENT_KEYS.join(',')}], toUInt16(r.probe) * 256 + r.event)`;

/** `SELECT <events columns> FROM <source> AS r WHERE <known ids>`: source is `file(…)`, `input(…)` or a table (of RAW_GROUPED_STRUCTURE when `ctx` is a list). */
export function rawEventsSelect(source: string, ctx: RawContexts): string {
  return `SELECT\n  ${rawSelectList(ctx)}\nFROM ${source} AS r WHERE ${RAW_WHERE}`;
}
