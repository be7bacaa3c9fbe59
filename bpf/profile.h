/* SPDX-License-Identifier: MIT */
/*
 * profile.h — the stack-count key shared by the profile (on-CPU) and offcpu
 * families and userspace (profile/sampler.ts). Fixed-width, no kernel includes.
 */
#ifndef V2_PROFILE_H
#define V2_PROFILE_H

#define V2_STACK_DEPTH 127  /* PERF_MAX_STACK_DEPTH: frames per stack_traces entry */

/* Key of map `stack_counts`; value: __u64 samples (profile) or ns blocked (offcpu). */
struct v2_stack_key {
	__u32 pid;            /* tgid */
	__u32 tid;            /* 0 unless per-thread stacks are asked for */
	__s32 user_stack_id;  /* id in `stack_traces`, < 0: none (kernel thread, or -errno) */
	__s32 kern_stack_id;
	char comm[16];
};

#endif /* V2_PROFILE_H */
