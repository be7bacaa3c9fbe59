// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tcp — connect latency (SYN_SENT -> ESTABLISHED) and failed connects
 * (SYN_SENT -> CLOSE: refused, timed out, reset), retransmits, every state
 * change, and the smoothed RTT, after libbpf-tools tcpconnlat/tcpstates.
 *
 * Hooks (classic tracepoints, stable ABI): sock:inet_sock_set_state (TCP
 * only), tcp:tcp_retransmit_skb, tcp:tcp_probe.
 *
 * The connect start is recorded when the socket enters SYN_SENT, which
 * happens in connect() of the calling task: its tgid/tid/comm are kept with
 * the start (conn_start, keyed by socket address) and the pid/comm/cgroup
 * filter is applied there. The other transitions, retransmits and RTT
 * samples mostly run in softirq context, where `current` is whoever was
 * interrupted: they are counted unfiltered and their rows carry that task.
 *
 * Exact: counters connects, connect_fails, retransmits, state_changes,
 * rtt_samples; hist[connect], hist[connect_fail] (time to the failure),
 * hist[rtt] (srtt ns) of every event.
 * Rows: value = latency ns (connect, connect_fail), srtt ns (rtt), 0
 * (retransmit, state); arg0 = IPv4 daddr << 16 | dport (addr; dport only
 * for IPv6); arg1 = oldstate << 8 | newstate (state; retransmit: the state).
 * rtt rows are sampled at 100x the configured rate (tcp_probe fires on
 * every ACK of every connection).
 */
#define V2_THIS_PROBE V2_PROBE_TCP
#include "common.bpf.h"
#include <bpf/bpf_endian.h>

#define V2_IPPROTO_TCP 6
#define V2_AF_INET 2
#define V2_TCP_ESTABLISHED 1
#define V2_TCP_SYN_SENT 2
#define V2_RTT_SAMPLE_FACTOR 100

struct conn_start {
	__u64 ts;
	__u32 tgid;
	__u32 tid;
	char comm[V2_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, struct conn_start);
} conn_start SEC(".maps");

/* IPv4 daddr (4 bytes, network order, copied out of the ctx) << 16 | dport */
#define V4_ADDR(daddr, family, dport) ({					\
	__u32 __raw = 0;							\
	if ((family) == V2_AF_INET)						\
		bpf_probe_read_kernel(&__raw, 4, (daddr)); /* unaligned in ctx */ \
	((__u64)bpf_ntohl(__raw) << 16) | (__u16)(dport);			\
})

/*
 * The same where daddr is 4-byte aligned in the ctx (inet_sock_set_state:
 * offset 36; tcp_probe's sockaddr_in: 40): one load instead of a helper call
 * on every state row (issue 16 item 6).
 */
#define V4_ADDR_ALIGNED(daddr, family, dport) ({				\
	__u32 __raw = 0;							\
	if ((family) == V2_AF_INET)						\
		__raw = *(const __u32 *)(daddr);				\
	((__u64)bpf_ntohl(__raw) << 16) | (__u16)(dport);			\
})

SEC("tracepoint/sock/inet_sock_set_state")
int tcp_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	const struct v2_config *cfg;
	struct conn_start *st, s = {};
	__u64 sk = (__u64)ctx->skaddr, now, delta, pid_tgid, addr;
	__u32 weight, event, states;

	if (ctx->protocol != V2_IPPROTO_TCP)
		return 0;
	cfg = v2_cfg();
	if (!cfg || !cfg->enabled)
		return 0;
	v2_count(V2_C_TCP_STATE_CHANGES);
	now = bpf_ktime_get_ns();
	addr = V4_ADDR_ALIGNED(ctx->daddr, ctx->family, ctx->dport);
	states = ((__u32)ctx->oldstate << 8) | (__u32)ctx->newstate;
	v2_emit_at(V2_TCP_STATE, now, 0, addr, states, cfg);

	if (ctx->newstate == V2_TCP_SYN_SENT) {
		pid_tgid = bpf_get_current_pid_tgid();
		if (!v2_filter(cfg, pid_tgid))
			return 0;
		s.ts = now;
		s.tgid = pid_tgid >> 32;
		s.tid = (__u32)pid_tgid;
		bpf_get_current_comm(s.comm, sizeof(s.comm));
		if (bpf_map_update_elem(&conn_start, &sk, &s, BPF_ANY))
			v2_count(V2_C_LOST_MAPFULL);
		return 0;
	}
	if (ctx->oldstate != V2_TCP_SYN_SENT)
		return 0;
	st = bpf_map_lookup_elem(&conn_start, &sk);
	if (!st)
		return 0;	/* filtered out, or started before we attached */
	delta = now - st->ts;
	event = ctx->newstate == V2_TCP_ESTABLISHED ? V2_TCP_CONNECT : V2_TCP_CONNECT_FAIL;
	v2_count(V2_C_SEEN);
	v2_count(V2_C_TCP_CONNECTS + event);	/* connects, connect_fails: slots in event order */
	v2_hist(event, delta);
	if (v2_sample(event, delta, cfg, &weight))
		v2_submit_for(event, now, delta, addr, states, weight, st->tgid, st->tid, st->comm);
	bpf_map_delete_elem(&conn_start, &sk);
	return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tcp_retransmit(struct trace_event_raw_tcp_retransmit_skb *ctx)
{
	const struct v2_config *cfg = v2_cfg();

	if (!cfg || !cfg->enabled)
		return 0;
	v2_count(V2_C_TCP_RETRANSMITS);
	v2_emit(V2_TCP_RETRANSMIT, 0, V4_ADDR(ctx->daddr, ctx->family, ctx->dport), ctx->state,
		cfg);
	return 0;
}

SEC("tracepoint/tcp/tcp_probe")
int tcp_probe(struct trace_event_raw_tcp_probe *ctx)
{
	const struct v2_config *cfg = v2_cfg();
	struct v2_config rtt_cfg;
	__u64 srtt_ns, addr = 0;
	__u32 weight;

	if (!cfg || !cfg->enabled)
		return 0;
	srtt_ns = (__u64)ctx->srtt * 1000;	/* the tracepoint reports srtt in us */
	v2_count(V2_C_TCP_RTT_SAMPLES);
	v2_hist(V2_TCP_RTT, srtt_ns);
	rtt_cfg = *cfg;
	rtt_cfg.sample_every = (cfg->sample_every ? cfg->sample_every : 1) * V2_RTT_SAMPLE_FACTOR;
	if (!v2_sample(V2_TCP_RTT, srtt_ns, &rtt_cfg, &weight))
		return 0;
	if (ctx->family == V2_AF_INET)	/* saddr/daddr are struct sockaddr_in here */
		addr = V4_ADDR_ALIGNED(&ctx->daddr[4], V2_AF_INET, ctx->dport);
	else
		addr = ctx->dport;
	v2_submit(V2_TCP_RTT, bpf_ktime_get_ns(), srtt_ns, addr, 0, weight);
	return 0;
}
