// Ground truth for `v2probe explain`: the rttpair fixture with a known cause
// injected into the broker's handler path; the added latency (mean total vs
// the no-cause baseline) must land >= 70 % in the right component(s), and
// every breakdown's components must add up to its total (within 2 %). With no
// cause injected, the cause components (futex, lock, io, gc, unattributed)
// stay under 5 % of a round trip; with a cause injected, no other cause
// component takes more than 10 % of the added latency. For the blocking causes
// (futex, io, pagefault) the slowest trips carry the stack the broker blocked at, and it
// names the fixture's own frames.
import { afterAll, describe, expect, it } from 'vitest';
import { COMPONENTS, componentSum, topFrames, type Breakdown, type Component } from '../../collector/explain.js';
import { isRoot } from '../helpers/probes.js';
import { scenario, type Scenario } from './rtt-helpers.js';

const mean = (bs: Breakdown[], f: (b: Breakdown) => number) => bs.reduce((s, b) => s + f(b), 0) / Math.max(1, bs.length);
const report: string[] = [];
/** components that name a cause (the rest are the normal path of every round trip) */
const CAUSE_COMPONENTS: Component[] = ['futex_ns', 'lock_ns', 'io_ns', 'gc_ns', 'pickup_gc_ns', 'pagefault_ns', 'unattributed_ns'];

function describeRun(name: string, s: Scenario): string {
  const t = s.live.trips;
  const comps = COMPONENTS.map((c) => [c, mean(t, (b) => b[c])] as const).filter(([, v]) => v > 500).map(([c, v]) => `${c.replace('_ns', '')}=${(v / 1e3).toFixed(1)}`).join(' ');
  return `${name}: ${t.length} trips (client ${s.client.n} rt, mean ${(s.client.mean_ns / 1e3).toFixed(1)} µs, p99 ${(s.client.p99_ns / 1e3).toFixed(1)} µs); explain mean total ${(mean(t, (b) => b.total_ns) / 1e3).toFixed(1)} µs: ${comps}`;
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
  }, 60_000);

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
    it(`${cause}: >= 70 % of the added latency goes to ${right.join('+')}, <= 10 % to any other cause`, async () => {
      const s = await scenario(cause, ms, { n: 600, gapUs: 500, ...(extra ?? {}) });
      const t = s.live.trips;
      const added = mean(t, (b) => b.total_ns) - mean(base.live.trips, (b) => b.total_ns);
      const got = mean(t, (b) => right.reduce((x, c) => x + b[c], 0)) - mean(base.live.trips, (b) => right.reduce((x, c) => x + b[c], 0));
      if (process.env.RTT_DEBUG) report.push(JSON.stringify(s.live.counters));
      report.push(`${describeRun(cause, s)}\n   added ${(added / 1e3).toFixed(1)} µs, to ${right.join('+')} ${(got / 1e3).toFixed(1)} µs = ${((100 * got) / added).toFixed(0)} %`);
      expect(t.length).toBeGreaterThan(30);
      for (const b of t) expect(Math.abs(componentSum(b) - b.total_ns)).toBeLessThanOrEqual(0.02 * b.total_ns);
      expect(added).toBeGreaterThan(0);
      expect(got / added).toBeGreaterThanOrEqual(0.7);
      const blocked = BLOCKED[cause];
      if (blocked) {
        // the slowest half of the trips blocked in the cause, at the fixture's own frames (the right stack)
        const slow = [...t].sort((a, b) => b.total_ns - a.total_ns).slice(0, Math.ceil(t.length / 2));
        const right = slow.filter((b) => b.blocked_comp === blocked[0] && blocked[1].test(b.blocked_stack));
        report.push(`   blocked stacks: ${right.length}/${slow.length} of the slowest half at ${blocked[1].source}; e.g. ${topFrames(slow[0].blocked_stack)}`);
        expect(right.length / slow.length).toBeGreaterThanOrEqual(0.8);
      }
      for (const c of CAUSE_COMPONENTS.filter((x) => !right.includes(x))) {
        const other = mean(t, (b) => b[c]) - mean(base.live.trips, (b) => b[c]);
        expect(other / added, `${c} under cause ${cause}`).toBeLessThanOrEqual(0.1);
      }
    }, 60_000);
  }
});
