#!/usr/bin/env bash
# The benchmark table: per-call cost of SSL_write and SSL_read inside a JVM, side by side in one
# run: no probes, a counting-only uprobe + uretprobe on each function's entry (the naive floor
# every uprobe tool pays), the agent (no sink; no sink with every probe at the function's entry;
# the jsonl sink) and bpftrace capturing the same calls; events lost, bytes allocated per event
# and resident memory added per configuration; the time to `main` against an empty -javaagent
# and to probes attached; and the agent's ring reader alone (records/s). Prints a detailed table
# and the Markdown table docs/performance.md holds. Then the BPF programs' own run time (one
# more untimed run per probed configuration with the kernel's run-time statistics on), the real
# stack under load (wildfly-openssl, with a profiled run: async-profiler's flame graph and CPU
# by component) and small messages at a high rate (a netty-tcnative HTTPS server under wrk,
# also profiled). About 15 minutes; needs root (or CAP_BPF+CAP_PERFMON), bpftrace, bpftool and
# wrk (native-targets/bin/setup-host.sh installs them) and the build (`mvn -B verify`, or
# `mvn -B package -DskipTests`). Not part of `mvn verify`.
#
#   bash it-tests/bench.sh                   prints the tables
#   bash it-tests/bench.sh --update-docs     also puts the Markdown table into docs/performance.md
#
# Settings, as environment variables: BENCH_REPS (JVM runs per configuration, 5),
# BENCH_BLOCKS (blocks per run, 5), BENCH_SIZES (size:iterations per block,
# 64:4000,16384:1000), BENCH_CONFIGS (none,floor-multi,floor-placed,agent-multi,agent-entry,agent-jsonl,
# bpftrace; also floor-single, agent-single), BENCH_JSONL (the jsonl sink's file,
# bench-events.jsonl in the work directory; deleted after each run), BENCH_LIBSSL /
# BENCH_LIBCRYPTO (the system's libssl.so.3 / libcrypto.so.3), BENCH_STARTUP (false skips the
# start-up runs), BENCH_STARTUP_REPS (21); BENCH_LOAD (false skips the real-stack load: 8
# threads of wildfly-openssl HTTPS requests with and without the agent and its jsonl sink),
# BENCH_LOAD_REPS (interleaved pairs, 3), BENCH_LOAD_SECONDS (measured per run, 20);
# BENCH_WRK (false skips the netty + wrk load), BENCH_WRK_REPS (interleaved rounds, 3),
# BENCH_WRK_SECONDS (measured per run, 10), BENCH_WRK_CONNECTIONS (32); BENCH_PROFILE (false:
# no profiled runs; else the flame graphs and collapsed stacks go to it-tests/target/
# bench-profile-{wildfly,netty}.{html,collapsed}); BENCH_BPF_STATS (false: no run-time
# statistics runs).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=../native-targets/bin/tools.sh
. "$root/native-targets/bin/tools.sh"
need_tools openssl java jar bpftool wrk
agent_jar=$root/agent/target/btf-agent.jar
agent_classes=$root/agent/target/classes
agent_deps=$root/agent/target/inst-deps
floor=$root/bpf/target/classes/io/btfagent/bpf/bench_floor.bpf.o
ring=$root/bpf/target/classes/io/btfagent/bpf/bench_ring.bpf.o
update_docs=false
if [ "${1:-}" = --update-docs ]; then
    update_docs=true
fi
libbpf=$agent_classes/io/btfagent/natives/libbpf.so
classes=$root/it-tests/target/classes
jna=$root/it-tests/target/conflict-lib/jna-5.13.0.jar
profiler_jar=$root/it-tests/target/profiler-lib/async-profiler-4.1.jar
for f in "$agent_jar" "$agent_classes" "$agent_deps" "$floor" "$ring" "$libbpf" "$classes/io/btfagent/bench/BenchMain.class" "$jna" "$profiler_jar"; do
    if [ ! -e "$f" ]; then
        echo "bench: $f is missing; build first: mvn -B package -DskipTests" >&2
        exit 1
    fi
