#!/usr/bin/env bash
# The kernel matrix: boots Debian's own kernels under qemu (software emulation)
# with a bookworm root holding JDK 17, this build's agent and test programs,
# runs a capture in each and prints one table row per kernel.
#
#   kernel-matrix.sh [suite...]     default: bullseye bookworm trixie sid experimental
#                                   (experimental: the newest kernel Debian serves, a
#                                   release candidate; left out when it has none)
#
# In each kernel one JVM with the agent (jsonl sink, watch.paths empty: every
# library is a late load, hooked through the dynamic linker's probe) runs
# io.btfagent.demo.KernelMatrixGuest: HTTPS through OpenSSL (wildfly-openssl,
# memory BIOs: identity from the JVM side) and through GnuTLS on its own socket
# (identity from the kernel's socket), against a JSSE server in the same JVM.
# A kernel passes when the workload's responses are right, the agent hooked
# both libraries, and the events hold exactly the bytes each side sent, each
# with the server's address as remote and a conn id.
#
# Everything it downloads or builds is kept under ${BTF_AGENT_CACHE}/kernels:
# the root (make-root.sh bookworm) as a read-only ext4 image, each kernel's
# vmlinuz and an initrd made by the root's initramfs-tools for it. Per run only
# a small disk with the build's files is made. Results per kernel go to
# ${BTF_MATRIX_OUT:-it-tests/target/kernel-matrix}/<suite>/: console.log (the
# guest's console: kernel and agent lines), events.jsonl, result (key=value).
#
# Exits 1 when a kernel fails, and 2 when qemu itself cannot run (said as such:
# never a skip). Needs root (debootstrap, chroot) and the build (mvn package).
# env: BTF_AGENT_CACHE  cache root (default ~/.cache/btf-agent)
#      BTF_MATRIX_OUT   where results go
#      BTF_MATRIX_BOOT_TIMEOUT  seconds one boot may take (default 400)
#      BTF_MATRIX_LOG_LEVEL     the agent's log.level in the guest (default info)
set -Eeuo pipefail
die() { echo "kernel-matrix: $*" >&2; exit 1; }
trap 'echo "kernel-matrix: failed at line $LINENO" >&2; exit 1' ERR
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../../native-targets/bin/tools.sh
. "$repo/native-targets/bin/tools.sh"
need_tools qemu-system-x86_64 mkfs.ext4 debugfs dpkg-deb chroot flock timeout apt-get apt-cache sha256sum
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot)"

suites=("$@")
[ "${#suites[@]}" -gt 0 ] || suites=(bullseye bookworm trixie sid experimental)
: "${BTF_AGENT_CACHE:=${HOME:-/tmp}/.cache/btf-agent}"
: "${BTF_MATRIX_OUT:=$repo/it-tests/target/kernel-matrix}"
: "${BTF_MATRIX_BOOT_TIMEOUT:=400}"
cache=$BTF_AGENT_CACHE/kernels
mkdir -p "$cache/debs" "$BTF_MATRIX_OUT"
exec 9>"$cache/lock"
flock 9

# qemu must run here, or the matrix says so (exit 2) rather than passing quietly.
if ! qemu_version=$(qemu-system-x86_64 --version 2>&1 | head -n 1); then
    echo "kernel-matrix: qemu cannot run on this machine: $qemu_version" >&2
    exit 2
fi

