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

/*
 * Probe family ids (enum v2_probe_id, the `probe` column), event kinds (enum
 * v2_<family>_event, the `event` column: numbered per family from 0, also the
 * histogram index and the per-event sampling slot) and each family's named
 * counter slots (V2_C_<FAMILY>_<NAME>): generated from the family descriptors
 * bpf/NAME.family.ts by bpf/gen.ts.
 */
#include "families.gen.h"

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
	V2_C_FAMILY = 8,	/* family slots: V2_C_<FAMILY>_<NAME> in families.gen.h */
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
