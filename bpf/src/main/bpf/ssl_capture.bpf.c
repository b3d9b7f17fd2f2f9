// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Captures the plaintext of OpenSSL's SSL_read/SSL_read_ex/SSL_write/SSL_write_ex and
 * GnuTLS's gnutls_record_recv/gnutls_record_send.
 *
 * The entry probe remembers the call's arguments per thread; the return probe
 * knows how many bytes the call transferred and copies them, in chunks of
 * CAPTURE_CHUNK, into the ring buffer. One object serves every OpenSSL and
 * GnuTLS build: struct offsets are CO-RE relocations resolved against the BTF
 * of the build the object is loaded for (the agent loads one instance per
 * build; every instance writes to the same ring).
 *
 * Kernels from 5.10 on: where the running kernel lacks bpf_get_attach_cookie, bpf_loop or
 * fetching atomics, the agent loads the programs below that do without them (per-function
 * entry programs, ssl_call_exit_bounded, ssl_call_exit_claim), which write the same records.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "pt_regs.h"
#include "openssl_types.h"
#include "gnutls_types.h"
#include "kernel_types.h"
#include "capture_event.h"

/* The SPDX line above as the kernel spells it. GPL-compatible, as the GPL-only helpers
 * used here (bpf_probe_read_user, bpf_get_current_task) require. */
char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Most plaintext bytes kept per call (capture.max-bytes); set before load. */
const volatile __u32 max_capture = 65536;
/*
 * The JVM's pid. The attach already filters by process; checking again here keeps a task
 * that merely shares our address space (CLONE_VM) out, whatever the attach mode.
 */
const volatile __u32 target_tgid = 0;
/*
 * The JVM's pid namespace (device and inode of /proc/self/ns/pid, as the kernel encodes the
 * device). When set, the process check and the pid/tid of every record use the numbers the
 * JVM sees in its own namespace (a container's): bpf_get_current_pid_tgid() gives the initial
 * namespace's numbers, which a JVM inside a pid namespace cannot know, so comparing them with
 * its own pid would match nothing. target_tgid is then the pid in that namespace. A task whose
 * active pid namespace is another one never matches.
 */
const volatile __u64 pidns_dev = 0;
const volatile __u64 pidns_ino = 0;
/*
 * Records are submitted without waking the reader, which polls the ring on a short timer,
 * until this much data waits: a wakeup per record would cost every TLS call a context switch.
 * 0 wakes the reader for every record. Set before load (the agent sets 1/32 of the ring).
 */
const volatile __u64 wakeup_bytes = 0;
/*
 * 1: this object's library does all its I/O through memory BIOs (netty-tcnative's BoringSSL,
 * whose JNI code gives SSL_set_bio nothing but its ByteBuffer BIO): every record gets fd -1
 * and the program reads no library struct at all. Such an object is loaded with the kernel's
 * BTF alone: the verifier sees this constant and drops the struct reads, which have no BTF
 * to relocate against. Set before load.
 */
const volatile __u32 memory_bio_only = 0;
/*
 * The library id of this instance (the high bits of every cookie it writes), for the
 * per-function entry programs that kernels without bpf_get_attach_cookie (before 5.15) run
 * instead of ssl_call_enter. Set before load.
 */
const volatile __u32 library_id = 0;

