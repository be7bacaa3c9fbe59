// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * cpufreq — CPU frequency transitions and idle-state residency.
 *
 * Hooks: classic tracepoints power:cpu_frequency (state = new frequency in
 * kHz, cpu_id) and power:cpu_idle (state = idle state index on entry,
 * PWR_EVENT_EXIT (-1) on exit, on the idling CPU). The tracepoints exist on
 * every kernel; whether they fire depends on a cpufreq / cpuidle driver:
 * most VMs have no cpufreq driver, so cpu_frequency never fires there
 * (collector/families/plans.ts cpufreqNotes() says so in doctor and the status).
 *
 * Unfiltered (a host-wide view):
 *   counters freq_changes, idle_entries, idle_ns (sum of residencies)
 *   hist[idle]  log2 of every idle residency (ns)
 * Rows: freq: value = kHz, cpu = the CPU whose frequency changed;
 * idle: value = residency ns, arg0 = idle state index (state).
 */
#define V2_THIS_PROBE V2_PROBE_CPUFREQ
#include "common.bpf.h"

#define V2_PWR_EVENT_EXIT 0xffffffffU

struct idle_start {
	__u64 ts;
	__u32 state;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct idle_start);
} idle_start SEC(".maps");

SEC("tracepoint/power/cpu_frequency")
int cpu_frequency(struct trace_event_raw_cpu *ctx)
{
	const struct v2_config *cfg = v2_cfg();
	struct v2_event *e;
	__u32 weight;

	if (!cfg || !cfg->enabled)
		return 0;
	v2_count(V2_C_SEEN);
	v2_count(V2_C_CPUFREQ_FREQ_CHANGES);
	if (!v2_sample(V2_CPUFREQ_FREQ, 0, cfg, &weight))
		return 0;
	e = v2_reserve(V2_CPUFREQ_FREQ, bpf_ktime_get_ns(), ctx->state, 0, 0, weight);
	if (!e)
		return 0;
	e->cpu = ctx->cpu_id;
	e->pid = 0;
	e->tid = 0;
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	v2_commit(e);
	return 0;
}

SEC("tracepoint/power/cpu_idle")
int cpu_idle(struct trace_event_raw_cpu *ctx)
{
	const struct v2_config *cfg = v2_cfg();
	struct idle_start *st;
	__u32 zero = 0;
	__u64 now, delta;

	if (!cfg || !cfg->enabled)
		return 0;
	st = bpf_map_lookup_elem(&idle_start, &zero);
	if (!st)
		return 0;
	now = bpf_ktime_get_ns();
	if (ctx->state != V2_PWR_EVENT_EXIT) {
		st->ts = now;
		st->state = ctx->state;
		v2_count(V2_C_CPUFREQ_IDLE_ENTRIES);
		return 0;
	}
	if (!st->ts)
		return 0;
	delta = now - st->ts;
	st->ts = 0;
	v2_count(V2_C_SEEN);
	v2_count_add(V2_C_CPUFREQ_IDLE_NS, delta);
	v2_record_at(V2_CPUFREQ_IDLE, now, delta, st->state, 0, cfg);
	return 0;
}
