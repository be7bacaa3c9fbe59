// The TypeScript event definition (schema/event.ts) against the C header
// (bpf/v2probe.h): compile a program with the header and compare every
// field's name, size and offset, and every id and slot the two share.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  COMMON_COUNTERS,
  CONFIG_FIELDS,
  CONFIG_SIZE,
  FAMILY_COUNTER_BASE,
  HIST_SLOTS,
  MAX_COUNTERS,
  PROBES,
  PROBE_NAMES,
  RECORD_FIELDS,
  RECORD_SIZE,
} from '../../schema/event.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** every family's id and event enum is checked generically (rtt's kinds are enum v2_rtt_stage, bpf/rtt.bpf.h) */
const KERNEL_FAMILIES = PROBE_NAMES.filter((f) => f !== 'rtt');

function cLayout(): Record<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'v2layout-'));
  const fields = (struct: string, list: ReadonlyArray<{ name: string }>) =>
    list
      .map((f) => `  P("${struct}.${f.name}.offset", offsetof(struct ${struct}, ${f.name}));\n  P("${struct}.${f.name}.size", sizeof(((struct ${struct} *)0)->${f.name}));`)
      .join('\n');
  const src = `#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>
#include "v2probe.h"
#define P(k, v) printf("\\"%s\\": %ld,\\n", k, (long)(v))
int main(void) {
  printf("{\\n");
${fields('v2_event', RECORD_FIELDS)}
${fields('v2_config', CONFIG_FIELDS)}
  P("v2_event.size", sizeof(struct v2_event));
  P("v2_config.size", sizeof(struct v2_config));
  P("V2_PROBE_UDS", V2_PROBE_UDS); P("V2_PROBE_SCHED", V2_PROBE_SCHED); P("V2_PROBE_BLOCKIO", V2_PROBE_BLOCKIO); P("V2_PROBE_EMPTY", V2_PROBE_EMPTY);
  P("V2_UDS_SENDMSG", V2_UDS_SENDMSG); P("V2_UDS_RECVMSG", V2_UDS_RECVMSG); P("V2_UDS_CONNECT", V2_UDS_CONNECT); P("V2_UDS_SENDTO", V2_UDS_SENDTO); P("V2_UDS_RECVFROM", V2_UDS_RECVFROM); P("V2_UDS_READ", V2_UDS_READ); P("V2_UDS_WRITE", V2_UDS_WRITE);
  P("V2_SCHED_RUNQ", V2_SCHED_RUNQ); P("V2_SCHED_SWITCH", V2_SCHED_SWITCH);
  P("V2_BLOCKIO_READ", V2_BLOCKIO_READ); P("V2_BLOCKIO_WRITE", V2_BLOCKIO_WRITE); P("V2_BLOCKIO_FLUSH", V2_BLOCKIO_FLUSH); P("V2_BLOCKIO_DISCARD", V2_BLOCKIO_DISCARD); P("V2_BLOCKIO_OTHER", V2_BLOCKIO_OTHER);
  P("V2_C_SEEN", V2_C_SEEN); P("V2_C_SAMPLED", V2_C_SAMPLED); P("V2_C_LOST_RINGBUF", V2_C_LOST_RINGBUF); P("V2_C_LOST_MAPFULL", V2_C_LOST_MAPFULL); P("V2_C_MISSED_START", V2_C_MISSED_START);
  P("V2_C_BURST_DROPPED", V2_C_BURST_DROPPED);
${KERNEL_FAMILIES.map((f) => `  P("V2_PROBE_${f.toUpperCase()}", V2_PROBE_${f.toUpperCase()});\n` + PROBES[f].events.map((e) => `  P("V2_${f.toUpperCase()}_${e.toUpperCase()}", V2_${f.toUpperCase()}_${e.toUpperCase()});`).join('\n')).join('\n')}
  P("V2_C_FAMILY", V2_C_FAMILY); P("V2_C_SCHED_SWITCHES", V2_C_SCHED_SWITCHES); P("V2_C_SCHED_WAKEUPS", V2_C_SCHED_WAKEUPS);
  P("V2_HIST_SLOTS", V2_HIST_SLOTS); P("V2_MAX_COUNTERS", V2_MAX_COUNTERS);
  printf("\\"end\\": 0}\\n");
  return 0;
}
`;
  writeFileSync(join(dir, 'layout.c'), src);
  execFileSync('gcc', ['-I', join(ROOT, 'bpf'), '-o', join(dir, 'layout'), join(dir, 'layout.c')]);
  return JSON.parse(execFileSync(join(dir, 'layout')).toString());
}

