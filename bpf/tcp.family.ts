/** tcp — connect latency, failures, retransmits, state changes, RTT (bpf/tcp.bpf.c). */
import { defineFamily, FAMILY_COUNTER_BASE, kprobeOnly } from './family.js';

export default defineFamily({
  name: 'tcp',
  id: 10,
  summary: 'TCP connect latency and failures, retransmits, state changes, sampled RTT',
  subsystem: 'network',
  events: [
    { name: 'connect', unit: 'ns' },
    { name: 'connect_fail', unit: 'ns' },
    { name: 'retransmit', unit: 'ns' },
    { name: 'state', unit: 'ns' },
    { name: 'rtt', unit: 'ns' },
  ],
  args: { arg0: 'addr', arg1: 'state' },
  columns: {
    value: { connect: 'connect latency ns, SYN_SENT → ESTABLISHED', connect_fail: 'ns from SYN_SENT to the failure', retransmit: '0', state: '0', rtt: 'smoothed RTT ns (srtt)' },
    arg0: 'IPv4 daddr << 16 | dport (IPv6: dport only)',
    arg1: { connect: 'oldstate << 8 | newstate', connect_fail: 'oldstate << 8 | newstate', retransmit: 'the TCP state', state: 'oldstate << 8 | newstate' },
  },
  counters: {
    connects: FAMILY_COUNTER_BASE,
    connect_fails: FAMILY_COUNTER_BASE + 1,
    retransmits: FAMILY_COUNTER_BASE + 2,
    state_changes: FAMILY_COUNTER_BASE + 3,
    rtt_samples: FAMILY_COUNTER_BASE + 4,
  },
  defaultSampleEvery: 1,
  plans: [
    {
      label: 'tracepoint sock:inet_sock_set_state, tcp:tcp_retransmit_skb, tcp:tcp_probe',
      programs: ['tcp_set_state', 'tcp_retransmit', 'tcp_probe'],
      tracepoints: ['sock/inet_sock_set_state', 'tcp/tcp_retransmit_skb', 'tcp/tcp_probe'],
      needsBtf: false,
      kind: 'tracepoint',
    },
    kprobeOnly('kprobe tcp_v4_connect'),
  ],
  benchBaseline: [
    { program: 'base_set_state', sec: 'tracepoint/sock/inet_sock_set_state' },
    { program: 'base_retransmit', sec: 'tracepoint/tcp/tcp_retransmit_skb' },
    { program: 'base_tcp_probe', sec: 'tracepoint/tcp/tcp_probe' },
  ],
  readme: {
    measures: 'connect latency, failed connects, retransmits, state changes, RTT',
    attaches: '`sock:inet_sock_set_state`, `tcp:tcp_retransmit_skb`, `tcp:tcp_probe`',
  },
});
