/* SPDX-License-Identifier: MIT */
/*
 * hist.bpf.h — log2 histograms.
 *
 *   hists        PERCPU_ARRAY   V2_MAX_HISTS * V2_HIST_SLOTS u64; histogram h
 *                               slot s at h * V2_HIST_SLOTS + s. Slot s counts
 *                               values in [2^s, 2^(s+1)) ns; slot 0 also
 *                               holds 0; the last slot holds everything above.
 */
#ifndef V2_HIST_BPF_H
#define V2_HIST_BPF_H

#ifndef V2_COMMON_BPF_H
#error "include common.bpf.h (kernel types, libbpf helpers, v2probe.h) first"
#endif
#include "bits.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, V2_MAX_HISTS * V2_HIST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} hists SEC(".maps");

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

#endif /* V2_HIST_BPF_H */
