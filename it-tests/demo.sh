#!/usr/bin/env bash
# The demo: a JVM with btf-agent makes HTTPS requests through OpenSSL (wildfly-openssl)
# to a JSSE server in the same JVM; the agent prints the plaintext of every SSL_write and
# SSL_read in its log (lines starting with [btf-agent]) and writes the same events to
# btf-agent-events.jsonl. Needs root (or CAP_BPF+CAP_PERFMON) and the build from the
# README's first command.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../native-targets/bin/tools.sh
. native-targets/bin/tools.sh
need_tools java
jar=agent/target/btf-agent.jar
lib=it-tests/target/lib/wildfly-openssl-2.2.5.Final.jar
if [ ! -f "$jar" ] || [ ! -f "$lib" ]; then
    echo "demo: build first: bash native-targets/bin/setup-host.sh && mvn -B verify -Pcheck-catalog" >&2
    exit 1
fi
out=${BTF_AGENT_DEMO_JSONL:-$PWD/btf-agent-events.jsonl}
rm -f "$out"
java -javaagent:"$jar"=sinks=log,jsonl,sink.jsonl.path="$out" \
    -Dorg.wildfly.openssl.path=/usr/lib/x86_64-linux-gnu \
    -cp it-tests/target/classes:"$lib" io.btfagent.demo.DemoMain
echo "demo: events also written to $out"
