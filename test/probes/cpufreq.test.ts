// cpufreq probe: frequency transitions and idle residency. This machine (a VM)
// has no cpufreq driver, so power:cpu_frequency never fires: the probe must
// say "not available here" (status and doctor) instead of failing, and still
// report idle states where a cpuidle driver exists (checked against the
// cpuidle framework's own per-state usage counters).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cpufreqNotes } from '../../collector/families/plans.js';
import { doctor } from '../../cli/doctor.js';
import { isRoot, sleep, startCollector } from '../helpers/probes.js';
import type { Collector } from '../../collector/collector.js';

const note = (...a: unknown[]) => process.env.V2PROBE_TEST_REPORT && console.log('[cpufreq]', ...a);

/** Sum of /sys/devices/system/cpu/cpu*\/cpuidle/state*\/usage: idle entries counted by the kernel. */
function idleUsage(): number {
  let n = 0;
  for (const cpu of readdirSync('/sys/devices/system/cpu').filter((d) => /^cpu\d+$/.test(d))) {
    const dir = `/sys/devices/system/cpu/${cpu}/cpuidle`;
    if (!existsSync(dir)) continue;
    for (const st of readdirSync(dir).filter((d) => d.startsWith('state'))) n += Number(readFileSync(`${dir}/${st}/usage`, 'utf8'));
  }
  return n;
}

describe('cpufreq availability detection', () => {
  it('no policy* under cpufreq/ -> "frequency transitions: not available here"; with one -> no note', () => {
    const root = mkdtempSync(join(tmpdir(), 'v2cpu-'));
    mkdirSync(join(root, 'cpuidle'));
    writeFileSync(join(root, 'cpuidle/current_driver'), 'haltpoll\n');
    expect(cpufreqNotes(root)).toEqual([expect.stringMatching(/^frequency transitions: not available here/)]);
    mkdirSync(join(root, 'cpufreq/policy0'), { recursive: true });
    expect(cpufreqNotes(root)).toBeUndefined();
  });
});

describe.skipIf(!isRoot)('cpufreq probe on this machine', () => {
  let c: Collector | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });

  it('attaches; status and doctor say which parts are not available here; idle entries agree with cpuidle usage', async () => {
    const expected = cpufreqNotes();
    ({ collector: c } = await startCollector({ probes: ['cpufreq'] }));
    const u0 = idleUsage();
    const i0 = c.counters('cpufreq').idle_entries;
    // the machine is shared: wait (up to 3 s) until the CPUs have idled 50 times
    for (let t = 0; t < 30 && idleUsage() - u0 < 50; t++) await sleep(100);
    const k = c.counters('cpufreq');
    const truthIdle = idleUsage() - u0;
    const oursIdle = k.idle_entries - i0;
    const st = c.status()[0];
    note({ notes: st.notes, idle_entries: oursIdle, cpuidle_usage: truthIdle, freq_changes: k.freq_changes });
    expect(st.state).toBe('running');
    expect(st.notes).toEqual(expected);
    const rep = (await doctor({ tryAttach: false })).probes.find((p) => p.probe === 'cpufreq')!;
    expect(rep.notes).toEqual(expected);
    if (expected?.some((n) => n.startsWith('frequency transitions'))) expect(k.freq_changes).toBe(0); // the detection is right: nothing fires
    if (!expected?.some((n) => n.startsWith('idle states')) && truthIdle >= 50) {
      // tolerance 10 %: the two counters are read a few µs apart on CPUs that idle thousands of times a second
      expect(Math.abs(oursIdle - truthIdle) / truthIdle).toBeLessThan(0.1);
      expect(k.idle_ns).toBeGreaterThan(0);
    }
  });
});
