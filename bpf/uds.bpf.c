// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * uds — latency of sendmsg, recvmsg, connect, sendto and recvfrom on AF_UNIX
 * sockets, per process. Classic syscall tracepoints (stable ABI):
 * syscalls:sys_enter_X records the start time if the fd is an AF_UNIX socket
 * (checked in the kernel: fd table -> file -> S_IFSOCK inode -> socket ->
 * sk->skc_family); syscalls:sys_exit_X computes the latency.
 *
 * Exact: counters[V2_C_UDS_CALLS(event)] calls, V2_C_SEEN, histogram (index =
 * event kind) of every call. Sampled rows: value = latency ns, arg0 = fd,
 * arg1 = syscall return value (bytes or -errno, as s64 in a u64).
 *
 * Two program sets on the same tracepoints, same logic (one is loaded):
 *   uds_{enter,exit}_X      primary (kernel >= 6.2): fd check with direct
 *                           BTF loads (bpf_get_current_task_btf +
 *                           bpf_rdonly_cast), start time in task-local
 *                           storage (uds_task_start: no hash insert/delete,
 *                           freed with the task, cannot fill up).
 *   uds_{enter,exit}_X_raw  fallback, SEC("?...") so not autoloaded: fd
 *                           check with bpf_probe_read_kernel, start time in
 *                           the uds_start HASH keyed by tid.
 * To fall back: autoload off the primaries, on *_raw, and, where the kernel
 * has no task storage (< 5.11), bpf_map__set_autocreate(uds_task_start,
 * false). Measured on 6.18 with bpf_stats (empty program: 60 ns): enter/exit
 * ~175/~150 ns primary, ~500/~230 ns _raw; the difference is ~10
 * bpf_probe_read_kernel calls (~35 ns each) and a hash update + delete.
 *
 * Not seen: read/write/readv/writev/sendmmsg/recvmmsg on unix sockets (Go's
 * net.UnixConn Read/Write use read/write) and io_uring socket ops.
 */
#define V2_THIS_PROBE V2_PROBE_UDS
#include "common.bpf.h"
#include "fd.bpf.h"

#define V2_AF_UNIX 1

struct uds_start {
	__u64 ts;	/* 0: no call in flight */
	__u32 fd;
	__u32 event;
};

/* _raw: in-flight calls on AF_UNIX sockets, keyed by tid. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct uds_start);
} uds_start SEC(".maps");

/* _btf: the same, one slot per task. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct uds_start);
} uds_task_start SEC(".maps");

/* Is fd of the current task an AF_UNIX socket? Direct (PROBE_MEM) loads. */
static __always_inline bool fd_is_unix_btf(__u64 fd)
{
	struct file *file = v2_fd_file(fd);
	struct socket *sock;

	if (!file || (file->f_inode->i_mode & V2_S_IFMT) != V2_S_IFSOCK)
		return false;
	sock = bpf_rdonly_cast(file->private_data, bpf_core_type_id_kernel(struct socket));
	return sock->sk->__sk_common.skc_family == V2_AF_UNIX;
}

/* The same with bpf_probe_read_kernel only (any CO-RE kernel). */
static __always_inline bool fd_is_unix_raw(__u64 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt;
	struct file **fds;
	struct file *file;
	struct socket *sock;
	umode_t mode;

	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return false;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return false;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & V2_S_IFMT) != V2_S_IFSOCK)
		return false;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return false;
	return BPF_CORE_READ(sock, sk, __sk_common.skc_family) == V2_AF_UNIX;
}

