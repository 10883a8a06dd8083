# lib.sh - helpers for the end-to-end tests (POSIX sh). Sourced by run.sh
# before each tests/e2e/t_*.sh, which runs in its own empty directory.
#
#   run CMD ARGS...                 run, keep exit code in $RC, output in ./out, ./err
#   expect_exit CODE NAME CMD...    run; pass when the exit code is CODE
#   expect_err TEXT NAME            pass when the last stderr contains TEXT
#   expect_out TEXT NAME            pass when the last stdout contains TEXT
#   expect_same FILE1 FILE2 NAME    pass when the files are byte-identical
#   expect_true NAME CMD...         pass when CMD succeeds (output discarded)
#   pass NAME / fail NAME WHY       record a result
#   skip NAME WHY                   record a case that was not run, and why
#
# $VMRP is the command under test (may be "valgrind ... vmrp"), $GENDISK the
# disk generator, $E2E_QUICK=1 asks for smaller inputs.

: "${VMRP:?VMRP must name the vmrp binary}"
: "${GENDISK:?GENDISK must name the gendisk binary}"
: "${RESULTS:?RESULTS must name the results file}"

vmrp() { $VMRP "$@"; }
gendisk() { "$GENDISK" "$@"; }

pass() { echo "pass $CASE_FILE: $1" >> "$RESULTS"; }
skip() { echo "skip $CASE_FILE: $1: $2" >> "$RESULTS"; }
fail() {
    echo "FAIL $CASE_FILE: $1: $2" >> "$RESULTS"
    echo "FAIL $CASE_FILE: $1: $2" >&2
    if [ -s err ]; then sed 's/^/    stderr: /' err | head -5 >&2; fi
}

run() {
    "$@" > out 2> err
    RC=$?
}

expect_exit() {
    code=$1 name=$2
    shift 2
    run "$@"
    if [ "$RC" -eq "$code" ]; then pass "$name"; else fail "$name" "exit $RC, expected $code"; fi
}

expect_err() {
    if grep -qF -- "$1" err; then pass "$2"; else fail "$2" "stderr lacks '$1'"; fi
}

expect_out() {
    if grep -qF -- "$1" out; then pass "$2"; else fail "$2" "stdout lacks '$1'"; fi
}

expect_same() {
    if cmp -s "$1" "$2"; then pass "$3"; else fail "$3" "$1 and $2 differ"; fi
}

expect_true() {
    name=$1
    shift
    if "$@" > /dev/null 2>&1; then pass "$name"; else fail "$name" "command failed: $*"; fi
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
