#!/usr/bin/env bash
# Installs, from Debian's packages, what building and testing btf-agent needs on a
# Debian 12 host: clang/llvm and libbpf headers for the BPF object, the toolchain that
# builds the agent's own libbpf from Debian's source (zlib1g-dev, patch, bzip2, xz),
# pahole/dpkg-dev/make for BTF generation, openssl, binutils and curl (the client of the
# netty tests) for the tests, a JDK and Maven, tshark for the pcapng sink's tests. Installs
# only what is missing; needs root.
set -euo pipefail

packages=(clang llvm libbpf-dev dwarves dpkg-dev gcc make perl patch bzip2 xz-utils zlib1g-dev
          openssl libssl3 openjdk-17-jdk-headless maven ca-certificates util-linux binutils debootstrap
          tshark curl bpftool)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup-host: missing packages ${missing[*]}; run as root (or apt-get install them)" >&2
        exit 1
    fi
    echo "setup-host: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup-host: $(clang --version | head -n 1); pahole $(pahole --version); $(java -version 2>&1 | head -n 1)"
