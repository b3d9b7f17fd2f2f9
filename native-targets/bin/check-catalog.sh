#!/usr/bin/env bash
# Regenerate catalog entries into a temp dir and compare them byte for byte
# with the checked-in BTF files. Regeneration includes the offsets proof
# against the binary (prove-offsets.sh), so a passing entry is both
# reproducible and checked against its library's machine code.
#
#   check-catalog.sh [--all | entry...]
#
# entry: a btf path as in index.tsv (openssl/3.0.19-c0b9959017cf.btf), its
# file name, a package (libssl3=3.0.19-1~deb12u2), a Debian version
# (3.0.19-1~deb12u2) or a build-id (prefix, 8+ hex digits).
# Without arguments: one OpenSSL and one GnuTLS build (the entries in
# $default_entries), to keep CI fast. --all: every entry, and also reports
# BTF files that index.tsv does not list.
# A mismatch usually means a different gcc or pahole than the one that
# produced the catalog (BTF type order follows the compiler's DWARF).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
catalog=$(dirname "$here")/catalog
index=$catalog/index.tsv
[ -f "$index" ] || { echo "check-catalog: no $index" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR source=tools.sh
. "$here/tools.sh"
need_tools gcc pahole

# The host's OpenSSL build (Debian 12) and bookworm's GnuTLS.
default_entries=(libssl3=3.0.19-1~deb12u2 libgnutls30=3.7.9-2+deb12u7)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

all=0
if [ "${1:-}" = --all ]; then
    [ "$#" -eq 1 ] || { echo "check-catalog: --all takes no entries" >&2; exit 2; }
    all=1; wanted=()
elif [ "$#" -eq 0 ]; then
    wanted=("${default_entries[@]}")
else
    wanted=("$@")
fi

declare -A hit=()   # wanted entry -> matched some index line
matches() { # btf package build_id
    local btf=$1 package=$2 build_id=$3 w found=1
    [ "$all" = 1 ] && return 0
    for w in "${wanted[@]}"; do
        if [[ $w == "$btf" || $w == "$(basename "$btf")" || $w == "$package" || $w == "${package#*=}" ||
              ( ${#w} -ge 8 && $build_id == "$w"* ) ]]; then
            hit[$w]=1 found=0
        fi
    done
    return $found
}

plural() { if [ "$checked" -eq 1 ]; then echo y; else echo ies; fi; }

checked=0 failed=0
while IFS=$'\t' read -r lib _version build_id suite package btf proof; do
    matches "$btf" "$package" "$build_id" || continue
    case "$lib" in
        openssl) gen=gen-openssl-btf.sh pkgvar=BTF_LIBSSL_PACKAGE ;;
        gnutls)  gen=gen-gnutls-btf.sh  pkgvar=BTF_GNUTLS_PACKAGE ;;
        *) echo "check-catalog: FAIL $btf: unknown library family '$lib'" >&2; failed=$((failed + 1)); continue ;;
    esac
    pkg=${package%%=*} debver=${package#*=}
    checked=$((checked + 1))
    out=$tmp/$checked
    # Rebuild from the same source the entry was built from; only versions
    # without a ~debNNuM/+debNNuM suffix need their suite spelled out.
    srcver=
    if [[ $proof == nearest-source:* ]]; then srcver=${proof#nearest-source:}; srcver=${srcver%+disasm}; fi
    suites=${BTF_SUITES:-}
    [[ $debver == *deb[0-9][0-9]u* ]] || suites=${suites:-$suite}
    start=$SECONDS
    if ! line=$(env BTF_CATALOG_DIR="$out" "$pkgvar=$pkg" BTF_SOURCE_VERSION="$srcver" BTF_SUITES="$suites" \
                "$here/$gen" "$debver"); then
        echo "check-catalog: FAIL $btf: regeneration of $package failed (see above)" >&2
        failed=$((failed + 1)); continue
    fi
    got_id=$(sed -n 1p <<<"$line" | cut -f3)
    got_proof=$(sed -n 1p <<<"$line" | cut -f7)
    if [ "$got_id" != "$build_id" ]; then
        echo "check-catalog: FAIL $btf: $package now has build-id $got_id, index says $build_id" >&2
        failed=$((failed + 1))
    elif [ "$got_proof" != "$proof" ]; then
        echo "check-catalog: FAIL $btf: proof is now '$got_proof', index says '$proof'" >&2
        failed=$((failed + 1))
    elif [ ! -f "$catalog/$btf" ]; then
        echo "check-catalog: FAIL $btf: listed in index.tsv but missing from the catalog" >&2
        failed=$((failed + 1))
    elif ! cmp -s "$out/$btf" "$catalog/$btf"; then
        echo "check-catalog: FAIL $btf: regenerated BTF differs from the checked-in file" >&2
        echo "  checked in:  $(sha256sum <"$catalog/$btf" | cut -d' ' -f1) $(stat -c %s "$catalog/$btf") bytes" >&2
        echo "  regenerated: $(sha256sum <"$out/$btf" | cut -d' ' -f1) $(stat -c %s "$out/$btf") bytes" >&2
        echo "  toolchain:   $(gcc --version | sed -n 1p); pahole $(pahole --version)" >&2
        failed=$((failed + 1))
    else
        echo "check-catalog: ok $btf ($package, $proof, $((SECONDS - start)) s)"
    fi
done < <(tail -n +2 "$index")

for w in "${wanted[@]}"; do
    if [ -z "${hit[$w]:-}" ]; then
        echo "check-catalog: no entry in index.tsv matches '$w'" >&2
        failed=$((failed + 1))
    fi
done
# A full check also catches BTF files that no index line refers to.
if [ "$all" = 1 ]; then
    for f in "$catalog"/*/*.btf; do
        [ -e "$f" ] || continue
        rel=${f#"$catalog"/}
        cut -f6 "$index" | grep -qxF "$rel" || {
            echo "check-catalog: FAIL $rel is not listed in index.tsv" >&2
            failed=$((failed + 1))
        }
    done
fi

if [ "$failed" -ne 0 ]; then
    echo "check-catalog: $failed problem(s) in $checked regenerated entr$(plural)" >&2
    exit 1
fi
[ "$checked" -gt 0 ] || { echo "check-catalog: no entries to check" >&2; exit 1; }
echo "check-catalog: $checked entr$(plural) reproduced byte for byte"
