# t_append_in_progress.sh - verify while another writer appends: the bytes
# after the last commit are an append in progress, not damage, so verify
# checks what is committed and exits 0 (5 while no point is committed yet);
# without a writer holding the lock the same bytes are still reported as an
# interrupted append. Verifying never turns a concurrent pack away.

if ! command -v flock > /dev/null 2>&1; then
    skip "append in progress" "flock(1) is missing"
    return 0
fi

gendisk create d.img 1M
gendisk fill d.img 0 256K 71
vmrp pack a.vmrp --block-size 4K --disk d=d.img --quiet 2> err || fail "first pack" "exit $?"
committed=$(wc -c < a.vmrp)
gendisk fill d.img 512K 256K 72
vmrp pack full.vmrp --block-size 4K --disk d=d.img --quiet 2> err || fail "other pack" "exit $?"
cp a.vmrp b.vmrp
vmrp pack b.vmrp --disk d=d.img --quiet 2> err || fail "second pack" "exit $?"
# a.vmrp plus half of the second point's segment: what a writer leaves
# behind mid-append
head -c $((committed + ($(wc -c < b.vmrp) - committed) / 2)) b.vmrp > torn.vmrp
torn=$(( $(wc -c < torn.vmrp) - committed ))

expect_exit 1 "an interrupted append is reported when no writer holds the lock" \
    vmrp verify torn.vmrp
expect_err "interrupted" "the message says interrupted append"

# hold_lock FILE: a writer holding FILE's lock, as pack does, on its own
# open file (flock(1)), until the end of the script; waits until it holds it
holders=
hold_lock() {
    flock -x "$1" sleep 30 &
    holders="$holders $!"
    n=0
    while [ $n -lt 100 ] && flock -n -s "$1" true; do sleep 0.05; n=$((n + 1)); done
}

hold_lock torn.vmrp
expect_exit 0 "verify while a writer appends: exit 0" vmrp verify torn.vmrp
expect_out "append: in progress" "verify says an append is in progress"
expect_out "1 restore point" "verify counts the committed point only"
expect_exit 0 "verify --json while a writer appends" vmrp verify torn.vmrp --json
expect_out '"appendInProgress":true' "the JSON says appendInProgress"
expect_out "\"uncommittedBytes\":$torn" "the JSON gives the uncommitted bytes"
expect_out '"ok":true' "the JSON says ok"
# the committed part is still checked: damage before the tail is found
cp torn.vmrp bad.vmrp
printf 'X' | dd of=bad.vmrp bs=1 seek=300 conv=notrunc 2> /dev/null
hold_lock bad.vmrp
expect_exit 1 "damage before an append in progress is still reported" vmrp verify bad.vmrp
# the first point being written: nothing committed yet
head -c 2000 full.vmrp > new.vmrp
hold_lock new.vmrp
expect_exit 5 "verify while the first point is written: exit 5" vmrp verify new.vmrp
expect_err "no point is committed yet" "the message says nothing is committed yet"
kill $holders 2> /dev/null
wait $holders 2> /dev/null

# A real pack and verifies running side by side: every verify exits 0 and
# the pack is never turned away by them.
gendisk create big.img 48M
gendisk fill big.img 0 48M 73
vmrp pack a.vmrp --disk d=d.img --disk big=big.img --quiet > /dev/null 2> packerr &
packer=$!
bad=0 runs=0 seen=0
while kill -0 $packer 2> /dev/null && [ $runs -lt 200 ]; do
    vmrp verify a.vmrp > vout 2> verr
    rc=$?
    runs=$((runs + 1))
    grep -q "append: in progress" vout && seen=$((seen + 1))
    if [ $rc -ne 0 ]; then
        bad=$((bad + 1))
        fail "verify during a pack: exit 0" "exit $rc: $(head -1 verr)"
        break
    fi
done
wait $packer
prc=$?
if [ $prc -eq 0 ]; then pass "the pack beside $runs verifies succeeded"; else
    fail "the pack beside the verifies" "exit $prc: $(head -1 packerr)"
fi
[ $bad -eq 0 ] && pass "$runs verifies during a pack exited 0 ($seen saw the append in progress)"
expect_exit 0 "the archive verifies after the pack" vmrp verify a.vmrp
