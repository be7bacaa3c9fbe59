/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * rtt_gowin.bpf.h — the rtt family's Go stop-the-world / GC windows: a part of
 * bpf/rtt.bpf.c, included there once (it uses the state that file defines).
 *
 * Go GC windows: entry uprobes on runtime.stopTheWorldWithSema (start;
 * stwReason in RAX) and runtime.startTheWorldWithSema (end), map stw[tgid].
 * A thread switched out while its process is stopped -> gc. Userspace gets
 * one window per GC cycle (V2_RTT_GC_CYCLE: the sweep-termination STW's
 * start to the mark-termination STW's end, concurrent mark included: its
 * workers hold Ps, so a woken goroutine waits for one) and one per other
 * stop-the-world (V2_RTT_STW). An explicit runtime.GC() (entry uprobe, end
 * at the return sites of its calls) is one V2_RTT_GC_CYCLE window too: it
 * also sweeps the whole heap on its caller's P before it returns.
 */
#ifndef V2_RTT_GOWIN_BPF_H
#define V2_RTT_GOWIN_BPF_H

/* ---- Go stop-the-world / GC cycles -------------------------------------- */

static __always_inline struct go_stw *stw_state(__u32 tgid)
{
	static const struct go_stw zero;

	return v2_map_get_or_init(&stw, &tgid, &zero);
}

/* A window record (ts_enter = start .. now; GC_OPEN: start = now) for a broker process. */
static __always_inline int emit_window(__u64 pid_tgid, __u64 start, __u32 stage)
{
	__u32 tgid = pid_tgid >> 32;
	struct v2_rtt_rec *r;

	if (!bpf_map_lookup_elem(&procs, &tgid))
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		v2_count(V2_C_LOST_RINGBUF);
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->ts_enter = start;
	r->ts_exit = bpf_ktime_get_ns();
	r->pid = tgid;
	r->tid = (__u32)pid_tgid;
	r->stage = stage;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	bpf_ringbuf_submit(r, v2_wakeup_flags(sizeof(*r)));
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(rtt_stw_start)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 now = bpf_ktime_get_ns();
	struct go_stw *w = stw_state(tgid);

	if (!w)
		return 0;
	w->stw_start = now;
	w->reason = ctx->ax;	/* Go ABIInternal: the first argument */
	if (w->reason == V2_GO_STW_GC_SWEEP_TERM) {
		w->cycle_start = now;
		return emit_window(bpf_get_current_pid_tgid(), now, V2_RTT_GC_OPEN);
	}
	return 0;
}

/* The end of a stop-the-world: for processes in procs, a record of the window
 * (ts_enter..ts_exit) so userspace can find what a request waiting for the
 * broker lost to it: the whole GC cycle at the mark-termination STW's end,
 * other stop-the-worlds by themselves (the sweep-termination one is inside
 * its cycle's window). */
SEC("uprobe")
int BPF_KPROBE(rtt_stw_end)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, stage;
	struct go_stw *w;
	__u64 start;

	w = bpf_map_lookup_elem(&stw, &tgid);
	if (!w || !w->stw_start)
		return 0;
	if (w->reason == V2_GO_STW_GC_SWEEP_TERM) {
		w->stw_start = 0;
		return 0;	/* the cycle goes on: concurrent mark */
	}
	if (w->reason == V2_GO_STW_GC_MARK_TERM && w->cycle_start) {
		start = w->cycle_start;
		stage = V2_RTT_GC_CYCLE;
	} else {
		start = w->stw_start;
		stage = V2_RTT_STW;
	}
	if (w->reason == V2_GO_STW_GC_MARK_TERM)
		w->cycle_start = 0;
	w->stw_start = 0;
	return emit_window(pid_tgid, start, stage);
}

SEC("uprobe")
int BPF_KPROBE(rtt_gc_call)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_stw *w = stw_state(tgid);

	if (w && !w->call_start) {
		w->call_start = bpf_ktime_get_ns();
		return emit_window(bpf_get_current_pid_tgid(), w->call_start, V2_RTT_GC_OPEN);
	}
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(rtt_gc_call_end)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct go_stw *w = bpf_map_lookup_elem(&stw, &tgid);
	__u64 start;

	if (!w || !w->call_start)
		return 0;
	start = w->call_start;
	w->call_start = 0;
	return emit_window(pid_tgid, start, V2_RTT_GC_CYCLE);
}

/* Go broker, optional (costs a uprobe hit per park): where a serving goroutine parks. */
SEC("uprobe")
int BPF_KPROBE(rtt_gopark)
{
	struct rtt_task *a = bpf_task_storage_get(&acct, bpf_get_current_task_btf(), NULL, 0);

	if (a && a->serving)
		a->park_stack = bpf_get_stackid(ctx, &rtt_stacks, BPF_F_USER_STACK);
	return 0;
}

#endif /* V2_RTT_GOWIN_BPF_H */
