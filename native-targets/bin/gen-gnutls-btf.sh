#!/usr/bin/env bash
# Generate the userspace BTF for one Debian GnuTLS (gnutls28) package version.
#
#   gen-gnutls-btf.sh <debian-version>        e.g. 3.7.9-2+deb12u7
#
# Fetches (cached) the gnutls28 source package and the libgnutls30 .deb of
# that version, runs the source's configure with the CONFIGUREARGS of its
# debian/rules (less the options only the DANE library and the docs need),
# compiles src/gnutls/gnutls_types.c against lib/gnutls_int.h with
# -g -gdwarf-4 -gstrict-dwarf, converts the DWARF with pahole, checks the
# offsets against the disassembly of the binary (prove-offsets.sh) and writes
# catalog/gnutls/<upstream>-<build-id[:12]>.btf plus its line in
# catalog/index.tsv. Nearest-source fallback as in gen-openssl-btf.sh.
#
# stdout: the index line, then the directory holding that build's
#         libgnutls.so.30 and the shared libraries it needs besides glibc
#         (nettle, hogweed, gmp, tasn1, idn2, unistring, p11-kit; taken from
#         the same suites, kept for tests).
# env:    BTF_AGENT_CACHE   cache root (default ~/.cache/btf-agent)
#         BTF_CATALOG_DIR   catalog to write (default native-targets/catalog)
#         BTF_SUITES        suites to search (default derived from +debNNuM;
#                           required for sid/experimental versions)
#         BTF_SOURCE_VERSION  build from this source version instead
#         BTF_GNUTLS_PACKAGE  binary package (default libgnutls30 up to
#                           bookworm, libgnutls30t64 after)
#         BTF_GNUTLS_DEPS   0: do not fetch the dependency libraries
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
targets=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR source=apt-env.sh
. "$here/apt-env.sh"

# shellcheck source-path=SCRIPTDIR source=deb-fetch.sh
. "$here/deb-fetch.sh"
gen_args 3.7.9-2+deb12u7 "$@"   # sets debver, upstream
need_tools gcc g++ pahole readelf objdump bpftool pkg-config dpkg-source dpkg-deb dpkg-architecture make xz flock \
    apt-get apt-cache /usr/lib/apt/apt-helper

# Only amd64: the types file is compiled for the host (see gen-openssl-btf.sh).
arch=amd64
multiarch=$(dpkg-architecture -a"$arch" -qDEB_HOST_MULTIARCH 2>/dev/null)
if [ -n "${BTF_GNUTLS_PACKAGE:-}" ]; then
    pkg=$BTF_GNUTLS_PACKAGE
else
    case "$debver" in
        *deb1[012]u*) pkg=libgnutls30 ;;
        *)            pkg=libgnutls30t64 ;;   # trixie and newer (64-bit time_t rename)
    esac
fi
src_pkg=gnutls28
# sets catalog, cache, dl, libs, log, suites, deb, suite, work; unpacks the .deb into $work/deb
gen_start gnutls "$debver" "$pkg" "$arch"
so=libgnutls.so.30
[ -e "$work/deb/usr/lib/$multiarch/$so" ] || die "$so not in $(basename "$deb")"
mkdir -p "$libs"
cp -L "$work/deb/usr/lib/$multiarch/$so" "$libs/$so"   # the soname link's target
build_id=$(LC_ALL=C readelf -n "$libs/$so" | awk '/Build ID:/ { print $3 }')
[[ $build_id =~ ^[0-9a-f]{40}$ ]] || die "no GNU build-id in $so of $(basename "$deb")"

# Same version installed here: the binaries must be identical.
host_lib=/usr/lib/$multiarch/$so
if [ "$(dpkg-query -W -f='${Version}' "$pkg:$arch" 2>/dev/null || true)" = "$debver" ] && [ -f "$host_lib" ]; then
    host_id=$(LC_ALL=C readelf -n "$host_lib" | awk '/Build ID:/ { print $3 }')
    [ "$host_id" = "$build_id" ] || die "build-id $build_id of the downloaded $pkg $debver differs from $host_lib ($host_id)"
