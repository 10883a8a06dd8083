#!/bin/sh
# run.sh - run every tests/e2e/t_*.sh in a fresh temporary directory, print
# the cases skipped (and why) and the failures, then
# "e2e: N passed, M failed, K skipped". Exit 1 when anything failed.
# E2E_ONLY="t_a t_b" runs only those scripts (make check-e2e E2E_ONLY=t_a).
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d "${TMPDIR:-/tmp}/vmrp-e2e.XXXXXX")
# As root, a case runs a command as an unprivileged user (t_cli): that user
# may search the directory, not list it.
[ "$(id -u)" != 0 ] || chmod 711 "$root"
RESULTS="$root/results"
: > "$RESULTS"
export RESULTS VMRP GENDISK E2E_QUICK FAULTINJECT ENCVECTORS
export VMRP_FIXTURES="$here/../../fixtures"
for t in "$here"/t_*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    case " ${E2E_ONLY:-$name} " in *" $name "*) ;; *) continue ;; esac
    dir="$root/$name"
    mkdir -p "$dir"
    ( cd "$dir" && CASE_FILE=$name && . "$here/lib.sh" && . "$t" ) || \
        echo "FAIL $name: the test script itself stopped with an error" >> "$RESULTS"
done
passed=$(grep -c '^pass ' "$RESULTS")
failed=$(grep -c '^FAIL ' "$RESULTS")
skipped=$(grep -c '^skip ' "$RESULTS")
grep '^skip ' "$RESULTS"
grep '^FAIL ' "$RESULTS"
echo "e2e: $passed passed, $failed failed, $skipped skipped"
if [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; then
    rm -rf "$root"
    exit 0
fi
echo "(kept $root for inspection)"
exit 1
