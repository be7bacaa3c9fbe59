/**
 * cli/run-collector.ts — what `collect` and `up` share: check privileges,
 * mount tracefs, open the sink, start the collector, drop the capabilities it
 * no longer needs (every thread), stop it cleanly on SIGINT/SIGTERM/SIGHUP or after
 * --duration, and show live counts.
 */
import { getHeapStatistics } from 'node:v8';
import type { Logger } from 'pino';
import { Collector, type ExplainOptions, type ProbeOptions, type ProbeStatus } from '../collector/collector.js';
import { rttStats } from '../explain/runtime.js';
import { drawFrame, endFrame } from './tty.js';
import { serveStore, storeSocketPath } from '../store/serve.js';
import { bpfPrivilege, ensureTracefs } from '../collector/families/kernel.js';
import { KernelError } from '../collector/errors.js';
import { openSink } from '../collector/sinks/registry.js';
import type { Sink } from '../collector/sinks/sink.js';
import { collectorRegistry, serveMetrics } from '../collector/ops/metrics.js';
import { serveControl, type ControlListen } from '../collector/ops/control.js';
import { capabilitiesNeeded, capabilityReport, dropCollectorCapabilities, registerCapabilityMetrics, type CapabilityState } from '../collector/ops/capabilities.js';
import { defaultSampleOf, Governor } from '../collector/ops/governor.js';
import type { UprobeTargets } from '../uprobes/attach.js';
import type { KafkaSinkSpec } from '../kafka/client.js';
import { StoreSink } from '../collector/sinks/store.js';
import { Evaluator, loadRules } from '../alerts/index.js';
import type { AlertmanagerConfig } from '../alerts/alertmanager.js';
import type { Registry } from 'prom-client';
import type { ProbeName } from '../schema/event.js';

export interface RunOptions {
  probes: ProbeName[];
  sink: string;
  /** the Kafka sink with TLS/SASL resolved (when `sink` is kafka[s]://) */
  kafka?: KafkaSinkSpec;
  pid?: number;
  comm?: string;
  durationMs?: number;
  sample: Partial<Record<ProbeName, number>>;
  burst?: Partial<Record<ProbeName, { rate: number; size?: number }>>;
  cgroup?: number;
  /** uds also hooks read/write on AF_UNIX fds (what Go's UnixConn uses) */
  udsReadWrite?: boolean;
  /** Go binaries / pids for go_* probes, user uprobes for app */
  targets?: UprobeTargets;
  /** run the alert evaluator on the sink's store with the rules in this directory (undefined: off) */
  alerts?: { rulesDir: string; webhooks: string[]; alertmanager?: AlertmanagerConfig };
  ringBytes?: number;
  /** bound on the memory of event rows waiting for the sink (default DEFAULT_PENDING_BYTES, collector/pipeline/batcher.ts) */
  pendingBytes?: number;
  snapshotMs?: number;
  /** print a status line every N ms on stderr (0: off) */
  statusEveryMs: number;
  /** serve Prometheus /metrics on this address (undefined: off) */
  metrics?: { host: string; port: number };
  metricsTop?: number;
  /** serve the store read-only over ClickHouse's HTTP interface here (undefined: off); token required off loopback */
  http?: { host: string; port: number; token?: string };
  /** serve the control API here (undefined: off) */
  control?: ControlListen;
  /** CPU budget of the probes (fraction of all CPUs); undefined: no governor */
  budget?: number;
  /** per-probe options from the config file (filters, min_value, burst limit); `sample` wins for sampleEvery */
  perProbe?: Partial<Record<ProbeName, ProbeOptions>>;
  /** governor: probes acted on first come first */
  governorPriority?: ProbeName[];
  /** keep every capability instead of dropping all but the needed ones after attaching (--keep-capabilities) */
  keepCapabilities?: boolean;
  /** explain round trips to these brokers (the rtt family): /metrics, and rows to a store or stdout sink */
  explain?: ExplainOptions;
  logger: Logger;
}

