// packaging/: the systemd unit is a valid unit (systemd-analyze verify where it
// exists, an INI parse always) running `v2probe up --config …` with the eBPF
// capabilities and no more; the example config passes `config check`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../collector/ops/config.js';
import { ROOT } from '../helpers/cli.js';

const UNIT = resolve(ROOT, 'packaging/v2probe.service');
const text = readFileSync(UNIT, 'utf8');

/** systemd's INI dialect: [Section], Key=Value (keys may repeat), # and ; comments, no continuation lines used. */
function parseUnit(src: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  src.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) return;
    const sec = /^\[([A-Za-z]+)\]$/.exec(line);
    if (sec) {
      section = new Map();
      out.set(sec[1], section);
      return;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!kv || !section) throw new Error(`line ${i + 1}: not a Key=Value inside a section: ${raw}`);
    if (kv[2].endsWith('\\')) throw new Error(`line ${i + 1}: continuation lines are not expected`);
    section.set(kv[1], [...(section.get(kv[1]) ?? []), kv[2]]);
  });
  return out;
}

describe('packaging/v2probe.service', () => {
  const unit = parseUnit(text);
  const svc = unit.get('Service')!;
  const one = (k: string) => svc.get(k)?.at(-1);

  it('is an INI unit with [Unit], [Service], [Install]', () => {
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(unit.get('Install')!.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('runs `v2probe up` with the config file', () => {
    expect(one('ExecStart')).toMatch(/\bbin\/v2probe\.js up --config \/etc\/v2probe\/v2probe\.yaml$/);
    // the same V8 heap bound as npm start (the memory test runs the collector with it)
    const heap = /--max-old-space-size=\d+/.exec(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start)![0];
    expect(one('ExecStart')).toContain(` ${heap} `);
    expect(one('RestartPreventExitStatus')).toBe('2'); // a bad config is not retried
  });

  it('grants CAP_BPF and CAP_PERFMON (+ tracefs read), not CAP_SYS_ADMIN, and explains each', () => {
    for (const k of ['AmbientCapabilities', 'CapabilityBoundingSet']) {
      const caps = one(k)!.split(/\s+/);
      expect(caps).toContain('CAP_BPF');
      expect(caps).toContain('CAP_PERFMON');
      expect(caps).not.toContain('CAP_SYS_ADMIN');
      expect(caps).not.toContain('CAP_SYS_RESOURCE');
    }
    // the comments say when the others are needed
    expect(text).toMatch(/CAP_SYS_ADMIN is NOT granted[\s\S]*kernels < 5\.8/);
    expect(text).toMatch(/CAP_SYS_RESOURCE is NOT granted[\s\S]*kernels < 5\.11/);
    expect(one('LimitMEMLOCK')).toBe('infinity');
  });

  it('is sandboxed where BPF allows, and not where it would break', () => {
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('DynamicUser')).toBe('yes');
    expect(svc.has('MemoryDenyWriteExecute')).toBe(false); // V8's JIT
    expect(svc.has('ProtectKernelTunables')).toBe(false); // /sys/kernel/{btf,tracing}
    expect(svc.has('SystemCallFilter')).toBe(false); // bpf(2), perf_event_open(2)
    // tracefs and bpf_stats set up with full privileges before the unprivileged start
    expect(svc.get('ExecStartPre')!.every((c) => c.startsWith('+'))).toBe(true);
  });

  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  it.skipIf(analyze.status !== 0)(`systemd-analyze verify is clean${analyze.status !== 0 ? ' (skipped: systemd-analyze not installed)' : ''}`, () => {
    // verify checks that ExecStart's program exists: point it at this node
    const dir = mkdtempSync(join(tmpdir(), 'v2unit-'));
    const copy = join(dir, 'v2probe.service');
    writeFileSync(copy, text.replace('/usr/bin/node', process.execPath));
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    const ours = r.stderr.split('\n').filter((l) => l.includes('v2probe.service'));
    expect(ours).toEqual([]); // unknown keys and bad values are warnings on stderr
    expect(r.status).toBe(0);
  });
});

describe('packaging/v2probe.yaml', () => {
  it('passes config check', () => {
    const c = loadConfig(resolve(ROOT, 'packaging/v2probe.yaml'));
    expect(c.probes).toEqual(['uds', 'sched', 'blockio']);
    expect(c.sink).toBe('chdb:/var/lib/v2probe/data'); // the unit's StateDirectory
    expect(c.control).toBe('/run/v2probe/control.sock'); // the unit's RuntimeDirectory
  });
});
