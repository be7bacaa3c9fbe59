// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * shm — shared memory set-up and size per process: memfd_create, mmap with
 * MAP_SHARED of a shmem/memfd/hugetlbfs file (shm_open's /dev/shm files are
 * tmpfs) or of anonymous memory, munmap of those mappings, ftruncate of
 * shmem files; live shared-mapping bytes per process.
 *
 * Hooks: classic tracepoints syscalls:sys_{enter,exit}_{memfd_create,mmap,
 * ftruncate} and sys_enter_munmap; sched:sched_process_exit drops the
 * per-process totals of an exited process. Call arguments wait in
 * task-local storage from enter to exit.
 *
 * Exact (filtered on tgid/comm/cgroup):
 *   counters[V2_C_SHM_CALLS(event)]     calls (successful)
 *   counters[V2_C_SHM_BYTES(event)]     bytes (mmap/munmap: length,
 *                                       ftruncate: new size)
 *   pid_shm[tgid]                       count = live shared mappings,
 *                                       total = their bytes
 *   hist[event]                         log2 of the sizes
 * Sampled rows: value = bytes, arg0 = mapping address (addr; 0 for
 * memfd_create/ftruncate), arg1 = fd (-1 for anonymous, munmap).
 *
 * Rings (--shm-ring, optional program shm_ring): entry uprobes on a ring's
 * publish, consume and overflow functions; the cookie says which ring
 * (V2_RING_IDX), which function (V2_RING_ROLE), which argument holds the
 * sequence number and which the fill level, and the calling convention (Go's
 * register ABI or the C one). publish/overflow rows: value = fill level
 * (slots), arg0 = ring; access rows: value = ns from the publish of a seq to
 * its consume (entry to entry, any two threads or processes), arg0 = ring.
 * Exact: calls_publish/overflow, calls_access (paired consumes), and
 * ring_unpaired (a consume whose publish was not seen: before the attach, or
 * evicted from ring_pub). hist[publish] is the fill level, hist[access] the
 * latency.
 *
 * Limits: mappings inherited over fork, mremap and partial munmap from the
 * middle of a mapping are not followed; shm_maps is an LRU so mappings of
 * processes that exited without munmap age out instead of filling it.
 */
#define V2_THIS_PROBE V2_PROBE_SHM
#include "common.bpf.h"
#include "fd.bpf.h"

#define V2_MAP_SHARED 0x01
#define V2_MAP_TYPE 0x0f
#define V2_MAP_SHARED_VALIDATE 0x03
#define V2_MAP_ANONYMOUS 0x20
#define V2_TMPFS_MAGIC 0x01021994
#define V2_HUGETLBFS_MAGIC 0x958458f6
#define V2_MAX_ERRNO 4095

struct shm_call {
	__u64 ts;	/* 0: no call in flight */
	__u64 len;
	__s32 fd;
	__u32 event;
};

struct shm_key {
	__u32 tgid;
	__u32 pad;
	__u64 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct shm_call);
} shm_task_call SEC(".maps");

/* Live shared mappings: {tgid, start} -> length. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct shm_key);
	__type(value, __u64);
} shm_maps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct v2_pid_count);
} pid_shm SEC(".maps");


/* A published seq of a ring, waiting for its consume: -> publish time. */
struct ring_key {
	__u32 ring;
	__u32 pad;
	__u64 seq;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ring_key);
	__type(value, __u64);
} ring_pub SEC(".maps");

/* Is fd of the current task a file on tmpfs/shmem (memfd, /dev/shm) or hugetlbfs? */
static __always_inline bool fd_is_shmem(__s64 fd)
{
	struct file *file = v2_fd_file(fd);
	unsigned long magic;

	if (!file)
		return false;
	magic = file->f_inode->i_sb->s_magic;
	return magic == V2_TMPFS_MAGIC || magic == V2_HUGETLBFS_MAGIC;
}

static __always_inline bool shm_begin(__u32 event, __u64 len, __s32 fd)
{
	struct shm_call *c;

	c = bpf_task_storage_get(&shm_task_call, bpf_get_current_task_btf(), NULL,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!c) {
		v2_count(V2_C_LOST_MAPFULL);
		return false;
	}
	c->len = len;
	c->fd = fd;
	c->event = event;
	c->ts = bpf_ktime_get_ns();
	return true;
}

/* Count and maybe sample one successful call. */
static __always_inline void shm_event(const struct v2_config *cfg, __u32 event, __u64 bytes,
				      __u64 addr, __s64 fd)
{

	v2_count(V2_C_SEEN);
	v2_count(V2_C_SHM_CALLS(event));
	v2_count_add(V2_C_SHM_BYTES(event), bytes);
	v2_record(event, bytes, addr, fd, cfg);
}

