// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * sched — context switches and run-queue latency (wakeup -> on CPU), after
 * libbpf-tools runqlat.bpf.c.
 *
 * Hooks: sched_switch, sched_wakeup, sched_wakeup_new. Each has a tp_btf
 * program (primary, <name>_btf: direct task loads, enqueue time in task
 * storage) and a raw_tp fallback (<name>_raw: bpf_probe_read_kernel, enqueue
 * time in an LRU hash) sharing one __always_inline body. The fallbacks are
 * declared with SEC("?...") so they are NOT autoloaded by default. To fall
 * back: autoload off *_btf, on *_raw, and, where the kernel has no task
 * storage (< 5.11), autocreate off for runq_task_start (only _btf uses it).
 *
 * Exact, unfiltered (compare with /proc/stat ctxt):
 *   counters[V2_C_SCHED_SWITCHES]  every sched_switch
 *   counters[V2_C_SCHED_WAKEUPS]   every sched_wakeup + sched_wakeup_new
 *   pid_switches[tgid]             switches out of any thread of tgid:
 *                                  count = all, total = the involuntary ones
 *                                  (prev still runnable: preempted or
 *                                  TASK_RUNNING). Idle (pid 0) is skipped.
 *                                  Never deleted: userspace prunes dead tgids.
 * Filtered (cfg tgid/comm of the task that waited):
 *   V2_C_SEEN, V2_C_SCHED_RUNQ_NS  run-queue waits measured and their ns sum
 *   hist V2_SCHED_RUNQ             log2 histogram of every wait
 *   rows V2_SCHED_RUNQ             sampled: value = wait ns, arg0 = cpu,
 *                                  arg1 = prev pid; pid/tid/comm = the waiter
 *   rows V2_SCHED_SWITCH           sampled, filtered on prev: value = 0,
 *                                  arg0 = prev task state, arg1 = next pid;
 *                                  pid/tid/comm = prev
 */
#define V2_THIS_PROBE V2_PROBE_SCHED
#include "common.bpf.h"

#define V2_TASK_RUNNING 0

