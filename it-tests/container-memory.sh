#!/usr/bin/env bash
# The agent's memory in a container with a memory limit: the benchmark's workload
# (SslCallBench: 64 B and 16 KiB SSL_write/SSL_read pairs through the image's OpenSSL 3.5.9)
# in a podman container limited to LIMIT (default 256m, swap off), once without the agent,
# once with the agent and no sink, once with the jsonl sink. Prints per run the JVM's exit
# status (137 = killed by the kernel's OOM killer), whether it ran fine (exit 0 after every
# call, and the agent's capture summary said), its resident memory at the end, what that adds
# to the run without the agent, its peak resident memory (VmHWM), the container's peak memory
# (its memory cgroup's max_usage_in_bytes, which counts the page cache of the files it writes:
# reclaimable, it never makes the OOM killer act), and the events captured and lost (to a full
# ring, or dropped by the sink's queue).
#
#   bash it-tests/container-memory.sh [LIMIT] [extra agent options]
#
# Needs root, the build (mvn -B package -DskipTests) and the set-up's podman and runc.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-256m}
extra=${2:-}
jar=$PWD/agent/target/btf-agent.jar
classes=$PWD/it-tests/target/classes
jna=$PWD/it-tests/target/conflict-lib/jna-5.13.0.jar
for f in "$jar" "$classes/io/btfagent/bench/SslCallBench.class" "$jna"; do
    [ -e "$f" ] || { echo "container-memory: $f is missing; build first: mvn -B package -DskipTests" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/btf-agent-memory.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"
mkdir -m 700 "$work/out"
# this sandbox's podman settings (runc, cgroupfs, ulimits within the host's hard limits)
hard=$(ulimit -Hn)
printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=32768:32768"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n' \
    "$hard" "$hard" > "$work/containers.conf"
export CONTAINERS_CONF=$work/containers.conf
image=$(bash it-tests/bin/make-image.sh trixie "$PWD/it-tests/target/roots/trixie")
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
chmod 644 "$work/key.pem" "$work/cert.pem"
java=/usr/lib/jvm/java-21-openjdk-amd64/bin/java
lib=/usr/lib/x86_64-linux-gnu
blocks=3
sizes="64:20000 16384:4000"
# the calls SslCallBench makes after its go line: a quarter of each size's iterations (its
# probed warm-up), then every block
expected=0
for s in $sizes; do
    n=${s#*:}
    expected=$((expected + blocks * n + (n / 4 > 0 ? n / 4 : 1)))
done
printf '| %s limit | exit | ran fine | JVM resident at end (MiB) | added to no agent (MiB) | JVM peak (MiB) | container peak, with page cache (MiB) | events | lost |\n' "$limit"
printf '|---|---|---|---|---|---|---|---|---|\n'
none_rss=
for config in none agent-no-sink agent-jsonl; do
    case $config in
        none) agent= ;;
        agent-no-sink) agent="-javaagent:/btf/btf-agent.jar=sinks=${extra:+,$extra}" ;;
        agent-jsonl) agent="-javaagent:/btf/btf-agent.jar=sinks=jsonl,sink.jsonl.path=/btf/out/events.jsonl${extra:+,$extra}" ;;
    esac
    rm -f "$work/out/events.jsonl"
    # the JVM waits for one line (the agent is up by then), then runs the blocks of both sizes
    out=$( (sleep 8; echo go) | podman run --rm -i --memory "$limit" --memory-swap "$limit" \
        --cap-add=BPF,PERFMON --security-opt seccomp=unconfined --network none \
        -v "$jar:/btf/btf-agent.jar:ro" -v "$classes:/btf/classes:ro" -v "$jna:/btf/jna.jar:ro" \
        -v "$work:/btf/work:ro" -v "$work/out:/btf/out" "$image" \
        sh -c "$java $agent -cp /btf/classes:/btf/jna.jar io.btfagent.bench.SslCallBench $lib/libssl.so.3 \
            $lib/libcrypto.so.3 /btf/work/cert.pem /btf/work/key.pem $blocks $sizes 2>/tmp/err; \
            echo exit \$?; grep -h 'WARN\|capture summary' /tmp/err | cut -c1-1000 | sed 's/^/agent /'; \
            echo peak \$(cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes)") || true
    exit=$(awk '$1 == "exit" { print $2 }' <<<"$out")
    rss=$(awk '$1 == "rss-kib" { printf "%.1f", $2 / 1024 }' <<<"$out")
    hwm=$(awk '$1 == "rss-peak-kib" { printf "%.1f", $2 / 1024 }' <<<"$out")
    peak=$(awk '$1 == "peak" { printf "%.1f", $2 / 1048576 }' <<<"$out")
    calls=$(awk '$1 == "calls" { print $2 }' <<<"$out")
    summary=$(grep '^agent .*capture summary' <<<"$out" || true)
    (grep '^agent .*WARN' <<<"$out" || true) | cut -c7- >&2
    # events: records the probes wrote; lost: to a full ring, or dropped or failed by the sink
    events=$( (grep -o 'records=[0-9]*' <<<"$summary" || true) | head -n 1 | cut -d= -f2)
    lost=$( (grep -o 'records lost (ring full)=[0-9]*\| dropped=[0-9]*\| failed=[0-9]*' <<<"$summary" || true) \
        | awk -F= '{ n += $2 } END { print n + 0 }')
    if [ "$config" = none ]; then
        none_rss=$rss
        added=–
    else
        added=$(awk -v a="${rss:-0}" -v b="${none_rss:-0}" 'BEGIN { printf "%.1f", a - b }')
    fi
    # fine: the JVM ended normally after every call, and the agent (if any) said what it captured
    fine=no
    if [ "${exit:-}" = 0 ] && [ "${calls:-}" = "$expected" ] && { [ "$config" = none ] || [ -n "$summary" ]; }; then
        fine=yes
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$config" "${exit:-?}" "$fine" "${rss:--}" "$added" \
        "${hwm:--}" "${peak:--}" "${events:-–}" "$( [ "$config" = none ] && echo – || echo "$lost")"
done
