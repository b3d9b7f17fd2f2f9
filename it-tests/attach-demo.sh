#!/usr/bin/env bash
# Capture a running service: starts a JSSE HTTPS server and a client JVM that does HTTPS
# through OpenSSL (wildfly-openssl), both without the agent, then runs the commands against
# the client: doctor, attach (one request is captured), status, detach (one more request is
# not), and watch (attaches again, shows one request and response live, and detaches on
# Ctrl-C, sent here as SIGTERM). Prints each command line and its output. Needs root (or CAP_BPF and
# CAP_PERFMON for the client's user) and the build from the README's first command.
set -euo pipefail
cd "$(dirname "$0")/.."
jar=agent/target/btf-agent.jar
lib=it-tests/target/lib/wildfly-openssl-2.2.5.Final.jar
if [ ! -f "$jar" ] || [ ! -f "$lib" ]; then
    echo "attach-demo: build first: bash native-targets/bin/setup-host.sh && mvn -B verify -Pcheck-catalog" >&2
    exit 1
fi
cp=it-tests/target/classes:"$lib"
work=$(mktemp -d)
server_pid= client_pid= watch_pid=
cleanup() {
    exec 7>&- 2>/dev/null || true
    for p in $watch_pid $client_pid $server_pid; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
await() { # file text
    for _ in $(seq 300); do grep -q "$2" "$1" && return 0; sleep 0.1; done
    echo "attach-demo: no '$2' in $1:" >&2; cat "$1" >&2; exit 1
}
run() { # command line shown as a user would type it
    echo "\$ java -jar btf-agent.jar ${*:4}"
    "$@" || echo "(exit status $?)"
    echo
}

java -cp "$cp" io.btfagent.demo.TlsEchoServer --ignore-stdin >"$work/server.out" 2>&1 &
server_pid=$!
await "$work/server.out" listening
port=$(awk '{print $2}' "$work/server.out")
mkfifo "$work/requests"
java -Dorg.wildfly.openssl.path=/usr/lib/x86_64-linux-gnu -cp "$cp" io.btfagent.demo.WildflyOnDemandClient \
    127.0.0.1 "$port" / <"$work/requests" >"$work/client.out" 2>"$work/client.err" &
client_pid=$!
exec 7>"$work/requests"
await "$work/client.out" ready
events=${BTF_AGENT_DEMO_JSONL:-$PWD/btf-agent-attach-events.jsonl}
rm -f "$events"

echo "# a service JVM (pid $client_pid) started without the agent"
run java -jar "$jar" doctor "$client_pid"
run java -jar "$jar" attach "$client_pid" "sinks=jsonl,sink.jsonl.path=$events"
echo >&7
await "$work/client.out" "done 1 "
sleep 0.5
run java -jar "$jar" status "$client_pid"
run java -jar "$jar" detach "$client_pid"
echo >&7
await "$work/client.out" "done 2 "
echo "# $events: $(wc -l <"$events") events (the request and response made while attached)"

echo
echo "\$ java -jar btf-agent.jar watch $client_pid      (then Ctrl-C)"
NO_COLOR=1 java -jar "$jar" watch "$client_pid" >"$work/watch.out" 2>"$work/watch.err" &
watch_pid=$!
await "$work/watch.err" "Ctrl-C ends"
echo >&7
await "$work/client.out" "done 3 "
await "$work/watch.out" "hello from btf-agent demo"
kill -TERM "$watch_pid"   # what Ctrl-C does in a terminal; a background job of a script ignores SIGINT
wait "$watch_pid" || true
watch_pid=
head -n 2 "$work/watch.err"; cat "$work/watch.out"; tail -n +3 "$work/watch.err"   # as a terminal shows them
