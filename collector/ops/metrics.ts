/**
 * collector/ops/metrics.ts — Prometheus /metrics for a running collector
 * (prom-client). Every value is read from the collector at scrape time: the
 * exact in-kernel counters, the log2 latency histograms (as classic buckets),
 * per-process context switches for the top N processes (the rest folded into
 * process_id="other"), drops by reason, hook CPU time from bpf_stats, and the
 * collector's own CPU and RSS. Labels follow the seed: process_id, event_type,
 * subsystem (plus probe, comm). With `--explain`, the round-trip breakdowns:
 * v2probe_rtt_seconds{broker_comm} (total) and
 * v2probe_rtt_component_seconds{broker_comm,component} histograms (1 µs..1 s,
 * exact sums), trips joined and given up on, breakdown rows written.
 */
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import { FAMILIES } from '../../bpf/families.gen.js';
import { HIST_SLOTS, PROBES, type ProbeDef, type ProbeName } from '../../schema/event.js';
import type { Collector, ProbeStatus } from '../collector.js';
import type { Governor } from './governor.js';
import { goroutineRows } from '../families/go-stats.js';
import { COMPONENTS } from '../../explain/breakdown.js';
import { componentLabel, RTT_BUCKETS_S, type FixedHist } from '../../explain/histograms.js';
import { rttStats, type RttStats } from '../../explain/runtime.js';

/** Which platform subsystem a probe family belongs to (the `subsystem` label): each descriptor's (bpf/NAME.family.ts). */
export const SUBSYSTEM: Record<string, string> = Object.fromEntries(
  Object.values(FAMILIES).flatMap((d) => ('subsystem' in d ? [[d.name, d.subsystem]] : [])),
);
const subsystemOf = (p: string) => SUBSYSTEM[p] ?? p;

/** Counter names that are per-event exact counts: `<prefix><event>` → event_type. */
const PER_EVENT = /^(calls|completed)_(.+)$/;
const DROPS: Record<string, string> = {
  lost_ringbuf: 'ringbuf_full', lost_mapfull: 'map_full', lost_userspace: 'userspace_queue_full',
  lost_sink: 'sink', burst_dropped: 'burst_limit', rejected_decode: 'undecodable',
};
// run time: v2probe_probe_run_time_seconds_total; rtt trips: v2probe_rtt_trips_total, v2probe_rtt_trips_incomplete_total
const SKIP = new Set(['seen', 'sampled', 'delivered', 'run_time_ns', 'run_cnt', 'trips', 'trips_incomplete']);

/**
 * A classic Prometheus histogram whose buckets are the in-kernel log2 slots:
 * slot s counts values in [2^s, 2^(s+1)) ns, so bucket le = 2^(s+1) ns. The
 * kernel keeps no exact sum: `_sum` is estimated at each slot's midpoint.
 */
