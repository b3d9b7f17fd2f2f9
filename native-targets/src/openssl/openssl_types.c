/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Type anchor for the userspace BTF of an OpenSSL 3.x build.
 *
 * The agent's CO-RE uprobes read libssl/libcrypto internals (SSL -> rbio ->
 * BIO -> method/num ...). Those structs are private to OpenSSL and Debian
 * ships no debug info we could fetch here, so gen-openssl-btf.sh compiles this
 * file inside the configured source tree of the exact package version:
 * gcc writes DWARF for every struct below, pahole turns that DWARF into BTF.
 * Layout-relevant switches (OPENSSL_NO_*, ...) come from the generated
 * include/openssl/configuration.h, i.e. from Debian's Configure arguments.
 */

/*
 * bio_local.h must come first (it #errors if openssl/bio.h was already
 * included: its BIO_ADDR/AI_PASSIVE setup has to precede bio.h). It is the
 * only header defining struct bio_st.
 */
#include "crypto/bio/bio_local.h"
#include "ssl/ssl_local.h"

/*
 * A global object holding a pointer to each wanted struct. Being an
 * externally visible definition it is always emitted, and with it the full
 * DWARF definitions of the pointed-to structs (they are complete here) plus
 * everything they reach (RECORD_LAYER, SSL3_STATE, CRYPTO_EX_DATA, ...).
 */
struct btf_agent_openssl_types {
    struct ssl_st *ssl;
#if OPENSSL_VERSION_NUMBER >= 0x30200000L
    /* 3.2+ split the connection state out of struct ssl_st. */
    struct ssl_connection_st *ssl_connection;
#endif
    struct ssl_ctx_st *ssl_ctx;
    struct ssl_session_st *ssl_session;
    struct ssl_cipher_st *ssl_cipher;
    struct ssl_method_st *ssl_method;
    struct bio_st *bio;
    struct bio_method_st *bio_method;
};

struct btf_agent_openssl_types btf_agent_openssl_types;
