// The config file of collect/up (collector/ops/config.ts, cli/config.ts): a good
// file is accepted and normalized; an unknown field or a bad value is refused
// with the file, line, field path and value; `config check` exits 0 / 2; the
// collector refuses to start on a bad file; flags given on the command line
// override the file.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { formatIssue, loadConfig, parseConfig } from '../../collector/ops/config.js';
import { applyConfigFile, ConfigFileError, governorOrder } from '../../cli/config.js';
import { parseBurst, parseSample } from '../../cli/parse.js';
import { runCli, startCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'v2cfg-'));
const write = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

const GOOD = `# a complete file
probes:
  uds: { sample: 1000, comm: v2broker, min_value: 1ms }
  sched:
    sample: 100
    burst_rate: 5000
    burst_size: 8000
  blockio:
sink: chdb:/var/lib/v2probe/data
pid: 4242
comm: v2broker
cgroup: /sys/fs/cgroup/system.slice
duration: 90s
ring_bytes: 1048576
snapshot: 2s
metrics: 127.0.0.1:9435
metrics_top: 50
control: /run/v2probe/control.sock
control_token: 0123456789abcdef0123
budget: 0.5%
governor_priority: [blockio, sched]
`;

describe('config file: validation', () => {
  it('a good file is accepted and normalized', () => {
    const c = loadConfig(write('good.yaml', GOOD));
    expect(c).toEqual({
      probes: ['uds', 'sched', 'blockio'],
      sink: 'chdb:/var/lib/v2probe/data',
      pid: 4242,
      comm: 'v2broker',
      cgroup: '/sys/fs/cgroup/system.slice',
      durationMs: 90_000,
      ringBytes: 1 << 20,
      snapshotMs: 2000,
      metrics: '127.0.0.1:9435',
      metricsTop: 50,
      control: '/run/v2probe/control.sock',
      controlToken: '0123456789abcdef0123',
      budget: 0.5,
      governorPriority: ['blockio', 'sched'],
      perProbe: { uds: { sample: 1000, comm: 'v2broker', minValue: 1_000_000 }, sched: { sample: 100, burstRate: 5000, burstSize: 8000 } },
    });
  });

  it('accepts the short forms: a probe list or string, off, bare seconds, an empty file', () => {
    expect(parseConfig('probes: [uds, sched]\nmetrics: off\nbudget: off\nsnapshot: 3\n', 'f').config).toMatchObject({
      probes: ['uds', 'sched'],
      metrics: 'off',
      budget: 'off',
      snapshotMs: 3000,
    });
    expect(parseConfig('probes: "uds, blockio"\n', 'f').config?.probes).toEqual(['uds', 'blockio']);
    expect(parseConfig('', 'f')).toEqual({ config: { perProbe: {} }, issues: [] });
  });

  it('an unknown field is refused, naming the file, line, path', () => {
    const r = parseConfig('probes: [uds]\nsink: stdout\nsampel: 10\n', '/etc/v2probe.yaml');
    expect(r.config).toBeUndefined();
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0]).toMatchObject({ file: '/etc/v2probe.yaml', line: 3, col: 1, path: 'sampel' });
    expect(formatIssue(r.issues[0])).toMatch(/^\/etc\/v2probe\.yaml:3:1: sampel: unknown field; known fields: probes, sink/);
    // inside a probe section too
    const s = parseConfig('probes:\n  uds:\n    sample: 10\n    colour: red\n', 'f.yaml');
    expect(s.issues.map(formatIssue)).toEqual([expect.stringMatching(/^f\.yaml:4:5: probes\.uds\.colour: unknown field; a probe section knows: sample, pid, comm, min_value/)]);
  });

  it('a bad value is refused with its line, path and value; every error is reported', () => {
    const text = ['probes:', '  uds: { sample: 0 }', '  nope: {}', 'duration: soon', 'budget: 200', 'ring_bytes: 5000', 'pid: -3', 'sink: mysql://x', 'cgroup: /tmp/x', ''].join('\n');
    const lines = parseConfig(text, 'v2.yaml').issues.map(formatIssue);
    expect(lines).toEqual([
      'v2.yaml:2:18: probes.uds.sample = 0: should be 1..1000000000 (1-in-N; 1 = every event)',
      expect.stringMatching(/^v2\.yaml:3:3: probes\.nope = "nope": unknown probe; valid probes: uds, sched, blockio/),
      expect.stringMatching(/^v2\.yaml:4:11: duration = soon: is not a duration/),
      expect.stringMatching(/^v2\.yaml:5:9: budget = 200: should be a percentage of all CPUs in \(0, 100\]/),
      expect.stringMatching(/^v2\.yaml:6:13: ring_bytes = 5000: should be a power of two/),
      'v2.yaml:7:6: pid = -3: should be 1..4194304 (a process id)',
      expect.stringMatching(/^v2\.yaml:8:7: sink = mysql:\/\/x: store DSN 'mysql:\/\/x' is not understood/),
      'v2.yaml:9:9: cgroup = /tmp/x: should be a cgroup v2 directory under /sys/fs/cgroup',
    ]);
    expect(parseConfig('probes:\n  uds: { burst_size: 10 }\n', 'b.yaml').issues.map(formatIssue)).toEqual(['b.yaml:2:22: probes.uds.burst_size = 10: burst_size needs burst_rate']);
  });

  it('a YAML syntax error, a duplicate key, a non-map file and a missing file are errors too', () => {
    expect(parseConfig('probes: [uds\n', 'f').issues[0]).toMatchObject({ line: expect.any(Number), message: expect.stringMatching(/^YAML: /) });
    expect(parseConfig('sink: stdout\nsink: stdout\n', 'f').issues[0]).toMatchObject({ line: 2, message: expect.stringMatching(/YAML: .*unique/i) });
    expect(parseConfig('- uds\n', 'f').issues[0]).toMatchObject({ line: 1, message: expect.stringContaining('map of settings') });
    expect(() => loadConfig(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: .*cannot read: ENOENT/);
  });
});

