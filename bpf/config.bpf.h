/* SPDX-License-Identifier: MIT */
/*
 * config.bpf.h — the family's runtime config and the filters it sets.
 *
 *   config       ARRAY[1]       struct v2_config, read on every hit; writes
 *                               take effect at once.
 *
 * v2_cfg() returns it; v2_filter() (current task), v2_filter_task() (another
 * task) and v2_filter_comm() (a tgid and a comm already read) apply its
 * targ_tgid / targ_cgroup / targ_comm.
 */
#ifndef V2_CONFIG_BPF_H
#define V2_CONFIG_BPF_H

#ifndef V2_COMMON_BPF_H
#error "include common.bpf.h (kernel types, libbpf helpers, v2probe.h) first"
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct v2_config);
} config SEC(".maps");

/* The family's runtime config, or NULL (never, for an ARRAY of 1). */
static __always_inline const struct v2_config *v2_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&config, &zero);
}

/* comm starts with cfg->targ_comm ("" matches everything). */
static __always_inline bool v2_comm_match(const struct v2_config *cfg, const char *comm)
{
#pragma unroll
	for (int i = 0; i < V2_COMM_LEN; i++) {
		char t = cfg->targ_comm[i];

		if (!t)
			return true;
		if (t != comm[i])
			return false;
	}
	return true;
}

/* Filters for a task given by tgid and an already-read comm (no cgroup check). */
static __always_inline bool v2_filter_comm(const struct v2_config *cfg, __u32 tgid,
					   const char *comm)
{
	if (cfg->targ_tgid && tgid != cfg->targ_tgid)
		return false;
	return v2_comm_match(cfg, comm);
}

/* Filters for the current task; reads comm only when a comm filter is set. */
static __always_inline bool v2_filter(const struct v2_config *cfg, __u64 pid_tgid)
{
	char comm[V2_COMM_LEN];

	if (cfg->targ_tgid && (__u32)(pid_tgid >> 32) != cfg->targ_tgid)
		return false;
	if (cfg->targ_cgroup && bpf_get_current_cgroup_id() != cfg->targ_cgroup)
		return false;
	if (!cfg->targ_comm[0])
		return true;
	bpf_get_current_comm(comm, sizeof(comm));
	return v2_comm_match(cfg, comm);
}

/* Filters for another task (e.g. the one being woken or switched in). */
static __always_inline bool v2_filter_task(const struct v2_config *cfg, __u32 tgid,
					   struct task_struct *task)
{
	char comm[V2_COMM_LEN];

	if (cfg->targ_tgid && tgid != cfg->targ_tgid)
		return false;
	if (cfg->targ_cgroup &&
	    BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id) != cfg->targ_cgroup)
		return false;
	if (!cfg->targ_comm[0])
		return true;
	if (bpf_probe_read_kernel_str(comm, sizeof(comm), &task->comm) < 0)
		return false;
	return v2_comm_match(cfg, comm);
}

#endif /* V2_CONFIG_BPF_H */
