# t_roundtrip.sh - disks packed through several points with deterministic
# random changes; every disk of every point is restored and compared with a
# copy taken when the point was packed.
#
# Disks of the main archive (A):
#   sys       changes at every point
#   twin      a copy of sys at point 1 (deduplication across disks)
#   grower    grows at every point (sizes not a multiple of the block size)
#   shrinker  full of data, shrinks at point 2, grows back at point 3: the
#             regrown area must read as zeros (no stale data)
#   late      added at point 3
#   scratch   excluded at point 4, included again at point 5
#   sparse    mostly holes, never changes (restored files must be sparse)

if [ "${E2E_QUICK:-0}" = 1 ]; then
    NPOINTS=3 SYS=2M SYSB=2097152 OPS=3 MAXLEN=98304 SHR=1048576 SPARSE=16M
else
    NPOINTS=5 SYS=8M SYSB=8388608 OPS=5 MAXLEN=262144 SHR=4194304 SPARSE=64M
fi
SEEDS="1009 2017 3023 4051 5077"
A=a.vmrp

# Deterministic pseudo-random numbers (an LCG), seeded per point.
rnd_state=1
rnd() {
    rnd_state=$(((rnd_state * 1103515245 + 12345) % 2147483648))
    R=$rnd_state
}

# mutate FILE OPS: OPS fill/text/zero operations at pseudo-random offsets,
# always inside the current size of FILE (never growing it).
mutate() {
    m_file=$1 m_ops=$2
    m_size=$(stat -c %s "$m_file")
    [ "$m_size" -gt 0 ] || return 0
    m_i=0
    while [ "$m_i" -lt "$m_ops" ]; do
        rnd; m_op=$((R % 3))
        rnd; m_off=$((R % m_size))
        [ $((R % 2)) -eq 0 ] && m_off=$((m_off / 4096 * 4096))
        rnd; m_len=$((R % MAXLEN + 1))
        [ $((m_off + m_len)) -le "$m_size" ] || m_len=$((m_size - m_off))
        rnd; m_seed=$R
        case $m_op in
            0) gendisk fill "$m_file" "$m_off" "$m_len" "$m_seed" ;;
            1) gendisk text "$m_file" "$m_off" "$m_len" "$m_seed" ;;
            2) gendisk zero "$m_file" "$m_off" "$m_len" ;;
        esac
        m_i=$((m_i + 1))
    done
}

# json_num KEY: the first numeric value of "KEY" in ./out
json_num() { sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p" out | head -1; }

# disk_field DISK KEY: KEY of the diskRestorePoints entry of DISK in ./out
disk_field() {
    tr '{' '\n' < out | grep "\"diskName\":\"$1\"" | sed -n "s/.*\"$2\":\([0-9][0-9]*\).*/\1/p" | head -1
}

mkdir saved

# ---- point 1 ----------------------------------------------------------------
gendisk create sys.img $SYS
gendisk fill sys.img 0 1M 101
gendisk text sys.img 1M 512K 102
gendisk fill sys.img $((SYSB - 300000)) 300000 103
gendisk create grower.img $((1048576 + 3))
gendisk fill grower.img 0 $((1048576 + 3)) 104
gendisk create shrinker.img $SHR
gendisk fill shrinker.img 0 $SHR 105
gendisk create scratch.img 2M
gendisk text scratch.img 100000 700000 106
gendisk create sparse.img $SPARSE
gendisk fill sparse.img 0 64K 107
gendisk fill sparse.img 5M 64K 108
gendisk fill sparse.img $((${SPARSE%M} * 1048576 - 65536)) 64K 109
cp --sparse=always sys.img twin.img

# disks_at N: the disks packed (not excluded) at point N
disks_at() {
    case $1 in
        1|2) echo "sys twin grower shrinker scratch sparse" ;;
        3|5) echo "sys twin grower shrinker late scratch sparse" ;;
        4) echo "sys twin grower shrinker late sparse" ;;
    esac
}

