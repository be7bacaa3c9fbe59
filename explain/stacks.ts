/**
 * explain/stacks.ts — the user stacks where serving broker threads
 * blocked (bpf/rtt.bpf.c map `rtt_stacks`), read from the kernel map as the
 * records arrive, symbolized with the broker's own binaries, and removed from
 * the map once read (its ids are then free for new blocks).
 */
import type { Probe } from '../native/index.js';
import { stackTraces } from '../profile/sampler.js';
import { ProcessSymbolizer } from '../uprobes/symbols.js';
import type { StackResolver } from './breakdown.js';

export class BlockedStacks {
  private readonly ips = new Map<number, bigint[]>();
  private readonly syms = new Map<number, ProcessSymbolizer>();

  constructor(private readonly probe: Probe) {}

  /** Take the stacks the kernel recorded since the last call (call before joining a batch). */
  refresh(): void {
    let dump;
    try {
      dump = this.probe.readMap('rtt_stacks');
    } catch {
      return; // an older rtt object without the map: no stacks
    }
    for (const [id, ips] of stackTraces(dump)) {
      this.ips.set(id, ips);
      const k = Buffer.alloc(4);
      k.writeUInt32LE(id);
      this.probe.deleteMapEntry('rtt_stacks', k);
    }
    if (this.ips.size > 8192) for (const id of [...this.ips.keys()].slice(0, this.ips.size - 8192)) this.ips.delete(id);
  }

  /** Drop the symbolizer of an exited process. */
  forget(pid: number): void {
    this.syms.delete(pid);
  }

  /** Frames of a stack id, root first; undefined when it was never read. */
  readonly resolve: StackResolver = (pid, id) => {
    const ips = this.ips.get(id);
    if (!ips) return undefined;
    let sym = this.syms.get(pid);
    if (!sym) {
      sym = new ProcessSymbolizer(pid);
      this.syms.set(pid, sym);
    }
    const frames: string[] = [];
    for (let j = ips.length - 1; j >= 0; j--) frames.push(sym.symbolize(Number(ips[j])));
    return frames;
  };
}
