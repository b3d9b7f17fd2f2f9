/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The record the kernel side writes into the ring buffer, one per chunk of a
 * TLS call's plaintext. The Java decoder (io.btfagent.event.RecordLayout)
 * reads the offsets of this struct from the object's own BTF at load time,
 * so this file is the single source of truth for the layout. Its enums are
 * the one definition of function ids, record flags and counters; their Java
 * twins (io.btfagent.event.CaptureFunction, RecordFlag, CaptureCounter) are
 * compared value by value with this file by CaptureHeaderTest.
 */
#ifndef BTF_AGENT_CAPTURE_EVENT_H
#define BTF_AGENT_CAPTURE_EVENT_H

/* Plaintext bytes carried by one record; a call's bytes span several records. */
#define CAPTURE_CHUNK 8192
/*
 * Most records per call on kernels without bpf_loop (before 5.17), whose bounded loop the
 * verifier walks once per iteration: capture.max-bytes is then at most this many chunks.
 */
#define CAPTURE_BOUNDED_CHUNKS 64

/* Low byte of the attach cookie: which function a probe sits on. */
enum capture_func {
	FUNC_SSL_READ = 0,
	FUNC_SSL_READ_EX = 1,
	FUNC_SSL_WRITE = 2,
	FUNC_SSL_WRITE_EX = 3,
	FUNC_GNUTLS_RECORD_RECV = 4,
	FUNC_GNUTLS_RECORD_SEND = 5,
};

/*
 * The cookie of a record the dynamic linker's probe writes (library id 0, which no hooked
 * library has): the process mapped or unmapped libraries; the record has no data.
 */
#define COOKIE_LINKER_MAPPED 0

enum capture_flags {
	/* The call transferred more than capture.max-bytes; the rest was not kept. */
	CAPTURE_TRUNCATED = 1,
};

/* Indexes of the per-CPU counters map. */
enum capture_counter {
	COUNTER_CALLS = 0,          /* calls that transferred bytes */
	COUNTER_RECORDS = 1,        /* records written to the ring */
	COUNTER_RECORDS_LOST = 2,   /* records the ring had no room for */
	COUNTER_BYTES_LOST = 3,     /* plaintext bytes in those records */
	COUNTER_CALLS_TRUNCATED = 4,
	COUNTER_BYTES_TRUNCATED = 5,/* bytes beyond capture.max-bytes */
	COUNTER_READ_FAULTS = 6,    /* plaintext the kernel could not read from user memory */
	COUNTER_ENTRY_MISSED = 7,   /* returns without a recorded entry (map full) */
	COUNTER_QUIC_SKIPPED = 8,   /* SSL objects that are QUIC, not a TLS connection */
	COUNTER_CONNS = 9,          /* TLS objects given a conn id */
	COUNTER_CONNS_UNNUMBERED = 10, /* records of calls whose TLS object got no conn id (map full) */
	COUNTER_MAX = 11,
};

/* Which end of the connection this process is, as the JVM side reported it (struct conn_peer). */
enum conn_role {
	ROLE_UNKNOWN = 0,
	ROLE_CLIENT = 1,
	ROLE_SERVER = 2,
};

/*
 * What the JVM side knows of one TLS object that does its I/O through a memory BIO: written by
 * the agent into the peers map, keyed by the SSL* (or gnutls_session_t), when an instrumented
 * TLS stack ties the object to its channel. Removed by the probe on SSL_free/gnutls_deinit, so
 * a reused pointer never inherits it. Addresses in the same form as the record's.
 */
struct conn_peer {
	__u32 role;       /* enum conn_role */
	__u16 family;     /* AF_INET or AF_INET6; 0 when the JVM side knows no addresses */
	__u16 lport;      /* host order */
	__u16 rport;      /* host order */
	__u16 pad;
	__u8 laddr[16];   /* AF_INET: the first 4 bytes, network order */
	__u8 raddr[16];
};

struct capture_header {
	__u64 ts_ns;      /* CLOCK_MONOTONIC at the call's return */
	__u64 ssl;        /* the SSL* the call was made on */
	__u64 call_len;   /* bytes the call transferred (its return value) */
	__u64 offset;     /* where this record's bytes start within the call */
	__u32 pid;
	__u32 tid;
	__s32 fd;         /* socket fd, -1 for a non-descriptor BIO/transport, -2 unknown */
	__u32 captured;   /* plaintext bytes in this record */
	__u32 cookie;     /* library id << 8 | enum capture_func */
	__u32 flags;      /* enum capture_flags */
	char comm[16];    /* the calling thread's name */
	/*
	 * The socket behind fd, read in the kernel at the call: family 0 when fd is no socket. For
	 * a memory BIO, the addresses the JVM side reported for this TLS object (struct conn_peer).
	 */
	__u16 family;     /* any socket family; addresses only for AF_INET and AF_INET6 */
	__u16 lport;      /* host order */
	__u16 rport;      /* host order */
	__u16 pad;
	__u8 laddr[16];   /* AF_INET: the first 4 bytes, network order */
	__u8 raddr[16];
	/*
	 * OpenSSL: bio->method->type as read through the BTF, 0 when unreadable (GnuTLS: 0). It
	 * lets user space check
	 * that a BTF not made for this exact build really describes it.
	 */
	__s32 bio_type;
	__u32 role;       /* enum conn_role, from the peers map */
	/*
	 * The TLS object's connection id: numbered at its first captured call, forgotten when the
	 * library frees it, so a pointer reused after free starts a new conn. 0: none (map full).
	 */
	__u64 conn;
};

struct capture_record {
	struct capture_header hdr;
	__u8 data[CAPTURE_CHUNK];
};

#endif
