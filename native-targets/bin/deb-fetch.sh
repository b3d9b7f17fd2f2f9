# shellcheck shell=bash disable=SC2154 # src_pkg, dl, suites: set by the caller
# Fetching Debian source and binary packages into the download cache, shared
# by the gen-*-btf.sh scripts (sourced after apt-env.sh).
#
# The caller sets src_pkg (the source package: openssl, gnutls28); gen_start
# sets up the rest (dl, log, suites, ...), or the caller sets dl, log and
# suites itself (suites_for helps). A caller's own die, defined before
# sourcing, is kept.

run() { "$@" >>"$log" 2>&1; }

# A generator's error: its name, the message, and the end of its log (unless
# the sourcing script has a die of its own).
declare -F die >/dev/null || die() {
    local name=${0##*/}
    echo "${name%.sh}: $*" >&2
    if [ -s "${log:-}" ]; then echo "end of $log:" >&2; tail -n 30 "$log" >&2; fi
    exit 1
}

# A generator's one argument, a Debian version without epoch: sets debver and upstream.
gen_args() { # example-version "$@"
    local example=$1
    shift
    [ "$#" -eq 1 ] || die "usage: $0 <debian-package-version, e.g. $example>"
    debver=$1
    [[ $debver =~ ^[0-9][A-Za-z0-9.+~]*-[A-Za-z0-9.+~]+$ ]] || die "not a Debian version (no epoch): $debver"
    upstream=${debver%-*}
}

# need_tools: every tool checked against required-tools.tsv
# shellcheck source-path=SCRIPTDIR source=tools.sh
. "$(dirname "${BASH_SOURCE[0]}")/tools.sh"

# The common start of a gen-<lib>-btf.sh run (the caller has set targets and
# src_pkg and defines die): the cache layout, a fresh log, the suites, and the
# binary package fetched and unpacked into $work/deb (removed on exit).
gen_start() { # lib debver pkg arch
    local lib=$1 debver=$2 pkg=$3 arch=$4
    catalog=${BTF_CATALOG_DIR:-$targets/catalog}
    cache=$BTF_AGENT_CACHE
    dl=$cache/downloads/$lib          # shared: revisions share the orig tarball
    # shellcheck disable=SC2034 # the generators keep the build's libraries there
    libs=$cache/libs/$lib-$debver
    mkdir -p "$dl" "$cache/logs" "$catalog/$lib"
    log=$cache/logs/gen-$lib-btf-$debver.log
    : >"$log"
    export BTF_APT_LOG=$log
    # shellcheck disable=SC2064 # the script's name is fixed now, the rest at the time of the error
    trap "echo \"gen-$lib-btf: failed at line \$LINENO (exit \$?); end of \$log:\" >&2; tail -n 30 \"\$log\" >&2" ERR
    suites_for "$debver"
    deb=$dl/${pkg}_${debver}_$arch.deb
    fetch_deb "$pkg" "$debver" "$arch" || die "$pkg $debver is neither in the ${suites[*]} indexes nor in their pools"
    suite=$(cat "$deb.suite")
    work=$(mktemp -d "$cache/work.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    run dpkg-deb -x "$deb" "$work/deb"
}

# The common end of a gen-<lib>-btf.sh run: prove the offsets the BPF program
# reads (BTF vs. the library's machine code; a build that fails is not
# cataloged), install the BTF and put its line into the sorted index, then
# print that line and the directory of the build's libraries. Uses upstream,
# build_id, suite, pkg, debver, srcver and proof of the caller.
gen_finish() { # lib prove-offsets-arguments...
    local lib=$1 btf line header index
    shift
    if ! "$here/prove-offsets.sh" "$lib" "$@" >"$work/proof.txt" 2>&1; then
        cat "$work/proof.txt" >&2
        die "BTF from source $srcver does not match the machine code of $pkg $debver: not cataloged"
    fi
    cat "$work/proof.txt" >>"$log"

    btf=$lib/$upstream-${build_id:0:12}.btf
    install -m 644 "$work/types.btf" "$catalog/$btf"

    # one line per (lib, build-id), sorted, deterministic
    line=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s' "$lib" "$upstream" "$build_id" "$suite" "$pkg=$debver" "$btf" "$proof")
    header=$(printf 'lib\tversion\tbuild_id\tsuite\tpackage\tbtf\tproof')
    index=$catalog/index.tsv
    exec 9>>"$cache/index.lock"   # parallel runs: one index update at a time
    flock 9
    {
        echo "$header"
        { [ -f "$index" ] && tail -n +2 "$index" | awk -F'\t' -v l="$lib" -v id="$build_id" '!($1 == l && $3 == id)'; echo "$line"; } \
            | LC_ALL=C sort -t"$(printf '\t')" -k1,1 -k2,2V -k3,3
    } >"$work/index.tsv"
    cp "$work/index.tsv" "$index"

    echo "$line"
    echo "$libs"
}

# The suites a Debian version is searched in: BTF_SUITES if set, else from its
# ~debNNuM / +debNNuM suffix that release's main and security suites.
suites_for() { # debver -> sets the array suites
    if [ -n "${BTF_SUITES:-}" ]; then
        read -r -a suites <<<"$BTF_SUITES"
        return
    fi
    local codename
    case "$1" in
        *deb11u*) codename=bullseye ;;
        *deb12u*) codename=bookworm ;;
        *deb13u*) codename=trixie ;;
        *) die "cannot tell the suite of $1; set BTF_SUITES (e.g. \"sid\")" ;;
    esac
    suites=("$codename" "$codename-security")
}

