#!/usr/bin/env bash
# Checks that the server's modules stand in layers (docs/architecture.md, "Inside the server"):
# a file of sync-server/src names, in code, only modules of a lower layer (or its own module's
# files), so no import can run in a circle. Prints each path that reaches up or around, and
# exits 1 if there is one. Names through the crate root's re-exports (`crate::Storage`) are
# reported too: they hide which layer is used. The binary (main.rs, operator/) uses the library
# by its public paths and stands on top.
set -euo pipefail
cd "$(dirname "$0")/../sync-server/src"

layer() {
    case "$1" in
        error | metrics | rows) echo 0 ;;
        token | ratelimit) echo 1 ;;
        options | policy) echo 2 ;;
        storage) echo 3 ;;
        audit) echo 4 ;;
        flow) echo 5 ;;
        access | routing) echo 6 ;;
        enrol | reports | sync) echo 7 ;;
        http) echo 8 ;;
        *) echo "" ;;
    esac
}

status=0
while IFS= read -r file; do
    module=${file#./}
    module=${module%%/*}
    module=${module%.rs}
    mine=$(layer "$module")
    if [ -z "$mine" ]; then
        echo "$file: module $module has no layer in $0"
        status=1
        continue
    fi
    code=$(sed 's://.*$::' "$file")
    for used in $(grep -oE 'crate::[a-z_]+' <<<"$code" | cut -d: -f3 | sort -u); do
        theirs=$(layer "$used")
        if [ "$used" != "$module" ] && [ -n "$theirs" ] && [ "$theirs" -ge "$mine" ]; then
            echo "$file (layer $mine) names crate::$used (layer $theirs)"
            status=1
        fi
    done
    if grep -qE 'crate::[A-Z]' <<<"$code"; then
        echo "$file names an item through the crate root (crate::$(grep -oE 'crate::[A-Z][A-Za-z]*' <<<"$code" | head -1 | cut -d: -f3))"
        status=1
    fi
done < <(find . -name '*.rs' ! -name lib.rs ! -name main.rs ! -path './operator/*' | sort)
exit $status
