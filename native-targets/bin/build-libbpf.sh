#!/usr/bin/env bash
# Build the libbpf.so the agent carries, from Debian's libbpf source package,
# with the host toolchain, libelf (Debian's elfutils source) and zlib linked
# in statically: the result needs nothing but glibc (>= 2.28) on the host.
#
#   build-libbpf.sh [out-dir]        default: native-targets/target/libbpf
#
# out-dir: libbpf.so, libbpf.version (key=value), include/{bpf,linux}/*.h
#          (libbpf's headers and the UAPI it was built with), .inputs (hash
#          of everything the build depends on; the build is skipped while it
#          matches).
# env:     BTF_AGENT_CACHE   cache root (default ~/.cache/btf-agent)
#          BTF_POOL_MIRRORS  archives to fetch from by pool path when the
#                            indexes no longer list the pinned versions
#                            (default: the apt mirror; e.g. add
#                            https://snapshot.debian.org/archive/debian/20260415T000000Z)
set -euo pipefail
shopt -s nullglob

LIBBPF_DEBVER=1.7.0-1      # sid
LIBBPF_DSC_SHA256=e98102cf5441b877ef390931f0dbef60203e750861dcdb16c24fc2a705d8c342
ELFUTILS_DEBVER=0.192-4    # trixie
ELFUTILS_DSC_SHA256=37d101658c45a25afc15d2053a1378df2381dadbb368e262ede2cea79241779f
suites=(trixie sid)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
targets=$(dirname "$here")
# The .dsc hashes above are the trust anchor (dpkg-source -x checks the
# tarballs against them), so an expired Release file (sid on a frozen
# mirror) must not stop the download.
: "${BTF_APT_CHECK_VALID_UNTIL:=false}"
# shellcheck source-path=SCRIPTDIR source=apt-env.sh
. "$here/apt-env.sh"

out=$(mkdir -p "${1:-$targets/target/libbpf}" && cd "${1:-$targets/target/libbpf}" && pwd)
cache=$BTF_AGENT_CACHE
dl=$cache/downloads/libbpf
log=$cache/logs/build-libbpf.log
mkdir -p "$dl" "$cache/logs"
die() { echo "build-libbpf: $*" >&2; exit 1; }
run() { "$@" >>"$log" 2>&1 || { echo "build-libbpf: failed: $*; end of $log:" >&2; tail -n 30 "$log" >&2; exit 1; }; }

# shellcheck source-path=SCRIPTDIR source=tools.sh
. "$here/tools.sh"
need_tools gcc make ar ld strip nm readelf objdump patch dpkg-source dpkg-query bzip2 xz sha256sum \
    apt-get /usr/lib/apt/apt-helper
# Only zlib comes from the host (its libz.a is PIC); libelf.a of Debian 12 is
# not, hence elfutils from source.
if ! dpkg-query -W -f='${Status}' zlib1g-dev 2>/dev/null | grep -q "install ok installed"; then
    [ "$(id -u)" -eq 0 ] || die "zlib1g-dev missing; apt-get install zlib1g-dev"
    DEBIAN_FRONTEND=noninteractive run apt-get install -y -q --no-install-recommends zlib1g-dev
fi
libz=$(gcc -print-file-name=libz.a)
[ -f "$libz" ] || die "libz.a not found"

