/**
 * collector/start.ts — how the collector core starts one probe family: a
 * family whose runtime has a session of its own (collector/families/runtime.ts)
 * starts it; any other opens its object, configures it and tries its attach
 * plans in order (a runtime may attach a plan its way: uprobes), then polls
 * its ring. A plan that fails is reported and the next is tried.
 */
import { encodeConfig } from '../schema/event.js';
import type { loadNative, Probe as NativeProbe } from '../native/index.js';
import { ATTACH, planAutoload } from './families/plans.js';
import type { FamilyRuntime } from './families/runtime.js';
import type { CollectorOptions, ProbeOptions, Running } from './options.js';
import { KernelError } from './errors.js';

export type NativeAddon = ReturnType<typeof loadNative>;

/** What starting a family needs from the collector. */
export interface StartContext {
  opts: CollectorOptions;
  /** the options the probe runs with now */
  options(p: Running): ProbeOptions;
  /** the native hand-off options of a probe */
  poll(): { batchRecords?: number; batchMs?: number; maxQueuedBatches: number; carryWeight: boolean };
  onBatch(p: Running, batch: Buffer, records: number): void;
}

/** The options a probe runs with now: its own over the collector's (sampling, filters). */
export function probeOptions(opts: CollectorOptions, p: Running): ProbeOptions {
  const o = opts.perProbe?.[p.name] ?? {};
  return {
    sampleEvery: o.sampleEvery ?? p.def.defaultSampleEvery,
    pid: o.pid ?? opts.pid,
    comm: o.comm ?? opts.comm,
    minValue: o.minValue ?? 0,
    cgroup: o.cgroup ?? opts.cgroup,
    burstRate: o.burstRate,
    burstSize: o.burstSize,
  };
}

/** Open, configure and attach a family: its runtime's session, or its attach plans in order until one attaches. */
export async function startFamily(ctx: StartContext, native: NativeAddon, p: Running): Promise<void> {
  if (p.rt?.start) return startSession(ctx, p, p.rt);
  const fam = ATTACH[p.name];
  const log = ctx.opts.logger.child({ probe: p.name });
  for (const plan of fam.plans) {
    if (plan.programs.length === 0) {
      p.attachErrors.push(`${plan.label}: not available`);
      continue;
    }
    let probe: NativeProbe | undefined;
    try {
      probe = await openObject(ctx.opts, native, fam.object, planAutoload(fam.plans, plan, { ...ctx.opts.optIn, ...p.rt?.optIn }));
      probe.updateMap('config', Buffer.alloc(4), encodeConfig({ enabled: true, ...ctx.options(p) }));
      const results = p.rt?.attach ? await p.rt.attach(probe, plan) : await probe.attach();
      const failed = results.filter((r) => !r.ok);
      if (failed.length > 0) throw new KernelError('ATTACH', failed.map((f) => f.error).join('; '));
      p.native = probe;
      p.plan = plan;
      p.state = 'running';
      probe.startPolling((batch, records) => ctx.onBatch(p, batch, records), ctx.poll());
      log.info({ attach: plan.label }, 'probe attached');
      return;
    } catch (err) {
      probe?.close();
      const msg = (err as Error).message;
      p.attachErrors.push(`${plan.label}: ${msg}`);
      log.warn({ attach: plan.label, err: msg }, 'attach plan failed, trying the next');
    }
  }
  p.state = 'failed';
  p.error = p.attachErrors.join(' | ');
  log.error({ err: p.error }, 'probe could not attach');
}

/** A family with a runtime of its own: its session instead of the attach plans. */
async function startSession(ctx: StartContext, p: Running, rt: FamilyRuntime): Promise<void> {
  const log = ctx.opts.logger.child({ probe: p.name });
  const label = ATTACH[p.name].plans[0].label;
  const why = rt.unavailable?.();
  if (why) {
    p.state = 'failed';
    p.error = why;
    p.attachErrors.push(p.error);
    log.error({ err: p.error }, 'probe could not attach');
    return;
  }
  try {
    const s = await rt.start!(ctx.opts.perProbe?.[p.name]?.sampleEvery);
    p.session = s;
    p.native = s.native;
    p.plan = s.plan;
    p.state = 'running';
    log.info({ attach: label, ...s.logFields }, 'probe attached');
  } catch (err) {
    const msg = (err as Error).message;
    p.attachErrors.push(`${label}: ${msg}`);
    p.state = 'failed';
    p.error = p.attachErrors.join(' | ');
    log.error({ err: p.error }, 'probe could not attach');
  }
}

/**
 * Open a family's object. A row wakes the reader only when it takes the ring
 * across a multiple of `wakeupBytes` (default: an eighth of the ring, 455
 * rows of a 256 KiB ring; bpf/emit.bpf.h v2_wakeup_flags); the reader also
 * polls every 50 ms, so a quiet probe's rows still arrive. This saves an
 * irq_work + wakeup (1.5-12 us here) per sampled row. Objects without the
 * option open as built.
 */
async function openObject(opts: CollectorOptions, native: NativeAddon, object: string, autoload: Record<string, boolean>): Promise<NativeProbe> {
  const ring = opts.ringBytes ?? 256 * 1024;
  // 0: every row wakes the reader (every record crosses a multiple of 1 byte)
  const wakeup = Math.max(1, opts.wakeupBytes ?? Math.floor(ring / 8));
  try {
    return await native.open(object, { ringBytes: opts.ringBytes, autoload, rodata: { v2_wakeup_bytes: wakeup } });
  } catch (err) {
    if (!/no load-time option/.test((err as Error).message)) throw err;
  }
  return native.open(object, { ringBytes: opts.ringBytes, autoload });
}
