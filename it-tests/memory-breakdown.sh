#!/usr/bin/env bash
# Where the agent's resident memory goes: the benchmark's workload (SslCallBench, 64 B and
# 16 KiB SSL_write/SSL_read pairs through the system's OpenSSL, 5 blocks) in one JVM without the
# agent, one with the agent and no sink, one with the jsonl sink, each with native memory
# tracking; at the end of its calls each JVM is held while its memory maps are read, and 12 s
# more (the agent trims the C library's free memory when its start-up ends and 10 s later).
# Prints per category the resident MiB of each JVM: every mapping of /proc/PID/smaps, an
# anonymous one named by the JVM region (NMT's virtual memory map) it lies in, else counted as
# native memory outside the JVM's regions (malloc arenas: the JVM's own mallocs, its compilers'
# arenas, JNA and libbpf); then the Java heap's use, NMT's malloc figures and VmRSS at the end
# of the calls and 12 s later.
#
#   bash it-tests/memory-breakdown.sh ["extra agent options"]
#
# Needs root (or CAP_BPF+CAP_PERFMON) and the build (mvn -B package -DskipTests). Native memory
# tracking adds a little to every JVM; bench.sh's "RSS added" runs without it. Wrap it in
# `flock /tmp/btf-bench.lock` where benchmarks share the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=../native-targets/bin/tools.sh
. "$root/native-targets/bin/tools.sh"
need_tools openssl java jcmd mkfifo
extra=${1:-}
jar=$root/agent/target/btf-agent.jar
cp=$root/it-tests/target/classes:$root/it-tests/target/conflict-lib/jna-5.13.0.jar
for f in "$jar" "$root/it-tests/target/classes/io/btfagent/bench/SslCallBench.class"; do
    [ -e "$f" ] || { echo "memory-breakdown: $f is missing; build first: mvn -B package -DskipTests" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/btf-agent-memory.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
common=libraries=openssl,attach.mode=multi${extra:+,$extra}

# run NAME [agent option]: the workload held at its end; leaves NAME.smaps, .nmt, .heap, .out
run() {
    local name=$1 agent=${2:-} pid
    mkfifo "$work/$name.in"
    java -XX:NativeMemoryTracking=detail -Dbench.hold=true ${agent:+"$agent"} -cp "$cp" \
        io.btfagent.bench.SslCallBench /usr/lib/x86_64-linux-gnu/libssl.so.3 \
        /usr/lib/x86_64-linux-gnu/libcrypto.so.3 "$work/cert.pem" "$work/key.pem" 5 64:4000 16384:1000 \
        <"$work/$name.in" >"$work/$name.out" 2>"$work/$name.err" &
    pid=$!
    pids+=("$pid")
    exec 3>"$work/$name.in"
    until grep -q '^ready' "$work/$name.out"; do kill -0 "$pid" && sleep 0.1; done
    if [ -n "$agent" ]; then
        until grep -q 'capture ready' "$work/$name.err"; do kill -0 "$pid" && sleep 0.1; done
    fi
    echo go >&3
    until grep -q '^held' "$work/$name.out"; do kill -0 "$pid" && sleep 0.1; done
    cp "/proc/$pid/smaps" "$work/$name.smaps"
    jcmd "$pid" VM.native_memory detail >"$work/$name.nmt"
    jcmd "$pid" GC.heap_info >"$work/$name.heap"
    # the agent gives free C memory back when its start-up ends and 10 s later
    sleep 12
    grep '^VmRSS:' "/proc/$pid/status" >"$work/$name.later"
    echo go >&3
    exec 3>&-
    wait "$pid"
}
run none
run agent-no-sink "-javaagent:$jar=$common,sinks="
run agent-jsonl "-javaagent:$jar=$common,sinks=jsonl,sink.jsonl.path=$work/events.jsonl"
rm -f "$work/events.jsonl"

names=(none agent-no-sink agent-jsonl)
for n in "${names[@]}"; do
    # category <TAB> KiB, one line per mapping
    awk '
        FNR == NR {
            if (match($0, /^\[0x[0-9a-f]+ - 0x[0-9a-f]+\] reserved [0-9]+KB for /)) {
                split($0, f, /[][ ]+/)
                what = $0; sub(/^.* for /, "", what); sub(/ from.*$/, "", what)
                lo[++r] = f[2]; hi[r] = f[4]; cat[r] = what
            }
            next
        }
        /^[0-9a-f]+-[0-9a-f]+ / {
            split($1, a, "-"); start = sprintf("%016s", a[1]); gsub(/ /, "0", start)
            path = $6; for (i = 7; i <= NF; i++) path = path " " $i
            if (path ~ /bpf-map|bpf-ringbuf/) c = "BPF maps (the ring)"
            else if (path ~ /libbpf/) c = "libbpf.so"
            else if (path ~ /jnidispatch|\/JNA\//) c = "JNA native library"
            else if (path ~ /libjvm\.so/) c = "libjvm.so"
            else if (path ~ /\.jsa$/) c = "CDS archive"
            else if (path ~ /libssl|libcrypto/) c = "libssl, libcrypto"
            else if (path ~ /^\//) c = "other files"
            else if (path != "") c = "other " path
            else {
                c = "native memory outside the JVM regions (malloc arenas)"
                for (i = 1; i <= r; i++) {
                    l = sprintf("%016s", substr(lo[i], 3)); gsub(/ /, "0", l)
                    h = sprintf("%016s", substr(hi[i], 3)); gsub(/ /, "0", h)
                    if (start >= l && start < h) { c = "JVM " cat[i]; break }
                }
            }
            next
        }
        /^Rss:/ { kib[c] += $2 }
        END { for (k in kib) printf "%s\t%d\n", k, kib[k] }
    ' "$work/$n.nmt" "$work/$n.smaps" >"$work/$n.cat"
done
printf '| resident MiB at the end of the calls | none | agent, no sink | agent, jsonl |\n|---|---|---|---|\n'
cat "$work"/*.cat | cut -f1 | sort -u | while IFS= read -r c; do
    row="| $c |"
    for n in "${names[@]}"; do
        row="$row $(awk -F'\t' -v c="$c" '$1 == c { v = $2 } END { printf "%.1f", v / 1024 }' "$work/$n.cat") |"
    done
    echo "$row"
done | grep -v '^| [^|]* | 0\.0 | 0\.0 | 0\.0 |$' | sort -t'|' -k4 -g -r
row="| total |"
for n in "${names[@]}"; do
    row="$row $(awk -F'\t' '{ v += $2 } END { printf "%.1f", v / 1024 }' "$work/$n.cat") |"
done
echo "$row"
for n in "${names[@]}"; do
    echo "$n: $(grep -o 'garbage-first heap.*used [0-9]*K' "$work/$n.heap" | sed 's/ \[.*//'); NMT $(grep -m1 'malloc:' "$work/$n.nmt" | sed 's/^ *//'); compiler arenas $(grep -A4 ' Compiler (' "$work/$n.nmt" | grep -o 'peak=[0-9]*KB' | tail -n 1) at the peak; VmRSS at the end of the calls $(awk '$1 == "rss-kib" { print $2 }' "$work/$n.out") KiB, 12 s after its memory was read $(awk '{ print $2 }' "$work/$n.later") KiB"
done