struct call_args {
	__u64 ssl;
	__u64 buf;
	__u64 ex_len_ptr; /* size_t * of the _ex variants, else 0 */
	__u64 own_id;     /* tgid << 32 | pid as the JVM sees them (see own_task) */
	__u32 cookie;
	__u32 live;       /* 1 from the entry until the return probe has used it */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	/* replaced before load by the one ring the agent creates (ring.bytes) for every instance */
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/*
 * One entry per thread, kept between calls: the entry probe rewrites it in place and the return
 * probe marks it used (live = 0), so a call costs one lookup in each probe instead of an
 * insert and a delete, which take the map's locks and move elements between its lists. LRU,
 * so the entries of threads that ended are reused once the map is full.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct call_args);
} calls SEC(".maps");

/* The record is built here: too large for the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct capture_record);
} scratch SEC(".maps");

/*
 * Connection ids, shared by every hooked library's object (the agent creates these maps once
 * and each object reuses them), so a conn is unique in the JVM whichever library it is of.
 * conns: TLS object pointer -> its conn id, set at the object's first captured call and
 * deleted at SSL_free/gnutls_deinit, which runs before the allocator can hand the same
 * address to a new object: a reused pointer always starts a new conn. LRU, so objects freed
 * while no probe was attached cannot fill it; evicting a live one would split its conn in two,
 * never merge two.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} conns SEC(".maps");

/*
 * Conn ids taken, for kernels without fetching atomics (before 5.12), where two CPUs cannot
 * both increment conn_seq and learn the new value in one step: an id is taken by inserting it
 * here, which only one CPU can do (see next_conn_id).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} conn_claims SEC(".maps");

/*
 * The last conn id handed out (one slot). Mappable: the agent's JSSE capture (the JDK's own
 * TLS, captured inside the JVM) takes its conn ids from the same counter with an atomic add on
 * the mapped slot (and, where ids are claimed in conn_claims, claims them there first), so ids
 * are unique across native and Java connections.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} conn_seq SEC(".maps");

/* TLS object pointer -> what the JVM side knows of it; written by the agent, see conn_peer. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct conn_peer);
} peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);

	if (v)
		*v += n;
}

/*
 * Whether the current task is one of the JVM's threads. Sets *own to its tgid << 32 | pid as
 * the JVM sees them: in its own pid namespace when pidns_ino is set, else the initial one.
 */
static __always_inline int own_task(__u64 *own)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (pidns_ino) {
		struct bpf_pidns_info ns = {};

		if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)))
			return 0; /* another pid namespace */
		id = (__u64)ns.tgid << 32 | ns.pid;
	}
	*own = id;
	return !target_tgid || (id >> 32) == target_tgid;
}

static __always_inline int is_write(__u32 func)
{
	return func == FUNC_SSL_WRITE || func == FUNC_SSL_WRITE_EX || func == FUNC_GNUTLS_RECORD_SEND;
}

static __always_inline int is_gnutls(__u32 func)
{
	return func == FUNC_GNUTLS_RECORD_RECV || func == FUNC_GNUTLS_RECORD_SEND;
}

/*
 * The BIO the call does its I/O through: rbio for reads, wbio for writes.
 * Returns NULL for a QUIC object (3.2+), which has no TLS record layer.
 */
static __always_inline struct bio_st *call_bio(__u64 ssl, int write)
{
	if (bpf_core_field_exists(struct ssl_st___flat, rbio)) {
		/* <= 3.1: the BIOs are members of ssl_st. */
		struct ssl_st___flat *s = (void *)ssl;

		return write ? BPF_CORE_READ_USER(s, wbio) : BPF_CORE_READ_USER(s, rbio);
	}
	if (bpf_core_type_exists(struct ssl_connection_st)) {
		/*
		 * >= 3.2: SSL* points at the ssl_st header that starts a
		 * ssl_connection_st only when its type says so.
		 */
		struct ssl_st___tagged *t = (void *)ssl;
		struct ssl_connection_st *c = (void *)ssl;

		if (BPF_CORE_READ_USER(t, type) != SSL_TYPE_SSL_CONNECTION) {
			count(COUNTER_QUIC_SKIPPED, 1);
			return NULL;
		}
		return write ? BPF_CORE_READ_USER(c, wbio) : BPF_CORE_READ_USER(c, rbio);
	}
	return NULL;
}

/*
 * The socket fd behind the call: -1 for a memory (non-descriptor) BIO, -2 unknown. Also
 * reports the BIO method type it read, 0 if none.
 */