describe('event definition vs bpf/v2probe.h', () => {
  const c = cLayout();

  it('struct v2_event: every field at the same offset with the same size', () => {
    for (const f of RECORD_FIELDS) {
      expect({ field: f.name, offset: c[`v2_event.${f.name}.offset`], size: c[`v2_event.${f.name}.size`] }).toEqual({ field: f.name, offset: f.offset, size: f.size });
    }
    expect(c['v2_event.size']).toBe(RECORD_SIZE);
    const covered = RECORD_FIELDS.reduce((n, f) => n + f.size, 0);
    expect(covered).toBe(RECORD_SIZE); // no field of the C struct is missing from the definition
  });

  it('struct v2_config: same layout', () => {
    for (const f of CONFIG_FIELDS) {
      expect([f.name, c[`v2_config.${f.name}.offset`], c[`v2_config.${f.name}.size`]]).toEqual([f.name, f.offset, f.size]);
    }
    expect(c['v2_config.size']).toBe(CONFIG_SIZE);
  });

  it('probe ids, event kinds and counter slots agree', () => {
    expect([PROBES.uds.id, PROBES.sched.id, PROBES.blockio.id, PROBES.empty.id]).toEqual([c.V2_PROBE_UDS, c.V2_PROBE_SCHED, c.V2_PROBE_BLOCKIO, c.V2_PROBE_EMPTY]);
    const idx = (events: readonly string[], name: string) => events.indexOf(name);
    for (const e of PROBES.uds.events) expect(idx(PROBES.uds.events, e)).toBe(c[`V2_UDS_${e.toUpperCase()}`]);
    for (const e of PROBES.sched.events) expect(idx(PROBES.sched.events, e)).toBe(c[`V2_SCHED_${e.toUpperCase()}`]);
    for (const e of PROBES.blockio.events) expect(idx(PROBES.blockio.events, e)).toBe(c[`V2_BLOCKIO_${e.toUpperCase()}`]);
    expect(COMMON_COUNTERS).toEqual({ seen: c.V2_C_SEEN, sampled: c.V2_C_SAMPLED, lost_ringbuf: c.V2_C_LOST_RINGBUF, lost_mapfull: c.V2_C_LOST_MAPFULL, missed_start: c.V2_C_MISSED_START, burst_dropped: c.V2_C_BURST_DROPPED });
    expect(FAMILY_COUNTER_BASE).toBe(c.V2_C_FAMILY);
    expect(PROBES.sched.counters).toEqual({ switches: c.V2_C_SCHED_SWITCHES, wakeups: c.V2_C_SCHED_WAKEUPS });
    for (const f of KERNEL_FAMILIES) {
      expect([f, PROBES[f].id]).toEqual([f, c[`V2_PROBE_${f.toUpperCase()}`]]);
      PROBES[f].events.forEach((e, i) => expect([f, e, i]).toEqual([f, e, c[`V2_${f.toUpperCase()}_${e.toUpperCase()}`]]));
      // at most V2_MAX_EVENTS kinds (histograms, sampling slots); family counters inside the array
      expect(PROBES[f].events.length).toBeLessThanOrEqual(8);
      for (const slot of Object.values(PROBES[f].counters)) expect(slot).toBeLessThan(MAX_COUNTERS);
    }
    expect(HIST_SLOTS).toBe(c.V2_HIST_SLOTS);
    expect(MAX_COUNTERS).toBe(c.V2_MAX_COUNTERS);
  });
});