fi

# The libraries libgnutls needs besides glibc, in the versions the same
# suites serve now (only fetched when missing: they do not enter the BTF).
if [ "${BTF_GNUTLS_DEPS:-1}" != 0 ]; then
    mapfile -t deps < <(dpkg-deb -f "$deb" Depends | tr ',' '\n' |
        sed -E 's/^ *//; s/[ (].*//; s/:.*//' | grep -v -e '^libc6$' -e '^$' | LC_ALL=C sort -u)
    needed=$(LC_ALL=C readelf -d "$libs/$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
        grep -v -e '^libc\.so' -e '^ld-linux' -e '^libm\.so' -e '^libdl\.so' -e '^libpthread\.so' || true)
    missing=0
    for n in $needed; do [ -e "$libs/$n" ] || missing=1; done
    if [ "$missing" = 1 ]; then
        need_apt
        mkdir -p "$work/deps"
        (cd "$work/deps" && run apt-get -q download "${deps[@]/%/:$arch}") || die "could not download ${deps[*]}"
        for d in "$work"/deps/*.deb; do run dpkg-deb -x "$d" "$work/depsx"; done
        for n in $needed; do
            f=$(find "$work/depsx" -name "$n" | head -n 1)
            [ -n "$f" ] || die "$n (needed by $so) not in ${deps[*]}"
            cp -L "$f" "$libs/$n"
        done
    fi
fi

# --- source package: configure like debian/rules, build BTF ---------------
choose_source "$debver" || die "no source to build the BTF of $pkg $debver from"
if [ "$srcver" = "$debver" ]; then proof=exact-source; else proof=nearest-source:$srcver+disasm; fi

run dpkg-source -x "$(source_dsc "$srcver")" "$work/src"
cd "$work/src"
# CONFIGUREARGS is computed by make from debian/rules itself rather than
# copied (dh_listpackages is not needed for it; its complaint goes to the log).
cat >"$work/print.mk" <<'MK'
print-%:
	@echo $($*)
MK
confargs=$(dpkg-architecture -a"$arch" -c make -s -f debian/rules -f "$work/print.mk" print-CONFIGUREARGS 2>>"$log")
[ -n "$confargs" ] || die "could not read CONFIGUREARGS from debian/rules"
# Dropped: libdane (a separate library; needs libunbound), docs and guile
# (not built into libgnutls). Added: the bundled libunistring, so no
# libunistring-dev is needed (used for IDN strings; no struct reaches it).
args=()
for a in $confargs; do
    case "$a" in
        --enable-libdane|--with-unbound-root-key-file=*) ;;
        *) args+=("$a") ;;
    esac
done
args+=(--without-libdane --disable-doc --disable-guile --with-included-unistring)
# Nettle, hogweed and gmp are given to configure directly instead of via
# pkg-config: 3.8.10+ asks pkg-config for nettle >= 3.10, which a bookworm
# host does not have. No header of theirs is reached from gnutls_types.c
# (gnutls_session_int holds no nettle or gmp type), so their version does
# not enter the BTF.
run env NETTLE_CFLAGS=-I/usr/include NETTLE_LIBS=-lnettle \
        HOGWEED_CFLAGS=-I/usr/include HOGWEED_LIBS=-lhogweed \
        GMP_CFLAGS=-I/usr/include GMP_LIBS=-lgmp \
    ./configure "${args[@]}"
# -gdwarf-4 -gstrict-dwarf: pahole 1.24 mis-encodes _Atomic members from
# newer DWARF. Include paths are those of lib/Makefile.am.
run gcc -g -gdwarf-4 -gstrict-dwarf -O2 -DHAVE_CONFIG_H \
    -I. -Igl -Ilib -Ilib/includes -Ilib/x509 -Ilib/unistring \
    -c "$targets/src/gnutls/gnutls_types.c" -o "$work/types.o"
run pahole --btf_encode_detached="$work/types.btf" "$work/types.o"

# --- proof against the machine code, catalog file, index line --------------
gen_finish gnutls "$libs/$so" "$work/types.btf"
