/* SPDX-License-Identifier: MIT */
/*
 * emit.bpf.h — rows: the ring buffer and the steps that put an event in it.
 *
 *   events       RINGBUF        struct v2_event records (sampled share only).
 *                               256 KiB; userspace may resize before load.
 *
 * v2_reserve() + v2_commit() around the caller's pid/tid/comm; v2_submit()
 * (the current task's row) and v2_submit_for() (a task recorded earlier) do
 * all three. v2_emit[_at]() is the sampling decision plus v2_submit(), and
 * v2_record[_at]() adds the value to the event's histogram first: the
 * count / histogram / sample / submit sequence most families end with.
 * v2_wakeup_flags() is the submit flag for any record put in `events`.
 *
 * What a row costs (issue 16 item 6; bpf_stats on the 2-CPU EPYC VM, kernel
 * 6.18 with retpolines and the SRSO safe-RET mitigation, where every helper
 * call and return is dear): reserve + submit ~30 ns, bpf_ktime_get_ns ~50,
 * bpf_get_current_comm ~55, bpf_ringbuf_query ~14, bpf_get_current_task_btf
 * ~13, per-CPU array lookups ~2 (inlined); a ring-buffer wakeup (irq_work,
 * self-IPI, waking the reader) 1.5-12 us. So a row wakes the reader only once
 * per v2_wakeup_bytes, and takes pid, tid and comm from one
 * bpf_get_current_task_btf() with plain loads.
 */
#ifndef V2_EMIT_BPF_H
#define V2_EMIT_BPF_H

#ifndef V2_COMMON_BPF_H
#error "include common.bpf.h (kernel types, libbpf helpers, v2probe.h) first"
#endif
#include "counters.bpf.h"
#include "hist.bpf.h"
#include "sample.bpf.h"

#define V2_RINGBUF_BYTES (256 * 1024)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, V2_RINGBUF_BYTES);
} events SEC(".maps");

/*
 * Load-time option (set before load through the object's .rodata: the
 * addon's open(family, { rodata: { v2_wakeup_bytes } })): wake the reader
 * once per N bytes of records. A record is submitted with BPF_RB_FORCE_WAKEUP
 * only when it takes the ring's producer position across a multiple of N
 * (see v2_wakeup_flags), else with BPF_RB_NO_WAKEUP, however far behind the
 * reader is (a test of "N bytes waiting" instead would wake on every record
 * while the reader is behind: 700-1000 ns a row). 0 (default): N = an eighth
 * of the ring; 1: every record wakes the reader.
 * The reader must also poll with a timeout to pick up the tail of a quiet
 * ring (the addon's poll loop consumes after every quiet 50 ms), and so
 * records are never lost for want of a wakeup: two CPUs racing over one
 * multiple may both wake (harmless) or both skip it (the next multiple
 * wakes). The kernel's own adaptive wakeup (flags 0) is not used: it wakes
 * the reader for every record it has caught up with, i.e. every record when
 * the reader keeps up (1.5-3 us each here).
 */
const volatile __u32 v2_wakeup_bytes = 0;

/* Ring-buffer records carry an 8-byte header (BPF_RINGBUF_HDR_SZ). */
#define V2_RINGBUF_HDR_BYTES 8

/*
 * The flags for submitting a record of rec_bytes (its own size) reserved in
 * events. The record ends at pos and starts at pos - rec_bytes - header: it
 * crosses a multiple of N iff the two differ above bit log2(N), tested
 * without a division (a 64-bit div was 8 % of a kmem row): exact for N a
 * power of two (the collector's ring/8, the default); for any other N the
 * wakeups come every N/2 to 2N bytes.
 */
static __always_inline __u64 v2_wakeup_flags(__u64 rec_bytes)
{
	__u64 every = v2_wakeup_bytes, pos;

	if (!every)
		every = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 8;
	/* after our reserve: the end of our record, or of a later CPU's */
	pos = bpf_ringbuf_query(&events, BPF_RB_PROD_POS);
	return (pos ^ (pos - rec_bytes - V2_RINGBUF_HDR_BYTES)) >= every ?
		       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
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
	bpf_ringbuf_submit(e, v2_wakeup_flags(sizeof(*e)));
	v2_count(V2_C_SAMPLED);
}

/*
 * pid (tgid), tid and comm of the current task into a record: one helper
 * call, then direct loads (the same values as bpf_get_current_pid_tgid() and
 * bpf_get_current_comm(), which cost two calls and a strscpy; comm in the
 * task is always NUL-padded).
 */
#define V2_FILL_CURRENT(r) ({							\
	struct task_struct *__t = bpf_get_current_task_btf();			\
	(r)->pid = __t->tgid;							\
	(r)->tid = __t->pid;							\
	__builtin_memcpy((r)->comm, __t->comm, V2_COMM_LEN);			\
})

/* Reserve, fill (pid/tid/comm of the current task) and submit one row. */
static __always_inline void v2_submit(__u32 event, __u64 ts, __s64 value, __u64 arg0,
				      __u64 arg1, __u32 weight)
{
	struct v2_event *e;

	e = v2_reserve(event, ts, value, arg0, arg1, weight);
	if (!e)
		return;
	V2_FILL_CURRENT(e);
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

#endif /* V2_EMIT_BPF_H */
