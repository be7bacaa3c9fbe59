/** kmem — kmalloc/kfree calls and bytes (bpf/kmem.bpf.c). */
import { btfThenRaw, defineFamily, FAMILY_COUNTER_BASE, kprobeOnly } from './family.js';

export default defineFamily({
  name: 'kmem',
  id: 8,
  summary: 'kmalloc/kfree calls and bytes (exact), sampled with call site',
  subsystem: 'memory',
  events: [{ name: 'kmalloc', unit: 'bytes' }, { name: 'kfree', unit: 'bytes' }],
  args: { arg0: 'addr', arg1: 'bytes' },
  columns: {
    value: { kmalloc: 'allocated bytes (the slab object, bytes_alloc)', kfree: '0' },
    arg0: 'the call site (a kernel text address: negative as Int64)',
    arg1: { kmalloc: 'requested bytes (bytes_req; `value` holds the allocated bytes)' },
  },
  counters: {
    kmalloc: FAMILY_COUNTER_BASE,
    kfree: FAMILY_COUNTER_BASE + 1,
    kmalloc_bytes: FAMILY_COUNTER_BASE + 2,
    kmalloc_req_bytes: FAMILY_COUNTER_BASE + 3,
  },
  defaultSampleEvery: 1000,
  plans: [
    ...btfThenRaw(['kmem/kmalloc', 'kmem/kfree'], ['kmalloc', 'kfree']),
    kprobeOnly('kprobe __kmalloc'),
  ],
  benchBaseline: [
    { program: 'base_kmalloc', sec: 'tp_btf/kmalloc' },
    { program: 'base_kfree', sec: 'tp_btf/kfree' },
  ],
  readme: {
    measures: 'kmalloc/kfree calls and bytes',
    attaches: '`tp_btf/kmalloc`, `kfree` → `raw_tp`',
  },
});
