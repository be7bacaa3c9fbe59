/* SPDX-License-Identifier: MIT */
/* bits.bpf.h — branch-light integer log2 for histogram slots (libbpf-tools). */
#ifndef V2_BITS_BPF_H
#define V2_BITS_BPF_H

static __always_inline __u32 v2_log2(__u32 v)
{
	__u32 shift, r;

	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

/* floor(log2(v)); 0 for v == 0 */
static __always_inline __u32 v2_log2l(__u64 v)
{
	__u32 hi = v >> 32;

	if (hi)
		return v2_log2(hi) + 32;
	return v2_log2((__u32)v);
}

#endif /* V2_BITS_BPF_H */
