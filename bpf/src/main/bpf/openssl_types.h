/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The few OpenSSL fields the program reads, declared by name only. Offsets
 * come from the BTF of the exact library build at load time (CO-RE), so one
 * object serves every build. The ___flavor suffixes let two layouts of the
 * same struct name coexist here; libbpf strips them when matching.
 */
#ifndef BTF_AGENT_OPENSSL_TYPES_H
#define BTF_AGENT_OPENSSL_TYPES_H

#define PRESERVE __attribute__((preserve_access_index))

struct bio_method_st {
	int type;
} PRESERVE;

struct bio_st {
	const struct bio_method_st *method;
	int num;
} PRESERVE;

/* OpenSSL <= 3.1: the connection state, BIOs included, lives in ssl_st itself. */
struct ssl_st___flat {
	struct bio_st *rbio;
	struct bio_st *wbio;
} PRESERVE;

/* OpenSSL >= 3.2: ssl_st is a tagged header shared by TLS and QUIC objects. */
struct ssl_st___tagged {
	int type;
} PRESERVE;

struct ssl_connection_st {
	struct bio_st *rbio;
	struct bio_st *wbio;
} PRESERVE;

/* include/openssl/bio.h */
#define BIO_TYPE_DESCRIPTOR 0x0100
/* ssl/ssl_local.h (3.2+): a TLS connection; QUIC objects carry 0x80. */
#define SSL_TYPE_SSL_CONNECTION 0

#endif