done
work=$(mktemp -d "${TMPDIR:-/tmp}/btf-agent-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
# the server's certificate for the in-process handshake
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
# an agent that does nothing, for the time-to-main comparison, and the start-up probe's class
# path: MainProbe alone, so that the empty agent's class is found only in its jar and the JVM
# opens that jar as it opens any agent's (with it-tests' classes on the class path, it would
# take the class from there and never open the jar)
printf 'Premain-Class: io.btfagent.bench.EmptyAgent\n' > "$work/manifest"
jar cfm "$work/empty-agent.jar" "$work/manifest" -C "$classes" io/btfagent/bench/EmptyAgent.class
mkdir -p "$work/startup-cp/io/btfagent/bench"
cp "$classes/io/btfagent/bench/MainProbe.class" "$work/startup-cp/io/btfagent/bench/"
table=$root/it-tests/target/bench-table.md
# async-profiler's native library, out of its jar, for the profiled runs (-agentpath)
profile_args=()
if [ "${BENCH_PROFILE:-true}" != false ]; then
    mkdir -p "$work/profiler"
    (cd "$work/profiler" && jar xf "$profiler_jar" linux-x64/libasyncProfiler.so)
    profile_args=(-Dbench.profile.lib="$work/profiler/linux-x64/libasyncProfiler.so"
        -Dbench.profile.jar="$profiler_jar" -Dbench.profile.dir="$root/it-tests/target")
fi
# The controller runs the agent's own classes (BpfObject, the bundled libbpf) with the agent's
# JNA; the workload JVMs run with it-tests' classes and a JNA of their own.
java -cp "$classes:$agent_classes:$agent_deps" \
    -Dbench.child.classpath="$classes:$jna" \
    -Dbench.agent.jar="$agent_jar" \
    -Dbench.floor.object="$floor" \
    -Dbench.libbpf="$libbpf" \
    -Dbench.cert="$work/cert.pem" -Dbench.key="$work/key.pem" \
    -Dbench.work="$work" \
    -Dbench.ring.object="$ring" \
    -Dbench.empty.agent="$work/empty-agent.jar" \
    -Dbench.startup.classpath="$work/startup-cp" \
    -Dbench.table="$table" \
    ${BENCH_STARTUP:+-Dbench.startup="$BENCH_STARTUP"} \
    ${BENCH_STARTUP_REPS:+-Dbench.startup.reps="$BENCH_STARTUP_REPS"} \
    ${BENCH_REPS:+-Dbench.reps="$BENCH_REPS"} \
    ${BENCH_BLOCKS:+-Dbench.blocks="$BENCH_BLOCKS"} \
    ${BENCH_SIZES:+-Dbench.sizes="$BENCH_SIZES"} \
    ${BENCH_CONFIGS:+-Dbench.configs="$BENCH_CONFIGS"} \
    ${BENCH_JSONL:+-Dbench.jsonl="$BENCH_JSONL"} \
    ${BENCH_LIBSSL:+-Dbench.libssl="$BENCH_LIBSSL"} \
    ${BENCH_LIBCRYPTO:+-Dbench.libcrypto="$BENCH_LIBCRYPTO"} \
    ${BENCH_BPF_STATS:+-Dbench.bpf-stats="$BENCH_BPF_STATS"} \
    io.btfagent.bench.BenchMain
# the real stack under load, with and without the agent (BENCH_LOAD=false skips it)
if [ "${BENCH_LOAD:-true}" != false ]; then
    wildfly=$(ls "$root"/it-tests/target/lib/wildfly-openssl-*.jar | head -n 1)
    java -cp "$classes:$wildfly" \
        ${BENCH_LOAD_REPS:+-Dbench.load.reps="$BENCH_LOAD_REPS"} \
        ${BENCH_LOAD_SECONDS:+-Dbench.load.seconds="$BENCH_LOAD_SECONDS"} \
        "${profile_args[@]}" \
        io.btfagent.bench.RealStackLoad java "$classes:$wildfly" "$agent_jar" "$work" "$table"
fi
# small messages at a high rate: netty-tcnative's BoringSSL under wrk (BENCH_WRK=false skips it)
if [ "${BENCH_WRK:-true}" != false ]; then
    netty_cp=$classes
    for jar in "$root"/it-tests/target/netty-lib/*.jar "$root"/it-tests/target/tcnative/2.0.84.Final/*.jar; do
        netty_cp=$netty_cp:$jar
    done
    java -cp "$classes:$agent_classes:$agent_deps" \
        -Dbench.libbpf="$libbpf" -Dbench.floor.object="$floor" \
        ${BENCH_WRK_REPS:+-Dbench.wrk.reps="$BENCH_WRK_REPS"} \
        ${BENCH_WRK_SECONDS:+-Dbench.wrk.seconds="$BENCH_WRK_SECONDS"} \
        ${BENCH_WRK_CONNECTIONS:+-Dbench.wrk.connections="$BENCH_WRK_CONNECTIONS"} \
        ${BENCH_BPF_STATS:+-Dbench.wrk.extra="$BENCH_BPF_STATS"} \
        "${profile_args[@]}" \
        io.btfagent.bench.NettyWrkLoad java "$netty_cp" "$agent_jar" "$work" "$table" "$work/cert.pem" "$work/key.pem"
fi
if [ "${BENCH_JSSE:-true}" != false ]; then
    java ${BENCH_JSSE_REPS:+-Dbench.jsse.reps="$BENCH_JSSE_REPS"} \
        -cp "$classes" io.btfagent.bench.JsseCallBench java "$classes" "$agent_jar" "$work" "$table"
fi
if $update_docs; then
    begin='<!-- bench-table: begin (generated by it-tests/bench.sh --update-docs) -->'
    end='<!-- bench-table: end -->'
    grep -qF "$begin" docs/performance.md && grep -qF "$end" docs/performance.md || {
        echo "bench: docs/performance.md lacks the bench-table markers" >&2
        exit 1
    }
    awk -v begin="$begin" -v end="$end" -v table="$table" '
        $0 == begin { print; while ((getline l < table) > 0) print l; skip = 1; next }
        $0 == end { skip = 0 }
        !skip { print }' docs/performance.md > "$work/performance.md"
    cp "$work/performance.md" docs/performance.md
    echo "bench: docs/performance.md performance table updated from $table"
fi
