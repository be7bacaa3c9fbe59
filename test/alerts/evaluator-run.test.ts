// The evaluator's run loop waits between rounds without keeping a listener per
// wait on the stop signal: `up` runs for months, and one abort listener added
// per tick and never removed grew without bound (node warned at 11).
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Evaluator } from '../../alerts/evaluator.js';
import { applySchema } from '../../schema/ddl.js';
import { openStore } from '../../store/index.js';
import { groupsOf } from './helpers.js';

const YAML = `groups:
  - name: tick
    interval: 10s
    rules:
      - name: Ticks
        sql: "SELECT 'h1' AS host, toFloat64(count()) AS value FROM v2e.events WHERE ts >= {start} AND ts < {end}"
        thresholds: { warning: 1000000 }
`;

describe('evaluator run loop', () => {
  it('holds at most one abort listener per group however many rounds it waited', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'v2probe-evrun-'));
    const store = await openStore(`chdb:${dir}/data`);
    try {
      await applySchema(store);
      const ev = new Evaluator({ store, groups: groupsOf(YAML) });
      const stop = new AbortController();
      let rounds = 0;
      const orig = ev.round.bind(ev);
      ev.round = async (g) => { rounds++; return orig(g); };
      const done = ev.run(stop.signal, { tickMs: 10 });
      while (rounds < 30) await new Promise((r) => setTimeout(r, 20));
      expect(getEventListeners(stop.signal, 'abort').length).toBeLessThanOrEqual(1);
      stop.abort();
      await done;
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
