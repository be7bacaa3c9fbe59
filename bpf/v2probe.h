/* SPDX-License-Identifier: MIT */
/*
 * v2probe.h — the one definition of what crosses the kernel/user boundary.
 *
 * Included by every bpf/<family>.bpf.c and by native/. Fixed-width fields
 * only, no kernel includes (libbpf-bootstrap's bootstrap.h pattern).
 * The TypeScript event definition (schema/event.ts) mirrors this layout and
 * test/schema/layout.test.ts checks names, sizes and offsets against it.
 */
#ifndef V2PROBE_H
#define V2PROBE_H

#define V2_COMM_LEN 16
#define V2_HIST_SLOTS 32       /* log2 slots per histogram */
#define V2_MAX_HISTS 8         /* histograms per family */
#define V2_MAX_COUNTERS 32     /* exact counters per family */
#define V2_MAX_EVENTS 8        /* event kinds per family (for per-event sampling) */

/* Probe family ids: the `probe` column. Names live in schema/event.ts. */
enum v2_probe_id {
	V2_PROBE_UDS = 1,
	V2_PROBE_SCHED = 2,
	V2_PROBE_BLOCKIO = 3,
	V2_PROBE_SHM = 4,
	V2_PROBE_LOCK = 5,
	V2_PROBE_FUTEX = 6,
	V2_PROBE_PAGEFAULT = 7,
	V2_PROBE_KMEM = 8,
	V2_PROBE_FSYNC = 9,
	V2_PROBE_TCP = 10,
	V2_PROBE_CPUFREQ = 11,
	V2_PROBE_EMPTY = 15, /* bench baseline: empty programs on the same hooks */
	V2_PROBE_GO_GC = 16,
	V2_PROBE_GO_SCHED = 17,
	V2_PROBE_GO_MALLOC = 18,
	V2_PROBE_PROFILE = 19,
	V2_PROBE_APP = 20,
	V2_PROBE_OFFCPU = 21,
	V2_PROBE_RTT = 22, /* round-trip breakdown (bpf/rtt.bpf.c, struct in bpf/rtt.bpf.h) */
};

/*
 * Event kinds: the `event` column. Numbered per family from 0; the index is
 * also the histogram index and the per-event sampling slot.
 */
enum v2_uds_event { V2_UDS_SENDMSG = 0, V2_UDS_RECVMSG = 1, V2_UDS_CONNECT = 2,
		    V2_UDS_SENDTO = 3, V2_UDS_RECVFROM = 4,
		    /* opt-in (collect --uds-rw): read/write on AF_UNIX fds, what Go's UnixConn uses */
		    V2_UDS_READ = 5, V2_UDS_WRITE = 6 };
/* Go runtime and profiling families (bpf/go_*.bpf.c, profile, offcpu, app) */
enum v2_go_gc_event { V2_GO_GC_STW_SWEEP_TERM = 0, V2_GO_GC_STW_MARK_TERM = 1,
		      V2_GO_GC_STW_OTHER = 2, V2_GO_GC_CYCLE = 3 };
enum v2_go_sched_event { V2_GO_SCHED_CREATE = 0, V2_GO_SCHED_EXIT = 1 };
enum v2_go_malloc_event { V2_GO_MALLOC_ALLOC = 0 };
enum v2_app_event { V2_APP_CALL = 0, V2_APP_PAIR = 1 };
enum v2_sched_event { V2_SCHED_RUNQ = 0, V2_SCHED_SWITCH = 1 };
enum v2_blockio_event { V2_BLOCKIO_READ = 0, V2_BLOCKIO_WRITE = 1, V2_BLOCKIO_FLUSH = 2,
			V2_BLOCKIO_DISCARD = 3, V2_BLOCKIO_OTHER = 4 };
enum v2_shm_event { V2_SHM_MEMFD_CREATE = 0, V2_SHM_MMAP = 1, V2_SHM_MUNMAP = 2,
		    V2_SHM_FTRUNCATE = 3 };
enum v2_lock_event { V2_LOCK_SPIN = 0, V2_LOCK_MUTEX = 1, V2_LOCK_RWSEM_READ = 2,
		     V2_LOCK_RWSEM_WRITE = 3, V2_LOCK_OTHER = 4 };
enum v2_futex_event { V2_FUTEX_WAIT = 0, V2_FUTEX_WAIT_BITSET = 1, V2_FUTEX_LOCK_PI = 2,
		      V2_FUTEX_WAIT_REQUEUE_PI = 3 };
