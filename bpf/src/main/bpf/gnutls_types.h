/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The GnuTLS fields the program reads (lib/gnutls_int.h), by name only; offsets come from
 * the BTF of the exact GnuTLS build. internals is a typedef'd anonymous struct (internals_st)
 * in GnuTLS; libbpf matches the member path through the typedef.
 */
#ifndef BTF_AGENT_GNUTLS_TYPES_H
#define BTF_AGENT_GNUTLS_TYPES_H

struct gnutls_session_int {
	struct {
		/* the int fd (cast to a pointer) after gnutls_transport_set_int, else the
		 * application's own pointer for its push/pull functions */
		void *transport_recv_ptr;
		void *transport_send_ptr;
	} internals;
} __attribute__((preserve_access_index));

#endif