export async function runCollector(o: RunOptions): Promise<{ status: ProbeStatus[]; rows: number }> {
  preflight(o);
  const sink = await openSink(o.sink, { kafka: o.kafka });
  const collector = newCollector(o, sink);

  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= collector.stop());
  let wake: () => void = () => {};
  const finished = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = (sig: NodeJS.Signals) => {
    o.logger.info({ signal: sig }, 'stopping');
    wake();
  };
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);

  let statusTimer: NodeJS.Timeout | undefined;
  let stopGovernor: () => Promise<void> = async () => {};
  const alertsStop = new AbortController();
  const svc: Services = { alertsDone: Promise.resolve(), storeServers: [] };
  const caps: { state: CapabilityState } = { state: { mode: 'none', kept: {}, dropped: [], boundingDropped: false, noNewPrivs: false, threads: 0 } };
  try {
    const started = await collector.start();
    const governor = o.budget !== undefined ? new Governor(collector, o.probes, defaultSampleOf(collector), { budget: o.budget, priority: o.governorPriority }, o.logger) : undefined;
    governor?.start();
    stopGovernor = async () => governor?.stop();
    await startServices(o, collector, sink, governor, caps, alertsStop.signal, svc);
    logStarted(o, started, sink);
    // attached, listening, governor started (it switches bpf_stats on first): from here on only
    // what re-attaching needs, on every thread (SECURITY.md "Capabilities"); a failed drop stops the run
    caps.state = dropCollectorCapabilities(capabilitiesNeeded({
      uid: process.getuid?.() ?? 0,
      binaries: (o.targets?.binaries?.length ?? 0) > 0 || (o.targets?.app?.length ?? 0) > 0,
      processes: (o.targets?.pids?.length ?? 0) > 0 || o.explain !== undefined,
    }), { keepAll: o.keepCapabilities === true, logger: o.logger });
    o.logger.info({ probes: started.filter((s) => s.state === 'running').map((s) => s.probe), sink: sink.name }, 'collecting');
    if (o.statusEveryMs > 0) statusTimer = startStatusLines(o, collector, governor, svc.evaluator);
    const timer = o.durationMs ? setTimeout(wake, o.durationMs) : undefined;
    await finished;
    if (timer) clearTimeout(timer);
    // nothing reads the probes while they close
    if (statusTimer) clearInterval(statusTimer);
    endFrame();
    // nothing may enable or disable a probe while it closes: the governor's tick in progress ends first,
    // and the control API stops taking requests
    await stopGovernor();
    svc.controlServer?.close();
    svc.controlServer = undefined;
    const final = collector.status();
    await stop();
    const rs = rttStats(collector);
    if (rs) o.logger.info({ trips: rs.hist.trips, incomplete: rs.incomplete, rowsWritten: rs.rowsWritten, rowsLost: rs.rowsLost }, 'explain summary');
    return { status: final, rows: collector.sinkRows };
  } finally {
    if (statusTimer) clearInterval(statusTimer);
    await stopGovernor();
    alertsStop.abort();
    await svc.alertsDone;
    await svc.evaluator?.alertmanager?.flush(2000);
    svc.evaluator?.alertmanager?.close();
    svc.metricsServer?.close();
    svc.controlServer?.close();
    for (const s of svc.storeServers) s.close();
    await stop();
    await sink.close();
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
  }
}

/**
 * The signals that stop a run cleanly (last snapshot, last rows, exact ledger).
 * SIGHUP too (the terminal closed): without a handler Node dies at once and the
 * last second's counters never reach the store. Node resets every inherited
 * disposition at start, so `nohup` never protected a Node process from it.
 */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Privileges, tracefs, the V8 heap bound: refuse or warn before anything opens. */
function preflight(o: RunOptions): void {
  const priv = bpfPrivilege();
  if (!priv.ok) throw new KernelError('PERMISSION', priv.reason!);
  const tfs = ensureTracefs();
  if (tfs.action === 'mounted') o.logger.info('mounted tracefs at /sys/kernel/tracing');
  // the memory bound (200 MB RSS at the maximum drain rate) holds with node's heap bounded, as npm start and the systemd unit do
  const heapMb = Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
  if (heapMb > 1024) o.logger.warn({ heapLimitMb: heapMb }, 'V8 heap not bounded: under a high event rate RSS grows to what V8 can afford; run node with --max-old-space-size=128 (npm start and packaging/v2probe.service do)');
  if (!tfs.mounted) o.logger.warn({ err: tfs.error }, 'tracefs is not mounted and could not be mounted: tracepoint probes will fail to attach');
}