save_point() {
    for sp_d in $(disks_at "$1"); do
        cp --sparse=always "$sp_d.img" "saved/$1.$sp_d.img"
    done
}

pack_point() {
    pp_n=$1
    shift
    pp_args=""
    for pp_d in $(disks_at "$pp_n"); do
        pp_args="$pp_args --disk $pp_d=$pp_d.img"
    done
    # shellcheck disable=SC2086
    expect_exit 0 "pack point $pp_n" vmrp pack $A $pp_args "$@" --json
    save_point "$pp_n"
}

pack_point 1
expect_out '"created":true' "point 1 creates the archive"
changed_p1=$(json_num changedBlocks)
dedup1=$(json_num dedupBlocks)
if [ "${dedup1:-0}" -gt 0 ]; then pass "pack --json reports dedupBlocks for identical disks"
else fail "pack --json reports dedupBlocks for identical disks" "dedupBlocks=${dedup1:-missing}"; fi
run vmrp inspect $A 1 --json
stored_sys=$(disk_field sys storedBytes)
stored_twin=$(disk_field twin storedBytes)
if [ "${stored_sys:-0}" -gt 0 ] && [ "${stored_twin:-x}" = 0 ]; then
    pass "inspect --json: twin disk stores nothing (deduplicated against sys)"
else
    fail "inspect --json: twin disk stores nothing (deduplicated against sys)" \
        "storedBytes sys=${stored_sys:-missing} twin=${stored_twin:-missing}"
fi
run vmrp inspect $A 1 --json

# ---- point 2: changes; shrinker shrinks to a size inside a block ------------
rnd_state=$(echo $SEEDS | cut -d' ' -f2)
mutate sys.img $OPS
mutate twin.img 2
mutate grower.img 2
gendisk resize grower.img $((1048576 + 786432 + 111))
gendisk fill grower.img $((1048576 + 3)) 786432 201
SHR_SMALL=$((SHR / 2 + 4321))
gendisk resize shrinker.img $SHR_SMALL
mutate scratch.img 2
pack_point 2 --name before-upgrade
expect_out '"created":false' "point 2 appends"
changed_p2=$(json_num changedBlocks)
if [ "${changed_p2:-0}" -gt 0 ] && [ "$changed_p2" -lt $((${changed_p1:-0} / 2)) ]; then
    pass "point 2 is incremental ($changed_p2 changed blocks, point 1 had $changed_p1)"
else
    fail "point 2 is incremental" "changedBlocks point 1=${changed_p1:-missing} point 2=${changed_p2:-missing}"
fi

# ---- point 3: shrinker grows back, late disk added ------------------------
if [ "$NPOINTS" -ge 3 ]; then
    rnd_state=$(echo $SEEDS | cut -d' ' -f3)
    mutate sys.img $OPS
    gendisk resize grower.img $((1048576 + 2 * 786432 + 5))
    mutate grower.img 3
    gendisk resize shrinker.img $SHR
    gendisk fill shrinker.img 131072 1000 302
    gendisk create late.img 3M
    gendisk fill late.img 512K 1M 301
    mutate late.img 2
    mutate scratch.img 1
    pack_point 3
fi

# ---- point 4: scratch excluded (and changed meanwhile) --------------------
if [ "$NPOINTS" -ge 4 ]; then
    rnd_state=$(echo $SEEDS | cut -d' ' -f4)
    mutate sys.img $OPS
    mutate twin.img 1
    mutate late.img 2
    mutate scratch.img 3
    pack_point 4 --exclude-disk scratch
    run vmrp inspect $A 4 --json
    expect_out '"excludeDisks":["scratch"]' "inspect --json lists the excluded disk of point 4"
fi

