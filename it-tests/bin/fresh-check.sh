#!/usr/bin/env bash
# The README's first command on a bare Debian 12 machine, from a fresh clone:
#
#   bash it-tests/bin/fresh-check.sh          (as root; up to an hour on a busy 2-core machine:
#                                              a cold machine's downloads and builds)
#
# Makes a Debian 12 (bookworm) minbase root with debootstrap, gives it only what this kind
# of machine's image brings and Debian cannot (its apt sources and DNS, the locally added CA
# certificates of /usr/local/share/ca-certificates, and the Temurin 25 JDK bound read-only at
# /usr/lib/jvm/temurin-25-jdk-amd64), clones the checkout's HEAD into /root/btf-agent there and
# runs, as root in a chroot with /proc, /sys and /dev,
#
#   bash native-targets/bin/setup-host.sh && mvn -B verify -Pcheck-catalog
#
# with BTF_AGENT_REQUIRE_PRIVILEGED=1 (as .ci/run does: the end-to-end tests must load BPF
# there, never skip). Nothing else is installed, and the root's Maven repository and
# ~/.cache/btf-agent start empty, so every download and build the README promises happens.
# Prints the command's own summary (setup, test results, catalog check, Maven's result) and
# exits with its status. Uncommitted changes are not part of the check (HEAD is cloned).
#
# Everything is mounted in a mount namespace of its own and unmounted on exit (also on
# failure or ctrl-c); processes still running in the root are stopped first. The root's / is
# bound onto itself, so the tests' own `unshare --mount` works in it. No BPF or tracing
# filesystem is mounted: the tests need neither (libbpf attaches uprobes through
# perf_event_open; nothing is pinned).
#
# env: FRESH_CHECK_DIR     work directory (default /var/tmp/btf-agent-fresh-check): the root
#                          (root/, emptied at every run; kept after a failure for a look, removed
#                          after success) and the log (fresh-check.log)
#      FRESH_CHECK_MIRROR  Debian mirror for debootstrap (default: the main Debian URI of the
#                          system's apt sources)
#      BTF_AGENT_CACHE     debootstrap's downloaded .debs are kept in $BTF_AGENT_CACHE/fresh-check
#                          (default ~/.cache/btf-agent); the root itself is always made anew
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "fresh-check: $*" >&2; exit 1; }
# shellcheck source-path=SCRIPTDIR source=../../native-targets/bin/tools.sh
. "$here/../../native-targets/bin/tools.sh"
need_tools debootstrap git unshare mount umount findmnt chroot

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, mounts, chroot)"
readme_command='bash native-targets/bin/setup-host.sh && mvn -B verify -Pcheck-catalog'
jdk25=/usr/lib/jvm/temurin-25-jdk-amd64
work=${FRESH_CHECK_DIR:-/var/tmp/btf-agent-fresh-check}
case "$work" in /*) ;; *) die "FRESH_CHECK_DIR must be an absolute path" ;; esac
root=$work/root
log=$work/fresh-check.log

# --- outside: one private mount namespace for the whole run --------------------------------
if [ -z "${FRESH_CHECK_IN_NAMESPACE:-}" ]; then
    [ -x "$jdk25/bin/java" ] || die "no JDK 25 at $jdk25 (this kind of machine has one; the end-to-end tests run on it)"
    mkdir -p "$work"
    start=$(date +%s)
    rc=0
    FRESH_CHECK_IN_NAMESPACE=1 unshare --mount --propagation private bash "${BASH_SOURCE[0]}" "$@" || rc=$?
    # The namespace is gone with its last process; nothing may show here either way.
    left=$(findmnt -rn -o TARGET | awk -v r="$root" '$0 == r || index($0, r "/") == 1')
    if [ -n "$left" ]; then
        echo "fresh-check: still mounted (umount -l them): $left" >&2
        rc=1
    fi
    secs=$(( $(date +%s) - start ))
    if [ "$rc" -eq 0 ]; then result=PASS; else result="FAIL (exit $rc)"; fi
    echo "fresh-check: $result in $((secs / 60)) min $((secs % 60)) s; nothing left mounted under $root; full log $log"
    exit "$rc"
fi

# --- inside the namespace -------------------------------------------------------------------
checkout=$(git -C "$here" rev-parse --show-toplevel)
head=$(git -C "$checkout" rev-parse HEAD)
[ -z "$(git -C "$checkout" status --porcelain --untracked-files=no)" ] ||
    echo "fresh-check: note: $checkout has uncommitted changes; they are not checked (HEAD $head is)" >&2
grep -qF "$readme_command" "$checkout/README.md" ||
    die "README.md no longer says '$readme_command': update this script with it"

: "${BTF_AGENT_CACHE:=${HOME:-/tmp}/.cache/btf-agent}"
debs=$BTF_AGENT_CACHE/fresh-check/debs
mkdir -p "$debs"
if [ -z "${FRESH_CHECK_MIRROR:-}" ]; then
    FRESH_CHECK_MIRROR=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' \
        /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    : "${FRESH_CHECK_MIRROR:=http://deb.debian.org/debian}"
fi

mounted=()   # in mount order; unmounted in reverse
cleanup() {
    local rc=$? pids p r i attempt
    set +e
    # Processes whose root is inside ours were started by this run: stop them by pid.
    for attempt in TERM KILL; do
        pids=()
        for p in /proc/[0-9]*; do
            r=$(readlink "$p/root" 2>/dev/null) || continue
            [[ $r == "$root" || $r == "$root"/* ]] && pids+=("${p#/proc/}")
        done
        [ "${#pids[@]}" -gt 0 ] || break
        echo "fresh-check: stopping ${#pids[@]} process(es) left in the root (SIG$attempt)" >&2
        kill -s "$attempt" "${pids[@]}" 2>/dev/null
        sleep 3
    done
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount -R "${mounted[i]}" 2>/dev/null || umount -R -l "${mounted[i]}" ||
            echo "fresh-check: could not unmount ${mounted[i]}" >&2
    done
    if [ -n "$(findmnt -rn -o TARGET | awk -v r="$root" '$0 == r || index($0, r "/") == 1')" ]; then
        echo "fresh-check: something is still mounted under $root" >&2
        rc=1
    elif [ "$rc" -eq 0 ]; then
        rm -rf "$root"
    else
        echo "fresh-check: the root is kept for a look at $root (removed by the next run)" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bind() { # from to [ro]
    mkdir -p "$2"
    mount --rbind "$1" "$2"
    mounted+=("$2")
    if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$2"; fi
}

# A root of a previous run may be left (after a failure); never delete through a mount.
if [ -n "$(findmnt -rn -o TARGET | awk -v r="$root" '$0 == r || index($0, r "/") == 1')" ]; then
    die "something is mounted under $root (a run still going?); unmount it first"
fi
rm -rf "$root"
: >"$log"
step() { echo "fresh-check: $*"; echo "=== fresh-check: $*" >>"$log"; }

step "debootstrap bookworm (minbase) from $FRESH_CHECK_MIRROR into $root"
t0=$SECONDS
if ! debootstrap --variant=minbase --cache-dir="$debs" bookworm "$root" "$FRESH_CHECK_MIRROR" >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "debootstrap failed"
fi
step "bare root made in $((SECONDS - t0)) s: $(chroot "$root" dpkg-query -W -f='.\n' | wc -l) packages"

# What this kind of machine's image brings besides Debian: its apt sources (bookworm,
# -updates, -security), its name service, its local CA certificates (Maven Central is
# reached through a TLS-inspecting proxy here), the Temurin 25 JDK.
rm -f "$root/etc/apt/sources.list"
cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null ||
    cp /etc/apt/sources.list "$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/hosts "$root/etc/hosts"
if [ -d /usr/local/share/ca-certificates ]; then
    cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi

step "cloning $checkout at HEAD $head"
git clone -q --no-checkout "$checkout" "$root/root/btf-agent"
git -C "$root/root/btf-agent" checkout -q --detach "$head"

# / a mount point (for unshare in the tests), then the kernel's filesystems and the JDK.
mount --bind "$root" "$root"
mounted+=("$root")
mount -t proc proc "$root/proc"
mounted+=("$root/proc")
bind /sys "$root/sys"
bind /dev "$root/dev"
bind "$jdk25" "$root$jdk25" ro

step "running as root in the bare root: $readme_command (BTF_AGENT_REQUIRE_PRIVILEGED=1)"
t0=$SECONDS
set +e
chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG="${LANG:-C.UTF-8}" BTF_AGENT_REQUIRE_PRIVILEGED=1 \
    bash -c "cd /root/btf-agent && $readme_command" </dev/null 2>&1 | tee -a "$log" |
    grep --line-buffered -E '^setup-host:|^check-tools:|^check-catalog:|Tests run:|^\[ERROR\]|BUILD (SUCCESS|FAILURE)|Total time:|Reactor Summary|^\[INFO\] btf-agent.*(SUCCESS|FAILURE|SKIPPED)' |
    grep --line-buffered -vE 'Time elapsed:.* -+ in '
status=("${PIPESTATUS[@]}")
set -e
rc=${status[0]}
step "the README's command exited $rc after $((SECONDS - t0)) s"
exit "$rc"
