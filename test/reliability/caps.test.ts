// The collector holds only the capabilities it needs after attaching, on every
// thread (SECURITY.md "Capabilities"). Real processes, real /proc, no mocks:
//   - the addon's dropCapabilities in a child node process: every thread
//     (libuv pool, V8 platform, Node's inspector thread that blocks every
//     signal, worker threads created and exiting during the drop) ends with
//     exactly the kept set; privileged operations fail afterwards; bad
//     arguments are TypeErrors; the signal disposition is restored; a thread
//     stopped by a ptrace tracer makes the drop fail with its tid, and the
//     process survives the signal that thread never took;
//   - `v2probe collect` as root: CapEff/CapPrm/CapBnd of every thread are the
//     kept set, events flow, `ctl disable` + `ctl enable` re-attaches and
//     events flow again, /metrics and `ctl caps` show the held set;
//   - the chDB store (root-owned files, no CAP_DAC_OVERRIDE) takes rows after the drop;
//   - --keep-capabilities and `keep_capabilities: true` leave the capabilities alone;
//   - the kept set per configuration (capabilitiesNeeded).
// The workload is a private copy of uds_pingpong (privateFixture: a comm of its own):
// with `--comm uds_pingpong` the same fixture run by another checkout's suite at
// the same time passed the filter too (seen: drops.test.ts counted 208,833
// calls where its own fixtures made 120,000).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { capabilitiesNeeded, capMask, threadCaps } from '../../collector/ops/capabilities.js';
import { addonPath } from '../../native/index.js';
import { ROOT, runCli, startCli } from '../helpers/cli.js';
import { isRoot, privateFixture, runFixture, sleep } from '../helpers/probes.js';

const hex = (m: bigint) => m.toString(16).padStart(16, '0');
const KEPT_ROOT = capMask(['CAP_BPF', 'CAP_PERFMON']);
const SYS_ADMIN = 1n << 21n;
const rowsOf = (stdout: string, pid: number) =>
  stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((r) => r.pid === pid);
const ownStatus = () => readFileSync('/proc/self/status', 'utf8');
const ownCapEff = () => BigInt(`0x${/^CapEff:\s*(\S+)/m.exec(ownStatus())![1]}`);
const ownNnp = () => /^NoNewPrivs:\s*1/m.test(ownStatus());

/** Every thread's sets, as plain hex strings (one line per distinct combination in failures). */
function threadsOf(pid: number) {
  return threadCaps(pid).map((t) => ({ tid: t.tid, name: t.name, eff: hex(t.eff), prm: hex(t.prm), bnd: hex(t.bnd), inh: hex(t.inh), amb: hex(t.amb), nnp: t.noNewPrivs }));
}

