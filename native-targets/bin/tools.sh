# shellcheck shell=bash
# The one way a script checks its tools (sourced):
#
#   . native-targets/bin/tools.sh
#   need_tools gcc pahole bpftool
#
# Every tool must be listed in required-tools.tsv next to this file (the list
# setup-host.sh installs from): an unlisted tool stops the script even on a
# machine where it happens to be installed, so a new tool cannot be used
# without being installed for everyone. A listed tool that is missing is
# reported with its Debian package. Errors go through the caller's die when it
# has one, else to stderr with the script's name; either way the script exits.

required_tools_list=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/required-tools.tsv

# For a tool a script can do without (the demo's tshark view): status 0 when it
# is installed. It must be listed all the same (setup-host.sh installs it).
have_tool() { # tool
    need_tools_listed "$1"
    command -v "$1" >/dev/null
}

need_tools_listed() { # tool
    tool_package "$1" >/dev/null && return 0
    local msg="tool $1 is not listed in $required_tools_list; add it there with its Debian package (setup-host.sh installs from that list)"
    if declare -F die >/dev/null; then die "$msg"; fi
    local name=${0##*/}
    echo "${name%.sh}: $msg" >&2
    exit 1
}

# The Debian package of a listed command; status 1 when it is not listed.
tool_package() { # command
    awk -F'\t' -v c="$1" '!/^#/ && $1 == c { print $2; found = 1; exit } END { exit !found }' \
        "$required_tools_list"
}

need_tools() { # tool...
    local tool pkg msg
    for tool in "$@"; do
        if ! pkg=$(tool_package "$tool"); then
            msg="tool $tool is not listed in $required_tools_list; add it there with its Debian package (setup-host.sh installs from that list)"
        elif ! command -v "$tool" >/dev/null; then
            msg="missing tool: $tool (Debian package $pkg; bash native-targets/bin/setup-host.sh installs it)"
        else
            continue
        fi
        if declare -F die >/dev/null; then die "$msg"; fi
        local name=${0##*/}
        echo "${name%.sh}: $msg" >&2
        exit 1
    done
}