# The build's files the guest runs.
jar=$repo/agent/target/btf-agent.jar
classes=$repo/it-tests/target/classes
wildfly=$(ls "$repo"/it-tests/target/lib/wildfly-openssl-*.jar 2>/dev/null | head -n 1)
jna=$(ls "$HOME"/.m2/repository/net/java/dev/jna/jna/*/jna-*.jar 2>/dev/null | grep -v sources | sort -V | tail -n 1)
for f in "$jar" "$classes/io/btfagent/demo/KernelMatrixGuest.class" "$wildfly" "$jna"; do
    [ -n "$f" ] && [ -e "$f" ] || die "missing ${f:-wildfly-openssl or jna jar}: build first (mvn -B package -DskipTests)"
done

# --- the root: bookworm, JDK 17, OpenSSL 3.0, GnuTLS 3.7, initramfs-tools -------------
rootdir=$cache/bookworm-root
bash "$here/make-root.sh" bookworm "$rootdir" >/dev/null
mkdir -p "$rootdir/art"   # the root is mounted read-only in the guest
if ! grep -q 'matrix-init v2' "$rootdir/sbin/matrix-init" 2>/dev/null; then
    # The guest's init: mounts what the capture needs, runs the build's script from the
    # second disk, powers off (the kernel's sysrq, no init system needed).
    cat >"$rootdir/sbin/matrix-init" <<'INIT'
#!/bin/sh
# matrix-init v2
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount /dev/vdb /art && sh /art/run.sh >/dev/console 2>&1
echo "matrix: end"
umount /art
sync
echo o >/proc/sysrq-trigger
sleep 10
INIT
    chmod 755 "$rootdir/sbin/matrix-init"
fi
stamp=$(cat "$rootdir/.btf-root" "$rootdir/sbin/matrix-init" | sha256sum | cut -c1-12)
rootimg=$cache/root-$stamp.img
if [ ! -f "$rootimg" ]; then
    rm -f "$cache"/root-*.img
    echo "kernel-matrix: making the root image" >&2
    mkfs.ext4 -q -F -L matrixroot -d "$rootdir" "$rootimg.part" 2G
    mv "$rootimg.part" "$rootimg"
fi

# --- kernels: Debian's packages, an initrd each ----------------------------------------
# shellcheck source-path=SCRIPTDIR source=../../native-targets/bin/apt-env.sh
. "$repo/native-targets/bin/apt-env.sh"
btf_apt_env bullseye bullseye-security bookworm bookworm-security trixie trixie-security sid experimental \
    >/dev/null

# The Depends line of package version $1 (pkg=ver), reading all of apt-cache's output (no SIGPIPE).
depends_of() { apt-cache show "$1" | awk '/^Depends:/ && !d { d = $0 } END { print d }'; }

# Sets kdir for suite $1: vmlinuz and initrd.img of the newest linux-image-amd64 there.
kernel_of() {
    local suite=$1 ver pkg deps d
    ver=$(apt-cache madison linux-image-amd64 | awk -v s="$suite" '$6 ~ "^"s"(-security)?/" {print $3}' \
        | sort -V | tail -n 1)
    [ -n "$ver" ] || return 1
    pkg=$(depends_of "linux-image-amd64=$ver" | grep -o 'linux-image-[^ ,]*' | head -n 1)
    kdir=$cache/$pkg-$ver
    [ -f "$kdir/initrd.img" ] && return 0
    echo "kernel-matrix: fetching $pkg $ver ($suite)" >&2
    # since 7.x the image package is a meta package of linux-binary-*, linux-modules-* and
    # linux-base-*, and the kernel image lives in /usr/lib/modules/<release>/vmlinuz
    deps=$(depends_of "$pkg=$ver" | grep -o 'linux-\(binary\|modules\|base\)-[^ ,]*' || true)
    d=$(mktemp -d "$cache/unpack.XXXXXX")
    (cd "$cache/debs" && for p in "$pkg" $deps; do
        ls "${p}_"*.deb >/dev/null 2>&1 || apt-get download -q "$p=$ver" >&2
    done)
    for p in "$pkg" $deps; do
        dpkg-deb -x "$(ls "$cache/debs/${p}_"*.deb | sort -V | tail -n 1)" "$d"
    done
    local release vmlinuz
    local moddir=
    for m in "$d"/usr/lib/modules/* "$d"/lib/modules/*; do
        [ -d "$m/kernel" ] && moddir=$m && break
    done
    [ -n "$moddir" ] || die "no modules in $pkg"
    release=${moddir##*/}
    vmlinuz=$d/boot/vmlinuz-$release
    [ -f "$vmlinuz" ] || vmlinuz=$moddir/vmlinuz
    [ -f "$vmlinuz" ] || die "no vmlinuz for $release in $pkg"
    # The initrd: only what mounts the root (virtio disk, ext4), made by the root's own
    # initramfs-tools against this kernel's modules, put there for the time it takes.
    rm -rf "$rootdir/usr/lib/modules/$release"
    mkdir -p "$rootdir/usr/lib/modules"
    cp -a "$moddir" "$rootdir/usr/lib/modules/$release"
    for c in "$d/boot/config-$release" "$moddir/config"; do
        [ -f "$c" ] && cp "$c" "$rootdir/boot/config-$release" && break
    done
    mkdir -p "$rootdir/etc/initramfs-tools-matrix/scripts" "$rootdir/etc/initramfs-tools-matrix/hooks" \
        "$rootdir/etc/initramfs-tools-matrix/conf.d"
    printf 'MODULES=list\nBUSYBOX=auto\nCOMPRESS=gzip\n' >"$rootdir/etc/initramfs-tools-matrix/initramfs.conf"
    printf 'virtio_pci\nvirtio_blk\next4\n' >"$rootdir/etc/initramfs-tools-matrix/modules"
    chroot "$rootdir" depmod "$release"
    if ! chroot "$rootdir" mkinitramfs -d /etc/initramfs-tools-matrix -o /tmp/initrd.img "$release" \
            >"$cache/mkinitramfs-$release.log" 2>&1; then
        tail -n 20 "$cache/mkinitramfs-$release.log" >&2
        die "mkinitramfs for $release failed"
    fi
    mkdir -p "$kdir.part"
    mv "$rootdir/tmp/initrd.img" "$kdir.part/initrd.img"
    cp "$vmlinuz" "$kdir.part/vmlinuz"
    echo "$release" >"$kdir.part/release"
    rm -rf "$rootdir/usr/lib/modules/$release" "$rootdir/boot/config-$release" "$d"
    rm -rf "$kdir"
    mv "$kdir.part" "$kdir"
}

