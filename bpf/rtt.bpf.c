// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * rtt — where the time of a client ↔ broker round trip over a Unix socket
 * went, on both ends.
 *
 * 1. Per-thread accounting (task storage `acct`, only for threads of the
 *    processes in map `procs`: brokers, put there by userspace, and clients,
 *    added when they send a sampled request to a broker). Time is cut into
 *    intervals at sched_switch, sched_wakeup(_new) and at the snapshots below;
 *    each interval goes to one component (enum v2_rtt_comp): on-CPU while
 *    switched in; at switch-out the thread's off-CPU time is classified by why
 *    it left: preempted/runnable -> runq, process in a Go stop-the-world -> gc,
 *    inside lock:contention_begin..end -> lock, inside futex() -> futex,
 *    inside fsync/fdatasync/sync_file_range (on or off CPU) -> io,
 *    still inside a user page fault (exceptions:page_fault_user, and the
 *    task's saved user registers still at the faulting ip) -> pagefault (the
 *    fault's blocked time, e.g. a major fault reading the page or waiting for
 *    userfaultfd; its on-CPU part stays oncpu), other TASK_UNINTERRUPTIBLE -> io,
 *    else other; a wakeup ends that interval and starts a runq one. Cost per
 *    switch of an untracked thread: two task-storage lookups.
 *
 * 2. Round-trip pairing (connected AF_UNIX sockets are FIFO). Hooks on
 *    read/write/recvmsg/sendmsg/recvfrom/sendto (Go uses read/write). Sampled
 *    1:N (cfg->sample_every) at the client's write entry, the first thing the
 *    hook decides for a non-broker process: fd -> socket S, S's peer
 *    credentials (sk_peer_pid) name a broker process -> pending[P] (P = the
 *    broker's end, unix_sk(S)->peer) = {id, stage REQ, ahead = messages already
 *    queued on P}. Broker read returning data on P: ahead > 0 ? ahead-- : the
 *    request is picked up (stage 1, pending[P] -> SERVING). Broker write on P
 *    while SERVING, at its entry (before the data is queued, so the client
 *    cannot read it first): the reply (stage 2), pending[S] = REPLY. Client read on S
 *    returning data: stage 3. Each stage emits a record with the thread's
 *    cumulative components (struct v2_rtt_rec); userspace joins the four by id
 *    and takes differences. Stream sockets: "ahead" counts skbs, i.e. assumes
 *    one read per message (request/response framing); seqpacket/datagram:
 *    one recv is one message, exact. One sampled request per socket pair at a
 *    time (a new sample on the same P replaces the pending one). Between its
 *    recv and its reply the broker thread is `serving`: each switch-out that
 *    blocks takes its user stack (map rtt_stacks), and the longest block's
 *    stack, component and ns ride on the reply record.
 *
 * 3. Go GC windows: entry uprobes on runtime.stopTheWorldWithSema (start;
 *    stwReason in RAX) and runtime.startTheWorldWithSema (end), map stw[tgid].
 *    A thread switched out while its process is stopped -> gc. Userspace gets
 *    one window per GC cycle (V2_RTT_GC_CYCLE: the sweep-termination STW's
 *    start to the mark-termination STW's end, concurrent mark included: its
 *    workers hold Ps, so a woken goroutine waits for one) and one per other
 *    stop-the-world (V2_RTT_STW). An explicit runtime.GC() (entry uprobe, end
 *    at the return sites of its calls) is one V2_RTT_GC_CYCLE window too: it
 *    also sweeps the whole heap on its caller's P before it returns.
 */
#define V2_THIS_PROBE V2_PROBE_RTT
#include "common.bpf.h"
#include "rtt.bpf.h"
#include "go_runtime.h"
#define V2_STACK_TRACE_MAP_ONLY
#include "stacks.bpf.h"

#define V2_AF_UNIX 1
#define V2_S_IFMT 00170000
#define V2_S_IFSOCK 0140000
#define V2_TASK_RUNNING 0
#define V2_TASK_UNINTERRUPTIBLE 2

#define F_FUTEX 1
#define F_IO 2
#define F_LOCK 4
#define F_PGFAULT 8	/* a user page fault at pf_ip was taken (it may have returned since) */

#define K_WRITE 1
#define K_READ 2

#define ST_REQ 1
#define ST_SERVING 2
#define ST_REPLY 3