# Everything that can change the bytes of the output.
inputs=$( {
    sha256sum "$0" "$targets/libbpf/glibc-compat.c" "$targets"/libbpf/patches/*.patch "$libz" | cut -d' ' -f1
    echo "$LIBBPF_DSC_SHA256 $ELFUTILS_DSC_SHA256"
    gcc --version | head -n 1; ld --version | head -n 1; strip --version | head -n 1
    dpkg-query -W -f='${Version}\n' libc6-dev zlib1g-dev
} | sha256sum | cut -d' ' -f1)
if [ -f "$out/libbpf.so" ] && [ -f "$out/libbpf.version" ] && [ "$(cat "$out/.inputs" 2>/dev/null)" = "$inputs" ]; then
    echo "$out/libbpf.so (up to date)"
    exit 0
fi
: >"$log"

apt_ready=
need_apt() { [ -n "$apt_ready" ] || { btf_apt_env "${suites[@]}" || exit 1; apt_ready=1; }; }
dsc_files() { awk '/^Checksums-Sha256:/ { on = 1; next } /^[^ ]/ { on = 0 } on { print $3 }' "$1"; }
have_source() { # dsc sha256
    [ -f "$1" ] && [ "$(sha256sum <"$1" | cut -d' ' -f1)" = "$2" ] &&
        dsc_files "$1" | while read -r f; do [ -f "$dl/$f" ] || exit 1; done
}
pool_fetch() { # package file: for versions the indexes no longer list
    local p=$1 dir m
    case "$p" in lib*) dir=${p:0:4} ;; *) dir=${p:0:1} ;; esac
    for m in ${BTF_POOL_MIRRORS:-$BTF_APT_MIRROR}; do
        # via .part so an interrupted download is never taken for a cached file
        if /usr/lib/apt/apt-helper download-file "$m/pool/main/$dir/$p/$2" "$dl/$2.part" >>"$log" 2>&1; then
            mv "$dl/$2.part" "$dl/$2"
            return 0
        fi
        rm -f "$dl/$2.part"
    done
    die "$2 is neither in the ${suites[*]} indexes nor in the pool of: ${BTF_POOL_MIRRORS:-$BTF_APT_MIRROR}"
}
fetch_source() { # package version dsc-sha256
    local dsc=$dl/${1}_$2.dsc f
    have_source "$dsc" "$3" && return 0
    need_apt
    if ! (cd "$dl" && apt-get -q source --download-only "$1=$2" >>"$log" 2>&1); then
        pool_fetch "$1" "$(basename "$dsc")"
        dsc_files "$dsc" | while read -r f; do [ -f "$dl/$f" ] || pool_fetch "$1" "$f"; done
    fi
    have_source "$dsc" "$3" || die "$(basename "$dsc") does not match its pinned sha256"
}
fetch_source libbpf "$LIBBPF_DEBVER" "$LIBBPF_DSC_SHA256"
fetch_source elfutils "$ELFUTILS_DEBVER" "$ELFUTILS_DSC_SHA256"

work=$(mktemp -d "$cache/build-libbpf.XXXXXX")
trap 'rm -rf "$work"' EXIT
run dpkg-source -x "$dl/libbpf_$LIBBPF_DEBVER.dsc" "$work/libbpf"
run dpkg-source -x "$dl/elfutils_$ELFUTILS_DEBVER.dsc" "$work/elfutils"
# Upstream fixes not yet in the pinned release (see each patch's header).
patches=()
for p in "$targets"/libbpf/patches/*.patch; do
    run patch -d "$work/libbpf" -p1 --no-backup-if-mismatch -i "$p"
    patches+=("$(basename "$p" .patch)")
done

# Same flags for all three parts; the prefix map keeps the random work dir
# out of __FILE__ strings (assert messages) so two builds are identical.
# _FORTIFY_SOURCE given explicitly so elfutils' configure does not pick =3.
cflags="-O2 -fPIC -fstack-protector-strong -D_FORTIFY_SOURCE=2 -ffile-prefix-map=$work=."
jobs=$(nproc)

mkdir "$work/elfutils-build"
(cd "$work/elfutils-build" && run ../elfutils/configure --disable-debuginfod --disable-libdebuginfod \
    --without-zstd --without-bzlib --without-lzma --disable-nls --disable-symbol-versioning CFLAGS="$cflags")
run make -C "$work/elfutils-build/lib" -j"$jobs"
run make -C "$work/elfutils-build/libelf" -j"$jobs" libelf.a

# shellcheck disable=SC2086 # a flag list
run gcc $cflags -c "$targets/libbpf/glibc-compat.c" -o "$work/glibc-compat.o"

upstream=$(awk -F' := ' '/^LIBBPF_(MAJOR|MINOR|PATCH)_VERSION/ { v = v (v == "" ? "" : ".") $2 } END { print v }' "$work/libbpf/src/Makefile")
[ "$upstream" = "${LIBBPF_DEBVER%-*}" ] || die "libbpf source says $upstream, package is $LIBBPF_DEBVER"
# libbpf.map keeps only libbpf's API global; --exclude-libs makes sure no
# libelf/zlib symbol is exported (a host libelf must not be interposed on),
# -Bsymbolic makes libbpf's own calls bind to itself even if another
# libbpf is already in the process.
run make -C "$work/libbpf/src" -j"$jobs" OBJDIR="$work/obj" NO_PKG_CONFIG=1 \
    CFLAGS="$cflags -std=gnu89 -Wall" EXTRA_CFLAGS="-I$work/elfutils/libelf" \
    ALL_LDFLAGS="-Wl,-z,relro,-z,now -Wl,-Bsymbolic -Wl,--exclude-libs,ALL -Wl,--wrap=fstat,--wrap=fstat64 \
        $work/glibc-compat.o $work/elfutils-build/libelf/libelf.a $work/elfutils-build/lib/libeu.a $libz" \
    "$work/obj/libbpf.so.$upstream"
# The UAPI headers too: Debian 12's linux-libc-dev predates e.g. BPF_TRACE_UPROBE_MULTI.
run make -C "$work/libbpf/src" install_headers install_uapi_headers INCLUDEDIR="$work/include" UAPIDIR="$work/include"
strip --strip-unneeded -o "$work/libbpf.so" "$work/obj/libbpf.so.$upstream"

# The whole point: only glibc at run time, and no symbol newer than glibc 2.31.
# (ld-linux comes with libelf's thread-local error state: __tls_get_addr.)
needed=$(LC_ALL=C readelf -d "$work/libbpf.so" | awk '/\(NEEDED\)/ && $NF !~ /^\[(libc\.so\.6|ld-linux.*)\]$/ { print $NF }' | xargs)
[ -z "$needed" ] || die "libbpf.so needs: $needed"
leaked=$(nm -D --defined-only "$work/libbpf.so" | awk '$3 ~ /^(elf|elf32|elf64|gelf|eu)_|^(inflate|deflate|gz|zlib|crc32|adler32|compress|uncompress)/ { print $3 }' | xargs)
[ -z "$leaked" ] || die "libbpf.so exports libelf/zlib symbols: $leaked"
glibc_max=$(objdump -T "$work/libbpf.so" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
[ "$(printf '%s\n' "$glibc_max" GLIBC_2.31 | sort -V | tail -n 1)" = GLIBC_2.31 ] ||
    die "libbpf.so needs $glibc_max (see libbpf/glibc-compat.c)"

rm -rf "$out/include"
cp -r "$work/include" "$out/include"
cat >"$work/libbpf.version" <<EOF
version=$upstream
debian_source=libbpf $LIBBPF_DEBVER
patches=$(IFS=,; echo "${patches[*]}")
libelf=elfutils $ELFUTILS_DEBVER
zlib=zlib1g-dev $(dpkg-query -W -f='${Version}' zlib1g-dev)
glibc_min=${glibc_max#GLIBC_}
EOF
cp "$work/libbpf.version" "$out/libbpf.version"
cp "$work/libbpf.so" "$out/libbpf.so.tmp" && mv "$out/libbpf.so.tmp" "$out/libbpf.so"
echo "$inputs" >"$out/.inputs"
echo "$out/libbpf.so"
