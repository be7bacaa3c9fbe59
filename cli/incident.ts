/** cli/incident.ts — `v2probe incident --from T --to T [--baseline 7d] [--format table|json|markdown]`. */
import { Option, type Command } from 'commander';
import { DEFAULT_STORE, openStore } from '../store/index.js';
import { formatIncident, incidentReport } from '../alerts/incident.js';
import { parseTime } from './alerts.js';
import { UsageError } from './errors.js';

export function registerIncident(program: Command): void {
  program
    .command('incident')
    .description('what changed in a window against the same window on past days, per probe, host and comm, and in the round trips to brokers (v2e.rtt_breakdown)')
    .requiredOption('--from <t>', 'window start (ISO time, epoch ms, -1h)')
    .option('--to <t>', 'window end', 'now')
    .option('--baseline <d>', 'compare with the same window on the last N days (e.g. 7d)', '7d')
    .option('--store <dsn>', 'store DSN', DEFAULT_STORE)
    .option('--limit <n>', 'rows to show', '30')
    .addOption(new Option('--format <f>', 'output format').choices(['table', 'json', 'markdown']).default('table'))
    .action(async (o: { from: string; to: string; baseline: string; store: string; limit: string; format: 'table' | 'json' | 'markdown' }) => {
      const m = /^(\d+)d$/.exec(o.baseline);
      if (!m || Number(m[1]) < 1 || Number(m[1]) > 60) throw new UsageError(`--baseline: '${o.baseline}' should be 1d..60d`);
      if (!/^\d+$/.test(o.limit)) throw new UsageError(`--limit: '${o.limit}' is not a number`);
      const fromMs = parseTime('--from', o.from);
      const toMs = parseTime('--to', o.to);
      if (!(toMs > fromMs)) throw new UsageError('--to must be after --from');
      if (toMs - fromMs > 86_400_000) throw new UsageError('--from/--to: the window must be at most one day');
      const store = await openStore(o.store);
      try {
        const r = await incidentReport(store, { fromMs, toMs, baselineDays: Number(m[1]), limit: Number(o.limit) });
        process.stdout.write(formatIncident(r, o.format));
      } finally {
        await store.close();
      }
    });
}
