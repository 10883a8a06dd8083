# t_scale.sh - a huge sparse disk (1 TiB; 64 GiB in quick mode) holding a
# few MiB of data at its start, its middle and its very end. Pack, verify and
# restore must handle it through the holes; the data regions are compared
# with cmp, a hole must read as zeros. `timeout 300` only protects against a
# hang; elapsed seconds are printed for information.

if [ "${E2E_QUICK:-0}" = 1 ]; then
    SIZE=$((64 * 1073741824)) SIZE_ARG=64G L1=262144 L2=524288 L3=262144
else
    SIZE=$((1024 * 1073741824)) SIZE_ARG=1T L1=2097152 L2=1048576 L3=2097152
fi
# start (block aligned), middle (not aligned), end (last byte of the disk)
O1=0
O2=$((SIZE / 2 + 12345))
O3=$((SIZE - L3))
HOLE=$((SIZE / 4))

gendisk create big.img $SIZE_ARG
gendisk fill big.img $O1 $L1 1
gendisk text big.img $O2 $L2 2
gendisk fill big.img $O3 $L3 3

# timed NAME CMD...: run vmrp under timeout 300, print the seconds taken
timed() {
    tm_name=$1
    shift
    tm_t0=$(date +%s)
    # shellcheck disable=SC2086
    run timeout 300 $VMRP "$@"
    tm_t1=$(date +%s)
    echo "t_scale: $tm_name: $((tm_t1 - tm_t0)) s (exit $RC)"
    if [ "$RC" -eq 0 ]; then pass "$tm_name"; else fail "$tm_name" "exit $RC"; fi
}

# region FILE OFF LEN OUT: copy a byte range out of FILE
region() { dd if="$1" of="$4" bs=1M iflag=skip_bytes,count_bytes skip="$2" count="$3" 2>/dev/null; }

timed "pack a $SIZE_ARG sparse disk" pack big.vmrp --disk big=big.img --json
bytes_read=$(sed -n 's/.*"bytesRead":\([0-9][0-9]*\).*/\1/p' out)
if [ "${bytes_read:-0}" -ge $((L1 + L2 + L3)) ] && [ "$bytes_read" -lt 67108864 ]; then
    pass "pack reads the data, not the holes ($bytes_read bytes read)"
else
    fail "pack reads the data, not the holes" "bytesRead=${bytes_read:-missing}"
fi
archive_size=$(stat -c %s big.vmrp 2>/dev/null || echo 0)
if [ "$archive_size" -gt 0 ] && [ "$archive_size" -lt $((4 * (L1 + L2 + L3) + 1048576)) ]; then
    pass "archive size follows the data, not the disk ($archive_size bytes)"
else
    fail "archive size follows the data, not the disk" "$archive_size bytes"
fi
timed "verify the $SIZE_ARG archive" verify big.vmrp
run vmrp inspect big.vmrp --json
expect_out "\"diskSizeBytes\":$SIZE" "inspect shows the full disk size"

timed "restore the $SIZE_ARG disk" restore big.vmrp --disk big --output r.img
if [ "$(stat -c %s r.img 2>/dev/null)" = "$SIZE" ]; then pass "restored disk has the full size"
else fail "restored disk has the full size" "size $(stat -c %s r.img 2>/dev/null)"; fi
used_k=$(du -k r.img 2>/dev/null | cut -f1)
if [ -n "$used_k" ] && [ "$used_k" -lt 65536 ]; then pass "restored disk is sparse (${used_k}K on disk)"
else fail "restored disk is sparse" "${used_k}K on disk"; fi

for reg in "$O1 $L1 start" "$O2 $L2 middle" "$O3 $L3 end"; do
    # shellcheck disable=SC2086
    set -- $reg
    region big.img "$1" "$2" want.bin
    region r.img "$1" "$2" got.bin
    if [ "$(stat -c %s got.bin 2>/dev/null)" = "$2" ]; then
        expect_same got.bin want.bin "data region at the $3 (offset $1, $2 bytes) is exact"
    else
        fail "data region at the $3 is exact" "read $(stat -c %s got.bin 2>/dev/null) bytes of $2"
    fi
done
# the bytes around the middle region and a far hole read as zeros
head -c 1048576 /dev/zero > zeros.bin
region r.img $HOLE 1048576 got.bin
expect_same got.bin zeros.bin "a hole at offset $HOLE reads as zeros"
head -c 12345 /dev/zero > zeros.bin
region r.img $((SIZE / 2)) 12345 got.bin
expect_same got.bin zeros.bin "the zeros before the middle region inside its block"
head -c 65536 /dev/zero > zeros.bin
region r.img $((O2 + L2)) 65536 got.bin
expect_same got.bin zeros.bin "the zeros after the middle region"
region r.img $((O3 - 65536)) 65536 got.bin
expect_same got.bin zeros.bin "the zeros just before the end region"

# A small change far into the disk makes a small incremental point.
gendisk fill big.img $((SIZE - SIZE / 8)) 4096 4
timed "append a point to the $SIZE_ARG disk" pack big.vmrp --disk big=big.img --json
expect_out '"changedBlocks":1,' "the appended point changes one block"
rm -f r.img
timed "restore the appended point" restore big.vmrp --disk big --output r.img
region big.img $((SIZE - SIZE / 8)) 65536 want.bin
region r.img $((SIZE - SIZE / 8)) 65536 got.bin
expect_same got.bin want.bin "the changed block is restored"
region r.img $O3 $L3 got.bin
region big.img $O3 $L3 want.bin
expect_same got.bin want.bin "the end region is unchanged in the appended point"
rm -f r.img big.img
:
