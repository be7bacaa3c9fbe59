// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pagefault — user and kernel page faults, exact per process.
 *
 * Hooks: classic tracepoints exceptions:page_fault_user and
 * exceptions:page_fault_kernel (x86; stable ABI: address, ip, error_code).
 * They fire for every #PF exception, before the fault is handled.
 *
 * Exact, unfiltered (compare with /proc/vmstat pgfault, which counts the
 * faults that reach handle_mm_fault: the two differ by faults that end in
 * SIGSEGV or are fixed without the mm (spurious/vmalloc), and by faults
 * taken from get_user_pages, which have no exception):
 *   counters[V2_C_PAGEFAULT_FAULTS(kind)] user / kernel faults
 *   pid_faults[tgid]              count = user faults, total = kernel faults
 *                                 (LRU: idle processes age out, never full)
 * Filtered (cfg tgid/comm/cgroup of the faulting task):
 *   V2_C_SEEN, sampled rows: value = 1, arg0 = fault address (addr),
 *   arg1 = x86 error code (state: 1 present/protection, 2 write, 4 user
 *   mode, 16 instruction fetch). The address class is in addr itself:
 *   < 64 KiB null-ish, >= 0xffff800000000000 kernel, else user.
 * No histogram: a fault has no duration at this hook.
 */
#define V2_THIS_PROBE V2_PROBE_PAGEFAULT
#include "common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct v2_pid_count);
} pid_faults SEC(".maps");

static __always_inline int on_fault(struct trace_event_raw_exceptions *ctx, __u32 kind)
{
	const struct v2_config *cfg = v2_cfg();
	__u64 pid_tgid;
	__u32 tgid, weight;

	if (!cfg || !cfg->enabled)
		return 0;
	v2_count(V2_C_PAGEFAULT_FAULTS(kind));
	pid_tgid = bpf_get_current_pid_tgid();
	tgid = pid_tgid >> 32;
	if (tgid)
		v2_pid_count_add(&pid_faults, &tgid, kind == V2_PAGEFAULT_USER,
				 kind == V2_PAGEFAULT_KERNEL);
	if (!v2_filter(cfg, pid_tgid))
		return 0;
	v2_count(V2_C_SEEN);
	if (v2_sample(kind, 0, cfg, &weight))
		v2_submit(kind, bpf_ktime_get_ns(), 1, ctx->address, ctx->error_code, weight);
	return 0;
}

SEC("tracepoint/exceptions/page_fault_user")
int page_fault_user(struct trace_event_raw_exceptions *ctx)
{
	return on_fault(ctx, V2_PAGEFAULT_USER);
}

SEC("tracepoint/exceptions/page_fault_kernel")
int page_fault_kernel(struct trace_event_raw_exceptions *ctx)
{
	return on_fault(ctx, V2_PAGEFAULT_KERNEL);
}
