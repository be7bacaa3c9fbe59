// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * sched — context switches and run-queue latency (wakeup -> on CPU), after
 * libbpf-tools runqlat.bpf.c.
 *
 * Hooks: sched_switch, sched_wakeup, sched_wakeup_new. Each has a tp_btf
 * program (primary, <name>_btf) and a raw_tp fallback (<name>_raw) sharing
 * one __always_inline body. The fallbacks are declared with SEC("?...") so
 * they are NOT autoloaded by default: userspace turns the primaries off and
 * the fallbacks on with bpf_program__set_autoload() when tp_btf is missing.
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
 * Enqueue time by tid. LRU, not HASH: a task woken while still running that
 * then exits never switches in, and its entry would leak; LRU evicts such
 * stale entries first instead of filling the map for good.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} runq_start SEC(".maps");

/* task->__state since 5.14, task->state before (CO-RE). */
struct task_struct___o {
	volatile long state;
} __attribute__((preserve_access_index));

static __always_inline __u32 task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___o *)t, state);
}

static __always_inline int on_wakeup(struct task_struct *p)
{
	const struct v2_config *cfg = v2_cfg();
	__u32 pid, tgid;
	__u64 ts;

	if (!cfg || !cfg->enabled)
		return 0;
	v2_count(V2_C_SCHED_WAKEUPS);
	pid = BPF_CORE_READ(p, pid);
	if (!pid)
		return 0;
	tgid = BPF_CORE_READ(p, tgid);
	if (!v2_filter_task(cfg, tgid, p))
		return 0;
	ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&runq_start, &pid, &ts, BPF_ANY))
		v2_count(V2_C_LOST_MAPFULL);
	return 0;
}

/* prev is current here: the tracepoint fires before the context switch. */
static __always_inline int on_switch(bool preempt, struct task_struct *prev,
				     struct task_struct *next)
{
	const struct v2_config *cfg = v2_cfg();
	__u32 prev_pid, prev_tgid, next_pid, next_tgid, state, weight;
	__u64 pid_tgid, now = 0, delta, *tsp;
	struct v2_event *e;
	bool runnable;

	if (!cfg || !cfg->enabled)
		return 0;
	v2_count(V2_C_SCHED_SWITCHES);

	pid_tgid = bpf_get_current_pid_tgid();
	prev_pid = (__u32)pid_tgid;
	prev_tgid = pid_tgid >> 32;
	if (prev_pid) {
		state = task_state(prev);
		runnable = preempt || state == V2_TASK_RUNNING;
		v2_pid_count_add(&pid_switches, &prev_tgid, 1, runnable);
		if (v2_filter(cfg, pid_tgid)) {
			if (runnable) {
				now = bpf_ktime_get_ns();
				if (bpf_map_update_elem(&runq_start, &prev_pid, &now, BPF_ANY))
					v2_count(V2_C_LOST_MAPFULL);
			}
			if (v2_sample(V2_SCHED_SWITCH, 0, cfg, &weight)) {
				if (!now)
					now = bpf_ktime_get_ns();
				next_pid = BPF_CORE_READ(next, pid);
				v2_submit(V2_SCHED_SWITCH, now, 0, state, next_pid, weight);
			}
		}
	}

	next_pid = BPF_CORE_READ(next, pid);
	if (!next_pid)
		return 0;
	next_tgid = BPF_CORE_READ(next, tgid);
	if (cfg->targ_tgid && next_tgid != cfg->targ_tgid)
		return 0;	/* no entry can exist: save the lookup */
	tsp = bpf_map_lookup_elem(&runq_start, &next_pid);
	if (!tsp)
		return 0;
	if (!now)
		now = bpf_ktime_get_ns();
	delta = now - *tsp;
	bpf_map_delete_elem(&runq_start, &next_pid);
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
	return on_switch(preempt, prev, next);
}

SEC("?raw_tp/sched_switch")
int BPF_PROG(sched_switch_raw, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	return on_switch(preempt, prev, next);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup_btf, struct task_struct *p)
{
	return on_wakeup(p);
}

SEC("?raw_tp/sched_wakeup")
int BPF_PROG(sched_wakeup_raw, struct task_struct *p)
{
	return on_wakeup(p);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new_btf, struct task_struct *p)
{
	return on_wakeup(p);
}

SEC("?raw_tp/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new_raw, struct task_struct *p)
{
	return on_wakeup(p);
}