# --- one boot ------------------------------------------------------------------------------
# The second disk: the build's files and the guest's script; events come back on it.
art=$(mktemp -d "$cache/art.XXXXXX")
trap 'rm -rf "$art"' EXIT
mkdir -p "$art/files/out"
cp "$jar" "$art/files/btf-agent.jar"
cp "$wildfly" "$art/files/wildfly-openssl.jar"
cp "$jna" "$art/files/jna.jar"
cp -r "$classes" "$art/files/classes"
cat >"$art/files/run.sh" <<'RUN'
set -u
ip link set lo up
echo "matrix: kernel $(uname -r)"
cd /tmp
: >/tmp/agent.log
# libraries=openssl,gnutls: what the kernel decides is the probes' capture; the guest's JSSE
# server side, captured in Java the same way on every kernel, is left out of the count
/usr/lib/jvm/java-17-openjdk-amd64/bin/java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -XX:ErrorFile=/art/out/hs_err_pid%p.log \
    -javaagent:/art/btf-agent.jar=sinks=jsonl,sink.jsonl.path=/art/out/events.jsonl,libraries=openssl,gnutls,watch.paths=,late-loads.wait-ms=10000,log.level=${MATRIX_LOG_LEVEL:-info} \
    -Dorg.wildfly.openssl.path=/usr/lib/x86_64-linux-gnu \
    -cp /art/classes:/art/wildfly-openssl.jar:/art/jna.jar \
    io.btfagent.demo.KernelMatrixGuest /usr/lib/x86_64-linux-gnu/libgnutls.so.30 /tmp/agent.log \
    2> >(tee /tmp/agent.log >&2)