/* family counters */
#define C_STAGE(s) V2_C_RTT_STAGE(s)	/* records per stage */
#define C_AHEAD V2_C_RTT_READS_AHEAD	/* broker reads skipped as earlier messages */
#define C_REPLACED V2_C_RTT_PENDING_REPLACED	/* pending sample replaced by a newer one */

struct rtt_task {
	__u64 cum[V2_RTT_NCOMP];
	__u64 last_ts;
	__u64 wake_ts;
	__u64 run_ts;
	__u32 cur;
	__u32 flags;
	/* in-flight read/write on a unix socket */
	__u64 sys_ts;
	__u64 sys_sk;
	__u32 sys_kind;
	__u32 pad;
	/* broker thread serving a sampled request: its longest block, with the
	 * user stack it blocked at (taken at the switch-out) */
	__u64 serving;		/* the request's id (0: none) */
	__u64 blk_ts;		/* start of the current block (0: none) */
	__s32 blk_stack;
	__u32 blk_comp;
	__u64 best_ns;
	__s32 best_stack;
	__u32 best_comp;
	/* Go: the goroutine's stack at its last runtime.gopark while serving
	 * (a parked goroutine's thread blocks on the g0 stack, which says only
	 * "runtime.stoplockedm"); -1: none since the last block */
	__s32 park_stack;
	__u32 pad2;
	__u64 pf_ip;		/* user ip of the last page fault (F_PGFAULT) */
};

struct pending {
	__u64 id;
	__u64 peer;	/* the socket the next stage's reply goes to (REQ/SERVING: the client's end) */
	__u32 stage;
	__u32 ahead;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct rtt_task);
} acct SEC(".maps");

/* tgid -> V2_RTT_ROLE_* bits */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} procs SEC(".maps");

/* socket (kernel address) -> the sampled round trip waiting on it */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct pending);
} pendings SEC(".maps");

struct go_stw {
	__u64 stw_start;	/* the running stop-the-world (0: none) */
	__u64 cycle_start;	/* the running GC cycle (0: none) */
	__u64 reason;		/* stwReason of the running stop-the-world */
	__u64 call_start;	/* the running runtime.GC() call (0: none) */
};

/* tgid -> the Go process's running stop-the-world / GC cycle */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct go_stw);
} stw SEC(".maps");

/* user stacks where serving broker threads blocked (ids in v2_rtt_rec.blocked_stack;
 * userspace deletes an id once it has read it) */
V2_STACK_TRACE_MAP(rtt_stacks, 4096);

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/* Close the thread's open interval at now and open one of component comp. */
static __always_inline void acct_close(struct rtt_task *a, __u64 now, __u32 comp)
{
	__u32 cur = a->cur;

	if (a->last_ts && now > a->last_ts && cur < V2_RTT_NCOMP)
		a->cum[cur & (V2_RTT_NCOMP - 1)] += now - a->last_ts;
	a->last_ts = now;
	if (comp == V2_RTT_RUNQ && cur != V2_RTT_RUNQ)
		a->wake_ts = now;
	if (cur == V2_RTT_RUNQ && comp == V2_RTT_ONCPU)
		a->run_ts = now;
	a->cur = comp;
}

static __always_inline struct rtt_task *acct_create(void)
{
	struct rtt_task *a = bpf_task_storage_get(&acct, bpf_get_current_task_btf(), NULL,
						  BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!a) {
		v2_count(V2_C_LOST_MAPFULL);
		return NULL;
	}
	if (!a->last_ts) {
		a->last_ts = bpf_ktime_get_ns();
		a->cur = V2_RTT_ONCPU;
	}
	return a;
}

/* A block of a serving thread ends (woken, or switched in without a wakeup). */
static __always_inline void block_end(struct rtt_task *a, __u64 now)
{
	__u64 d;

	if (!a->blk_ts)
		return;
	d = now > a->blk_ts ? now - a->blk_ts : 0;
	if (a->serving && d > a->best_ns) {
		a->best_ns = d;
		a->best_stack = a->blk_stack;
		a->best_comp = a->blk_comp;
	}
	a->blk_ts = 0;
}

/*
 * Is the task still inside its last user page fault? Its user registers
 * (saved at kernel entry) still show the faulting instruction then; once the
 * fault has returned, any later kernel entry (syscall, interrupt, the next
 * fault) saved other registers. A fault ended is forgotten.
 */
static __always_inline bool in_fault(struct task_struct *t, struct rtt_task *a)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);

	if (regs && regs->ip == a->pf_ip)
		return true;
	a->flags &= ~F_PGFAULT;
	return false;
}

/* ---- per-thread accounting --------------------------------------------- */

SEC("tp_btf/sched_switch")
int BPF_PROG(rtt_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct rtt_task *a;
	__u64 now = 0;
	__u32 state, comp, tgid;
	struct go_stw *w;

	a = bpf_task_storage_get(&acct, prev, NULL, 0);
	if (a) {
		now = bpf_ktime_get_ns();
		state = prev->__state;
		tgid = prev->tgid;
		if (preempt || state == V2_TASK_RUNNING)
			comp = V2_RTT_RUNQ;
		else if ((w = bpf_map_lookup_elem(&stw, &tgid)) && w->stw_start)
			comp = V2_RTT_GC;
		else if (a->flags & F_LOCK)
			comp = V2_RTT_LOCK;
		else if (a->flags & F_FUTEX)
			comp = V2_RTT_FUTEX;
		else if (a->flags & F_IO)
			comp = V2_RTT_IO;
		else if ((a->flags & F_PGFAULT) && in_fault(prev, a))
			comp = V2_RTT_PAGEFAULT;
		else if (state & V2_TASK_UNINTERRUPTIBLE)
			comp = V2_RTT_IO;
		else
			comp = V2_RTT_OTHER;
		acct_close(a, now, comp);
		if (a->serving && comp != V2_RTT_RUNQ) {
			/* prev is current: its user stack is where it blocked */
			a->blk_ts = now;
			a->blk_comp = comp;
			if (a->park_stack >= 0)
				a->blk_stack = a->park_stack;
			else
				a->blk_stack = bpf_get_stackid(ctx, &rtt_stacks, BPF_F_USER_STACK);
			a->park_stack = -1;
		}
	}
	a = bpf_task_storage_get(&acct, next, NULL, 0);
	if (a) {
		if (!now)
			now = bpf_ktime_get_ns();
		block_end(a, now);
		acct_close(a, now, (a->flags & F_IO) ? V2_RTT_IO : V2_RTT_ONCPU);
	}
	return 0;
}

static __always_inline int on_wakeup(struct task_struct *p)
{
	struct rtt_task *a = bpf_task_storage_get(&acct, p, NULL, 0);
	__u64 now;

	if (a && a->cur != V2_RTT_ONCPU && a->cur != V2_RTT_RUNQ) {
		now = bpf_ktime_get_ns();
		block_end(a, now);
		acct_close(a, now, V2_RTT_RUNQ);
	}
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(rtt_wakeup, struct task_struct *p)
{
	return on_wakeup(p);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(rtt_wakeup_new, struct task_struct *p)
{
	return on_wakeup(p);
}

static __always_inline int set_flag(__u32 flag, bool on)
{
	struct rtt_task *a = bpf_task_storage_get(&acct, bpf_get_current_task_btf(), NULL, 0);

	if (a) {
		if (on)
			a->flags |= flag;
		else
			a->flags &= ~flag;
	}
	return 0;
}

/* Inside fsync & co. the thread's on-CPU time is I/O work too: io, not oncpu. */
static __always_inline int set_io(bool on)
{
	struct rtt_task *a = bpf_task_storage_get(&acct, bpf_get_current_task_btf(), NULL, 0);

	if (a) {
		acct_close(a, bpf_ktime_get_ns(), on ? V2_RTT_IO : V2_RTT_ONCPU);
		if (on)
			a->flags |= F_IO;
		else
			a->flags &= ~F_IO;
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_futex")
int rtt_futex_enter(void *ctx) { return set_flag(F_FUTEX, true); }
SEC("tracepoint/syscalls/sys_exit_futex")
int rtt_futex_exit(void *ctx) { return set_flag(F_FUTEX, false); }
SEC("tracepoint/syscalls/sys_enter_fsync")
int rtt_fsync_enter(void *ctx) { return set_io(true); }
SEC("tracepoint/syscalls/sys_exit_fsync")
int rtt_fsync_exit(void *ctx) { return set_io(false); }
SEC("tracepoint/syscalls/sys_enter_fdatasync")
int rtt_fdatasync_enter(void *ctx) { return set_io(true); }
SEC("tracepoint/syscalls/sys_exit_fdatasync")
int rtt_fdatasync_exit(void *ctx) { return set_io(false); }
SEC("tracepoint/syscalls/sys_enter_sync_file_range")
int rtt_sfr_enter(void *ctx) { return set_io(true); }
SEC("tracepoint/syscalls/sys_exit_sync_file_range")
int rtt_sfr_exit(void *ctx) { return set_io(false); }

SEC("tracepoint/exceptions/page_fault_user")
int rtt_pgfault(struct trace_event_raw_exceptions *ctx)
{
	struct rtt_task *a = bpf_task_storage_get(&acct, bpf_get_current_task_btf(), NULL, 0);

	if (a) {
		a->flags |= F_PGFAULT;
		a->pf_ip = ctx->ip;
	}
	return 0;
}

SEC("tp_btf/contention_begin")
int BPF_PROG(rtt_lock_begin, void *lock, unsigned int flags) { return set_flag(F_LOCK, true); }
SEC("tp_btf/contention_end")
int BPF_PROG(rtt_lock_end, void *lock, int ret) { return set_flag(F_LOCK, false); }

/* ---- Go stop-the-world / GC cycles -------------------------------------- */

static __always_inline struct go_stw *stw_state(__u32 tgid)
{
	static const struct go_stw zero;

	return v2_map_get_or_init(&stw, &tgid, &zero);
}

/* A window record (ts_enter = start .. now; GC_OPEN: start = now) for a broker process. */
static __always_inline int emit_window(__u64 pid_tgid, __u64 start, __u32 stage)
{
	__u32 tgid = pid_tgid >> 32;
	struct v2_rtt_rec *r;

	if (!bpf_map_lookup_elem(&procs, &tgid))
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		v2_count(V2_C_LOST_RINGBUF);
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->ts_enter = start;
	r->ts_exit = bpf_ktime_get_ns();
	r->pid = tgid;
	r->tid = (__u32)pid_tgid;
	r->stage = stage;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(rtt_stw_start)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 now = bpf_ktime_get_ns();
	struct go_stw *w = stw_state(tgid);

	if (!w)
		return 0;
	w->stw_start = now;
	w->reason = ctx->ax;	/* Go ABIInternal: the first argument */
	if (w->reason == V2_GO_STW_GC_SWEEP_TERM) {
		w->cycle_start = now;
		return emit_window(bpf_get_current_pid_tgid(), now, V2_RTT_GC_OPEN);
	}
	return 0;
}

/* The end of a stop-the-world: for processes in procs, a record of the window
 * (ts_enter..ts_exit) so userspace can find what a request waiting for the
 * broker lost to it: the whole GC cycle at the mark-termination STW's end,
 * other stop-the-worlds by themselves (the sweep-termination one is inside
 * its cycle's window). */
SEC("uprobe")
int BPF_KPROBE(rtt_stw_end)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, stage;
	struct go_stw *w;
	__u64 start;

	w = bpf_map_lookup_elem(&stw, &tgid);
	if (!w || !w->stw_start)
		return 0;
	if (w->reason == V2_GO_STW_GC_SWEEP_TERM) {
		w->stw_start = 0;
		return 0;	/* the cycle goes on: concurrent mark */
	}
	if (w->reason == V2_GO_STW_GC_MARK_TERM && w->cycle_start) {
		start = w->cycle_start;
		stage = V2_RTT_GC_CYCLE;
	} else {
		start = w->stw_start;
		stage = V2_RTT_STW;
	}
	if (w->reason == V2_GO_STW_GC_MARK_TERM)
		w->cycle_start = 0;
	w->stw_start = 0;
	return emit_window(pid_tgid, start, stage);
}

SEC("uprobe")
int BPF_KPROBE(rtt_gc_call)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_stw *w = stw_state(tgid);

	if (w && !w->call_start) {
		w->call_start = bpf_ktime_get_ns();
		return emit_window(bpf_get_current_pid_tgid(), w->call_start, V2_RTT_GC_OPEN);
	}
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(rtt_gc_call_end)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct go_stw *w = bpf_map_lookup_elem(&stw, &tgid);
	__u64 start;

	if (!w || !w->call_start)
		return 0;
	start = w->call_start;
	w->call_start = 0;
	return emit_window(pid_tgid, start, V2_RTT_GC_CYCLE);
}

/* Go broker, optional (costs a uprobe hit per park): where a serving goroutine parks. */
SEC("uprobe")
int BPF_KPROBE(rtt_gopark)
{
	struct rtt_task *a = bpf_task_storage_get(&acct, bpf_get_current_task_btf(), NULL, 0);

	if (a && a->serving)
		a->park_stack = bpf_get_stackid(ctx, &rtt_stacks, BPF_F_USER_STACK);
	return 0;
}

/* ---- sockets ------------------------------------------------------------- */

/* fd of the current task -> its AF_UNIX struct sock (0: not one). */
static __always_inline struct sock *fd_unix_sk(__u64 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file **fds;
	struct file *file;
	struct socket *sock;
	struct sock *sk;

	if (fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	file = bpf_rdonly_cast(file, bpf_core_type_id_kernel(struct file));
	if ((file->f_inode->i_mode & V2_S_IFMT) != V2_S_IFSOCK)
		return NULL;
	sock = bpf_rdonly_cast(file->private_data, bpf_core_type_id_kernel(struct socket));
	sk = sock->sk;
	if (!sk || sk->__sk_common.skc_family != V2_AF_UNIX)
		return NULL;
	return sk;
}

static __always_inline __u64 unix_peer_of(struct sock *sk)
{
	struct unix_sock *u = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct unix_sock));

	return (__u64)u->peer;
}

static __always_inline void emit(struct rtt_task *a, __u64 id, __u32 stage, __u64 now, __s32 ret)
{
	struct v2_rtt_rec *r;
	__u64 pid_tgid;

	acct_close(a, now, V2_RTT_ONCPU);
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		v2_count(V2_C_LOST_RINGBUF);
		return;
	}
	pid_tgid = bpf_get_current_pid_tgid();
	r->id = id;
	r->ts_enter = a->sys_ts;
	r->ts_exit = now;
#pragma unroll
	for (int i = 0; i < V2_RTT_NCOMP; i++)
		r->cum[i] = a->cum[i];
	r->wake_ts = a->wake_ts;
	r->run_ts = a->run_ts;
	r->sk = a->sys_sk;
	r->pid = pid_tgid >> 32;
	r->tid = (__u32)pid_tgid;
	r->stage = stage;
	r->ret = ret;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	r->blocked_ns = a->best_ns;
	r->blocked_stack = a->best_stack;
	r->blocked_comp = a->best_comp;
	bpf_ringbuf_submit(r, 0);
	v2_count(V2_C_SAMPLED);
	v2_count(C_STAGE(stage & 3));
}

static __always_inline int sys_enter(struct trace_event_raw_sys_enter *ctx, __u32 kind)
{
	const struct v2_config *cfg = v2_cfg();
	__u32 tgid, *role, every, peer_tgid;
	struct pending p = {}, *old;
	struct rtt_task *a;
	struct sock *sk;
	struct pid *pp;
	__u64 peer, now;

	if (!cfg || !cfg->enabled)
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	role = bpf_map_lookup_elem(&procs, &tgid);
	if (kind == K_WRITE && !(role && (*role & V2_RTT_ROLE_BROKER))) {
		/* a possible request: the sampling decision comes first */
		every = *(volatile const __u32 *)&cfg->sample_every;
		if (every > 1 && bpf_get_prandom_u32() % every)
			return 0;
		sk = fd_unix_sk(ctx->args[0]);
		if (!sk)
			return 0;
		pp = sk->sk_peer_pid;
		if (!pp)
			return 0;
		peer_tgid = pp->numbers[0].nr;
		role = bpf_map_lookup_elem(&procs, &peer_tgid);
		if (!role || !(*role & V2_RTT_ROLE_BROKER))
			return 0;
		peer = unix_peer_of(sk);
		if (!peer)
			return 0;
		a = acct_create();
		if (!a)
			return 0;
		now = bpf_ktime_get_ns();
		p.id = ((__u64)bpf_get_prandom_u32() << 32) | (__u32)now;
		p.peer = (__u64)sk;
		p.stage = ST_REQ;
		p.ahead = ((struct sock *)bpf_rdonly_cast((void *)peer, bpf_core_type_id_kernel(struct sock)))->sk_receive_queue.qlen;
		old = bpf_map_lookup_elem(&pendings, &peer);
		if (old && old->stage != ST_REPLY)
			v2_count(C_REPLACED);
		bpf_map_update_elem(&pendings, &peer, &p, BPF_ANY);
		a->sys_ts = now;
		a->sys_sk = (__u64)sk;
		a->sys_kind = K_WRITE | 0x100;	/* a sampled request */
		v2_count(V2_C_SEEN);
		if (!(role = bpf_map_lookup_elem(&procs, &tgid))) {
			__u32 c = V2_RTT_ROLE_CLIENT;

			bpf_map_update_elem(&procs, &tgid, &c, BPF_NOEXIST);
		}
		return 0;
	}
	if (!role)
		return 0;
	/* broker read/write, client read: remember the socket, decide at exit */
	sk = fd_unix_sk(ctx->args[0]);
	if (!sk)
		return 0;
	a = acct_create();
	if (!a)
		return 0;
	now = bpf_ktime_get_ns();
	a->sys_ts = now;
	a->sys_sk = (__u64)sk;
	a->sys_kind = kind;
	if (kind == K_WRITE && (*role & V2_RTT_ROLE_BROKER)) {
		/* The reply is the stage change at the write's *entry*: once the data is
		 * queued the client may read it before this write's exit runs (the broker
		 * preempted in between), and a REPLY pending set at the exit would then
		 * wait for the client's next read - the next request's reply. */
		old = bpf_map_lookup_elem(&pendings, &a->sys_sk);
		if (!old || old->stage != ST_SERVING)
			return 0;
		p.id = old->id;
		peer = old->peer;
		p.peer = (__u64)sk;
		p.stage = ST_REPLY;
		p.ahead = ((struct sock *)bpf_rdonly_cast((void *)peer, bpf_core_type_id_kernel(struct sock)))->sk_receive_queue.qlen;
		bpf_map_delete_elem(&pendings, &a->sys_sk);
		bpf_map_update_elem(&pendings, &peer, &p, BPF_ANY);
		emit(a, p.id, V2_RTT_BROKER_REPLY, now, 0);
		a->serving = 0;
		a->sys_ts = 0;
	}
	return 0;
}

static __always_inline int sys_exit(struct trace_event_raw_sys_exit *ctx, __u32 kind)
{
	struct rtt_task *a;
	struct pending *p;
	__u64 sk, now, id, peer;
	__u32 sys_kind;
	long ret = ctx->ret;

	a = bpf_task_storage_get(&acct, bpf_get_current_task_btf(), NULL, 0);
	if (!a || !a->sys_ts)
		return 0;
	sys_kind = a->sys_kind;
	sk = a->sys_sk;
	if ((sys_kind & 0xff) != kind)
		goto out;
	p = bpf_map_lookup_elem(&pendings, &sk);
	if (sys_kind & 0x100) {		/* the client's sampled request (pending is on the peer) */
		if (ret <= 0)
			goto out;
		peer = unix_peer_of((struct sock *)bpf_rdonly_cast((void *)sk, bpf_core_type_id_kernel(struct sock)));
		p = bpf_map_lookup_elem(&pendings, &peer);
		if (!p || p->peer != sk || p->stage != ST_REQ)
			goto out;
		emit(a, p->id, V2_RTT_CLIENT_SEND, bpf_ktime_get_ns(), ret);
		goto out;
	}
	if (!p || ret <= 0)
		goto out;
	now = bpf_ktime_get_ns();
	if (kind == K_READ && p->stage == ST_REQ) {
		if (p->ahead > 0) {
			p->ahead--;
			v2_count(C_AHEAD);
			goto out;
		}
		p->stage = ST_SERVING;
		a->serving = p->id;
		a->blk_ts = 0;
		a->best_ns = 0;
		a->best_stack = -1;
		a->best_comp = 0;
		a->park_stack = -1;
		emit(a, p->id, V2_RTT_BROKER_RECV, now, ret);
	} else if (kind == K_READ && p->stage == ST_REPLY) {
		if (p->ahead > 0) {
			p->ahead--;
			goto out;
		}
		id = p->id;
		bpf_map_delete_elem(&pendings, &sk);
		emit(a, id, V2_RTT_CLIENT_RECV, now, ret);
	}
out:
	a->sys_ts = 0;
	return 0;
}

#define RTT_SYSCALL(name, kind)							\
SEC("tracepoint/syscalls/sys_enter_" #name)					\
int rtt_enter_##name(struct trace_event_raw_sys_enter *ctx)			\
{										\
	return sys_enter(ctx, kind);						\
}										\
SEC("tracepoint/syscalls/sys_exit_" #name)					\
int rtt_exit_##name(struct trace_event_raw_sys_exit *ctx)			\
{										\
	return sys_exit(ctx, kind);						\
}

RTT_SYSCALL(write, K_WRITE)
RTT_SYSCALL(read, K_READ)
RTT_SYSCALL(sendmsg, K_WRITE)
RTT_SYSCALL(recvmsg, K_READ)
RTT_SYSCALL(sendto, K_WRITE)
RTT_SYSCALL(recvfrom, K_READ)