# ---- point 5: scratch included again ---------------------------------------
if [ "$NPOINTS" -ge 5 ]; then
    rnd_state=$(echo $SEEDS | cut -d' ' -f5)
    mutate sys.img $OPS
    mutate grower.img 2
    mutate shrinker.img 2
    mutate scratch.img 2
    gendisk fill scratch.img 0 64K 501
    pack_point 5
fi

expect_exit 0 "verify after $NPOINTS points" vmrp verify $A
expect_out "OK: $NPOINTS restore point" "verify reports $NPOINTS points"

# ---- restore every disk of every point -------------------------------------
n=1
while [ "$n" -le "$NPOINTS" ]; do
    for d in $(disks_at $n); do
        rm -f r.img
        expect_exit 0 "restore point $n disk $d" vmrp restore $A --point $n --disk $d --output r.img
        expect_same r.img "saved/$n.$d.img" "point $n disk $d restores byte for byte"
    done
    n=$((n + 1))
done

# The regrown area of shrinker reads zeros at point 3 and the shrunk size
# is exact at point 2.
rm -f r.img
expect_exit 0 "restore shrunk disk at point 2" vmrp restore $A --point 2 --disk shrinker --output r.img
if [ "$(stat -c %s r.img)" = "$SHR_SMALL" ]; then pass "shrunk disk has its new size"
else fail "shrunk disk has its new size" "size $(stat -c %s r.img), expected $SHR_SMALL"; fi
if [ "$NPOINTS" -ge 3 ]; then
    rm -f r.img
    expect_exit 0 "restore regrown disk at point 3" vmrp restore $A --point 3 --disk shrinker --output r.img
    dd if=r.img of=regrown.bin bs=65536 iflag=skip_bytes,count_bytes skip=$SHR_SMALL \
        count=$((SHR - SHR_SMALL)) 2>/dev/null
    head -c $((SHR - SHR_SMALL)) /dev/zero > zeros.bin
    expect_same regrown.bin zeros.bin "shrink then grow: the regrown area reads as zeros"
    # the kept part is the point-1 data
    dd if=r.img of=kept.bin bs=65536 count=1 2>/dev/null
    dd if=saved/1.shrinker.img of=kept1.bin bs=65536 count=1 2>/dev/null
    expect_same kept.bin kept1.bin "shrink then grow: the kept area still holds its data"
fi

# By name, by 'latest', and with no --point at all.
rm -f r.img
expect_exit 0 "restore by point name" vmrp restore $A --point before-upgrade --disk sys --output r.img
expect_same r.img saved/2.sys.img "restore by point name gives point 2"
for d in $(disks_at $NPOINTS); do
    rm -f r.img
    expect_exit 0 "restore latest disk $d" vmrp restore $A --point latest --disk $d --output r.img
    expect_same r.img "saved/$NPOINTS.$d.img" "latest disk $d is point $NPOINTS's"
done
rm -f r.img
expect_exit 0 "restore without --point" vmrp restore $A --disk grower --output r.img
expect_same r.img "saved/$NPOINTS.grower.img" "default point is the latest"
if [ "$NPOINTS" -ge 4 ]; then
    rm -f r.img
    expect_exit 0 "restore by default name point-4" vmrp restore $A --point point-4 --disk sys --output r.img
    expect_same r.img saved/4.sys.img "restore by default name point-4"
fi

# Excluded and absent disks cannot be restored.
if [ "$NPOINTS" -ge 4 ]; then
    rm -f r.img
    expect_exit 3 "restore of a disk excluded from point 4 fails" \
        vmrp restore $A --point 4 --disk scratch --output r.img
    expect_err "scratch" "excluded disk: message names the disk"
    expect_err "excluded" "excluded disk: message says it was excluded"
    if [ -e r.img ]; then fail "excluded disk: no output file" "r.img exists"
    else pass "excluded disk: no output file"; fi
fi
if [ "$NPOINTS" -ge 3 ]; then
    expect_exit 3 "restore of a disk added later fails at point 2" \
        vmrp restore $A --point 2 --disk late --output r2.img
    expect_err "late" "absent disk: message names the disk"
