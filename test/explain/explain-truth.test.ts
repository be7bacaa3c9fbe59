// Ground truth for `v2probe explain`: the rttpair fixture with a known cause
// injected into the broker's handler path. Every breakdown's components must add
// up to its total (within 2 %); with no cause injected, the cause components
// (futex, lock, io, gc, unattributed) stay under 5 % of a round trip. With a cause:
//  - oncpu, futex, pagefault, io: each sampled trip is paired with its own request,
//    and the cause component is compared with the broker's own clocks over the
//    cause's code (sectionTruth below), not with the latency added over a baseline
//    run at another time — under CPU load much of that is, rightly, run-queue time;
//  - runq, gc: >= 70 % of the added latency (mean total vs the baseline) goes to the
//    right component(s), <= 10 % to any other cause; for gc, the added latency less
//    the run-queue waits both ends measured themselves (schedstat), see below.
// For the blocking causes (futex, io, pagefault) the slowest trips carry the stack
// the broker blocked at, and it names the fixture's own frames.
import { afterAll, describe, expect, it } from 'vitest';
import { COMPONENTS, componentSum, type Breakdown, type Component } from '../../explain/breakdown.js';
import { topFrames } from '../../explain/report.js';
import { isRoot } from '../helpers/probes.js';
import { describeUnmatched, matchRequests, scenario, type Matched, type Scenario } from './rtt-helpers.js';

const mean = (bs: Breakdown[], f: (b: Breakdown) => number) => bs.reduce((s, b) => s + f(b), 0) / Math.max(1, bs.length);
const report: string[] = [];
/** components that name a cause (the rest are the normal path of every round trip) */
const CAUSE_COMPONENTS: Component[] = ['futex_ns', 'lock_ns', 'io_ns', 'gc_ns', 'pickup_gc_ns', 'pagefault_ns', 'unattributed_ns'];

function describeRun(name: string, s: Scenario): string {
  const t = s.live.trips;
  const comps = COMPONENTS.map((c) => [c, mean(t, (b) => b[c])] as const).filter(([, v]) => v > 500).map(([c, v]) => `${c.replace('_ns', '')}=${(v / 1e3).toFixed(1)}`).join(' ');
  return `${name}: ${t.length} trips (client ${s.client.n} rt, mean ${(s.client.mean_ns / 1e3).toFixed(1)} µs, p99 ${(s.client.p99_ns / 1e3).toFixed(1)} µs); explain mean total ${(mean(t, (b) => b.total_ns) / 1e3).toFixed(1)} µs: ${comps}`;
}

/**
 * oncpu, futex, pagefault and io against the broker's own measurement of the same
 * request's cause section (truth in rttpair/main.go: window on CLOCK_MONOTONIC, run-queue
 * wait from schedstat run_delay, CPU from the thread CPU clock), not against the latency
 * added over a baseline run at another time. On a busy machine the added latency is
 * mostly CPU waits, which the explainer rightly calls runq (by its model a cause
 * component is the time in the cause on or off CPU except waiting for a CPU): with a CPU
 * hog and other tests beside it the io share of the added latency was 41-56 % while the
 * broker's clocks showed 50-70 % of its I/O window waiting for a CPU, and oncpu's 6-21 %
 * (a 2 ms compute taking 10-40 ms). Over the trips, each paired with its own request:
 * W window, R its run-queue wait, C its CPU, B = W - R - C its time blocked (off CPU,
 * not runnable), X the cause component(s):
 *   blocking causes   X <= 1.05 (W - R)   no CPU wait is called the cause (were it, X would
 *                                         be about W: 1.3-3 x (W - R) under load)
 *                     X >= 0.7 (W - R)    the cause holds the section's time not waiting
 *                                         for a CPU (the suite's 70 %) and, with the other
 *                                         blocked components (Go parking the thread on a
 *                                         futex for a P), >= 0.9 B: the time the broker's
 *                                         clocks say it was blocked (not 0.9 (W - R): a
 *                                         section's own CPU varies, 0.2-0.6 ms of pagefault's
 *                                         userfaultfd round trips, 5 % of W - R)
 *   oncpu             X >= 0.98 C         every ns the handler burnt is oncpu
 *                     X <= 1.2 C          and no CPU wait (were it, X would be C + R)
 *   all               runq_ns >= 0.85 R   the section's CPU waits are runq, not lost
 *   other causes      <= max(0, B - blocked part of X) + 10 % of (W - R): only what the
 *                     broker measured itself blocked on besides the cause (under load Go
 *                     parks a preempted goroutine's thread on a futex) plus the usual 10 %.
 * Sums over the trips, and these margins, because the two accountings cut the same time
 * at slightly different instants: the kernel's run_delay and thread CPU clock are stamped
 * with the run queue's clock at the scheduler's own update points (stale by however long
 * a requested preemption waits for a preemption point, e.g. inside fsync), the explainer
 * with ktime at the sched_switch/sched_wakeup tracepoints; and run_delay misses a wait that
 * follows a preemption while the task's state is not TASK_RUNNING (sched_info_depart only
 * queues a running task), which the explainer counts as runq. Over 20+ runs beside a CPU
 * hog (load average 20-45) that moved up to 10 % of R between runq and its neighbours
 * (runq 0.90-1.37 x R, oncpu 1.02-1.13 x C, blocking causes 0.92-1.02 x (W - R)), while
 * a misattributed CPU wait would be off by the whole R.
 */