class Log2Histogram {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => Array<{ labels: Record<string, string>; counts: number[] }>,
  ) {}
  async get() {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const h of this.read()) {
      let cum = 0;
      let sum = 0;
      for (let s = 0; s < HIST_SLOTS; s++) {
        cum += h.counts[s] ?? 0;
        sum += (h.counts[s] ?? 0) * 1.5 * 2 ** s * 1e-9;
        if (s < HIST_SLOTS - 1) values.push({ labels: { ...h.labels, le: 2 ** (s + 1) * 1e-9 }, value: cum, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { ...h.labels, le: '+Inf' }, value: cum, metricName: `${this.name}_bucket` });
      values.push({ labels: h.labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels: h.labels, value: cum, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram' as never, values: values as never, aggregator: 'sum' as const };
  }
  reset() {}
  remove() {}
}

/** A classic histogram over fixed buckets, read at scrape time (the rtt breakdowns: exact counts and sums). */
class FixedBucketHistogram {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    private readonly read: () => Array<{ labels: Record<string, string>; h: FixedHist }>,
  ) {}
  async get() {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const { labels, h } of this.read()) {
      let cum = 0;
      this.bounds.forEach((le, i) => {
        cum += h.counts[i];
        values.push({ labels: { ...labels, le }, value: cum, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...labels, le: '+Inf' }, value: h.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: h.sumNs / 1e9, metricName: `${this.name}_sum` });
      values.push({ labels, value: h.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram' as never, values: values as never, aggregator: 'sum' as const };
  }
  reset() {}
  remove() {}
}

export interface MetricsOptions {
  /** per-process series for at most this many processes (by recent activity) */
  topProcesses?: number;
  governor?: Governor;
  /** the sink's own figures (the Kafka sink: messages, bytes, spool) */
  sinkStats?: () => Record<string, number> | undefined;
}

/** Build a registry whose values are read from `collector` at each scrape. */
export function collectorRegistry(collector: Collector, probes: readonly ProbeName[], opts: MetricsOptions = {}): Registry {
  const reg = new Registry();
  try {
    collectDefaultMetrics({ register: reg, prefix: 'v2probe_collector_' });
  } catch {
    // a second registry in one process (tests): prom-client keeps some default collectors global
  }
  // prom-client also serves these gauges as *_total, which `promtool check metrics` rejects (a gauge with a
  // counter's suffix); the same numbers stay available as v2probe_collector_nodejs_active_{handles,requests,resources}
  for (const what of ['handles', 'requests', 'resources'] as const) reg.removeSingleMetric(`v2probe_collector_nodejs_active_${what}_total`);
  const status = () => collector.status();
  registerProbeMetrics(reg, status);
  registerProcessSwitches(reg, collector, probes, opts.topProcesses ?? 20);
  registerProgramMetrics(reg, collector, probes);
  registerSinkMetrics(reg, collector);
  if (probes.includes('go_sched')) registerGoroutines(reg, collector);
  if (opts.sinkStats) registerSinkStats(reg, opts.sinkStats);
  if (opts.governor) registerGovernor(reg, opts.governor);
  return reg;
}

/** Set a counter's or gauge's series to exactly these (labels, value) rows. */
function setAll<T extends string>(m: Counter<T> | Gauge<T>, rows: Array<[Record<T, string>, number]>): void {
  m.reset();
  for (const [labels, v] of rows) (m as Counter<T>).inc(labels, v);
}

/** Per probe, from its status: up, events seen and sampled, drops by reason, per-event and other exact counts. */
function registerProbeMetrics(reg: Registry, status: () => ProbeStatus[]): void {
  new Gauge({
    name: 'v2probe_probe_up', help: 'Whether the probe is attached (1) or failed/stopped (0).', labelNames: ['probe', 'subsystem'], registers: [reg],
    collect() { this.reset(); for (const s of status()) this.set({ probe: s.probe, subsystem: subsystemOf(s.probe) }, s.state === 'running' ? 1 : 0); },
  });
  new Counter({
    name: 'v2probe_probe_events_seen_total', help: 'Events that passed the filters, counted in the kernel (exact).', labelNames: ['probe', 'subsystem'], registers: [reg],
    collect() { setAll(this, status().map((s) => [{ probe: s.probe, subsystem: subsystemOf(s.probe) }, s.counters.seen ?? 0])); },
  });
  new Counter({
    name: 'v2probe_probe_events_sampled_total', help: 'Events chosen for per-event rows (the sampled share).', labelNames: ['probe', 'subsystem'], registers: [reg],
    collect() { setAll(this, status().map((s) => [{ probe: s.probe, subsystem: subsystemOf(s.probe) }, s.counters.sampled ?? 0])); },
  });
  new Counter({
    name: 'v2probe_probe_dropped_total', help: 'Events dropped, by probe and reason (ring buffer full, map full, userspace queue, sink, burst limit).', labelNames: ['probe', 'subsystem', 'reason'], registers: [reg],
    collect() {
      setAll(this, status().flatMap((s) => Object.entries(DROPS).map(([k, reason]) => [{ probe: s.probe, subsystem: subsystemOf(s.probe), reason }, s.counters[k] ?? 0] as [Record<'probe' | 'subsystem' | 'reason', string>, number])));
    },
  });
  new Counter({
    name: 'v2probe_events_total', help: 'Exact per-event-type counts from the kernel (syscalls, completions, ...).', labelNames: ['probe', 'subsystem', 'event_type'], registers: [reg],
    collect() {
      const rows: Array<[Record<'probe' | 'subsystem' | 'event_type', string>, number]> = [];
      for (const s of status()) for (const [k, v] of Object.entries(s.counters)) {
        const m = PER_EVENT.exec(k);
        if (m) rows.push([{ probe: s.probe, subsystem: subsystemOf(s.probe), event_type: m[2] }, v]);
      }
      setAll(this, rows);
    },
  });
  new Counter({
    name: 'v2probe_probe_kernel_count_total', help: 'Other exact in-kernel counters of a probe family (context switches, wakeups, bytes, ...), by counter name.', labelNames: ['probe', 'subsystem', 'counter'], registers: [reg],
    collect() {
      const rows: Array<[Record<'probe' | 'subsystem' | 'counter', string>, number]> = [];
      for (const s of status()) for (const [k, v] of Object.entries(s.counters)) {
        if (!PER_EVENT.test(k) && !(k in DROPS) && !SKIP.has(k)) rows.push([{ probe: s.probe, subsystem: subsystemOf(s.probe), counter: k }, v]);
      }
      setAll(this, rows);
    },
  });
}

/** Per-process context switches, top N by increase since the last scrape. */
function registerProcessSwitches(reg: Registry, collector: Collector, probes: readonly ProbeName[], topN: number): void {
  let lastPerPid = new Map<number, number>();
  new Counter({
    name: 'v2probe_process_context_switches_total', help: `Context switches out of each process (exact), for the top ${topN} processes by recent activity; the rest are summed in process_id="other".`,
    labelNames: ['process_id', 'comm', 'subsystem', 'event_type'], registers: [reg],
    collect() {
      if (!probes.includes('sched')) return;
      const rows = collector.keyedCounts('sched').filter((k) => k.counter === 'switches');
      const activity = rows.map((r) => ({ ...r, recent: r.count - (lastPerPid.get(r.pid) ?? 0) })).sort((a, b) => b.recent - a.recent);
      lastPerPid = new Map(rows.map((r) => [r.pid, r.count]));
      const out: Array<[Record<'process_id' | 'comm' | 'subsystem' | 'event_type', string>, number]> = [];
      let other = 0;
      activity.forEach((r, i) => {
        if (i < topN && r.recent > 0) out.push([{ process_id: String(r.pid), comm: collector.commOf(r.pid), subsystem: 'scheduler', event_type: 'switch' }, r.count]);
        else other += r.count;
      });
      out.push([{ process_id: 'other', comm: '', subsystem: 'scheduler', event_type: 'switch' }, other]);
      setAll(this, out);
    },
  });
}

/** Latency histograms (log2, in-kernel), the --explain breakdowns, and the BPF programs' run time and runs. */
function registerProgramMetrics(reg: Registry, collector: Collector, probes: readonly ProbeName[]): void {
  // rtt's records are joined into breakdowns (below), its log2 histograms stay empty
  reg.registerMetric(new Log2Histogram('v2probe_latency_seconds', 'Latency of every event, from in-kernel log2 histograms (bucket le = 2^(slot+1) ns; _sum estimated at slot midpoints).', () =>
    probes.filter((p) => p !== 'rtt').flatMap((p) => {
      // only events whose value is a duration (cpufreq: idle residency, not the freq kHz)
      const ns = new Set((PROBES[p] as ProbeDef).events.filter((_, i) => (PROBES[p] as ProbeDef).eventUnits[i] === 'ns'));
      return Object.entries(collector.histograms(p)).filter(([ev]) => ns.has(ev)).map(([ev, counts]) => ({ labels: { probe: p, subsystem: subsystemOf(p), event_type: ev }, counts }));
    })) as unknown as Metric<string>);

  const rtt = rttStats(collector);
  if (rtt) registerRtt(reg, () => rttStats(collector)!);
  const withRtt: readonly ProbeName[] = rtt && !probes.includes('rtt') ? [...probes, 'rtt'] : probes;
  new Counter({
    name: 'v2probe_probe_run_time_seconds_total', help: 'CPU time spent in the probe\'s BPF programs (bpf_stats; needs kernel.bpf_stats_enabled=1).', labelNames: ['probe', 'program'], registers: [reg],
    collect() { setAll(this, withRtt.flatMap((p) => collector.programStats(p).map((s) => [{ probe: p, program: s.name }, Number(s.runTimeNs) / 1e9] as [Record<'probe' | 'program', string>, number]))); },
  });
  new Counter({
    name: 'v2probe_probe_runs_total', help: 'Runs of the probe\'s BPF programs (bpf_stats).', labelNames: ['probe', 'program'], registers: [reg],
    collect() { setAll(this, withRtt.flatMap((p) => collector.programStats(p).map((s) => [{ probe: p, program: s.name }, Number(s.runCnt)] as [Record<'probe' | 'program', string>, number]))); },
  });
}

/** The sink as the collector sees it: up, retries, rows and bytes waiting, rows written. */
function registerSinkMetrics(reg: Registry, collector: Collector): void {
  new Gauge({
    name: 'v2probe_sink_up', help: 'Whether the sink (store or Kafka) accepts writes (1) or is failing and being retried (0).', registers: [reg],
    collect() { this.set(collector.sinkHealth().down ? 0 : 1); },
  });
  new Counter({
    name: 'v2probe_sink_write_retries_total', help: 'Failed sink writes, each retried with backoff.', registers: [reg],
    collect() { this.reset(); this.inc(collector.sinkHealth().retries); },
  });
  new Gauge({
    name: 'v2probe_sink_pending_rows', help: 'Event rows waiting for the sink (bounded by bytes, v2probe_sink_pending_bytes; beyond the bound rows are dropped as lost_sink).', registers: [reg],
    collect() { this.set(collector.sinkHealth().pendingRows); },
  });
  new Gauge({
    name: 'v2probe_sink_pending_bytes', help: 'Estimated memory of the rows waiting for the sink (pending and in batches not yet written); at the bound rows are dropped as lost_sink, their weight carried to the next row.', registers: [reg],
    collect() { this.set(collector.sinkHealth().pendingBytes); },
  });
  new Counter({
    name: 'v2probe_sink_rows_total', help: 'Event rows written to the sink.', registers: [reg],
    collect() { this.reset(); this.inc(collector.sinkRows); },
  });
}

/** go_sched: live user goroutines per Go process. */
function registerGoroutines(reg: Registry, collector: Collector): void {
  new Gauge({
    name: 'v2probe_go_goroutines', help: 'Live user goroutines per Go process (go_sched uprobes; exact when attached before the process started).',
    labelNames: ['process_id', 'comm', 'subsystem'], registers: [reg],
    collect() {
      this.reset();
      for (const r of goroutineRows(collector)) {
        this.set({ process_id: String(r.pid), comm: collector.commOf(r.pid), subsystem: 'go_runtime' }, r.value);
      }
    },
  });
}

/** The sink's own figures (Kafka: batches, wire bytes, spool). */
function registerSinkStats(reg: Registry, sinkStats: NonNullable<MetricsOptions['sinkStats']>): void {
  const gauge = (name: string, help: string, key: string, counter = true) =>
    counter
      ? new Counter({ name, help, registers: [reg], collect() { const v = sinkStats()?.[key]; this.reset(); if (v !== undefined) this.inc(v); } })
      : new Gauge({ name, help, registers: [reg], collect() { const v = sinkStats()?.[key]; if (v !== undefined) this.set(v); } });
  gauge('v2probe_sink_batches_sent_total', 'Batches (Kafka messages) the sink delivered.', 'messages');
  gauge('v2probe_sink_wire_bytes_total', 'Bytes the sink put on the wire (compressed envelopes).', 'wireBytes');
  gauge('v2probe_sink_batches_spooled_total', 'Batches written to the on-disk spool because Kafka was unreachable or slow.', 'spooled');
  gauge('v2probe_sink_send_errors_total', 'Failed sends to Kafka (each retried or spooled).', 'sendErrors');
  gauge('v2probe_sink_spool_batches', 'Batches waiting in the on-disk spool.', 'spoolCount', false);
  gauge('v2probe_sink_spool_bytes', 'Bytes waiting in the on-disk spool.', 'spoolBytes', false);
  gauge('v2probe_sink_spool_dropped_batches_total', 'Spooled batches dropped because the spool was full (oldest first).', 'spoolDroppedMessages');
}

/** The CPU governor: the probes' CPU share, its budget, its actions. */
function registerGovernor(reg: Registry, gov: NonNullable<MetricsOptions['governor']>): void {
  new Gauge({
    name: 'v2probe_probe_cpu_ratio', help: 'CPU share of all CPUs taken by the probes\' BPF programs over the last governor interval (bpf_stats).', labelNames: ['probe'], registers: [reg],
    collect() { this.reset(); for (const [p, v] of Object.entries(gov.perProbe)) this.set({ probe: p }, v ?? 0); },
  });
  new Gauge({ name: 'v2probe_governor_budget_ratio', help: 'The probes\' CPU budget (share of all CPUs).', registers: [reg], collect() { this.set(gov.budgetRatio); } });
  new Gauge({ name: 'v2probe_governor_active_actions', help: 'Governor actions (sample-rate raises, disables) currently in force.', registers: [reg], collect() { this.set(gov.actions.length); } });
  new Counter({ name: 'v2probe_governor_actions_total', help: 'Governor actions taken since start.', registers: [reg], collect() { this.reset(); this.inc(gov.actionsTotal); } });
  new Counter({ name: 'v2probe_governor_restores_total', help: 'Governor actions undone since start.', registers: [reg], collect() { this.reset(); this.inc(gov.restoresTotal); } });
}

/** The round-trip breakdowns of `--explain` (explain/histograms.ts), read at each scrape. */
function registerRtt(reg: Registry, stats: () => RttStats): void {
  reg.registerMetric(new FixedBucketHistogram('v2probe_rtt_seconds', 'Sampled client-broker round trips over Unix sockets (v2probe explain): client send to client receive, per broker comm.', RTT_BUCKETS_S, () =>
    [...stats().hist.byComm].map(([comm, h]) => ({ labels: { broker_comm: comm }, h: h.total }))) as unknown as Metric<string>);
  reg.registerMetric(new FixedBucketHistogram('v2probe_rtt_component_seconds', `Where the sampled round trips' time went, per broker comm and component (the components of a trip add up to its total): ${COMPONENTS.map(componentLabel).join(', ')}.`, RTT_BUCKETS_S, () =>
    [...stats().hist.byComm].flatMap(([comm, h]) => COMPONENTS.map((c) => ({ labels: { broker_comm: comm, component: componentLabel(c) }, h: h.components[c] })))) as unknown as Metric<string>);
  new Counter({
    name: 'v2probe_rtt_trips_total', help: 'Sampled round trips joined into a breakdown, per broker comm (equals the histograms\' _count).', labelNames: ['broker_comm'], registers: [reg],
    collect() {
      this.reset();
      const s = stats();
      for (const c of s.comms) this.inc({ broker_comm: c }, 0);
      for (const [comm, h] of s.hist.byComm) this.inc({ broker_comm: comm }, h.total.count);
    },
  });
  new Counter({
    name: 'v2probe_rtt_trips_incomplete_total', help: 'Sampled round trips given up on: a record missing (ring buffer full, process exited) or out of order; never joined, never stored.', registers: [reg],
    collect() { this.reset(); this.inc(stats().incomplete); },
  });
  new Counter({
    name: 'v2probe_rtt_breakdown_rows_total', help: 'Breakdown rows the sink accepted (v2e.rtt_breakdown, or stdout lines); 0 with a Kafka sink (breakdowns are in these metrics only).', registers: [reg],
    collect() { this.reset(); this.inc(stats().rowsWritten); },
  });
  new Gauge({
    name: 'v2probe_rtt_brokers', help: 'Broker processes being explained now, per comm (--explain).', labelNames: ['broker_comm'], registers: [reg],
    collect() { this.reset(); for (const [c, n] of Object.entries(stats().brokers)) this.set({ broker_comm: c }, n); },
  });
}

/** Serve `reg` on http://HOST:PORT/metrics; resolves with the bound address. */
export function serveMetrics(reg: Registry, listen: { host: string; port: number }): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found: try /metrics\n');
      return;
    }
    reg.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': reg.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(`metrics failed: ${err.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      const a = server.address();
      const port = typeof a === 'object' && a ? a.port : listen.port;
      resolve({ server, url: `http://${listen.host}:${port}/metrics` });
    });
  });
}