static __always_inline __s32 call_fd(__u64 ssl, int write, __s32 *bio_type)
{
	struct bio_st *bio = call_bio(ssl, write);
	const struct bio_method_st *method;
	int type;

	*bio_type = 0;
	if (!bio)
		return -2;
	method = BPF_CORE_READ_USER(bio, method);
	if (!method)
		return -2;
	type = BPF_CORE_READ_USER(method, type);
	*bio_type = type;
	if (!(type & BIO_TYPE_DESCRIPTOR))
		return -1;
	return BPF_CORE_READ_USER(bio, num);
}

/*
 * GnuTLS keeps the fd given to gnutls_transport_set_int as the transport pointer's value;
 * with the application's own push/pull functions it is a pointer of theirs. Returns the
 * value if it could be an fd (socket_addrs then tells whether it is a socket), else -1.
 * Only an object loaded with a GnuTLS BTF has this code: for OpenSSL it is relocated away.
 */
static __always_inline __s32 gnutls_fd(__u64 session, int write)
{
	struct gnutls_session_int *s = (void *)session;
	__u64 ptr;

	if (!bpf_core_type_exists(struct gnutls_session_int))
		return -2;
	ptr = (__u64)(write ? BPF_CORE_READ_USER(s, internals.transport_send_ptr)
			    : BPF_CORE_READ_USER(s, internals.transport_recv_ptr));
	return ptr < 0x7fffffff ? (__s32)ptr : -1;
}

/* How many ids next_conn_id tries past the last one handed out before it gives up. */
#define CONN_CLAIM_TRIES 8

/*
 * A new conn id. With fetching atomics (5.12+) one atomic add hands it out. Without them the
 * add cannot return the value it made: the id after the last one is taken by an insert into
 * conn_claims that only one CPU can win (a loser tries the next ids), then conn_seq is
 * advanced. Both number conns 1, 2, 3, ... 0 if none could be had.
 */
static __always_inline __u64 next_conn_id(__u64 *seq, int fetch_atomics)
{
	__u8 one = 1;

	if (fetch_atomics)
		return __sync_fetch_and_add(seq, 1) + 1;
	for (__u32 i = 0; i < CONN_CLAIM_TRIES; i++) {
		__u64 id = *(volatile __u64 *)seq + 1 + i;

		if (!bpf_map_update_elem(&conn_claims, &id, &one, BPF_NOEXIST)) {
			/* a plain atomic add, which every kernel has */
			__sync_fetch_and_add(seq, 1);
			return id;
		}
	}
	return 0;
}

/*
 * The conn id of a TLS object, numbering it at its first captured call. Two threads racing on
 * a new object agree: only one insert succeeds and the other reads the winner's id. 0 if the
 * map refused the entry.
 */
static __always_inline __u64 conn_of(__u64 ssl, int fetch_atomics)
{
	__u64 *known = bpf_map_lookup_elem(&conns, &ssl);
	__u32 zero = 0;
	__u64 *seq;
	__u64 id;

	if (known)
		return *known;
	seq = bpf_map_lookup_elem(&conn_seq, &zero);
	if (!seq)
		return 0;
	id = next_conn_id(seq, fetch_atomics);
	if (!id)
		return 0;
	if (bpf_map_update_elem(&conns, &ssl, &id, BPF_NOEXIST)) {
		known = bpf_map_lookup_elem(&conns, &ssl);
		return known ? *known : 0;
	}
	count(COUNTER_CONNS, 1);
	return id;
}

/*
 * On SSL_free (OpenSSL, BoringSSL) and gnutls_deinit (GnuTLS), before the memory is released:
 * the object's conn and JVM-side facts end here. (OpenSSL's SSL_free of an object whose
 * reference count stays above zero, after SSL_up_ref, also ends its conn; the JVM stacks never
 * share an SSL* that way.)
 */
