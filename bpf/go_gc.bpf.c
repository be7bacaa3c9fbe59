// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * go_gc — Go GC cycles and stop-the-world pauses, from entry uprobes only
 * (never uretprobes: Go moves goroutine stacks, a uretprobe corrupts them).
 *
 *   go_stop_world   runtime.stopTheWorldWithSema(reason stwReason) entry:
 *                   remember ts and reason (Go ABIInternal: reason in RAX)
 *   go_start_world  the end of the pause, where the runtime itself ends it
 *                   (gctrace, runtime/metrics /sched/pauses): the GC
 *                   mark-termination pause ends at the entry of
 *                   runtime.startTheWorldWithSema (its `now` is taken before
 *                   the call), every other pause when startTheWorldWithSema
 *                   has restarted the Ps, i.e. at the return addresses of the
 *                   calls to it (the instruction after each CALL: a plain
 *                   entry-style uprobe, no uretprobe). Cookie bits 32..: 1 =
 *                   entry site of that plan, 2 = after-call site, 0 = the
 *                   fallback plan's entry site (ends every pause; the restart
 *                   is then not counted).
 *
 * Only one stop-the-world runs per process at a time (worldsema), so the
 * state is per tgid. A GC cycle starts with the sweep-termination STW and
 * ends with the end of the mark-termination STW.
 *
 * Exact:  counters  V2_C_GO_GC_GC_CYCLES, V2_C_GO_GC_GC_STW_NS, V2_C_GO_GC_STW_OTHER
 *                   (other STWs), V2_C_GO_GC_STW_OTHER_NS
 *         gc_procs[tgid] struct v2_go_gc_proc
 *         hists     per event kind (STW pauses, cycle durations)
 * Rows (every one, sample_every 1 by default): value = ns; arg0 = stwReason
 *         (cycles: 0); arg1 = the process's cycle number.
 */
#define V2_THIS_PROBE V2_PROBE_GO_GC
#include "common.bpf.h"
#include "go_runtime.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct v2_go_gc_proc);
} gc_procs SEC(".maps");

static __always_inline struct v2_go_gc_proc *proc_state(__u32 tgid)
{
	static const struct v2_go_gc_proc zero;

	return v2_map_get_or_init(&gc_procs, &tgid, &zero);
}

SEC("uprobe")
int BPF_KPROBE(go_stop_world)
{
	const struct v2_config *cfg = v2_cfg();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct v2_go_gc_proc *s;

	if (!cfg || !cfg->enabled || !v2_filter(cfg, pid_tgid))
		return 0;
	s = proc_state(pid_tgid >> 32);
	if (!s)
		return 0;
	s->stw_reason = ctx->ax;
	s->stw_start_ns = bpf_ktime_get_ns();
	if (s->stw_reason == V2_GO_STW_GC_SWEEP_TERM) {
		s->cycles++;
		s->cycle_start_ns = s->stw_start_ns;
		v2_count(V2_C_GO_GC_GC_CYCLES);
	}
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(go_start_world)
{
	const struct v2_config *cfg = v2_cfg();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, ev;
	__u64 now, start, delta, reason;
	struct v2_go_gc_proc *s;

	if (!cfg || !cfg->enabled || !v2_filter(cfg, pid_tgid))
		return 0;
	s = bpf_map_lookup_elem(&gc_procs, &tgid);
	if (!s)
		return 0;
	start = s->stw_start_ns;
	if (!start)
		return 0;	/* no stop seen (attached mid-STW), or ended already */
	/* entry site of the precise plan: only the mark-termination pause ends here */
	if ((bpf_get_attach_cookie(ctx) >> 32) == 1 && s->stw_reason != V2_GO_STW_GC_MARK_TERM)
		return 0;
	s->stw_start_ns = 0;
	now = bpf_ktime_get_ns();
	delta = now - start;
	reason = s->stw_reason;
	v2_count(V2_C_SEEN);
	if (reason == V2_GO_STW_GC_SWEEP_TERM)
		ev = V2_GO_GC_STW_SWEEP_TERM;
	else if (reason == V2_GO_STW_GC_MARK_TERM)
		ev = V2_GO_GC_STW_MARK_TERM;
	else
		ev = V2_GO_GC_STW_OTHER;
	if (ev == V2_GO_GC_STW_OTHER) {
		s->stw_other++;
		s->stw_other_ns += delta;
		v2_count(V2_C_GO_GC_STW_OTHER);
		v2_count_add(V2_C_GO_GC_STW_OTHER_NS, delta);
	} else {
		s->stw_gc_ns += delta;
		if (delta > s->max_stw_ns)
			s->max_stw_ns = delta;
		v2_count_add(V2_C_GO_GC_GC_STW_NS, delta);
	}
	v2_record_at(ev, now, delta, reason, s->cycles, cfg);
	if (ev == V2_GO_GC_STW_MARK_TERM && s->cycle_start_ns) {
		delta = now - s->cycle_start_ns;
		v2_record_at(V2_GO_GC_CYCLE, now, delta, 0, s->cycles, cfg);
	}
	return 0;
}