static __always_inline int uds_enter(struct trace_event_raw_sys_enter *ctx, __u32 event,
				     const bool btf)
{
	const struct v2_config *cfg = v2_cfg();
	struct uds_start st, *slot;
	__u64 pid_tgid, fd;
	__u32 tid;

	if (!cfg || !cfg->enabled)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	if (!v2_filter(cfg, pid_tgid))
		return 0;
	fd = ctx->args[0];
	if (btf ? !fd_is_unix_btf(fd) : !fd_is_unix_raw(fd))
		return 0;
	st.ts = bpf_ktime_get_ns();
	st.fd = fd;
	st.event = event;
	if (btf) {
		slot = bpf_task_storage_get(&uds_task_start, bpf_get_current_task_btf(), NULL,
					    BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (slot)
			*slot = st;
		else
			v2_count(V2_C_LOST_MAPFULL);
	} else {
		tid = (__u32)pid_tgid;
		if (bpf_map_update_elem(&uds_start, &tid, &st, BPF_ANY))
			v2_count(V2_C_LOST_MAPFULL);
	}
	return 0;
}

static __always_inline int uds_exit(struct trace_event_raw_sys_exit *ctx, __u32 event,
				    const bool btf)
{
	const struct v2_config *cfg;
	struct uds_start *st;
	__u64 now, delta, fd;
	__u32 tid = 0;

	if (btf) {
		st = bpf_task_storage_get(&uds_task_start, bpf_get_current_task_btf(), NULL, 0);
		if (!st || !st->ts)
			return 0;	/* not an AF_UNIX call we followed */
	} else {
		tid = (__u32)bpf_get_current_pid_tgid();
		st = bpf_map_lookup_elem(&uds_start, &tid);
		if (!st)
			return 0;	/* not an AF_UNIX call we followed */
	}
	if (st->event != event) {	/* stale: that call's exit was not seen */
		v2_count(V2_C_MISSED_START);
		goto cleanup;
	}
	cfg = v2_cfg();
	if (!cfg || !cfg->enabled)
		goto cleanup;
	now = bpf_ktime_get_ns();
	delta = now - st->ts;
	fd = st->fd;
	v2_count(V2_C_SEEN);
	v2_count(V2_C_UDS_CALLS(event));
	v2_record_at(event, now, delta, fd, (__u64)ctx->ret, cfg);
cleanup:
	if (btf)
		st->ts = 0;
	else
		bpf_map_delete_elem(&uds_start, &tid);
	return 0;
}

#define UDS_SYSCALL(name, event)						\
SEC("tracepoint/syscalls/sys_enter_" #name)					\
int uds_enter_##name(struct trace_event_raw_sys_enter *ctx)		\
{										\
	return uds_enter(ctx, event, true);					\
}										\
SEC("tracepoint/syscalls/sys_exit_" #name)					\
int uds_exit_##name(struct trace_event_raw_sys_exit *ctx)			\
{										\
	return uds_exit(ctx, event, true);					\
}										\
SEC("?tracepoint/syscalls/sys_enter_" #name)					\
int uds_enter_##name##_raw(struct trace_event_raw_sys_enter *ctx)		\
{										\
	return uds_enter(ctx, event, false);					\
}										\
SEC("?tracepoint/syscalls/sys_exit_" #name)					\
int uds_exit_##name##_raw(struct trace_event_raw_sys_exit *ctx)			\
{										\
	return uds_exit(ctx, event, false);					\
}

/*
 * read/write: every read and write on the host enters these hooks (the
 * AF_UNIX check comes first), so they are opt-in: declared with "?" (not
 * loaded unless the collector asks, `collect --uds-rw`).
 */
#define UDS_SYSCALL_OPTIN(name, event)						\
SEC("?tracepoint/syscalls/sys_enter_" #name)					\
int uds_enter_##name(struct trace_event_raw_sys_enter *ctx)		\
{										\
	return uds_enter(ctx, event, true);					\
}										\
SEC("?tracepoint/syscalls/sys_exit_" #name)					\
int uds_exit_##name(struct trace_event_raw_sys_exit *ctx)			\
{										\
	return uds_exit(ctx, event, true);					\
}

UDS_SYSCALL_OPTIN(read, V2_UDS_READ)
UDS_SYSCALL_OPTIN(write, V2_UDS_WRITE)

UDS_SYSCALL(sendmsg, V2_UDS_SENDMSG)
UDS_SYSCALL(recvmsg, V2_UDS_RECVMSG)
UDS_SYSCALL(connect, V2_UDS_CONNECT)
UDS_SYSCALL(sendto, V2_UDS_SENDTO)
UDS_SYSCALL(recvfrom, V2_UDS_RECVFROM)
