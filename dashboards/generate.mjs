#!/usr/bin/env node
// dashboards/generate.mjs — writes the Grafana dashboards (dashboards/*.json)
// from the panel definitions below, so the SQL lives in one readable place.
//   node dashboards/generate.mjs          # rewrite the JSON files
// test/ops/dashboards.test.ts checks the JSON files equal this output, validates
// them against Grafana's dashboard model, and runs every query on chDB with the
// real schema.
//
// Data source: the ClickHouse plugin (grafana-clickhouse-datasource, v4), SQL
// editor. Macros it expands (pkg/macros/macros.go of the plugin):
//   $__timeFilter(ts)  → ts >= toDateTime(FROM) AND ts <= toDateTime(TO)
//   $__timeInterval(ts) → toStartOfInterval(toDateTime(ts), INTERVAL $__interval_s second)
//   $__interval_s      → the panel's interval in seconds (>= 1)
// Rollups (schema/rollups.ts) have 10 s windows, so panels on them bucket by
// at least 10 s (the BUCKET expression below) and divide counts by that width.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DATASOURCE_TYPE = 'grafana-clickhouse-datasource';
export const DATASOURCE_UID = 'v2e-clickhouse';
const DS = { type: DATASOURCE_TYPE, uid: '${datasource}' };

const SECONDS = 'greatest($__interval_s, 10)';
const BUCKET = `toStartOfInterval(ts, INTERVAL ${SECONDS} SECOND)`;
const HOSTS = 'host IN (${host:singlequote})';
const COMMS = 'comm IN (${comm:singlequote})';
/** the q-quantile of a log2 histogram (upper bound of the slot holding it, ns) */
const histQ = (q) => `pow(2, arrayFirstIndex(c -> c >= ${q} * arraySum(h), arrayCumSum(h)))`;
const DROP_REASONS = {
  lost_ringbuf: 'ring buffer full',
  lost_mapfull: 'map full',
  lost_userspace: 'userspace queue full',
  lost_sink: 'sink',
  burst_dropped: 'burst limit',
  rejected_decode: 'undecodable',
};
const sqlList = (xs) => xs.map((x) => `'${x}'`).join(', ');

const sql = (lines) => lines.join('\n');

/** Rate of an exact per-process counter (v2e.counters_10s) by process: the bucket's sum divided by `per` (its seconds). */
const perProcessCounterSql = (probe, name, alias, per = SECONDS) =>
  sql([
    `SELECT ${BUCKET} AS time, concat(comm, ' (', toString(pid), ')') AS process, sum(delta_sum) / ${per} AS ${alias}`,
    'FROM v2e.counters_10s',
    `WHERE $__timeFilter(ts) AND probe = '${probe}' AND name = '${name}' AND pid != 0 AND ${HOSTS} AND ${COMMS}`,
    'GROUP BY time, process',
    'ORDER BY time',
  ]);

/** The uds events that carry a message (connect does not); read/write appear with collect --uds-rw. */
const UDS_MESSAGE_EVENTS = ['sendmsg', 'recvmsg', 'sendto', 'recvfrom', 'read', 'write'];

/** UDS latency quantile by process, from the 10 s rollup. */
const udsLatencyPanel = (name, q, description) => ({
  title: `UDS latency ${name} by process`,
  description,
  unit: 'ns',
  sql: sql([
    `SELECT ${BUCKET} AS time, comm, quantileTDigestWeightedMerge(${q})(value_q) AS ${name}`,
    'FROM v2e.events_10s',
    `WHERE $__timeFilter(ts) AND probe = 'uds' AND event IN (${sqlList(UDS_MESSAGE_EVENTS)}) AND ${HOSTS} AND ${COMMS}`,
    'GROUP BY time, comm',
    'ORDER BY time',
  ]),
});

/** @typedef {{ title: string, description: string, unit: string, sql: string, type?: 'timeseries'|'table', w?: number, h?: number, stack?: boolean }} PanelDef */