static __always_inline const struct v2_config *shm_cfg(void)
{
	const struct v2_config *cfg = v2_cfg();

	if (!cfg || !cfg->enabled || !v2_filter(cfg, bpf_get_current_pid_tgid()))
		return NULL;
	return cfg;
}

SEC("tracepoint/syscalls/sys_exit_memfd_create")
int shm_exit_memfd_create(struct trace_event_raw_sys_exit *ctx)
{
	const struct v2_config *cfg = shm_cfg();

	if (cfg && ctx->ret >= 0)
		shm_event(cfg, V2_SHM_MEMFD_CREATE, 0, 0, ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_mmap")
int shm_enter_mmap(struct trace_event_raw_sys_enter *ctx)
{
	__u64 flags = ctx->args[3], type = flags & V2_MAP_TYPE;
	__s32 fd = (__s32)ctx->args[4];

	if (type != V2_MAP_SHARED && type != V2_MAP_SHARED_VALIDATE)
		return 0;	/* private mappings: the common case, out first */
	if (!shm_cfg())
		return 0;
	if (flags & V2_MAP_ANONYMOUS)
		fd = -1;
	else if (!fd_is_shmem(fd))
		return 0;
	shm_begin(V2_SHM_MMAP, ctx->args[1], fd);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mmap")
int shm_exit_mmap(struct trace_event_raw_sys_exit *ctx)
{
	const struct v2_config *cfg;
	struct shm_call *c;
	struct shm_key key = {};
	__u64 addr = ctx->ret, len;

	c = bpf_task_storage_get(&shm_task_call, bpf_get_current_task_btf(), NULL, 0);
	if (!c || !c->ts)
		return 0;
	if (c->event != V2_SHM_MMAP) {
		v2_count(V2_C_MISSED_START);
		goto cleanup;
	}
	cfg = v2_cfg();
	if (!cfg || !cfg->enabled || addr >= (__u64)-V2_MAX_ERRNO)
		goto cleanup;
	len = (c->len + 4095) & ~4095ULL;	/* the kernel maps whole pages */
	key.tgid = bpf_get_current_pid_tgid() >> 32;
	key.addr = addr;
	if (bpf_map_update_elem(&shm_maps, &key, &len, BPF_ANY))
		v2_count(V2_C_LOST_MAPFULL);
	else
		v2_pid_count_add(&pid_shm, &key.tgid, 1, len);
	shm_event(cfg, V2_SHM_MMAP, len, addr, c->fd);
cleanup:
	c->ts = 0;
	return 0;
}

/* munmap of a recorded shared mapping (from its start; a prefix shrinks it). */
SEC("tracepoint/syscalls/sys_enter_munmap")
int shm_enter_munmap(struct trace_event_raw_sys_enter *ctx)
{
	const struct v2_config *cfg;
	struct shm_key key = {};
	__u64 *rec, rec_len, len = (ctx->args[1] + 4095) & ~4095ULL, gone;

	key.tgid = bpf_get_current_pid_tgid() >> 32;
	key.addr = ctx->args[0];
	rec = bpf_map_lookup_elem(&shm_maps, &key);
	if (!rec)
		return 0;
	rec_len = *rec;
	bpf_map_delete_elem(&shm_maps, &key);
	if (len < rec_len) {
		__u64 rest = rec_len - len;

		gone = len;
		key.addr += len;
		if (bpf_map_update_elem(&shm_maps, &key, &rest, BPF_ANY))
			v2_count(V2_C_LOST_MAPFULL);
		v2_pid_count_add(&pid_shm, &key.tgid, 0, -gone);
	} else {
		gone = rec_len;
		v2_pid_count_add(&pid_shm, &key.tgid, -1ULL, -gone);
	}
	cfg = shm_cfg();
	if (cfg)
		shm_event(cfg, V2_SHM_MUNMAP, gone, ctx->args[0], -1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_ftruncate")
int shm_enter_ftruncate(struct trace_event_raw_sys_enter *ctx)
{
	__s32 fd = (__s32)ctx->args[0];

	if (!shm_cfg() || !fd_is_shmem(fd))
		return 0;
	shm_begin(V2_SHM_FTRUNCATE, ctx->args[1], fd);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_ftruncate")
int shm_exit_ftruncate(struct trace_event_raw_sys_exit *ctx)
{
	const struct v2_config *cfg;
	struct shm_call *c;

	c = bpf_task_storage_get(&shm_task_call, bpf_get_current_task_btf(), NULL, 0);
	if (!c || !c->ts)
		return 0;
	if (c->event != V2_SHM_FTRUNCATE) {
		v2_count(V2_C_MISSED_START);
		goto cleanup;
	}
	cfg = v2_cfg();
	if (cfg && cfg->enabled && ctx->ret == 0)
		shm_event(cfg, V2_SHM_FTRUNCATE, c->len, 0, c->fd);
cleanup:
	c->ts = 0;
	return 0;
}

/* A process is gone: its live totals with it (its shm_maps entries age out). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(shm_process_exit, struct task_struct *p)
{
	__u32 pid = p->pid, tgid = p->tgid;

	if (pid == tgid)
		bpf_map_delete_elem(&pid_shm, &tgid);
	return 0;
}

/* ---- rings: entry uprobes (--shm-ring) ---------------------------------- */

#define V2_RING_IDX(c) ((__u32)(c) & 0xff)
#define V2_RING_ROLE(c) (((__u32)(c) >> 8) & 0x3)	/* 0 publish, 1 consume, 2 overflow */
#define V2_RING_SEQ_ARG(c) (((__u32)(c) >> 12) & 0xf)	/* 0..8; 15: none */
#define V2_RING_FILL_ARG(c) (((__u32)(c) >> 16) & 0xf)
#define V2_RING_GO_ABI(c) (((__u32)(c) >> 24) & 0x1)
#define V2_RING_NO_ARG 15

/* Argument n (0-based) at a function's entry: Go's register ABI (amd64:
 * RAX RBX RCX RDI RSI R8 R9 R10 R11) or the C one (RDI RSI RDX RCX R8 R9). */
static __always_inline __u64 v2_ring_arg(const struct pt_regs *regs, __u32 go, __u32 n)
{
	if (go) {
		switch (n) {
		case 0: return regs->ax;
		case 1: return regs->bx;
		case 2: return regs->cx;
		case 3: return regs->di;
		case 4: return regs->si;
		case 5: return regs->r8;
		case 6: return regs->r9;
		case 7: return regs->r10;
		case 8: return regs->r11;
		}
		return 0;
	}
	switch (n) {
	case 0: return regs->di;
	case 1: return regs->si;
	case 2: return regs->dx;
	case 3: return regs->cx;
	case 4: return regs->r8;
	case 5: return regs->r9;
	}
	return 0;
}

SEC("uprobe")
int shm_ring(struct pt_regs *ctx)
{
	const struct v2_config *cfg = v2_cfg();
	__u64 pid_tgid = bpf_get_current_pid_tgid(), cookie = bpf_get_attach_cookie(ctx);
	__u32 ring = V2_RING_IDX(cookie), role = V2_RING_ROLE(cookie), go = V2_RING_GO_ABI(cookie);
	__u32 seq_arg = V2_RING_SEQ_ARG(cookie), fill_arg = V2_RING_FILL_ARG(cookie);
	struct ring_key k = { .ring = ring };
	__u64 now, fill = 0, *ts, delta;
	struct pt_regs regs;

	if (!cfg || !cfg->enabled || !v2_filter(cfg, pid_tgid))
		return 0;
	v2_count(V2_C_SEEN);
	now = bpf_ktime_get_ns();
	/* a copy: the verifier lets a program read ctx only at constant offsets */
	if (bpf_probe_read_kernel(&regs, sizeof(regs), ctx))
		return 0;
	if (fill_arg != V2_RING_NO_ARG)
		fill = v2_ring_arg(&regs, go, fill_arg);
	if (seq_arg != V2_RING_NO_ARG)
		k.seq = v2_ring_arg(&regs, go, seq_arg);
	if (role == 0) {
		v2_count(V2_C_SHM_CALLS(V2_SHM_PUBLISH));
		if (seq_arg != V2_RING_NO_ARG && bpf_map_update_elem(&ring_pub, &k, &now, BPF_ANY))
			v2_count(V2_C_LOST_MAPFULL);
		v2_hist(V2_SHM_PUBLISH, fill);
		v2_emit_at(V2_SHM_PUBLISH, now, fill, ring, 0, cfg);
		return 0;
	}
	if (role == 2) {
		v2_count(V2_C_SHM_CALLS(V2_SHM_OVERFLOW));
		v2_hist(V2_SHM_OVERFLOW, fill);
		v2_emit_at(V2_SHM_OVERFLOW, now, fill, ring, 0, cfg);
		return 0;
	}
	if (seq_arg == V2_RING_NO_ARG)
		return 0;
	ts = bpf_map_lookup_elem(&ring_pub, &k);
	if (!ts) {
		v2_count(V2_C_SHM_RING_UNPAIRED);
		return 0;
	}
	delta = now - *ts;
	bpf_map_delete_elem(&ring_pub, &k);
	v2_count(V2_C_SHM_CALLS(V2_SHM_ACCESS));
	v2_record_at(V2_SHM_ACCESS, now, delta, ring, 0, cfg);
	return 0;
}
