// Shared by the fuzz suites: how many cases (a few thousand by default, 100,000
// with V2PROBE_LONG=1 or V2PROBE_FUZZ_RUNS=N), a wall-clock bound per case
// ("no hang"), and a tally of rejection reasons.
import fc from 'fast-check';

export const LONG = process.env.V2PROBE_LONG === '1';
/** cases per property */
export const RUNS = Number(process.env.V2PROBE_FUZZ_RUNS ?? (LONG ? 100_000 : 2_000));
/** a single call slower than this is a hang (the slowest legitimate input is a 1 MiB brotli body) */
export const MAX_CASE_MS = Number(process.env.V2PROBE_FUZZ_MAX_MS ?? 2_000);
/** vitest timeout for one property */
export const PROPERTY_TIMEOUT = LONG ? 3_600_000 : 120_000;

export interface Tally {
  accepted: number;
  rejected: number;
  slowestMs: number;
  reasons: Map<string, number>;
}
export const tally = (): Tally => ({ accepted: 0, rejected: 0, slowestMs: 0, reasons: new Map() });

/** Time `fn`; record the slowest case; throw (fail the property) when over MAX_CASE_MS. */
export function timed<T>(t: Tally, what: string, fn: () => T): T {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    const ms = performance.now() - t0;
    if (ms > t.slowestMs) t.slowestMs = ms;
    if (ms > MAX_CASE_MS) throw new Error(`${what}: one case took ${ms.toFixed(0)} ms (> ${MAX_CASE_MS} ms): a hang`);
  }
}

/** Group a rejection message by its first words (numbers and quoted parts removed). */
export function reasonKey(msg: string): string {
  return msg
    .replace(/'[^']*'|"[^"]*"/g, "'…'")
    .replace(/\d+/g, 'N')
    .split(/[:(]/)[0]
    .slice(0, 60)
    .trim();
}
export function note(t: Tally, msg: string): void {
  t.rejected++;
  const k = reasonKey(msg);
  t.reasons.set(k, (t.reasons.get(k) ?? 0) + 1);
}
export function summary(name: string, t: Tally): string {
  const top = [...t.reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, n]) => `${n}× ${k}`).join('; ');
  return `${name}: ${t.accepted} accepted, ${t.rejected} rejected, slowest ${t.slowestMs.toFixed(1)} ms; top reasons: ${top}`;
}

export const params = (seedName: string): fc.Parameters<unknown> => {
  const seed = process.env.V2PROBE_FUZZ_SEED ? Number(process.env.V2PROBE_FUZZ_SEED) : undefined;
  void seedName;
  return { numRuns: RUNS, seed, endOnFailure: true };
};
