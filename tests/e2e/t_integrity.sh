# t_integrity.sh - damage is detected, torn appends are invisible and
# recovered, the writer lock and the point limit hold, and archives stream
# through pipes.

A=a.vmrp

# recs FILE: one line "offset type stored_size" per record after the header
recs() {
    rc_file=$1 rc_off=128
    rc_size=$(stat -c %s "$rc_file")
    while [ $((rc_off + 16)) -le "$rc_size" ]; do
        # shellcheck disable=SC2046
        set -- $(od -An -tu1 -j "$rc_off" -N 16 "$rc_file")
        [ "$1 $2 $3 $4" = "86 82 101 99" ] || { echo "recs: no record at $rc_off" >&2; return 1; }
        rc_len=$(($9 + ${10} * 256 + ${11} * 65536 + ${12} * 16777216))
        echo "$rc_off $5 $rc_len"
        rc_off=$((rc_off + 16 + rc_len))
    done
}

# flip FILE OFFSET: invert every bit of one byte
flip() {
    fl_v=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
    # shellcheck disable=SC2059
    printf "\\$(printf %03o $((255 - fl_v)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

no_temp_files() {
    if ls -A | grep -q 'vmrp-tmp'; then fail "$1" "left $(ls -A | grep vmrp-tmp | tr '\n' ' ')"
    else pass "$1"; fi
}


# ---- a three-point archive ----------------------------------------------------
gendisk create d.img 1M
gendisk fill d.img 0 256K 11
gendisk text d.img 512K 128K 12
gendisk create e.img 640K
gendisk fill e.img 128K 200K 13
expect_exit 0 "pack point 1" vmrp pack $A --disk d=d.img --disk e=e.img
cp d.img d.1 && cp e.img e.1
gendisk fill d.img 256K 64K 21
gendisk text e.img 0 50K 22
expect_exit 0 "pack point 2" vmrp pack $A --disk d=d.img --disk e=e.img --name second
cp d.img d.2 && cp e.img e.2
gendisk fill d.img 700K 100K 31
gendisk zero e.img 128K 64K
expect_exit 0 "pack point 3" vmrp pack $A --disk d=d.img --disk e=e.img
cp d.img d.3 && cp e.img e.3
expect_exit 0 "verify the undamaged archive" vmrp verify $A
expect_exit 0 "verify --json of the undamaged archive" vmrp verify $A --json
expect_out '"ok":true' "verify --json says ok:true"
expect_out '"error":null' "verify --json has error:null"
cp $A good.vmrp
SIZE=$(stat -c %s $A)
recs $A > recs.txt
if [ "$(awk '$2 == 6' recs.txt | wc -l)" -eq 3 ] && \
   [ "$(tail -1 recs.txt | cut -d' ' -f1)" -eq $((SIZE - 256)) ]; then
    pass "the archive is three segments ending in a commit"
else
    fail "the archive is three segments ending in a commit" "$(tr '\n' ';' < recs.txt)"
fi
COMMIT1=$(awk '$2 == 6 {print $1}' recs.txt | sed -n 1p)
COMMIT2=$(awk '$2 == 6 {print $1}' recs.txt | sed -n 2p)
SEG3=$((COMMIT2 + 256))
FIRST_BLOCK=$(awk '$2 == 1 {print $1; exit}' recs.txt)
FIRST_BLOCK_LEN=$(awk '$2 == 1 {print $3; exit}' recs.txt)

# ---- one flipped byte anywhere is found ------------------------------------------
check_flip() {
    cf_off=$1 cf_what=$2
    cp good.vmrp c.vmrp
    flip c.vmrp "$cf_off"
    expect_exit 1 "flipped byte in $cf_what (offset $cf_off): verify fails" vmrp verify c.vmrp
    expect_err "offset" "flipped byte in $cf_what: message gives an offset"
}
check_flip 40 "the file header (Collection_Id)"
check_flip 3 "the file magic"
check_flip $((FIRST_BLOCK + 16 + FIRST_BLOCK_LEN / 2)) "a block record's payload"
check_flip $((FIRST_BLOCK + 10)) "a block record's header"
check_flip $((SIZE - 100)) "the last commit"
check_flip $((SIZE / 2)) "the middle of the archive"
check_flip $((COMMIT1 + 200)) "the first commit"
# --quick: every byte against the hashes, blocks not decoded
expect_exit 0 "verify --quick of the undamaged archive" vmrp verify $A --quick
expect_out "blocks not decoded" "verify --quick says the blocks were not decoded"
expect_exit 0 "verify --quick --json" vmrp verify $A --quick --json
expect_out '"contentChecked":false' "verify --quick --json reports contentChecked false"
cp good.vmrp c.vmrp
flip c.vmrp $((FIRST_BLOCK + 16 + FIRST_BLOCK_LEN / 2))
expect_exit 1 "flipped byte in a block record: verify --quick fails" vmrp verify c.vmrp --quick
expect_err "offset $FIRST_BLOCK: record does not match its index entry" \
    "verify --quick names the block record's offset"
# every record of one segment (quick: one per record type), in its middle
if [ "${E2E_QUICK:-0}" = 1 ]; then
    awk -v a="$COMMIT1" -v b="$COMMIT2" '$1 > a && $1 <= b && !seen[$2]++' recs.txt > sweep.txt
else
    awk -v a="$COMMIT1" -v b="$COMMIT2" '$1 > a && $1 <= b' recs.txt > sweep.txt
fi
while read -r s_off s_type s_len; do
    cp good.vmrp c.vmrp
    flip c.vmrp $((s_off + 16 + s_len / 2))
    expect_exit 1 "flipped byte in the record of type $s_type at $s_off: verify fails" vmrp verify c.vmrp
done < sweep.txt

cp good.vmrp c.vmrp
flip c.vmrp $((SIZE / 2))
expect_exit 1 "verify --json of a damaged archive" vmrp verify c.vmrp --json
expect_out '"ok":false' "verify --json says ok:false"
expect_out '"error":{"code":-6,"exit":1,"message":' "verify --json gives an error object with its code and exit status"
expect_out '"offset":' "verify --json error has an offset"

# A damaged block fails the restore of a disk that uses it, and only that.
cp good.vmrp c.vmrp
flip c.vmrp $((FIRST_BLOCK + 16 + FIRST_BLOCK_LEN / 2))
expect_exit 1 "restore of a disk whose block is damaged fails" vmrp restore c.vmrp --disk d --output out.img
expect_err "offset" "damaged block: message gives the offset"
if [ -e out.img ]; then fail "damaged block: no output file" "out.img exists"; else pass "damaged block: no output file"; fi
no_temp_files "damaged block: no temporary file left"
expect_exit 1 "restore of point 1 with the damaged block fails" vmrp restore c.vmrp --point 1 --disk d --output out.img
expect_exit 1 "whole-VM restore with the damaged block fails" vmrp restore c.vmrp --output vmdir
if [ -e vmdir/disks/d.img ]; then fail "damaged block: no disk image in the VM dir" "vmdir/disks/d.img exists"
else pass "damaged block: no disk image in the VM dir"; fi
(cd vmdir 2>/dev/null && no_temp_files "damaged block: no temporary file in the VM dir")
expect_exit 1 "restore of the damaged disk to stdout fails" vmrp restore c.vmrp --disk d --output -
expect_exit 0 "restore of the other disk still works" vmrp restore c.vmrp --disk e --output e-out.img
expect_same e-out.img e.3 "the other disk is intact"

# ---- truncation ------------------------------------------------------------------
for cut in $((128 + 1000)) $((SEG3 + (SIZE - SEG3) / 2)) $((SIZE - 1)) $((SIZE - 256)) $((SEG3 + 7)); do
    head -c $cut good.vmrp > t.vmrp
    expect_exit 1 "truncated at $cut of $SIZE: verify fails" vmrp verify t.vmrp
    expect_err "offset" "truncated at $cut: message gives an offset"
done

# A torn last append is invisible: the earlier points still read, and the
# next pack removes the tail. Torn inside a block record, just before the
# commit, and inside the commit.
torn_case() {
    tc_cut=$1 tc_what=$2
    head -c "$tc_cut" good.vmrp > t.vmrp
    expect_exit 0 "torn $tc_what: inspect opens the archive" vmrp inspect t.vmrp --json
    expect_out '"pointCount":2' "torn $tc_what: inspect shows two points"
    if grep -q '"sequence":3' out; then fail "torn $tc_what: point 3 is invisible" "sequence 3 listed"
    else pass "torn $tc_what: point 3 is invisible"; fi
    expect_out "\"uncommittedTailBytes\":$((tc_cut - SEG3))" "torn $tc_what: inspect counts the tail bytes"
    expect_exit 0 "torn $tc_what: inspect (text)" vmrp inspect t.vmrp
    expect_out "interrupted append" "torn $tc_what: inspect warns about the interrupted append"
    expect_exit 3 "torn $tc_what: point 3 cannot be restored" vmrp restore t.vmrp --point 3 --disk d --output x.img
    for tc_n in 1 2; do
        for tc_d in d e; do
            rm -f x.img
            expect_exit 0 "torn $tc_what: restore point $tc_n disk $tc_d" \
                vmrp restore t.vmrp --point $tc_n --disk $tc_d --output x.img
            expect_same x.img $tc_d.$tc_n "torn $tc_what: point $tc_n disk $tc_d is exact"
        done
    done
    expect_exit 1 "torn $tc_what: verify reports it" vmrp verify t.vmrp
    expect_err "offset" "torn $tc_what: verify gives an offset"
    expect_exit 0 "torn $tc_what: the next pack succeeds" \
        vmrp pack t.vmrp --disk d=d.img --disk e=e.img --name after-tear
    expect_err "removed $((tc_cut - SEG3)) bytes of an interrupted append" \
        "torn $tc_what: pack reports the removed bytes"
    expect_exit 0 "torn $tc_what: verify after the recovering pack" vmrp verify t.vmrp
    expect_out "OK: 3 restore point" "torn $tc_what: recovered archive holds three points"
    rm -f x.img
    expect_exit 0 "torn $tc_what: restore the point written after the tear" \
        vmrp restore t.vmrp --point after-tear --disk d --output x.img
    expect_same x.img d.3 "torn $tc_what: point written after the tear is exact"
    rm -f x.img
    expect_exit 0 "torn $tc_what: restore point 1 after the tear" vmrp restore t.vmrp --point 1 --disk e --output x.img
    expect_same x.img e.1 "torn $tc_what: point 1 after the tear is exact"
}
torn_case $((SEG3 + (SIZE - SEG3) / 2)) "inside the last segment"
if [ "${E2E_QUICK:-0}" != 1 ]; then
    torn_case $((SIZE - 256)) "before the last commit"
    torn_case $((SIZE - 1)) "one byte short"
else
    skip "torn before the last commit, torn one byte short" "E2E_QUICK=1"
fi

# Damage to the last commit is not an interrupted append: pack refuses to
# append and leaves every byte where it was.
cp good.vmrp c.vmrp
flip c.vmrp $((SIZE - 100))
cp c.vmrp c.copy
expect_exit 1 "pack onto an archive whose last commit is damaged is refused" \
    vmrp pack c.vmrp --disk d=d.img
expect_err "c.vmrp" "damaged commit: pack names the archive"
expect_same c.vmrp c.copy "damaged commit: pack leaves the archive unchanged"

# ---- the writer lock -------------------------------------------------------------
if command -v flock > /dev/null 2>&1; then
    cp good.vmrp lock.vmrp
    cp lock.vmrp lock.copy
    rm -f holder.pid
    flock lock.vmrp sh -c 'echo $$ > holder.pid; exec sleep 30' &
    flock_pid=$!
    i=0
    while [ ! -s holder.pid ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    t0=$(date +%s)
    # shellcheck disable=SC2086
    run timeout 60 $VMRP pack lock.vmrp --disk d=d.img
    t1=$(date +%s)
    if [ "$RC" -eq 5 ]; then pass "pack of a locked archive exits 5"; else fail "pack of a locked archive exits 5" "exit $RC"; fi
    expect_err "locked" "locked archive: message says locked"
    if [ $((t1 - t0)) -le 10 ]; then pass "locked archive: pack fails at once ($((t1 - t0))s)"
    else fail "locked archive: pack fails at once" "took $((t1 - t0))s"; fi
    [ -s holder.pid ] && kill "$(cat holder.pid)" 2>/dev/null
    kill "$flock_pid" 2>/dev/null
    wait "$flock_pid" 2>/dev/null
    expect_same lock.vmrp lock.copy "locked archive: unchanged"
    expect_exit 0 "pack once the lock is released" vmrp pack lock.vmrp --disk d=d.img
else
    skip "the writer lock" "flock(1) not found"
fi

# ---- the point limit ------------------------------------------------------------
expect_exit 0 "pack with --max-points 2" vmrp pack max.vmrp --disk d=d.img --max-points 2
run vmrp inspect max.vmrp --json
expect_out '"maxPoints":2' "inspect shows maxPoints 2"
expect_exit 0 "second point under --max-points 2" vmrp pack max.vmrp --disk e=e.img
cp max.vmrp max.copy
expect_exit 3 "third point past --max-points 2 is refused" vmrp pack max.vmrp --disk d=d.img
expect_err "maximum" "point limit: message mentions the maximum"
expect_same max.vmrp max.copy "point limit: archive unchanged"

# ---- streaming ------------------------------------------------------------------
expect_exit 0 "pack - streams an archive to stdout" vmrp pack - --disk d=d.img --disk e=e.img
mv out s.vmrp
expect_exit 0 "verify - < s.vmrp" vmrp verify - < s.vmrp
expect_out "OK: 1 restore point" "verify - counts one point"
mkfifo pipe
cat s.vmrp > pipe &
expect_exit 0 "cat s.vmrp | verify -" vmrp verify - < pipe
wait
rm -f x.img
expect_exit 0 "restore from a streamed archive" vmrp restore s.vmrp --disk d --output x.img
expect_same x.img d.img "streamed archive restores byte for byte"
# into a pipe (not seekable) as well
cat pipe > s2.vmrp &
cat_pid=$!
vmrp pack - --disk e=e.img > pipe 2> err
RC=$?
wait $cat_pid
if [ "$RC" -eq 0 ]; then pass "pack - into a pipe"; else fail "pack - into a pipe" "exit $RC"; fi
expect_exit 0 "verify an archive written into a pipe" vmrp verify s2.vmrp
expect_exit 2 "pack - --json is refused" vmrp pack - --disk d=d.img --json
# a damaged stream is found on stdin too
cp s.vmrp sd.vmrp
flip sd.vmrp $(($(stat -c %s sd.vmrp) / 2))
expect_exit 1 "verify - of a damaged stream" vmrp verify - < sd.vmrp
expect_err "offset" "damaged stream: message gives an offset"
# restore to stdout
expect_exit 0 "restore --output -" vmrp restore good.vmrp --point 2 --disk e --output -
expect_same out e.2 "restore --output - writes the exact image"
expect_exit 0 "restore --output - of the latest point" vmrp restore good.vmrp --disk d --output -
expect_same out d.3 "restore --output - of the latest point is exact"
:

# Two real packs at once: the second is refused at once with exit 5, and the
# first commits normally.
slow=256M
[ "${E2E_QUICK:-0}" = 1 ] && slow=32M
gendisk create slow.img $slow
gendisk fill slow.img 0 $slow 77
vmrp pack two.vmrp --disk s=slow.img --block-size 4K --compress zstd:19 --threads 1 --quiet > /dev/null 2>&1 &
first=$!
waited=0
while [ $waited -lt 100 ] && ! [ -s two.vmrp ]; do sleep 0.05; waited=$((waited + 1)); done
expect_exit 5 "a second concurrent pack is refused with exit 5" vmrp pack two.vmrp --disk s=slow.img --quiet
expect_err "locked" "the refusal says the archive is locked"
wait "$first"
if [ $? -eq 0 ]; then pass "the first pack commits normally"; else fail "the first pack commits normally" "exit status"; fi
expect_exit 0 "the archive verifies with one point" vmrp verify two.vmrp
expect_out "1 restore point" "exactly one point was committed"
rm -f slow.img two.vmrp
:
