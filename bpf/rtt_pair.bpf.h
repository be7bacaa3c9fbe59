/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * rtt_pair.bpf.h — the rtt family's round-trip pairing: a part of
 * bpf/rtt.bpf.c, included there once (it uses the state that file defines).
 *
 * Round-trip pairing (connected AF_UNIX sockets are FIFO). Hooks on
 * read/write/recvmsg/sendmsg/recvfrom/sendto (Go uses read/write). Sampled
 * 1:N (cfg->sample_every) at the client's write entry, the first thing the
 * hook decides for a non-broker process: fd -> socket S, S's peer
 * credentials (sk_peer_pid) name a broker process -> pending[P] (P = the
 * broker's end, unix_sk(S)->peer) = {id, stage REQ, ahead = messages already
 * queued on P}. Broker read returning data on P: ahead > 0 ? ahead-- : the
 * request is picked up (stage 1, pending[P] -> SERVING). Broker write on P
 * while SERVING, at its entry (before the data is queued, so the client
 * cannot read it first): the reply (stage 2), pending[S] = REPLY. Client read on S
 * returning data: stage 3. Each stage emits a record with the thread's
 * cumulative components (struct v2_rtt_rec); userspace joins the four by id
 * and takes differences. Stream sockets: "ahead" counts skbs, i.e. assumes
 * one read per message (request/response framing); seqpacket/datagram:
 * one recv is one message, exact. One sampled request per socket pair at a
 * time (a new sample on the same P replaces the pending one). Between its
 * recv and its reply the broker thread is `serving`: each switch-out that
 * blocks takes its user stack (map rtt_stacks), and the longest block's
 * stack, component and ns ride on the reply record.
 */
#ifndef V2_RTT_PAIR_BPF_H
#define V2_RTT_PAIR_BPF_H

/* ---- sockets ------------------------------------------------------------- */

/* fd of the current task -> its AF_UNIX struct sock (0: not one); the file from fd.bpf.h. */
static __always_inline struct sock *fd_unix_sk(__u64 fd)
{
	struct file *file = v2_fd_file(fd);
	struct socket *sock;
	struct sock *sk;

	if (!file || (file->f_inode->i_mode & V2_S_IFMT) != V2_S_IFSOCK)
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

	acct_close(a, now, V2_RTT_ONCPU);
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		v2_count(V2_C_LOST_RINGBUF);
		return;
	}
	r->id = id;
	r->ts_enter = a->sys_ts;
	r->ts_exit = now;
#pragma unroll
	for (int i = 0; i < V2_RTT_NCOMP; i++)
		r->cum[i] = a->cum[i];
	r->wake_ts = a->wake_ts;
	r->run_ts = a->run_ts;
	r->sk = a->sys_sk;
	V2_FILL_CURRENT(r);
	r->stage = stage;
	r->ret = ret;
	r->blocked_ns = a->best_ns;
	r->blocked_stack = a->best_stack;
	r->blocked_comp = a->best_comp;
	bpf_ringbuf_submit(r, v2_wakeup_flags(sizeof(*r)));
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

#endif /* V2_RTT_PAIR_BPF_H */