/* Per-tgid switch counts (see above). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct v2_pid_count);
} pid_switches SEC(".maps");

/*
 * Enqueue time of a task. _btf programs: task-local storage (no hash insert
 * or delete on the hot path, freed with the task). _raw programs: an LRU
 * hash by tid; LRU, not HASH, because a task woken while still running that
 * then exits never switches in, and its entry would otherwise leak.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} runq_task_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} runq_start SEC(".maps");

/* Remember that task (pid) became runnable at ts. */
static __always_inline void runq_set(const bool btf, struct task_struct *t, __u32 pid,
				     __u64 ts)
{
	__u64 *slot;

	if (btf) {
		slot = bpf_task_storage_get(&runq_task_start, t, NULL,
					    BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (slot)
			*slot = ts;
		else
			v2_count(V2_C_LOST_MAPFULL);
	} else if (bpf_map_update_elem(&runq_start, &pid, &ts, BPF_ANY)) {
		v2_count(V2_C_LOST_MAPFULL);
	}
}

/* When did task (pid) become runnable? 0: not recorded. Clears the record. */
static __always_inline __u64 runq_take(const bool btf, struct task_struct *t, __u32 pid)
{
	__u64 *slot, ts;

	if (btf) {
		slot = bpf_task_storage_get(&runq_task_start, t, NULL, 0);
		if (!slot)
			return 0;
		ts = *slot;
		*slot = 0;
		return ts;
	}
	slot = bpf_map_lookup_elem(&runq_start, &pid);
	if (!slot)
		return 0;
	ts = *slot;
	bpf_map_delete_elem(&runq_start, &pid);
	return ts;
}

/* task->__state since 5.14, task->state before (CO-RE). */
struct task_struct___o {
	volatile long state;
} __attribute__((preserve_access_index));

static __always_inline __u32 task_state(const bool btf, struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return V2_READ(btf, t, __state);
	return BPF_CORE_READ((struct task_struct___o *)t, state);
}

static __always_inline int on_wakeup(const bool btf, struct task_struct *p)
{
	const struct v2_config *cfg = v2_cfg();
	__u32 pid, tgid;

	if (!cfg || !cfg->enabled)
		return 0;
	v2_count(V2_C_SCHED_WAKEUPS);
	pid = V2_READ(btf, p, pid);
	if (!pid)
		return 0;
	tgid = V2_READ(btf, p, tgid);
	if (!v2_filter_task(cfg, tgid, p))
		return 0;
	runq_set(btf, p, pid, bpf_ktime_get_ns());
	return 0;
}

/* prev is current here: the tracepoint fires before the context switch. */
static __always_inline int on_switch(const bool btf, bool preempt, struct task_struct *prev,
				     struct task_struct *next)
{
	const struct v2_config *cfg = v2_cfg();
	__u32 prev_pid, prev_tgid, next_pid, next_tgid, state, weight;
	__u64 pid_tgid, now = 0, delta, ts;
	struct v2_event *e;
	bool runnable;

	if (!cfg || !cfg->enabled)
		return 0;
	v2_count(V2_C_SCHED_SWITCHES);

	pid_tgid = bpf_get_current_pid_tgid();
	prev_pid = (__u32)pid_tgid;
	prev_tgid = pid_tgid >> 32;
	if (prev_pid) {
		state = task_state(btf, prev);
		runnable = preempt || state == V2_TASK_RUNNING;
		v2_pid_count_add(&pid_switches, &prev_tgid, 1, runnable);
		if (v2_filter(cfg, pid_tgid)) {
			if (runnable) {
				now = bpf_ktime_get_ns();
				runq_set(btf, prev, prev_pid, now);
			}
			if (v2_sample(V2_SCHED_SWITCH, 0, cfg, &weight)) {
				if (!now)
					now = bpf_ktime_get_ns();
				next_pid = V2_READ(btf, next, pid);
				v2_submit(V2_SCHED_SWITCH, now, 0, state, next_pid, weight);
			}
		}
	}

	next_pid = V2_READ(btf, next, pid);
	if (!next_pid)
		return 0;
	next_tgid = V2_READ(btf, next, tgid);
	if (cfg->targ_tgid && next_tgid != cfg->targ_tgid)
		return 0;	/* nothing was recorded for it: save the lookup */
	ts = runq_take(btf, next, next_pid);
	if (!ts)
		return 0;
	if (!now)
		now = bpf_ktime_get_ns();
	delta = now - ts;
	if ((__s64)delta < 0)
		return 0;

	v2_count(V2_C_SEEN);
	v2_count_add(V2_C_SCHED_RUNQ_NS, delta);
	v2_hist(V2_SCHED_RUNQ, delta);
	if (!v2_sample(V2_SCHED_RUNQ, delta, cfg, &weight))
		return 0;
	e = v2_reserve(V2_SCHED_RUNQ, now, delta, bpf_get_smp_processor_id(), prev_pid, weight);
	if (!e)
		return 0;
	e->pid = next_tgid;
	e->tid = next_pid;
	BPF_CORE_READ_STR_INTO(&e->comm, next, comm);
	v2_commit(e);
	return 0;
}

/*
 * sched_switch is (bool preempt, prev, next, unsigned int prev_state) since
 * 5.18, (preempt, prev, next) before: only the first three are read, prev's
 * state comes from the task itself, so both shapes load.
 */
SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch_btf, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	return on_switch(true, preempt, prev, next);
}

SEC("?raw_tp/sched_switch")
int BPF_PROG(sched_switch_raw, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	return on_switch(false, preempt, prev, next);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup_btf, struct task_struct *p)
{
	return on_wakeup(true, p);
}

SEC("?raw_tp/sched_wakeup")
int BPF_PROG(sched_wakeup_raw, struct task_struct *p)
{
	return on_wakeup(false, p);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new_btf, struct task_struct *p)
{
	return on_wakeup(true, p);
}

SEC("?raw_tp/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new_raw, struct task_struct *p)
{
	return on_wakeup(false, p);
}
