/**
 * cli/config.ts — the config file on the command line:
 *   v2probe config check FILE            "ok" (exit 0) or every error, one a line (exit 2)
 *   v2probe collect|up --config FILE     the file's settings, flags given on the command line override them
 * A bad file stops `collect` / `up` before anything starts (exit 2, the same messages).
 */
import type { Command } from 'commander';
import { ConfigError, formatIssue, loadConfig, parseConfig, type CollectorConfig } from '../collector/ops/config.js';
import type { ProbeOptions } from '../collector/collector.js';
import type { KafkaSecuritySettings } from '../kafka/security.js';
import type { ProbeName } from '../schema/event.js';
import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';

/** A bad config file is bad input: exit 2, the message lists every error. */
export class ConfigFileError extends UsageError {
  constructor(readonly configError: ConfigError) {
    super(configError.message);
    this.name = 'ConfigFileError';
  }
}

/** What a config file sets that no flag does. */
export interface ConfigExtras {
  /** per-probe filters and outlier threshold (sampling and burst limits go through the --sample / --burst strings) */
  perProbe: Partial<Record<ProbeName, ProbeOptions>>;
  governorPriority?: ProbeName[];
  /** the `kafka:` section (TLS/SASL of a kafka[s]:// sink; the sink URL's options win field by field) */
  kafka?: { path: string; settings: KafkaSecuritySettings };
}

type Opts = Record<string, string | undefined>;
/** commander's getOptionValueSource: 'cli' | 'env' | 'default' | 'config' | 'implied' | undefined */
type SourceOf = (name: string) => string | undefined;

/**
 * Fill `o` (commander's option values of collect/up) from the file named by
 * `o.config`, leaving every value given on the command line as it is.
 * `--sample` and `--burst` merge per probe: the command line wins for the probes it names.
 */
export function applyConfigFile(o: Opts, sourceOf: SourceOf, env: NodeJS.ProcessEnv = process.env): ConfigExtras {
  if (o.config === undefined) return { perProbe: {} };
  let c: CollectorConfig;
  try {
    c = loadConfig(o.config);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigFileError(err);
    throw err;
  }
  return mergeConfig(o, c, sourceOf, env);
}

export function mergeConfig(o: Opts, c: CollectorConfig, sourceOf: SourceOf, env: NodeJS.ProcessEnv = process.env): ConfigExtras {
  const fromCli = (k: string) => {
    const s = sourceOf(k);
    return s === 'cli' || s === 'env';
  };
  const fill = (k: string, v: string | number | undefined) => {
    if (v !== undefined && !fromCli(k)) o[k] = String(v);
  };
  fill('probes', c.probes?.join(','));
  fill('sink', c.sink);
  fill('pid', c.pid);
  fill('comm', c.comm);
  fill('cgroup', c.cgroup);
  fill('duration', c.durationMs !== undefined ? `${c.durationMs}ms` : undefined);
  fill('ringBytes', c.ringBytes);
  fill('snapshot', c.snapshotMs !== undefined ? `${c.snapshotMs}ms` : undefined);
  fill('metrics', c.metrics);
  fill('metricsTop', c.metricsTop);
  fill('control', c.control);
  if (!env.V2PROBE_CONTROL_TOKEN) fill('controlToken', c.controlToken); // flag > environment > file
  fill('budget', c.budget);
  if (c.keepCapabilities !== undefined && !fromCli('keepCapabilities')) (o as Record<string, unknown>).keepCapabilities = c.keepCapabilities;
  fill('explain', c.explain?.join(','));
  fill('explainSample', c.explainSample);
  if (c.explainStacks !== undefined && !fromCli('explainStacks')) (o as Record<string, unknown>).explainStacks = c.explainStacks;
  if (c.shmRings !== undefined && !fromCli('shmRing')) (o as Record<string, unknown>).shmRing = c.shmRings;

  // sampling: the file's per-probe rates, then the command line's (later entries win in parseSample)
  const fileSample = Object.entries(c.perProbe)
    .filter(([, s]) => s?.sample !== undefined)
    .map(([p, s]) => `${p}=${s!.sample}`)
    .join(',');
  if (fileSample) o.sample = fromCli('sample') && o.sample ? `${fileSample},${o.sample}` : fileSample;
  // burst limits the same way (parseBurst: later entries win)
  const fileBurst = Object.entries(c.perProbe)
    .filter(([, s]) => s?.burstRate !== undefined)
    .map(([p, s]) => `${p}=${s!.burstRate}${s!.burstSize !== undefined ? `:${s!.burstSize}` : ''}`)
    .join(',');
  if (fileBurst) o.burst = fromCli('burst') && o.burst ? `${fileBurst},${o.burst}` : fileBurst;

  const perProbe: ConfigExtras['perProbe'] = {};
  for (const [p, s] of Object.entries(c.perProbe)) {
    if (!s) continue;
    const po: ProbeOptions = {};
    // a --pid / --comm on the command line applies to every probe, over the file's sections
    if (s.pid !== undefined && !fromCli('pid')) po.pid = s.pid;
    if (s.comm !== undefined && !fromCli('comm')) po.comm = s.comm;
    if (s.minValue !== undefined) po.minValue = s.minValue;
    if (Object.keys(po).length) perProbe[p as ProbeName] = po;
  }
  return { perProbe, governorPriority: c.governorPriority, ...(c.kafka ? { kafka: { path: o.config ?? 'the config file', settings: c.kafka } } : {}) };
}

/** The governor's order: the file's priority list first, then the other probes in the default order (last given first). */
export function governorOrder(priority: ProbeName[] | undefined, probes: ProbeName[]): ProbeName[] | undefined {
  if (!priority) return undefined;
  return [...new Set([...priority, ...[...probes].reverse()])];
}

/** `v2probe config check FILE`. */
export function registerConfig(program: Command): void {
  const config = program.command('config').description('the config file of collect/up (--config FILE)');
  config
    .command('check')
    .description('validate a config file: prints "ok" (exit 0) or each error with its line (exit 2)')
    .argument('<file>', 'YAML config file')
    .action((file: string) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new UsageError(`config ${file}: cannot read: ${(err as Error).message}`);
      }
      const r = parseConfig(text, file);
      if (r.issues.length > 0) {
        process.stderr.write(r.issues.map(formatIssue).join('\n') + '\n');
        process.exitCode = 2;
        return;
      }
      process.stdout.write('ok\n');
    });
}
