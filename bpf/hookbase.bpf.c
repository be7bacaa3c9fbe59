// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * hookbase — the hook-cost baseline for bench/probes.ts: an empty program on
 * every attach point of the shm, lock, futex, pagefault, kmem, fsync, tcp and
 * cpufreq families (the uds ones are in empty.bpf.c). Never used by the
 * collector; the bench opens it through the addon and picks programs by name.
 */
#define V2_THIS_PROBE V2_PROBE_EMPTY
#include "common.bpf.h"

#define EMPTY_TP(name, sec) SEC(sec) int name(void *ctx) { return 0; }
#define EMPTY_BTF(name, sec) SEC(sec) int BPF_PROG(name) { return 0; }

EMPTY_TP(base_exit_memfd_create, "tracepoint/syscalls/sys_exit_memfd_create")
EMPTY_TP(base_enter_mmap, "tracepoint/syscalls/sys_enter_mmap")
EMPTY_TP(base_exit_mmap, "tracepoint/syscalls/sys_exit_mmap")
EMPTY_TP(base_enter_munmap, "tracepoint/syscalls/sys_enter_munmap")
EMPTY_TP(base_enter_ftruncate, "tracepoint/syscalls/sys_enter_ftruncate")
EMPTY_TP(base_exit_ftruncate, "tracepoint/syscalls/sys_exit_ftruncate")
EMPTY_BTF(base_process_exit, "tp_btf/sched_process_exit")
EMPTY_BTF(base_contention_begin, "tp_btf/contention_begin")
EMPTY_BTF(base_contention_end, "tp_btf/contention_end")
EMPTY_TP(base_enter_futex, "tracepoint/syscalls/sys_enter_futex")
EMPTY_TP(base_exit_futex, "tracepoint/syscalls/sys_exit_futex")
EMPTY_TP(base_page_fault_user, "tracepoint/exceptions/page_fault_user")
EMPTY_TP(base_page_fault_kernel, "tracepoint/exceptions/page_fault_kernel")
EMPTY_BTF(base_kmalloc, "tp_btf/kmalloc")
EMPTY_BTF(base_kfree, "tp_btf/kfree")
EMPTY_TP(base_enter_fsync, "tracepoint/syscalls/sys_enter_fsync")
EMPTY_TP(base_exit_fsync, "tracepoint/syscalls/sys_exit_fsync")
EMPTY_TP(base_enter_fdatasync, "tracepoint/syscalls/sys_enter_fdatasync")
EMPTY_TP(base_exit_fdatasync, "tracepoint/syscalls/sys_exit_fdatasync")
EMPTY_TP(base_enter_sync_file_range, "tracepoint/syscalls/sys_enter_sync_file_range")
EMPTY_TP(base_exit_sync_file_range, "tracepoint/syscalls/sys_exit_sync_file_range")
EMPTY_TP(base_enter_write, "tracepoint/syscalls/sys_enter_write")
EMPTY_TP(base_exit_write, "tracepoint/syscalls/sys_exit_write")
EMPTY_TP(base_enter_pwrite64, "tracepoint/syscalls/sys_enter_pwrite64")
EMPTY_TP(base_exit_pwrite64, "tracepoint/syscalls/sys_exit_pwrite64")
EMPTY_TP(base_set_state, "tracepoint/sock/inet_sock_set_state")
EMPTY_TP(base_retransmit, "tracepoint/tcp/tcp_retransmit_skb")
EMPTY_TP(base_tcp_probe, "tracepoint/tcp/tcp_probe")
EMPTY_TP(base_cpu_frequency, "tracepoint/power/cpu_frequency")
EMPTY_TP(base_cpu_idle, "tracepoint/power/cpu_idle")
