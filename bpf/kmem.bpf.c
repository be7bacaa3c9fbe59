// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kmem — kernel allocation rate: kmalloc and kfree calls and bytes, sampled
 * with the call site.
 *
 * Hooks: kmem:kmalloc and kmem:kfree, tp_btf primaries (<name>_btf) and
 * raw_tp fallbacks (<name>_raw, SEC("?...") so not autoloaded). Both read
 * only the tracepoint arguments, so the bodies are the same.
 * kmem_cache_alloc/free (slab caches with their own type) are not counted:
 * this family is about kmalloc()-style allocations.
 *
 * Exact (filtered on the current task's tgid/comm/cgroup; allocations in
 * interrupts are charged to the interrupted task):
 *   counters kmalloc, kfree (NULL frees excluded), kmalloc_bytes
 *   (bytes_alloc, what the slab gave), kmalloc_req_bytes (bytes_req)
 *   hist[kmalloc]   log2 of bytes_alloc
 * Sampled rows: value = bytes_alloc (0 for kfree), arg0 = call site (addr,
 * a kernel text address: negative as Int64), arg1 = bytes_req.
 *
 * How much the interrupt charge weighs (measured, 6.18, 2 CPUs, loopback
 * TCP+UDP flood and O_DIRECT writes beside a 20,000-call poll loop): kmallocs
 * in hardirq/softirq charged to the loop 0 of 20,000 per run; kfrees 0-34
 * (RCU callbacks in softirq); the host as a whole ~100 interrupt-context
 * kmallocs/s. Telling them apart needs preempt_count; the __preempt_count
 * (or pcpu_hot) __ksym that libbpf's bpf_experimental.h reads is a per-CPU
 * variable, and without CONFIG_KALLSYMS_ALL (this kernel) the verifier
 * cannot resolve it: the program would not load, even with __weak.
 */
#define V2_THIS_PROBE V2_PROBE_KMEM
#include "common.bpf.h"

static __always_inline int on_kmalloc(__u64 call_site, const void *ptr, __u64 req, __u64 alloc)
{
	const struct v2_config *cfg = v2_cfg();

	if (!cfg || !cfg->enabled || !ptr)
		return 0;
	if (!v2_filter(cfg, bpf_get_current_pid_tgid()))
		return 0;
	v2_count(V2_C_SEEN);
	v2_count(V2_C_KMEM_KMALLOC);
	v2_count_add(V2_C_KMEM_KMALLOC_BYTES, alloc);
	v2_count_add(V2_C_KMEM_KMALLOC_REQ_BYTES, req);
	v2_record(V2_KMEM_KMALLOC, alloc, call_site, req, cfg);
	return 0;
}

static __always_inline int on_kfree(__u64 call_site, const void *ptr)
{
	const struct v2_config *cfg = v2_cfg();

	if (!cfg || !cfg->enabled || !ptr)
		return 0;	/* kfree(NULL) fires the tracepoint too */
	if (!v2_filter(cfg, bpf_get_current_pid_tgid()))
		return 0;
	v2_count(V2_C_SEEN);
	v2_count(V2_C_KMEM_KFREE);
	v2_emit(V2_KMEM_KFREE, 0, call_site, 0, cfg);
	return 0;
}

SEC("tp_btf/kmalloc")
int BPF_PROG(kmalloc_btf, unsigned long call_site, const void *ptr, size_t bytes_req,
	     size_t bytes_alloc)
{
	return on_kmalloc(call_site, ptr, bytes_req, bytes_alloc);
}

SEC("?raw_tp/kmalloc")
int BPF_PROG(kmalloc_raw, unsigned long call_site, const void *ptr, size_t bytes_req,
	     size_t bytes_alloc)
{
	return on_kmalloc(call_site, ptr, bytes_req, bytes_alloc);
}

SEC("tp_btf/kfree")
int BPF_PROG(kfree_btf, unsigned long call_site, const void *ptr)
{
	return on_kfree(call_site, ptr);
}

SEC("?raw_tp/kfree")
int BPF_PROG(kfree_raw, unsigned long call_site, const void *ptr)
{
	return on_kfree(call_site, ptr);
}
