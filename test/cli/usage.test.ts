// Bad input at the command line: every case exits with the documented code
// (2 usage, 1 runtime) and a one-line message naming what was wrong; never a stack trace.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { USER_PROBES } from '../../schema/event.js';
import { SCHEMA_VERSION } from '../../schema/ddl.js';
import { runCli } from '../helpers/cli.js';

const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('v2probe CLI usage errors', () => {
  it('--help lists every probe', () => {
    const r = runCli(['--help']);
    expect(r.code).toBe(0);
    for (const p of USER_PROBES) expect(r.stdout).toContain(p);
  });

  it('unknown probe → exit 2 with the list of valid probes', () => {
    const r = runCli(['collect', '--probes', 'uds,nope', '--sink', 'stdout', '--duration', '1s']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown probe 'nope'");
    for (const p of USER_PROBES) expect(r.stderr).toContain(p);
    noStack(r.stderr);
  });

  it.each([
    [['collect', '--pid', 'abc'], '--pid'],
    [['collect', '--pid', '0'], '--pid'],
    [['collect', '--duration', 'soon'], '--duration'],
    [['collect', '--sample', 'uds=0'], '--sample'],
    [['collect', '--sample', 'bogus=3'], "unknown probe 'bogus'"],
    [['collect', '--comm', 'a-name-longer-than-15'], '--comm'],
    [['collect', '--unknown-flag'], 'unknown option'],
    [['collect', '--sample', 'uds=-3'], '--sample'],
    [['collect', '--sample', 'uds=ten'], '--sample'],
    [['collect', '--cgroup', '/nonexistent/cg'], '--cgroup'],
    [['collect', '--cgroup', '/tmp'], 'not a cgroup v2 directory'],
    [['collect', '--burst', 'uds=0'], '--burst'],
    [['collect', '--burst', 'nope=10'], "unknown probe 'nope'"],
    [['collect', '--metrics', 'localhost'], '--metrics'],
    [['collect', '--budget', '0'], '--budget'],
    [['query'], 'missing required argument'],
    [['query', '--format', 'xml', 'SELECT 1'], 'xml'],
  ])('%j → exit 2 naming %s', (args, needle) => {
    const r = runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(needle);
    noStack(r.stderr);
  });

  it('malformed store DSN → exit 2 naming it', () => {
    for (const dsn of ['chdb:', 'mysql://x', 'clickhouse://host:notaport/db']) {
      const r = runCli(['query', '--store', dsn, 'SELECT 1']);
      expect(r.code, dsn).toBe(2);
      expect(r.stderr).toContain('store DSN');
      noStack(r.stderr);
    }
  });

  it('unreachable ClickHouse server → exit 2 naming the DSN (password redacted)', () => {
    const r = runCli(['query', '--store', 'clickhouse://u:secret@127.0.0.1:1/v2e', 'SELECT 1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('clickhouse://u:***@127.0.0.1:1/v2e');
    expect(r.stderr).not.toContain('secret');
    noStack(r.stderr);
  });

  it('bad SQL → exit 1 with the engine message, no stack', () => {
    const dsn = `chdb:${mkdtempSync(join(tmpdir(), 'v2cli-'))}`;
    const r = runCli(['query', '--store', dsn, 'SELECT FROM WHERE (']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Syntax error/);
    noStack(r.stderr);
  });

  it('query prints table, json and csv', () => {
    const dsn = `chdb:${mkdtempSync(join(tmpdir(), 'v2cli-'))}`;
    expect(runCli(['query', '--store', dsn, '--format', 'csv', 'SELECT 1 AS a, 2 AS b']).stdout).toBe('"a","b"\n1,2\n');
    expect(JSON.parse(runCli(['query', '--store', dsn, '--format', 'json', 'SELECT 1 AS a']).stdout)).toEqual({ a: 1 });
    expect(runCli(['query', '--store', dsn, 'SELECT 1 AS a']).stdout).toMatch(/┌─a─┐/);
  });

  it('schema apply is idempotent from the CLI', () => {
    const dsn = `chdb:${mkdtempSync(join(tmpdir(), 'v2cli-'))}`;
    const a = runCli(['schema', 'apply', '--store', dsn]);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(new RegExp(`schema version ${SCHEMA_VERSION} applied .* \\(was empty\\)`));
    const b = runCli(['schema', 'apply', '--store', dsn]);
    expect(b.stdout).toContain(`(was ${SCHEMA_VERSION})`);
  });
});
