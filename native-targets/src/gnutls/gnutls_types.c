/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Type anchor for the userspace BTF of a GnuTLS build.
 *
 * The agent's CO-RE uprobes read GnuTLS internals (gnutls_session_t ->
 * internals.transport_recv_ptr / transport_send_ptr, the pointers or file
 * descriptors set by gnutls_transport_set_ptr2/_int2). struct
 * gnutls_session_int is private to GnuTLS (lib/gnutls_int.h) and Debian
 * ships no debug info we could fetch here, so gen-gnutls-btf.sh compiles
 * this file inside the configured source tree of the exact package version:
 * gcc writes DWARF for the struct below, pahole turns that DWARF into BTF.
 * Layout-relevant switches come from config.h, i.e. from Debian's configure
 * arguments.
 */
#include "gnutls_int.h"

/*
 * A global object holding a pointer to each wanted struct. Being an
 * externally visible definition it is always emitted, and with it the full
 * DWARF definitions of the pointed-to structs plus everything they reach
 * (internals_st, security_parameters_st, ...).
 */
struct btf_agent_gnutls_types {
    struct gnutls_session_int *session;
};

struct btf_agent_gnutls_types btf_agent_gnutls_types;