/** @type {Record<string, { uid: string, title: string, description: string, tags: string[], panels: PanelDef[] }>} */
export const DASHBOARDS = {
  'v2probe-overview': {
    uid: 'v2probe-overview',
    title: 'v2probe: IPC, scheduling, block I/O',
    description: 'The v2e priority metrics from v2probe: Unix-socket latency, context switches and run-queue delay, block I/O latency, and every drop.',
    tags: ['v2probe', 'ebpf'],
    panels: [
      udsLatencyPanel('p99', 0.99, 'sendmsg/recvmsg/sendto/recvfrom (and read/write with collect --uds-rw) on AF_UNIX sockets, p99 of the sampled calls weighted by the events they stand for (v2e.events_10s). Target: < 25 µs.'),
      udsLatencyPanel('p50', 0.5, 'As the p99 panel, the median.'),
      {
        title: 'UDS calls/s by kind (exact)',
        description: 'Every AF_UNIX call counted in the kernel (counters calls_*, host-wide).',
        unit: 'ops',
        stack: true,
        sql: sql([
          `SELECT ${BUCKET} AS time, replaceOne(name, 'calls_', '') AS call, sum(delta_sum) / ${SECONDS} AS calls`,
          'FROM v2e.counters_10s',
          `WHERE $__timeFilter(ts) AND probe = 'uds' AND startsWith(name, 'calls_') AND pid = 0 AND ${HOSTS}`,
          'GROUP BY time, call',
          'ORDER BY time',
        ]),
      },
      {
        title: 'UDS latency of every call (log2 histogram: p50 / p99 upper bound)',
        description: 'From the in-kernel histogram of all calls, not only the sampled ones: the upper bound of the power-of-two slot that holds the quantile.',
        unit: 'ns',
        sql: sql([
          `SELECT time, event, ${histQ(0.5)} AS p50, ${histQ(0.99)} AS p99`,
          `FROM (SELECT ${BUCKET} AS time, event, sumForEachMerge(counts) AS h`,
          '      FROM v2e.histograms_10s',
          `      WHERE $__timeFilter(ts) AND probe = 'uds' AND ${HOSTS}`,
          '      GROUP BY time, event)',
          'WHERE arraySum(h) > 0',
          'ORDER BY time',
        ]),
      },
      {
        title: 'Context switches/s per core',
        description: 'Estimated from the sampled sched switch rows (sum of weight per CPU). The exact host total is the next panel.',
        unit: 'ops',
        stack: true,
        sql: sql([
          "SELECT $__timeInterval(ts) AS time, concat('cpu ', toString(cpu)) AS core, sum(weight) / $__interval_s AS switches",
          'FROM v2e.events',
          `WHERE $__timeFilter(ts) AND probe = 'sched' AND event = 'switch' AND ${HOSTS}`,
          'GROUP BY time, core',
          'ORDER BY time',
        ]),
      },
      {
        title: 'Context switches/s (exact, per host)',
        description: 'The kernel counter of every sched_switch. Target: < 5000/s per core.',
        unit: 'ops',
        sql: sql([
          `SELECT ${BUCKET} AS time, host, sum(delta_sum) / ${SECONDS} AS switches`,
          'FROM v2e.counters_10s',
          `WHERE $__timeFilter(ts) AND probe = 'sched' AND name = 'switches' AND pid = 0 AND ${HOSTS}`,
          'GROUP BY time, host',
          'ORDER BY time',
        ]),
      },
      {
        title: 'Run-queue latency p50 / p99',
        description: 'Wakeup to running, from the sampled runq rows weighted by the events they stand for.',
        unit: 'ns',
        sql: sql([
          `SELECT ${BUCKET} AS time, host, quantileTDigestWeightedMerge(0.5)(value_q) AS p50, quantileTDigestWeightedMerge(0.99)(value_q) AS p99`,
          'FROM v2e.events_10s',
          `WHERE $__timeFilter(ts) AND probe = 'sched' AND event = 'runq' AND ${HOSTS}`,
          'GROUP BY time, host',
          'ORDER BY time',
        ]),
      },
      {
        title: 'Run-queue latency of every wakeup (log2 histogram: p99 upper bound)',
        description: 'From the in-kernel histogram of all wakeups.',
        unit: 'ns',
        sql: sql([
          `SELECT time, host, ${histQ(0.99)} AS p99`,
          `FROM (SELECT ${BUCKET} AS time, host, sumForEachMerge(counts) AS h`,
          '      FROM v2e.histograms_10s',
          `      WHERE $__timeFilter(ts) AND probe = 'sched' AND event = 'runq' AND ${HOSTS}`,
          '      GROUP BY time, host)',
          'WHERE arraySum(h) > 0',
          'ORDER BY time',
        ]),
      },
      {
        title: 'Block I/O latency p50 / p99 by kind',
        description: 'Request issue to completion (read, write, flush, discard), every request (blockio is not sampled by default).',
        unit: 'ns',
        sql: sql([
          `SELECT ${BUCKET} AS time, event, quantileTDigestWeightedMerge(0.5)(value_q) AS p50, quantileTDigestWeightedMerge(0.99)(value_q) AS p99`,
          'FROM v2e.events_10s',
          `WHERE $__timeFilter(ts) AND probe = 'blockio' AND ${HOSTS}`,
          'GROUP BY time, event',
          'ORDER BY time',
        ]),
      },
      {
        title: 'Block I/O requests/s by device and kind (exact)',
        description: 'Completed requests per device (major:minor) and kind, from the kernel counters.',
        unit: 'iops',
        stack: true,
        sql: sql([
          `SELECT ${BUCKET} AS time, concat(key, ' ', replaceOne(name, 'completed_', '')) AS device, sum(delta_sum) / ${SECONDS} AS requests`,
          'FROM v2e.counters_10s',
          `WHERE $__timeFilter(ts) AND probe = 'blockio' AND startsWith(name, 'completed_') AND key != '' AND ${HOSTS}`,
          'GROUP BY time, device',
          'ORDER BY time',
        ]),
      },
      {
        title: 'Drops per probe and reason',
        description: 'Every event v2probe lost, by where it was lost. Should be zero; a ring buffer that fills needs a larger --ring-bytes or more sampling.',
        unit: 'ops',
        stack: true,
        sql: sql([
          `SELECT ${BUCKET} AS time,`,
          `       concat(probe, ': ', transform(toString(name), [${sqlList(Object.keys(DROP_REASONS))}], [${sqlList(Object.values(DROP_REASONS))}], toString(name))) AS reason,`,
          `       sum(delta_sum) / ${SECONDS} AS dropped`,
          'FROM v2e.counters_10s',
          `WHERE $__timeFilter(ts) AND name IN (${sqlList(Object.keys(DROP_REASONS))}) AND pid = 0 AND ${HOSTS}`,
          'GROUP BY time, reason',
          'ORDER BY time',
        ]),
      },
      {
        title: 'Events/s per probe: real (estimated) and stored rows',
        description: 'real = sum(weight), the events the sampled rows stand for; stored = rows written.',
        unit: 'ops',
        sql: sql([
          `SELECT ${BUCKET} AS time, probe, sum(weight_sum) / ${SECONDS} AS real, sum(samples) / ${SECONDS} AS stored`,
          'FROM v2e.events_10s',
          `WHERE $__timeFilter(ts) AND ${HOSTS}`,
          'GROUP BY time, probe',
          'ORDER BY time',
        ]),
      },
    ],
  },
  'v2probe-runtime': {
    uid: 'v2probe-runtime',
    title: 'v2probe: Go runtime, page faults, lock wait',
    description: 'Go GC pauses and goroutines (uprobes on the runtime), page faults, kernel and user-space lock waits. Panels stay empty until the probes run on a host.',
    tags: ['v2probe', 'ebpf', 'go'],
    panels: [
      {
        title: 'Go GC stop-the-world pause: p99 and max by process',
        description: 'go_gc stw_* events (stop to start the world). Target: < 1 ms.',
        unit: 'ns',
        sql: sql([
          `SELECT ${BUCKET} AS time, comm, quantileTDigestWeightedMerge(0.99)(value_q) AS p99, max(value_max) AS max`,
          'FROM v2e.events_10s',
          `WHERE $__timeFilter(ts) AND probe = 'go_gc' AND startsWith(event, 'stw_') AND ${HOSTS} AND ${COMMS}`,
          'GROUP BY time, comm',
          'ORDER BY time',
        ]),
      },
      {
        title: 'Go GC: share of time stopped, by process',
        description: 'Stop-the-world nanoseconds per second of wall time (exact per-process counter gc_stw_ns).',
        unit: 'percentunit',
        sql: perProcessCounterSql('go_gc', 'gc_stw_ns', 'stopped', `(${SECONDS} * 1e9)`),
      },
      {
        title: 'Go GC cycles/s by process',
        description: 'Exact per-process counter gc_cycles.',
        unit: 'ops',
        sql: perProcessCounterSql('go_gc', 'gc_cycles', 'cycles'),
      },
      {
        title: 'Goroutines alive by process',
        description: 'A goroutines gauge when the probe writes one, else created − exited since the probe attached. Target: < 1000.',
        unit: 'short',
        sql: sql([
          `SELECT ${BUCKET} AS time, concat(comm, ' (', toString(pid), ')') AS process,`,
          "       if(countIf(name = 'goroutines') > 0, toInt64(maxIf(value_max, name = 'goroutines')),",
          "          toInt64(maxIf(value_max, name = 'goroutines_created')) - toInt64(maxIf(value_max, name = 'goroutines_exited'))) AS goroutines",
          'FROM v2e.counters_10s',
          `WHERE $__timeFilter(ts) AND probe = 'go_sched' AND name IN ('goroutines', 'goroutines_created', 'goroutines_exited') AND pid != 0 AND ${HOSTS} AND ${COMMS}`,
          'GROUP BY time, pid, comm',
          'ORDER BY time',
        ]),
      },
      {
        title: 'Goroutines created/s by process',
        description: 'Exact per-process counter goroutines_created.',
        unit: 'ops',
        sql: perProcessCounterSql('go_sched', 'goroutines_created', 'created'),
      },
      {
        title: 'Page faults/s (exact, per host)',
        description: 'User and kernel page faults, the kernel counters (exceptions:page_fault_*). Target: < 100/s per process.',
        unit: 'ops',
        stack: true,
        sql: sql([
          `SELECT ${BUCKET} AS time, concat(host, ' ', replaceOne(name, 'faults_', '')) AS kind, sum(delta_sum) / ${SECONDS} AS faults`,
          'FROM v2e.counters_10s',
          `WHERE $__timeFilter(ts) AND probe = 'pagefault' AND name IN ('faults_user', 'faults_kernel') AND pid = 0 AND ${HOSTS}`,
          'GROUP BY time, kind',
          'ORDER BY time',
        ]),
      },
      {
        title: 'Page faults/s: top 10 processes',
        description: 'Exact per-process counters (user + kernel faults).',
        unit: 'ops',
        sql: sql([
          `SELECT ${BUCKET} AS time, concat(comm, ' (', toString(pid), ')') AS process, sum(delta_sum) / ${SECONDS} AS faults`,
          'FROM v2e.counters_10s',
          `WHERE $__timeFilter(ts) AND probe = 'pagefault' AND name IN ('faults_user', 'faults_kernel') AND pid != 0 AND ${HOSTS}`,
          "  AND pid IN (SELECT pid FROM v2e.counters_10s WHERE $__timeFilter(ts) AND probe = 'pagefault' AND pid != 0 AND " + HOSTS,
          '              GROUP BY pid ORDER BY sum(delta_sum) DESC LIMIT 10)',
          'GROUP BY time, process',
          'ORDER BY time',
        ]),
      },
      {
        title: 'Kernel lock wait: seconds waited per second, by kind',
        description: 'Exact wait-time counters of lock:contention_begin/end (spin, mutex, rwsem). 1 s/s = one thread always waiting.',
        unit: 's',
        stack: true,
        sql: sql([
          `SELECT ${BUCKET} AS time, replaceOne(name, 'wait_ns_', '') AS lock, sum(delta_sum) / (${SECONDS} * 1e9) AS waited`,
          'FROM v2e.counters_10s',
          `WHERE $__timeFilter(ts) AND probe = 'lock' AND startsWith(name, 'wait_ns_') AND pid = 0 AND ${HOSTS}`,
          'GROUP BY time, lock',
          'ORDER BY time',
        ]),
      },
      {
        title: 'Kernel lock wait p99 by kind and process',
        description: 'Contended lock waits (sampled rows, weighted).',
        unit: 'ns',
        sql: sql([
          `SELECT ${BUCKET} AS time, concat(comm, ' ', event) AS wait, quantileTDigestWeightedMerge(0.99)(value_q) AS p99`,
          'FROM v2e.events_10s',
          `WHERE $__timeFilter(ts) AND probe = 'lock' AND ${HOSTS} AND ${COMMS}`,
          'GROUP BY time, wait',
          'ORDER BY time',
        ]),
      },
      {
        title: 'User-space lock (futex) wait p99 by process',
        description: 'FUTEX_WAIT / WAIT_BITSET / LOCK_PI time to return (sampled 1:100 by default, weighted).',
        unit: 'ns',
        sql: sql([
          `SELECT ${BUCKET} AS time, comm, quantileTDigestWeightedMerge(0.99)(value_q) AS p99`,
          'FROM v2e.events_10s',
          `WHERE $__timeFilter(ts) AND probe = 'futex' AND ${HOSTS} AND ${COMMS}`,
          'GROUP BY time, comm',
          'ORDER BY time',
        ]),
      },
    ],
  },
};

