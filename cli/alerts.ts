/**
 * cli/alerts.ts — `v2probe alerts --rules DIR --store STORE [--once] [--backfill --from T --to T]`.
 * Rule errors are printed as file:line and the rule is skipped; with no valid
 * rule at all the command fails with exit 2.
 * --once on a finished capture: a rule whose window ending now is past the
 * store's ingest watermark is evaluated on the newest complete window (ending
 * at the watermark); the summary line says so (`data_end`,
 * `evaluated_up_to_watermark`) and so does a log line. When nothing is
 * evaluated the summary's `reason` says why and the exit code is 3.
 */
import type { Command } from 'commander';
import { applySchema } from '../schema/ddl.js';
import { DEFAULT_STORE, openStore } from '../store/index.js';
import { Evaluator } from '../alerts/evaluator.js';
import { DEFAULT_RULES_DIR } from '../alerts/defaults.js';
import { formatRuleError, loadRules } from '../alerts/rules.js';
import { UsageError } from './errors.js';
import { makeLogger } from './log.js';
import { addAlertmanagerOptions, alertmanagerConfigFromFlags } from './alertmanager-flags.js';
import { checkedOption, listOption, parseDuration, parseDurationOrZero, parseExistingPath, parseHttpUrl, parseStore, parseTime, type FlagParser } from './parse.js';

/** `alerts --once` evaluated no window (no data in the store, or every window up to its data already evaluated): exit 3. */
export const NOTHING_EVALUATED = 3;

const rulesPath: FlagParser = (f, t) => parseExistingPath(f, t, 'a directory of rule files (*.yaml) or one file');

export function registerAlerts(program: Command): void {
  addAlertmanagerOptions(program
    .command('alerts'))
    .description('evaluate alert rules against a store (default rule pack: alerts/rules/)')
    .addOption(checkedOption('--rules <dir>', 'a directory of rule files (*.yaml) or one file', rulesPath, DEFAULT_RULES_DIR))
    .addOption(checkedOption('--store <dsn>', 'store DSN', parseStore, DEFAULT_STORE))
    .option('--once', 'evaluate one round and exit (past the newest data: its newest complete windows; exit 3 when nothing was evaluated)')
    .option('--backfill', 'evaluate past data (--from/--to) into alert_log, marked backfill, without notifying')
    .addOption(checkedOption('--from <t>', 'backfill start (ISO time, epoch ms, -24h)', parseTime))
    .addOption(checkedOption('--to <t>', 'backfill end', parseTime, 'now'))
    .addOption(listOption('--webhook <url...>', 'Alertmanager-compatible webhook URL(s)', parseHttpUrl))
    .addOption(checkedOption('--external-url <url>', 'base of generatorURL in notifications', parseHttpUrl, 'http://localhost/v2probe'))
    .addOption(checkedOption('--repeat-interval <d>', 're-send a firing alert after this long', parseDurationOrZero, '4h'))
    .addOption(checkedOption('--query-timeout <d>', 'time limit of one rule query', parseDuration, '5s'))
    .addOption(checkedOption('--max-delay <d>', 'evaluate a window anyway when data is this late', parseDurationOrZero, '2m'))
    .action(async (o: Record<string, string | boolean | string[] | undefined>, cmd: Command) => {
      const logger = makeLogger();
      if (!o.backfill && (o.from !== undefined || cmd.getOptionValueSource('to') === 'cli')) throw new UsageError('--from/--to: only with --backfill (they set the window it evaluates)');
      const alertmanager = alertmanagerConfigFromFlags(o); // exit 2 on a malformed URL or unreadable TLS file
      let loaded;
      try {
        loaded = loadRules(o.rules as string);
      } catch (e) {
        throw new UsageError(`--rules: cannot read ${o.rules}: ${(e as Error).message}`);
      }
      for (const e of loaded.errors) process.stderr.write(`v2probe alerts: ${formatRuleError(e)} (rule skipped)\n`);
      const n = loaded.groups.reduce((a, g) => a + g.rules.length, 0);
      if (n === 0) throw new UsageError(`--rules: no valid rule in ${o.rules}`);
      const store = await openStore(o.store as string);
      let ev: Evaluator | undefined;
      try {
        await applySchema(store);
        ev = new Evaluator({
          store,
          groups: loaded.groups,
          logger,
          webhook: { urls: (o.webhook as string[] | undefined) ?? [] },
          alertmanager,
          externalURL: o.externalUrl as string,
          repeatIntervalMs: parseDurationOrZero('--repeat-interval', o.repeatInterval as string),
          limits: { timeoutSec: parseDuration('--query-timeout', o.queryTimeout as string) / 1000, maxRows: 10_000 },
          watermark: { maxDelayMs: parseDurationOrZero('--max-delay', o.maxDelay as string) },
        });
        if (o.backfill) {
          if (!o.from) throw new UsageError('--backfill needs --from (and optionally --to)');
          const from = parseTime('--from', o.from as string);
          const to = parseTime('--to', o.to as string);
          if (!(to > from)) throw new UsageError('--to must be after --from');
          const t = performance.now();
          const r = await ev.backfill(from, to);
          process.stdout.write(JSON.stringify({ backfill: true, rules: n, windows: r.windows, transitions: r.transitions.length, errors: r.errors, ms: Math.round(performance.now() - t) }) + '\n');
          return;
        }
        if (o.once) {
          const t = performance.now();
          const once = await ev.once();
          const results = once.results;
          const delivered = ev.alertmanager ? await ev.alertmanager.flush() : true;
          const iso = (ms: number) => new Date(ms).toISOString();
          const basis = (rule: string) => (once.fromWatermark?.includes(rule) ? 'watermark' : 'now');
          for (const r of results) {
            process.stdout.write(JSON.stringify({ rule: r.rule, window_start: iso(r.windowStart), window_end: iso(r.windowEnd), basis: basis(r.rule), rows: r.rows, transitions: r.transitions.map((x) => ({ labels: x.labels, from: x.from, to: x.to, value: x.value })), notified: r.notified, error: r.error }) + '\n');
          }
          const fromWm = results.filter((r) => basis(r.rule) === 'watermark');
          const summary = {
            rules: n,
            evaluated: results.length,
            errors: results.filter((r) => r.error).length,
            firing: ev.status().filter((s) => s.state === 'firing').length,
            data_end: once.watermarkMs === undefined ? null : iso(once.watermarkMs),
            // the windows evaluated up to the store's ingest watermark (the window ending now had no data yet)
            ...(fromWm.length ? { evaluated_up_to_watermark: { rules: fromWm.length, window_start: iso(Math.min(...fromWm.map((r) => r.windowStart))), window_end: iso(Math.max(...fromWm.map((r) => r.windowEnd))) } } : {}),
            ...(once.reason ? { reason: once.reason } : {}),
            ms: Math.round(performance.now() - t),
            ...(ev.alertmanager ? { alertmanager: ev.alertmanager.stats(), delivered } : {}),
          };
          process.stdout.write(JSON.stringify(summary) + '\n');
          if (results.length === 0) {
            logger.warn({ reason: once.reason }, `alerts --once: nothing evaluated: ${once.reason}`);
            process.exitCode = NOTHING_EVALUATED;
          }
          return;
        }
        const ac = new AbortController();
        const stop = () => ac.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        logger.info({ rules: n, groups: loaded.groups.length, store: store.dsn }, 'alert evaluator running');
        await ev.run(ac.signal);
        await ev.alertmanager?.flush(2000);
      } finally {
        ev?.alertmanager?.close();
        await store.close();
      }
    });
}
