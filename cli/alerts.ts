/**
 * cli/alerts.ts — `v2probe alerts --rules DIR --store STORE [--once] [--backfill --from T --to T]`.
 * Rule errors are printed as file:line and the rule is skipped; with no valid
 * rule at all the command fails with exit 2.
 */
import { Option, type Command } from 'commander';
import { applySchema } from '../schema/ddl.js';
import { DEFAULT_STORE, openStore } from '../store/index.js';
import { Evaluator } from '../alerts/evaluator.js';
import { DEFAULT_RULES_DIR } from '../alerts/defaults.js';
import { formatRuleError, loadRules, parseDurationMs } from '../alerts/rules.js';
import { UsageError } from './errors.js';
import { makeLogger } from './log.js';
import { addAlertmanagerOptions, alertmanagerConfigFromFlags } from './alertmanager-flags.js';

/** A time flag: ISO 8601, epoch milliseconds, `now`, or `now-24h` / `-24h`. */
export function parseTime(flag: string, text: string, now = Date.now()): number {
  const t = text.trim();
  if (t === 'now') return now;
  const rel = /^(?:now)?-(\d+(?:\.\d+)?(?:ms|s|m|h|d))$/.exec(t);
  if (rel) return now - parseDurationMs(rel[1]);
  if (/^\d{12,14}$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new UsageError(`${flag}: '${text}' is not a time (ISO 8601 like 2025-01-31T12:00:00Z, epoch ms, now, or -24h)`);
  return ms;
}

function duration(flag: string, text: string): number {
  try {
    return parseDurationMs(text);
  } catch (e) {
    throw new UsageError(`${flag}: ${(e as Error).message}`);
  }
}

export function registerAlerts(program: Command): void {
  addAlertmanagerOptions(program
    .command('alerts'))
    .description('evaluate alert rules against a store (default rule pack: alerts/rules/)')
    .option('--rules <dir>', 'a directory of rule files (*.yaml) or one file', DEFAULT_RULES_DIR)
    .option('--store <dsn>', 'store DSN', DEFAULT_STORE)
    .option('--once', 'evaluate one round and exit')
    .option('--backfill', 'evaluate past data (--from/--to) into alert_log, marked backfill, without notifying')
    .option('--from <t>', 'backfill start (ISO time, epoch ms, -24h)')
    .option('--to <t>', 'backfill end', 'now')
    .option('--webhook <url...>', 'Alertmanager-compatible webhook URL(s)')
    .option('--external-url <url>', 'base of generatorURL in notifications', 'http://localhost/v2probe')
    .option('--repeat-interval <d>', 're-send a firing alert after this long', '4h')
    .addOption(new Option('--query-timeout <d>', 'time limit of one rule query').default('5s'))
    .option('--max-delay <d>', 'evaluate a window anyway when data is this late', '2m')
    .action(async (o: Record<string, string | boolean | string[] | undefined>) => {
      const logger = makeLogger();
      for (const u of (o.webhook as string[] | undefined) ?? []) if (!/^https?:\/\//.test(u)) throw new UsageError(`--webhook: '${u}' is not an http(s) URL`);
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
          repeatIntervalMs: duration('--repeat-interval', o.repeatInterval as string),
          limits: { timeoutSec: duration('--query-timeout', o.queryTimeout as string) / 1000, maxRows: 10_000 },
          watermark: { maxDelayMs: duration('--max-delay', o.maxDelay as string) },
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
          const results = await ev.round();
          const delivered = ev.alertmanager ? await ev.alertmanager.flush() : true;
          for (const r of results) {
            process.stdout.write(JSON.stringify({ rule: r.rule, window_end: new Date(r.windowEnd).toISOString(), rows: r.rows, transitions: r.transitions.map((x) => ({ labels: x.labels, from: x.from, to: x.to, value: x.value })), notified: r.notified, error: r.error }) + '\n');
          }
          process.stdout.write(JSON.stringify({ rules: n, evaluated: results.length, errors: results.filter((r) => r.error).length, firing: ev.status().filter((s) => s.state === 'firing').length, ms: Math.round(performance.now() - t), ...(ev.alertmanager ? { alertmanager: ev.alertmanager.stats(), delivered } : {}) }) + '\n');
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
