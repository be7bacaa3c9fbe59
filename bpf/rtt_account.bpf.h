/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * rtt_account.bpf.h — the rtt family's per-thread accounting: a part of
 * bpf/rtt.bpf.c, included there once (it uses the state that file defines).
 *
 * Per-thread accounting (task storage `acct`, only for threads of the
 * processes in map `procs`: brokers, put there by userspace, and clients,
 * added when they send a sampled request to a broker). Time is cut into
 * intervals at sched_switch, sched_wakeup(_new) and at the stage records'
 * snapshots (rtt_pair.bpf.h); each interval goes to one component (enum
 * v2_rtt_comp): on-CPU while switched in; at switch-out the thread's off-CPU time is classified by why
 * it left: preempted/runnable -> runq, process in a Go stop-the-world -> gc,
 * inside lock:contention_begin..end -> lock, inside futex() -> futex,
 * inside fsync/fdatasync/sync_file_range (on or off CPU) -> io,
 * still inside a user page fault (exceptions:page_fault_user, and the
 * task's saved user registers still at the faulting ip) -> pagefault (the
 * fault's blocked time, e.g. a major fault reading the page or waiting for
 * userfaultfd; its on-CPU part stays oncpu), other TASK_UNINTERRUPTIBLE -> io,
 * else other; a wakeup ends that interval and starts a runq one. Cost per
 * switch of an untracked thread: two task-storage lookups.
 */
#ifndef V2_RTT_ACCOUNT_BPF_H
#define V2_RTT_ACCOUNT_BPF_H

/* Close the thread's open interval at now and open one of component comp. */
static __always_inline void acct_close(struct rtt_task *a, __u64 now, __u32 comp)
{
	__u32 cur = a->cur;

	if (a->last_ts && now > a->last_ts && cur < V2_RTT_NCOMP)
		a->cum[cur & (V2_RTT_NCOMP - 1)] += now - a->last_ts;
	a->last_ts = now;
	if (comp == V2_RTT_RUNQ && cur != V2_RTT_RUNQ)
		a->wake_ts = now;
	if (cur == V2_RTT_RUNQ && comp == V2_RTT_ONCPU)
		a->run_ts = now;
	a->cur = comp;
}

static __always_inline struct rtt_task *acct_create(void)
{
	struct rtt_task *a = bpf_task_storage_get(&acct, bpf_get_current_task_btf(), NULL,
						  BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!a) {
		v2_count(V2_C_LOST_MAPFULL);
		return NULL;
	}
	if (!a->last_ts) {
		a->last_ts = bpf_ktime_get_ns();
		a->cur = V2_RTT_ONCPU;
	}
	return a;
}

/* A block of a serving thread ends (woken, or switched in without a wakeup). */
static __always_inline void block_end(struct rtt_task *a, __u64 now)
{
	__u64 d;

	if (!a->blk_ts)
		return;
	d = now > a->blk_ts ? now - a->blk_ts : 0;
	if (a->serving && d > a->best_ns) {
		a->best_ns = d;
		a->best_stack = a->blk_stack;
		a->best_comp = a->blk_comp;
	}
	a->blk_ts = 0;
}

/*
 * Is the task still inside its last user page fault? Its user registers
 * (saved at kernel entry) still show the faulting instruction then; once the
 * fault has returned, any later kernel entry (syscall, interrupt, the next
 * fault) saved other registers. A fault ended is forgotten.
 */
static __always_inline bool in_fault(struct task_struct *t, struct rtt_task *a)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);

	if (regs && regs->ip == a->pf_ip)
		return true;
	a->flags &= ~F_PGFAULT;
	return false;
}

/* ---- per-thread accounting --------------------------------------------- */

