# t_blockdev.sh - disks on block devices, through loop devices: pack reads
# a disk from a block device (a full point, then an incremental one), and
# restore writes a disk to a block device, every byte of it, holes included.
# restore refuses a device without --force, and one smaller than the disk.
# Skipped where no loop device can be attached (not root, no /dev/loop*, a
# container without them). Every device attached here is detached, also
# when the script stops early.

loops=""
detach_loops() {
    for l in $loops; do losetup -d "$l" 2> /dev/null; done
    loops=""
}
# attach FILE: attach FILE to a free loop device, named in $dev
attach() {
    dev=$(losetup -f --show "$1" 2> losetup.err) || { dev=""; return 1; }
    loops="$loops $dev"
}

gendisk create src.img 4M
gendisk fill src.img 0 1M 51
gendisk text src.img 2M 512K 52
gendisk fill src.img 4092K 4K 53
gendisk create dst.img 4M
gendisk fill dst.img 0 4M 54 # no zero anywhere: a restore must write its holes
gendisk create small.img 1M

if ! command -v losetup > /dev/null 2>&1 || ! ls /dev/loop* > /dev/null 2>&1; then
    skip "block devices" "no losetup or no /dev/loop* on this machine"
elif ! attach src.img; then
    skip "block devices" "losetup cannot attach a loop device here: $(head -1 losetup.err)"
else
    trap 'detach_loops' EXIT INT TERM
    src=$dev
    expect_exit 0 "pack a disk from a block device" \
        vmrp pack bd.vmrp --block-size 4K --disk d="$src" --quiet
    run vmrp inspect bd.vmrp --json
    expect_out '"diskSizeBytes":4194304' "the point has the device's size"
    cp "$src" p1.img
    expect_same p1.img src.img "the loop device reads as its file"

    # a change written through the device, then an incremental point
    gendisk fill "$src" 1M 8K 55
    gendisk zero "$src" 0 4K
    sync
    cp "$src" p2.img
    expect_exit 0 "append a point from the block device" \
        vmrp pack bd.vmrp --disk d="$src" --json --quiet
    expect_out '"changedBlocks":3,' "the appended point holds the 3 changed blocks"
    for p in 1 2; do
        rm -f r.img
        expect_exit 0 "restore point $p of the block device to a file" \
            vmrp restore bd.vmrp --point $p --disk d --output r.img --quiet
        expect_same r.img p$p.img "point $p restores exactly the device's bytes"
    done

    if attach dst.img; then
        dst=$dev
        cp "$dst" before.img
        expect_exit 3 "restore to a block device without --force: exit 3" \
            vmrp restore bd.vmrp --point 1 --disk d --output "$dst" --quiet
        expect_err "use --force" "the refusal says how to overwrite"
        cp "$dst" after.img
        expect_same after.img before.img "the refused restore left the device as it was"
        for p in 1 2; do
            expect_exit 0 "restore point $p to a block device with --force" \
                vmrp restore bd.vmrp --point $p --disk d --output "$dst" --force --quiet
            cp "$dst" got.img
            expect_same got.img p$p.img "the device holds point $p's bytes, holes as zeros"
        done
    else
        fail "attach a second loop device" "$(head -1 losetup.err)"
    fi
    if attach small.img; then
        expect_exit 3 "restore to a block device smaller than the disk: exit 3" \
            vmrp restore bd.vmrp --disk d --output "$dev" --force --quiet
        expect_err "$dev holds 1048576 bytes; disk d needs 4194304" \
            "the refusal names the device and both sizes"
    else
        fail "attach a third loop device" "$(head -1 losetup.err)"
    fi
    detach_loops
    trap - EXIT INT TERM
    # what the device got is in its file once it is detached
    expect_same dst.img p2.img "the file behind the device holds the restored disk"
fi
rm -f src.img dst.img small.img p1.img p2.img r.img got.img before.img after.img
