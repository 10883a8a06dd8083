# t_restore_interrupted.sh - a restore ended by a signal (Ctrl-C, kill, a
# closed terminal) leaves nothing behind: no half-written file under any
# name, temporary or final.

size=64M
[ "${E2E_QUICK:-0}" = 1 ] && size=32M
gendisk create big.img $size
gendisk fill big.img 0 $size 101
vmrp pack a.vmrp --disk big=big.img --quiet 2> err || fail "pack" "exit $?"

# interrupt SIG HOW: start a restore, stop it once its temporary file
# exists, send SIG, let it go on, and report what is left
interrupt() {
    sig=$1
    shift
    rm -rf out.d
    mkdir out.d
    $VMRP restore a.vmrp "$@" --quiet > /dev/null 2> err &
    pid=$!
    n=0
    while [ $n -lt 2000 ] && ! ls -A out.d | grep -q vmrp-tmp; do
        kill -0 $pid 2> /dev/null || break
        n=$((n + 1))
    done
    kill -STOP $pid 2> /dev/null
    caught=$(ls -A out.d | grep -c vmrp-tmp)
    kill -$sig $pid 2> /dev/null
    kill -CONT $pid 2> /dev/null
    wait $pid
    RC=$?
}

# (SIGINT cannot be sent to a background job of a script: it ignores it)
for sig in TERM HUP; do
    tries=0
    caught=0
    while [ $tries -lt 5 ] && [ "$caught" = 0 ]; do
        interrupt $sig --disk big --output out.d/r.img
        tries=$((tries + 1))
    done
    if [ "$caught" = 0 ]; then
        skip "SIG$sig during a restore" "the restore finished before its temporary file was seen"
        continue
    fi
    left=$(ls -A out.d)
    if [ -z "$left" ] && [ $RC -gt 128 ]; then
        pass "SIG$sig during a disk restore: nothing left behind (exit $RC)"
    else
        fail "SIG$sig during a disk restore" "exit $RC, left: $left"
    fi
done
tries=0
caught=0
while [ $tries -lt 5 ] && [ "$caught" = 0 ]; do
    interrupt TERM --output out.d/vm.tar
    tries=$((tries + 1))
done
if [ "$caught" = 0 ]; then
    skip "SIGTERM during a tar restore" "it finished before its temporary file was seen"
elif [ -z "$(ls -A out.d)" ]; then
    pass "SIGTERM during a tar restore: nothing left behind"
else
    fail "SIGTERM during a tar restore" "left: $(ls -A out.d)"
fi
expect_exit 0 "a restore after them succeeds" vmrp restore a.vmrp --disk big --output out.d/r.img --quiet
expect_same out.d/r.img big.img "and is exact"
