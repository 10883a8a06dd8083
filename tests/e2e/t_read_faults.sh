# t_read_faults.sh - a read of the archive that fails is an I/O error, never
# a verdict on the archive: every command exits 3 naming the archive and the
# OS error, or succeeds with the right answer; nothing is removed from an
# archive that could not be read whole. Short reads and EINTR, which the
# kernel may answer at any time, change nothing at all.

if [ -z "${FAULTINJECT:-}" ] || [ ! -f "$FAULTINJECT" ]; then
    skip "read faults" "FAULTINJECT not set"
    return 0
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

# readfault MODE AT CMD...: run CMD with the reads of a.vmrp that touch AT
# (OFF[+LEN], OFF < 0 from the end) going wrong as MODE says
readfault() {
    mode=$1 at=$2
    shift 2
    LD_PRELOAD=$FAULTINJECT VMRP_FAULT_READ_FILE=$PWD/a.vmrp VMRP_FAULT_READ_AT=$at \
        VMRP_FAULT_READ=$mode "$@" > out 2> err
    RC=$?
}

gendisk create d.img 2M
gendisk fill d.img 0 512K 61
gendisk text d.img 1M 256K 62
vmrp pack a.vmrp --block-size 4K --disk d=d.img --quiet 2> err || fail "first pack" "exit $?"
cp d.img p1.img
gendisk fill d.img 64K 128K 63
vmrp pack a.vmrp --disk d=d.img --quiet 2> err || fail "second pack" "exit $?"
cp d.img p2.img
gendisk fill d.img 1536K 64K 64
cp a.vmrp orig.vmrp
size=$(wc -c < a.vmrp)
vmrp inspect a.vmrp --json > inspect.want 2> err || fail "inspect without faults" "exit $?"
grep -q '"pointCount":2' inspect.want || fail "the archive has 2 points" "$(head -c 200 inspect.want)"
# the last commit record is the last 256 bytes or fewer: take it from the trailer
commit_at=$((size - 200))

# check_outcome WHAT CMD: after a command that ran with read errors, it
# either failed as an I/O error naming the archive and left it as it was,
# or succeeded with a right answer. $must3=1 asks for the failure.
check_outcome() {
    what=$1 cmd=$2
    case $RC in
    3)
        grep -q "a.vmrp" err && grep -q "Input/output error" err ||
            fail "$what: $cmd: the message names the archive and the OS error" "$(head -1 err)"
        if cmp -s a.vmrp orig.vmrp; then pass "$what: $cmd: exit 3, archive unchanged"; else
            fail "$what: $cmd: archive unchanged" "it differs"
        fi
        ;;
    0)
        if [ "$must3" = 1 ]; then
            fail "$what: $cmd: exit 3" "exit 0: $(head -c 200 out)"
            cp orig.vmrp a.vmrp
            return
        fi
        case $cmd in
        pack)
            if cmp -s -n "$size" a.vmrp orig.vmrp && vmrp verify a.vmrp --quiet > /dev/null 2>&1; then
                pass "$what: pack appended, committed bytes unchanged, verifies"
            else
                fail "$what: pack" "exit 0 but the committed bytes changed or it does not verify"
            fi
            ;;
        inspect)
            if cmp -s out inspect.want; then pass "$what: inspect lists every point"; else
                fail "$what: inspect" "exit 0 with another listing: $(head -c 200 out)"
            fi
            ;;
        restore*)
            p=${cmd#restore}
            if cmp -s r.img "p$p.img"; then pass "$what: restore of point $p is exact"; else
                fail "$what: restore of point $p" "exit 0 with other bytes"
            fi
            ;;
        *)
            if cmp -s a.vmrp orig.vmrp; then pass "$what: $cmd exit 0, archive unchanged"; else
                fail "$what: $cmd" "exit 0 and the archive changed"
            fi
            ;;
        esac
        ;;
    *) fail "$what: $cmd: exit 0 or 3" "exit $RC: $(head -1 err)" ;;
    esac
    cp orig.vmrp a.vmrp
}

# every command, with EIO on the bytes of AT
eio_everywhere() {
    what=$1 at=$2 must3=$3
    readfault EIO "$at" $VMRP pack a.vmrp --disk d=d.img --quiet
    check_outcome "$what" pack
    readfault EIO "$at" $VMRP repair a.vmrp
    check_outcome "$what" repair
    readfault EIO "$at" $VMRP inspect a.vmrp --json
    check_outcome "$what" inspect
    readfault EIO "$at" $VMRP verify a.vmrp
    some=$must3
    must3=1 # verify reads every byte
    check_outcome "$what" verify
    must3=$some
    for p in 1 2; do
        rm -f r.img
        readfault EIO "$at" $VMRP restore a.vmrp --point $p --disk d --output r.img --quiet
        [ "$RC" = 3 ] && [ -e r.img ] && fail "$what: a failed restore leaves no output" "r.img exists"
        check_outcome "$what" "restore$p"
    done
}

