/** cli/incident.ts — `v2probe incident --from T --to T [--baseline 7d] [--format table|json|markdown]`. */
import { Option, type Command } from 'commander';
import { DEFAULT_STORE, openStore } from '../store/index.js';
import { formatIncident, incidentReport } from '../alerts/incident.js';
import { UsageError } from './errors.js';
import { checkedOption, parseIntFlag, parseStore, parseTime, type FlagParser } from './parse.js';

/** `--baseline 7d`: whole days, 1..60. */
const baselineDays: FlagParser<number> = (flag, text) => {
  const m = /^(\d+)d$/.exec(text);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 60) throw new UsageError(`${flag}: '${text}' should be 1d..60d`);
  return Number(m[1]);
};
const limit: FlagParser<number> = (flag, text) => parseIntFlag(flag, text, 1, 100_000);

export function registerIncident(program: Command): void {
  program
    .command('incident')
    .description('what changed in a window against the same window on past days, per probe, host and comm, and in the round trips to brokers (v2e.rtt_breakdown)')
    .addOption(checkedOption('--from <t>', 'window start (ISO time, epoch ms, -1h)', parseTime).makeOptionMandatory())
    .addOption(checkedOption('--to <t>', 'window end', parseTime, 'now'))
    .addOption(checkedOption('--baseline <d>', 'compare with the same window on the last N days (e.g. 7d)', baselineDays, '7d'))
    .addOption(checkedOption('--store <dsn>', 'store DSN', parseStore, DEFAULT_STORE))
    .addOption(checkedOption('--limit <n>', 'rows to show', limit, '30'))
    .addOption(new Option('--format <f>', 'output format').choices(['table', 'json', 'markdown']).default('table'))
    .option('--include-self', "also v2probe's own threads (chDB engine threads of a v2probe process; left out by default)")
    .action(async (o: { from: string; to: string; baseline: string; store: string; limit: string; format: 'table' | 'json' | 'markdown'; includeSelf?: boolean }) => {
      const days = baselineDays('--baseline', o.baseline);
      const rows = limit('--limit', o.limit);
      const fromMs = parseTime('--from', o.from);
      const toMs = parseTime('--to', o.to);
      if (!(toMs > fromMs)) throw new UsageError('--to must be after --from');
      if (toMs - fromMs > 86_400_000) throw new UsageError('--from/--to: the window must be at most one day');
      const store = await openStore(o.store);
      try {
        const r = await incidentReport(store, { fromMs, toMs, baselineDays: days, limit: rows, includeSelf: o.includeSelf === true });
        process.stdout.write(formatIncident(r, o.format));
      } finally {
        await store.close();
      }
    });
}
