/* SPDX-License-Identifier: MIT */
/*
 * common.bpf.h — what every family includes: the kernel's types, libbpf's
 * helpers, the struct shared with userspace (v2probe.h), and the maps and
 * helpers every family shares, one single-purpose header each:
 *
 *   config.bpf.h    config (struct v2_config): v2_cfg(), the task filters
 *   counters.bpf.h  counters: v2_count(), per-key counts in hash maps
 *                   (v2_map_get_or_init, v2_pid_count_add)
 *   hist.bpf.h      hists: v2_hist(), log2 slots (bits.bpf.h)
 *   sample.bpf.h    sample_skip, burst: v2_sample() and the row weights
 *   emit.bpf.h      events: v2_submit(), v2_emit(), v2_record()
 *
 * Include once, from a bpf/<family>.bpf.c, after defining V2_THIS_PROBE
 * (an enum v2_probe_id). Each family is its own BPF object, so these maps
 * are per family; userspace finds them by name.
 */
#ifndef V2_COMMON_BPF_H
#define V2_COMMON_BPF_H

/*
 * vmlinux.h has `typedef struct config_s config;` (zstd), which would clash
 * with the `config` map: rename that token while vmlinux.h is parsed. Only
 * names change, and only in types this code never touches.
 */
#define config config___vmlinux
#include "vmlinux.h"
#undef config
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "v2probe.h"

#ifndef V2_THIS_PROBE
#error "define V2_THIS_PROBE (enum v2_probe_id) before including common.bpf.h"
#endif

char LICENSE[] SEC("license") = "GPL";

/*
 * Read a field of a kernel object: a direct (BTF, PROBE_MEM) load where the
 * verifier knows the pointer (tp_btf arguments, bpf_get_current_task_btf),
 * bpf_probe_read_kernel otherwise. btf must be a compile-time constant, so
 * each program compiles only one of the two.
 */
#define V2_READ(btf, p, field) ((btf) ? (p)->field : BPF_CORE_READ(p, field))

#include "config.bpf.h"
#include "counters.bpf.h"
#include "hist.bpf.h"
#include "sample.bpf.h"
#include "emit.bpf.h"

#endif /* V2_COMMON_BPF_H */
