# t_repair.sh - vmrp repair removes what an interrupted append left after
# the last commit, and nothing else. Bytes after the last valid commit that
# hold a complete COMMIT record, or that end in a commit's End_Magic, are a
# damaged commit, not an unfinished append: repair refuses them with exit 1
# and leaves the archive byte for byte, and so does a pack that would have
# to remove them.

gendisk create d.img 512K
gendisk fill d.img 0 128K 61
expect_exit 0 "pack point 1" vmrp pack two.vmrp --block-size 4K --disk d=d.img --quiet
gendisk fill d.img 128K 64K 62
expect_exit 0 "pack point 2" vmrp pack two.vmrp --disk d=d.img --quiet
cp two.vmrp three.vmrp
gendisk fill d.img 256K 64K 63
expect_exit 0 "pack point 3" vmrp pack three.vmrp --disk d=d.img --quiet
two=$(stat -c %s two.vmrp)
three=$(stat -c %s three.vmrp)
commit3=$((three - 256))

# poke FILE OFFSET BYTE: write one byte (decimal)
poke() {
    # shellcheck disable=SC2059
    printf "\\$(printf %03o "$3")" | dd of="$1" bs=1 seek="$2" conv=notrunc 2> /dev/null
}

# An interrupted append: point 3's segment without its commit.
head -c $commit3 three.vmrp > torn.vmrp
expect_exit 0 "repair of an interrupted append: exit 0" vmrp repair torn.vmrp
expect_out "removed $((commit3 - two)) bytes" "repair says how many bytes it removed"
expect_same torn.vmrp two.vmrp "repair leaves exactly the last commit's archive"

# refused NAME FILE: repair exits 1 naming FILE and leaves it unchanged;
# pack and verify refuse it too
refused() {
    cp "$2" before.vmrp
    expect_exit 1 "$1: repair refuses with exit 1" vmrp repair "$2"
    expect_err "hold a damaged commit, not an interrupted append" "$1: repair says why"
    expect_err "$2" "$1: the message names the archive"
    expect_same "$2" before.vmrp "$1: repair left the archive byte for byte"
    expect_exit 1 "$1: pack refuses to append with exit 1" vmrp pack "$2" --disk d=d.img --quiet
    expect_same "$2" before.vmrp "$1: pack left the archive byte for byte"
    expect_exit 1 "$1: verify fails" vmrp verify "$2"
}

# The last commit with its End_Magic broken: no longer a valid commit, but
# a complete COMMIT record after the last valid one (commit 2).
cp three.vmrp magic.vmrp
poke magic.vmrp $((three - 1)) 0
refused "a tail holding a COMMIT record" magic.vmrp

# The last commit with its record header broken: the walk stops before it,
# and the tail still ends in End_Magic.
cp three.vmrp header.vmrp
poke header.vmrp $commit3 0
refused "a tail ending in End_Magic" header.vmrp

# Garbage after the last commit that ends in End_Magic.
cp two.vmrp garbage.vmrp
gendisk fill garbage.vmrp $two 1000 64
printf 'VMRPEND\032' >> garbage.vmrp
refused "garbage ending in End_Magic" garbage.vmrp

# A copy of the last commit appended after it.
cp two.vmrp copy.vmrp
tail -c 256 two.vmrp >> copy.vmrp
poke copy.vmrp $((two + 255)) 0 # not the trailer: End_Magic broken
refused "a copy of a commit record after the last commit" copy.vmrp
rm -f d.img
