/**
 * cli/main.ts — the `v2probe` command line (commander). Subcommands:
 * doctor, up, collect, query, schema apply. Exit codes: 0 ok, 2 usage error
 * (bad flag, probe, pid, DSN), 1 runtime error (kernel, store).
 */
import { Command, CommanderError, Option } from 'commander';
import { existsSync } from 'node:fs';
import { PROBES, USER_PROBES, type ProbeDef } from '../schema/event.js';
import { applySchema, schemaStatements, SCHEMA_VERSION } from '../schema/ddl.js';
import { DEFAULT_STORE, openStore, parseStoreDsn } from '../store/index.js';
import type { QueryFormat } from '../store/types.js';
import { describe, exitCodeFor, UsageError } from './errors.js';
import { makeLogger } from './log.js';
import { parsePidList, parseBurst, parseCgroup, parseComm, parseDuration, parseIntFlag, parseListen, parsePid, parseProbes, parseSample } from './parse.js';
import { runCollector } from './run-collector.js';
import { doctor, formatDoctor } from './doctor.js';
import { registerCtl } from './ctl.js';
import { DEFAULT_RULES_DIR } from '../alerts/index.js';
import { parseAppUprobe, resolveTargets, type UprobeTargets } from '../collector/go-attach.js';
import { GoBinaryError, openGoBinary, symbolOffset } from '../collector/go-binary.js';
import type { ProbeName } from '../schema/event.js';
import { applyConfigFile, governorOrder, registerConfig } from './config.js';
import { checkKafkaSink, registerIngest } from './ingest.js';
import { lossQuery } from '../ingester/loss.js';
import { registerFlame } from './flame.js';
import { registerAlerts } from './alerts.js';
import { addAlertmanagerOptions, alertmanagerConfigFromFlags } from './alertmanager-flags.js';
import { registerIncident } from './incident.js';
import { registerExplain } from './explain.js';
import { DEFAULT_CONTROL_SOCKET, type ControlListen } from '../collector/control.js';
import type { KafkaSinkSpec } from '../collector/kafka.js';
import type { KafkaSecuritySettings } from '../collector/kafka-security.js';
import type { ExplainOptions } from '../collector/collector.js';

const probeList = USER_PROBES.map((p) => `  ${p.padEnd(9)} ${(PROBES[p] as ProbeDef).summary}`).join('\n');

