#!/usr/bin/env bash
# A container image of one Debian suite for the container tests: the root that
# make-root.sh builds (debootstrap, kept as ${BTF_AGENT_CACHE}/roots/<suite>.tar),
# imported into podman's local store as localhost/btf-agent-it-<suite>:<stamp>,
# where <stamp> changes whenever the tarball does. No image registry is needed.
#
#   make-image.sh <suite> <dir>     dir: where make-root.sh extracts the root
#
# Prints the image's name. Needs root, podman and runc (the set-up installs them).
# env: CONTAINERS_CONF   podman's settings (the tests point it at their own file)
#      BTF_AGENT_CACHE   cache root (default ~/.cache/btf-agent)
set -Eeuo pipefail
die() { echo "make-image: $*" >&2; exit 1; }
[ "$#" -eq 2 ] || die "usage: $0 <suite> <dir>"
suite=$1 dir=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../../native-targets/bin/tools.sh
. "$here/../../native-targets/bin/tools.sh"
need_tools podman runc flock sha256sum
: "${BTF_AGENT_CACHE:=${HOME:-/tmp}/.cache/btf-agent}"
bash "$here/make-root.sh" "$suite" "$dir" >/dev/null
tarball=$BTF_AGENT_CACHE/roots/$suite.tar
[ -f "$tarball" ] || die "make-root.sh left no $tarball"
stamp=$(stat -c '%s %Y %i' "$tarball" | sha256sum | cut -c1-12)
image=localhost/btf-agent-it-$suite:$stamp
exec 8>"$BTF_AGENT_CACHE/roots/$suite.image.lock"
flock 8
if ! podman image exists "$image"; then
    start=$(date +%s)
    podman import --quiet "$tarball" "$image" >/dev/null
    echo "make-image: imported $tarball as $image in $(( $(date +%s) - start )) s" >&2
fi
echo "$image"