SEC("tp_btf/sched_switch")
int BPF_PROG(rtt_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct rtt_task *a;
	__u64 now = 0;
	__u32 state, comp, tgid;
	struct go_stw *w;

	a = bpf_task_storage_get(&acct, prev, NULL, 0);
	if (a) {
		now = bpf_ktime_get_ns();
		state = prev->__state;
		tgid = prev->tgid;
		if (preempt || state == V2_TASK_RUNNING)
			comp = V2_RTT_RUNQ;
		else if ((w = bpf_map_lookup_elem(&stw, &tgid)) && w->stw_start)
			comp = V2_RTT_GC;
		else if (a->flags & F_LOCK)
			comp = V2_RTT_LOCK;
		else if (a->flags & F_FUTEX)
			comp = V2_RTT_FUTEX;
		else if (a->flags & F_IO)
			comp = V2_RTT_IO;
		else if ((a->flags & F_PGFAULT) && in_fault(prev, a))
			comp = V2_RTT_PAGEFAULT;
		else if (state & V2_TASK_UNINTERRUPTIBLE)
			comp = V2_RTT_IO;
		else
			comp = V2_RTT_OTHER;
		acct_close(a, now, comp);
		if (a->serving && comp != V2_RTT_RUNQ) {
			/* prev is current: its user stack is where it blocked */
			a->blk_ts = now;
			a->blk_comp = comp;
			if (a->park_stack >= 0)
				a->blk_stack = a->park_stack;
			else
				a->blk_stack = bpf_get_stackid(ctx, &rtt_stacks, BPF_F_USER_STACK);
			a->park_stack = -1;
		}
	}
	a = bpf_task_storage_get(&acct, next, NULL, 0);
	if (a) {
		if (!now)
			now = bpf_ktime_get_ns();
		block_end(a, now);
		acct_close(a, now, (a->flags & F_IO) ? V2_RTT_IO : V2_RTT_ONCPU);
	}
	return 0;
}

static __always_inline int on_wakeup(struct task_struct *p)
{
	struct rtt_task *a = bpf_task_storage_get(&acct, p, NULL, 0);
	__u64 now;

	if (a && a->cur != V2_RTT_ONCPU && a->cur != V2_RTT_RUNQ) {
		now = bpf_ktime_get_ns();
		block_end(a, now);
		acct_close(a, now, V2_RTT_RUNQ);
	}
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(rtt_wakeup, struct task_struct *p)
{
	return on_wakeup(p);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(rtt_wakeup_new, struct task_struct *p)
{
	return on_wakeup(p);
}

static __always_inline int set_flag(__u32 flag, bool on)
{
	struct rtt_task *a = bpf_task_storage_get(&acct, bpf_get_current_task_btf(), NULL, 0);

	if (a) {
		if (on)
			a->flags |= flag;
		else
			a->flags &= ~flag;
	}
	return 0;
}

/* Inside fsync & co. the thread's on-CPU time is I/O work too: io, not oncpu. */
static __always_inline int set_io(bool on)
{
	struct rtt_task *a = bpf_task_storage_get(&acct, bpf_get_current_task_btf(), NULL, 0);

	if (a) {
		acct_close(a, bpf_ktime_get_ns(), on ? V2_RTT_IO : V2_RTT_ONCPU);
		if (on)
			a->flags |= F_IO;
		else
			a->flags &= ~F_IO;
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_futex")
int rtt_futex_enter(void *ctx) { return set_flag(F_FUTEX, true); }
SEC("tracepoint/syscalls/sys_exit_futex")
int rtt_futex_exit(void *ctx) { return set_flag(F_FUTEX, false); }
SEC("tracepoint/syscalls/sys_enter_fsync")
int rtt_fsync_enter(void *ctx) { return set_io(true); }
SEC("tracepoint/syscalls/sys_exit_fsync")
int rtt_fsync_exit(void *ctx) { return set_io(false); }
SEC("tracepoint/syscalls/sys_enter_fdatasync")
int rtt_fdatasync_enter(void *ctx) { return set_io(true); }
SEC("tracepoint/syscalls/sys_exit_fdatasync")
int rtt_fdatasync_exit(void *ctx) { return set_io(false); }
SEC("tracepoint/syscalls/sys_enter_sync_file_range")
int rtt_sfr_enter(void *ctx) { return set_io(true); }
SEC("tracepoint/syscalls/sys_exit_sync_file_range")
int rtt_sfr_exit(void *ctx) { return set_io(false); }

SEC("tracepoint/exceptions/page_fault_user")
int rtt_pagefault(struct trace_event_raw_exceptions *ctx)
{
	struct rtt_task *a = bpf_task_storage_get(&acct, bpf_get_current_task_btf(), NULL, 0);

	if (a) {
		a->flags |= F_PGFAULT;
		a->pf_ip = ctx->ip;
	}
	return 0;
}

SEC("tp_btf/contention_begin")
int BPF_PROG(rtt_lock_begin, void *lock, unsigned int flags) { return set_flag(F_LOCK, true); }
SEC("tp_btf/contention_end")
int BPF_PROG(rtt_lock_end, void *lock, int ret) { return set_flag(F_LOCK, false); }

#endif /* V2_RTT_ACCOUNT_BPF_H */