/** The collector the options ask for: --sample and --burst over the config file's per-probe options. */
function newCollector(o: RunOptions, sink: Sink): Collector {
  const perProbe: Partial<Record<ProbeName, ProbeOptions>> = { ...o.perProbe };
  for (const [p, n] of Object.entries(o.sample)) perProbe[p as ProbeName] = { ...perProbe[p as ProbeName], sampleEvery: n };
  for (const [p, b] of Object.entries(o.burst ?? {})) perProbe[p as ProbeName] = { ...perProbe[p as ProbeName], burstRate: b!.rate, burstSize: b!.size };
  return new Collector({
    probes: o.probes,
    sink,
    logger: o.logger,
    pid: o.pid,
    comm: o.comm,
    cgroup: o.cgroup,
    optIn: { udsReadWrite: o.udsReadWrite === true },
    targets: o.targets,
    perProbe,
    ringBytes: o.ringBytes,
    batch: o.pendingBytes !== undefined ? { maxPendingBytes: o.pendingBytes } : undefined,
    snapshotMs: o.snapshotMs,
    explain: o.explain,
  });
}

/** What runs beside the collector (each closed at the end; filled in as it starts, so a failure closes what started). */
interface Services {
  metricsServer?: { close(): void };
  controlServer?: { close(): void };
  evaluator?: Evaluator;
  alertsDone: Promise<void>;
  /** the store socket and --http */
  storeServers: Array<{ close(): void }>;
}

/** /metrics, the control API and the alert evaluator, as the options ask. */
async function startServices(o: RunOptions, collector: Collector, sink: Sink, governor: Governor | undefined, caps: { state: CapabilityState }, alertsStop: AbortSignal, svc: Services): Promise<void> {
  let metricsRegistry: Registry | undefined;
  if (o.metrics) {
    const m = await serveMetrics(metricsRegistry = collectorRegistry(collector, o.probes, {
      topProcesses: o.metricsTop,
      governor,
      sinkStats: 'snapshotStats' in sink ? () => (sink as unknown as { snapshotStats(): Record<string, number> }).snapshotStats() : undefined,
    }), o.metrics);
    svc.metricsServer = m.server;
    registerCapabilityMetrics(metricsRegistry, () => caps.state);
    o.logger.info({ url: m.url }, 'serving Prometheus metrics');
  }
  if (o.control) svc.controlServer = await serveControl(collector, o.control, o.logger, { capabilities: () => capabilityReport(caps.state) });
  await serveStoreReaders(o, sink, svc);
  if (o.alerts && sink instanceof StoreSink) {
    const loaded = loadRules(o.alerts.rulesDir);
    for (const e of loaded.errors) o.logger.error({ file: e.file, line: e.line, err: e.message }, 'alert rule skipped');
    const evaluator = (svc.evaluator = new Evaluator({ store: sink.store, groups: loaded.groups, logger: o.logger, webhook: { urls: o.alerts.webhooks }, alertmanager: o.alerts.alertmanager }));
    if (metricsRegistry) evaluator.alertmanager?.registerMetrics(metricsRegistry);
    svc.alertsDone = evaluator.run(alertsStop).catch((err) => o.logger.error({ err: (err as Error).message }, 'alert evaluator stopped'));
    o.logger.info({ rules: loaded.groups.reduce((n, g) => n + g.rules.length, 0), dir: o.alerts.rulesDir }, 'alert evaluator running');
  } else if (o.alerts) o.logger.warn('alerts need a store sink (chdb:… or clickhouse://…); not evaluating here');
}

/**
 * The store readable while this process holds it: a chDB store's socket
 * (<PATH>.sock: what `query`, `alerts --once`, `incident`, … go through when
 * the directory is locked) and `--http` (read-only ClickHouse HTTP interface).
 */
