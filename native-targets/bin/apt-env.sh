# shellcheck shell=bash
# Private apt setup for fetching Debian source and binary packages.
#
# Usage (sourced):
#   . native-targets/bin/apt-env.sh
#   btf_apt_env bookworm bookworm-security      # sets APT_CONFIG, updates if needed
#   apt-get source --download-only openssl=3.0.19-1~deb12u2
#
# Everything lives under $BTF_AGENT_CACHE/apt/<suites>: the system's
# /etc/apt, /var/lib/apt and /var/cache/apt are never read or written, so
# this works the same on a developer box, in CI and inside containers whose
# own sources.list is pinned to something else. A suite is any Debian suite
# name (bullseye, bookworm, trixie, sid, experimental, *-updates,
# *-security); each gets both a deb and a deb-src line.

: "${BTF_AGENT_CACHE:=${HOME:-/tmp}/.cache/btf-agent}"
: "${BTF_APT_MIRROR:=http://deb.debian.org/debian}"
: "${BTF_APT_SECURITY_MIRROR:=http://deb.debian.org/debian-security}"
: "${BTF_APT_ARCH:=amd64}"
# Lists older than this are refreshed (security suites move often).
: "${BTF_APT_MAX_AGE_MIN:=720}"
# Set to false to accept expired Release files (frozen mirrors/snapshots).
# Unset: true, except for suite sets with sid or experimental, whose Release
# files on a frozen mirror expire within days.
: "${BTF_APT_CHECK_VALID_UNTIL:=}"

btf_apt_env() {
    if [ "$#" -eq 0 ]; then
        echo "btf_apt_env: need at least one suite (e.g. bookworm bookworm-security)" >&2
        return 2
    fi
    local name root suite uri
    # One tree per suite set (sorted, so argument order does not matter):
    # adding e.g. trixie later never invalidates or widens the bookworm lists.
    local -a sorted
    mapfile -t sorted < <(printf '%s\n' "$@" | LC_ALL=C sort -u)
    set -- "${sorted[@]}"
    name=$(IFS=+; echo "$*")
    root="$BTF_AGENT_CACHE/apt/$name"
    mkdir -p "$root"/{etc/apt.conf.d,etc/preferences.d,etc/sources.list.d,etc/trusted.gpg.d} \
             "$root"/state/lists/partial "$root"/cache/archives/partial
    : >"$root/state/status"   # empty dpkg status: resolution must not depend on the host

    local sources="$root/etc/sources.list.new"
    : >"$sources"
    for suite in "$@"; do
        case "$suite" in
            *-security) uri=$BTF_APT_SECURITY_MIRROR ;;
            *)          uri=$BTF_APT_MIRROR ;;
        esac
        printf 'deb [arch=%s signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
            "$BTF_APT_ARCH" "$uri" "$suite" >>"$sources"
        printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
            "$uri" "$suite" >>"$sources"
    done
    local valid_until=$BTF_APT_CHECK_VALID_UNTIL
    if [ -z "$valid_until" ]; then
        valid_until=true
        for suite in "$@"; do
            case "$suite" in sid|unstable|experimental|rc-buggy) valid_until=false ;; esac
        done
    fi
    local changed=0
    if ! cmp -s "$sources" "$root/etc/sources.list"; then
        mv "$sources" "$root/etc/sources.list"
        changed=1
    else
        rm -f "$sources"
    fi

    # Dir::Etc::Parts/Main point into our tree so host apt.conf.d snippets
    # (docker-clean hooks, proxies, pinning) cannot change what we resolve.
    cat >"$root/apt.conf" <<CONF
Dir::State "$root/state";
Dir::State::status "$root/state/status";
Dir::Cache "$root/cache";
Dir::Etc "$root/etc";
Dir::Etc::SourceList "$root/etc/sources.list";
Dir::Etc::SourceParts "$root/etc/sources.list.d";
Dir::Etc::Parts "$root/etc/apt.conf.d";
Dir::Etc::Main "/dev/null";
Dir::Etc::Preferences "$root/etc/preferences";
Dir::Etc::PreferencesParts "$root/etc/preferences.d";
Dir::Etc::TrustedParts "$root/etc/trusted.gpg.d";
APT::Architecture "$BTF_APT_ARCH";
APT::Architectures { "$BTF_APT_ARCH"; };
Acquire::Languages "none";
Acquire::Check-Valid-Until "$valid_until";
// Files land in caller-owned dirs; the _apt sandbox user could not write there.
APT::Sandbox::User "root";
CONF
    export APT_CONFIG="$root/apt.conf"

    # Update only when a suite has no Release file yet, the source list
    # changed, or the lists are older than BTF_APT_MAX_AGE_MIN.
    local need=$changed stamp="$root/state/update-stamp"
    [ -f "$stamp" ] || need=1
    [ -n "$(find "$stamp" -mmin "+$BTF_APT_MAX_AGE_MIN" 2>/dev/null)" ] && need=1
    for suite in "$@"; do
        compgen -G "$root/state/lists/*_dists_${suite}_InRelease" >/dev/null || need=1
    done
    if [ "$need" = 1 ]; then
        local log=${BTF_APT_LOG:-$BTF_AGENT_CACHE/apt-update.log} out rc=0
        out=$(apt-get -q update 2>&1) || rc=$?
        printf '%s\n' "$out" >>"$log"
        # apt reports unusable lists (bad signature, expired, 404) as W:/E:
        # yet may exit 0; either way the lists cannot be trusted.
        if [ "$rc" -ne 0 ] || grep -q '^[WE]:' <<<"$out"; then
            echo "btf_apt_env: apt-get update failed for: $* (log: $log)" >&2
            tail -n 20 <<<"$out" >&2
            return 1
        fi
        touch "$stamp"
    fi
}
