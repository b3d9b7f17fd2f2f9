#!/usr/bin/env bash
# Generate the userspace BTF for one Debian OpenSSL 3.x package version.
#
#   gen-openssl-btf.sh <debian-version>        e.g. 3.0.19-1~deb12u2
#
# Fetches (cached) the openssl source package and the libssl .deb of that
# version, builds BTF for libssl's internal structs from the configured
# source tree (src/openssl/openssl_types.c -> gcc DWARF -> pahole BTF), and
# writes catalog/openssl/<upstream>-<build-id[:12]>.btf plus its line in
# catalog/index.tsv. The build-id comes from the .deb's libssl.so.3, so at
# run time the agent can pick the BTF by the build-id of the mapped library.
#
# stdout: the index line, then the directory holding that build's
#         libssl.so.3 and libcrypto.so.3 (kept for tests).
# env:    BTF_AGENT_CACHE   cache root (default ~/.cache/btf-agent)
#         BTF_CATALOG_DIR   catalog to write (default native-targets/catalog)
#         BTF_SUITES        suites to search (default derived from ~debNNuM)
#         BTF_SOURCE_VERSION  build from this source version instead
#         BTF_LIBSSL_PACKAGE  binary package (default libssl3; trixie+: libssl3t64)
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
targets=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR source=apt-env.sh
. "$here/apt-env.sh"

die() {
    echo "gen-openssl-btf: $*" >&2
    if [ -s "${log:-}" ]; then echo "end of $log:" >&2; tail -n 30 "$log" >&2; fi
    exit 1
}
[ "$#" -eq 1 ] || die "usage: $0 <debian-package-version, e.g. 3.0.19-1~deb12u2>"
debver=$1
[[ $debver =~ ^[0-9][A-Za-z0-9.+~]*-[A-Za-z0-9.+~]+$ ]] || die "not a Debian version (no epoch): $debver"
upstream=${debver%-*}
for tool in gcc pahole readelf dpkg-source dpkg-deb make perl; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
done

# Only amd64: the types file is compiled for the host, so the layout is the
# host's; another arch would need a cross compiler here.
arch=amd64
multiarch=$(dpkg-architecture -a"$arch" -qDEB_HOST_MULTIARCH 2>/dev/null)
pkg=${BTF_LIBSSL_PACKAGE:-libssl3}
catalog=${BTF_CATALOG_DIR:-$targets/catalog}
cache=$BTF_AGENT_CACHE
dl=$cache/downloads/openssl          # shared: revisions share the orig tarball
libs=$cache/libs/openssl-$debver
mkdir -p "$dl" "$cache/logs" "$catalog/openssl"

log=$cache/logs/gen-openssl-btf-$debver.log
: >"$log"
export BTF_APT_LOG=$log
trap 'echo "gen-openssl-btf: failed at line $LINENO (exit $?); end of $log:" >&2; tail -n 30 "$log" >&2' ERR
run() { "$@" >>"$log" 2>&1; }

# ~debNNuM versions live in that release's main or security suite.
if [ -n "${BTF_SUITES:-}" ]; then
    read -r -a suites <<<"$BTF_SUITES"
else
    case "$debver" in
        *deb11u*) codename=bullseye ;;
        *deb12u*) codename=bookworm ;;
        *deb13u*) codename=trixie ;;
        *) die "cannot tell the suite of $debver; set BTF_SUITES (e.g. \"sid\")" ;;
    esac
    suites=("$codename" "$codename-security")
fi
# apt is only set up when something is missing from the cache, so a warm
# cache regenerates offline (and never trips over expiring Release files).
apt_ready=
need_apt() {
    [ -n "$apt_ready" ] && return
    btf_apt_env "${suites[@]}" || exit 1   # it already printed why
    apt_ready=1
}

# Files the index no longer lists (superseded security uploads) often stay in
# the pool a while: fetch them by pool path. The .dsc checksums still verify
# the source tarballs (dpkg-source -x); the .deb is checked against the host
# below when the host runs that version.
pool_fetch() { # file -> prints suite it came from
    local f=$1 suite uri
    for suite in "${suites[@]}"; do
        case "$suite" in
            *-security) uri=$BTF_APT_SECURITY_MIRROR/pool/updates/main/o/openssl ;;
            *)          uri=$BTF_APT_MIRROR/pool/main/o/openssl ;;
        esac
        # via .part so an interrupted download is never taken for a cached file
        if run /usr/lib/apt/apt-helper download-file "$uri/$f" "$dl/$f.part"; then
            mv "$dl/$f.part" "$dl/$f"; echo "$suite"; return 0
        fi
        rm -f "$dl/$f.part"
    done
    return 1
}

indexed_suite() { # package version -> first of our suites whose index has it
    local s
    # madison also prints the source package's lines: keep binary ones only.
    for s in "${suites[@]}"; do
        apt-cache madison "$1" | awk -F' [|] ' -v p="$1" -v v="$2" -v s="$s" '
            { gsub(/ /, "", $1); gsub(/ /, "", $2) }
            $1 == p && $2 == v && $3 ~ (" " s "/.* Packages$") { found = 1 }
            END { exit !found }' && { echo "$s"; return 0; }
    done
    return 1
}

dsc_files() { awk '/^Checksums-Sha256:/ { on = 1; next } /^[^ ]/ { on = 0 } on { print $3 }' "$1"; }

