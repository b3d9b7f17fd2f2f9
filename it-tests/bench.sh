#!/usr/bin/env bash
# Per-call cost of SSL_write and SSL_read inside a JVM, measured side by side in one run:
# no probes, a counting-only uprobe + uretprobe (the floor every capture pays), and the agent
# (attach.mode single and multi, no sink and the jsonl sink). Prints a table of medians and
# the agent's cost relative to the floor. About a minute; needs root (or CAP_BPF+CAP_PERFMON)
# and the build (`mvn -B verify`, or `mvn -B package -DskipTests`). Not part of `mvn verify`.
#
# Settings, as environment variables: BENCH_REPS (JVM runs per configuration, 5),
# BENCH_BLOCKS (blocks per run, 5), BENCH_SIZES (size:iterations per block,
# 64:4000,16384:1000), BENCH_CONFIGS (none,floor-single,floor-multi,agent-single,agent-multi,
# agent-jsonl), BENCH_JSONL (the jsonl sink's file, bench-events.jsonl in the work directory;
# deleted after each run), BENCH_LIBSSL / BENCH_LIBCRYPTO (the system's libssl.so.3 / libcrypto.so.3).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
agent_jar=$root/agent/target/btf-agent.jar
agent_classes=$root/agent/target/classes
agent_deps=$root/agent/target/inst-deps
floor=$root/bpf/target/classes/io/btfagent/bpf/bench_floor.bpf.o
libbpf=$agent_classes/io/btfagent/natives/libbpf.so
classes=$root/it-tests/target/classes
jna=$root/it-tests/target/conflict-lib/jna-5.13.0.jar
for f in "$agent_jar" "$agent_classes" "$agent_deps" "$floor" "$libbpf" "$classes/io/btfagent/bench/BenchMain.class" "$jna"; do
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
# The controller runs the agent's own classes (BpfObject, the bundled libbpf) with the agent's
# JNA; the workload JVMs run with it-tests' classes and a JNA of their own.
java -cp "$classes:$agent_classes:$agent_deps" \
    -Dbench.child.classpath="$classes:$jna" \
    -Dbench.agent.jar="$agent_jar" \
    -Dbench.floor.object="$floor" \
    -Dbench.libbpf="$libbpf" \
    -Dbench.cert="$work/cert.pem" -Dbench.key="$work/key.pem" \
    -Dbench.work="$work" \
    ${BENCH_REPS:+-Dbench.reps="$BENCH_REPS"} \
    ${BENCH_BLOCKS:+-Dbench.blocks="$BENCH_BLOCKS"} \
    ${BENCH_SIZES:+-Dbench.sizes="$BENCH_SIZES"} \
    ${BENCH_CONFIGS:+-Dbench.configs="$BENCH_CONFIGS"} \
    ${BENCH_JSONL:+-Dbench.jsonl="$BENCH_JSONL"} \
    ${BENCH_LIBSSL:+-Dbench.libssl="$BENCH_LIBSSL"} \
    ${BENCH_LIBCRYPTO:+-Dbench.libcrypto="$BENCH_LIBCRYPTO"} \
    io.btfagent.bench.BenchMain
