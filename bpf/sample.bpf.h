/* SPDX-License-Identifier: MIT */
/*
 * sample.bpf.h — which events get a row, and the weight each row carries.
 *
 *   sample_skip  PERCPU_ARRAY   V2_MAX_EVENTS u64: per event kind, events not
 *                               yet represented by a submitted row (this CPU).
 *   burst        PERCPU_ARRAY   one struct v2_burst_state: the rows/s limit.
 *
 * Sampling and weights: v2_sample() picks 1 in cfg->sample_every events at
 * random (bpf_get_prandom_u32, so periodic workloads do not alias), always
 * picks outliers (cfg->min_value && value >= min_value), and hands back
 * weight = events of that kind on this CPU since the last submitted row,
 * inclusive. If the ring buffer is full, the row is counted in
 * V2_C_LOST_RINGBUF and its weight is carried over to the next row of the
 * same kind (v2_unsample), so sum(weight) over received rows still tracks the
 * exact count (minus the events after the last row of each CPU).
 */
#ifndef V2_SAMPLE_BPF_H
#define V2_SAMPLE_BPF_H

#ifndef V2_COMMON_BPF_H
#error "include common.bpf.h (kernel types, libbpf helpers, v2probe.h) first"
#endif
#include "counters.bpf.h"

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

#endif /* V2_SAMPLE_BPF_H */
