// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * empty — the hook-cost baseline: programs that return 0 at once, on exactly
 * the tracepoints uds uses (syscalls:sys_{enter,exit}_{sendmsg,recvmsg,
 * connect,sendto,recvfrom}). It declares the common maps so the loader
 * treats it like any other family; nothing writes to them.
 */
#define V2_THIS_PROBE V2_PROBE_EMPTY
#include "common.bpf.h"

#define EMPTY_SYSCALL(name)							\
SEC("tracepoint/syscalls/sys_enter_" #name)					\
int empty_enter_##name(void *ctx)						\
{										\
	return 0;								\
}										\
SEC("tracepoint/syscalls/sys_exit_" #name)					\
int empty_exit_##name(void *ctx)						\
{										\
	return 0;								\
}

EMPTY_SYSCALL(sendmsg)
EMPTY_SYSCALL(recvmsg)
EMPTY_SYSCALL(connect)
EMPTY_SYSCALL(sendto)
EMPTY_SYSCALL(recvfrom)
