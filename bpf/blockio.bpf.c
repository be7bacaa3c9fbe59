// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * blockio — block request latency (issue to device -> completion), bytes and
 * device, per request kind (read, write, flush, discard, other).
 *
 * Hooks: block_rq_issue and block_rq_complete, tp_btf primaries
 * (block_rq_{issue,complete}_btf: direct BTF loads from the request) and
 * raw_tp fallbacks (..._raw: bpf_probe_read_kernel; declared SEC("?...") so
 * they are not autoloaded unless userspace asks). Same body, one flag.
 *
 * Exact, unfiltered (compare with /proc/diskstats of the whole disk):
 *   counters[V2_C_BLOCKIO_COMPLETED(kind)]  completed requests
 *   counters[V2_C_BLOCKIO_BYTES(kind)]      completed bytes
 *   dev_counts[{dev, kind}]           {count = requests, total = bytes}
 *   V2_C_MISSED_START                 completions whose issue was not seen
 * Filtered on the issuing task (recorded at issue):
 *   V2_C_SEEN, hist[kind] of latency, sampled rows: value = latency ns,
 *   arg0 = dev, arg1 = request bytes, pid/tid/comm = the issuer.
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

struct rq_start {
	__u64 ts;
	__u64 bytes;
	__u32 tgid;
	__u32 tid;
	__u32 dev;
	__u32 pad;
	char comm[V2_COMM_LEN];
};

struct dev_key {
	__u32 dev;
	__u32 kind;
};

/* In-flight requests, keyed by struct request address. */
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

static __always_inline int on_issue(const bool btf, struct request *rq)
{
	const struct v2_config *cfg = v2_cfg();
	struct rq_start st = {};
	__u64 key = (__u64)rq, pid_tgid;

	if (!cfg || !cfg->enabled)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	st.ts = bpf_ktime_get_ns();
	st.bytes = V2_READ(btf, rq, __data_len);
	st.tgid = pid_tgid >> 32;
	st.tid = (__u32)pid_tgid;
	st.dev = rq_dev(btf, rq);
	bpf_get_current_comm(st.comm, sizeof(st.comm));
	if (bpf_map_update_elem(&rq_start, &key, &st, BPF_ANY))
		v2_count(V2_C_LOST_MAPFULL);
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
	dk.dev = st ? st->dev : rq_dev(btf, rq);
	dk.kind = kind;

	v2_count_add(V2_C_BLOCKIO_BYTES(kind), nr_bytes);
	if (!last) {
		v2_pid_count_add(&dev_counts, &dk, 0, nr_bytes);
		return 0;
	}
	v2_count(V2_C_BLOCKIO_COMPLETED(kind));
	v2_pid_count_add(&dev_counts, &dk, 1, nr_bytes);
	if (!st) {
		v2_count(V2_C_MISSED_START);
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
