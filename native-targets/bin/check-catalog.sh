#!/usr/bin/env bash
# Regenerate catalog entries into a temp dir and compare them byte for byte
# with the checked-in BTF files.
#
#   check-catalog.sh [entry...]
#
# entry: a btf path as in index.tsv (openssl/3.0.19-c0b9959017cf.btf), its
# file name, a Debian version (3.0.19-1~deb12u2) or a build-id (prefix).
# Without entries: every openssl 3.0 entry of catalog/index.tsv.
# A mismatch usually means a different gcc or pahole than the one that
# produced the catalog (BTF type order follows the compiler's DWARF).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
catalog=$(dirname "$here")/catalog
index=$catalog/index.tsv
[ -f "$index" ] || { echo "check-catalog: no $index" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

declare -A hit=()   # script argument -> matched some entry
matches() { # btf debver build_id version
    local btf=$1 debver=$2 build_id=$3 version=$4 w found=1
    if [ "${#wanted[@]}" -eq 0 ]; then [[ $version == 3.0.* ]]; return; fi
    for w in "${wanted[@]}"; do
        if [[ $w == "$btf" || $w == "$(basename "$btf")" || $w == "$debver" ||
              ( ${#w} -ge 8 && $build_id == "$w"* ) ]]; then
            hit[$w]=1 found=0
        fi
    done
    return $found
}

plural() { if [ "$checked" -eq 1 ]; then echo y; else echo ies; fi; }

wanted=("$@")
checked=0 failed=0
while IFS=$'\t' read -r lib version build_id suite package btf proof; do
    [ "$lib" = openssl ] || continue
    pkg=${package%%=*} debver=${package#*=}
    matches "$btf" "$debver" "$build_id" "$version" || continue
    checked=$((checked + 1))
    out=$tmp/$checked
    # Rebuild from the same source the entry was built from; only versions
    # without a ~debNNuM suffix need their suite spelled out.
    srcver=
    [[ $proof == nearest-source:* ]] && srcver=${proof#nearest-source:}
    suites=${BTF_SUITES:-}
    [[ $debver == *deb[0-9][0-9]u* ]] || suites=${suites:-$suite}
    if ! line=$(BTF_CATALOG_DIR=$out BTF_LIBSSL_PACKAGE=$pkg BTF_SOURCE_VERSION=$srcver BTF_SUITES=$suites \
                "$here/gen-openssl-btf.sh" "$debver"); then
        echo "check-catalog: FAIL $btf: regeneration of $package failed (see above)" >&2
        failed=$((failed + 1)); continue
    fi
    got_id=$(sed -n 1p <<<"$line" | cut -f3)
    if [ "$got_id" != "$build_id" ]; then
        echo "check-catalog: FAIL $btf: $package now has build-id $got_id, index says $build_id" >&2
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
    fi
done < <(tail -n +2 "$index")

for w in "${wanted[@]}"; do
    if [ -z "${hit[$w]:-}" ]; then
        echo "check-catalog: no openssl entry in index.tsv matches '$w'" >&2
        failed=$((failed + 1))
    fi
done
# A full check also catches BTF files that no index line refers to.
if [ "${#wanted[@]}" -eq 0 ]; then
    for f in "$catalog"/openssl/*.btf; do
        [ -e "$f" ] || continue
        cut -f6 "$index" | grep -qxF "openssl/$(basename "$f")" || {
            echo "check-catalog: FAIL $f is not listed in index.tsv" >&2
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
