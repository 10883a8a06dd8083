# t_ioerrors.sh - a disk pack cannot read, a disk that changes size while
# pack reads it, and a restore whose output fills up. Each fails with exit 3
# and a message naming the disk or the output; the archive a failed pack
# appended to is left byte for byte as it was, and a failed restore leaves
# no file under the output's name nor any temporary file.

gendisk create d.img 2M
gendisk fill d.img 0 1536K 81
gendisk text d.img 1600K 64K 82
expect_exit 0 "pack the first point" vmrp pack a.vmrp --block-size 4K --disk d=d.img --quiet
cp a.vmrp a.orig

# pack_fails NAME DISK WHAT...: appending a point with DISK as disk e fails
# with exit 3, naming DISK and saying each WHAT; a.vmrp is unchanged
pack_fails() {
    pf_name=$1 pf_disk=$2
    shift 2
    expect_exit 3 "$pf_name: pack fails with exit 3" \
        vmrp pack a.vmrp --disk d=d.img --disk e="$pf_disk" --quiet
    expect_err "$pf_disk" "$pf_name: the message names the disk"
    for pf_what in "$@"; do expect_err "$pf_what" "$pf_name: the message says '$pf_what'"; done
    expect_same a.vmrp a.orig "$pf_name: the archive is unchanged"
}

# ---- disks that cannot be read ----
mkdir dir.img
pack_fails "a disk that is a directory" dir.img "is not a regular file or a block device"
pack_fails "a disk that does not exist" missing.img "No such file or directory"
gendisk create locked.img 1M
gendisk fill locked.img 0 64K 83
chmod 000 locked.img
# root reads any file; without the capabilities that let it, it reads as
# any other user does
if command -v setpriv > /dev/null 2>&1 &&
    ! setpriv --bounding-set=-dac_override,-dac_read_search cat locked.img > /dev/null 2>&1 &&
    setpriv --bounding-set=-dac_override,-dac_read_search true 2> /dev/null; then
    noread() { setpriv --bounding-set=-dac_override,-dac_read_search "$@"; }
    expect_exit 3 "a disk without read permission: pack fails with exit 3" \
        noread $VMRP pack a.vmrp --disk d=d.img --disk e=locked.img --quiet
    expect_err "locked.img: Permission denied" "the message names the unreadable disk"
    expect_same a.vmrp a.orig "a disk without read permission: the archive is unchanged"
elif [ "$(id -u)" != 0 ]; then
    pack_fails "a disk without read permission" locked.img "Permission denied"
else
    skip "a disk without read permission" "root, and setpriv cannot drop CAP_DAC_OVERRIDE here"
fi
chmod 644 locked.img

# ---- a disk that changes size while pack reads it ----
# The disk is put out of the page cache, so that its pages come back only
# when pack reads it, which it does after taking its size. pack reads the
# 3 MiB in one go, then compresses them hard on one thread, which takes a
# while; as soon as the disk's pages are back, pack is stopped, the disk
# resized and pack continued: the size it found first and the one it finds
# at the end differ. (Under valgrind everything is slow enough.)
case $VMRP in *valgrind*) level=3 ;; *) level=19 ;; esac
# resident FILE: bytes of FILE in the page cache
resident() { fincore --bytes --noheadings --output RES "$1" 2> /dev/null | tr -d ' '; }
# resized_while_read NAME SIZE: as pack_fails, with the disk set to SIZE
resized_while_read() {
    gendisk create g.img 3M
    gendisk text g.img 0 3M 84
    sync g.img 2> /dev/null
    dd if=g.img iflag=nocache count=0 status=none 2> /dev/null
    if [ "$(resident g.img)" != 0 ]; then
        skip "$1" "cannot tell when pack reads the disk: no fincore, or the file stays cached here"
        return
    fi
    $VMRP pack a.vmrp --disk g=g.img --compress zstd:$level --threads 1 --quiet > out 2> err &
    pid=$!
    i=0
    while [ $i -lt 3000 ] && [ "$(resident g.img)" = 0 ] && kill -0 $pid 2> /dev/null; do
        sleep 0.01
        i=$((i + 1))
    done
    kill -STOP $pid 2> /dev/null
    i=0 # a signal takes effect a moment after kill returns
    while [ $i -lt 200 ] && ! grep -q '^State:.*stopped' /proc/$pid/status 2> /dev/null &&
        ! grep -q '^State:.*zombie' /proc/$pid/status 2> /dev/null && [ -e /proc/$pid ]; do
        sleep 0.01
        i=$((i + 1))
    done
    if grep -q '^State:.*stopped' /proc/$pid/status 2> /dev/null; then
        gendisk resize g.img "$2"
        kill -CONT $pid
        wait $pid
        RC=$?
        if [ "$RC" -eq 3 ]; then pass "$1: pack fails with exit 3"; else fail "$1: pack fails with exit 3" "exit $RC"; fi
        expect_err "g.img (disk g): changed size from 3145728 to $(stat -c %s g.img) bytes" \
            "$1: the message names the disk and both sizes"
        expect_same a.vmrp a.orig "$1: the archive is back at its last commit, byte for byte"
    else
        kill -CONT $pid 2> /dev/null
        wait $pid
        skip "$1" "pack was not caught while it read the disk (exit $?)"
        cp a.orig a.vmrp
    fi
}
resized_while_read "a disk that grows while read" 4M
resized_while_read "a disk that shrinks while read" 1M

# ---- restore to an output that fills up ----
rm -rf full
mkdir full
if mount -t tmpfs -o size=1M tmpfs full 2> mount.err; then
    trap 'umount "$PWD/full"' EXIT INT TERM
    # the disk holds 1.6 MiB of data: it cannot fit
    expect_exit 3 "restore of a disk to a full file system: exit 3" \
        vmrp restore a.vmrp --disk d --output full/d.img --quiet
    expect_err "full/d.img" "the message names the output"
    expect_err "No space left on device" "the message says the file system is full"
    if [ -z "$(ls -A full)" ]; then pass "a failed restore leaves no file, temporary or final"
    else fail "a failed restore leaves no file, temporary or final" "left: $(ls -A full | tr '\n' ' ')"; fi
    expect_exit 3 "restore of a whole VM to a full file system: exit 3" \
        vmrp restore a.vmrp --output full/vm --quiet
    expect_err "full/vm/disks/d.img" "the message names the disk image"
    expect_err "No space left on device" "the message says the file system is full (whole VM)"
    left=$(find full -type f | grep -v '^full/vm/vm\.json$')
    if [ -z "$left" ]; then pass "a failed VM restore leaves no disk image, temporary or final"
    else fail "a failed VM restore leaves no disk image, temporary or final" "left: $left"; fi
    umount full
    trap - EXIT INT TERM
else
    skip "restore to a full file system" "cannot mount a tmpfs here: $(head -1 mount.err)"
fi
rmdir full 2> /dev/null
if [ -w /dev/full ]; then
    # a stream: no file to remove; the error and its exit code are what is left
    run sh -c "$VMRP restore a.vmrp --disk d --output - > /dev/full"
    if [ "$RC" -eq 3 ]; then pass "restore to a full stdout: exit 3"; else fail "restore to a full stdout: exit 3" "exit $RC"; fi
    expect_err "No space left on device" "the message says the output is full"
else
    skip "restore to /dev/full" "no /dev/full"
fi
rm -f d.img g.img locked.img
