# t_faults.sh - crash safety: a pack whose Nth write or fsync fails, and a
# pack killed with SIGKILL at random moments, never lose or alter a commit.
# After each, the archive verifies and restores every earlier point exactly.

if [ -z "${FAULTINJECT:-}" ] || [ ! -f "$FAULTINJECT" ]; then
    skip "fault injection" "FAULTINJECT does not name the preload shim (build/faultinject.so)"
    return 0
fi
# The shim is preloaded into sanitizer builds too; it need not come first.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

faulty() { LD_PRELOAD=$FAULTINJECT "$@"; }

gendisk create d.img 1M
gendisk fill d.img 0 256K 21
gendisk text d.img 512K 128K 22
vmrp pack base.vmrp --block-size 4K --disk d=d.img --quiet 2> err || fail "base pack" "exit $?"
cp d.img p1.img
gendisk fill d.img 64K 64K 23
vmrp pack base.vmrp --disk d=d.img --quiet 2> err || fail "second pack" "exit $?"
cp d.img p2.img
gendisk fill d.img 300K 100K 24
gendisk zero d.img 0 8K
# many small data ranges between holes: each is its own batch and write
k=1
while [ $k -le 16 ]; do
    gendisk fill d.img $((640 + k * 20))K 4K $((30 + k))
    k=$((k + 1))
done

# How many writes and fsyncs does one append make?
cp base.vmrp probe.vmrp
: > counts
VMRP_FAULT_COUNT=$PWD/counts faulty $VMRP pack probe.vmrp --disk d=d.img --quiet 2> err
nwrites=$(tail -1 counts | cut -d' ' -f1)
nsyncs=$(tail -1 counts | cut -d' ' -f2)
if [ "${nwrites:-0}" -ge 3 ]; then pass "an append makes $nwrites writes and $nsyncs fsyncs"; else fail "counting writes" "got '$nwrites'"; fi

# checks_intact ARCHIVE WHAT: the archive equals base.vmrp, verifies, and
# restores both earlier points exactly
lost=0
intact() {
    if ! cmp -s "$1" base.vmrp; then
        lost=$((lost + 1))
        fail "$2: archive unchanged" "differs from the last commit's state"
        return
    fi
    if ! $VMRP verify "$1" --quiet > /dev/null 2>&1; then
        lost=$((lost + 1))
        fail "$2: archive verifies" "verify failed"
    fi
}

step=1
[ "${E2E_QUICK:-0}" = 1 ] && step=$(( (nwrites + 24) / 25 ))
tried=0
n=1
while [ "$n" -le "$nwrites" ]; do
    for e in ENOSPC EIO; do
        cp base.vmrp a.vmrp
        VMRP_FAULT_WRITE=$n VMRP_FAULT_ERRNO=$e faulty $VMRP pack a.vmrp --disk d=d.img --quiet > out 2> err
        rc=$?
        tried=$((tried + 1))
        if [ "$rc" -ne 3 ]; then fail "write $n fails with $e: exit 3" "exit $rc"; fi
        grep -q "a.vmrp" err || fail "write $n fails with $e: message names the archive" "$(head -1 err)"
        case $e in ENOSPC) why="No space left on device" ;; *) why="Input/output error" ;; esac
        grep -q "$why" err || fail "write $n fails with $e: message says '$why'" "$(head -1 err)"
        intact a.vmrp "write $n fails with $e"
    done
    n=$((n + step))
done
n=1
while [ "$n" -le "$nsyncs" ]; do
    cp base.vmrp a.vmrp
    VMRP_FAULT_FSYNC=$n faulty $VMRP pack a.vmrp --disk d=d.img --quiet > out 2> err
    rc=$?
    tried=$((tried + 1))
    if [ "$rc" -ne 3 ]; then fail "fsync $n fails: exit 3" "exit $rc"; fi
    intact a.vmrp "fsync $n fails"
    n=$((n + 1))
