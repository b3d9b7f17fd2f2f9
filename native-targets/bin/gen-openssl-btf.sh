#!/usr/bin/env bash
# Generate the userspace BTF for one Debian OpenSSL package version
# (1.1.1, 3.x, 4.x).
#
#   gen-openssl-btf.sh <debian-version>        e.g. 3.0.19-1~deb12u2
#
# Fetches (cached) the openssl source package and the libssl .deb of that
# version, builds BTF for libssl's internal structs from the configured
# source tree (src/openssl/openssl_types.c -> gcc DWARF -> pahole BTF),
# checks the offsets the BPF program uses against the disassembly of the
# binary (prove-offsets.sh), and writes
# catalog/openssl/<upstream>-<build-id[:12]>.btf plus its line in
# catalog/index.tsv. The build-id comes from the .deb's libssl.so.N, so at
# run time the agent can pick the BTF by the build-id of the mapped library.
#
# When the exact source version cannot be downloaded, the nearest Debian
# source of the same upstream series is used (same upstream release first,
# then the newest older one, then the oldest newer one); such an entry is
# only written when prove-offsets.sh passes, and its proof says so.
#
# stdout: the index line, then the directory holding that build's
#         libssl.so.N and libcrypto.so.N (kept for tests).
# env:    BTF_AGENT_CACHE   cache root (default ~/.cache/btf-agent)
#         BTF_CATALOG_DIR   catalog to write (default native-targets/catalog)
#         BTF_SUITES        suites to search (default derived from ~debNNuM;
#                           required for sid/experimental versions)
#         BTF_SOURCE_VERSION  build from this source version instead
#         BTF_LIBSSL_PACKAGE  binary package (default from the version:
#                           libssl1.1, libssl3 (~deb12), libssl3t64, libssl4)
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
targets=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR source=apt-env.sh
. "$here/apt-env.sh"

# shellcheck source-path=SCRIPTDIR source=deb-fetch.sh
. "$here/deb-fetch.sh"
gen_args 3.0.19-1~deb12u2 "$@"   # sets debver, upstream
need_tools gcc pahole readelf objdump bpftool dpkg-source dpkg-deb dpkg-architecture make perl xz flock \
    apt-get apt-cache /usr/lib/apt/apt-helper

# Only amd64: the types file is compiled for the host, so the layout is the
# host's; another arch would need a cross compiler here.
arch=amd64
multiarch=$(dpkg-architecture -a"$arch" -qDEB_HOST_MULTIARCH 2>/dev/null)
if [ -n "${BTF_LIBSSL_PACKAGE:-}" ]; then
    pkg=$BTF_LIBSSL_PACKAGE
else
    case "$debver" in
        1.1.*)        pkg=libssl1.1 ;;
        3.*~deb12u*)  pkg=libssl3 ;;
        3.*)          pkg=libssl3t64 ;;    # trixie and newer (64-bit time_t rename)
        *)            pkg=libssl${upstream%%.*} ;;
    esac
fi
src_pkg=openssl
# sets catalog, cache, dl, libs, log, suites, deb, suite, work; unpacks the .deb into $work/deb
gen_start openssl "$debver" "$pkg" "$arch"
# The soname follows the package: libssl.so.1.1, libssl.so.3, libssl.so.4.
libssl=$(cd "$work/deb/usr/lib/$multiarch" 2>/dev/null && ls libssl.so.* 2>/dev/null | head -n 1) ||
    die "no libssl.so.* in $(basename "$deb")"
[ -n "$libssl" ] || die "no libssl.so.* in $(basename "$deb")"
libcrypto=libcrypto.so.${libssl#libssl.so.}
mkdir -p "$libs"
for lib in "$libssl" "$libcrypto"; do
    [ -f "$work/deb/usr/lib/$multiarch/$lib" ] || die "$lib not in $(basename "$deb")"
    cp "$work/deb/usr/lib/$multiarch/$lib" "$libs/$lib"
done
build_id=$(LC_ALL=C readelf -n "$libs/$libssl" | awk '/Build ID:/ { print $3 }')
[[ $build_id =~ ^[0-9a-f]{40}$ ]] || die "no GNU build-id in $libssl of $(basename "$deb")"

# Same version installed here: the binaries must be identical.
host_lib=/usr/lib/$multiarch/$libssl
if [ "$(dpkg-query -W -f='${Version}' "$pkg:$arch" 2>/dev/null || true)" = "$debver" ] && [ -f "$host_lib" ]; then
    host_id=$(LC_ALL=C readelf -n "$host_lib" | awk '/Build ID:/ { print $3 }')
    [ "$host_id" = "$build_id" ] || die "build-id $build_id of the downloaded $pkg $debver differs from $host_lib ($host_id)"
fi

# --- source package: configure exactly like debian/rules, build BTF --------
choose_source "$debver" || die "no source to build the BTF of $pkg $debver from"
if [ "$srcver" = "$debver" ]; then proof=exact-source; else proof=nearest-source:$srcver+disasm; fi

run dpkg-source -x "$(source_dsc "$srcver")" "$work/src"
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

# --- proof against the machine code, catalog file, index line --------------
gen_finish openssl "$libs/$libssl" "$work/types.btf" "$libs/$libcrypto"
