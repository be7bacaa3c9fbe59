// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * rtt — where the time of a client ↔ broker round trip over a Unix socket
 * went, on both ends.
 *
 * This file holds the state the parts share (the per-thread record, the
 * maps, the stack map) and includes them, in this order:
 *   rtt_account.bpf.h  per-thread accounting: where each thread's time goes
 *                      (on-CPU, run queue, futex, lock, io, page fault, gc)
 *   rtt_gowin.bpf.h    Go stop-the-world / GC windows of broker processes
 *   rtt_pair.bpf.h     round-trip pairing on the sockets: the four stage
 *                      records of a sampled request
 */
#define V2_THIS_PROBE V2_PROBE_RTT
#include "common.bpf.h"
#include "rtt.bpf.h"
#include "go_runtime.h"
#include "fd.bpf.h"
#define V2_STACK_TRACE_MAP_ONLY
#include "stacks.bpf.h"

#define V2_AF_UNIX 1
#define V2_TASK_RUNNING 0
#define V2_TASK_UNINTERRUPTIBLE 2

#define F_FUTEX 1
#define F_IO 2
#define F_LOCK 4
#define F_PGFAULT 8	/* a user page fault at pf_ip was taken (it may have returned since) */

#define K_WRITE 1
#define K_READ 2

#define ST_REQ 1
#define ST_SERVING 2
#define ST_REPLY 3

/* family counters */
#define C_STAGE(s) V2_C_RTT_STAGE(s)	/* records per stage */
#define C_AHEAD V2_C_RTT_READS_AHEAD	/* broker reads skipped as earlier messages */
#define C_REPLACED V2_C_RTT_PENDING_REPLACED	/* pending sample replaced by a newer one */

struct rtt_task {
	__u64 cum[V2_RTT_NCOMP];
	__u64 last_ts;
	__u64 wake_ts;
	__u64 run_ts;
	__u32 cur;
	__u32 flags;
	/* in-flight read/write on a unix socket */
	__u64 sys_ts;
	__u64 sys_sk;
	__u32 sys_kind;
	__u32 pad;
	/* broker thread serving a sampled request: its longest block, with the
	 * user stack it blocked at (taken at the switch-out) */
	__u64 serving;		/* the request's id (0: none) */
	__u64 blk_ts;		/* start of the current block (0: none) */
	__s32 blk_stack;
	__u32 blk_comp;
	__u64 best_ns;
	__s32 best_stack;
	__u32 best_comp;
	/* Go: the goroutine's stack at its last runtime.gopark while serving
	 * (a parked goroutine's thread blocks on the g0 stack, which says only
	 * "runtime.stoplockedm"); -1: none since the last block */
	__s32 park_stack;
	__u32 pad2;
	__u64 pf_ip;		/* user ip of the last page fault (F_PGFAULT) */
};

struct pending {
	__u64 id;
	__u64 peer;	/* the socket the next stage's reply goes to (REQ/SERVING: the client's end) */
	__u32 stage;
	__u32 ahead;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct rtt_task);
} acct SEC(".maps");

/* tgid -> V2_RTT_ROLE_* bits */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} procs SEC(".maps");

/* socket (kernel address) -> the sampled round trip waiting on it */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct pending);
} pendings SEC(".maps");

struct go_stw {
	__u64 stw_start;	/* the running stop-the-world (0: none) */
	__u64 cycle_start;	/* the running GC cycle (0: none) */
	__u64 reason;		/* stwReason of the running stop-the-world */
	__u64 call_start;	/* the running runtime.GC() call (0: none) */
};

/* tgid -> the Go process's running stop-the-world / GC cycle */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct go_stw);
} stw SEC(".maps");

/* user stacks where serving broker threads blocked (ids in v2_rtt_rec.blocked_stack;
 * userspace deletes an id once it has read it) */
V2_STACK_TRACE_MAP(rtt_stacks, 4096);

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

#include "rtt_account.bpf.h"
#include "rtt_gowin.bpf.h"
#include "rtt_pair.bpf.h"
