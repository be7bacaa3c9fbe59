/* SPDX-License-Identifier: MIT */
/*
 * rtt.bpf.h — what the rtt family (bpf/rtt.bpf.c) hands to userspace
 * (explain/breakdown.ts mirrors it). Fixed-width fields only.
 */
#ifndef V2_RTT_BPF_H
#define V2_RTT_BPF_H

/* Where a thread's time goes (per-thread cumulative ns, index into cum[]). */
enum v2_rtt_comp {
	V2_RTT_ONCPU = 0,	/* running */
	V2_RTT_RUNQ = 1,	/* runnable, waiting for a CPU (woken or preempted) */
	V2_RTT_FUTEX = 2,	/* blocked inside futex() (user locks; Go: parked M) */
	V2_RTT_LOCK = 3,	/* blocked between lock:contention_begin/end */
	V2_RTT_IO = 4,		/* blocked in fsync/fdatasync/sync_file_range or in D state (not a fault) */
	V2_RTT_PAGEFAULT = 5,	/* blocked (D state) inside a user page fault */
	V2_RTT_GC = 6,		/* blocked while its Go process is stopped by a STW */
	V2_RTT_OTHER = 7,	/* any other sleep (socket waits, epoll, nanosleep) */
	V2_RTT_NCOMP = 8,
};

/* Points of one sampled round trip; records of one trip share `id`. */
enum v2_rtt_stage {
	V2_RTT_CLIENT_SEND = 0,	/* the client's request write/sendmsg returned */
	V2_RTT_BROKER_RECV = 1,	/* the broker's read that returned the request */
	V2_RTT_BROKER_REPLY = 2,/* the broker's reply write returned */
	V2_RTT_CLIENT_RECV = 3,	/* the client's read that returned the reply */
	V2_RTT_STW = 4,		/* a non-GC Go stop-the-world of a broker: ts_enter..ts_exit */
	V2_RTT_GC_CYCLE = 5,	/* a Go GC window of a broker (cycle / runtime.GC call) */
	V2_RTT_GC_OPEN = 6,	/* such a window started at ts_enter (its record comes at its end) */
};

/* Roles of a process in map procs (key tgid). */
#define V2_RTT_ROLE_BROKER 1
#define V2_RTT_ROLE_CLIENT 2

/* One ring-buffer record of the rtt family: 160 bytes. */
struct v2_rtt_rec {
	__u64 id;		/*   0 round trip id (same in its 4 records) */
	__u64 ts_enter;		/*   8 syscall entry (CLOCK_MONOTONIC ns) */
	__u64 ts_exit;		/*  16 syscall exit */
	__u64 cum[V2_RTT_NCOMP];/*  24 the thread's cumulative ns per component at ts_exit */
	__u64 wake_ts;		/*  88 start of the thread's last run-queue wait */
	__u64 run_ts;		/*  96 end of it (switched in); < wake_ts: still waiting / none */
	__u64 sk;		/* 104 the socket (kernel address) */
	__u32 pid;		/* 112 */
	__u32 tid;		/* 116 */
	__u32 stage;		/* 120 enum v2_rtt_stage */
	__s32 ret;		/* 124 syscall return value */
	char comm[16];		/* 128 */
	__u64 blocked_ns;	/* 144 BROKER_REPLY: the longest block while serving (ns) */
	__s32 blocked_stack;	/* 152 its user stack id in map rtt_stacks (< 0: none) */
	__u32 blocked_comp;	/* 156 its enum v2_rtt_comp */
};

#endif /* V2_RTT_BPF_H */