function templating() {
  return {
    list: [
      {
        type: 'datasource',
        name: 'datasource',
        label: 'ClickHouse',
        query: DATASOURCE_TYPE,
        current: { selected: false, text: 'v2e ClickHouse', value: DATASOURCE_UID },
        hide: 0,
        refresh: 1,
        regex: '',
        options: [],
      },
      queryVariable('host', 'host', 'SELECT DISTINCT host FROM v2e.counters_1m WHERE ts > now() - INTERVAL 1 DAY ORDER BY host'),
      queryVariable('comm', 'process (comm)', 'SELECT DISTINCT comm FROM v2e.events_1m WHERE ts > now() - INTERVAL 1 DAY AND host IN (${host:singlequote}) ORDER BY comm'),
    ],
  };
}

/** A Grafana query template variable (multi-select, "All" by default) over the store. */
function queryVariable(name, label, sql) {
  return {
    type: 'query',
    name,
    label,
    datasource: DS,
    query: sql,
    definition: sql,
    refresh: 2,
    multi: true,
    includeAll: true,
    current: { selected: true, text: ['All'], value: ['$__all'] },
    sort: 1,
    hide: 0,
    regex: '',
    options: [],
  };
}

function panel(def, i) {
  const w = def.w ?? 12;
  const h = def.h ?? 8;
  const table = def.type === 'table';
  return {
    id: i + 1,
    type: table ? 'table' : 'timeseries',
    title: def.title,
    description: def.description,
    datasource: DS,
    gridPos: { x: (i % 2) * 12, y: Math.floor(i / 2) * h, w, h },
    fieldConfig: {
      defaults: {
        unit: def.unit,
        min: 0,
        custom: table ? {} : { drawStyle: 'line', lineWidth: 1, fillOpacity: def.stack ? 30 : 0, showPoints: 'never', spanNulls: false, stacking: { mode: def.stack ? 'normal' : 'none', group: 'A' } },
      },
      overrides: [],
    },
    options: table ? { showHeader: true } : { legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['mean', 'max'] }, tooltip: { mode: 'multi', sort: 'desc' } },
    targets: [
      {
        refId: 'A',
        datasource: DS,
        editorType: 'sql',
        // sqlutil FormatQueryOption: 0 time series (long → wide by the label columns), 1 table
        format: table ? 1 : 0,
        queryType: table ? 'table' : 'timeSeries',
        rawSql: def.sql,
      },
    ],
  };
}

export function dashboardJson(key) {
  const d = DASHBOARDS[key];
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: d.tags,
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '10s',
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    fiscalYearStartMonth: 0,
    liveNow: false,
    links: [{ title: 'v2probe dashboards', type: 'dashboards', tags: ['v2probe'], asDropdown: true, includeVars: true, keepTime: true }],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    templating: templating(),
    panels: d.panels.map(panel),
  };
}

export function dashboardText(key) {
  return JSON.stringify(dashboardJson(key), null, 2) + '\n';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const key of Object.keys(DASHBOARDS)) {
    const out = fileURLToPath(new URL(`./${key}.json`, import.meta.url));
    writeFileSync(out, dashboardText(key));
    process.stdout.write(`wrote ${out}\n`);
  }
}