SEC("uprobe")
int ssl_free_enter(struct pt_regs *ctx)
{
	__u64 ssl = ARG1(ctx);
	__u64 own;

	if (!own_task(&own))
		return 0;
	bpf_map_delete_elem(&conns, &ssl);
	bpf_map_delete_elem(&peers, &ssl);
	return 0;
}

static __always_inline int call_enter(struct pt_regs *ctx, __u32 cookie)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_args args = {
		.ssl = ARG1(ctx),
		.buf = ARG2(ctx),
		.cookie = cookie,
	};
	__u32 func = cookie & 0xff;
	struct call_args *slot;

	if (!own_task(&args.own_id))
		return 0;
	if (func == FUNC_SSL_READ_EX || func == FUNC_SSL_WRITE_EX)
		args.ex_len_ptr = ARG4(ctx);
	args.live = 1;
	/* only this thread uses its entry, and a uprobe cannot run twice at once on one thread */
	slot = bpf_map_lookup_elem(&calls, &id);
	if (slot)
		*slot = args;
	else
		bpf_map_update_elem(&calls, &id, &args, BPF_ANY);
	return 0;
}

/* One program for every function: the attach cookie says which (5.15+). */
SEC("uprobe")
int ssl_call_enter(struct pt_regs *ctx)
{
	return call_enter(ctx, (__u32)bpf_get_attach_cookie(ctx));
}

/*
 * Without bpf_get_attach_cookie: one program per function, which knows its function and
 * takes the library from rodata. The agent loads only those of the functions it probes.
 */
#define ENTER_FOR(name, func)                                          \
	SEC("uprobe")                                                  \
	int name(struct pt_regs *ctx)                                  \
	{                                                              \
		return call_enter(ctx, library_id << 8 | (func));      \
	}

ENTER_FOR(enter_ssl_read, FUNC_SSL_READ)
ENTER_FOR(enter_ssl_read_ex, FUNC_SSL_READ_EX)
ENTER_FOR(enter_ssl_write, FUNC_SSL_WRITE)
ENTER_FOR(enter_ssl_write_ex, FUNC_SSL_WRITE_EX)
ENTER_FOR(enter_gnutls_recv, FUNC_GNUTLS_RECORD_RECV)
ENTER_FOR(enter_gnutls_send, FUNC_GNUTLS_RECORD_SEND)

/*
 * The addresses of the socket open as fd in this process, from the kernel's own structures
 * at the time of the call: exact even if the application closes and reuses the fd before
 * the record is read. Leaves family 0 if fd is not a socket, and the addresses 0 unless it
 * is a TCP/IP one.
 */
static __always_inline void socket_addrs(__s32 fd, struct capture_header *h)
{
	struct task_struct *task;
	struct fdtable *fdt;
	struct file **fds;
	struct file *f = NULL;
	struct socket *sock;
	struct sock *sk;
	unsigned short family;

	h->family = 0;
	if (fd < 0)
		return; /* a memory BIO: nothing to read in the kernel */
	task = (void *)bpf_get_current_task();
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return;
	sock = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	h->family = family;
	if (family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)h->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)h->raddr, sk, __sk_common.skc_daddr);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO((struct in6_addr *)h->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)h->raddr, sk, __sk_common.skc_v6_daddr);
	} else {
		return;
	}
	h->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	h->rport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

struct emit_ctx {
	struct call_args *args;
	__u64 call_len;
	__u64 keep;
	__u64 ts_ns;
	__u64 pid_tgid;
	__u64 conn;
	__u32 role;
	__s32 fd;
	__u32 flags;
	struct capture_header addrs; /* only family, ports and addresses are used */
};