echo "matrix: java exit $?"
sync
RUN
sed -i '1i [ -n "${BASH_VERSION:-}" ] || exec bash "$0"' "$art/files/run.sh"
sed -i "2i MATRIX_LOG_LEVEL=${BTF_MATRIX_LOG_LEVEL:-info}" "$art/files/run.sh"

# Whether console $1 shows a JVM's fatal error; whether the guest's script ran in it at all.
jvm_crashed() { grep -q 'A fatal error has been detected by the Java Runtime' "$1"; }
script_ran() { grep -q '^matrix: kernel' "$1"; }

# Keeps the guest JVM's error file of boot $1 (written to the result disk) as $out/hs_err-boot$1.log.
keep_error_file() {
    local hs
    hs=$(debugfs -R "ls -l /out" "$disk" 2>/dev/null | grep -o 'hs_err_pid[0-9]*\.log' | head -n 1 || true)
    [ -z "$hs" ] || debugfs -R "dump /out/$hs $out/hs_err-boot$1.log" "$disk" >/dev/null 2>&1 || true
}

# A crashed JVM's own words in console $1: its signal and the frame it names.
crash_of() {
    tr -d '\r' <"$1" | awk '
        /^# +SIG[A-Z]+ \(0x/ { sub(/^# +/, ""); sub(/ at pc=.*/, ""); sig = $0 }
        /^# Problematic frame:/ { getline; sub(/^# +/, ""); frame = $0 }
        END { printf "%s in %s", sig, frame }'
}

# A guest kernel's first words of dying in console $1 (an Oops, BUG or panic line), else its last line.
boot_failure_of() {
    tr -d '\r' <"$1" | awk '
        !first && /(Oops|BUG|Kernel panic)/ { sub(/^\[ *[0-9.]+\] /, ""); first = $0 }
        { last = $0 }
        END { if (!first) first = "no run; last line: " last; print first }'
}

