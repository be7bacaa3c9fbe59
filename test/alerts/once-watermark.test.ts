// `alerts --once` on a finished capture (issue 19): the data ends minutes ago,
// so the window ending now has none. The rule must be evaluated on the newest
// complete window, the one ending at the store's ingest watermark (rounded
// down to the rule's interval), with the breach in it found; the summary and
// a log line name that window. Run again: nothing new to evaluate, exit 3
// with the reason. An empty store: exit 3, "no data".
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const RULES = `
groups:
  - name: once
    interval: 10s
    rules:
      - name: UdsP99HighOnce
        template: { source: events, rollup: 10s, probe: uds, event: sendmsg, aggregate: p99, group_by: [host] }
        thresholds: { critical: 100000 }
`;

describe('alerts --once past the ingest watermark', () => {
  it('evaluates the window ending at the newest data, says so, and exits 3 when there is nothing left', () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2once-'));
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, RULES);
    const store = `chdb:${join(dir, 'store')}`;
    expect(runCli(['schema', 'apply', '--store', store]).code).toBe(0);
    // a capture that ended 3 minutes ago: 300 µs sendmsg for the 40 s before that
    const end = Math.floor((Date.now() - 180_000) / 1000) * 1000 + 500;
    const ins = runCli(['query', '--store', store, `INSERT INTO v2e.events (ts, host, probe, event, pid, tid, comm, value, weight, cpu, bytes)
      SELECT fromUnixTimestamp64Milli(toInt64(${end}) - toInt64(number * 100)), 'once-host', 'uds', 'sendmsg', 7, 7, 'v2broker', 300000, 1, 0, 64 FROM numbers(400)`]);
    expect(ins.code, ins.stderr).toBe(0);
    const wm = runCli(['query', '--store', store, '--format', 'json', 'SELECT toUnixTimestamp64Milli(max(max_ts)) AS t FROM v2e.ingest_watermark']);
    const dataEnd = Number(JSON.parse(wm.stdout.trim()).t);
    expect(dataEnd).toBe(end); // the watermark is the newest row

    const r = runCli(['alerts', '--once', '--rules', rules, '--store', store]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const summary = lines.pop();
    const windowEnd = Math.floor(dataEnd / 10_000) * 10_000;
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ rule: 'UdsP99HighOnce', basis: 'watermark', window_end: new Date(windowEnd).toISOString(), window_start: new Date(windowEnd - 10_000).toISOString(), rows: 1 });
    expect(lines[0].transitions.map((t: { to: string; labels: { host: string } }) => `${t.labels.host}:${t.to}`)).toEqual(['once-host:firing']);
    expect(summary).toMatchObject({
      rules: 1, evaluated: 1, errors: 0, firing: 1, data_end: new Date(dataEnd).toISOString(),
      evaluated_up_to_watermark: { rules: 1, window_start: new Date(windowEnd - 10_000).toISOString(), window_end: new Date(windowEnd).toISOString() },
    });
    expect(summary.reason).toBeUndefined();
    expect(r.stderr).toContain(`evaluated up to the store's ingest watermark`);
    expect(r.stderr).toContain(new Date(windowEnd).toISOString());

    // the same again: that window was evaluated (its cursor moved): nothing to do, exit 3, the reason said
    const again = runCli(['alerts', '--once', '--rules', rules, '--store', store]);
    expect(again.code, again.stderr).toBe(3);
    const s2 = JSON.parse(again.stdout.trim().split('\n').pop()!);
    expect(s2).toMatchObject({ evaluated: 0, data_end: new Date(dataEnd).toISOString() });
    expect(s2.reason).toBe(`data ends at ${new Date(dataEnd).toISOString()}; the windows up to it were already evaluated`);
    expect(again.stderr).toContain('nothing evaluated');
  });

  it('an empty store: exit 3, reason "no data"', () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2once-empty-'));
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, RULES);
    const r = runCli(['alerts', '--once', '--rules', rules, '--store', `chdb:${join(dir, 'store')}`]);
    expect(r.code, r.stderr).toBe(3);
    const s = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(s).toMatchObject({ evaluated: 0, data_end: null });
    expect(s.reason).toMatch(/^no data in the store/);
  });
});