static long emit_chunk(__u32 index, void *data)
{
	struct emit_ctx *ec = data;
	__u64 offset = (__u64)index * CAPTURE_CHUNK;
	__u32 zero = 0;
	struct capture_record *rec;
	__u64 n;

	if (offset >= ec->keep)
		return 1;
	rec = bpf_map_lookup_elem(&scratch, &zero);
	if (!rec)
		return 1;
	n = ec->keep - offset;
	if (n > CAPTURE_CHUNK)
		n = CAPTURE_CHUNK;
	barrier_var(n);
	if (n > CAPTURE_CHUNK)
		return 1;

	rec->hdr.ts_ns = ec->ts_ns;
	rec->hdr.ssl = ec->args->ssl;
	rec->hdr.call_len = ec->call_len;
	rec->hdr.offset = offset;
	rec->hdr.pid = ec->pid_tgid >> 32;
	rec->hdr.tid = (__u32)ec->pid_tgid;
	rec->hdr.fd = ec->fd;
	rec->hdr.captured = n;
	rec->hdr.cookie = ec->args->cookie;
	rec->hdr.flags = ec->flags;
	bpf_get_current_comm(rec->hdr.comm, sizeof(rec->hdr.comm));
	rec->hdr.family = ec->addrs.family;
	rec->hdr.lport = ec->addrs.lport;
	rec->hdr.rport = ec->addrs.rport;
	rec->hdr.pad = 0;
	rec->hdr.bio_type = ec->addrs.bio_type;
	rec->hdr.role = ec->role;
	rec->hdr.conn = ec->conn;
	__builtin_memcpy(rec->hdr.laddr, ec->addrs.laddr, sizeof(rec->hdr.laddr));
	__builtin_memcpy(rec->hdr.raddr, ec->addrs.raddr, sizeof(rec->hdr.raddr));
	if (bpf_probe_read_user(rec->data, n, (void *)(ec->args->buf + offset))) {
		count(COUNTER_READ_FAULTS, n);
		return 1;
	}
	if (bpf_ringbuf_output(&events, rec, sizeof(rec->hdr) + n,
			       bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes
				       ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP)) {
		count(COUNTER_RECORDS_LOST, 1);
		count(COUNTER_BYTES_LOST, n);
		return 0;
	}
	count(COUNTER_RECORDS, 1);
	return 0;
}

/* How the exit programs copy a call's chunks and number conns (see call_exit). */
enum exit_mode {
	EXIT_LOOP,    /* bpf_loop (5.17+) and fetching atomics */
	EXIT_BOUNDED, /* a bounded loop of CAPTURE_BOUNDED_CHUNKS, fetching atomics (5.12+) */
	EXIT_CLAIM,   /* a bounded loop, conn ids taken through conn_claims */
};

/*
 * The return probe's work. mode is a constant at each call: each exit program below is this
 * body compiled for one kernel generation, and the agent loads the one the kernel can verify
 * (a kernel rejects an instruction it does not know even where it is never reached).
 */