done
echo "t_faults: $tried injected write/fsync failures, $lost lost or altered commits" >&2
if [ "$lost" -eq 0 ] && [ "$tried" -gt 0 ]; then
    pass "$tried injected I/O failures: the archive stayed exactly at its last commit"
fi

# A new archive whose creation fails leaves no file behind.
VMRP_FAULT_WRITE=3 faulty $VMRP pack new.vmrp --disk d=d.img --quiet > out 2> err
if [ ! -e new.vmrp ]; then pass "a failed creation leaves no archive"; else fail "a failed creation leaves no archive" "new.vmrp exists"; fi

# SIGKILL at random moments of an append of a larger disk.
size=64M
[ "${E2E_QUICK:-0}" = 1 ] && size=16M
gendisk create big.img $size
gendisk fill big.img 0 $size 25
kills=0 torn=0 complete=0 klost=0
for delay in 0.05 0.1 0.15 0.2 0.3 0.4 0.5 0.7 1.0 1.5; do
    cp base.vmrp k.vmrp
    $VMRP pack k.vmrp --disk d=d.img --disk big=big.img --quiet > /dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2> /dev/null
    wait "$pid" 2> /dev/null
    kills=$((kills + 1))
    points=$($VMRP inspect k.vmrp --json 2> /dev/null | sed -n 's/.*"pointCount":\([0-9]*\).*/\1/p')
    case $points in
    2) ;;
    3) complete=$((complete + 1)) ;;
    *) klost=$((klost + 1)); fail "kill after ${delay}s: archive opens with 2 or 3 points" "got '$points'" ;;
    esac
    if ! $VMRP verify k.vmrp --quiet > /dev/null 2>&1; then
        torn=$((torn + 1))
        if ! $VMRP repair k.vmrp > out 2> err; then
            klost=$((klost + 1))
            fail "kill after ${delay}s: repair removes the torn tail" "$(head -1 err)"
        fi
    fi
    for p in 1 2; do
        rm -f r.img
        if ! $VMRP restore k.vmrp --point $p --disk d --output r.img --quiet > /dev/null 2>&1 ||
            ! cmp -s r.img p$p.img; then
            klost=$((klost + 1))
            fail "kill after ${delay}s: point $p restores exactly" "restore or compare failed"
        fi
    done
    if ! $VMRP verify k.vmrp --quiet > /dev/null 2>&1; then
        klost=$((klost + 1))
        fail "kill after ${delay}s: the archive verifies after repair" "verify failed"
    fi
done
echo "t_faults: $kills kills (SIGKILL): $torn left a torn tail, $complete had committed, $klost lost commits" >&2
if [ "$klost" -eq 0 ]; then pass "$kills SIGKILLs mid-append: no committed point lost"; fi
expect_exit 0 "a pack after a kill appends normally" vmrp pack k.vmrp --disk d=d.img --quiet

# A system without O_TMPFILE: the writer's index entries past 65,536 (a
# disk of 65,600 stored 4 KiB blocks) wait in a file made with mkostemp()
# and unlinked at once; the pack succeeds and leaves no file behind.
mkdir -p notmp/tmp
gendisk create notmp/big.img 262400K
gendisk fill notmp/big.img 0 262400K 41
: > counts
if TMPDIR=$PWD/notmp/tmp VMRP_FAULT_NO_TMPFILE=1 VMRP_FAULT_COUNT=$PWD/counts \
    faulty $VMRP pack notmp/big.vmrp --block-size 4K --disk b=notmp/big.img --quiet 2> err; then
    refused=$(tail -1 counts | cut -d' ' -f3)
    left=$(ls -A notmp/tmp; ls notmp | grep -v '^big\.\(img\|vmrp\)$' | grep -v '^tmp$')
    if [ "${refused:-0}" -ge 1 ] && [ -z "$left" ]; then
        pass "without O_TMPFILE ($refused refused) the pack falls back to a named file, removed at once"
    else
        fail "pack without O_TMPFILE" "refused '${refused:-}', left behind: $left"
    fi
    expect_exit 0 "the pack made without O_TMPFILE verifies" vmrp verify notmp/big.vmrp --quiet
    rm -f notmp/r.img
    if vmrp restore notmp/big.vmrp --disk b --output notmp/r.img --quiet > /dev/null 2>&1 &&
        cmp -s notmp/r.img notmp/big.img; then
        pass "the pack made without O_TMPFILE restores exactly"
    else
        fail "restore of the pack made without O_TMPFILE" "restore or compare failed"
    fi
