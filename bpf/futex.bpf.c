// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * futex — user-space lock waits: time from entering futex(FUTEX_WAIT,
 * FUTEX_WAIT_BITSET, FUTEX_LOCK_PI/LOCK_PI2, FUTEX_WAIT_REQUEUE_PI) to its
 * return, per process and per futex word. pthread mutexes, condition
 * variables and Go's runtime locks all end up here when contended.
 *
 * Hooks: classic tracepoints syscalls:sys_{enter,exit}_futex; the start
 * (time, uaddr, kind) is kept in task-local storage. Wake and requeue
 * operations return at once and are not followed. Not seen: the futex2
 * syscalls futex_wait/futex_waitv (6.7+, unused by glibc so far).
 *
 * Exact (filtered on tgid/comm/cgroup at entry):
 *   counters[V2_C_FUTEX_WAITS(kind)]   waits
 *   counters[V2_C_FUTEX_WAIT_NS(kind)] wait ns
 *   futex_addr_waits[{tgid, uaddr}]    count = waits, total = wait ns
 *                                      (LRU: the hot words stay; userspace
 *                                      reports the top N)
 *   hist[kind]                         log2 of every wait
 * Sampled rows: value = wait ns, arg0 = uaddr (addr), arg1 = return value
 * (0, or -EAGAIN when the word had already changed, -ETIMEDOUT, -EINTR).
 */
#define V2_THIS_PROBE V2_PROBE_FUTEX
#include "common.bpf.h"

#define V2_FUTEX_CMD_MASK (~(128 | 256))	/* ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME) */

struct futex_start {
	__u64 ts;	/* 0: no wait in flight */
	__u64 uaddr;
	__u32 event;
	__u32 pad;
};

struct v2_futex_key {
	__u32 tgid;
	__u32 pad;
	__u64 uaddr;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct futex_start);
} futex_task_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, struct v2_futex_key);
	__type(value, struct v2_pid_count);
} futex_addr_waits SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_futex")
int futex_enter(struct trace_event_raw_sys_enter *ctx)
{
	const struct v2_config *cfg;
	struct futex_start *slot;
	__u32 cmd = (__u32)ctx->args[1] & V2_FUTEX_CMD_MASK, event;

	switch (cmd) {
	case 0:  event = V2_FUTEX_WAIT; break;		/* FUTEX_WAIT */
	case 9:  event = V2_FUTEX_WAIT_BITSET; break;	/* FUTEX_WAIT_BITSET */
	case 6:						/* FUTEX_LOCK_PI */
	case 13: event = V2_FUTEX_LOCK_PI; break;	/* FUTEX_LOCK_PI2 */
	case 11: event = V2_FUTEX_WAIT_REQUEUE_PI; break;
	default: return 0;				/* wakes, requeues: no wait */
	}
	cfg = v2_cfg();
	if (!cfg || !cfg->enabled)
		return 0;
	if (!v2_filter(cfg, bpf_get_current_pid_tgid()))
		return 0;
	slot = bpf_task_storage_get(&futex_task_start, bpf_get_current_task_btf(), NULL,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!slot) {
		v2_count(V2_C_LOST_MAPFULL);
		return 0;
	}
	slot->uaddr = ctx->args[0];
	slot->event = event;
	slot->ts = bpf_ktime_get_ns();
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_futex")
int futex_exit(struct trace_event_raw_sys_exit *ctx)
{
	const struct v2_config *cfg;
	struct futex_start *st;
	struct v2_futex_key key = {};
	__u64 now, delta;
	__u32 event;

	st = bpf_task_storage_get(&futex_task_start, bpf_get_current_task_btf(), NULL, 0);
	if (!st || !st->ts)
		return 0;
	cfg = v2_cfg();
	if (!cfg || !cfg->enabled)
		goto cleanup;
	now = bpf_ktime_get_ns();
	delta = now - st->ts;
	event = st->event & 3;
	key.tgid = bpf_get_current_pid_tgid() >> 32;
	key.uaddr = st->uaddr;
	v2_count(V2_C_SEEN);
	v2_count(V2_C_FUTEX_WAITS(event));
	v2_count_add(V2_C_FUTEX_WAIT_NS(event), delta);
	v2_pid_count_add(&futex_addr_waits, &key, 1, delta);
	v2_record_at(event, now, delta, key.uaddr, (__u64)ctx->ret, cfg);
cleanup:
	st->ts = 0;
	return 0;
}
