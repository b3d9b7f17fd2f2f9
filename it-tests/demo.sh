#!/usr/bin/env bash
# The demo: a JVM with btf-agent makes HTTPS requests through OpenSSL (wildfly-openssl)
# to a JSSE server in the same JVM, with an Authorization header; the agent prints the
# plaintext of every SSL_write and SSL_read in its log (lines starting with [btf-agent]),
# with the header's value masked, and writes the same events to btf-agent-events.jsonl and
# btf-agent-events.pcapng; with tshark installed, the script then shows the capture as
# Wireshark dissects it. Needs root (or CAP_BPF+CAP_PERFMON) and the build from the
# README's first command.
set -euo pipefail
cd "$(dirname "$0")/.."
jar=agent/target/btf-agent.jar
lib=it-tests/target/lib/wildfly-openssl-2.2.5.Final.jar
if [ ! -f "$jar" ] || [ ! -f "$lib" ]; then
    echo "demo: build first: bash native-targets/bin/setup-host.sh && mvn -B verify -Pcheck-catalog" >&2
    exit 1
fi
out=${BTF_AGENT_DEMO_JSONL:-$PWD/btf-agent-events.jsonl}
pcap=${out%.jsonl}.pcapng
rm -f "$out" "$pcap"
java -javaagent:"$jar"=sinks=log,jsonl,pcapng,sink.jsonl.path="$out",sink.pcapng.path="$pcap" \
    -Dorg.wildfly.openssl.path=/usr/lib/x86_64-linux-gnu \
    "-Ddemo.headers=Authorization: Bearer demo-secret-token" \
    -cp it-tests/target/classes:"$lib" io.btfagent.demo.DemoMain
echo "demo: events also written to $out and $pcap"
if command -v tshark >/dev/null; then
    cd "$(dirname "$pcap")"
    name=$(basename "$pcap")
    echo "demo: tshark -r $name -Y http"
    tshark -r "$name" -Y http 2>/dev/null
    echo "demo: tshark -r $name -q -z follow,tcp,ascii,0"
    tshark -r "$name" -q -z follow,tcp,ascii,0 2>/dev/null
fi