const TRUTH_CAUSES = new Set(['oncpu', 'futex', 'pagefault', 'io']);
const BLOCKED_COMPS: Component[] = ['futex_ns', 'lock_ns', 'io_ns', 'pagefault_ns', 'gc_ns', 'other_ns'];
function sectionTruth(cause: string, s: Scenario, right: Component[], base: Scenario): void {
  const { matched, unmatched } = matchRequests(s);
  const n = Math.max(1, matched.length);
  const sum = (f: (m: Matched) => number) => matched.reduce((x, m) => x + f(m), 0);
  const [W, R, C] = [1, 2, 3].map((k) => sum((m) => m.req[k]));
  const B = W - R - C;
  const X = sum((m) => right.reduce((x, k) => x + m.trip[k], 0));
  const runq = sum((m) => m.trip.runq_ns);
  const others = CAUSE_COMPONENTS.filter((k) => !right.includes(k));
  const other = sum((m) => others.reduce((x, k) => x + m.trip[k], 0)) - n * others.reduce((x, k) => x + mean(base.live.trips, (b) => b[k]), 0);
  // other causes may hold what the broker measured besides its cause: blocked time the cause's components
  // left, and (for a blocking cause) the section's own CPU C — CPU by the broker's clock that can be another
  // cause by the kernel's account (a spin on a contended kernel lock inside fsync is both on-CPU and lock
  // wait). Small when the machine is quiet; under nice 19 beside two hogs and three other suites the io
  // section measured C = 751 µs of a 6.8 ms window, and explain put 520 µs in other causes (allowed 295
  // without C), io 2,266 µs against B = 2,203, runq 1.015 x the broker's own wait
  const otherAllowed = Math.max(0, B - (cause === 'oncpu' ? 0 : X)) + (cause === 'oncpu' ? 0 : C) + 0.1 * (W - R);
  const f = (ns: number) => (ns / n / 1e3).toFixed(1);
  report.push(
    `   ${matched.length} trips paired with their request (${unmatched.length} not); the broker's own clocks over its ${cause} section, mean: window ${f(W)} µs = runq ${f(R)} + cpu ${f(C)} + blocked ${f(B)}; explain ${right.join('+')} ${f(X)} µs (${(X / (W - R)).toFixed(3)} x window - runq, ${(X / C).toFixed(3)} x cpu; blocked components ${(sum((m) => BLOCKED_COMPS.reduce((x, k) => x + m.trip[k], 0)) / (W - R)).toFixed(3)} x window - runq), runq ${f(runq)} µs (${(runq / R).toFixed(3)} x), other causes ${f(other)} µs (allowed ${f(otherAllowed)})`,
  );
  if (process.env.RTT_DEBUG) for (const m of matched) report.push(`     w ${m.req[1]} r ${m.req[2]} c ${m.req[3]} | ${right.join('+')} ${right.reduce((x, k) => x + m.trip[k], 0)} runq ${m.trip.runq_ns} oncpu ${m.trip.oncpu_ns} futex ${m.trip.futex_ns} other ${m.trip.other_ns}`);
  expect(unmatched.length, unmatched.map((t) => describeUnmatched(s, t)).join('\n')).toBe(0);
  expect(matched.length).toBeGreaterThan(30);
  for (const { req } of matched) expect(req[1], 'the broker measured its section').toBeGreaterThan(0);
  if (cause === 'oncpu') {
    expect(X).toBeGreaterThanOrEqual(0.98 * C);
    expect(X).toBeLessThanOrEqual(1.2 * C);
  } else {
    const blocked = sum((m) => BLOCKED_COMPS.reduce((x, k) => x + m.trip[k], 0));
    expect(X).toBeLessThanOrEqual(1.05 * (W - R));
    expect(X).toBeGreaterThanOrEqual(0.7 * (W - R));
    expect(blocked).toBeGreaterThanOrEqual(0.9 * B);
  }
  // the section's CPU waits are runq, not lost. For oncpu the section is all CPU and waits for it,
  // and the two accountings' stamps move a slice between runq and oncpu (beside a hog under
  // nice 19: runq 0.832 x R with oncpu 1.053 x C, i.e. 78 µs of R's 464 counted on CPU):
  // there the check is that both together hold R + C (oncpu <= 1.2 C above bounds the move)
  if (cause === 'oncpu') expect(runq + X).toBeGreaterThanOrEqual(0.95 * (R + C));
  else expect(runq).toBeGreaterThanOrEqual(0.85 * R);
  expect(other, `other cause components under ${cause}`).toBeLessThanOrEqual(otherAllowed);
}

