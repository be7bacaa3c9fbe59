/* SPDX-License-Identifier: MIT */
/*
 * stacks.bpf.h — the two maps every stack-sampling family declares: stack ids
 * (`stack_traces`) and counts per (pid, tid, stacks, comm) key (`stack_counts`).
 * Used by profile.bpf.c (on-CPU samples) and offcpu.bpf.c (ns blocked); read
 * by profile/sampler.ts under these names. With V2_STACK_TRACE_MAP_ONLY
 * defined, only the map macro (rtt.bpf.c declares its own, smaller one).
 */
#ifndef V2_STACKS_BPF_H
#define V2_STACKS_BPF_H

#include "profile.h"

/* A stack-id map of n stacks of up to V2_STACK_DEPTH frames (bpf_get_stackid). */
#define V2_STACK_TRACE_MAP(name, n)						\
	struct {								\
		__uint(type, BPF_MAP_TYPE_STACK_TRACE);				\
		__uint(key_size, sizeof(__u32));				\
		__uint(value_size, V2_STACK_DEPTH * sizeof(__u64));		\
		__uint(max_entries, n);						\
	} name SEC(".maps")

#ifndef V2_STACK_TRACE_MAP_ONLY
V2_STACK_TRACE_MAP(stack_traces, 16384);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct v2_stack_key);
	__type(value, __u64);
} stack_counts SEC(".maps");
#endif

#endif /* V2_STACKS_BPF_H */
