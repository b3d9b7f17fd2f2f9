#!/usr/bin/env bash
# Check the struct offsets the BPF program reads against the machine code of
# the library build the BTF is meant for.
#
#   prove-offsets.sh openssl <libssl.so.N> <btf> [<libcrypto.so.N>]
#   prove-offsets.sh gnutls  <libgnutls.so.30> <btf>
#
# Each offset is taken twice: from the BTF (bpftool's raw dump) and from the
# disassembly (objdump -d) of a small exported function of the binary that
# reads exactly that field. Both must agree, or the BTF must not be used for
# that build. Functions and what they prove (x86-64):
#
#   OpenSSL <= 3.1   SSL_get_rbio  -> ssl_st.rbio  (the load it returns)
#                    SSL_get_wbio  -> ssl_st.wbio  (the load it returns when
#                                     there is no bbio)
#   OpenSSL >= 3.2   SSL_get_rbio  -> ssl_st.type (the int it tests first) and
#                                     ssl_connection_st.rbio (the load it
#                                     returns; ssl_connection_st starts with
#                                     its ssl_st, so the SSL* is the base)
#                    SSL_get_wbio  -> ssl_connection_st.wbio
#                    (and the BTF must have no ssl_st.rbio, or the program
#                    would take the <= 3.1 path)
#   all              BIO_method_type -> bio_st.method, bio_method_st.type
#                    (return b->method->type: two chained loads)
#                    BIO_s_socket  -> the socket BIO_METHOD in .data.rel.ro:
#                                     its int at bio_method_st.type must be
#                                     BIO_TYPE_SOCKET (0x505), and its
#                                     bread_old slot (a relocation) leads to
#                                     sock_read, whose read(2) call takes
#                                     b->num as fd -> bio_st.num
#   GnuTLS           gnutls_transport_get_ptr2 -> gnutls_session_int
#                    .internals.transport_recv_ptr / .transport_send_ptr
#                    (the loads stored through its 2nd / 3rd argument)
#
# stdout: one line per field: field, BTF offset, binary offset, evidence,
#         OK or FAIL; then "prove-offsets: PASS" or "prove-offsets: FAIL".
# Exit status: 0 when every field matches, 1 otherwise, 2 on usage errors.
set -euo pipefail

die() { echo "prove-offsets: $*" >&2; exit 2; }
[ "$#" -ge 3 ] || die "usage: $0 openssl <libssl.so> <btf> [<libcrypto.so>] | gnutls <libgnutls.so> <btf>"
lib=$1 so=$2 btf=$3
# shellcheck source-path=SCRIPTDIR source=tools.sh
. "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
need_tools bpftool objdump readelf
[ -f "$so" ] || die "no such library: $so"
[ -f "$btf" ] || die "no such BTF file: $btf"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bpftool btf dump file "$btf" format raw >"$tmp/btf.raw" || die "bpftool cannot read $btf"

# BTF offset (bytes) of a member path such as gnutls_session_int.internals.x:
# typedefs and qualifiers are followed, anonymous struct/union members are
# searched. Prints nothing when the path does not exist.
btf_offset() {
    awk -v path="$1" '
        /^\[[0-9]+\] / {
            id = substr($1, 2, length($1) - 2); kind[id] = $2
            nm = $3; gsub(/\047/, "", nm); name[id] = nm
            for (i = 4; i <= NF; i++) if ($i ~ /^type_id=/) ref[id] = substr($i, 9)
            cur = id; nmem[id] = 0; next
        }
        /^\t\047/ && cur != "" {
            m = $1; gsub(/\047/, "", m)
            k = ++nmem[cur]; mname[cur, k] = m
            for (i = 2; i <= NF; i++) {
                if ($i ~ /^type_id=/) mtype[cur, k] = substr($i, 9)
                if ($i ~ /^bits_offset=/) moff[cur, k] = substr($i, 13)
            }
        }
        function strip(t) {
            while (kind[t] == "TYPEDEF" || kind[t] == "CONST" || kind[t] == "VOLATILE" || kind[t] == "RESTRICT" || kind[t] == "TYPE_TAG")
                t = ref[t]
            return t
        }
        # bit offset of member m inside type t (searching anonymous members), or -1
        function find(t, m,    k, r) {
            t = strip(t)
            for (k = 1; k <= nmem[t]; k++) if (mname[t, k] == m) { found_type = mtype[t, k]; return moff[t, k] }
            for (k = 1; k <= nmem[t]; k++)
                if (mname[t, k] == "(anon)" && (r = find(mtype[t, k], m)) >= 0) return moff[t, k] + r
            return -1
        }
        END {
            n = split(path, p, ".")
            t = ""
            for (id in kind) if ((kind[id] == "STRUCT" || kind[id] == "UNION") && name[id] == p[1] && nmem[id] > 0) t = id
            if (t == "") exit
            bits = 0
            for (i = 2; i <= n; i++) {
                r = find(t, p[i]); if (r < 0) exit
                bits += r; t = found_type
            }
            if (bits % 8) exit
            print bits / 8
        }' "$tmp/btf.raw"
}