/**
 * Mean run-queue wait per trip of both ends for their request, by their own schedstat
 * (broker: its wake-up for the request; client: its wake-up for the reply), over the
 * trips paired with their requests. For gc the added latency less this (vs the baseline)
 * is the part not spent waiting for a CPU: with one P, a request that waited out a GC
 * then waits for the CPU on both ends, which on a busy machine is as long as the GC (the
 * explainer's pickup_runq and client_runq, rightly), so the GC's share of the raw added
 * latency fell to 57-68 % in 3 of 16 runs beside a CPU hog.
 */
function cpuWaits(s: Scenario): number {
  const { matched, unmatched } = matchRequests(s);
  expect(unmatched.length, unmatched.map((t) => describeUnmatched(s, t)).join('\n')).toBe(0);
  return matched.reduce((x, m) => x + m.req[4] + m.req[5], 0) / Math.max(1, matched.length);
}

/**
 * runq against the broker's own measurement: its handler thread's schedstat
 * run_delay from the end of its previous reply to the read of this request
 * (rttpair's `pickup`, req[4]) is the time it waited for a CPU for this
 * request, which the explainer must put in pickup_runq_ns + runq_ns (sums over
 * the trips paired with their requests; the explainer also counts the waits
 * while serving, hence no upper bound from this clock). The cause must have
 * taken effect: the broker waited for a CPU far longer than in the baseline.
 * Not "70 % of the added latency": beside other load (under `nice -n 19` the
 * client is nice 19 too) the client's own CPU waits and the requests queued
 * behind a descheduled broker grow as much (client_runq 11.3 ms, queue 7.4 ms
 * of 38.8 ms added: 33 % to runq), which the explainer rightly puts elsewhere.
 */
function runqTruth(s: Scenario, base: Scenario): void {
  const { matched, unmatched } = matchRequests(s);
  const b = matchRequests(base).matched;
  expect(unmatched.length, unmatched.map((t) => describeUnmatched(s, t)).join('\n')).toBe(0);
  expect(matched.length).toBeGreaterThan(30);
  const n = matched.length;
  const P = matched.reduce((x, m) => x + m.req[4], 0);
  const X = matched.reduce((x, m) => x + m.trip.pickup_runq_ns + m.trip.runq_ns, 0);
  const basePickup = b.reduce((x, m) => x + m.req[4], 0) / Math.max(1, b.length);
  const others = CAUSE_COMPONENTS.reduce((x, k) => x + mean(s.live.trips, (t) => t[k]) - mean(base.live.trips, (t) => t[k]), 0);
  report.push(`   ${n} trips paired; the broker's own wait for a CPU per request (schedstat): ${(P / n / 1e3).toFixed(1)} µs (baseline ${(basePickup / 1e3).toFixed(1)}); explain pickup_runq+runq ${(X / n / 1e3).toFixed(1)} µs (${(X / P).toFixed(3)} x); cause components ${(others / 1e3).toFixed(1)} µs over the baseline`);
  expect(P / n).toBeGreaterThan(basePickup + 500_000); // the nice-19 handler sharing a CPU with 2 busy threads waited for it
  expect(X).toBeGreaterThanOrEqual(0.85 * P);
  expect(others).toBeLessThanOrEqual(0.1 * (X / n)); // no cause component takes the CPU waits
}

