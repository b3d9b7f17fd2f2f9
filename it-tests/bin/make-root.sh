#!/usr/bin/env bash
# A Debian root of one suite for running a library build whose glibc is newer
# than the host's (trixie and later need glibc >= 2.38; Debian 12 has 2.36).
#
#   make-root.sh <suite> <dir>        suite: trixie or sid, or bookworm (the
#                                     kernel matrix's root, which also has
#                                     initramfs-tools and iproute2)
#
# The root is a debootstrap minbase of that suite with its JDK, openssl,
# ca-certificates and the suite's libgnutls30t64 (so GnuTLS's dependencies are
# there). It is built once and kept as ${BTF_AGENT_CACHE}/roots/<suite>.tar;
# <dir> gets an extracted copy, reused while it matches the tarball (stamp file
# <dir>/.btf-root). Prints <dir> and the root's java (path inside the root).
#
# Release signatures are checked with debian-archive-keyring (debootstrap's
# default for Debian). debootstrap checks the signature of the Release file but
# not its Valid-Until, so a Release that apt would call expired still works;
# nothing here disables signature checks.
#
# env: BTF_AGENT_CACHE  cache root (default ~/.cache/btf-agent)
#      BTF_ROOT_MIRROR  Debian mirror (default: the deb.debian.org-style URI of
#                       the system's apt sources, else http://deb.debian.org/debian)
set -Eeuo pipefail

die() { echo "make-root: $*" >&2; exit 1; }
[ "$#" -eq 2 ] || die "usage: $0 <bookworm|trixie|sid> <dir>"
suite=$1 dir=$2
tls=libgnutls30t64,libssl3t64
case "$suite" in
    bookworm) jdk=openjdk-17-jre-headless java=/usr/lib/jvm/java-17-openjdk-amd64/bin/java
              tls=libgnutls30,libssl3,initramfs-tools,iproute2 ;;
    trixie) jdk=openjdk-21-jre-headless java=/usr/lib/jvm/java-21-openjdk-amd64/bin/java ;;
    sid)    jdk=openjdk-25-jre-headless java=/usr/lib/jvm/java-25-openjdk-amd64/bin/java ;;
    *) die "unsupported suite $suite (bookworm, trixie, sid)" ;;
esac
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot)"
# shellcheck source-path=SCRIPTDIR source=../../native-targets/bin/tools.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../native-targets/bin/tools.sh"
need_tools debootstrap flock mountpoint umount
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || die "missing $keyring (package debian-archive-keyring)"

: "${BTF_AGENT_CACHE:=${HOME:-/tmp}/.cache/btf-agent}"
if [ -z "${BTF_ROOT_MIRROR:-}" ]; then
    # The main Debian URI the system's apt already uses (never changed here).
    BTF_ROOT_MIRROR=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' \
        /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    : "${BTF_ROOT_MIRROR:=http://deb.debian.org/debian}"
fi
roots=$BTF_AGENT_CACHE/roots
tarball=$roots/$suite.tar
mkdir -p "$roots"

# One builder per suite at a time (parallel builds share the cache).
exec 8>"$roots/$suite.lock"
flock 8

if [ ! -f "$tarball" ]; then
    include=$jdk,openssl,ca-certificates,$tls
    build=$(mktemp -d "$roots/$suite.build.XXXXXX")
    log=$roots/$suite.debootstrap.log
    trap 'rm -rf "$build"' EXIT
    echo "make-root: debootstrap $suite ($include) from $BTF_ROOT_MIRROR; log $log" >&2
    start=$(date +%s)
    if ! debootstrap --variant=minbase --keyring="$keyring" --include="$include" \
            "$suite" "$build/root" "$BTF_ROOT_MIRROR" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "debootstrap $suite failed"
    fi
    # debootstrap mounts /proc and /sys in the target while it works and
    # normally unmounts them; make sure nothing stays mounted before packing.
    for m in proc sys dev/pts dev; do
        mountpoint -q "$build/root/$m" && umount -l "$build/root/$m"
    done
    [ -x "$build/root$java" ] || die "no $java in the $suite root"
    rm -rf "$build/root/var/cache/apt/archives/"*.deb "$build/root/var/lib/apt/lists/"* \
           "$build/root/debootstrap"
    echo "$suite $(date -u +%Y-%m-%dT%H:%M:%SZ) $include" >"$build/root/.btf-suite"
    tar -C "$build/root" --numeric-owner -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    echo "make-root: $suite root built in $(( $(date +%s) - start )) s ($(du -sh "$tarball" | cut -f1))" >&2
    rm -rf "$build"
    trap - EXIT
fi

# The extracted copy: reused while it came from this very tarball.
stamp="$(stat -c '%s %Y %i' "$tarball") $tarball"
if [ ! -f "$dir/.btf-root" ] || [ "$(cat "$dir/.btf-root")" != "$stamp" ]; then
    # Never delete through a mount point (a crashed run's /dev bind, say).
    if [ -d "$dir" ] && grep -qF " $(realpath "$dir")/" /proc/self/mountinfo; then
        die "something is still mounted under $dir; unmount it first (umount -l)"
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    tar -C "$dir" --numeric-owner -xf "$tarball"
    echo "$stamp" >"$dir/.btf-root"
fi
echo "$dir"
echo "$java"