const CHILD = String.raw`
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import fs from 'node:fs';
const require = createRequire(import.meta.url);
const addon = require(process.argv[2]);
const dir = process.argv[3];
const status = (tid) => fs.readFileSync('/proc/self/task/' + tid + '/status', 'utf8');
const field = (s, k) => new RegExp('^' + k + ':\\s*(\\S+)', 'm').exec(s)?.[1];
const threads = () => fs.readdirSync('/proc/self/task').map((tid) => {
  try { const s = status(tid); return { tid: +tid, name: field(s, 'Name'), eff: field(s, 'CapEff'), prm: field(s, 'CapPrm'), bnd: field(s, 'CapBnd'), inh: field(s, 'CapInh'), amb: field(s, 'CapAmb'), nnp: field(s, 'NoNewPrivs'), blk: field(s, 'SigBlk') }; } catch { return undefined; }
}).filter(Boolean);
const sigCgt = () => field(fs.readFileSync('/proc/self/status', 'utf8'), 'SigCgt');
const out = {};

// libuv pool threads
await Promise.all([1, 2, 3, 4].map(() => fs.promises.readFile('/proc/self/status')));
// a worker that keeps creating short-lived workers: threads appear and exit during the drop
const churn = new Worker(` + '`' + String.raw`
  const { Worker, parentPort } = require('node:worker_threads');
  let n = 0, stop = false;
  parentPort.on('message', () => { stop = true; parentPort.postMessage(n); });
  const spawn = () => { if (stop) return; const w = new Worker('setTimeout(() => {}, 30)', { eval: true }); n++; w.on('exit', spawn); };
  spawn(); spawn();
  parentPort.postMessage('running');
` + '`' + String.raw`, { eval: true });
await new Promise((r) => churn.once('message', r));
await new Promise((r) => setTimeout(r, 200));

// files: one of root (still writable without CAP_DAC_OVERRIDE), one of nobody's (not any more)
fs.writeFileSync(dir + '/root-file', 'x', { mode: 0o644 });
fs.writeFileSync(dir + '/nobody-file', 'x', { mode: 0o644 });
fs.chownSync(dir + '/nobody-file', 65534, 65534);

out.before = threads();
out.sigCgtBefore = sigCgt();
out.typeErrors = [() => addon.dropCapabilities('CAP_BPF'), () => addon.dropCapabilities(['CAP_NOPE']), () => addon.dropCapabilities([64]), () => addon.dropCapabilities([], { timeoutMs: 0 })]
  .map((f) => { try { f(); return 'no error'; } catch (e) { return e.name + ': ' + e.message; } });
out.report = addon.dropCapabilities(['CAP_BPF', 'perfmon', 19]);
out.after = threads();
out.sigCgtAfter = sigCgt();
// more drops while workers come and go (threads exit between a scan and the signal, or appear during one)
out.repeats = [];
for (let i = 0; i < 20; i++) {
  const r = addon.dropCapabilities(['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_PTRACE']);
  out.repeats.push({ rounds: r.rounds, threads: r.threads.length, bad: r.threads.filter((t) => !t.ok).length });
  await new Promise((r) => setTimeout(r, 5));
}
churn.postMessage('stop');
out.churned = await new Promise((r) => churn.once('message', r));
await churn.terminate();

// a thread created after the drop inherits the kept set
const late = new Worker("require('node:worker_threads').parentPort.postMessage(require('node:fs').readFileSync('/proc/thread-self/status', 'utf8'))", { eval: true });
const lateStatus = await new Promise((r) => late.once('message', r));
out.late = { eff: field(lateStatus, 'CapEff'), prm: field(lateStatus, 'CapPrm'), bnd: field(lateStatus, 'CapBnd'), nnp: field(lateStatus, 'NoNewPrivs') };
await late.terminate();

const errCode = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };
out.chown = errCode(() => fs.chownSync(dir + '/root-file', 65534, 65534));
out.writeRoot = errCode(() => fs.appendFileSync(dir + '/root-file', 'y'));
out.writeNobody = errCode(() => fs.appendFileSync(dir + '/nobody-file', 'y'));
out.setgroups = errCode(() => process.setgroups([0]));

// again, with less: still every thread
out.report2 = addon.dropCapabilities(['CAP_BPF']);
out.after2 = threads();
process.stdout.write(JSON.stringify(out));
`;

