// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * go_malloc — Go heap allocations: entry uprobe on
 * runtime.mallocgc(size uintptr, typ *_type, needzero bool) (size in RAX).
 * Size 0 returns &zerobase without allocating (not in MemStats.Mallocs):
 * not counted.
 *
 * Exact:  counters V2_C_GO_MALLOC_MALLOCS calls, V2_C_GO_MALLOC_MALLOC_BYTES bytes; malloc_procs[tgid];
 *         hist 0: log2 of the requested size (bytes, not ns)
 * Rows (sampled, default 1:1000, weight = calls represented): value = size,
 *         arg0 = the *_type pointer (0: untyped / no pointers).
 */
#define V2_THIS_PROBE V2_PROBE_GO_MALLOC
#include "common.bpf.h"
#include "go_runtime.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct v2_go_malloc_proc);
} malloc_procs SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(go_mallocgc)
{
	const struct v2_config *cfg = v2_cfg();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 size = ctx->ax;
	__u32 tgid = pid_tgid >> 32;
	struct v2_go_malloc_proc *s;

	if (!size || !cfg || !cfg->enabled || !v2_filter(cfg, pid_tgid))
		return 0;
	v2_count(V2_C_SEEN);
	v2_count(V2_C_GO_MALLOC_MALLOCS);
	v2_count_add(V2_C_GO_MALLOC_MALLOC_BYTES, size);
	v2_hist(V2_GO_MALLOC_ALLOC, size);
	s = bpf_map_lookup_elem(&malloc_procs, &tgid);
	if (!s) {
		static const struct v2_go_malloc_proc zero;

		bpf_map_update_elem(&malloc_procs, &tgid, &zero, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&malloc_procs, &tgid);
	}
	if (s) {
		__sync_fetch_and_add(&s->calls, 1);
		__sync_fetch_and_add(&s->bytes, size);
	} else {
		v2_count(V2_C_LOST_MAPFULL);
	}
	v2_emit(V2_GO_MALLOC_ALLOC, size, ctx->bx, 0, cfg);
	return 0;
}