/** The options of collect/up as cli/main.ts declares them (the parts the merge reads). */
function collectCommand() {
  const c = new Command('collect')
    .exitOverride()
    .option('--probes <list>', '', 'uds,sched')
    .option('--sink <sink>', '', 'chdb:./.v2probe/data')
    .option('--pid <pid>')
    .option('--comm <name>')
    .option('--duration <d>')
    .option('--sample <spec>')
    .option('--cgroup <path>')
    .option('--burst <spec>')
    .option('--ring-bytes <n>')
    .option('--snapshot <d>', '', '5s')
    .option('--metrics-top <n>', '', '20')
    .option('--control-token <t>')
    .option('--budget <percent>')
    .option('--metrics <host:port>', '', '127.0.0.1:9435')
    .option('--control <socket>')
    .option('--config <file>');
  return c;
}

describe('config file: flags override it', () => {
  const file = write('merge.yaml', GOOD);
  const merged = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const c = collectCommand();
    c.parse(['--config', file, ...argv], { from: 'user' });
    const o = c.opts<Record<string, string | undefined>>();
    const extra = applyConfigFile(o, (k) => c.getOptionValueSource(k), env);
    return { o, extra };
  };

  it('the file fills every setting the command line leaves at its default', () => {
    const { o, extra } = merged([]);
    expect(o).toMatchObject({
      probes: 'uds,sched,blockio',
      sink: 'chdb:/var/lib/v2probe/data',
      pid: '4242',
      comm: 'v2broker',
      duration: '90000ms',
      ringBytes: '1048576',
      snapshot: '2000ms',
      metrics: '127.0.0.1:9435',
      metricsTop: '50',
      control: '/run/v2probe/control.sock',
      controlToken: '0123456789abcdef0123',
      budget: '0.5',
      sample: 'uds=1000,sched=100',
      burst: 'sched=5000:8000',
      cgroup: '/sys/fs/cgroup/system.slice',
    });
    expect(extra.perProbe).toEqual({ uds: { comm: 'v2broker', minValue: 1_000_000 } });
    expect(governorOrder(extra.governorPriority, ['uds', 'sched', 'blockio', 'lock'])).toEqual(['blockio', 'sched', 'lock', 'uds']);
  });

  it('flags given on the command line win; --sample merges per probe', () => {
    const { o, extra } = merged(['--probes', 'uds', '--sink', 'stdout', '--snapshot', '1s', '--sample', 'uds=7', '--budget', 'off', '--comm', 'other', '--metrics-top', '20', '--burst', 'sched=10']);
    expect(o).toMatchObject({ probes: 'uds', sink: 'stdout', snapshot: '1s', budget: 'off', comm: 'other', metricsTop: '20', pid: '4242', duration: '90000ms' });
    expect(parseSample('--sample', o.sample!)).toEqual({ uds: 7, sched: 100 });
    expect(parseBurst('--burst', o.burst!)).toEqual({ sched: { rate: 10, size: undefined } });
    expect(extra.perProbe.uds).toEqual({ minValue: 1_000_000 }); // --comm applies to every probe
  });

  it('V2PROBE_CONTROL_TOKEN beats the file; --control-token beats both', () => {
    expect(merged([], { V2PROBE_CONTROL_TOKEN: 'e'.repeat(20) }).o.controlToken).toBeUndefined();
    expect(merged(['--control-token', 'f'.repeat(20)]).o.controlToken).toBe('f'.repeat(20));
  });

  it('a bad file is a usage error (exit 2) naming the file', () => {
    const bad = write('bad-merge.yaml', 'probes: [uds]\nduration: soon\n');
    const c = collectCommand();
    c.parse(['--config', bad], { from: 'user' });
    const o = c.opts<Record<string, string | undefined>>();
    expect(() => applyConfigFile(o, (k) => c.getOptionValueSource(k))).toThrow(ConfigFileError);
    expect(() => applyConfigFile(o, (k) => c.getOptionValueSource(k))).toThrow(/bad-merge\.yaml:2:11: duration = soon/);
  });
});