# Where the reader finds everything: the header, the last commit, its
# trailer, and the whole second half (the reader then scans for a head).
eio_everywhere "EIO in the file header" 0+128 1
eio_everywhere "EIO in the last commit" "$commit_at+8" 1
eio_everywhere "EIO in the last 8 bytes" -8+8 1
eio_everywhere "EIO on the second half" "$((size / 2))+$size" 1
# In the middle, a block of point 1: only what reads it fails.
eio_everywhere "EIO in a block of point 1" "$((size / 4))+4096" 0

# Short reads and EINTR all over the file: the same results as without.
for mode in SHORT EINTR; do
    readfault $mode 0+$size $VMRP inspect a.vmrp --json
    if [ "$RC" = 0 ] && cmp -s out inspect.want; then pass "$mode reads: inspect as without"; else
        fail "$mode reads: inspect" "exit $RC: $(head -1 err)"
    fi
    readfault $mode 0+$size $VMRP verify a.vmrp --quiet
    if [ "$RC" = 0 ]; then pass "$mode reads: verify passes"; else
        fail "$mode reads: verify passes" "exit $RC: $(head -1 err)"
    fi
    for p in 1 2; do
        rm -f r.img
        readfault $mode 0+$size $VMRP restore a.vmrp --point $p --disk d --output r.img --quiet
        if [ "$RC" = 0 ] && cmp -s r.img p$p.img; then pass "$mode reads: point $p restores exactly"
        else fail "$mode reads: point $p restores exactly" "exit $RC: $(head -1 err)"; fi
    done
    readfault $mode 0+$size $VMRP pack a.vmrp --disk d=d.img --quiet
    if [ "$RC" = 0 ] && cmp -s -n "$size" a.vmrp orig.vmrp && vmrp verify a.vmrp --quiet 2> /dev/null
    then pass "$mode reads: an append succeeds and verifies"
    else fail "$mode reads: an append" "exit $RC: $(head -1 err)"; fi
    cp orig.vmrp a.vmrp
done

# A torn tail that cannot be read whole is not removed: repair and pack
# fail with an I/O error and leave every byte in place. Once it reads, both
# remove it.
# where point 2's INDEX lies: its commit's Index_Offset (payload offset 24)
index2=$(od -An -t u8 -j $((size - 256 + 16 + 24)) -N 8 a.vmrp | tr -d ' ')
gendisk create big.img 8M
gendisk fill big.img 0 8M 65
vmrp pack a.vmrp --disk d=d.img --disk big=big.img --quiet 2> err || fail "third pack" "exit $?"
full=$(wc -c < a.vmrp)
head -c $((size + (full - size) / 2)) a.vmrp > torn.vmrp
cp torn.vmrp a.vmrp
cp torn.vmrp orig.vmrp
tsize=$(wc -c < torn.vmrp)
# one byte, in the payload of a record of the tail: only a reader that reads
# the tail whole before it removes it meets the error
at=$(( (size + tsize) / 2 ))+1
must3=1
readfault EIO "$at" $VMRP repair a.vmrp
check_outcome "EIO inside a torn tail" repair
readfault EIO "$at" $VMRP pack a.vmrp --disk d=d.img --quiet
check_outcome "EIO inside a torn tail" pack
must3=0
vmrp inspect a.vmrp --json > inspect.want 2> /dev/null
readfault EIO "$at" $VMRP inspect a.vmrp --json
check_outcome "EIO inside a torn tail" inspect
# The trailer is no commit, so the reader scans for the last one: a read
# error on the way (here in point 2's INDEX) is not the end of the committed
# part: that took the archive for one of a single point, with damage after.
must3=1
for cmd in "pack a.vmrp --disk d=d.img --quiet" "repair a.vmrp" "inspect a.vmrp --json" \
    "restore a.vmrp --point 2 --disk d --output r.img"; do
    rm -f r.img
    readfault EIO "$((index2 + 32))+1" $VMRP $cmd
    check_outcome "EIO in point 2's index before a torn tail" "${cmd%% *}"
done
expect_exit 0 "without the fault, repair removes the torn tail" vmrp repair a.vmrp
if [ "$(wc -c < a.vmrp)" = "$size" ]; then pass "repair cut back to the last commit"; else
    fail "repair cut back to the last commit" "$(wc -c < a.vmrp) bytes, expected $size"
fi

# An archive whose header cannot be read is not a new archive: pack's
# choice between creating and appending is an I/O error too, before any
# option is judged against it.
cp torn.vmrp a.vmrp
readfault EIO 0+128 $VMRP pack a.vmrp --disk d=d.img --identity no-such.key --quiet
if [ "$RC" = 3 ] && grep -q "Input/output error" err && cmp -s a.vmrp torn.vmrp; then
    pass "EIO in the header: pack with --identity is an I/O error, not a usage error"
else
    fail "EIO in the header: pack with --identity" "exit $RC: $(head -1 err)"
fi
