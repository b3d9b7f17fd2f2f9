#!/usr/bin/env bash
# Makes sure the real shared libraries of every build in the BTF catalog are
# extracted from Debian's own packages, for the end-to-end tests:
#
#   fetch-catalog-libs.sh [index.tsv]     (default native-targets/catalog/index.tsv)
#
# For each row it keeps ${BTF_AGENT_CACHE}/libs/<lib>-<debian-version>/ with
#   openssl: libssl.so.N and libcrypto.so.N from the row's package
#            (libssl1.1, libssl3, libssl3t64, libssl4)
#   gnutls:  libgnutls.so.30 from the row's package (libgnutls30, libgnutls30t64)
# checks that the library's GNU build-id is the row's build_id, and prints
#   <lib> TAB <version> TAB <build_id> TAB <directory>
# Downloads go through native-targets/bin (private apt setup, pool fallback for
# superseded versions) into the same download cache the BTF generators use; a
# warm cache needs no network and takes well under a second.
#
# env: BTF_AGENT_CACHE  cache root (default ~/.cache/btf-agent)
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
checkout=$(cd "$here/../.." && pwd)
nt_bin=$checkout/native-targets/bin
index=${1:-$checkout/native-targets/catalog/index.tsv}
# shellcheck source-path=SCRIPTDIR source=../../native-targets/bin/apt-env.sh
. "$nt_bin/apt-env.sh"

die() { echo "fetch-catalog-libs: $*" >&2; exit 1; }
[ -r "$index" ] || die "no catalog index at $index"
# shellcheck source-path=SCRIPTDIR source=../../native-targets/bin/tools.sh
. "$nt_bin/tools.sh"
need_tools readelf dpkg-deb flock apt-get apt-cache /usr/lib/apt/apt-helper
cache=$BTF_AGENT_CACHE
mkdir -p "$cache/logs" "$cache/libs"
log=$cache/logs/fetch-catalog-libs.log
: >"$log"
export BTF_APT_LOG=$log
run() { "$@" >>"$log" 2>&1; }

build_id_of() {
    LC_ALL=C readelf -n "$1" 2>/dev/null | awk '/Build ID:/ { print $3; exit }'
}

# The files a row needs, relative to the package's multiarch lib directory.
wanted_files() { # lib soname-dir
    local f
    case "$1" in
        openssl) for f in "$2"/libssl.so.* "$2"/libcrypto.so.*; do [ -f "$f" ] && echo "${f##*/}"; done ;;
        gnutls)  [ -f "$2/libgnutls.so.30" ] && echo libgnutls.so.30 ;;
    esac
    return 0
}
main_file() { # lib dir -> the library whose build-id the row names
    local f
    case "$1" in
        openssl) for f in "$2"/libssl.so.*; do [ -f "$f" ] && { echo "${f##*/}"; break; }; done ;;
        gnutls)  echo libgnutls.so.30 ;;
    esac
    return 0
}

# Parallel runs (several builds, the BTF generators) share the cache.
exec 9>>"$cache/libs.lock"
flock 9

tab=$(printf '\t')
failed=0
while IFS="$tab" read -r lib version build_id row_suite package _btf _proof; do
    [ "$lib" = lib ] && continue         # header
    [ -n "$lib" ] || continue
    pkg=${package%%=*} debver=${package#*=}
    # src_pkg, dl, suites and run are what deb-fetch.sh's functions use
    # shellcheck disable=SC2034
    case "$lib" in
        openssl) src_pkg=openssl ;;
        gnutls)  src_pkg=gnutls28 ;;
        *) echo "fetch-catalog-libs: skipping unknown library family $lib" >&2; continue ;;
    esac
    dir=$cache/libs/$lib-$debver
    main=$(main_file "$lib" "$dir" || true)
    if [ -n "$main" ] && [ -f "$dir/$main" ] && [ "$(build_id_of "$dir/$main")" = "$build_id" ] &&
       { [ "$lib" != openssl ] || [ -f "$dir/libcrypto.so.${main#libssl.so.}" ]; }; then
        printf '%s\t%s\t%s\t%s\n' "$lib" "$version" "$build_id" "$dir"
        continue
    fi

    # --- fetch the .deb (cached in the generators' download directory) ------
    case "$row_suite" in
        sid|unstable|experimental) suites=("$row_suite") ;;
        *-security) suites=("${row_suite%-security}" "$row_suite") ;;
        *)          suites=("$row_suite" "$row_suite-security") ;;
    esac
    dl=$cache/downloads/$lib
    mkdir -p "$dl"
    # (re)defines need_apt, which sets apt up for these suites on first use
    # shellcheck source-path=SCRIPTDIR source=../../native-targets/bin/deb-fetch.sh
    . "$nt_bin/deb-fetch.sh"
    deb=$dl/${pkg}_${debver}_amd64.deb
    if ! fetch_deb "$pkg" "$debver" amd64; then
        echo "fetch-catalog-libs: $package is neither in the ${suites[*]} indexes nor in their pools (log $log)" >&2
        failed=1; continue
    fi
    work=$(mktemp -d "$cache/libs/.extract.XXXXXX")
    run dpkg-deb -x "$deb" "$work"
    so_dir=$work/usr/lib/x86_64-linux-gnu
    files=$(wanted_files "$lib" "$so_dir" || true)
    main=$(main_file "$lib" "$so_dir" || true)
    if [ -z "$files" ] || [ -z "$main" ] || [ ! -f "$so_dir/$main" ]; then
        echo "fetch-catalog-libs: no $lib library in $(basename "$deb")" >&2
        rm -rf "$work"; failed=1; continue
    fi
    got=$(build_id_of "$so_dir/$main")
    if [ "$got" != "$build_id" ]; then
        echo "fetch-catalog-libs: $main of $(basename "$deb") has build-id $got, the catalog says $build_id" >&2
        rm -rf "$work"; failed=1; continue
    fi
    mkdir -p "$dir"
    for f in $files; do
        # via .part: a reader never sees half a library
        cp "$so_dir/$f" "$dir/.$f.part" && mv -f "$dir/.$f.part" "$dir/$f"
    done
    rm -rf "$work"
    printf '%s\t%s\t%s\t%s\n' "$lib" "$version" "$build_id" "$dir"
done <"$index"
[ "$failed" -eq 0 ] || die "some catalog builds could not be fetched (see above)"