rows=()
failed=0
for suite in "${suites[@]}"; do
    if ! kernel_of "$suite"; then
        [ "$suite" = experimental ] || die "no linux-image-amd64 in $suite"
        echo "kernel-matrix: no kernel in experimental now; left out" >&2
        continue
    fi
    release=$(cat "$kdir/release")
    out=$BTF_MATRIX_OUT/$suite
    rm -rf "$out"
    mkdir -p "$out"
    disk=$art/disk.img
    note=
    for attempt in 1 2 3; do
    rm -f "$disk"
    mkfs.ext4 -q -F -d "$art/files" "$disk" 256M
    echo "kernel-matrix: booting $release ($suite)" >&2
    start=$(date +%s)
    qemu_rc=0
    # AVX off: QEMU 7.2's emulation of it (new in that release) once crashed JIT-compiled code
    timeout "$BTF_MATRIX_BOOT_TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -cpu max,avx=off,avx2=off \
        -smp 2 -m 2048 \
        -kernel "$kdir/vmlinuz" -initrd "$kdir/initrd.img" \
        -append "root=/dev/vda ro console=ttyS0 init=/sbin/matrix-init panic=-1 quiet" \
        -drive "file=$rootimg,if=virtio,format=raw,snapshot=on" -drive "file=$disk,if=virtio,format=raw" \
        -nic none -display none -no-reboot -serial "file:$out/console.log" -monitor none >"$out/qemu.log" 2>&1 \
        || qemu_rc=$? # (not the ERR trap: a boot that fails or runs out of time is judged below)
    secs=$(( $(date +%s) - start ))
    if [ "$qemu_rc" -ne 0 ] && ! grep -q "matrix: end" "$out/console.log" 2>/dev/null; then
        if [ ! -s "$out/console.log" ]; then
            echo "kernel-matrix: qemu cannot run on this machine (exit $qemu_rc): $(head -c 400 "$out/qemu.log")" >&2
            exit 2
        fi
    fi
    # a guest kernel that dies before the run (under software emulation, a cross-modified
    # instruction seen stale, e.g. "Oops: int3" while booting) says nothing of the capture:
    # another boot, as for a crashed JVM below, the kernel's words kept in the table
    # (a boot that ran out of time is not tried again: it would only take as long once more)
    if [ "$attempt" -lt 3 ] && [ "$qemu_rc" -ne 124 ] && ! script_ran "$out/console.log"; then
        oops=$(boot_failure_of "$out/console.log")
        mv "$out/console.log" "$out/console-boot$attempt.log"
        echo "kernel-matrix: $release died before the run under emulation (boot $attempt: $oops; $out); booting it once more" >&2
        note="$note (boot $attempt: the kernel died booting, $oops)"
        continue
    fi
    # a JVM that crashed under emulation says nothing of the kernel: another boot (at most
    # three in all), each crash said in the table with the JVM's own words, its error file kept
    if [ "$attempt" -lt 3 ] && jvm_crashed "$out/console.log"; then
        crash=$(crash_of "$out/console.log")
        mv "$out/console.log" "$out/console-crashed-$attempt.log"
        keep_error_file "$attempt"
        echo "kernel-matrix: a JVM crashed under emulation in $release (boot $attempt: $crash; $out); booting it once more" >&2
        note="$note (boot $attempt: a JVM crashed, $crash)"
        continue
    fi
    break
    done
    debugfs -R "dump /out/events.jsonl $out/events.jsonl" "$disk" >/dev/null 2>&1 || true
    touch "$out/events.jsonl"
    tr -d '\r' <"$out/console.log" >"$out/console.txt"
    c=$out/console.txt
    port=$(sed -n 's/^matrix: port //p' "$c" | head -n 1 || true)
    mode=$(grep -o 'lacks [^:]*' "$c" | head -n 1 | sed 's/^lacks //' || true)
    [ -n "$mode" ] || mode="-"
    attach=single
    awk '/INFO  hooked / && /multi/ { f = 1 } END { exit !f }' "$c" && attach=multi
    ossl=$(grep -c '"lib":"openssl"' "$out/events.jsonl" || true)
    gtls=$(grep -c '"lib":"gnutls"' "$out/events.jsonl" || true)
    ident=$(grep -c "\"remote\":\"127.0.0.1:$port\"" "$out/events.jsonl" || true)
    total=$(grep -c . "$out/events.jsonl" || true)
    late=no
    grep -q 'hooked openssl' "$c" && grep -q 'hooked gnutls' "$c" && late=yes
    result=ok
    grep -q '^matrix: workload ok' "$c" || result="FAILED (workload)"
    [ "$late" = yes ] || result="FAILED (not hooked)"
    { [ "$ossl" -gt 0 ] && [ "$gtls" -gt 0 ] && [ "$ident" -eq "$total" ]; } || result="FAILED (events)"
    if jvm_crashed "$c"; then
        keep_error_file "$attempt"
        result="FAILED (a JVM crashed, $(crash_of "$c"))"
    fi
    script_ran "$c" || result="FAILED (the kernel died booting, $(boot_failure_of "$c"))"
    [ "$result" = ok ] || failed=1
    result=$result$note
    {
        echo "suite=$suite"; echo "release=$release"; echo "port=$port"; echo "attach=$attach"
        echo "missing=$mode"; echo "openssl_events=$ossl"; echo "gnutls_events=$gtls"
        echo "identified=$ident"; echo "events=$total"; echo "late=$late"; echo "seconds=$secs"
        echo "result=$result"
    } >"$out/result"
    rows+=("$(printf '| %s (%s) | %s | %s | %s/%s | %s | %s | %s s | %s |' "$release" "$suite" "$attach" "$mode" \
        "$ident" "$total" "$late" "$ossl/$gtls" "$secs" "$result")")
    echo "kernel-matrix: $release: $result in $secs s" >&2
done

echo "| kernel | attach | missing BPF features | identity (events with the peer's address) | late loads hooked | events openssl/gnutls | boot+run | result |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit "$failed"
