/**
 * cli/main.ts — the `v2probe` command line (commander): buildProgram puts the
 * command groups together, each registered by its own function (doctor,
 * collect/up, query, schema here; ctl, config, ingest/loss, topics, flame,
 * alerts, incident, explain in their files). Exit codes: 0 ok, 2 usage error
 * (bad flag, probe, pid, DSN), 1 runtime error (kernel, store).
 */
import { Command, CommanderError, Option } from 'commander';
import { PROBES, USER_PROBES, type ProbeDef } from '../schema/event.js';
import { applySchema, schemaStatements, SCHEMA_VERSION } from '../schema/ddl.js';
import { DEFAULT_STORE, openStore } from '../store/index.js';
import type { QueryFormat } from '../store/types.js';
import { describe, exitCodeFor, UsageError } from './errors.js';
import { makeLogger } from './log.js';
import {
  checkedOption, listOption, parseBudget, parseBurst, parseCgroup, parseComm, parseCommList, parseControlListen, parseDuration, parseDurationOrZero, parseExistingPath,
  parseHttpUrl, parseIdentifier, parseIntFlag, parseListenOrOff, parsePid, parsePidList, parseProbes, parseReadableFile, parseRingBytes, parseSample, parseStore, parseToken,
  type FlagParser,
} from './parse.js';
import { runCollector } from './run-collector.js';
import { doctor, formatDoctor } from './doctor.js';
import { registerCtl } from './ctl.js';
import { DEFAULT_RULES_DIR } from '../alerts/index.js';
import { parseAppUprobe, resolveTargets, type UprobeTargets } from '../uprobes/attach.js';
import { checkShmRing, parseShmRing } from '../uprobes/shm-ring.js';
import { GoBinaryError, openGoBinary, symbolOffset } from '../uprobes/go-binary.js';
import type { ProbeName } from '../schema/event.js';
import { applyConfigFile, governorOrder, registerConfig } from './config.js';
import { checkKafkaSink, parseKafkaSink, registerIngest } from './ingest.js';
import { lossQuery } from '../ingester/loss.js';
import { registerFlame } from './flame.js';
import { registerAlerts } from './alerts.js';
import { addAlertmanagerOptions, alertmanagerConfigFromFlags } from './alertmanager-flags.js';
import { registerIncident } from './incident.js';
import { registerHist } from './hist.js';
import { registerExplain } from './explain.js';
import { registerTopics } from './topics.js';
import { DEFAULT_CONTROL_SOCKET, type ControlListen } from '../collector/ops/control.js';
import type { KafkaSinkSpec } from '../kafka/client.js';
import type { KafkaSecuritySettings } from '../kafka/security.js';
import type { ExplainOptions } from '../collector/collector.js';

const probeList = USER_PROBES.map((p) => `  ${p.padEnd(9)} ${(PROBES[p] as ProbeDef).summary}`).join('\n');

