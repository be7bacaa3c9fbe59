// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * lock — kernel lock contention: time from lock:contention_begin to
 * lock:contention_end (5.19+; the tracepoints do not need lockdep), per
 * lock kind and process. After perf's lock_contention.bpf.c.
 *
 * Kinds from the begin flags (LCB_F_*): spin (spinlocks and rwlocks:
 * SPIN without MUTEX), mutex (MUTEX, also during its optimistic spin, and
 * RT mutexes), rwsem_read / rwsem_write (READ / WRITE, incl. percpu
 * rwsems), other.
 *
 * Start times: a task that can sleep while waiting (mutex, rwsem) is keyed
 * by tid in lock_start (a mutex reports a second begin when it stops
 * spinning and sleeps: the first start is kept); a spinning waiter cannot
 * migrate, so spin waits use one per-CPU slot (an interrupt that contends
 * another lock in between is counted in V2_C_MISSED_START, not mixed in).
 *
 * Exact (filtered on the waiting task's tgid/comm/cgroup at begin):
 *   counters[V2_C_LOCK_WAITS(kind)] waits, [V2_C_LOCK_WAIT_NS(kind)] wait ns
 *   pid_lock[tgid]   count = waits, total = wait ns (LRU)
 *   hist[kind]       log2 of every wait
 * Sampled rows: value = wait ns, arg0 = lock address (addr, a kernel
 * address: negative as Int64), arg1 = LCB flags (state).
 */
#define V2_THIS_PROBE V2_PROBE_LOCK
#include "common.bpf.h"

#define LCB_F_SPIN (1U << 0)
#define LCB_F_READ (1U << 1)
#define LCB_F_WRITE (1U << 2)
#define LCB_F_RT (1U << 3)
#define LCB_F_MUTEX (1U << 5)

struct lock_start {
	__u64 ts;	/* 0: free */
	__u64 lock;
	__u32 flags;
	__u32 tgid;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct lock_start);
} lock_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lock_start);
} spin_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct v2_pid_count);
} pid_lock SEC(".maps");

static __always_inline __u32 lock_kind(__u32 flags)
{
	if (flags & (LCB_F_MUTEX | LCB_F_RT))
		return V2_LOCK_MUTEX;
	if (flags & LCB_F_SPIN)
		return V2_LOCK_SPIN;
	if (flags & LCB_F_READ)
		return V2_LOCK_RWSEM_READ;
	if (flags & LCB_F_WRITE)
		return V2_LOCK_RWSEM_WRITE;
	return V2_LOCK_OTHER;
}

static __always_inline bool is_spin(__u32 flags)
{
	return (flags & LCB_F_SPIN) && !(flags & (LCB_F_MUTEX | LCB_F_RT));
}

static __always_inline int on_begin(__u64 lock, __u32 flags)
{
	const struct v2_config *cfg = v2_cfg();
	struct lock_start st = {}, *old;
	__u64 pid_tgid;
	__u32 tid, zero = 0;

	if (!cfg || !cfg->enabled)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	if (!v2_filter(cfg, pid_tgid))
		return 0;
	st.ts = bpf_ktime_get_ns();
	st.lock = lock;
	st.flags = flags;
	st.tgid = pid_tgid >> 32;
	if (is_spin(flags)) {
		old = bpf_map_lookup_elem(&spin_start, &zero);
		if (!old)
			return 0;
		if (old->ts)
			v2_count(V2_C_MISSED_START);	/* nested (irq) spin: the outer is lost */
		*old = st;
		return 0;
	}
	tid = (__u32)pid_tgid;
	old = bpf_map_lookup_elem(&lock_start, &tid);
	if (old && old->lock == lock && old->ts) {
		old->flags = flags;	/* mutex: spinning -> sleeping, same wait */
		return 0;
	}
	if (bpf_map_update_elem(&lock_start, &tid, &st, BPF_ANY))
		v2_count(V2_C_LOST_MAPFULL);
	return 0;
}

static __always_inline int on_end(__u64 lock)
{
	const struct v2_config *cfg;
	struct lock_start *st;
	__u64 now, delta;
	__u32 tid, zero = 0, kind, tgid, flags;
	bool spin = false;

	tid = (__u32)bpf_get_current_pid_tgid();
	st = bpf_map_lookup_elem(&lock_start, &tid);
	if (!st || st->lock != lock) {
		st = bpf_map_lookup_elem(&spin_start, &zero);
		if (!st || !st->ts)
			return 0;
		if (st->lock != lock) {
			v2_count(V2_C_MISSED_START);
			st->ts = 0;
			return 0;
		}
		spin = true;
	}
	now = bpf_ktime_get_ns();
	delta = now - st->ts;
	flags = st->flags;
	tgid = st->tgid;
	if (spin)
		st->ts = 0;
	else
		bpf_map_delete_elem(&lock_start, &tid);
	cfg = v2_cfg();
	if (!cfg || !cfg->enabled)
		return 0;
	kind = lock_kind(flags);
	v2_count(V2_C_SEEN);
	v2_count(V2_C_LOCK_WAITS(kind));
	v2_count_add(V2_C_LOCK_WAIT_NS(kind), delta);
	v2_pid_count_add(&pid_lock, &tgid, 1, delta);
	v2_record_at(kind, now, delta, lock, flags, cfg);
	return 0;
}

SEC("tp_btf/contention_begin")
int BPF_PROG(contention_begin_btf, void *lock, unsigned int flags)
{
	return on_begin((__u64)lock, flags);
}

SEC("?raw_tp/contention_begin")
int BPF_PROG(contention_begin_raw, void *lock, unsigned int flags)
{
	return on_begin((__u64)lock, flags);
}

SEC("tp_btf/contention_end")
int BPF_PROG(contention_end_btf, void *lock, int ret)
{
	return on_end((__u64)lock);
}

SEC("?raw_tp/contention_end")
int BPF_PROG(contention_end_raw, void *lock, int ret)
{
	return on_end((__u64)lock);
}
