/** pagefault — user and kernel page faults (bpf/pagefault.bpf.c). */
import { defineFamily, FAMILY_COUNTER_BASE } from './family.js';

export default defineFamily({
  name: 'pagefault',
  id: 7,
  summary: 'user and kernel page faults (exact per process), sampled with address and error code',
  subsystem: 'memory',
  events: [{ name: 'user', unit: 'count' }, { name: 'kernel', unit: 'count' }],
  args: { arg0: 'addr', arg1: 'state' },
  columns: {
    value: '1 (one fault; `weight` is the faults it stands for)',
    arg0: 'the fault address (< 64 KiB: null-ish; >= 0xffff800000000000: kernel; else user)',
    arg1: 'the x86 error code, not a state: bits 1 present (protection fault), 2 write, 4 user mode, 16 instruction fetch',
  },
  counters: { faults_user: FAMILY_COUNTER_BASE, faults_kernel: FAMILY_COUNTER_BASE + 1 },
  defaultSampleEvery: 1000,
  plans: [
    {
      label: 'tracepoint exceptions:page_fault_user, page_fault_kernel',
      programs: ['page_fault_user', 'page_fault_kernel'],
      tracepoints: ['exceptions/page_fault_user', 'exceptions/page_fault_kernel'],
      needsBtf: false,
      kind: 'tracepoint',
    },
  ],
  keyedCounts: [{ map: 'pid_faults', key: 'pid', counter: 'faults_user', total: 'faults_kernel' }],
  benchBaseline: [
    { program: 'base_page_fault_user', sec: 'tracepoint/exceptions/page_fault_user' },
    { program: 'base_page_fault_kernel', sec: 'tracepoint/exceptions/page_fault_kernel' },
  ],
  readme: {
    measures: 'user/kernel page faults, exact per process',
    attaches: '`exceptions:page_fault_{user,kernel}`',
  },
});
