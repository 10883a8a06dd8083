# t_ranges.sh - pack --changed-ranges: an incremental point that reads only
# the ranges a dirty bitmap lists, and still restores exactly.

gendisk create r.img 8M
gendisk fill r.img 0 8M 1
expect_exit 0 "full point" vmrp pack r.vmrp --disk d=r.img --quiet
gendisk fill r.img 1M 64K 2
gendisk fill r.img 5M 10K 3
gendisk zero r.img 6M 64K
printf '# offset length (as from nbdinfo --map)\n1048576 65536\n0x500000 10240 1 dirty\n6291456 65536\n' > ranges.txt
expect_exit 0 "incremental point from changed ranges" vmrp pack r.vmrp --disk d=r.img --changed-ranges d=ranges.txt --json
expect_out '"bytesRead":196608' "only the listed ranges were read (3 blocks)"
expect_out '"changedBlocks":3' "three blocks changed, one of them to zeros"
expect_exit 0 "restore the point" vmrp restore r.vmrp --disk d --output out.img --quiet
expect_same out.img r.img "restored disk equals the disk"

# The disk grows: blocks beyond the previous size are read without being listed.
gendisk resize r.img 9M
gendisk fill r.img 8M 1M 4
: > none.txt
expect_exit 0 "a grown disk with an empty range list" vmrp pack r.vmrp --disk d=r.img --changed-ranges d=none.txt --quiet
rm -f out.img
expect_exit 0 "restore the grown disk" vmrp restore r.vmrp --disk d --output out.img --quiet
expect_same out.img r.img "the grown area was read and stored"

expect_exit 2 "--changed-ranges for a disk not given" vmrp pack r.vmrp --disk d=r.img --changed-ranges e=none.txt
printf 'ten twenty\n' > bad.txt
cp r.vmrp before.vmrp
expect_exit 3 "a malformed range file" vmrp pack r.vmrp --disk d=r.img --changed-ranges d=bad.txt
expect_err "bad.txt: line 1" "the message names the file and line"
expect_same r.vmrp before.vmrp "the archive is untouched"
:
