/* SPDX-License-Identifier: MIT */
/*
 * common.bpf.h — the maps and helpers every family shares.
 *
 * Include once, from a bpf/<family>.bpf.c, after defining V2_THIS_PROBE
 * (an enum v2_probe_id). Each family is its own BPF object, so these maps
 * are per family; userspace finds them by name:
 *
 *   events       RINGBUF        struct v2_event records (sampled share only).
 *                               256 KiB; userspace may resize before load.
 *   config       ARRAY[1]       struct v2_config, read on every hit; writes
 *                               take effect at once.
 *   counters     PERCPU_ARRAY   V2_MAX_COUNTERS u64, enum v2_counter slots.
 *   hists        PERCPU_ARRAY   V2_MAX_HISTS * V2_HIST_SLOTS u64; histogram h
 *                               slot s at h * V2_HIST_SLOTS + s. Slot s counts
 *                               values in [2^s, 2^(s+1)) ns; slot 0 also
 *                               holds 0; the last slot holds everything above.
 *   sample_skip  PERCPU_ARRAY   V2_MAX_EVENTS u64: per event kind, events not
 *                               yet represented by a submitted row (this CPU).
 *
 * Sampling and weights: v2_sample() picks 1 in cfg->sample_every events at
 * random (bpf_get_prandom_u32, so periodic workloads do not alias), always
 * picks outliers (cfg->min_value && value >= min_value), and hands back
 * weight = events of that kind on this CPU since the last submitted row,
 * inclusive. If the ring buffer is full, the row is counted in
 * V2_C_LOST_RINGBUF and its weight is carried over to the next row of the
 * same kind, so sum(weight) over received rows still tracks the exact count
 * (minus the events after the last row of each CPU).
 *
 * Per-CPU counters use plain increments: BPF programs run with migration
 * disabled, and the kernel does not nest a program inside itself on one CPU
 * (a nested hit is skipped and shows up in the program's recursion_misses).
 */
#ifndef V2_COMMON_BPF_H
#define V2_COMMON_BPF_H

/*
 * vmlinux.h has `typedef struct config_s config;` (zstd), which would clash
 * with the `config` map: rename that token while vmlinux.h is parsed. Only
 * names change, and only in types this code never touches.
 */
#define config config___vmlinux
#include "vmlinux.h"
#undef config
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "v2probe.h"
#include "bits.bpf.h"

#ifndef V2_THIS_PROBE
#error "define V2_THIS_PROBE (enum v2_probe_id) before including common.bpf.h"
#endif

#define V2_RINGBUF_BYTES (256 * 1024)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, V2_RINGBUF_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct v2_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, V2_MAX_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, V2_MAX_HISTS * V2_HIST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, V2_MAX_EVENTS);
	__type(key, __u32);
	__type(value, __u64);
} sample_skip SEC(".maps");

/*
 * Per-CPU token bucket for sampled rows (cfg->burst_rate rows/s, depth
 * cfg->burst_size). Tokens are kept in nano-rows so refill needs no division.
 * A row over the limit is counted in V2_C_BURST_DROPPED and its weight is
 * carried to the next row of its kind, like a ring-full drop.
 */
struct v2_burst_state {
	__u64 nano_tokens;
	__u64 last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct v2_burst_state);
} burst SEC(".maps");

char LICENSE[] SEC("license") = "GPL";

/*
 * Load-time option (set through the skeleton's rodata before load).
 * 0 (default): the kernel's adaptive ring-buffer wakeup, i.e. a wakeup for
 * every row the consumer has not caught up with — simple, but each one costs
 * the probe an irq_work + wakeup (~7 us measured on block completions).
 * N > 0: rows are submitted without a wakeup until N bytes are waiting; the
 * consumer must then poll with a timeout to pick up the tail.
 */
const volatile __u32 v2_wakeup_bytes = 0;

/*
 * Read a field of a kernel object: a direct (BTF, PROBE_MEM) load where the
 * verifier knows the pointer (tp_btf arguments, bpf_get_current_task_btf),
 * bpf_probe_read_kernel otherwise. btf must be a compile-time constant, so
 * each program compiles only one of the two.
 */
#define V2_READ(btf, p, field) ((btf) ? (p)->field : BPF_CORE_READ(p, field))

/* The family's runtime config, or NULL (never, for an ARRAY of 1). */
static __always_inline const struct v2_config *v2_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&config, &zero);
}

static __always_inline void v2_count_add(__u32 idx, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);

	if (c)
		*c += n;
}

static __always_inline void v2_count(__u32 idx)
{
	v2_count_add(idx, 1);
}

/* The value of key in a hash map, inserted as *zero when missing (map full: counted, NULL). */
static __always_inline void *v2_map_get_or_init(void *map, const void *key, const void *zero)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	v = bpf_map_lookup_elem(map, key);
	if (!v)
		v2_count(V2_C_LOST_MAPFULL);
	return v;
}