async function serveStoreReaders(o: RunOptions, sink: Sink, svc: Services): Promise<void> {
  if (!(sink instanceof StoreSink)) {
    if (o.http) o.logger.warn({ http: `${o.http.host}:${o.http.port}` }, '--http needs a store sink (chdb:… or clickhouse://…); not serving it');
    return;
  }
  const store = sink.store;
  if (store.kind === 'chdb') {
    const socket = storeSocketPath((store as { path?: string }).path ?? '');
    try {
      const s = await serveStore(store, { socket }, { readOnly: false });
      svc.storeServers.push(s);
      o.logger.info({ socket }, 'store socket: other v2probe commands read this store through it while this runs');
    } catch (err) {
      o.logger.warn({ socket, err: (err as Error).message }, 'store socket not served: other commands cannot read the store while this runs');
    }
  }
  if (o.http) {
    const s = await serveStore(store, o.http, { readOnly: true });
    svc.storeServers.push(s);
    o.logger.info({ url: `http://${s.address}/`, token: o.http.token ? 'required' : 'none (loopback)' }, 'serving the store read-only over ClickHouse\'s HTTP interface');
  }
}

/** Say which probes failed, and where --explain's breakdowns go. */
function logStarted(o: RunOptions, started: ProbeStatus[], sink: Sink): void {
  for (const s of started) {
    if (s.state === 'failed') o.logger.error({ probe: s.probe, err: s.error }, `probe ${s.probe} failed to attach; the others keep running`);
  }
  if (o.explain && started.some((s) => s.probe === 'rtt' && s.state === 'running')) {
    const where = sink.writeBreakdowns
      ? `/metrics${o.metrics ? '' : ' (off: add --metrics)'} and ${sink instanceof StoreSink ? 'v2e.rtt_breakdown' : 'stdout lines with "type":"rtt_breakdown"'}`
      : `/metrics only: the ${sink.name.startsWith('kafka') ? 'Kafka ' : ''}sink does not carry breakdown rows (use a store or stdout sink for rows)`;
    const msg = `explain: round trips to ${o.explain.comms.join(', ')} (1 in ${o.explain.sampleEvery ?? 100} requests); breakdowns go to ${where}`;
    if (!sink.writeBreakdowns && !o.metrics) o.logger.warn({ comms: o.explain.comms }, `${msg}, and /metrics is off: only the trip counts of \`ctl status\` remain`);
    else o.logger.info({ comms: o.explain.comms, sampleEvery: o.explain.sampleEvery ?? 100 }, msg);
  }
}

/** Status every `statusEveryMs` on stderr: a terminal gets a live view redrawn every second, anything else structured log lines. */
function startStatusLines(o: RunOptions, collector: Collector, governor: Governor | undefined, evaluator: Evaluator | undefined): NodeJS.Timeout {
  let prev = new Map<string, Record<string, number>>();
  const tty = process.stderr.isTTY === true;
  const every = tty ? Math.min(o.statusEveryMs, 1000) : o.statusEveryMs;
  return setInterval(() => {
    try {
      const st = collector.status();
      const snap = statusSnapshot(st, prev, every, collector.sinkRows, governor, evaluator?.status());
      const health = collector.sinkHealth();
      if (health.down) snap.sinkDown = { since: health.downSinceMs ? new Date(health.downSinceMs).toISOString() : undefined, error: health.lastError, pendingRows: health.pendingRows };
      if (tty) drawFrame(formatLiveView(snap));
      else o.logger.info(snap, 'status');
      prev = new Map(st.map((s) => [s.probe, s.counters]));
    } catch (err) {
      o.logger.warn({ err: (err as Error).message }, 'status: could not read the probes');
    }
  }, every);
}

/** One status sample: per probe rates over the last interval, drops, hook CPU (governor's bpf_stats share). */
export interface StatusSnapshot {
  /** ISO time of the sample */
  at: string;
  storedRows: number;
  /** all probes' CPU share and the budget, in % of all CPUs (with a governor) */
  cpuPct?: number;
  budgetPct?: number;
  /** the sink is failing (store down or full): since when, why, rows waiting */
  sinkDown?: { since?: string; error?: string; pendingRows: number };
  /** alerts firing now (with the evaluator running) */
  firing?: Array<{ rule: string; severity: string; labels: Record<string, string> }>;
  probes: Array<{
    probe: string;
    state: string;
    eventsPerS?: number;
    sampledPerS?: number;
    /** cumulative drops of every kind */
    dropped?: number;
    hookCpuPct?: number;
    error?: string;
    /** rtt (--explain): round trips joined into breakdowns, and given up on (cumulative) */
    trips?: number;
    tripsIncomplete?: number;
  }>;
}

const DROP_COUNTERS = ['lost_ringbuf', 'lost_mapfull', 'lost_userspace', 'lost_sink', 'burst_dropped', 'rejected_decode'];