fetch_source() { # version -> .dsc and its files in $dl (dpkg-source -x checks them)
    local v=$1 dsc=$dl/openssl_$1.dsc f
    if [ -f "$dsc" ] && dsc_files "$dsc" | while read -r f; do [ -f "$dl/$f" ] || exit 1; done; then
        return 0
    fi
    need_apt
    if (cd "$dl" && run apt-get -q source --download-only "openssl=$v"); then return 0; fi
    [ -f "$dsc" ] || pool_fetch "openssl_$v.dsc" >/dev/null || return 1
    dsc_files "$dsc" | while read -r f; do
        [ -f "$dl/$f" ] || pool_fetch "$f" >/dev/null || exit 1
    done
}

# --- binary package: build-id and the libraries ---------------------------
deb=$dl/${pkg}_${debver}_$arch.deb
suite_file=$deb.suite     # remember where it came from for cached reruns
if [ ! -f "$deb" ] || [ ! -f "$suite_file" ]; then
    need_apt
    if suite=$(indexed_suite "$pkg" "$debver"); then
        (cd "$dl" && run apt-get -q download "$pkg:$arch=$debver") || die "apt-get download $pkg=$debver failed"
    else
        suite=$(pool_fetch "$(basename "$deb")") || die "$pkg $debver is neither in the ${suites[*]} indexes nor in their pools"
    fi
    echo "$suite" >"$suite_file"
fi
suite=$(cat "$suite_file")

work=$(mktemp -d "$cache/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
run dpkg-deb -x "$deb" "$work/deb"
mkdir -p "$libs"
for lib in libssl.so.3 libcrypto.so.3; do
    [ -f "$work/deb/usr/lib/$multiarch/$lib" ] || die "$lib not in $(basename "$deb")"
    cp "$work/deb/usr/lib/$multiarch/$lib" "$libs/$lib"
done
build_id=$(LC_ALL=C readelf -n "$libs/libssl.so.3" | awk '/Build ID:/ { print $3 }')
[[ $build_id =~ ^[0-9a-f]{40}$ ]] || die "no GNU build-id in libssl.so.3 of $(basename "$deb")"

# Same version installed here: the binaries must be identical.
host_lib=/usr/lib/$multiarch/libssl.so.3
if [ "$(dpkg-query -W -f='${Version}' "$pkg:$arch" 2>/dev/null || true)" = "$debver" ] && [ -f "$host_lib" ]; then
    host_id=$(LC_ALL=C readelf -n "$host_lib" | awk '/Build ID:/ { print $3 }')
    [ "$host_id" = "$build_id" ] || die "build-id $build_id of the downloaded $pkg $debver differs from $host_lib ($host_id)"
fi

# --- source package: configure exactly like debian/rules, build BTF --------
srcver=${BTF_SOURCE_VERSION:-$debver}
if ! fetch_source "$srcver"; then
    [ -z "${BTF_SOURCE_VERSION:-}" ] || die "source openssl $srcver not available"
    # Nearest = newest indexed source revision of the same upstream release
    # (Debian revisions of one upstream rarely touch struct layouts).
    need_apt
    srcver=$(apt-cache showsrc openssl | awk -v u="$upstream-" -v v="$debver" \
        '/^Version:/ && index($2, u) == 1 && $2 != v { print $2 }' | sort -V | tail -n 1)
    [ -n "$srcver" ] || die "no source for openssl $debver (or any $upstream-*); set BTF_SOURCE_VERSION"
    echo "gen-openssl-btf: source $debver unavailable, using $srcver" >&2
    fetch_source "$srcver" || die "source openssl $srcver not downloadable"
fi
if [ "$srcver" = "$debver" ]; then proof=exact-source; else proof=nearest-source:$srcver; fi

run dpkg-source -x "$dl/openssl_$srcver.dsc" "$work/src"
cd "$work/src"
# CONFARGS is computed by make from debian/rules itself (arch conditionals
# included) rather than copied, so new revisions are followed automatically.
cat >"$work/print.mk" <<'MK'
print-%:
	@echo $($*)
MK
confargs=$(dpkg-architecture -a"$arch" -c make -s -f debian/rules -f "$work/print.mk" print-CONFARGS 2>>"$log")
[ -n "$confargs" ] || die "could not read CONFARGS from debian/rules"
# shellcheck disable=SC2086 # CONFARGS is a word list
run ./Configure shared $confargs "debian-$arch"
run make build_generated
# -gdwarf-4 -gstrict-dwarf: pahole 1.24 mis-encodes _Atomic members from
# newer DWARF. The -D flags are those libssl's objects are built with (less
# path and policy macros, which no struct depends on).
run gcc -g -gdwarf-4 -gstrict-dwarf -O2 -pthread \
    -DOPENSSL_BUILDING_OPENSSL -DNDEBUG -DL_ENDIAN -DOPENSSL_PIC \
    -I. -Iinclude -c "$targets/src/openssl/openssl_types.c" -o "$work/types.o"
run pahole --btf_encode_detached="$work/types.btf" "$work/types.o"

btf=openssl/$upstream-${build_id:0:12}.btf
install -m 644 "$work/types.btf" "$catalog/$btf"

# --- index: one line per (lib, build-id), sorted, deterministic ------------
line=$(printf 'openssl\t%s\t%s\t%s\t%s\t%s\t%s' "$upstream" "$build_id" "$suite" "$pkg=$debver" "$btf" "$proof")
header=$(printf 'lib\tversion\tbuild_id\tsuite\tpackage\tbtf\tproof')
index=$catalog/index.tsv
{
    echo "$header"
    { [ -f "$index" ] && tail -n +2 "$index" | awk -F'\t' -v id="$build_id" '!($1 == "openssl" && $3 == id)'; echo "$line"; } \
        | LC_ALL=C sort -t"$(printf '\t')" -k1,1 -k2,2V -k3,3
} >"$work/index.tsv"
cp "$work/index.tsv" "$index"

echo "$line"
echo "$libs"