/** A ptrace tracer (python ctypes) that stops one thread: PTRACE_SEIZE + PTRACE_INTERRUPT, detaches on a line of stdin. */
const TRACER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
tid = int(sys.argv[1])
if libc.ptrace(0x4206, tid, None, None) != 0: sys.exit('PTRACE_SEIZE: errno %d' % ctypes.get_errno())
if libc.ptrace(0x4207, tid, None, None) != 0: sys.exit('PTRACE_INTERRUPT: errno %d' % ctypes.get_errno())
_, status = os.waitpid(tid, 0x40000000)
print('stopped %x' % status, flush=True)
sys.stdin.readline()
if libc.ptrace(17, tid, None, None) != 0: sys.exit('PTRACE_DETACH: errno %d' % ctypes.get_errno())
print('detached', flush=True)
`;

const STUCK_CHILD = String.raw`
import { createRequire } from 'node:module';
import fs from 'node:fs';
import readline from 'node:readline';
const require = createRequire(import.meta.url);
const addon = require(process.argv[2]);
await Promise.all([1, 2, 3, 4].map(() => fs.promises.readFile('/proc/self/status')));
const input = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const sigCgt = () => /^SigCgt:\s*(\S+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1];
const before = sigCgt();
const tids = fs.readdirSync('/proc/self/task').map(Number).filter((t) => t !== process.pid).sort((a, b) => a - b);
console.log(JSON.stringify({ tid: tids.at(-1) }));
await input.next();
let res;
try {
  addon.dropCapabilities(['CAP_BPF'], { timeoutMs: 300 });
  res = { threw: false };
} catch (e) {
  res = { threw: true, message: e.message, code: e.code, errno: e.errno, tid: e.tid, bad: e.report.threads.filter((t) => !t.ok), okThreads: e.report.threads.filter((t) => t.ok).length };
}
console.log(JSON.stringify(res));
await input.next();
await new Promise((r) => setTimeout(r, 300));
console.log(JSON.stringify({ alive: true, sigCgtSame: sigCgt() === before }));
process.exit(0);
`;

/** Lines of a stream, one per call ('<end>' once it has ended). */
function lines(stream: NodeJS.ReadableStream): () => Promise<string> {
  let buf = '';
  let ended = false;
  const waiting: Array<(l: string) => void> = [];
  const ready: string[] = [];
  stream.setEncoding('utf8');
  stream.on('end', () => {
    ended = true;
    for (const w of waiting.splice(0)) w('<end>');
  });
  stream.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(l);
      else ready.push(l);
    }
  });
  return () => (ready.length ? Promise.resolve(ready.shift()!) : ended ? Promise.resolve('<end>') : new Promise((r) => waiting.push(r)));
}

describe.skipIf(!isRoot)('capabilities: the addon drops them on every thread', () => {
  it('a child node process: every thread ends with exactly the kept set, then privileged operations fail', () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2caps-'));
    const script = join(dir, 'child.mjs');
    writeFileSync(script, CHILD);
    const r = spawnSync(process.execPath, [script, addonPath(), dir], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const kept = hex(capMask(['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_PTRACE']));

    expect(out.typeErrors).toEqual([
      'TypeError: expected keep to be an array of capability names or numbers',
      "TypeError: keep[0]: unknown capability 'CAP_NOPE'",
      'TypeError: expected keep[0] to be an integer from 0 to 63, got 64',
      'TypeError: expected opts.timeoutMs to be an integer from 1 to 600000, got 0',
    ]);

    // a thread that blocks every ordinary signal (SIGRTMIN+6 = 40 among them) was there and was reached
    const blocksAll = out.before.filter((t: { blk: string }) => (BigInt(`0x${t.blk}`) & (1n << 39n)) !== 0n);
    expect(blocksAll.length).toBeGreaterThan(0);
    const rep = out.report;
    expect(rep.kept).toEqual(['CAP_SYS_PTRACE', 'CAP_PERFMON', 'CAP_BPF']);
    expect(rep.keptMask).toBe(kept);
    expect(rep.dropped).toContain('CAP_SYS_ADMIN');
    expect(rep.boundingDropped).toBe(true);
    expect(rep.noNewPrivs).toBe(true);
    expect(rep.signal).toBe(32);
    expect(rep.rounds).toBeGreaterThanOrEqual(1);
    expect(rep.threads.length).toBeGreaterThanOrEqual(10);
    expect(rep.threads.filter((t: { ok: boolean }) => !t.ok)).toEqual([]);
    expect(new Set(rep.threads.map((t: { via: string }) => t.via))).toContain('signal');
    expect(rep.threads.filter((t: { via: string }) => t.via === 'self')).toHaveLength(1);
    for (const t of blocksAll) if (out.after.some((a: { tid: number }) => a.tid === t.tid)) expect(rep.threads.map((x: { tid: number }) => x.tid)).toContain(t.tid);

    // /proc, read after the call: every thread, nothing more than the kept set anywhere
    const want = { eff: kept, prm: kept, bnd: kept, inh: hex(0n), amb: hex(0n), nnp: '1' };
    const bad = out.after.filter((t: Record<string, string>) => t.eff !== want.eff || t.prm !== want.prm || t.bnd !== want.bnd || t.inh !== want.inh || t.amb !== want.amb || t.nnp !== want.nnp);
    expect(bad).toEqual([]);
    expect(out.after.length).toBeGreaterThanOrEqual(10);
    expect(out.churned).toBeGreaterThan(2); // workers came and went around the drops
    expect(out.repeats.filter((x: { bad: number }) => x.bad > 0)).toEqual([]);
    expect(out.late).toEqual({ eff: kept, prm: kept, bnd: kept, nnp: '1' });
    // the handler of signal 32 was removed again
    expect(out.sigCgtAfter).toBe(out.sigCgtBefore);

    // without CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_SETGID; root's own files stay writable
    expect(out.chown).toBe('EPERM');
    expect(out.writeRoot).toBe('ok');
    expect(out.writeNobody).toBe('EACCES');
    expect(out.setgroups).toBe('EPERM');

    // a second drop narrows it further (no CAP_SETPCAP any more: the bounding set stays)
    const bpf = hex(capMask(['CAP_BPF']));
    expect(out.report2.kept).toEqual(['CAP_BPF']);
    expect(out.report2.boundingDropped).toBe(false);
    expect(out.after2.filter((t: Record<string, string>) => t.eff !== bpf || t.prm !== bpf)).toEqual([]);
  }, 90_000);

  it('a thread that cannot answer (ptrace-stopped) fails the drop with its tid and ETIMEDOUT; the process survives the late signal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2caps-'));
    const script = join(dir, 'stuck.mjs');
    writeFileSync(script, STUCK_CHILD);
    const child = spawn(process.execPath, [script, addonPath()], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdin.on('error', () => {}); // it may be gone when a check fails
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    const childLine = lines(child.stdout);
    let t: ReturnType<typeof spawn> | undefined;
    try {
      const { tid } = JSON.parse(await childLine());
      t = spawn('python3', ['-c', TRACER, String(tid)], { stdio: ['pipe', 'pipe', 'pipe'] });
      let terr = '';
      t.stderr!.on('data', (d) => (terr += d));
      const tracerLine = lines(t.stdout!);
      expect(await tracerLine(), terr).toMatch(/^stopped/);
      child.stdin.write('go\n');
      const res = JSON.parse(await childLine());
      expect(res).toMatchObject({ threw: true, code: 'ETIMEDOUT', tid });
      expect(res.message).toMatch(new RegExp(`^failed to drop capabilities on thread ${tid} \\(.*\\): it did not answer signal 32 within 300 ms`));
      expect(res.message).toMatch(/beyond the kept set: .*CAP_SYS_ADMIN.*; the process is left partly privileged$/);
      expect(res.bad).toEqual([expect.objectContaining({ tid, ok: false, step: 'signal', code: 'ETIMEDOUT' })]);
      expect(res.okThreads).toBeGreaterThanOrEqual(5); // every other thread did drop
      t.stdin!.write('\n');
      expect(await tracerLine()).toBe('detached');
      // the queued signal 32 was discarded when the old disposition (SIG_DFL: terminate) came back
      child.stdin.write('check\n');
      const last = await childLine();
      expect(last, `the child after the detach: ${err}`).toBe(JSON.stringify({ alive: true, sigCgtSame: true }));
      expect(await exited, err).toBe(0);
    } finally {
      t?.kill();
      child.kill('SIGKILL');
    }
  }, 60_000);
});

describe.skipIf(!isRoot)('capabilities: the running collector', () => {
  it('collect: every thread holds exactly CAP_BPF + CAP_PERFMON after attaching; events flow; ctl disable + enable re-attaches', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2caps-'));
    const sock = join(dir, 'control.sock');
    const port = 20000 + Math.floor(Math.random() * 20000);
    const fixture = privateFixture('uds_pingpong', 'caps');
    onTestFinished(fixture.remove);
    const run = startCli(['collect', '--probes', 'uds,sched', '--comm', fixture.comm, '--sample', 'uds=1', '--sink', 'stdout', '--control', sock, '--metrics', `127.0.0.1:${port}`, '--budget', '50']);
    await run.ready;
    try {
      const pid = run.child.pid!;
      const log = run.out().stderr;
      const dropped = log.split('\n').find((l) => l.includes('capabilities on every thread; kept'));
      expect(dropped, log).toBeDefined();
      const d = JSON.parse(dropped!);
      expect(d.kept).toEqual(['CAP_PERFMON', 'CAP_BPF']);
      expect(d.dropped).toEqual(expect.arrayContaining(['CAP_SYS_ADMIN', 'CAP_DAC_OVERRIDE', 'CAP_NET_ADMIN', 'CAP_SETUID', 'CAP_KILL', 'CAP_SYS_MODULE']));
      expect(d.boundingDropped).toBe(true);

      const exact = (when: string) => {
        const threads = threadsOf(pid);
        expect(threads.length, when).toBeGreaterThanOrEqual(5);
        const k = hex(KEPT_ROOT);
        const bad = threads.filter((t) => t.eff !== k || t.prm !== k || t.bnd !== k || t.inh !== hex(0n) || t.amb !== hex(0n) || !t.nnp);
        expect(bad, when).toEqual([]);
        for (const t of threads) expect(BigInt(`0x${t.bnd}`) & SYS_ADMIN, when).toBe(0n);
      };
      exact('after attach');

      // events flow
      const a = await runFixture<{ client_pid: number; client_recv: number; client_send: number }>(fixture.path, ['-n', '100', '-d', '50', '-m', 'sendmsg']);
      await sleep(1500);
      expect(rowsOf(run.out().stdout, a.client_pid).length).toBeGreaterThanOrEqual(a.client_recv);

      // /metrics and the control API show the held set
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/^v2probe_capability_held\{capability="CAP_BPF"\} 1$/m);
      expect(metrics).toMatch(/^v2probe_capability_held\{capability="CAP_PERFMON"\} 1$/m);
      expect(metrics.match(/^v2probe_capability_held\{/gm)).toHaveLength(2);
      expect(metrics).toMatch(/^v2probe_capabilities_dropped 1$/m);
      const ctl = (...args: string[]) => runCli(['ctl', '--socket', sock, ...args]);
      const caps = ctl('caps');
      expect(caps.code, caps.stderr).toBe(0);
      expect(JSON.parse(caps.stdout)).toMatchObject({ mode: 'dropped', held: ['CAP_PERFMON', 'CAP_BPF'], threadsOverKept: 0, noNewPrivs: true });

      // runtime re-attach with only the kept set: a tracepoint family (uds) and a tp_btf one (sched)
      for (const p of ['uds', 'sched']) {
        const off = ctl('disable', p);
        expect(off.code, off.stderr).toBe(0);
        expect(JSON.parse(off.stdout).state).toBe('stopped');
        const on = ctl('enable', p);
        expect(on.code, on.stderr).toBe(0);
        expect(JSON.parse(on.stdout)).toMatchObject({ probe: p, state: 'running', attachErrors: [] });
      }
      const b = await runFixture<{ client_pid: number; client_recv: number; client_send: number }>(fixture.path, ['-n', '100', '-d', '50', '-m', 'sendmsg']);
      await sleep(1500);
      expect(rowsOf(run.out().stdout, b.client_pid).length).toBeGreaterThanOrEqual(b.client_recv);
      exact('after ctl enable (new poll threads)');
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exited).toBe(0);
    expect(run.out().stderr).not.toMatch(/"level":50/);
  }, 120_000);

  it('a chDB store (root-owned files, no CAP_DAC_OVERRIDE) takes rows after the drop', () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2caps-'));
    const store = `chdb:${join(dir, 'data')}`;
    const r = runCli(['collect', '--probes', 'sched', '--sink', store, '--duration', '4s', '--snapshot', '1s']);
    expect(r.code, r.stderr).toBe(0);
    const line = r.stderr.split('\n').find((l) => l.includes('capabilities on every thread; kept'));
    expect(line, r.stderr).toBeDefined();
    const d = JSON.parse(line!);
    expect(d.dropped).toContain('CAP_DAC_OVERRIDE');
    const droppedAt = d.time as number;
    const q = runCli(['query', '--store', store, '--format', 'json',
      `SELECT (SELECT count() FROM v2e.events WHERE toUnixTimestamp64Milli(ts) > ${droppedAt}) AS events, (SELECT count() FROM v2e.counters WHERE toUnixTimestamp64Milli(ts) > ${droppedAt}) AS counters`]);
    expect(q.code, q.stderr).toBe(0);
    const row = JSON.parse(q.stdout.trim().split('\n')[0]);
    expect(Number(row.events)).toBeGreaterThan(0);
    expect(Number(row.counters)).toBeGreaterThan(0);
  }, 120_000);

  it('--keep-capabilities and keep_capabilities: true leave every capability alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2caps-'));
    const cfg = join(dir, 'v2probe.yaml');
    writeFileSync(cfg, 'probes: [sched]\nkeep_capabilities: true\n');
    for (const args of [['--probes', 'sched', '--keep-capabilities'], ['--config', cfg]]) {
      const run = startCli(['collect', '--sink', 'stdout', ...args]);
      await run.ready;
      try {
        const threads = threadsOf(run.child.pid!);
        expect(threads.length).toBeGreaterThanOrEqual(5);
        const mine = hex(ownCapEff());
        expect(threads.filter((t) => t.eff !== mine || t.prm !== mine || t.nnp !== ownNnp()), args.join(' ')).toEqual([]);
        expect(run.out().stderr).toContain('keeping every capability the process started with (--keep-capabilities)');
        expect(run.out().stderr).not.toContain('capabilities on every thread; kept');
      } finally {
        run.child.kill('SIGTERM');
      }
      expect(await run.exited).toBe(0);
    }
  }, 120_000);
});

describe('capabilities: the kept set', () => {
  const k = (o: Parameters<typeof capabilitiesNeeded>[0]) => Object.keys(capabilitiesNeeded(o)).sort();
  it('is the eBPF pair for root, plus file and ptrace access only for uprobe targets, plus tracefs access for a non-root user', () => {
    expect(k({ uid: 0, kernel: { major: 6, minor: 18 } })).toEqual(['CAP_BPF', 'CAP_PERFMON']);
    expect(k({ uid: 0, binaries: true, kernel: { major: 6, minor: 1 } })).toEqual(['CAP_BPF', 'CAP_DAC_READ_SEARCH', 'CAP_PERFMON']);
    expect(k({ uid: 0, processes: true, kernel: { major: 6, minor: 1 } })).toEqual(['CAP_BPF', 'CAP_DAC_READ_SEARCH', 'CAP_PERFMON', 'CAP_SYS_PTRACE']);
    expect(k({ uid: 998, kernel: { major: 6, minor: 1 } })).toEqual(['CAP_BPF', 'CAP_DAC_READ_SEARCH', 'CAP_PERFMON']);
    expect(k({ uid: 0, kernel: { major: 5, minor: 10 } })).toEqual(['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_RESOURCE']);
    expect(k({ uid: 0, kernel: { major: 5, minor: 4 } })).toEqual(['CAP_SYS_ADMIN', 'CAP_SYS_RESOURCE']);
    for (const why of Object.values(capabilitiesNeeded({ uid: 998, processes: true }))) expect(why.length).toBeGreaterThan(20);
  });

  it('the systemd unit\'s set covers what a non-root collector keeps', () => {
    const unit = readFileSync(join(ROOT, 'packaging/v2probe.service'), 'utf8');
    const bounding = /^CapabilityBoundingSet=(.*)$/m.exec(unit)![1].split(/\s+/);
    for (const c of Object.keys(capabilitiesNeeded({ uid: 998, kernel: { major: 6, minor: 1 } }))) expect(bounding).toContain(c);
    expect(readdirSync(join(ROOT, 'native/src'))).toContain('caps.cc');
  });
});