export function statusSnapshot(
  st: ProbeStatus[],
  prev: Map<string, Record<string, number>>,
  ms: number,
  rows: number,
  governor?: { perProbe: Partial<Record<ProbeName, number>>; share: number; budgetRatio: number },
  alerts?: Array<{ rule: string; severity: string; state: string; labels: Record<string, string> }>,
): StatusSnapshot {
  const perS = (cur: number | undefined, before: number | undefined) => Math.max(0, Math.round((((cur ?? 0) - (before ?? cur ?? 0)) * 1000) / ms));
  const pct = (x: number | undefined) => (x === undefined ? undefined : +(x * 100).toFixed(4));
  return {
    at: new Date().toISOString(),
    storedRows: rows,
    cpuPct: governor ? pct(governor.share) : undefined,
    firing: alerts?.filter((a) => a.state === 'firing').map((a) => ({ rule: a.rule, severity: a.severity, labels: a.labels })),
    budgetPct: governor ? pct(governor.budgetRatio) : undefined,
    probes: st.map((s) => {
      if (s.state !== 'running') return { probe: s.probe, state: s.state, error: s.error?.slice(0, 120) };
      const c = s.counters;
      const p = prev.get(s.probe);
      const row: StatusSnapshot['probes'][number] = {
        probe: s.probe,
        state: s.state,
        eventsPerS: p ? perS(c.seen, p.seen) : undefined,
        sampledPerS: p ? perS(c.sampled, p.sampled) : undefined,
        dropped: DROP_COUNTERS.reduce((n, k) => n + (c[k] ?? 0), 0),
        hookCpuPct: governor ? pct(governor.perProbe[s.probe]) : undefined,
      };
      if (c.trips !== undefined) {
        row.trips = c.trips;
        row.tripsIncomplete = c.trips_incomplete ?? 0;
      }
      return row;
    }),
  };
}

/** The live view of `up` on a terminal: a header and one line per probe. */
export function formatLiveView(s: StatusSnapshot): string {
  const n = (x: number | undefined) => (x === undefined ? '-' : x.toLocaleString('en-US'));
  const p = (x: number | undefined) => (x === undefined ? '-' : `${x.toFixed(3)}%`);
  const cpu = s.cpuPct !== undefined ? `   probes ${p(s.cpuPct)} of CPU (budget ${p(s.budgetPct)})` : '';
  const lines = [
    `v2probe  ${s.at.slice(11, 19)}   stored ${n(s.storedRows)} rows${cpu}`,
    `${'probe'.padEnd(10)}${'state'.padEnd(9)}${'events/s'.padStart(12)}${'sampled/s'.padStart(12)}${'dropped'.padStart(10)}${'hook CPU'.padStart(11)}`,
  ];
  for (const r of s.probes) {
    if (r.state !== 'running') {
      lines.push(`${r.probe.padEnd(10)}${r.state.padEnd(9)}${r.error ? `  ${r.error.slice(0, 60)}` : ''}`);
      continue;
    }
    const trips = r.trips !== undefined ? `   ${n(r.trips)} trips explained, ${n(r.tripsIncomplete)} incomplete` : '';
    lines.push(`${r.probe.padEnd(10)}${r.state.padEnd(9)}${n(r.eventsPerS).padStart(12)}${n(r.sampledPerS).padStart(12)}${n(r.dropped).padStart(10)}${p(r.hookCpuPct).padStart(11)}${trips}`);
  }
  if (s.sinkDown) lines.push(`SINK DOWN${s.sinkDown.since ? ` since ${s.sinkDown.since.slice(11, 19)}` : ''}: ${(s.sinkDown.error ?? '').slice(0, 80)} — retrying, ${s.sinkDown.pendingRows} rows waiting`);
  if (s.firing) {
    lines.push(s.firing.length ? `alerts firing: ${s.firing.length}` : 'alerts firing: none');
    for (const a of s.firing.slice(0, 5)) lines.push(`  ${a.severity.padEnd(8)} ${a.rule} ${Object.entries(a.labels).filter(([k]) => k !== 'alertname' && k !== 'severity').map(([k, v]) => `${k}=${v}`).join(' ')}`);
  }
  return lines.join('\n');
}
