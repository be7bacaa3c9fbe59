/**
 * collector/ops/governor.ts — keeps the probes' CPU cost under a budget.
 *
 * Every interval it reads each probe's BPF run time (bpf_stats: run_time_ns,
 * needs kernel.bpf_stats_enabled=1, which it turns on) and computes the share
 * of the machine's CPU the probes took. Over the budget it acts on the
 * lowest-priority probe first: raise its 1-in-N sample rate (×10, up to a
 * ceiling), then disable it. When the share has stayed under half the budget
 * for `restoreAfter` intervals it undoes its last action (last in, first out).
 * Every action is logged and counted; the state is exported in /metrics.
 *
 * A disabled probe costs nothing, so quiet intervals after a disable say
 * nothing about the load that caused it: undoing a disable is a trial. When
 * the re-enabled probe goes over the budget again before it has run
 * `restoreAfter` intervals, the governor disables it again and doubles the
 * quiet intervals it waits before the next trial (up to 32 x restoreAfter);
 * a trial that stays under the budget resets the wait. Without this, a load
 * that lasts makes the probe flap: off, on after restoreAfter intervals, off.
 */
import { cpus } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { PROBES, type ProbeDef, type ProbeName } from '../../schema/event.js';
import type { Collector } from '../collector.js';

export interface GovernorOptions {
  /** budget as a fraction of all CPUs (0.01 = 1 %) */
  budget: number;
  intervalMs?: number;
  /** probes acted on first come first; default: the catalog order reversed */
  priority?: ProbeName[];
  maxSampleEvery?: number;
  /** consecutive quiet intervals before an action is undone */
  restoreAfter?: number;
}

export type GovernorAction =
  | { kind: 'sample'; probe: ProbeName; from: number; to: number }
  | { kind: 'disable'; probe: ProbeName };

const STATS = '/proc/sys/kernel/bpf_stats_enabled';

export class Governor {
  readonly actions: GovernorAction[] = [];
  actionsTotal = 0;
  restoresTotal = 0;
  /** last measured CPU share of all probes (0..1 of all CPUs) */
  share = 0;
  perProbe: Partial<Record<ProbeName, number>> = {};
  private timer: NodeJS.Timeout | undefined;
  private last = new Map<string, bigint>();
  private lastAt = process.hrtime.bigint();
  private quiet = 0;
  private busy = false;
  /** the tick in progress (stop() waits for it: it may be disabling a probe) */
  private inFlight: Promise<void> = Promise.resolve();
  /** quiet intervals before a disable of this probe is undone, when more than restoreAfter (backoff after failed trials) */
  private readonly disableWait = new Map<ProbeName, number>();
  /** the probe whose disable was undone last and the intervals it has run since */
  private trial: { probe: ProbeName; intervals: number } | undefined;
  private readonly ncpu = cpus().length;

  constructor(
    private readonly collector: Collector,
    private readonly probes: ProbeName[],
    private readonly sampleOf: (p: ProbeName) => number,
    private readonly opts: GovernorOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    try {
      if (readFileSync(STATS, 'utf8').trim() !== '1') {
        writeFileSync(STATS, '1');
        this.logger.info('governor: enabled kernel.bpf_stats_enabled to measure probe CPU time');
      }
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'governor: cannot enable bpf_stats; probe cost is not measured');
    }
    this.measure();
    this.timer = setInterval(() => {
      if (!this.busy) this.inFlight = this.tick();
    }, this.opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  get budgetRatio(): number {
    return this.opts.budget;
  }

  /** No more ticks; resolves when the one in progress (which may be enabling or disabling a probe) is done. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight.catch(() => {});
  }

  /** CPU share since the last call, per probe and in total. */
  measure(): number {
    const now = process.hrtime.bigint();
    const wall = Number(now - this.lastAt);
    this.lastAt = now;
    let total = 0;
    for (const p of this.probes) {
      let ns = 0n;
      for (const s of this.collector.programStats(p)) ns += s.runTimeNs;
      const prev = this.last.get(p);
      this.last.set(p, ns);
      const d = prev === undefined || ns < prev ? 0 : Number(ns - prev);
      const share = wall > 0 ? d / (wall * this.ncpu) : 0;
      this.perProbe[p] = share;
      total += share;
    }
    this.share = total;
    return total;
  }

  private order(): ProbeName[] {
    return this.opts.priority ?? [...this.probes].reverse();
  }

  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const share = this.measure();
      const budget = this.opts.budget;
      if (this.trial && ++this.trial.intervals > this.restoreAfter) {
        // the re-enabled probe ran restoreAfter intervals without going back over the budget
        this.disableWait.delete(this.trial.probe);
        this.trial = undefined;
      }
      if (share > budget) {
        this.quiet = 0;
        await this.reduce(share);
      } else if (share < budget / 2 && this.actions.length > 0) {
        if (++this.quiet >= this.quietNeeded()) {
          this.quiet = 0;
          await this.restore();
        }
      } else this.quiet = 0;
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'governor: tick failed');
    } finally {
      this.busy = false;
    }
  }

  private get restoreAfter(): number {
    return this.opts.restoreAfter ?? 5;
  }

  private quietNeededFor(p: ProbeName): number {
    return this.disableWait.get(p) ?? this.restoreAfter;
  }

  /** Quiet intervals needed before the last action is undone. */
  quietNeeded(): number {
    const last = this.actions.at(-1);
    return last?.kind === 'disable' ? this.quietNeededFor(last.probe) : this.restoreAfter;
  }

  private async reduce(share: number): Promise<void> {
    const max = this.opts.maxSampleEvery ?? 1_000_000;
    // the costliest of the lowest-priority probes that still can give something
    for (const p of this.order()) {
      const st = this.collector.status().find((s) => s.probe === p);
      if (st?.state !== 'running' || (this.perProbe[p] ?? 0) === 0) continue;
      const from = this.sampleOf(p);
      let action: GovernorAction;
      if (from < max) {
        const to = Math.min(max, from * 10);
        this.collector.configure(p, { sampleEvery: to });
        action = { kind: 'sample', probe: p, from, to };
      } else {
        await this.collector.setEnabled(p, false);
        action = { kind: 'disable', probe: p };
        if (this.trial?.probe === p) {
          // a failed trial: the load that made us disable it is still there
          this.disableWait.set(p, Math.min(this.quietNeededFor(p) * 2, 32 * this.restoreAfter));
          this.trial = undefined;
        }
      }
      this.actions.push(action);
      this.actionsTotal++;
      const retryAfter = action.kind === 'disable' ? { restoreAfterIntervals: this.quietNeededFor(p) } : {};
      this.logger.warn({ share: +(share * 100).toFixed(3), budget: this.opts.budget * 100, action, ...retryAfter }, 'governor: probes over the CPU budget');
      return;
    }
  }

  private async restore(): Promise<void> {
    const a = this.actions.pop();
    if (!a) return;
    if (a.kind === 'sample') this.collector.configure(a.probe, { sampleEvery: a.from });
    else {
      await this.collector.setEnabled(a.probe, true);
      this.trial = { probe: a.probe, intervals: 0 };
    }
    this.restoresTotal++;
    this.logger.info({ share: +(this.share * 100).toFixed(3), undone: a }, 'governor: load dropped, restoring');
  }
}

export function defaultSampleOf(collector: Collector) {
  return (p: ProbeName): number => collector.probeOptionsOf(p)?.sampleEvery ?? (PROBES[p] as ProbeDef).defaultSampleEvery;
}