/* Histogram h (0..V2_MAX_HISTS-1) of value (ns): one more in its log2 slot. */
static __always_inline void v2_hist(__u32 h, __u64 value)
{
	__u32 slot = v2_log2l(value);
	__u32 idx;
	__u64 *c;

	if (h >= V2_MAX_HISTS)
		return;
	if (slot >= V2_HIST_SLOTS)
		slot = V2_HIST_SLOTS - 1;
	idx = h * V2_HIST_SLOTS + slot;
	c = bpf_map_lookup_elem(&hists, &idx);
	if (c)
		*c += 1;
}

/* comm starts with cfg->targ_comm ("" matches everything). */
static __always_inline bool v2_comm_match(const struct v2_config *cfg, const char *comm)
{
#pragma unroll
	for (int i = 0; i < V2_COMM_LEN; i++) {
		char t = cfg->targ_comm[i];

		if (!t)
			return true;
		if (t != comm[i])
			return false;
	}
	return true;
}

/* May one more row go out on this CPU? (token bucket; always true when off) */
static __always_inline bool v2_burst_ok(const struct v2_config *cfg)
{
	__u32 rate = *(volatile const __u32 *)&cfg->burst_rate;
	__u32 size = *(volatile const __u32 *)&cfg->burst_size;
	struct v2_burst_state *b;
	__u64 now, elapsed, cap, t;
	__u32 zero = 0;

	if (!rate)
		return true;
	b = bpf_map_lookup_elem(&burst, &zero);
	if (!b)
		return true;
	if (!size)
		size = rate;
	cap = (__u64)size * 1000000000ULL;
	now = bpf_ktime_get_ns();
	elapsed = now - b->last_ns;
	if (elapsed > 4000000000ULL)	/* 4 s * 2^32 rows/s still fits in u64 */
		elapsed = 4000000000ULL;
	b->last_ns = now;
	t = b->nano_tokens + elapsed * rate;
	if (t > cap)
		t = cap;
	if (t < 1000000000ULL) {
		b->nano_tokens = t;
		return false;
	}
	b->nano_tokens = t - 1000000000ULL;
	return true;
}

/* Filters for a task given by tgid and an already-read comm (no cgroup check). */
static __always_inline bool v2_filter_comm(const struct v2_config *cfg, __u32 tgid,
					   const char *comm)
{
	if (cfg->targ_tgid && tgid != cfg->targ_tgid)
		return false;
	return v2_comm_match(cfg, comm);
}

/* Filters for the current task; reads comm only when a comm filter is set. */
static __always_inline bool v2_filter(const struct v2_config *cfg, __u64 pid_tgid)
{
	char comm[V2_COMM_LEN];

	if (cfg->targ_tgid && (__u32)(pid_tgid >> 32) != cfg->targ_tgid)
		return false;
	if (cfg->targ_cgroup && bpf_get_current_cgroup_id() != cfg->targ_cgroup)
		return false;
	if (!cfg->targ_comm[0])
		return true;
	bpf_get_current_comm(comm, sizeof(comm));
	return v2_comm_match(cfg, comm);
}

/* Filters for another task (e.g. the one being woken or switched in). */
static __always_inline bool v2_filter_task(const struct v2_config *cfg, __u32 tgid,
					   struct task_struct *task)
{
	char comm[V2_COMM_LEN];

	if (cfg->targ_tgid && tgid != cfg->targ_tgid)
		return false;
	if (cfg->targ_cgroup &&
	    BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id) != cfg->targ_cgroup)
		return false;
	if (!cfg->targ_comm[0])
		return true;
	if (bpf_probe_read_kernel_str(comm, sizeof(comm), &task->comm) < 0)
		return false;
	return v2_comm_match(cfg, comm);
}

/*
 * The sampling decision. true: submit a row with *weight; false: the event
 * is only remembered in sample_skip. Unsampled cost: one per-CPU lookup, one
 * prandom, one modulo, one store.
 */
static __always_inline bool v2_sample(__u32 event, __u64 value, const struct v2_config *cfg,
				      __u32 *weight)
{
	__u32 every = *(volatile const __u32 *)&cfg->sample_every;
	__u32 min_value = *(volatile const __u32 *)&cfg->min_value;
	__u64 *skip, n;

	skip = bpf_map_lookup_elem(&sample_skip, &event);
	if (!skip)
		return false;
	n = *skip + 1;
	if (every > 1 && !(min_value && value >= min_value) &&
	    bpf_get_prandom_u32() % every) {
		*skip = n;
		return false;
	}
	if (!v2_burst_ok(cfg)) {
		v2_count(V2_C_BURST_DROPPED);
		*skip = n;
		return false;
	}
	*skip = 0;
	*weight = n > 0xffffffffULL ? 0xffffffffU : (__u32)n;
	return true;
}

