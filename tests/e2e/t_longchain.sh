# t_longchain.sh - an archive of 34 points: the reader walks the commit
# chain into an array that starts with room for 16 commits and doubles, so
# the chain passes both 16 and 32 (under valgrind, whose packs are slow, 20
# points: past 16). Each point changes a few blocks (one zeroes a block, one
# grows the disk); inspect lists every point, verify passes, and every
# point (with E2E_QUICK=1: the first, the last and those on either side of
# 16 and 32) restores both its disks exactly, by number and by name.

gendisk create d.img 256K
gendisk fill d.img 0 64K 70
gendisk create e.img 64K
gendisk text e.img 0 16K 90
n=34
case $VMRP in *valgrind*) n=20 ;; esac
k=1
ok=1
while [ $k -le $n ]; do
    gendisk fill d.img $((k * 4))K 4K $((100 + k))
    gendisk text e.img $(((k % 4) * 16))K 4K $((200 + k))
    [ $k -eq 9 ] && gendisk zero d.img 0 4K
    [ $k -eq 17 ] && gendisk resize d.img 320K && gendisk fill d.img 300K 8K 117
    if ! $VMRP pack c.vmrp --block-size 4K --disk d=d.img --disk e=e.img --name "p$k" --quiet 2> err; then
        fail "pack point $k" "$(head -1 err)"
        ok=0
        break
    fi
    cp d.img d.$k
    cp e.img e.$k
    k=$((k + 1))
done
[ $ok = 1 ] && pass "pack $n points, each a few changed blocks"

run vmrp inspect c.vmrp --json
expect_out "\"pointCount\":$n," "inspect counts $n points"
if [ "$(grep -o '"sequence":[0-9]*' out | tr '\n' ' ')" = "$(seq -f '"sequence":%g' 1 $n | tr '\n' ' ')" ]; then
    pass "inspect lists points 1 to $n in order"
else
    fail "inspect lists points 1 to $n in order" "$(grep -o '"sequence":[0-9]*' out | tr '\n' ' ')"
fi
expect_exit 0 "verify the $n-point archive" vmrp verify c.vmrp --json
expect_out "\"points\":$n," "verify checked $n points"

points=$(seq 1 $n) which="every one of the $n points"
if [ "${E2E_QUICK:-0}" = 1 ]; then
    points=$(for k in 1 16 17 32 33 $n; do [ $k -le $n ] && echo $k; done | uniq | tr '\n' ' ')
    which="points $(echo $points)"
fi
bad=""
for k in $points; do
    rm -f r.img s.img
    # by number, and by name
    if ! $VMRP restore c.vmrp --point $k --disk d --output r.img --quiet 2> err || ! cmp -s r.img d.$k ||
        ! $VMRP restore c.vmrp --point "p$k" --disk e --output s.img --quiet 2>> err || ! cmp -s s.img e.$k; then
        bad="$bad $k"
    fi
done
if [ -z "$bad" ]; then pass "$which restore both disks exactly"
else fail "$which restore both disks exactly" "points$bad differ: $(head -1 err)"; fi
rm -f r.img s.img
expect_exit 0 "restore the latest point as a whole VM" vmrp restore c.vmrp --output vm --quiet
expect_same vm/disks/d.img d.$n "the latest point's disk d, restored as part of the VM"
rm -rf vm d.* e.*