describe('v2probe config check / --config (the built CLI)', () => {
  it('config check: ok → exit 0', () => {
    const r = runCli(['config', 'check', write('cli-good.yaml', GOOD)]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok\n');
    expect(r.code).toBe(0);
  });

  it('config check: errors, one a line with file:line:col → exit 2', () => {
    const f = write('cli-bad.yaml', 'probes:\n  uds: { sample: 0 }\nbogus: 1\n');
    const r = runCli(['config', 'check', f]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `${f}:2:18: probes.uds.sample = 0: should be 1..1000000000 (1-in-N; 1 = every event)`,
      expect.stringMatching(new RegExp(`^${f}:3:1: bogus: unknown field`)),
    ]);
    expect(r.stdout).toBe('');
  });

  it('collect --config BAD refuses to start: exit 2, nothing attached', () => {
    const f = write('cli-bad2.yaml', 'probes: [uds]\nsink: stdout\nmetrics_top: 0\n');
    const r = runCli(['collect', '--config', f, '--duration', '1s']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${f}:3:14: metrics_top = 0: should be 1..10000`);
    expect(r.stderr).not.toContain('collecting');
    expect(r.stdout).toBe('');
  });

  const root = process.getuid?.() === 0;
  it.skipIf(!root)('collect --config: the file sets duration and sample, flags override probes and sink (needs root)', async () => {
    const f = write('cli-run.yaml', 'probes:\n  uds: { sample: 3 }\n  sched: {}\nsink: chdb:/nonexistent/never-used\nduration: 1500ms\n');
    const run = startCli(['collect', '--config', f, '--probes', 'uds', '--sink', 'stdout']);
    await run.ready;
    const code = await run.exited; // stops by itself: duration came from the file
    expect(code).toBe(0);
    const collecting = run
      .out()
      .stderr.split('\n')
      .filter((l) => l.includes('"msg":"collecting"'))
      .map((l) => JSON.parse(l));
    expect(collecting[0]).toMatchObject({ probes: ['uds'], sink: 'stdout' });
  });
});
