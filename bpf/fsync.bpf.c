// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * fsync — latency of fsync, fdatasync and sync_file_range, and of small
 * writes (write/pwrite64 of <= 4 KiB) to regular files, per process and fd.
 *
 * Hooks: classic tracepoints syscalls:sys_{enter,exit}_{fsync,fdatasync,
 * sync_file_range,write,pwrite64}. Enter records the start time in
 * task-local storage (one slot per task, freed with it) — for write and
 * pwrite64 only when count <= V2_SMALL_WRITE and the fd is a regular file
 * (fd table -> file -> inode mode, direct BTF loads); exit computes the
 * latency. Writes to pipes, sockets, ttys are never followed.
 *
 * Exact (filtered on tgid/comm/cgroup): counters[V2_C_FSYNC_CALLS(event)] calls,
 * counters[V2_C_FSYNC_SMALL_WRITE_BYTES] bytes written by the small writes, V2_C_SEEN,
 * histogram (index = event) of every call's latency.
 * Sampled rows: value = latency ns, arg0 = fd, arg1 = return value.
 */
#define V2_THIS_PROBE V2_PROBE_FSYNC
#include "common.bpf.h"
#include "fd.bpf.h"

#define V2_SMALL_WRITE 4096

struct fsync_start {
	__u64 ts;	/* 0: no call in flight */
	__u32 fd;
	__u32 event;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct fsync_start);
} fsync_task_start SEC(".maps");


/* Is fd of the current task a regular file? */
static __always_inline bool fd_is_reg(__u64 fd)
{
	return v2_fd_type(fd) == V2_S_IFREG;
}

static __always_inline int fs_enter(struct trace_event_raw_sys_enter *ctx, __u32 event)
{
	const struct v2_config *cfg = v2_cfg();
	struct fsync_start *slot;
	__u64 fd = ctx->args[0];

	if (!cfg || !cfg->enabled)
		return 0;
	if (event >= V2_FSYNC_WRITE && ctx->args[2] > V2_SMALL_WRITE)
		return 0;	/* the cheap test first: most writes end here or below */
	if (!v2_filter(cfg, bpf_get_current_pid_tgid()))
		return 0;
	if (event >= V2_FSYNC_WRITE && !fd_is_reg(fd))
		return 0;
	slot = bpf_task_storage_get(&fsync_task_start, bpf_get_current_task_btf(), NULL,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!slot) {
		v2_count(V2_C_LOST_MAPFULL);
		return 0;
	}
	slot->fd = fd;
	slot->event = event;
	slot->ts = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int fs_exit(struct trace_event_raw_sys_exit *ctx, __u32 event)
{
	const struct v2_config *cfg;
	struct fsync_start *st;
	__u64 now, delta;
	long ret;

	st = bpf_task_storage_get(&fsync_task_start, bpf_get_current_task_btf(), NULL, 0);
	if (!st || !st->ts)
		return 0;
	if (st->event != event) {
		v2_count(V2_C_MISSED_START);
		goto cleanup;
	}
	cfg = v2_cfg();
	if (!cfg || !cfg->enabled)
		goto cleanup;
	now = bpf_ktime_get_ns();
	delta = now - st->ts;
	v2_count(V2_C_SEEN);
	v2_count(V2_C_FSYNC_CALLS(event));
	/* read once, here: a ctx load sunk past the histogram code is a ctx
	 * pointer the compiler has offset, which the verifier refuses */
	ret = ctx->ret;
	barrier_var(ret);
	if (event >= V2_FSYNC_WRITE && ret > 0)
		v2_count_add(V2_C_FSYNC_SMALL_WRITE_BYTES, ret);
	v2_record_at(event, now, delta, st->fd, (__u64)ret, cfg);
cleanup:
	st->ts = 0;
	return 0;
}

#define FSYNC_SYSCALL(name, event)						\
SEC("tracepoint/syscalls/sys_enter_" #name)					\
int fsync_enter_##name(struct trace_event_raw_sys_enter *ctx)			\
{										\
	return fs_enter(ctx, event);						\
}										\
SEC("tracepoint/syscalls/sys_exit_" #name)					\
int fsync_exit_##name(struct trace_event_raw_sys_exit *ctx)			\
{										\
	return fs_exit(ctx, event);						\
}

FSYNC_SYSCALL(fsync, V2_FSYNC_FSYNC)
FSYNC_SYSCALL(fdatasync, V2_FSYNC_FDATASYNC)
FSYNC_SYSCALL(sync_file_range, V2_FSYNC_SYNC_FILE_RANGE)
FSYNC_SYSCALL(write, V2_FSYNC_WRITE)
FSYNC_SYSCALL(pwrite64, V2_FSYNC_PWRITE)
