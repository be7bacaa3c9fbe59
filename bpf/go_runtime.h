/* SPDX-License-Identifier: MIT */
/*
 * go_runtime.h — structs the Go runtime families (go_gc, go_sched,
 * go_malloc) share with userspace. Fixed-width fields, no kernel includes.
 */
#ifndef V2_GO_RUNTIME_H
#define V2_GO_RUNTIME_H

/* Go's stwReason (runtime/proc.go), stable since Go 1.21. */
#define V2_GO_STW_GC_MARK_TERM 1
#define V2_GO_STW_GC_SWEEP_TERM 2

/* go_gc: per-process GC totals, key tgid (map gc_procs). */
struct v2_go_gc_proc {
	__u64 cycles;          /* sweep-termination STWs: one per GC cycle */
	__u64 stw_gc_ns;       /* sum of GC STW pauses (sweep + mark termination) */
	__u64 stw_other;       /* non-GC stop-the-worlds (ReadMemStats, GOMAXPROCS, ...) */
	__u64 stw_other_ns;
	__u64 max_stw_ns;      /* longest GC STW pause */
	__u64 cycle_start_ns;  /* internal: start of the running cycle (0: none) */
	__u64 stw_start_ns;    /* internal: the running stop-the-world (0: none) */
	__u64 stw_reason;      /* internal */
};

/* go_sched: per-process goroutine counts, key tgid (map goroutines). */
struct v2_go_sched_proc {
	__u64 created;         /* runtime.newproc1 entries */
	__u64 exited;          /* runtime.goexit1 entries */
	__u64 created_system;  /* of created: runtime.* start functions (cookie-classified) */
	__u64 pad;
};

/* go_malloc: per-process allocations, key tgid (map malloc_procs). */
struct v2_go_malloc_proc {
	__u64 calls;           /* runtime.mallocgc entries (size > 0) */
	__u64 bytes;           /* requested bytes */
};

#endif /* V2_GO_RUNTIME_H */
