// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * blockio — block request latency (issue to device -> completion), bytes and
 * device, per request kind (read, write, flush, discard, other).
 *
 * Hooks: block_rq_issue and block_rq_complete, tp_btf primaries
 * (block_rq_{issue,complete}_btf: direct BTF loads from the request) and
 * raw_tp fallbacks (..._raw: bpf_probe_read_kernel; declared SEC("?...") so
 * they are not autoloaded unless userspace asks). Same body, one flag.
 * Since 6.5 also block_io_start (where the kernel starts accounting a request
 * in /proc/diskstats) and block_rq_merge (a request merged into another one
 * is freed without a completion), and blockio_sweep, a SEC("syscall")
 * program userspace runs (BPF_PROG_TEST_RUN) before it reads the counts.
 *
 * Exact, unfiltered (compare with /proc/diskstats of the whole disk):
 *   counters[V2_C_BLOCKIO_COMPLETED(kind)]  completed requests
 *   counters[V2_C_BLOCKIO_BYTES(kind)]      completed bytes
 *   counters[V2_C_BLOCKIO_UNSEEN(kind)]     unseen completions (below)
 *   dev_counts[{dev, kind}]                 {count = requests, total = bytes}
 *   dev_counts[{dev, 8 + kind}]             unseen completions {count, bytes}
 *   V2_C_MISSED_START                       completions whose issue was not seen
 * Filtered on the issuing task (recorded at issue):
 *   V2_C_SEEN, hist[kind] of latency, sampled rows: value = latency ns,
 *   arg0 = dev, arg1 = request bytes, pid/tid/comm = the issuer.
 *
 * Unseen completions. A kernel may fire block_rq_complete and not run the
 * BPF programs attached to it. Measured on 6.18.44-fc (the test VMs), K = 400
 * O_DIRECT writes under CPU load: 366 completions counted while
 * /proc/diskstats counted 400+, with recursion_misses 0. An ftrace instance
 * on block:block_rq_complete next to a bpf_printk in this program (paired
 * per CPU) showed every completion the program missed, 77 of 64,424 in 150
 * runs, in one context only: the virtio-blk completion softirq running on
 * top of a thread of pid 1 (the VM's init agent, its tokio-rt-worker
 * threads), and none elsewhere. That kernel runs no BPF program (nor perf
 * event) while current belongs to pid 1: the sched probe sees 0 of the
 * switches out of pid 1's threads that /proc/1/task/N/status count. The
 * event fires, this program does not run, so nothing here can count it when
 * it happens. It is counted afterwards instead: a request is tracked from
 * block_io_start (or block_rq_issue) to its last completion in rq_start;
 * an entry whose request the kernel has freed since (struct request ref 0)
 * or started again (a new block_io_start, or a new start_time_ns) is a
 * completion this program never ran for. blockio_sweep and those hooks
 * delete such entries and count them as unseen, per device and kind, with
 * the bytes issued; whoever deletes the entry counts it (one count each).
 * Completed + unseen is what /proc/diskstats counts. Not covered: a request
 * whose start and completion were both in such a context (pid 1's own I/O),
 * and, before 6.5 (no block_io_start), the empty REQ_PREFLUSH writes that
 * fsync sends (never issued: the flush machinery completes them; diskstats
 * counts each as a write).
 *
 * dev is the whole disk, MKDEV(disk->major, disk->first_minor) in the
 * kernel's encoding (major << 20 | minor), as the block tracepoints report
 * it. A request completed in parts (partial blk_update_request) adds its
 * bytes on every part and counts as one request on the last part.
 */
#define V2_THIS_PROBE V2_PROBE_BLOCKIO
#include "common.bpf.h"

#define V2_REQ_OP_MASK 0xff
#define V2_MINORBITS 20
/* dev_counts kind of unseen completions: V2_BLOCKIO_UNSEEN + kind (collector/maps.ts UNSEEN_KIND) */
#define V2_BLOCKIO_UNSEEN 8

struct rq_start {
	__u64 ts;		/* issue time; 0: started, not issued yet */
	__u64 bytes;
	__u64 start_ns;		/* request->start_time_ns at issue: which use */
	__u32 tgid;
	__u32 tid;
	__u32 dev;
	__u32 kind;
	char comm[V2_COMM_LEN];
};

struct dev_key {
	__u32 dev;
	__u32 kind;
};

/* Requests from start (or issue) to their last completion, keyed by struct request address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, struct rq_start);
} rq_start SEC(".maps");

/* Exact per-device counts: compare with /proc/diskstats. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct dev_key);
	__type(value, struct v2_pid_count);
} dev_counts SEC(".maps");

/* request->rq_disk before 5.17; request->q->disk since 5.15 (CO-RE). */
struct request___old {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

struct request_queue___new {
	struct gendisk *disk;
} __attribute__((preserve_access_index));

static __always_inline __u32 rq_dev(const bool btf, struct request *rq)
{
	struct gendisk *disk = NULL;
	__u32 major, minor;

	if (bpf_core_field_exists(((struct request_queue___new *)0)->disk)) {
		struct request_queue___new *q = (void *)V2_READ(btf, rq, q);

		disk = V2_READ(btf, q, disk);
	} else if (bpf_core_field_exists(((struct request___old *)0)->rq_disk)) {
		disk = BPF_CORE_READ((struct request___old *)rq, rq_disk);
	}
	if (!disk)
		return 0;
	major = V2_READ(btf, disk, major);
	minor = V2_READ(btf, disk, first_minor);
	return (major << V2_MINORBITS) | minor;
}

static __always_inline __u32 rq_kind(const bool btf, struct request *rq)
{
	__u32 op = V2_READ(btf, rq, cmd_flags) & V2_REQ_OP_MASK;

	/* REQ_OP_READ 0, WRITE 1, FLUSH 2, DISCARD 3: stable since 4.10 */
	return op <= V2_BLOCKIO_DISCARD ? op : V2_BLOCKIO_OTHER;
}

/*
 * A tracked request use ended without this program seeing its completion:
 * delete its entry and, if this call deleted it (not a completion, the sweep
 * or another hook on another CPU), count it. *st is a copy: a deleted entry's
 * memory may be reused at once.
 */
static __always_inline void unseen_done(__u64 *key, const struct rq_start *st)
{
	struct dev_key dk = { .dev = st->dev, .kind = V2_BLOCKIO_UNSEEN + st->kind };
	__u32 idx = V2_C_BLOCKIO_UNSEEN(st->kind);
	__u64 *c;

	if (st->kind > V2_BLOCKIO_OTHER || bpf_map_delete_elem(&rq_start, key))
		return;
	/* atomic: the sweep runs preemptible (migration disabled only) */
	c = bpf_map_lookup_elem(&counters, &idx);
	if (c)
		__sync_fetch_and_add(c, 1);
	v2_pid_count_add(&dev_counts, &dk, 1, st->bytes);
}

/* A request starts (block_io_start: accounted from here on in /proc/diskstats). */
static __always_inline int on_start(const bool btf, struct request *rq)
{
	const struct v2_config *cfg = v2_cfg();
	struct rq_start st = {}, *old;
	__u64 key = (__u64)rq;

	if (!cfg || !cfg->enabled)
		return 0;
	/* one start per use: an entry left from the last use is a completion never seen */
	old = bpf_map_lookup_elem(&rq_start, &key);
	if (old) {
		st = *old;
		unseen_done(&key, &st);
		__builtin_memset(&st, 0, sizeof(st));
	}
	st.bytes = V2_READ(btf, rq, __data_len);
	st.dev = rq_dev(btf, rq);
	st.kind = rq_kind(btf, rq);
	if (bpf_map_update_elem(&rq_start, &key, &st, BPF_ANY))
		v2_count(V2_C_LOST_MAPFULL);
	return 0;
}

static __always_inline int on_issue(const bool btf, struct request *rq)
{
	const struct v2_config *cfg = v2_cfg();
	struct rq_start st = {}, *old;
	__u64 key = (__u64)rq, pid_tgid;

	if (!cfg || !cfg->enabled)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	st.ts = bpf_ktime_get_ns();
	st.bytes = V2_READ(btf, rq, __data_len);
	st.start_ns = V2_READ(btf, rq, start_time_ns);
	st.tgid = pid_tgid >> 32;
	st.tid = (__u32)pid_tgid;
	st.dev = rq_dev(btf, rq);
	st.kind = rq_kind(btf, rq);
	bpf_get_current_comm(st.comm, sizeof(st.comm));
	/*
	 * An entry issued before with another start_time_ns is from an earlier
	 * use whose completion was never seen (and whose successor's start was
	 * not seen either); the same start_time_ns is this use, requeued.
	 */
	old = bpf_map_lookup_elem(&rq_start, &key);
	if (old && old->ts && old->start_ns != st.start_ns) {
		struct rq_start prev = *old;

		unseen_done(&key, &prev);
	}
	if (bpf_map_update_elem(&rq_start, &key, &st, BPF_ANY))
		v2_count(V2_C_LOST_MAPFULL);
	return 0;
}

/* The request is merged into another one and freed: no completion of its own. */
static __always_inline int on_merge(struct request *rq)
{
	__u64 key = (__u64)rq;

	bpf_map_delete_elem(&rq_start, &key);
	return 0;
}

static __always_inline int on_complete(const bool btf, struct request *rq,
				       unsigned int nr_bytes)
{
	const struct v2_config *cfg = v2_cfg();
	__u64 key = (__u64)rq, now, delta;
	struct dev_key dk;
	struct rq_start *st;
	__u32 kind, weight;
	bool last;

	if (!cfg || !cfg->enabled)
		return 0;
	kind = rq_kind(btf, rq);
	/* the tracepoint fires before __data_len is reduced by nr_bytes */
	last = nr_bytes >= V2_READ(btf, rq, __data_len);
	st = bpf_map_lookup_elem(&rq_start, &key);
	if (st && st->ts && st->start_ns != V2_READ(btf, rq, start_time_ns)) {
		/* left from an earlier use (see on_issue): that one was never seen complete */
		struct rq_start prev = *st;

		unseen_done(&key, &prev);
		st = NULL;
	}
	dk.dev = st ? st->dev : rq_dev(btf, rq);
	dk.kind = kind;

	v2_count_add(V2_C_BLOCKIO_BYTES(kind), nr_bytes);
	if (!last) {
		v2_pid_count_add(&dev_counts, &dk, 0, nr_bytes);
		return 0;
	}
	v2_count(V2_C_BLOCKIO_COMPLETED(kind));
	v2_pid_count_add(&dev_counts, &dk, 1, nr_bytes);
	if (!st || !st->ts) {
		/* not issued: no issue seen, or never issued (an empty flush the flush machinery ends) */
		v2_count(V2_C_MISSED_START);
		if (st)
			bpf_map_delete_elem(&rq_start, &key);
		return 0;
	}

	now = bpf_ktime_get_ns();
	delta = now - st->ts;
	if (!v2_filter_comm(cfg, st->tgid, st->comm))
		goto cleanup;
	v2_count(V2_C_SEEN);
	v2_hist(kind, delta);
	if (v2_sample(kind, delta, cfg, &weight))
		v2_submit_for(kind, now, delta, st->dev, st->bytes, weight, st->tgid, st->tid, st->comm);
cleanup:
	bpf_map_delete_elem(&rq_start, &key);
	return 0;
}

/*
 * blockio_sweep: every tracked request the kernel has freed since (ref 0) is
 * a completion this program never ran for. A request's last completion fires
 * block_rq_complete before the request is freed, so a completion that was seen
 * has deleted its entry by then. A request freed and started again is found
 * by on_start/on_issue/on_complete instead (ref is 1 again).
 */
static long sweep_one(struct bpf_map *map, __u64 *key, struct rq_start *st, void *ctx)
{
	struct request *rq = (void *)*key;
	struct rq_start prev;
	int ref = 0;

	if (!bpf_core_read(&ref, sizeof(ref), &rq->ref.counter) && ref)
		return 0;
	prev = *st;
	unseen_done(key, &prev);
	return 0;
}

SEC("?syscall")
int blockio_sweep(void *ctx)
{
	bpf_for_each_map_elem(&rq_start, sweep_one, NULL, 0);
	return 0;
}

/* block_io_start: (struct request *), 6.5+. */
SEC("?tp_btf/block_io_start")
int BPF_PROG(block_io_start_btf, struct request *rq)
{
	return on_start(true, rq);
}

SEC("?raw_tp/block_io_start")
int BPF_PROG(block_io_start_raw, struct request *rq)
{
	return on_start(false, rq);
}

SEC("?tp_btf/block_rq_merge")
int BPF_PROG(block_rq_merge_btf, struct request *rq)
{
	return on_merge(rq);
}

SEC("?raw_tp/block_rq_merge")
int BPF_PROG(block_rq_merge_raw, struct request *rq)
{
	return on_merge(rq);
}

/* block_rq_issue is (struct request *) since 5.11; (q, rq) before. */
SEC("tp_btf/block_rq_issue")
int BPF_PROG(block_rq_issue_btf, struct request *rq)
{
	return on_issue(true, rq);
}

SEC("?raw_tp/block_rq_issue")
int BPF_PROG(block_rq_issue_raw, struct request *rq)
{
	return on_issue(false, rq);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(block_rq_complete_btf, struct request *rq, int error, unsigned int nr_bytes)
{
	return on_complete(true, rq, nr_bytes);
}

SEC("?raw_tp/block_rq_complete")
int BPF_PROG(block_rq_complete_raw, struct request *rq, int error, unsigned int nr_bytes)
{
	return on_complete(false, rq, nr_bytes);
}