/** `--sink` as given: stdout, a store DSN, or a kafka[s]:// URL (its TLS/SASL are resolved when the command runs, with the config file). */
const parseSinkSpec: FlagParser = (flag, spec) => {
  if (spec === 'stdout' || spec === '-') return;
  if (/^kafkas?:\/\//.test(spec)) return parseKafkaSink(flag, spec);
  return parseStore(flag, spec);
};

/** `--sink`: checked now (exit 2 on a bad one); a Kafka sink comes back resolved (TLS/SASL from the URL, environment and config file). */
function checkSink(flag: string, spec: string, kafkaFile?: { path: string; settings: KafkaSecuritySettings }): { spec: string; kafka?: KafkaSinkSpec } {
  if (spec === 'stdout' || spec === '-') return { spec };
  if (/^kafkas?:\/\//.test(spec)) return { spec, kafka: checkKafkaSink(flag, spec, kafkaFile) };
  parseStore(flag, spec);
  return { spec };
}

const goBinaryError = (flag: string, value: string, err: unknown): never => {
  if (!(err instanceof GoBinaryError)) throw err;
  throw new UsageError(err.message.startsWith(flag) ? err.message : `${flag} '${value}': ${err.message}`);
};

/** `--go-binary A,B`: Go executables (ELF with Go build info); which probes they fit is checked with --probes. */
const parseGoBinaries: FlagParser<string[]> = (flag, text) => {
  const paths = text.split(',').map((b) => b.trim()).filter(Boolean);
  if (!paths.length) throw new UsageError(`${flag}: '${text}' names no binary`);
  for (const b of paths) {
    try {
      openGoBinary(b);
    } catch (err) {
      goBinaryError(flag, b, err);
    }
  }
  return paths;
};

/** `--uprobe BINARY:SYMBOL[:pair=SYMBOL2]`: the binary is a Go program with these functions. */
const parseUprobe: FlagParser = (flag, spec) => {
  try {
    const u = parseAppUprobe(spec);
    const bin = openGoBinary(u.binary);
    symbolOffset(bin, u.symbol);
    if (u.pair) symbolOffset(bin, u.pair);
    return u;
  } catch (err) {
    return goBinaryError(flag, spec, err);
  }
};

/** `--shm-ring BINARY:publish=S,consume=S[,overflow=S][,seq=argN][,fill=argN]`: syntax, binary, functions (near matches), argument registers. */
const parseShmRingFlag: FlagParser = (flag, spec) => {
  try {
    const r = parseShmRing(spec);
    checkShmRing(r);
    return r;
  } catch (err) {
    // the message names the whole spec, once
    if (err instanceof GoBinaryError && !err.message.includes(spec)) throw new UsageError(`${flag} '${spec}': ${err.message.replace(/^--shm-ring [^:]*: /, '')}`);
    return goBinaryError(flag, spec, err);
  }
};

/** The flag kinds of collect/up that take bounds. */
const explainSample: FlagParser<number> = (f, t) => parseIntFlag(f, t, 1, 1_000_000);
const metricsTop: FlagParser<number> = (f, t) => parseIntFlag(f, t, 1, 10_000);
const rulesPath: FlagParser<string> = (f, t) => (t === 'off' ? t : parseExistingPath(f, t, 'a directory of rule files, one file, or off'));

/** --go-binary/--go-pid/--uprobe → uprobe targets, checked now (binary, Go build info, symbols) so a bad one exits 2. */
function parseTargets(o: Record<string, unknown>, probes: ProbeName[]): UprobeTargets | undefined {
  const uprobes = (o.uprobe as string[] | undefined) ?? [];
  const shmRings = (o.shmRing as string[] | undefined) ?? [];
  const binaries = o.goBinary ? parseGoBinaries('--go-binary', String(o.goBinary)) : [];
  const pids = o.goPid ? parsePidList('--go-pid', String(o.goPid)) : [];
  const goProbes = probes.filter((p) => p.startsWith('go_'));
  if (goProbes.length && !binaries.length && !pids.length) throw new UsageError(`--probes ${goProbes.join(',')}: give the Go program with --go-binary PATH or --go-pid PID`);
  if ((binaries.length || pids.length) && !goProbes.length) throw new UsageError('--go-binary/--go-pid: add a Go probe to --probes (go_gc, go_sched, go_malloc)');
  if (uprobes.length && !probes.includes('app')) probes.push('app');
  if (probes.includes('app') && !uprobes.length) throw new UsageError('--probes app: give at least one --uprobe BINARY:SYMBOL[:pair=SYMBOL2]');
  if (shmRings.length && !probes.includes('shm')) probes.push('shm');
  try {
    for (const b of binaries) for (const fam of goProbes) resolveTargets({ binaries: [b] }, fam);
    for (const pid of pids) for (const fam of goProbes) resolveTargets({ pids: [pid] }, fam);
    const app = uprobes.map((spec) => parseAppUprobe(spec)); // binaries and symbols checked as the flags were parsed
    const rings = shmRings.map((spec) => parseShmRing(spec));
    if (!binaries.length && !pids.length && !app.length && !rings.length) return undefined;
    return { binaries, pids, app, shmRings: rings };
  } catch (err) {
    if (err instanceof GoBinaryError) throw new UsageError(err.message);
    throw err;
  }
}

function parseControl(spec: string | undefined, token: { value?: string; flag: string }): ControlListen | undefined {
  const l = spec === undefined ? undefined : parseControlListen('--control', spec);
  if (!l || 'socket' in l) return l;
  if (!token.value) throw new UsageError('--control HOST:PORT needs --control-token (or V2PROBE_CONTROL_TOKEN): the TCP API refuses requests without it');
  return { ...l, token: parseToken(token.flag, token.value) };
}

/** `--explain COMM[,COMM]` (+ `--explain-sample N`, `--explain-stacks`) → the collector's explain options. */
function parseExplain(o: Record<string, unknown>, cmd?: Command): ExplainOptions | undefined {
  if (o.explain === undefined) {
    if (cmd?.getOptionValueSource('explainSample') === 'cli') throw new UsageError('--explain-sample: give the brokers with --explain COMM[,COMM]');
    if (o.explainStacks === true && cmd?.getOptionValueSource('explainStacks') === 'cli') throw new UsageError('--explain-stacks: give the brokers with --explain COMM[,COMM]');
    return undefined;
  }
  const comms = parseCommList('--explain', String(o.explain));
  return { comms, sampleEvery: explainSample('--explain-sample', String(o.explainSample ?? '100')), stacks: o.explainStacks === true };
}

/** The program itself: name, version, and the probes/stores/sinks after its help. */
function rootProgram(): Command {
  return new Command('v2probe')
    .description('eBPF telemetry for the v2e platform: kernel and runtime probes into ClickHouse/chDB')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `\nProbes:\n${probeList}\n\nStores: chdb:PATH (default ${DEFAULT_STORE}) | clickhouse://user:pass@host:8123/db | clickhouses://user:pass@host:8443/db?ca=FILE&cert=FILE&key=FILE\n` +
        `Sinks:  a store | kafka://HOST:PORT/TOPIC | kafkas://[USER@]HOST:PORT/TOPIC?ca=FILE&cert=FILE&key=FILE&sasl=plain|scram-sha-256|scram-sha-512 | stdout (NDJSON)\n` +
        `        Kafka password: V2PROBE_KAFKA_PASSWORD, password_file=FILE, or the config file's kafka: section`,
    );
}

/** `doctor`. */
function registerDoctor(program: Command): void {
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
}

/** The options `collect` and `up` share (defaults differ). */
function collectOpts(c: Command, defaults: { probes: string; sink: string }): Command {
  return c
      .addOption(checkedOption('--probes <list>', `comma-separated probes (${USER_PROBES.join(', ')})`, parseProbes, defaults.probes))
      .addOption(checkedOption('--sink <sink>', 'a store DSN, kafka[s]://[USER@]HOST:PORT/TOPIC[?TLS/SASL options], or stdout', parseSinkSpec, defaults.sink))
      .addOption(checkedOption('--pid <pid>', 'only this process (tgid)', parsePid))
      .addOption(checkedOption('--comm <name>', 'only tasks with this name', parseComm))
      .addOption(checkedOption('--duration <d>', 'stop after this long (e.g. 10s); default: until SIGINT/SIGTERM', parseDuration))
      .addOption(checkedOption('--sample <spec>', 'per-probe 1-in-N event sampling, e.g. uds=1000,sched=100', parseSample))
      .addOption(checkedOption('--cgroup <path>', 'only tasks in this cgroup v2 directory', parseCgroup))
      .option('--uds-rw', 'uds: also time read/write on AF_UNIX sockets (what Go services use); costs a check on every read/write of the host')
      .addOption(checkedOption('--go-binary <paths>', 'go_gc/go_sched/go_malloc: Go executables (every process running them, now and later), comma-separated', parseGoBinaries))
      .addOption(checkedOption('--go-pid <pids>', 'go_gc/go_sched/go_malloc: these Go processes, comma-separated', parsePidList))
      .addOption(listOption('--uprobe <spec>', 'app probe: BINARY:SYMBOL[:pair=SYMBOL2] (calls; with pair, entry-to-entry latency); repeatable', parseUprobe))
      .addOption(listOption('--shm-ring <spec>', 'shm probe: a shared-memory ring, BINARY:publish=SYMBOL,consume=SYMBOL[,overflow=SYMBOL][,seq=argN][,fill=argN] (default seq=arg1,fill=arg2): publishes, overflows, fill level, publish-to-consume latency; repeatable', parseShmRingFlag))
      .addOption(checkedOption('--burst <spec>', 'per-probe, per-CPU limit of sampled rows/s, e.g. uds=5000:10000 (over it: counted as burst_dropped)', parseBurst))
      .addOption(checkedOption('--ring-bytes <n>', 'ring buffer size per probe (power of two, >= 4096)', parseRingBytes))
      .addOption(checkedOption('--snapshot <d>', 'counter/histogram snapshot interval', parseDuration, '5s'))
      .addOption(checkedOption('--metrics-top <n>', 'per-process metric series for at most this many processes', metricsTop, '20'))
      .addOption(checkedOption('--control-token <t>', 'bearer token for a TCP --control address (or V2PROBE_CONTROL_TOKEN)', parseToken))
      .addOption(checkedOption('--budget <percent>', 'overhead governor: keep the probes under this % of all CPUs (off: no governor)', parseBudget))
      .option('--keep-capabilities', 'keep every capability (default: after attaching, every thread drops all but those re-attaching needs; see SECURITY.md)')
      .addOption(checkedOption('--explain <comms>', 'explain round trips to these brokers (task names, comma-separated): breakdowns into /metrics and the sink (v2e.rtt_breakdown)', parseCommList))
      .addOption(checkedOption('--explain-sample <n>', '--explain: 1 in N client requests carries a breakdown', explainSample, '100'))
      .option('--explain-stacks', '--explain: Go brokers: where the broker blocked (a uprobe hit per goroutine park)')
      .addOption(checkedOption('--config <file>', 'YAML config file (see `v2probe config check`); flags given here override it', (f, t) => parseReadableFile(f, t, 'config file')));
}

/** `up --http HOST:PORT [--http-token T]`: the token from the flag or V2PROBE_HTTP_TOKEN, required off loopback. */
function httpOption(o: Record<string, string | undefined>): { host: string; port: number; token?: string } | undefined {
  const listen = o.http !== undefined ? parseListenOrOff('--http', o.http) : undefined;
  if (!listen) return undefined;
  const token = o.httpToken ?? process.env.V2PROBE_HTTP_TOKEN;
  const loopback = listen.host === 'localhost' || /^127\./.test(listen.host) || listen.host === '::1';
  if (!loopback && !token) throw new UsageError(`--http ${listen.host}:${listen.port}: not a loopback address: give --http-token (or V2PROBE_HTTP_TOKEN)`);
  return { ...listen, token };
}

/** The action of `collect` and `up`: flags (and the config file) checked, then the collector runs until done. */
function runAction(statusEvery: number, defaults: { budget?: string } = {}) {
  return async (o: Record<string, string | undefined>, cmd?: Command): Promise<void> => {
    const fromFile = applyConfigFile(o, (k) => cmd?.getOptionValueSource(k)); // exit 2 on a bad file
    // alert settings of `up` are checked before anything attaches (the evaluator starts after the probes), used or not
    const rules = typeof o.rules === 'string' && o.rules !== 'off' ? rulesPath('--rules', o.rules) : undefined;
    const webhooks = (o.webhook as unknown as string[] | undefined) ?? [];
    const alertmanager = alertmanagerConfigFromFlags(o);
    const probes = parseProbes('--probes', o.probes!);
    const targets = parseTargets(o, probes);
    const sink = checkSink('--sink', o.sink!, fromFile.kafka);
    const explain = parseExplain(o, cmd);
    const logger = makeLogger();
    if (fromFile.kafka && !sink.kafka) logger.warn({ config: o.config }, 'config file: the kafka: section is not used (the sink is not kafka:// or kafkas://)');
    if (!rules && (webhooks.length || alertmanager)) logger.warn('--webhook/--alertmanager: alert rules are off (--rules off): no notifications are sent');
    const budget = o.budget ?? defaults.budget;
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
      alerts: rules ? { rulesDir: rules, webhooks, alertmanager } : undefined,
      ringBytes: o.ringBytes !== undefined ? parseRingBytes('--ring-bytes', o.ringBytes) : undefined,
      snapshotMs: parseDuration('--snapshot', o.snapshot ?? '5s'),
      metrics: o.metrics !== undefined ? parseListenOrOff('--metrics', o.metrics) : undefined,
      metricsTop: metricsTop('--metrics-top', o.metricsTop ?? '20'),
      http: httpOption(o),
      control: parseControl(o.control, {
        value: o.controlToken ?? process.env.V2PROBE_CONTROL_TOKEN,
        flag: o.controlToken === undefined ? 'V2PROBE_CONTROL_TOKEN' : cmd?.getOptionValueSource('controlToken') === 'cli' ? '--control-token' : `control_token in ${o.config}`,
      }),
      budget: budget !== undefined ? parseBudget('--budget', budget) : undefined,
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
}

/** `collect` and `up`. */
function registerCollect(program: Command): void {
  collectOpts(program.command('collect').description('collect probe events into a sink'), { probes: 'uds,sched', sink: DEFAULT_STORE })
    .addOption(checkedOption('--status <d>', 'print live counts to stderr every interval (0: off)', parseDurationOrZero, '0'))
    .addOption(checkedOption('--metrics <host:port>', 'serve Prometheus /metrics here (default: off)', parseListenOrOff))
    .addOption(checkedOption('--control <socket|host:port>', 'serve the control API (v2probe ctl) on a Unix socket path or 127.0.0.1:PORT with --control-token (default: off)', parseControlListen))
    .action(async (o, cmd) => runAction(parseDurationOrZero('--status', o.status))(o, cmd));

  addAlertmanagerOptions(collectOpts(program.command('up').description('single host: collect uds, sched, blockio into chDB, evaluate the alert rules, serve /metrics and the control API, with live status'), {
    probes: 'uds,sched,blockio',
    sink: DEFAULT_STORE,
  })
    .addOption(checkedOption('--metrics <host:port|off>', 'serve Prometheus /metrics here', parseListenOrOff, '127.0.0.1:9435'))
    .addOption(checkedOption('--control <socket|host:port|off>', 'serve the control API (v2probe ctl) here', parseControlListen, DEFAULT_CONTROL_SOCKET))
    .addOption(checkedOption('--rules <dir|off>', 'alert rules to evaluate on the store', rulesPath, DEFAULT_RULES_DIR))
    .addOption(listOption('--webhook <url>', 'Alertmanager-compatible webhook for alert notifications; repeatable', parseHttpUrl))
    .addOption(checkedOption('--http <host:port|off>', "serve the store read-only over ClickHouse's HTTP interface (curl, Grafana, any ClickHouse HTTP client), e.g. 127.0.0.1:8123", parseListenOrOff, 'off'))
    .addOption(checkedOption('--http-token <t>', '--http: the password clients must give (basic auth, X-ClickHouse-Key or ?password=); required off loopback (or V2PROBE_HTTP_TOKEN)', parseToken)))
    .action(async (o, cmd) => runAction(2000, { budget: '1' })(o, cmd));
}

/** `query`. */
function registerQuery(program: Command): void {
  program
    .command('query')
    .description('run SQL against a store, or a named query (--preset)')
    .argument('[sql]', 'the query')
    .addOption(checkedOption('--store <dsn>', 'store DSN', parseStore, DEFAULT_STORE))
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
}

/** `schema apply|print`. */
function registerSchema(program: Command): void {
  const schema = program.command('schema').description('store schema');
  schema
    .command('apply')
    .description(`create database v2e and its tables (schema version ${SCHEMA_VERSION}); idempotent`)
    .addOption(checkedOption('--store <dsn>', 'store DSN', parseStore, DEFAULT_STORE))
    .addOption(checkedOption('--cluster <name>', 'ClickHouse cluster: Replicated engines, ON CLUSTER, Distributed tables', parseIdentifier))
    .action(async (o: { store: string; cluster?: string }) => {
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
    .addOption(checkedOption('--cluster <name>', 'ClickHouse cluster name', parseIdentifier))
    .action((o: { cluster?: string }) => {
      process.stdout.write(schemaStatements(undefined, o.cluster).map((s) => `${s};\n`).join('\n'));
    });
}

/** Usage errors from commander itself (unknown option, missing argument) exit 2: every command throws instead of exiting. */
function throwOnUsageErrors(c: Command): void {
  c.exitOverride();
  c.commands.forEach(throwOnUsageErrors);
}

/** The whole command line: each command group registers itself, in the order `--help` lists them. */
export function buildProgram(): Command {
  const program = rootProgram();
  for (const register of [
    registerDoctor, registerCollect, registerQuery, registerSchema,
    registerCtl, registerConfig, registerIngest, registerTopics, registerFlame, registerAlerts, registerIncident, registerExplain, registerHist,
  ])
    register(program);
  throwOnUsageErrors(program);
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
