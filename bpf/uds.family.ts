/** uds — AF_UNIX socket call latency (bpf/uds.bpf.c). */
import { defineFamily, eventsOf, FAMILY_COUNTER_BASE, perEvent, sys, UDS_SYSCALLS } from './family.js';

const EVENTS = ['sendmsg', 'recvmsg', 'connect', 'sendto', 'recvfrom', 'read', 'write'] as const;

export default defineFamily({
  name: 'uds',
  id: 1,
  summary: 'AF_UNIX sendmsg/recvmsg/sendto/recvfrom/connect latency per process',
  subsystem: 'ipc',
  events: eventsOf(EVENTS, 'ns'),
  args: { arg0: 'fd', arg1: 'ret' },
  columns: {
    value: 'latency ns, syscall entry → exit',
    arg0: 'the socket fd',
    arg1: 'the syscall return value: bytes, or -errno',
  },
  counters: perEvent(EVENTS, FAMILY_COUNTER_BASE, 'calls_'),
  defaultSampleEvery: 1000,
  plans: [
    {
      label: 'tracepoint syscalls:sys_{enter,exit}_{sendmsg,recvmsg,connect,sendto,recvfrom} (task storage)',
      programs: UDS_SYSCALLS.flatMap((n) => [`uds_enter_${n}`, `uds_exit_${n}`]),
      tracepoints: sys(UDS_SYSCALLS),
      needsBtf: false,
      kind: 'tracepoint',
      // read/write on AF_UNIX fds (Go's UnixConn): every read/write on the host pays the fd check, so opt-in
      optIn: { udsReadWrite: ['read', 'write'].flatMap((n) => [`uds_enter_${n}`, `uds_exit_${n}`]) },
    },
    {
      label: 'tracepoint syscalls:sys_{enter,exit}_* (tid hash, probe reads: kernels without task storage / bpf_rdonly_cast)',
      programs: UDS_SYSCALLS.flatMap((n) => [`uds_enter_${n}_raw`, `uds_exit_${n}_raw`]),
      tracepoints: sys(UDS_SYSCALLS),
      needsBtf: false,
      kind: 'tracepoint',
    },
    {
      label: 'kprobe unix_stream_sendmsg (not built: kprobes are a fallback for kernels without syscall tracepoints)',
      programs: [],
      tracepoints: [],
      needsBtf: false,
      kind: 'kprobe',
    },
  ],
  readme: {
    measures: 'sendmsg/recvmsg/sendto/recvfrom/connect latency on AF_UNIX sockets (family filtered in the kernel); with `--uds-rw` also read/write (Go\'s UnixConn)',
    attaches: 'tracepoints `syscalls:sys_{enter,exit}_*` (task storage → tid hash)',
  },
});