enum v2_pagefault_event { V2_PAGEFAULT_USER = 0, V2_PAGEFAULT_KERNEL = 1 };
enum v2_kmem_event { V2_KMEM_KMALLOC = 0, V2_KMEM_KFREE = 1 };
enum v2_fsync_event { V2_FSYNC_FSYNC = 0, V2_FSYNC_FDATASYNC = 1, V2_FSYNC_SYNC_FILE_RANGE = 2,
		      V2_FSYNC_WRITE = 3, V2_FSYNC_PWRITE = 4 };
enum v2_tcp_event { V2_TCP_CONNECT = 0, V2_TCP_CONNECT_FAIL = 1, V2_TCP_RETRANSMIT = 2,
		    V2_TCP_STATE = 3, V2_TCP_RTT = 4 };
enum v2_cpufreq_event { V2_CPUFREQ_FREQ = 0, V2_CPUFREQ_IDLE = 1 };

/*
 * Counter slots in each family's `counters` per-CPU array. Slots 0..7 are
 * common to every family; family-specific slots start at V2_C_FAMILY.
 */
enum v2_counter {
	V2_C_SEEN = 0,        /* hook hits that passed the filters */
	V2_C_SAMPLED = 1,     /* events chosen for the ring buffer */
	V2_C_LOST_RINGBUF = 2,/* bpf_ringbuf_reserve failed: ring full */
	V2_C_LOST_MAPFULL = 3,/* a state map (start times, per-pid) was full */
	V2_C_MISSED_START = 4,/* an exit/complete without a recorded start */
	V2_C_BURST_DROPPED = 5,/* sampled rows over the per-CPU token bucket (cfg burst_rate) */
	V2_C_FAMILY = 8,
	/* sched */
	V2_C_SCHED_SWITCHES = V2_C_FAMILY + 0, /* every sched_switch, unfiltered: compare /proc/stat ctxt */
	V2_C_SCHED_WAKEUPS = V2_C_FAMILY + 1,  /* every sched_wakeup + sched_wakeup_new, unfiltered */
	V2_C_SCHED_RUNQ_NS = V2_C_FAMILY + 2,  /* sum of measured run-queue waits (ns); their count is V2_C_SEEN */
	/* uds: exact calls per event kind at V2_C_FAMILY + event */
	/* blockio: exact completions per event kind at V2_C_FAMILY + event,
	 * bytes per event kind at V2_C_FAMILY + 8 + event */
};

/* Runtime options, key 0 of each family's `config` array map. Changing them
 * takes effect at once, no reload. */
struct v2_config {
	__u32 enabled;         /* 0: hooks return at once */
	__u32 targ_tgid;       /* 0: every process */
	__u32 sample_every;    /* 1-in-N events go to the ring buffer; 0 or 1: all */
	__u32 min_value;       /* outliers: events with value >= min_value (ns) always sampled; 0: off */
	char targ_comm[V2_COMM_LEN]; /* "": every comm */
	__u64 targ_cgroup;     /* 32 cgroup v2 id (inode number of the cgroup dir); 0: every cgroup */
	__u32 burst_rate;      /* 40 rows/s per CPU (token bucket refill); 0: no limit */
	__u32 burst_size;      /* 44 bucket depth (rows); 0: burst_rate */
};

/* One record in the ring buffer: 64 bytes, every family. */
struct v2_event {
	__u64 ts_ns;           /*  0 bpf_ktime_get_ns() at the end of the event (CLOCK_MONOTONIC) */
	__s64 value;           /*  8 ns for latencies, bytes for sizes */
	__u64 arg0;            /* 16 family-specific (schema/event.ts names it per family) */
	__u64 arg1;            /* 24 family-specific */
	__u32 pid;             /* 32 tgid */
	__u32 tid;             /* 36 */
	__u32 weight;          /* 40 real events this row stands for (>= 1) */
	__u8 probe;            /* 44 enum v2_probe_id */
	__u8 event;            /* 45 per-family event kind */
	__u16 cpu;             /* 46 */
	char comm[V2_COMM_LEN];/* 48 */
};

/* Per-process exact counts (sched: switches out; blockio: requests). */
struct v2_pid_count {
	__u64 count;
	__u64 total;           /* family-specific: ns runq wait, bytes, ... */
};

#endif /* V2PROBE_H */