else
    fail "pack without O_TMPFILE" "exit $?: $(head -1 err)"
fi
rm -rf notmp

# The order of an append's writes and fsyncs (format 8.1 steps 4 and 5): the
# COMMIT record (the last 256 bytes of the new file) is written only after
# an fsync of the archive that follows every write of the rest of the
# segment, and an fsync follows it. faultinject.so's VMRP_FAULT_TRACE logs
# each write and fsync with its offset and the file it went to.
# commit_order ARCHIVE TRACE FROM: "ok" or what is wrong, for the bytes from
# offset FROM (the size before the pack) to the end of ARCHIVE.
commit_order() {
    awk -v path="$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")" -v from="$3" \
        -v cm="$(($(wc -c < "$1") - 256))" '
    function bad(why) { if (problem == "") problem = why }
    {
        p = $0
        for (i = 1; i <= 5; i++) sub(/^[^ ]* /, "", p)
        if (p != path) next
        n++
        if ($1 == "write" || $1 == "pwrite") {
            off = $3 + 0; end = off + $5
            if ($5 != $4) bad("a short or failed " $1 " at offset " off)
            if (end <= cm) {
                if (commit_bytes) bad("segment bytes at offset " off " written after the commit")
                data += end - off; last_data = n
            } else if (off >= cm) {
                if (!commit_bytes && last_sync <= last_data)
                    bad("the commit is written with no fsync after the last write of its segment")
                commit_bytes += end - off; last_commit = n
            } else bad("one write at offset " off " holds segment and commit bytes")
        } else if ($1 == "fsync" || $1 == "fdatasync") {
            if ($5 != 0) bad($1 " failed")
            last_sync = n
        }
    }
    END {
        if (data != cm - from) bad("the segment writes cover " data + 0 " bytes, not " cm - from)
        if (commit_bytes != 256) bad("the commit writes cover " commit_bytes + 0 " bytes, not 256")
        else if (last_sync <= last_commit) bad("no fsync follows the commit write")
        print problem == "" ? "ok" : problem
    }' "$2"
}
cp base.vmrp order.vmrp
before=$(wc -c < order.vmrp)
: > trace
if VMRP_FAULT_TRACE=$PWD/trace faulty $VMRP pack order.vmrp --disk d=d.img --quiet 2> err; then
    verdict=$(commit_order order.vmrp trace "$before")
    if [ "$verdict" = ok ]; then
        pass "an append writes its commit after an fsync of the rest of its segment, then fsyncs it"
    else
        fail "order of an append's writes and fsyncs" "$verdict (trace: $(wc -l < trace) lines)"
    fi
else
    fail "traced append" "exit $?: $(head -1 err)"
fi
rm -f order.vmrp
: > trace
if VMRP_FAULT_TRACE=$PWD/trace faulty $VMRP pack order.vmrp --block-size 4K --disk d=d.img --quiet 2> err; then
    verdict=$(commit_order order.vmrp trace 0)
    if [ "$verdict" = ok ]; then
        pass "a new archive is written header and segment, fsync, commit, fsync"
    else
        fail "order of a creation's writes and fsyncs" "$verdict"
    fi
else
    fail "traced creation" "exit $?: $(head -1 err)"
fi
