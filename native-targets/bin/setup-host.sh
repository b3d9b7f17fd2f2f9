#!/usr/bin/env bash
# Installs, from Debian's packages, everything building and testing btf-agent needs on a
# Debian 12 host: the packages of required-tools.tsv (next to this script; the same list
# every script checks its tools against). Installs only what is missing (needs root for
# that), then checks that every command of the list runs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
list=$here/required-tools.tsv
mapfile -t packages < <(awk -F'\t' '!/^#/ && NF >= 2 { print $2 }' "$list" | LC_ALL=C sort -u)
mapfile -t commands < <(awk -F'\t' '!/^#/ && NF >= 2 && $1 != "-" { print $1 }' "$list")
[ "${#packages[@]}" -gt 0 ] || { echo "setup-host: no packages in $list" >&2; exit 1; }

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

# A package that no longer brings the command the list says it does fails here,
# not in the middle of the build.
absent=()
for c in "${commands[@]}"; do
    command -v "$c" >/dev/null || absent+=("$c")
done
if [ "${#absent[@]}" -gt 0 ]; then
    echo "setup-host: installed, yet not found: ${absent[*]} (check their packages in $list)" >&2
    exit 1
fi
echo "setup-host: ${#packages[@]} packages, ${#commands[@]} commands present; $(clang --version | head -n 1); pahole $(pahole --version); bpftool $(bpftool version | awk 'NR == 1 { print $2 }'); $(java -version 2>&1 | head -n 1)"
