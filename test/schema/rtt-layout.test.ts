// The rtt family's record (bpf/rtt.bpf.h struct v2_rtt_rec, enums) against
// its decoder (explain/breakdown.ts): compile the header, compare every
// field's offset, the size, the stage and component numbering.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { COMP_NAMES, NCOMP, REC_SIZE, RTT_OFFSETS, STAGE } from '../../explain/breakdown.js';

const ROOT = resolve(import.meta.dirname, '../..');

it('struct v2_rtt_rec, stages and components agree with the decoder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'v2rtt-'));
  const P = (k: string, v: string) => `  printf("\\"%s\\": %ld,\\n", "${k}", (long)(${v}));`;
  const src = `#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>
#include "rtt.bpf.h"
int main(void) {
  printf("{\\n");
${Object.keys(RTT_OFFSETS).map((f) => P(f, `offsetof(struct v2_rtt_rec, ${f})`)).join('\n')}
${P('size', 'sizeof(struct v2_rtt_rec)')}
${P('ncomp', 'V2_RTT_NCOMP')}
${P('ONCPU', 'V2_RTT_ONCPU')} ${P('RUNQ', 'V2_RTT_RUNQ')} ${P('FUTEX', 'V2_RTT_FUTEX')} ${P('LOCK', 'V2_RTT_LOCK')}
${P('IO', 'V2_RTT_IO')} ${P('PAGEFAULT', 'V2_RTT_PAGEFAULT')} ${P('GC', 'V2_RTT_GC')} ${P('OTHER', 'V2_RTT_OTHER')}
${P('clientSend', 'V2_RTT_CLIENT_SEND')} ${P('brokerRecv', 'V2_RTT_BROKER_RECV')} ${P('brokerReply', 'V2_RTT_BROKER_REPLY')} ${P('clientRecv', 'V2_RTT_CLIENT_RECV')}
${P('stw', 'V2_RTT_STW')} ${P('gcCycle', 'V2_RTT_GC_CYCLE')} ${P('gcOpen', 'V2_RTT_GC_OPEN')}
  printf("\\"end\\": 0}\\n");
  return 0;
}
`;
  writeFileSync(join(dir, 'rtt.c'), src);
  execFileSync('gcc', ['-I', join(ROOT, 'bpf'), '-o', join(dir, 'rtt'), join(dir, 'rtt.c')]);
  const c = JSON.parse(execFileSync(join(dir, 'rtt')).toString()) as Record<string, number>;
  for (const [f, off] of Object.entries(RTT_OFFSETS)) expect([f, c[f]]).toEqual([f, off]);
  expect(c.size).toBe(REC_SIZE);
  expect(c.ncomp).toBe(NCOMP);
  COMP_NAMES.forEach((n, i) => expect([n, c[n.toUpperCase()]]).toEqual([n, i]));
  for (const [k, v] of Object.entries(STAGE)) expect([k, c[k]]).toEqual([k, v]);
});