/* A chosen row could not be written: count it, carry its weight forward. */
static __always_inline void v2_unsample(__u32 event, __u32 weight)
{
	__u64 *skip;

	v2_count(V2_C_LOST_RINGBUF);
	skip = bpf_map_lookup_elem(&sample_skip, &event);
	if (skip)
		*skip += weight;
}

/*
 * Reserve a row and fill everything but pid/tid/comm, which the caller sets
 * (from current, or from the task the event is about), then v2_commit().
 */
static __always_inline struct v2_event *v2_reserve(__u32 event, __u64 ts, __s64 value,
						   __u64 arg0, __u64 arg1, __u32 weight)
{
	struct v2_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		v2_unsample(event, weight);
		return NULL;
	}
	e->ts_ns = ts;
	e->value = value;
	e->arg0 = arg0;
	e->arg1 = arg1;
	e->weight = weight;
	e->probe = V2_THIS_PROBE;
	e->event = event;
	e->cpu = bpf_get_smp_processor_id();
	return e;
}

static __always_inline void v2_commit(struct v2_event *e)
{
	__u64 flags = 0;

	if (v2_wakeup_bytes)
		flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= v2_wakeup_bytes ?
			BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(e, flags);
	v2_count(V2_C_SAMPLED);
}

/* Reserve, fill (pid/tid/comm of the current task) and submit one row. */
static __always_inline void v2_submit(__u32 event, __u64 ts, __s64 value, __u64 arg0,
				      __u64 arg1, __u32 weight)
{
	struct v2_event *e;
	__u64 pid_tgid;

	e = v2_reserve(event, ts, value, arg0, arg1, weight);
	if (!e)
		return;
	pid_tgid = bpf_get_current_pid_tgid();
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	v2_commit(e);
}

/*
 * The end of an event that most families share: the sampling decision
 * (v2_sample) and, for a sampled event, its row (v2_submit, the current
 * task's). v2_emit_at takes the event's end time; v2_emit reads the clock
 * only for a sampled row. v2_record / v2_record_at add the value to the
 * event's histogram first (histogram index = event kind).
 */
static __always_inline void v2_emit_at(__u32 event, __u64 ts, __s64 value, __u64 arg0,
				       __u64 arg1, const struct v2_config *cfg)
{
	__u32 weight;

	if (v2_sample(event, value, cfg, &weight))
		v2_submit(event, ts, value, arg0, arg1, weight);
}

static __always_inline void v2_emit(__u32 event, __s64 value, __u64 arg0, __u64 arg1,
				    const struct v2_config *cfg)
{
	__u32 weight;

	if (v2_sample(event, value, cfg, &weight))
		v2_submit(event, bpf_ktime_get_ns(), value, arg0, arg1, weight);
}

static __always_inline void v2_record_at(__u32 event, __u64 ts, __s64 value, __u64 arg0,
					 __u64 arg1, const struct v2_config *cfg)
{
	v2_hist(event, value);
	v2_emit_at(event, ts, value, arg0, arg1, cfg);
}

static __always_inline void v2_record(__u32 event, __s64 value, __u64 arg0, __u64 arg1,
				      const struct v2_config *cfg)
{
	v2_hist(event, value);
	v2_emit(event, value, arg0, arg1, cfg);
}

/*
 * Reserve, fill and submit one row on behalf of a task recorded earlier (the
 * issuer of a block request, the task that started a TCP connect): the event
 * ends in another context (softirq, another task) than the one it belongs to.
 */
static __always_inline void v2_submit_for(__u32 event, __u64 ts, __s64 value, __u64 arg0,
					  __u64 arg1, __u32 weight, __u32 tgid, __u32 tid,
					  const char comm[V2_COMM_LEN])
{
	struct v2_event *e;

	e = v2_reserve(event, ts, value, arg0, arg1, weight);
	if (!e)
		return;
	e->pid = tgid;
	e->tid = tid;
	__builtin_memcpy(e->comm, comm, V2_COMM_LEN);
	v2_commit(e);
}

/*
 * Find-or-create a shared per-key count (HASH of struct v2_pid_count) and add
 * to it atomically. Map full: V2_C_LOST_MAPFULL (libbpf-tools maps.bpf.h).
 */
static __always_inline void v2_pid_count_add(void *map, const void *key, __u64 count,
					     __u64 total)
{
	static const struct v2_pid_count zero;
	struct v2_pid_count *v;
	long err;

	v = bpf_map_lookup_elem(map, key);
	if (!v) {
		err = bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
		if (err && err != -17 /* EEXIST: raced with another CPU */) {
			v2_count(V2_C_LOST_MAPFULL);
			return;
		}
		v = bpf_map_lookup_elem(map, key);
		if (!v)
			return;
	}
	if (count)
		__sync_fetch_and_add(&v->count, count);
	if (total)
		__sync_fetch_and_add(&v->total, total);
}

#endif /* V2_COMMON_BPF_H */
