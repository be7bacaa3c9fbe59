/**
 * cli/run-collector.ts — what `collect` and `up` share: check privileges,
 * mount tracefs, open the sink, start the collector, stop it cleanly on
 * SIGINT/SIGTERM or after --duration, and show live counts.
 */
import type { Logger } from 'pino';
import { Collector, type ProbeOptions, type ProbeStatus } from '../collector/collector.js';
import { bpfPrivilege, ensureTracefs } from '../collector/kernel.js';
import { KernelError } from '../collector/errors.js';
import { openSink } from '../collector/sinks.js';
import { collectorRegistry, serveMetrics } from '../collector/metrics.js';
import { serveControl, type ControlListen } from '../collector/control.js';
import { defaultSampleOf, Governor } from '../collector/governor.js';
import type { ProbeName } from '../schema/event.js';

export interface RunOptions {
  probes: ProbeName[];
  sink: string;
  pid?: number;
  comm?: string;
  durationMs?: number;
  sample: Partial<Record<ProbeName, number>>;
  burst?: Partial<Record<ProbeName, { rate: number; size?: number }>>;
  cgroup?: number;
  ringBytes?: number;
  snapshotMs?: number;
  /** print a status line every N ms on stderr (0: off) */
  statusEveryMs: number;
  /** serve Prometheus /metrics on this address (undefined: off) */
  metrics?: { host: string; port: number };
  metricsTop?: number;
  /** serve the control API here (undefined: off) */
  control?: ControlListen;
  /** CPU budget of the probes (fraction of all CPUs); undefined: no governor */
  budget?: number;
  /** per-probe options from the config file (filters, min_value, burst limit); `sample` wins for sampleEvery */
  perProbe?: Partial<Record<ProbeName, ProbeOptions>>;
  /** governor: probes acted on first come first */
  governorPriority?: ProbeName[];
  logger: Logger;
}

export async function runCollector(o: RunOptions): Promise<{ status: ProbeStatus[]; rows: number }> {
  const priv = bpfPrivilege();
  if (!priv.ok) throw new KernelError('PERMISSION', priv.reason!);
  const tfs = ensureTracefs();
  if (tfs.action === 'mounted') o.logger.info('mounted tracefs at /sys/kernel/tracing');
  if (!tfs.mounted) o.logger.warn({ err: tfs.error }, 'tracefs is not mounted and could not be mounted: tracepoint probes will fail to attach');

  const sink = await openSink(o.sink);
  const perProbe: Partial<Record<ProbeName, ProbeOptions>> = { ...o.perProbe };
  for (const [p, n] of Object.entries(o.sample)) perProbe[p as ProbeName] = { ...perProbe[p as ProbeName], sampleEvery: n };
  const collector = new Collector({
    probes: o.probes,
    sink,
    logger: o.logger,
    pid: o.pid,
    comm: o.comm,
    cgroup: o.cgroup,
    perProbe,
    ringBytes: o.ringBytes,
    snapshotMs: o.snapshotMs,
  });

  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= collector.stop());
  let wake: () => void = () => {};
  const finished = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = (sig: NodeJS.Signals) => {
    o.logger.info({ signal: sig }, 'stopping');
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let statusTimer: NodeJS.Timeout | undefined;
  let metricsServer: { close(): void } | undefined;
  let controlServer: { close(): void } | undefined;
  let stopGovernor = () => {};
  try {
    const started = await collector.start();
    const governor = o.budget !== undefined ? new Governor(collector, o.probes, defaultSampleOf(collector), { budget: o.budget, priority: o.governorPriority }, o.logger) : undefined;
    governor?.start();
    stopGovernor = () => governor?.stop();
    if (o.metrics) {
      const m = await serveMetrics(collectorRegistry(collector, o.probes, { topProcesses: o.metricsTop, governor }), o.metrics);
      metricsServer = m.server;
      o.logger.info({ url: m.url }, 'serving Prometheus metrics');
    }
    if (o.control) controlServer = await serveControl(collector, o.control, o.logger);
    for (const s of started) {
      if (s.state === 'failed') o.logger.error({ probe: s.probe, err: s.error }, `probe ${s.probe} failed to attach; the others keep running`);
    }
    o.logger.info({ probes: started.filter((s) => s.state === 'running').map((s) => s.probe), sink: sink.name }, 'collecting');
    let prev = new Map<string, Record<string, number>>();
    if (o.statusEveryMs > 0) {
      statusTimer = setInterval(() => {
        const st = collector.status();
        process.stderr.write(formatStatus(st, prev, o.statusEveryMs, collector.sinkRows) + '\n');
        prev = new Map(st.map((s) => [s.probe, s.counters]));
      }, o.statusEveryMs);
    }
    const timer = o.durationMs ? setTimeout(wake, o.durationMs) : undefined;
    await finished;
    if (timer) clearTimeout(timer);
    const final = collector.status();
    await stop();
    return { status: final, rows: collector.sinkRows };
  } finally {
    if (statusTimer) clearInterval(statusTimer);
    stopGovernor();
    metricsServer?.close();
    controlServer?.close();
    await stop();
    await sink.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function rate(cur: number | undefined, prev: number | undefined, ms: number): string {
  const d = (cur ?? 0) - (prev ?? 0);
  return `${Math.round((d * 1000) / ms)}/s`;
}

export function formatStatus(st: ProbeStatus[], prev: Map<string, Record<string, number>>, ms: number, rows: number): string {
  const parts = st.map((s) => {
    if (s.state !== 'running') return `${s.probe}: ${s.state}${s.error ? ` (${s.error.slice(0, 80)})` : ''}`;
    const c = s.counters;
    const p = prev.get(s.probe) ?? {};
    const lost = (c.lost_ringbuf ?? 0) + (c.lost_mapfull ?? 0) + (c.lost_userspace ?? 0) + (c.lost_sink ?? 0);
    const extra = s.probe === 'sched' ? ` switches ${rate(c.switches, p.switches, ms)}` : '';
    return `${s.probe}: seen ${rate(c.seen, p.seen, ms)} sampled ${rate(c.sampled, p.sampled, ms)}${extra} lost ${lost}`;
  });
  return `[${new Date().toISOString().slice(11, 19)}] ${parts.join(' | ')} | stored ${rows}`;
}