# apt is only set up when something is missing from the cache, so a warm
# cache regenerates offline (and never trips over expiring Release files).
apt_ready=
need_apt() {
    [ -n "$apt_ready" ] && return
    btf_apt_env "${suites[@]}" || exit 1   # it already printed why
    apt_ready=1
}

# Pool directory of a source package: pool/main/o/openssl, pool/main/libx/...
deb_pool_dir() {
    case "$src_pkg" in
        lib?*) echo "${src_pkg:0:4}/$src_pkg" ;;
        *)     echo "${src_pkg:0:1}/$src_pkg" ;;
    esac
}

# Files the index no longer lists (superseded security uploads) often stay in
# the pool a while: fetch them by pool path. The .dsc checksums still verify
# the source tarballs (dpkg-source -x).
pool_fetch() { # file -> prints suite it came from
    local f=$1 suite uri
    for suite in "${suites[@]}"; do
        case "$suite" in
            *-security) uri=$BTF_APT_SECURITY_MIRROR/pool/updates/main/$(deb_pool_dir) ;;
            *)          uri=$BTF_APT_MIRROR/pool/main/$(deb_pool_dir) ;;
        esac
        # via .part so an interrupted download is never taken for a cached file
        if run /usr/lib/apt/apt-helper download-file "$uri/$f" "$dl/$f.part"; then
            mv "$dl/$f.part" "$dl/$f"; echo "$suite"; return 0
        fi
        rm -f "$dl/$f.part"
    done
    return 1
}

indexed_suite() { # package version -> first of our suites whose index has it
    local s
    # madison also prints the source package's lines: keep binary ones only.
    for s in "${suites[@]}"; do
        apt-cache madison "$1" | awk -F' [|] ' -v p="$1" -v v="$2" -v s="$s" '
            { gsub(/ /, "", $1); gsub(/ /, "", $2) }
            $1 == p && $2 == v && $3 ~ (" " s "/.* Packages$") { found = 1 }
            END { exit !found }' && { echo "$s"; return 0; }
    done
    return 1
}

# Binary package -> $dl/<pkg>_<ver>_<arch>.deb and .deb.suite (the suite it
# came from, remembered for cached reruns).
fetch_deb() { # package version arch
    local p=$1 v=$2 a=$3 deb s
    deb=$dl/${p}_${v}_$a.deb
    [ -f "$deb" ] && [ -f "$deb.suite" ] && return 0
    need_apt
    if s=$(indexed_suite "$p" "$v"); then
        (cd "$dl" && run apt-get -q download "$p:$a=$v") || return 1
    else
        s=$(pool_fetch "$(basename "$deb")") || return 1
    fi
    echo "$s" >"$deb.suite"
}

dsc_files() { awk '/^Checksums-Sha256:/ { on = 1; next } /^[^ ]/ { on = 0 } on { print $3 }' "$1"; }

dsc_complete() { # dsc -> all its files are in $dl
    local f
    dsc_files "$1" | while read -r f; do [ -f "$dl/$f" ] || exit 1; done
}

# The .dsc to unpack for a source version: the package's own, or, when only
# upstream signature files (*.asc) are missing from the mirror, a copy
# without them (its checksums still verify every tarball that is unpacked;
# only the .dsc's own signature no longer applies).
source_dsc() { # version -> path of the .dsc to give dpkg-source -x
    local dsc=$dl/${src_pkg}_$1.dsc
    if dsc_complete "$dsc"; then echo "$dsc"; else echo "$dl/${src_pkg}_$1.no-asc.dsc"; fi
}

fetch_source() { # version -> .dsc and its files in $dl (dpkg-source -x checks them)
    local v=$1 dsc=$dl/${src_pkg}_$1.dsc f missing
    if [ -f "$dsc" ] && { dsc_complete "$dsc" || [ -f "$dl/${src_pkg}_$v.no-asc.dsc" ]; }; then
        return 0
    fi
    need_apt
    if (cd "$dl" && run apt-get -q source --download-only "$src_pkg=$v"); then return 0; fi
    [ -f "$dsc" ] || pool_fetch "${src_pkg}_$v.dsc" >/dev/null || return 1
    missing=$(dsc_files "$dsc" | while read -r f; do
        [ -f "$dl/$f" ] || pool_fetch "$f" >/dev/null || echo "$f"
    done)
    [ -z "$missing" ] && return 0
    if ! grep -qv '\.asc$' <<<"$missing"; then
        echo "${0##*/}: $src_pkg $v: upstream signature missing on the mirror ($(echo $missing)); unpacking with the .dsc checksums only" >&2
        awk -v miss="$(echo $missing)" '
            BEGIN { n = split(miss, m, " "); for (i = 1; i <= n; i++) skip[m[i]] = 1 }
            /^ / && ($NF in skip) { next }
            { print }' "$dsc" >"$dl/${src_pkg}_$v.no-asc.dsc"
        return 0
    fi
    return 1
}

# Source versions to try when the exact one cannot be downloaded, best
# first: other Debian revisions of the same upstream release (newest first),
# then older releases of the same major.minor series (newest first), then
# newer ones (oldest first). Struct layouts rarely change within a series,
# and every such entry is checked against the binary (prove-offsets.sh).
nearest_sources() { # debian-version
    local v=$1 up=${1%-*} series
    series=$(echo "$up" | cut -d. -f1-2)
    need_apt
    apt-cache showsrc "$src_pkg" | awk '/^Version:/ { print $2 }' | LC_ALL=C sort -u |
        awk -v v="$v" -v up="$up" -v s="$series." '
            $0 != v && index($0, s) == 1 { print }' |
        while read -r c; do
            cu=${c%-*}
            if [ "$cu" = "$up" ]; then rank=0
            elif dpkg --compare-versions "$c" lt "$v"; then rank=1
            else rank=2; fi
            echo "$rank $c"
        done |
        sort -k1,1n -k2,2V | awk '
            { r[NR] = $1; c[NR] = $2 }
            END {  # rank 0 and 1 newest first, rank 2 oldest first
                for (k = 0; k <= 2; k++) {
                    if (k < 2) { for (i = NR; i >= 1; i--) if (r[i] == k) print c[i] }
                    else       { for (i = 1; i <= NR; i++) if (r[i] == k) print c[i] }
                }
            }'
}

# Resolve the source version to build from: sets srcver.
choose_source() { # debian-version
    local v=$1 c
    srcver=${BTF_SOURCE_VERSION:-$v}
    fetch_source "$srcver" && return 0
    [ -z "${BTF_SOURCE_VERSION:-}" ] || { echo "${0##*/}: source $src_pkg $srcver not available" >&2; return 1; }
    for c in $(nearest_sources "$v"); do
        if fetch_source "$c"; then
            echo "${0##*/}: source $src_pkg $v unavailable, using the nearest: $c" >&2
            srcver=$c; return 0
        fi
        echo "${0##*/}: source $src_pkg $c not downloadable either" >&2
    done
    echo "${0##*/}: no downloadable source for $src_pkg $v or its series; set BTF_SOURCE_VERSION" >&2
    return 1
}
