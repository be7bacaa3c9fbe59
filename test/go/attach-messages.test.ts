// The uprobe attacher's "no target" messages name flags `v2probe collect` has
// (they once said --binary/--pid; the flags are --go-binary/--go-pid).
import { describe, expect, it } from 'vitest';
import type { Probe as NativeProbe } from '../../native/index.js';
import { attachUprobeResults } from '../../uprobes/attach.js';
import { runCli } from '../helpers/cli.js';

const probe = { attachUprobes: async () => [], detach: () => {} } as unknown as NativeProbe;

async function message(family: string): Promise<string> {
  try {
    await attachUprobeResults(probe, family, { label: 'test', programs: [], tracepoints: [], needsBtf: false, kind: 'uprobe', uprobes: [] }, {});
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`${family}: attached without a target`);
}

describe('uprobe attach: messages name real flags', () => {
  it('no target: every flag named is an option of collect', async () => {
    const help = runCli(['collect', '--help']);
    expect(help.code).toBe(0);
    const options = new Set(help.stdout.match(/--[a-z][a-z-]*/g));
    for (const family of ['go_gc', 'go_sched', 'go_malloc', 'app']) {
      const m = await message(family);
      const flags = m.match(/--[a-z][a-z-]*/g) ?? [];
      expect(flags.length, m).toBeGreaterThan(0);
      for (const f of flags) expect(options, `${m}: ${f}`).toContain(f);
    }
  });
});
