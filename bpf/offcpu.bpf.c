// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * offcpu — where tasks wait: time off CPU by stack (after libbpf-tools
 * offcputime.bpf.c).
 *
 * tp_btf/sched_switch: when a task that passes the filters (config
 * tgid/comm) is switched out, its user and kernel stack ids (taken there:
 * prev is current) and the time are kept in task storage; when it is
 * switched in again, the time it was off CPU is added to
 * stack_counts[{pid, tid?, user id, kernel id, comm}] (ns). Waits shorter
 * than config min_value ns are skipped (0: all). Preempted tasks (still
 * runnable) are skipped too unless v2_include_runnable: off-CPU means
 * blocked.
 *
 * Exact:  V2_C_SEEN waits added, V2_C_OFFCPU_OFFCPU_NS ns added,
 *         V2_C_LOST_MAPFULL stack_counts full, V2_C_OFFCPU_STACK_LOST stack ids lost
 */
#define V2_THIS_PROBE V2_PROBE_OFFCPU
#include "common.bpf.h"
#include "stacks.bpf.h"

struct offcpu_start {
	__u64 ts;
	__s32 user_stack_id;
	__s32 kern_stack_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct offcpu_start);
} offcpu_task SEC(".maps");

const volatile bool v2_per_thread = false;
const volatile bool v2_include_runnable = false;

SEC("tp_btf/sched_switch")
int BPF_PROG(offcpu_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	const struct v2_config *cfg = v2_cfg();
	__u64 pid_tgid = bpf_get_current_pid_tgid(), now, delta, *val;
	struct offcpu_start *st;
	struct v2_stack_key key = {};
	__u32 next_tgid;

	if (!cfg || !cfg->enabled)
		return 0;
	/* prev (current) goes off CPU */
	if ((__u32)pid_tgid && v2_filter(cfg, pid_tgid) &&
	    (v2_include_runnable || (!preempt && prev->__state != 0))) {
		st = bpf_task_storage_get(&offcpu_task, prev, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (st) {
			st->ts = bpf_ktime_get_ns();
			st->user_stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
			st->kern_stack_id = bpf_get_stackid(ctx, &stack_traces, 0);
			if (st->kern_stack_id < 0 && st->kern_stack_id != -14)
				v2_count(V2_C_OFFCPU_STACK_LOST);
		}
	}
	/* next comes back */
	if (!next->pid)
		return 0;
	next_tgid = next->tgid;
	if (cfg->targ_tgid && next_tgid != cfg->targ_tgid)
		return 0;
	st = bpf_task_storage_get(&offcpu_task, next, NULL, 0);
	if (!st || !st->ts)
		return 0;
	now = bpf_ktime_get_ns();
	delta = now - st->ts;
	st->ts = 0;
	if ((__s64)delta < 0 || delta < cfg->min_value)
		return 0;
	key.pid = next_tgid;
	key.tid = v2_per_thread ? next->pid : 0;
	key.user_stack_id = st->user_stack_id;
	key.kern_stack_id = st->kern_stack_id;
	__builtin_memcpy(key.comm, next->comm, sizeof(key.comm));
	v2_count(V2_C_SEEN);
	v2_count_add(V2_C_OFFCPU_OFFCPU_NS, delta);
	val = bpf_map_lookup_elem(&stack_counts, &key);
	if (val) {
		__sync_fetch_and_add(val, delta);
	} else if (bpf_map_update_elem(&stack_counts, &key, &delta, BPF_NOEXIST)) {
		val = bpf_map_lookup_elem(&stack_counts, &key);
		if (val)
			__sync_fetch_and_add(val, delta);
		else
			v2_count(V2_C_LOST_MAPFULL);
	}
	return 0;
}