describe.skipIf(!isRoot)('explain ground truth (rttpair)', () => {
  let base: Scenario;
  afterAll(() => console.log(report.join('\n')));

  it('baseline: trips are paired, components sum to the total', async () => {
    base = await scenario('none', 0);
    report.push(describeRun('none', base));
    expect(base.live.trips.length).toBeGreaterThan(100);
    for (const b of base.live.trips) expect(Math.abs(componentSum(b) - b.total_ns)).toBeLessThanOrEqual(0.02 * b.total_ns);
    const total = mean(base.live.trips, (b) => b.total_ns);
    for (const c of CAUSE_COMPONENTS) expect(mean(base.live.trips, (b) => b[c]), c).toBeLessThanOrEqual(0.05 * total);
  }, 300_000); // generous: a bound on a loaded machine's speed, not a measurement

  // where the broker thread blocked longest, for the blocked causes: component and the frames its stack must hold
  const BLOCKED: Record<string, [string, RegExp]> = {
    futex: ['futex', /main\.lockedSection;.*sync\.\(\*Mutex\)\.lock/],
    io: ['io', /main\.handle;os\.\(\*File\)\.Sync;/],
    pagefault: ['pagefault', /main\.handle;main\.touchFaulting$/],
  };
  const causes: Array<[string, number, Component[], Record<string, unknown>?]> = [
    ['oncpu', 2, ['oncpu_ns']],
    ['futex', 2, ['futex_ns']],
    ['io', 0, ['io_ns']],
    ['pagefault', 0, ['pagefault_ns']],
    ['runq', 0, ['runq_ns', 'pickup_runq_ns']],
    // one P: a forced GC's mark workers and its sweep hold it while the request waits
    ['gc', 2, ['gc_ns', 'pickup_gc_ns'], { env: { GOMAXPROCS: '1' } }],
  ];
  for (const [cause, ms, right, extra] of causes) {
    const claim = TRUTH_CAUSES.has(cause)
      ? `${right.join('+')} holds the broker's own ${cause} section time (by its clocks, CPU waits excepted: runq), other causes only what it measured besides`
      : cause === 'gc'
        ? `>= 70 % of the added latency not spent waiting for a CPU (by both ends' schedstat) goes to ${right.join('+')}, <= 10 % to any other cause`
        : cause === 'runq'
          ? `the broker's own wait for a CPU per request (schedstat) is in ${right.join('+')}, no cause component takes it`
          : `>= 70 % of the added latency goes to ${right.join('+')}, <= 10 % to any other cause`;
    it(`${cause}: ${claim}`, async () => {
      const s = await scenario(cause, ms, { n: 600, gapUs: 500, ...(extra ?? {}) });
      const t = s.live.trips;
      const added = mean(t, (b) => b.total_ns) - mean(base.live.trips, (b) => b.total_ns);
      const got = mean(t, (b) => right.reduce((x, c) => x + b[c], 0)) - mean(base.live.trips, (b) => right.reduce((x, c) => x + b[c], 0));
      if (process.env.RTT_DEBUG) report.push(JSON.stringify(s.live.counters));
      report.push(`${describeRun(cause, s)}\n   added ${(added / 1e3).toFixed(1)} µs, to ${right.join('+')} ${(got / 1e3).toFixed(1)} µs = ${((100 * got) / added).toFixed(0)} %`);
      expect(t.length).toBeGreaterThan(30);
      for (const b of t) expect(Math.abs(componentSum(b) - b.total_ns)).toBeLessThanOrEqual(0.02 * b.total_ns);
      if (TRUTH_CAUSES.has(cause)) sectionTruth(cause, s, right, base);
      else if (cause === 'runq') runqTruth(s, base);
      else {
        const waits = cause === 'gc' ? cpuWaits(s) - cpuWaits(base) : 0;
        const denom = added - waits;
        if (cause === 'gc') report.push(`   less the run-queue waits both ends measured (${(waits / 1e3).toFixed(1)} µs more than the baseline): ${(denom / 1e3).toFixed(1)} µs, ${((100 * got) / denom).toFixed(0)} % to ${right.join('+')}`);
        expect(denom).toBeGreaterThan(0);
        expect(got / denom).toBeGreaterThanOrEqual(0.7);
        for (const c of CAUSE_COMPONENTS.filter((x) => !right.includes(x))) {
          const other = mean(t, (b) => b[c]) - mean(base.live.trips, (b) => b[c]);
          expect(other / denom, `${c} under cause ${cause}`).toBeLessThanOrEqual(0.1);
        }
      }
      const blocked = BLOCKED[cause];
      if (blocked) {
        // the slowest half of the trips blocked in the cause, at the fixture's own frames (the right stack)
        const slow = [...t].sort((a, b) => b.total_ns - a.total_ns).slice(0, Math.ceil(t.length / 2));
        const right = slow.filter((b) => b.blocked_comp === blocked[0] && blocked[1].test(b.blocked_stack));
        report.push(`   blocked stacks: ${right.length}/${slow.length} of the slowest half at ${blocked[1].source}; e.g. ${topFrames(slow[0].blocked_stack)}`);
        expect(right.length / slow.length).toBeGreaterThanOrEqual(0.8);
      }
    }, 300_000); // generous: a bound on a loaded machine's speed, not a measurement
  }
});