/** `--sink`: checked now (exit 2 on a bad one); a Kafka sink comes back resolved (TLS/SASL from the URL, environment and config file). */
function checkSink(flag: string, spec: string, kafkaFile?: { path: string; settings: KafkaSecuritySettings }): { spec: string; kafka?: KafkaSinkSpec } {
  if (spec === 'stdout' || spec === '-') return { spec };
  if (/^kafkas?:\/\//.test(spec)) return { spec, kafka: checkKafkaSink(flag, spec, kafkaFile) };
  parseStoreDsn(spec); // throws BAD_DSN (exit 2)
  return { spec };
}

/** --go-binary/--go-pid/--uprobe → uprobe targets, checked now (binary, Go build info, symbols) so a bad one exits 2. */
function parseTargets(o: Record<string, unknown>, probes: ProbeName[]): UprobeTargets | undefined {
  const uprobes = (o.uprobe as string[] | undefined) ?? [];
  const binaries = o.goBinary ? String(o.goBinary).split(',').map((b) => b.trim()).filter(Boolean) : [];
  const pids = o.goPid ? parsePidList('--go-pid', String(o.goPid)) : [];
  const goProbes = probes.filter((p) => p.startsWith('go_'));
  if (goProbes.length && !binaries.length && !pids.length) throw new UsageError(`--probes ${goProbes.join(',')}: give the Go program with --go-binary PATH or --go-pid PID`);
  if ((binaries.length || pids.length) && !goProbes.length) throw new UsageError('--go-binary/--go-pid: add a Go probe to --probes (go_gc, go_sched, go_malloc)');
  if (uprobes.length && !probes.includes('app')) probes.push('app');
  if (probes.includes('app') && !uprobes.length) throw new UsageError('--probes app: give at least one --uprobe BINARY:SYMBOL[:pair=SYMBOL2]');
  try {
    for (const b of binaries) for (const fam of goProbes) resolveTargets({ binaries: [b] }, fam);
    for (const pid of pids) for (const fam of goProbes) resolveTargets({ pids: [pid] }, fam);
    const app = uprobes.map((spec) => parseAppUprobe(spec));
    for (const u of app) {
      const bin = openGoBinary(u.binary);
      symbolOffset(bin, u.symbol);
      if (u.pair) symbolOffset(bin, u.pair);
    }
    if (!binaries.length && !pids.length && !app.length) return undefined;
    return { binaries, pids, app };
  } catch (err) {
    if (err instanceof GoBinaryError) throw new UsageError(err.message);
    throw err;
  }
}

function parseBudget(text: string | undefined): number | undefined {
  if (text === undefined || text === 'off') return undefined;
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(text);
  const n = m ? Number(m[1]) : NaN;
  if (!(n > 0 && n <= 100)) throw new UsageError(`--budget: '${text}' should be a percentage of all CPUs in (0, 100], e.g. 1 or 0.5%`);
  return n / 100;
}

function parseControl(spec: string | undefined, token: string | undefined): ControlListen | undefined {
  if (!spec || spec === 'off') return undefined;
  if (spec.startsWith('/') || spec.startsWith('.')) return { socket: spec };
  const l = parseListen('--control', spec);
  if (!token) throw new UsageError('--control HOST:PORT needs --control-token (or V2PROBE_CONTROL_TOKEN): the TCP API refuses requests without it');
  if (token.length < 16) throw new UsageError('--control-token: use at least 16 characters');
  return { ...l, token };
}

/** `--explain COMM[,COMM]` (+ `--explain-sample N`, `--explain-stacks`) → the collector's explain options. */
function parseExplain(o: Record<string, unknown>, cmd?: Command): ExplainOptions | undefined {
  if (o.explain === undefined) {
    if (cmd?.getOptionValueSource('explainSample') === 'cli') throw new UsageError('--explain-sample: give the brokers with --explain COMM[,COMM]');
    if (o.explainStacks === true && cmd?.getOptionValueSource('explainStacks') === 'cli') throw new UsageError('--explain-stacks: give the brokers with --explain COMM[,COMM]');
    return undefined;
  }
  const comms = [...new Set(String(o.explain).split(',').map((c) => c.trim()).filter(Boolean))].map((c) => parseComm('--explain', c));
  if (comms.length === 0) throw new UsageError("--explain: give the brokers' task names, e.g. --explain v2broker");
  return { comms, sampleEvery: parseIntFlag('--explain-sample', String(o.explainSample ?? '100'), 1, 1_000_000), goStacks: o.explainStacks === true };
}

/** `--cluster NAME`: a plain identifier (it goes into ON CLUSTER and engine paths). */
function checkCluster(name: string | undefined): void {
  if (name !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--cluster: '${name}' is not a plain identifier (letters, digits, _)`);
}

export function buildProgram(): Command {
  const program = new Command('v2probe')
    .description('eBPF telemetry for the v2e platform: kernel and runtime probes into ClickHouse/chDB')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `\nProbes:\n${probeList}\n\nStores: chdb:PATH (default ${DEFAULT_STORE}) | clickhouse://user:pass@host:8123/db | clickhouses://user:pass@host:8443/db?ca=FILE&cert=FILE&key=FILE\n` +
        `Sinks:  a store | kafka://HOST:PORT/TOPIC | kafkas://[USER@]HOST:PORT/TOPIC?ca=FILE&cert=FILE&key=FILE&sasl=plain|scram-sha-256|scram-sha-512 | stdout (NDJSON)\n` +
        `        Kafka password: V2PROBE_KAFKA_PASSWORD, password_file=FILE, or the config file's kafka: section`,
    );

  program
    .command('doctor')
    .description('kernel, BTF, tracefs, capabilities, and which probes can attach here')
    .option('--json', 'machine-readable report')
    .option('--no-attach', 'do not try attaching for real')
    .option('--no-mount', 'do not mount tracefs when it is missing')
    .action(async (o: { json?: boolean; attach: boolean; mount: boolean }) => {
      const r = await doctor({ mountTracefs: o.mount, tryAttach: o.attach });
      process.stdout.write(o.json ? JSON.stringify(r, null, 2) + '\n' : formatDoctor(r) + '\n');
    });

  const collectOpts = (c: Command, defaults: { probes: string; sink: string }) =>
    c
      .option('--probes <list>', `comma-separated probes (${USER_PROBES.join(', ')})`, defaults.probes)
      .option('--sink <sink>', 'a store DSN, kafka[s]://[USER@]HOST:PORT/TOPIC[?TLS/SASL options], or stdout', defaults.sink)
      .option('--pid <pid>', 'only this process (tgid)')
      .option('--comm <name>', 'only tasks with this name')
      .option('--duration <d>', 'stop after this long (e.g. 10s); default: until SIGINT/SIGTERM')
      .option('--sample <spec>', 'per-probe 1-in-N event sampling, e.g. uds=1000,sched=100')
      .option('--cgroup <path>', 'only tasks in this cgroup v2 directory')
      .option('--uds-rw', 'uds: also time read/write on AF_UNIX sockets (what Go services use); costs a check on every read/write of the host')
      .option('--go-binary <paths>', 'go_gc/go_sched/go_malloc: Go executables (every process running them, now and later), comma-separated')
      .option('--go-pid <pids>', 'go_gc/go_sched/go_malloc: these Go processes, comma-separated')
      .option('--uprobe <spec>', 'app probe: BINARY:SYMBOL[:pair=SYMBOL2] (calls; with pair, entry-to-entry latency); repeatable', (v: string, acc: string[] = []) => [...acc, v])
      .option('--burst <spec>', 'per-probe, per-CPU limit of sampled rows/s, e.g. uds=5000:10000 (over it: counted as burst_dropped)')
      .option('--ring-bytes <n>', 'ring buffer size per probe (power of two, >= 4096)')
      .option('--snapshot <d>', 'counter/histogram snapshot interval', '5s')
      .option('--metrics-top <n>', 'per-process metric series for at most this many processes', '20')
      .option('--control-token <t>', 'bearer token for a TCP --control address (or V2PROBE_CONTROL_TOKEN)')
      .option('--budget <percent>', 'overhead governor: keep the probes under this % of all CPUs (off: no governor)')
      .option('--keep-capabilities', 'keep every capability (default: after attaching, every thread drops all but those re-attaching needs; see SECURITY.md)')
      .option('--explain <comms>', 'explain round trips to these brokers (task names, comma-separated): breakdowns into /metrics and the sink (v2e.rtt_breakdown)')
      .option('--explain-sample <n>', '--explain: 1 in N client requests carries a breakdown', '100')
      .option('--explain-stacks', '--explain: Go brokers: where the broker blocked (a uprobe hit per goroutine park)')
      .option('--config <file>', 'YAML config file (see `v2probe config check`); flags given here override it');

  const runAction = (statusEvery: number, defaults: { budget?: string } = {}) => async (o: Record<string, string | undefined>, cmd?: Command) => {
    const fromFile = applyConfigFile(o, (k) => cmd?.getOptionValueSource(k)); // exit 2 on a bad file
    // alert settings of `up` are checked before anything attaches (the evaluator starts after the probes)
    if (typeof o.rules === 'string' && o.rules !== 'off' && !existsSync(o.rules)) throw new UsageError(`--rules: '${o.rules}' does not exist (a directory of rule files, one file, or off)`);
    for (const u of (o.webhook as unknown as string[] | undefined) ?? []) if (!/^https?:\/\/[^\s/]+/.test(u)) throw new UsageError(`--webhook: '${u}' is not an http(s) URL`);
    const probes = parseProbes('--probes', o.probes!);
    const targets = parseTargets(o, probes);
    const sink = checkSink('--sink', o.sink!, fromFile.kafka);
    const explain = parseExplain(o, cmd);
    const logger = makeLogger();
    if (fromFile.kafka && !sink.kafka) logger.warn({ config: o.config }, 'config file: the kafka: section is not used (the sink is not kafka:// or kafkas://)');
    const res = await runCollector({
      probes,
      sink: sink.spec,
      kafka: sink.kafka,
      pid: o.pid !== undefined ? parsePid('--pid', o.pid) : undefined,
      comm: o.comm !== undefined ? parseComm('--comm', o.comm) : undefined,
      durationMs: o.duration !== undefined ? parseDuration('--duration', o.duration) : undefined,
      sample: o.sample !== undefined ? parseSample('--sample', o.sample) : {},
      burst: o.burst !== undefined ? parseBurst('--burst', o.burst) : undefined,
      cgroup: o.cgroup !== undefined ? parseCgroup('--cgroup', o.cgroup) : undefined,
      targets,
      udsReadWrite: (o as Record<string, unknown>).udsRw === true,
      alerts: typeof o.rules === 'string' && o.rules !== 'off' ? { rulesDir: o.rules, webhooks: (o.webhook as unknown as string[] | undefined) ?? [], alertmanager: alertmanagerConfigFromFlags(o) } : undefined,
      ringBytes: o.ringBytes !== undefined ? parseIntFlag('--ring-bytes', o.ringBytes, 4096, 1 << 30) : undefined,
      snapshotMs: parseDuration('--snapshot', o.snapshot ?? '5s'),
      metrics: o.metrics && o.metrics !== 'off' ? parseListen('--metrics', o.metrics) : undefined,
      metricsTop: parseIntFlag('--metrics-top', o.metricsTop ?? '20', 1, 10_000),
      control: parseControl(o.control, o.controlToken ?? process.env.V2PROBE_CONTROL_TOKEN),
      budget: parseBudget(o.budget ?? defaults.budget),
      statusEveryMs: statusEvery,
      perProbe: fromFile.perProbe,
      governorPriority: governorOrder(fromFile.governorPriority, probes),
      keepCapabilities: (o as Record<string, unknown>).keepCapabilities === true,
      explain,
      logger,
    });
    for (const s of res.status) {
      logger.info({ probe: s.probe, state: s.state, attach: s.attach, error: s.error, counters: s.counters }, 'probe summary');
    }
    logger.info({ rows: res.rows }, 'done');
    if (res.status.some((s) => s.state === 'failed')) process.exitCode = 1;
  };

  collectOpts(program.command('collect').description('collect probe events into a sink'), { probes: 'uds,sched', sink: DEFAULT_STORE })
    .addOption(new Option('--status <d>', 'print live counts to stderr every interval (0: off)').default('0'))
    .option('--metrics <host:port>', 'serve Prometheus /metrics here (default: off)')
    .option('--control <socket|host:port>', 'serve the control API (v2probe ctl) on a Unix socket path or 127.0.0.1:PORT with --control-token (default: off)')
    .action(async (o, cmd) => runAction(o.status === '0' ? 0 : parseDuration('--status', o.status))(o, cmd));

  addAlertmanagerOptions(collectOpts(program.command('up').description('single host: collect uds, sched, blockio into chDB, evaluate the alert rules, serve /metrics and the control API, with live status'), {
    probes: 'uds,sched,blockio',
    sink: DEFAULT_STORE,
  })
    .option('--metrics <host:port|off>', 'serve Prometheus /metrics here', '127.0.0.1:9435')
    .option('--control <socket|host:port|off>', 'serve the control API (v2probe ctl) here', DEFAULT_CONTROL_SOCKET)
    .option('--rules <dir|off>', 'alert rules to evaluate on the store', DEFAULT_RULES_DIR)
    .option('--webhook <url>', 'Alertmanager-compatible webhook for alert notifications; repeatable', (v: string, acc: string[] = []) => [...acc, v]))
    .action(async (o, cmd) => runAction(2000, { budget: '1' })(o, cmd));

  program
    .command('query')
    .description('run SQL against a store, or a named query (--preset)')
    .argument('[sql]', 'the query')
    .option('--store <dsn>', 'store DSN', DEFAULT_STORE)
    .addOption(new Option('--preset <name>', 'a named query instead of SQL: loss (the loss ledger per host and probe)').choices(['loss']))
    .addOption(new Option('--format <f>', 'output format').choices(['table', 'json', 'csv']).default('table'))
    .action(async (sql: string | undefined, o: { store: string; format: 'table' | 'json' | 'csv'; preset?: 'loss' }) => {
      const fmt: Record<string, QueryFormat> = { table: 'PrettyCompactMonoBlock', json: 'JSONEachRow', csv: 'CSVWithNames' };
      if (!sql && !o.preset) throw new UsageError("query: missing required argument 'sql' (or give --preset loss)");
      if (sql && o.preset) throw new UsageError('query: give SQL or --preset, not both');
      const store = await openStore(o.store);
      try {
        if (o.preset === 'loss') {
          await applySchema(store);
          sql = lossQuery();
        }
        process.stdout.write(await store.queryText(sql!, fmt[o.format]));
      } finally {
        await store.close();
      }
    });

  const schema = program.command('schema').description('store schema');
  schema
    .command('apply')
    .description(`create database v2e and its tables (schema version ${SCHEMA_VERSION}); idempotent`)
    .option('--store <dsn>', 'store DSN', DEFAULT_STORE)
    .option('--cluster <name>', 'ClickHouse cluster: Replicated engines, ON CLUSTER, Distributed tables')
    .action(async (o: { store: string; cluster?: string }) => {
      checkCluster(o.cluster);
      const store = await openStore(o.store);
      try {
        const r = await applySchema(store, undefined, { cluster: o.cluster });
        process.stdout.write(`schema version ${r.version} applied to ${store.dsn} (was ${r.previous || 'empty'})${r.applied.length ? `; migrations: ${r.applied.map((m) => `${m.version} ${m.name}`).join('; ')}` : ''}${r.addedColumns.length ? `; added columns: ${r.addedColumns.join(', ')}` : ''}\n`);
      } finally {
        await store.close();
      }
    });
  schema
    .command('print')
    .description('print the DDL of a fresh install (with --cluster: the cluster variant)')
    .option('--cluster <name>', 'ClickHouse cluster name')
    .action((o: { cluster?: string }) => {
      checkCluster(o.cluster);
      process.stdout.write(schemaStatements(undefined, o.cluster).map((s) => `${s};\n`).join('\n'));
    });

  registerCtl(program);
  registerConfig(program);
  registerIngest(program);
  registerFlame(program);
  registerAlerts(program);
  registerIncident(program);
  registerExplain(program);

  // usage errors from commander itself (unknown option, missing argument) exit 2
  const exitOverride = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(exitOverride);
  };
  exitOverride(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2; // commander already printed the message
    }
    process.stderr.write(`v2probe: ${describe(err)}\n`);
    return exitCodeFor(err);
  }
}

const code = await main(process.argv);
process.exit(code);
