// Shared by the flame tests: the CLI in the background, and the ground truth
// of the busy fixture (test/fixtures/go/busy).
//
// The busy fixture is told to burn only once the profiler samples (a line on
// its stdin after "flame: sampling"): started with a wall-clock lifetime from
// its own start, it raced the CLI's start-up (node, BPF load and attach, store
// open and schema: > 10 s on a loaded 2-core machine) and could exit before the
// first sample ("0 samples", exit 1). With `cpu` it burns a fixed amount of its
// own CPU time and reports it (getrusage), so the samples to expect are that
// CPU time x the frequency whatever the load, which only stretches wall time.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { BIN, ROOT, type CliResult } from '../helpers/cli.js';
import { Stepper } from '../go/go-fixtures.js';

export interface FlameRun {
  child: ChildProcessWithoutNullStreams;
  /** resolves once the CLI samples ("flame: sampling"); rejects if it exits first */
  sampling: Promise<void>;
  exited: Promise<number | null>;
  stderr: () => string;
}

/** `v2probe flame ARGS` in the background. */
export function startFlame(args: string[]): FlameRun {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT });
  let err = '';
  const sampling = new Promise<void>((res, rej) => {
    child.stderr.on('data', (d) => {
      err += d;
      if (err.includes('flame: sampling')) res();
    });
    child.on('exit', (c) => rej(new Error(`flame exited ${c} before sampling: ${err}`)));
  });
  sampling.catch(() => {}); // the test awaits it; an exit after sampling began is not an error
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  return { child, sampling, exited, stderr: () => err };
}

/**
 * `v2probe ARGS` to its end, asynchronously: independent runs (e.g. bad-input
 * cases) go concurrently instead of one after another. Each costs ~1 s of CPU
 * (node, the CLI's modules, chDB), which is 10-20 s of wall time when the
 * machine runs 30 other tasks; a dozen in a row outlasted the test timeout.
 */
export function runCliAsync(args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

/**
 * Timeout of the tests that profile: each runs the CLI (node, BPF load and
 * attach, chDB) two or three times and burns a second of CPU, ~5 s of CPU in
 * all; at the CPU share of a loaded 2-core machine that is over a minute of
 * wall time. Nothing is asserted on it: it only ends a hang.
 */
export const PROFILE_TEST_TIMEOUT_MS = 300_000;
/** How long to wait for the fixture's done line (within PROFILE_TEST_TIMEOUT_MS). */
export const FIXTURE_DONE_WAIT_MS = 240_000;

/** On-CPU frequency where the tests compare counts: 1 s of CPU gives ~1000 samples. */
export const HZ = 999;
/** CPU time the busy fixture burns in `cpu` mode (ms of its own CPU time). */
export const BURN_CPU_MS = 1000;
/**
 * |samples - fixture CPU time x HZ| / (fixture CPU time x HZ) must be below
 * this. cpu-clock sampling fires at a fixed period on each CPU and hits the
 * task if it is running then; a task that shares its CPU is hit with the
 * probability of its share, so the count is binomial around the truth: at
 * ~1000 samples one standard deviation is at most 1/sqrt(1000) = 3.2 %, and
 * 15 % is ~5 of them (measured on a loaded 2-core VM with two CPU hogs: within 4 %).
 */
export const SAMPLE_TOLERANCE = 0.15;

export const sumValues = (stacks: Array<{ value: number }>) => stacks.reduce((s, x) => s + x.value, 0);

/** Samples to expect for a fixture's reported CPU time (ns) at `hz`. */
export const expectedSamples = (cpuNs: unknown, hz = HZ) => (Number(cpuNs) / 1e9) * hz;

/**
 * Profile the busy fixture `bin` with `v2probe flame --pid PID ARGS` while it
 * burns BURN_CPU_MS of its own CPU (told to once the CLI samples) and exits:
 * the CLI's exit code and stderr, and the fixture's own report (cpu_ns).
 */
export async function profileBurnToExit(bin: string, args: string[]): Promise<{ code: number | null; stderr: string; done: Record<string, unknown> }> {
  const fx = new Stepper(bin, [String(BURN_CPU_MS), 'wait', 'cpu']);
  let cli: FlameRun | undefined;
  try {
    const start = await fx.next();
    cli = startFlame(['flame', '--pid', String(start.pid), '--duration', '1h', '--frequency', String(HZ), ...args]);
    await cli.sampling;
    fx.step();
    const done = await fx.next(FIXTURE_DONE_WAIT_MS);
    return { code: await cli.exited, stderr: cli.stderr(), done };
  } finally {
    cli?.child.kill();
    fx.child.kill();
  }
}
