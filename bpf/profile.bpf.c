// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * profile — on-CPU stacks for flame graphs (after libbpf-tools profile.bpf.c).
 *
 * profile_cpu runs on a cpu-clock perf event opened per CPU by userspace
 * (native attachPerfEvent, 99 Hz by default). For each sample of a task that
 * passes the filters (config tgid/comm) it takes the user and kernel stack
 * ids (bpf_get_stackid into `stack_traces`) and adds 1 to
 * stack_counts[{pid, user id, kernel id, comm}]: aggregated in the kernel,
 * read and cleared by userspace. Idle (pid 0) is skipped.
 *
 * Exact:  V2_C_SEEN samples counted, V2_C_PROFILE_USER_STACK_LOST
 *         (stack map full / collision), V2_C_PROFILE_KERN_STACK_LOST,
 *         V2_C_PROFILE_IDLE_SAMPLES
 *         V2_C_LOST_MAPFULL: stack_counts full
 * No ring-buffer rows.
 */
#define V2_THIS_PROBE V2_PROBE_PROFILE
#include "common.bpf.h"
#include "stacks.bpf.h"

/* Load-time: also key by thread (tid). */
const volatile bool v2_per_thread = false;

SEC("perf_event")
int profile_cpu(struct bpf_perf_event_data *ctx)
{
	const struct v2_config *cfg = v2_cfg();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct v2_stack_key key = {};
	static const __u64 one = 1;
	__u64 *val;

	if (!cfg || !cfg->enabled)
		return 0;
	if (!(__u32)pid_tgid) {
		v2_count(V2_C_PROFILE_IDLE_SAMPLES);
		return 0;
	}
	if (!v2_filter(cfg, pid_tgid))
		return 0;
	v2_count(V2_C_SEEN);
	key.pid = pid_tgid >> 32;
	key.tid = v2_per_thread ? (__u32)pid_tgid : 0;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	key.user_stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
	key.kern_stack_id = bpf_get_stackid(ctx, &stack_traces, 0);
	if (key.user_stack_id < 0 && key.user_stack_id != -14 /* EFAULT: no user stack */)
		v2_count(V2_C_PROFILE_USER_STACK_LOST);
	if (key.kern_stack_id < 0 && key.kern_stack_id != -14)
		v2_count(V2_C_PROFILE_KERN_STACK_LOST);
	val = bpf_map_lookup_elem(&stack_counts, &key);
	if (val) {
		__sync_fetch_and_add(val, 1);
	} else if (bpf_map_update_elem(&stack_counts, &key, &one, BPF_NOEXIST)) {
		val = bpf_map_lookup_elem(&stack_counts, &key);
		if (val)
			__sync_fetch_and_add(val, 1);
		else
			v2_count(V2_C_LOST_MAPFULL);
	}
	return 0;
}