# Disassembly of an exported function (by its dynamic symbol and size).
disasm() { # so symbol
    local addr size
    read -r addr size < <(LC_ALL=C readelf --dyn-syms -W "$1" |
        awk -v s="$2" '!done && $4 == "FUNC" && ($8 == s || index($8, s "@") == 1) { print $2, $3; done = 1 }') || true
    [ -n "${addr:-}" ] || return 1
    case $size in 0x*) size=$((size)) ;; esac
    [ "$size" -gt 0 ] || size=256
    disasm_range "$1" "$((16#$addr))" "$size"
}
disasm_range() { # so start(decimal) length -> "addr<TAB>insn" lines
    LC_ALL=C objdump -d --no-show-raw-insn --start-address="$2" --stop-address="$(($2 + $3))" "$1" |
        awk -F'\t' '/^ *[0-9a-f]+:\t/ { a = $1; gsub(/[ :]/, "", a); print a "\t" $2 }'
}

# Offsets of the loads a function returns: "mov D(%reg),%rax" followed only
# by stack/scratch cleanup (pop, add to %rsp, xor of a register) and ret.
returned_loads() {
    awk -F'\t' '
        { ins[NR] = $2 }
        END {
            for (i = 1; i <= NR; i++) {
                if (ins[i] !~ /^mov +(-?0x[0-9a-f]+)?\(%r[a-z0-9]+\),%rax$/) continue
                for (j = i + 1; j <= NR; j++) {
                    if (ins[j] ~ /^(pop|xor|add +\$0x[0-9a-f]+,%rsp)/) continue
                    break
                }
                if (j <= NR && ins[j] ~ /^ret/) { s = ins[i]; sub(/^mov +/, "", s); sub(/\(.*/, "", s); print (s == "" ? 0 : s) }
            }
        }' | while read -r d; do echo $((d)); done | sort -un
}

status=0
row() { # field btf bin evidence
    local ok=OK
    if [ -z "$2" ] || [ -z "$3" ] || [ "$2" != "$3" ]; then ok=FAIL status=1; fi
    printf '%-48s btf=%-6s bin=%-6s %-4s %s\n' "$1" "${2:--}" "${3:--}" "$ok" "$4"
}

# The one value of a list, or empty when there is none or several.
single() { awk 'NR == 1 { v = $0 } END { if (NR == 1) print v }'; }

prove_openssl() {
    local ssl=$so crypto=${4:-}
    if [ -z "$crypto" ]; then
        crypto=$(dirname "$ssl")/libcrypto.so.$(basename "$ssl" | sed 's/^libssl\.so\.//')
    fi
    [ -f "$crypto" ] || die "no libcrypto next to $ssl (give it as 4th argument)"
    local rb wb ev holder
    disasm "$ssl" SSL_get_rbio >"$tmp/rbio.s" || die "SSL_get_rbio not exported by $ssl"
    disasm "$ssl" SSL_get_wbio >"$tmp/wbio.s" || die "SSL_get_wbio not exported by $ssl"
    rb=$(returned_loads <"$tmp/rbio.s" | single)
    wb=$(returned_loads <"$tmp/wbio.s" | single)
    if [ -n "$(btf_offset ssl_connection_st.rbio)" ]; then
        holder=ssl_connection_st
        # the type test: first 32-bit load from (or test of) the SSL* itself
        local ty
        ty=$(awk -F'\t' '$2 ~ /^(mov|cmpl|testl|testb) +([$]0x[0-9a-f]+,)?(0x[0-9a-f]+)?\(%rdi\)(,%e[a-z0-9]+)?$/ {
                 s = $2; sub(/^[a-z]+ +/, "", s); sub(/^[$]0x[0-9a-f]+,/, "", s); sub(/\(.*/, "", s)
                 print (s == "" ? 0 : s); exit }' "$tmp/rbio.s")
        [ -n "$ty" ] && ty=$((ty))
        row "ssl_st.type" "$(btf_offset ssl_st.type)" "$ty" "SSL_get_rbio: first read of the SSL* (type test)"
        # The program takes the <= 3.1 path whenever ssl_st has an rbio.
        if [ -z "$(btf_offset ssl_st.rbio)" ]; then
            row "ssl_st has no rbio (>= 3.2 path)" 0 0 "BTF: ssl_st.rbio absent"
        else
            row "ssl_st has no rbio (>= 3.2 path)" "$(btf_offset ssl_st.rbio)" "" "BTF: ssl_st.rbio present next to ssl_connection_st"
        fi
    else
        holder=ssl_st
    fi
    ev="SSL_get_rbio: returned load"
    [ -n "$rb" ] || ev="SSL_get_rbio: no single returned load: $(returned_loads <"$tmp/rbio.s" | paste -sd, -)"
    row "$holder.rbio" "$(btf_offset $holder.rbio)" "$rb" "$ev"
    ev="SSL_get_wbio: returned load"
    [ -n "$wb" ] || ev="SSL_get_wbio: no single returned load: $(returned_loads <"$tmp/wbio.s" | paste -sd, -)"
    row "$holder.wbio" "$(btf_offset $holder.wbio)" "$wb" "$ev"

    # return b->method->type
    local m t
    disasm "$crypto" BIO_method_type >"$tmp/mt.s" || die "BIO_method_type not exported by $crypto"
    read -r m t < <(awk -F'\t' '
        $2 ~ /^mov +(0x[0-9a-f]+)?\(%rdi\),%rax$/ && m == "" { s = $2; sub(/^mov +/, "", s); sub(/\(.*/, "", s); m = (s == "" ? "0" : s); next }
        m != "" && $2 ~ /^mov +(0x[0-9a-f]+)?\(%rax\),%eax$/ { s = $2; sub(/^mov +/, "", s); sub(/\(.*/, "", s); t = (s == "" ? "0" : s); print m, t; exit }
        ' "$tmp/mt.s") || true
    row "bio_st.method" "$(btf_offset bio_st.method)" "${m:+$((m))}" "BIO_method_type: load of b->method"
    row "bio_method_st.type" "$(btf_offset bio_method_st.type)" "${t:+$((t))}" "BIO_method_type: 32-bit load through b->method"

    # socket BIO_METHOD: type value and sock_read's read(b->num, ...)
    local tab tyoff ty_val slot fn num base
    disasm "$crypto" BIO_s_socket >"$tmp/sock.s" || die "BIO_s_socket not exported by $crypto"
    tab=$(awk -F'\t' '$2 ~ /^lea +-?0x[0-9a-f]+\(%rip\),%rax/ { if (match($2, /# [0-9a-f]+/)) print substr($2, RSTART + 2, RLENGTH - 2); exit }' "$tmp/sock.s")
    tyoff=$(btf_offset bio_method_st.type)
    slot=$(btf_offset bio_method_st.bread_old)
    ty_val='' num='' base='' ev="BIO_s_socket: no method table found"
    if [ -n "$tab" ] && [ -n "$tyoff" ] && [ -n "$slot" ]; then
        # 4 little-endian bytes at the table + type offset
        ty_val=$(LC_ALL=C objdump -s --start-address=$((16#$tab + tyoff)) --stop-address=$((16#$tab + tyoff + 4)) "$crypto" |
            awk '!done && /^ [0-9a-f]+ [0-9a-f]+/ && length($2) == 8 { b = $2; print substr(b,7,2) substr(b,5,2) substr(b,3,2) substr(b,1,2); done = 1 }')
        fn=$(LC_ALL=C readelf -rW "$crypto" | awk -v t="$(printf '%x' $((16#$tab + slot)))" '
            { o = $1; sub(/^0+/, "", o) } !done && o == t && $3 == "R_X86_64_RELATIVE" { print $4; done = 1 }')
        ev="BIO_s_socket table 0x$tab: bread_old slot has no relocation"
        if [ -n "$fn" ]; then
            disasm_range "$crypto" "$((16#$fn))" 1024 >"$tmp/sockread.s"
            # the last "mov D(%reg),%edi" before the first call to read@plt,
            # with %reg being %rdi itself or a copy of it
            read -r num base < <(awk -F'\t' '
                $2 ~ /^mov +%rdi,%r[a-z0-9]+$/ { r = $2; sub(/.*,/, "", r); copy[r] = 1 }
                $2 ~ /^mov +(0x[0-9a-f]+)?\(%r[a-z0-9]+\),%edi$/ { s = $2; sub(/^mov +/, "", s); d = s; sub(/\(.*/, "", d); r = s; sub(/^[^(]*\(/, "", r); sub(/\).*/, "", r); last = (d == "" ? "0" : d) " " r }
                $2 ~ /^call .*<read@plt>/ { print last; exit }
                ' "$tmp/sockread.s") || true
            [ -n "$num" ] && num=$((num))
            if [ -n "$num" ] && [ "$base" != "%rdi" ] &&
               ! awk -F'\t' -v r="$base" '$2 ~ ("^mov +%rdi," r "$") { f = 1 } END { exit !f }' "$tmp/sockread.s"; then
                ev="sock_read@0x$fn: fd of read() comes from $base, not from the BIO argument"; num=
            elif [ -n "$num" ]; then
                ev="sock_read@0x$fn (BIO_s_socket bread_old): fd argument of read()"
            else
                ev="sock_read@0x$fn: no read(b->num, ...) call found"
            fi
        fi
    fi
    row "bio_st.num" "$(btf_offset bio_st.num)" "$num" "$ev"
    local want=0x00000505
    if [ -n "$ty_val" ] && [ "$((16#$ty_val))" -eq $((want)) ]; then
        row "BIO_s_socket()->type == BIO_TYPE_SOCKET" "$tyoff" "$tyoff" "int at table+bio_method_st.type is 0x$ty_val"
    else
        row "BIO_s_socket()->type == BIO_TYPE_SOCKET" "$tyoff" "" "int at table+bio_method_st.type is ${ty_val:-unreadable}, want 0x505"
    fi
}

prove_gnutls() {
    local recv send
    disasm "$so" gnutls_transport_get_ptr2 >"$tmp/ptr2.s" || die "gnutls_transport_get_ptr2 not exported by $so"
    # *recv_ptr = session->...transport_recv_ptr (stored through %rsi),
    # *send_ptr = session->...transport_send_ptr (stored through %rdx)
    read -r recv send < <(awk -F'\t' '
        $2 ~ /^mov +(0x[0-9a-f]+)?\(%rdi\),%r[a-z0-9]+$/ { s = $2; sub(/^mov +/, "", s); d = s; sub(/\(.*/, "", d); r = s; sub(/.*,/, "", r); val[r] = (d == "" ? "0" : d) }
        $2 ~ /^mov +%r[a-z0-9]+,\(%rsi\)$/ { r = $2; sub(/^mov +/, "", r); sub(/,.*/, "", r); rv = val[r] }
        $2 ~ /^mov +%r[a-z0-9]+,\(%rdx\)$/ { r = $2; sub(/^mov +/, "", r); sub(/,.*/, "", r); sv = val[r] }
        END { print (rv == "" ? "-" : rv), (sv == "" ? "-" : sv) }' "$tmp/ptr2.s") || true
    [ "$recv" = - ] && recv= || recv=$((recv))
    [ "$send" = - ] && send= || send=$((send))
    row "gnutls_session_int.internals.transport_recv_ptr" \
        "$(btf_offset gnutls_session_int.internals.transport_recv_ptr)" "$recv" "gnutls_transport_get_ptr2: load stored to *recv_ptr"
    row "gnutls_session_int.internals.transport_send_ptr" \
        "$(btf_offset gnutls_session_int.internals.transport_send_ptr)" "$send" "gnutls_transport_get_ptr2: load stored to *send_ptr"
}

case "$lib" in
    openssl) prove_openssl "$@" ;;
    gnutls)  prove_gnutls ;;
    *) die "unknown library family: $lib (openssl, gnutls)" ;;
esac

if [ "$status" -eq 0 ]; then echo "prove-offsets: PASS"; else echo "prove-offsets: FAIL"; fi
exit "$status"