fi

# Restored files are sparse.
rm -f r.img
expect_exit 0 "restore the mostly empty disk" vmrp restore $A --point 1 --disk sparse --output r.img
apparent_k=$(($(stat -c %s r.img) / 1024))
used_k=$(du -k r.img | cut -f1)
if [ "$used_k" -lt $((apparent_k / 4)) ]; then pass "restored image is sparse (${used_k}K of ${apparent_k}K)"
else fail "restored image is sparse" "du ${used_k}K for ${apparent_k}K apparent"; fi

# ---- codecs and block size --------------------------------------------------
# text data compresses: zlib must be much smaller than none
gendisk create c.img 3M
gendisk text c.img 0 2M 601
gendisk fill c.img 2M 256K 602
cp --sparse=always c.img c1.img
if [ "${E2E_QUICK:-0}" = 1 ]; then
    CODECS="zlib none"
    skip "codecs zlib:9 and zstd:19" "E2E_QUICK=1"
else
    CODECS="zlib none zlib:9 zstd:19"
fi
for codec in $CODECS; do
    arch=codec-$(echo $codec | tr ':' '-').vmrp
    cp --sparse=always c1.img c.img
    expect_exit 0 "pack --compress $codec" vmrp pack $arch --disk c=c.img --compress $codec
    gendisk text c.img 1000000 300000 603
    gendisk zero c.img 2M 4096
    cp --sparse=always c.img c2.img
    expect_exit 0 "append --compress $codec" vmrp pack $arch --disk c=c.img --compress $codec
    expect_exit 0 "verify --compress $codec" vmrp verify $arch
    for n in 1 2; do
        rm -f r.img
        expect_exit 0 "restore point $n --compress $codec" vmrp restore $arch --point $n --disk c --output r.img
        expect_same r.img c$n.img "point $n --compress $codec restores byte for byte"
    done
done
size_zlib=$(stat -c %s codec-zlib.vmrp)
size_none=$(stat -c %s codec-none.vmrp)
if [ "$size_zlib" -lt $((size_none * 3 / 4)) ]; then pass "zlib archive is smaller than none ($size_zlib < $size_none)"
else fail "zlib archive is smaller than none" "zlib $size_zlib, none $size_none"; fi
if [ "$size_none" -gt $((2 * 1048576 + 262144)) ]; then pass "none archive stores the data uncompressed"
else fail "none archive stores the data uncompressed" "size $size_none"; fi

# 4K blocks, a size that is not a multiple of the block size
gendisk create b.img $((1048576 + 1234))
gendisk fill b.img 0 300000 701
gendisk text b.img 700000 348810 702
cp --sparse=always b.img b1.img
expect_exit 0 "pack --block-size 4K" vmrp pack bs4k.vmrp --disk b=b.img --block-size 4K
gendisk fill b.img 5000 3 703
gendisk zero b.img 700000 8192
gendisk resize b.img $((1048576 + 5000))
cp --sparse=always b.img b2.img
expect_exit 0 "append to a 4K archive" vmrp pack bs4k.vmrp --disk b=b.img --json
changed=$(json_num changedBlocks)
if [ "${changed:-0}" -ge 3 ] && [ "${changed:-0}" -le 6 ]; then pass "4K append changes only the touched blocks ($changed)"
else fail "4K append changes only the touched blocks" "changedBlocks=${changed:-missing}"; fi
run vmrp inspect bs4k.vmrp --json
expect_out '"blockSize":4096' "inspect shows blockSize 4096"
expect_exit 0 "verify 4K archive" vmrp verify bs4k.vmrp
for n in 1 2; do
    rm -f r.img
    expect_exit 0 "restore 4K point $n" vmrp restore bs4k.vmrp --point $n --disk b --output r.img
    expect_same r.img b$n.img "4K point $n restores byte for byte"
done
:
