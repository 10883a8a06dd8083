#!/bin/sh
# run.sh - a fuzzing campaign over every libvmrp target, then the regressions.
#
#   sh tests/fuzz/run.sh SECONDS [TARGET ...]
#
# 1. builds the targets (tests/fuzz/build.sh; only what changed),
# 2. makes the seed corpora (tests/fuzz/make-corpus.sh),
# 3. runs each fuzz target for SECONDS seconds, PARALLEL (default 2) at a
#    time, with -timeout=10 -rss_limit_mb=2048 (and -max_len=1048576 for the
#    archive targets); new inputs go to build/fuzz/work/TARGET, findings to
#    build/fuzz/artifacts/TARGET/, logs to build/fuzz/logs/TARGET.log,
# 4. replays tests/fuzz/regress/TARGET/* with build/fuzz/TARGET-regress.
#
# Prints the executions of each target (libFuzzer's final stats) and exits
# non-zero if any fuzzer found something or any regression input fails.
#
# VMRP_FUZZ_SKIP=name,... lets the fuzzers step over known, reported findings
# (see README.md); it never applies to the regression replay (nor do
# ASAN_OPTIONS / LSAN_OPTIONS given by the caller). SECONDS=0 skips fuzzing
# and only replays the regressions. VMRP_FUZZ_OUT=DIR (default build/fuzz)
# and VMRP_FUZZ_B=DIR (default build/fz, the vmrp build of make-corpus.sh)
# keep a campaign's files apart from another one's.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

secs=${1:-}
case "$secs" in
'' | *[!0-9]*)
    echo "usage: sh tests/fuzz/run.sh SECONDS [TARGET ...]" >&2
    exit 2
    ;;
esac
shift
TARGETS=${*:-"fuzz_open fuzz_verify fuzz_json fuzz_point fuzz_append fuzz_keys fuzz_bundle fuzz_keyslots"}
PARALLEL=${PARALLEL:-2}
OUT=${VMRP_FUZZ_OUT:-build/fuzz}
status=0

sh tests/fuzz/build.sh $TARGETS || exit 1
mkdir -p "$OUT/logs"
if [ "$secs" -gt 0 ]; then
    sh tests/fuzz/make-corpus.sh || exit 1
fi

tmp_before=$(ls -d /tmp/vmrp-fuzz-append.* 2>/dev/null)

run_target() {
    t=$1
    mkdir -p "$OUT/work/$t" "$OUT/artifacts/$t" "$OUT/logs"
    flags="-max_total_time=$secs -timeout=10 -rss_limit_mb=2048 -print_final_stats=1"
    case $t in
    fuzz_json) flags="$flags -dict=tests/fuzz/json.dict" ;;
    fuzz_point) flags="$flags -max_len=65536" ;;
    fuzz_keys) flags="$flags -max_len=4096" ;;
    fuzz_keyslots) flags="$flags -max_len=8393" ;; # options byte + 64 key slots
    fuzz_bundle) flags="$flags -max_len=262144" ;;
    *) flags="$flags -max_len=1048576 -dict=tests/fuzz/vmrp.dict" ;;
    esac
    # shellcheck disable=SC2086
    "$OUT/$t" $flags -artifact_prefix="$OUT/artifacts/$t/" \
        "$OUT/work/$t" "$OUT/corpus/$t" > "$OUT/logs/$t.log" 2>&1
    echo $? > "$OUT/logs/$t.rc"
}

if [ "$secs" -gt 0 ]; then
    running=0
    pids=""
    for t in $TARGETS; do
        echo "fuzzing $t for $secs s (log $OUT/logs/$t.log)"
        run_target "$t" &
        pids="$pids $!"
        running=$((running + 1))
        if [ "$running" -ge "$PARALLEL" ]; then
            for p in $pids; do wait "$p"; done
            pids=""
            running=0
        fi
    done
    for p in $pids; do wait "$p"; done

    printf '\n%-12s %10s %8s %s\n' target executions exec/s result
    for t in $TARGETS; do
        log=$OUT/logs/$t.log
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
        rc=$(cat "$OUT/logs/$t.rc" 2>/dev/null || echo 1)
        found=$(ls "$OUT/artifacts/$t" 2>/dev/null | grep -E '^(crash|leak|timeout|oom|slow-unit)-' | wc -l)
        result=ok
        if [ "$rc" != 0 ] || [ "$found" -gt 0 ]; then
            result="FOUND (exit $rc, $found artifact(s) in $OUT/artifacts/$t/)"
            status=1
            grep -m1 -E '^(==[0-9]+==ERROR|FUZZ_CHECK failed|SUMMARY)' "$log" | sed 's/^/    /'
        fi
        printf '%-12s %10s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" "$result"
    done
fi

# Regression inputs: replayed without libFuzzer and without skips, one
# process per input, so that every input reports.
echo
for t in $TARGETS; do
    dir=tests/fuzz/regress/$t
    [ -d "$dir" ] || continue
    pass=0
    fail=0
    : > "$OUT/logs/$t-regress.log"
    for f in "$dir"/*; do
        [ -f "$f" ] || continue
        if ASAN_OPTIONS=max_allocation_size_mb=2048:allocator_may_return_null=0:hard_rss_limit_mb=2048 \
            LSAN_OPTIONS= VMRP_FUZZ_SKIP= "$OUT/$t-regress" "$f" > "$OUT/logs/.one.log" 2>&1; then
            pass=$((pass + 1))
        else
            fail=$((fail + 1))
            echo "regress $t: FAIL $f"
            grep -m1 -E '^(==[0-9]+==(ERROR|AddressSanitizer)|FUZZ_CHECK failed)' "$OUT/logs/.one.log" |
                sed 's/^/    /'
            grep -m1 -A1 'FUZZ_CHECK failed' "$OUT/logs/.one.log" | tail -1 | sed 's/^ */    /'
        fi
        cat "$OUT/logs/.one.log" >> "$OUT/logs/$t-regress.log"
    done
    rm -f "$OUT/logs/.one.log"
    [ $((pass + fail)) -gt 0 ] || continue
    echo "regress $t: $pass passed, $fail failed (log $OUT/logs/$t-regress.log)"
    [ "$fail" -eq 0 ] || status=1
done

# Private directories of fuzz_append processes that aborted.
for d in /tmp/vmrp-fuzz-append.*; do
    [ -d "$d" ] || continue
    case "$tmp_before" in *"$d"*) continue ;; esac
    rm -rf "$d"
done
exit $status
