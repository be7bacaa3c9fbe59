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
 * addon's open(family, { rodata: { v2_wakeup_bytes } })).
 * 0 (default): the kernel's adaptive ring-buffer wakeup, i.e. a wakeup for
 * every row the consumer has not caught up with — simple, but each one costs
 * the probe an irq_work + wakeup (~7 us measured on block completions).
 * N > 0: rows are submitted without a wakeup until N bytes are waiting; the
 * consumer must then poll with a timeout to pick up the tail.
 */
const volatile __u32 v2_wakeup_bytes = 0;

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

#endif /* V2_EMIT_BPF_H */
