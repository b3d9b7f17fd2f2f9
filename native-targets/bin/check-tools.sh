#!/usr/bin/env bash
# Check that every command the checkout's scripts, Maven builds and Java tests name is in
# native-targets/bin/required-tools.tsv (the list setup-host.sh installs from):
#
#   check-tools.sh [checkout]        default: this script's checkout
#
# Looked at, in every file outside .git and target/:
#   *.sh and .ci/*   the arguments of need_tools and have_tool (words with a $ are skipped); and any
#                    `command -v`, which only tools.sh and setup-host.sh may use: a script
#                    checks its tools with need_tools, so the list knows them
#   pom.xml          <executable>x</executable> (not ${...})
#   *.java           a command line written as literals: ProcessBuilder("x" and ("x", "-...
# Also checks the list itself: three tab-separated fields, no command listed twice.
# Prints one line per problem; exit status 1 when there is any.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
checkout=$(cd "${1:-$here/../..}" && pwd)
list=$checkout/native-targets/bin/required-tools.tsv
[ -f "$list" ] || { echo "check-tools: no $list" >&2; exit 1; }

problems=0
problem() { echo "check-tools: $*" >&2; problems=$((problems + 1)); }

# The list: command <TAB> package <TAB> used by.
declare -A listed=()
n=0
while IFS= read -r line; do
    n=$((n + 1))
    case "$line" in '#'*|'') continue ;; esac
    IFS=$'\t' read -r cmd pkg used extra <<<"$line"
    if [ -z "$cmd" ] || [ -z "$pkg" ] || [ -z "$used" ] || [ -n "${extra:-}" ]; then
        problem "$list:$n: want 'command<TAB>package<TAB>used by', got: $line"
        continue
    fi
    [[ $pkg =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || problem "$list:$n: '$pkg' is not a Debian package name"
    [ "$cmd" = - ] && continue
    [ -z "${listed[$cmd]:-}" ] || problem "$list:$n: $cmd is listed twice"
    listed[$cmd]=$pkg
done <"$list"

uses=0
need() { # file:line command
    uses=$((uses + 1))
    [ -z "${CHECK_TOOLS_VERBOSE:-}" ] || echo "check-tools: $1 uses $2"
    # a Java test may name a listed command by its path (/usr/bin/setpriv)
    [ -n "${listed[$2]:-}" ] || { [[ $2 == /* ]] && [ -n "${listed[${2##*/}]:-}" ]; } || problem "$1: $2 is not in native-targets/bin/required-tools.tsv; add it with its Debian package"
}

# A command line written as Java literals: ProcessBuilder("x"... or ("x", "-option"...
java_command='ProcessBuilder\(\s*"[^"]+"|\(\s*"[A-Za-z0-9_./+-]+"\s*,\s*"-'
mapfile -d '' files < <(find "$checkout" \( -name .git -o -name target \) -prune -o -type f \
    \( -name '*.sh' -o -name '*.java' -o -name pom.xml -o -path "$checkout/.ci/*" \) -print0 | sort -z)
for f in "${files[@]}"; do
    rel=${f#"$checkout"/}
    case "$f" in
        *.java)
            while read -r ln c; do need "$rel:$ln" "$c"; done < <(
                grep -nE "$java_command" "$f" | while IFS=: read -r ln text; do
                    grep -oE "$java_command" <<<"$text" | sed -E 's/^[^"]*"([^"]+)".*/\1/' |
                        while read -r c; do echo "$ln $c"; done
                done)
            ;;
        */pom.xml)
            while IFS=: read -r ln c; do
                case "$c" in *'${'*) continue ;; esac
                need "$rel:$ln" "$c"
            done < <(grep -noE '<executable>[^<]+</executable>' "$f" | sed -E 's#<executable>(.*)</executable>#\1#' || true)
            ;;
        *)
            case "$rel" in native-targets/bin/tools.sh|native-targets/bin/setup-host.sh|native-targets/bin/check-tools.sh) ;; *)
                while IFS=: read -r ln _; do
                    problem "$rel:$ln: checks a tool with command -v; use need_tools (native-targets/bin/tools.sh)"
                done < <(grep -nE '(^|[^[:alnum:]_])command +-v' "$f" || true)
            esac
            # need_tools a b \ (continued lines) c
            while IFS=$'\t' read -r ln words; do
                for c in $words; do
                    case "$c" in *'$'*|'\') continue ;; esac
                    c=${c//\"/}; c=${c//\'/}
                    need "$rel:$ln" "$c"
                done
            done < <(awk '
                cont { args = args " " $0; if ($0 !~ /\\$/) { print start "\t" args; cont = 0 }; next }
                $0 !~ /^[[:space:]]*#/ && match($0, /have_tool[[:space:]]+[^[:space:];)]+/) {
                    w = substr($0, RSTART, RLENGTH); sub(/^have_tool[[:space:]]+/, "", w); print NR "\t" w
                }
                /^[[:space:]]*need_tools[[:space:]]/ {
                    start = NR; args = $0; sub(/^[[:space:]]*need_tools[[:space:]]+/, "", args)
                    sub(/[[:space:]]*#.*/, "", args)
                    if ($0 ~ /\\$/) cont = 1; else print start "\t" args
                }' "$f")
            ;;
    esac
done

if [ "$problems" -ne 0 ]; then
    echo "check-tools: $problems problem(s); $list is what setup-host.sh installs" >&2
    exit 1
fi
echo "check-tools: ${#listed[@]} commands listed; $uses uses in ${#files[@]} files are all listed"
