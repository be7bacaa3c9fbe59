/* SPDX-License-Identifier: MIT */
/*
 * counters.bpf.h — exact counts: the family's counter slots, and per-key
 * counts in hash maps the family defines (lookup-or-init, as libbpf-tools'
 * maps.bpf.h).
 *
 *   counters     PERCPU_ARRAY   V2_MAX_COUNTERS u64, enum v2_counter slots.
 *
 * Per-CPU counters use plain increments: BPF programs run with migration
 * disabled, and the kernel does not nest a program inside itself on one CPU
 * (a nested hit is skipped and shows up in the program's recursion_misses).
 * A hash map that is full counts the miss in V2_C_LOST_MAPFULL.
 */
#ifndef V2_COUNTERS_BPF_H
#define V2_COUNTERS_BPF_H

#ifndef V2_COMMON_BPF_H
#error "include common.bpf.h (kernel types, libbpf helpers, v2probe.h) first"
#endif

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, V2_MAX_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void v2_count_add(__u32 idx, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);

	if (c)
		*c += n;
}

static __always_inline void v2_count(__u32 idx)
{
	v2_count_add(idx, 1);
}

/* The value of key in a hash map, inserted as *zero when missing (map full: counted, NULL). */
static __always_inline void *v2_map_get_or_init(void *map, const void *key, const void *zero)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	v = bpf_map_lookup_elem(map, key);
	if (!v)
		v2_count(V2_C_LOST_MAPFULL);
	return v;
}

/*
 * Find-or-create a shared per-key count (HASH of struct v2_pid_count) and add
 * to it atomically. Map full: V2_C_LOST_MAPFULL (libbpf-tools maps.bpf.h).
 */
static __always_inline void v2_pid_count_add(void *map, const void *key, __u64 count,
					     __u64 total)
{
	static const struct v2_pid_count zero;
	struct v2_pid_count *v;
	long err;

	v = bpf_map_lookup_elem(map, key);
	if (!v) {
		err = bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
		if (err && err != -17 /* EEXIST: raced with another CPU */) {
			v2_count(V2_C_LOST_MAPFULL);
			return;
		}
		v = bpf_map_lookup_elem(map, key);
		if (!v)
			return;
	}
	if (count)
		__sync_fetch_and_add(&v->count, count);
	if (total)
		__sync_fetch_and_add(&v->total, total);
}

#endif /* V2_COUNTERS_BPF_H */
