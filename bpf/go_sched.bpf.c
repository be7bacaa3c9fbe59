// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * go_sched — goroutines created and exited, from entry uprobes:
 *   go_newproc   runtime.newproc1(fn *funcval, ...) entry (fn in RAX)
 *   go_goexit    runtime.goexit1 entry (the goroutine itself, on its stack)
 *
 * Exact:  goroutines[tgid] struct v2_go_sched_proc (created, exited, and of
 *         created those whose start function is a runtime.* system goroutine,
 *         which runtime.NumGoroutine() does not count), counters
 *         V2_C_GO_SCHED_GOROUTINES_CREATED, V2_C_GO_SCHED_GOROUTINES_EXITED.
 *         System start functions: sys_pcs[{cookie, pc}] filled by userspace
 *         with the entry PCs of the binary's runtime.* functions; the cookie
 *         of the go_newproc uprobe identifies the binary.
 * Rows (sampled, default 1:1000): create: value = 0, arg0 = start pc;
 *         exit: value = 0.
 */
#define V2_THIS_PROBE V2_PROBE_GO_SCHED
#include "common.bpf.h"
#include "go_runtime.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct v2_go_sched_proc);
} goroutines SEC(".maps");

struct v2_go_pc_key {
	__u64 binary;	/* attach cookie */
	__u64 pc;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct v2_go_pc_key);
	__type(value, __u8);
} sys_pcs SEC(".maps");

static __always_inline struct v2_go_sched_proc *proc_state(__u32 tgid)
{
	static const struct v2_go_sched_proc zero;

	return v2_map_get_or_init(&goroutines, &tgid, &zero);
}

/* The calling process's counts, when the family is on and the process passes the filter. */
static __always_inline struct v2_go_sched_proc *traced_proc(const struct v2_config *cfg)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (!cfg || !cfg->enabled || !v2_filter(cfg, pid_tgid))
		return NULL;
	return proc_state(pid_tgid >> 32);
}

SEC("uprobe")
int BPF_KPROBE(go_newproc)
{
	const struct v2_config *cfg = v2_cfg();
	struct v2_go_sched_proc *s = traced_proc(cfg);
	struct v2_go_pc_key k = {};

	if (!s)
		return 0;
	__sync_fetch_and_add(&s->created, 1);
	v2_count(V2_C_SEEN);
	v2_count(V2_C_GO_SCHED_GOROUTINES_CREATED);
	k.binary = bpf_get_attach_cookie(ctx);
	if (bpf_probe_read_user(&k.pc, sizeof(k.pc), (void *)ctx->ax) == 0 &&
	    bpf_map_lookup_elem(&sys_pcs, &k))
		__sync_fetch_and_add(&s->created_system, 1);
	v2_emit(V2_GO_SCHED_CREATE, 0, k.pc, 0, cfg);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(go_goexit)
{
	const struct v2_config *cfg = v2_cfg();
	struct v2_go_sched_proc *s = traced_proc(cfg);

	if (!s)
		return 0;
	__sync_fetch_and_add(&s->exited, 1);
	v2_count(V2_C_SEEN);
	v2_count(V2_C_GO_SCHED_GOROUTINES_EXITED);
	v2_emit(V2_GO_SCHED_EXIT, 0, 0, 0, cfg);
	return 0;
}