static __always_inline int call_exit(struct pt_regs *ctx, enum exit_mode mode)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_args *args = bpf_map_lookup_elem(&calls, &id);
	struct emit_ctx ec = {};
	struct conn_peer *peer;
	long ret;
	__u32 func;

	if (!args || !args->live) {
		count(COUNTER_ENTRY_MISSED, 1);
		return 0;
	}
	func = args->cookie & 0xff;
	/* OpenSSL's functions return int; GnuTLS's return ssize_t */
	ret = is_gnutls(func) ? (long)RET(ctx) : (long)(int)RET(ctx);
	if (ret <= 0)
		goto out; /* nothing transferred: want-read/want-write, error, EOF */
	if (func == FUNC_SSL_READ_EX || func == FUNC_SSL_WRITE_EX) {
		/* _ex returns 1 and reports the byte count through its 4th argument. */
		__u64 n = 0;

		if (!args->ex_len_ptr ||
		    bpf_probe_read_user(&n, sizeof(n), (void *)args->ex_len_ptr))
			goto out;
		ec.call_len = n;
	} else {
		ec.call_len = ret;
	}
	if (!ec.call_len)
		goto out;

	ec.args = args;
	ec.ts_ns = bpf_ktime_get_ns();
	ec.pid_tgid = args->own_id;
	if (memory_bio_only) {
		ec.fd = -1;
	} else if (is_gnutls(func)) {
		ec.fd = gnutls_fd(args->ssl, is_write(func));
		socket_addrs(ec.fd, &ec.addrs);
		/* report a transport value as fd only when it is a socket: never guessed */
		if (ec.fd >= 0 && !ec.addrs.family)
			ec.fd = -1;
	} else {
		ec.fd = call_fd(args->ssl, is_write(func), &ec.addrs.bio_type);
		socket_addrs(ec.fd, &ec.addrs);
	}
	ec.conn = conn_of(args->ssl, mode != EXIT_CLAIM);
	if (!ec.conn)
		count(COUNTER_CONNS_UNNUMBERED, 1);
	peer = bpf_map_lookup_elem(&peers, &args->ssl);
	if (peer) {
		ec.role = peer->role;
		/* a memory BIO has no socket: the channel's addresses come from the JVM side */
		if (!ec.addrs.family && peer->family) {
			ec.addrs.family = peer->family;
			ec.addrs.lport = peer->lport;
			ec.addrs.rport = peer->rport;
			__builtin_memcpy(ec.addrs.laddr, peer->laddr, sizeof(ec.addrs.laddr));
			__builtin_memcpy(ec.addrs.raddr, peer->raddr, sizeof(ec.addrs.raddr));
		}
	}
	ec.keep = ec.call_len;
	if (ec.keep > max_capture) {
		ec.keep = max_capture;
		ec.flags = CAPTURE_TRUNCATED;
		count(COUNTER_CALLS_TRUNCATED, 1);
		count(COUNTER_BYTES_TRUNCATED, ec.call_len - max_capture);
	}
	count(COUNTER_CALLS, 1);
	if (mode == EXIT_LOOP) {
		bpf_loop((ec.keep + CAPTURE_CHUNK - 1) / CAPTURE_CHUNK, emit_chunk, &ec, 0);
	} else {
		/* the agent keeps max_capture within CAPTURE_BOUNDED_CHUNKS chunks in these modes */
		for (__u32 i = 0; i < CAPTURE_BOUNDED_CHUNKS; i++)
			if (emit_chunk(i, &ec))
				break;
	}
out:
	args->live = 0;
	return 0;
}

SEC("uretprobe")
int ssl_call_exit(struct pt_regs *ctx)
{
	return call_exit(ctx, EXIT_LOOP);
}

SEC("uretprobe")
int ssl_call_exit_bounded(struct pt_regs *ctx)
{
	return call_exit(ctx, EXIT_BOUNDED);
}

SEC("uretprobe")
int ssl_call_exit_claim(struct pt_regs *ctx)
{
	return call_exit(ctx, EXIT_CLAIM);
}

/*
 * On the dynamic linker's _dl_debug_state, which it calls before and after it maps or unmaps
 * libraries (the debugger interface: r_brk), whoever asked (dlopen from C, the JVM, JNA): a
 * record with library id 0 tells user space to look at the maps now. Loaded in one instance
 * of this object only (the others leave it out), attached to ld.so with the JVM's pid.
 */
SEC("uprobe")
int linker_mapped(struct pt_regs *ctx)
{
	struct capture_header *h;
	__u64 id;

	if (!own_task(&id))
		return 0;
	h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
	if (!h) {
		count(COUNTER_RECORDS_LOST, 1);
		return 0;
	}
	__builtin_memset(h, 0, sizeof(*h));
	h->ts_ns = bpf_ktime_get_ns();
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->cookie = COOKIE_LINKER_MAPPED;
	bpf_ringbuf_submit(h, BPF_RB_FORCE_WAKEUP);
	return 0;
}
