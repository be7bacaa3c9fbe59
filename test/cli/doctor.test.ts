// doctor reports what this kernel allows, checked against the machine itself:
// kprobes (CONFIG_KPROBES) detection, BTF, tracefs, and per-probe attach plans,
// including a machine view where the syscall tracepoints are missing.
import { existsSync } from 'node:fs';
import { buildGoFixture, goTool } from '../go/go-fixtures.js';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, runCli } from '../helpers/cli.js';
import { isRoot } from '../helpers/probes.js';

interface Report {
  checks: Array<{ name: string; ok: boolean; detail: string }>;
  probes: Array<{ probe: string; ok: boolean; attach?: string; kind?: string; why?: string; tried: Array<{ plan: string; ok: boolean; why?: string }> }>;
}

describe.skipIf(!isRoot)('v2probe doctor', () => {
  it('reports kernel facts as the machine has them, and an attach plan per probe', () => {
    const r = runCli(['doctor', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as Report;
    const check = (n: string) => rep.checks.find((c) => c.name === n)!;
    expect(check('btf').ok).toBe(existsSync('/sys/kernel/btf/vmlinux'));
    expect(check('tracefs').ok).toBe(true); // doctor mounts it when it can
    // kprobes: the answer must match the kernel (this machine: CONFIG_KPROBES off)
    expect(check('kprobes').ok).toBe(existsSync('/sys/kernel/tracing/kprobe_events'));
    if (!check('kprobes').ok) expect(check('kprobes').detail).toMatch(/not available/);
    for (const p of ['uds', 'sched', 'blockio']) {
      const pr = rep.probes.find((x) => x.probe === p)!;
      expect(pr.ok, `${p}: ${pr.why}`).toBe(true);
    }
    expect(rep.probes.find((x) => x.probe === 'sched')!.kind).toBe('tp_btf');
    expect(rep.probes.find((x) => x.probe === 'uds')!.kind).toBe('tracepoint');
    // uprobe families have no target of their own: doctor attaches them on a real binary,
    // and its verdict must match the kernel's uprobe PMU (it said EOPNOTSUPP when it auto-attached them)
    const uprobes = existsSync('/sys/bus/event_source/devices/uprobe/type');
    for (const p of ['go_gc', 'go_sched', 'go_malloc', 'app']) {
      const pr = rep.probes.find((x) => x.probe === p)!;
      expect(pr.ok, `${p}: ${pr.why}`).toBe(uprobes);
      if (uprobes) expect(pr.kind).toBe('uprobe');
    }
    // the human format names each probe and its attach point
    const text = runCli(['doctor']).stdout;
    expect(text).toMatch(/ok\s+sched\s+tp_btf sched_switch/);
  });

  it("each family's verdict matches whether `collect --probes FAMILY` attaches here", () => {
    const rep = JSON.parse(runCli(['doctor', '--json']).stdout) as Report;
    const gcheavy = goTool() ? buildGoFixture('gcheavy') : undefined;
    const mismatches: string[] = [];
    for (const pr of rep.probes) {
      // uprobe families need a target: a Go binary built by setup (app: one of its symbols)
      const uprobe = ['go_gc', 'go_sched', 'go_malloc', 'app'].includes(pr.probe);
      if (uprobe && !gcheavy) continue; // no Go toolchain: the uprobe families are checked against the PMU above
      const target = !uprobe ? [] : pr.probe === 'app' ? ['--uprobe', `${gcheavy}:main.main`] : ['--go-binary', gcheavy!];
      const r = runCli(['collect', '--probes', pr.probe, ...target, '--duration', '1s', '--sink', 'stdout'], { timeout: 90_000 });
      const attached = r.code === 0;
      if (attached !== pr.ok) mismatches.push(`${pr.probe}: doctor ${pr.ok ? 'ok' : `FAIL (${pr.why})`}, collect exit ${r.code}: ${r.stderr.split('\n').filter((l) => /error|fail/i.test(l)).slice(0, 2).join(' | ')}`);
    }
    expect(mismatches).toEqual([]);
  }, 600_000);

  it('says why a probe gets no attach point (syscall tracepoints missing) and keeps the others', () => {
    const script = `mount -t tmpfs none /sys/kernel/tracing && mkdir /sys/kernel/tracing/events && exec "$@"`;
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', process.execPath, BIN, 'doctor', '--json'], { encoding: 'utf8', cwd: ROOT });
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as Report;
    const uds = rep.probes.find((x) => x.probe === 'uds')!;
    expect(uds.ok).toBe(false);
    expect(uds.why).toMatch(/tracepoints missing: syscalls\/sys_enter_sendmsg/);
    expect(uds.why).toMatch(/kprobes not available|kprobe/);
    expect(rep.probes.find((x) => x.probe === 'sched')!.ok).toBe(true);
  });
});
