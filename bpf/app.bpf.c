// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * app — user-defined entry uprobes (`--uprobe BINARY:SYMBOL[:pair=SYMBOL2]`).
 *
 * One program, attached once per target with a cookie:
 *   cookie = target index (0..V2_APP_TARGETS-1) | role << 32
 *   role 0: count the call (calls[target], exact, per CPU)
 *   role 1: pair start: count, and remember the entry time for this thread
 *   role 2: pair end (SYMBOL2 of target): latency since the same thread's
 *           start, in hist (target index) and sampled rows
 * Entry uprobes only: safe on Go binaries. A Go goroutine may move to another
 * thread between the two entries; its pair is then not measured (counted in
 * V2_C_MISSED_START).
 *
 * Exact: calls_by_target[target] PERCPU (calls of SYMBOL), pair_ends[target]
 *        PERCPU (measured pairs), V2_C_SEEN all hits.
 * Rows:  V2_APP_CALL (role 0/1; sampled, value 0, arg0 target) and
 *        V2_APP_PAIR (role 2; value = ns, arg0 target).
 */
#define V2_THIS_PROBE V2_PROBE_APP
#include "common.bpf.h"

#define V2_APP_TARGETS 64

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, V2_APP_TARGETS);
	__type(key, __u32);
	__type(value, __u64);
} calls_by_target SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, V2_APP_TARGETS);
	__type(key, __u32);
	__type(value, __u64);
} pair_ends SEC(".maps");

struct pair_key {
	__u32 tid;
	__u32 target;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct pair_key);
	__type(value, __u64);
} pair_start SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(app_uprobe)
{
	const struct v2_config *cfg = v2_cfg();
	__u64 pid_tgid = bpf_get_current_pid_tgid(), cookie = bpf_get_attach_cookie(ctx);
	__u32 target = (__u32)cookie, role = cookie >> 32;
	struct pair_key pk;
	__u64 now, *c, *ts, delta;

	if (!cfg || !cfg->enabled || !v2_filter(cfg, pid_tgid))
		return 0;
	if (target >= V2_APP_TARGETS)
		return 0;
	v2_count(V2_C_SEEN);
	now = bpf_ktime_get_ns();
	pk.tid = (__u32)pid_tgid;
	pk.target = target;
	if (role != 2) {
		c = bpf_map_lookup_elem(&calls_by_target, &target);
		if (c)
			*c += 1;
		if (role == 1 && bpf_map_update_elem(&pair_start, &pk, &now, BPF_ANY))
			v2_count(V2_C_LOST_MAPFULL);
		v2_emit_at(V2_APP_CALL, now, 0, target, 0, cfg);
		return 0;
	}
	ts = bpf_map_lookup_elem(&pair_start, &pk);
	if (!ts) {
		v2_count(V2_C_MISSED_START);
		return 0;
	}
	delta = now - *ts;
	bpf_map_delete_elem(&pair_start, &pk);
	c = bpf_map_lookup_elem(&pair_ends, &target);
	if (c)
		*c += 1;
	v2_hist(target < V2_MAX_HISTS ? target : V2_MAX_HISTS - 1, delta);
	v2_emit_at(V2_APP_PAIR, now, delta, target, 0, cfg);
	return 0;
}
