#!/bin/sh
# bench.sh - time vmrp against the usual ways of keeping VM disk backups.
#
# In a work directory it builds a small VM deterministically: a sparse raw
# root disk holding a real ext4 filesystem (mke2fs -d, filled from a sorted
# list of files of /usr/share and /usr/lib of this machine) and a data disk of
# random, compressible, zero and duplicated ranges (gendisk). It then times,
# side by side:
#
#   vmrp       pack (full), pack (incremental, after a mutation), verify,
#              restore of the latest point (whole VM to a directory, one disk)
#   tar+zstd   tar -S | zstd -3; a second full archive after the mutation
#              (tar has no block-level increment); zstd -t; extraction
#   qemu-img   convert -c -O qcow2; after the mutation convert -B onto the
#              first image (a qcow2 overlay holding only changed clusters);
#              qemu-img check (metadata only); convert back to raw
#   borg       init --encryption none; create --chunker-params fixed,4194304
#              --compression zstd,3 --sparse; create again; check
#              --verify-data; extract --sparse
#   restic     init (repository v2, compression auto); backup; backup again;
#              check --read-data; restore
#
# then packs, verifies and restores a 1 TiB sparse disk holding ~300 MiB, and
# measures the peak memory of each step at two block counts (memory per block).
# Each step is measured with /usr/bin/time (wall, user+sys CPU, peak RSS) and
# the bytes it wrote (growth of the archive / repository, or the allocated
# size of what a restore wrote). Every vmrp exit status is checked and every
# restored image is compared with cmp: a failure stops the benchmark. There
# is no performance assertion: the numbers are printed, nothing more.
#
#   VMRP          the vmrp command        (default: build/vmrp of this tree)
#   GENDISK       the disk generator      (default: gendisk beside $VMRP)
#   BENCH_SCALE   small (~150 MB of data, quick) or full (~1 GB; default)
#   BENCH_PEERS   which peers to run      (default: "tar qemu borg restic")
#   BENCH_SCALING 0 to skip the 1 TiB sparse disk run (default 1)
#   BENCH_MEMORY  0 to skip the memory-per-block run (default 1)
#   BENCH_INSTALL 0 to never apt-get a missing peer (default 1)
#   BENCH_VMRP_PACK_ARGS  extra options for every vmrp pack, e.g. "--threads 1"
#   TMPDIR        parent of the work directory (default /tmp)
#   KEEP=1        keep the work directory instead of removing it
# shellcheck disable=SC2086,SC2016 # options are split on purpose; sh -c scripts expand later
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
VMRP=${VMRP:-$top/build/vmrp}
GENDISK=${GENDISK:-$(dirname "$VMRP")/gendisk}
BENCH_SCALE=${BENCH_SCALE:-full}
BENCH_PEERS=${BENCH_PEERS:-tar qemu borg restic}
BENCH_SCALING=${BENCH_SCALING:-1}
BENCH_MEMORY=${BENCH_MEMORY:-1}
BENCH_INSTALL=${BENCH_INSTALL:-1}
BENCH_VMRP_PACK_ARGS=${BENCH_VMRP_PACK_ARGS:-}
KEEP=${KEEP:-0}
export LC_ALL=C

case $BENCH_SCALE in
small)
    ROOT_SIZE=1G TREE_MB=96 F=1 ;;  # F scales the data disk layout below
full)
    ROOT_SIZE=4G TREE_MB=600 F=8 ;;
*)
    echo "bench: BENCH_SCALE must be small or full" >&2
    exit 2 ;;
esac

die() {
    echo "bench: $*" >&2
    exit 1
}
note() { echo "bench: $*" >&2; }

[ -x "$VMRP" ] || die "no vmrp at $VMRP (run make first, or set VMRP)"
[ -x "$GENDISK" ] || die "no gendisk at $GENDISK (set GENDISK)"

# ---- tools: the required ones, then the peers (skipped when missing) ----
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo -n"
apt_updated=0
# apt_install PACKAGE...: apt-get install, quietly; status 0 when it worked
apt_install() {
    [ "$BENCH_INSTALL" = 1 ] && command -v apt-get >/dev/null 2>&1 || return 1
    if [ $apt_updated = 0 ]; then
        $SUDO apt-get update -qq >/dev/null 2>&1 || true
        apt_updated=1
    fi
    note "installing $*"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null 2>&1
}
[ -x /usr/bin/time ] || apt_install time || die "/usr/bin/time is missing (Debian package: time)"
{ command -v mke2fs && command -v debugfs && command -v dumpe2fs; } >/dev/null 2>&1 ||
    apt_install e2fsprogs || die "mke2fs/debugfs are missing (Debian package: e2fsprogs)"
PATH=$PATH:/sbin:/usr/sbin

peers=""
for p in $BENCH_PEERS; do
    case $p in
    tar) cmd=zstd pkg=zstd ;;
    qemu) cmd=qemu-img pkg=qemu-utils ;;
    borg) cmd=borg pkg=borgbackup ;;
    restic) cmd=restic pkg=restic ;;
    *) die "unknown peer '$p' (tar qemu borg restic)" ;;
    esac
    if command -v "$cmd" >/dev/null 2>&1 || { apt_install "$pkg" && command -v "$cmd" >/dev/null 2>&1; }; then
        peers="$peers $p"
    else
        note "skipping $p: $cmd is not installed and could not be installed"
    fi
done
has() { case " $peers " in *" $1 "*) return 0 ;; esac; return 1; }

# ---- the work directory ----
work=$(mktemp -d "${TMPDIR:-/tmp}/vmrp-bench.XXXXXX")
finish() {
    rc=$?
    [ "$rc" -eq 0 ] || echo "bench: stopped with exit status $rc" >&2
    if [ "$KEEP" = 1 ]; then
        echo "(work directory kept: $work)" >&2
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM
cd "$work"
mkdir disks out
ROWS=$work/rows
: > "$ROWS"

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
# apparent bytes of files / directory trees; allocated bytes (holes excluded)
bytes_app() { du -sb "$@" 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
bytes_alloc() { du -sB1 "$@" 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }

# step TOOL STEP GROUP KIND PATH CMD...: time CMD and add a row to the table.
#   GROUP   full|incr|verify|restore: rows of a group are compared with
#           vmrp's row of that group; "-" for no comparison
#   KIND    grow: bytes written = growth of PATH (archive, repository)
#           alloc: bytes written = allocated size of PATH after the step
#           none: nothing written
# A non-zero exit status stops the benchmark.
step() {
    s_tool=$1 s_step=$2 s_group=$3 s_kind=$4 s_path=$5
    shift 5
    s_before=0
    [ "$s_kind" != grow ] || s_before=$(bytes_app "$s_path")
    printf 'bench: %-9s %-22s' "$s_tool" "$s_step" >&2
    sync # start clean: no step pays for the writeback of the one before
    s_rc=0
    /usr/bin/time -f '%e %U %S %M' -o "$work/time.out" "$@" > "$work/step.out" 2> "$work/step.err" || s_rc=$?
    if [ "$s_rc" -ne 0 ]; then
        echo " FAILED (exit $s_rc)" >&2
        tail -n 20 "$work/step.err" >&2
        die "$s_tool $s_step failed: $*"
    fi
    case $s_kind in
    grow) s_written=$(($(bytes_app "$s_path") - s_before)) ;;
    alloc) s_written=$(bytes_alloc "$s_path") ;;
    *) s_written=0 ;;
    esac
    tail -n 1 "$work/time.out" | awk -v t="$s_tool" -v s="$s_step" -v g="$s_group" -v w="$s_written" \
        '{ printf "%s|%s|%s|%.2f|%.2f|%.1f|%d|%.2f\n", t, s, g, $1, $2 + $3, $4 / 1024, w, $3 }' >> "$ROWS"
    tail -n 1 "$ROWS" | awk -F'|' '{ printf " %7.2f s wall %7.2f s cpu (%.2f sys) %7.1f MiB peak %9.1f MiB written\n", $4, $5, $8, $6, $7 / 1048576 }' >&2
}

# same EXPECTED ACTUAL WHAT: cmp, and stop the benchmark when they differ
same() {
    cmp "$1" "$2" >&2 || die "$3: $2 differs from $1"
}

# ---- 1. the VM: a root disk with ext4 made from a tree of this machine ----
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
# read-only: no index refresh is written
git -C "$top" --no-optional-locks diff --quiet HEAD -- libformat tools 2>/dev/null ||
    commit="$commit + uncommitted changes in libformat/ or tools/"
note "scale $BENCH_SCALE, commit $commit: building the VM disks in $work"
tree_budget=$((TREE_MB * 1048576))
# Half of the budget from each directory: files in sorted path order, each one
# taken while it still fits, so the same machine always gives the same tree.
for dir in usr/share usr/lib; do
    (cd / && find "$dir" -xdev -type f -readable -size -33554433c -printf '%s\t%p\n' 2>/dev/null) |
        sort -t "$(printf '\t')" -k2,2 |
        awk -F'\t' -v budget=$((tree_budget / 2)) 'NF == 2 && $2 !~ /[\\]/ { if (t + $1 <= budget) { t += $1; print } }'
done > tree.list
cut -f2 tree.list > tree.names
mkdir src
(cd / && tar --no-recursion -cf - -T "$work/tree.names") | (cd src && tar -xf -)
tree_files=$(wc -l < tree.list)
tree_bytes=$(awk -F'\t' '{ s += $1 } END { print s + 0 }' tree.list)

ROOT=disks/root.img DATA=disks/data.img
"$GENDISK" create "$ROOT" "$ROOT_SIZE"
fsid=6b1e54c7-54b4-4d3a-9f39-7a0e8c1d2b35
E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -t ext4 -F -L vmroot -U "$fsid" \
    -E "hash_seed=$fsid,lazy_itable_init=0,lazy_journal_init=0" -d src "$ROOT" ||
    die "mke2fs -d failed"
rm -rf src
# mke2fs zeroes parts of the image through fallocate: unwritten extents,
# which SEEK_DATA reports as holes or as data depending on what the page
# cache holds. Copying the image with holes for every zero block gives a
# layout that reads the same for every tool, whatever ran before it.
sparsify() { cp --sparse=always "$1" "$1.tmp" && mv "$1.tmp" "$1"; }
sparsify "$ROOT"
fs_block=$(dumpe2fs -h "$ROOT" 2>/dev/null | awk -F: '/^Block size/ { gsub(/ /, "", $2); print $2 }')

# ---- the data disk: ranges in KiB of the small layout, times F ----
# random, compressible text, written zeros, more random and text, and a copy
# of the first random range (identical blocks: deduplicated by vmrp, borg,
# restic).
lay() { # lay fill|text|zero OFFSET_KIB LEN_KIB [SEED]
    "$GENDISK" "$1" "$DATA" $(($2 * F))K $(($3 * F))K ${4:+"$4"}
}
"$GENDISK" create "$DATA" $((131072 * F))K
lay fill 0 16384 11
lay text 16384 20480 12
lay zero 40960 4096
lay fill 49152 6144 13
lay text 65536 6144 14
lay fill 98304 4096 11

cat > vm.json <<EOF
{"name":"bench01","cpus":2,"memoryMiB":4096,"firmware":"uefi",
 "disks":[{"name":"root","bus":"virtio","format":"raw","boot":true},
          {"name":"data","bus":"virtio","format":"raw"}]}
EOF
mkdir config
cat > config/domain.xml <<EOF
<domain type='kvm'><name>bench01</name><memory unit='MiB'>4096</memory><vcpu>2</vcpu>
  <devices><disk type='file' device='disk'><source file='root.img'/><target dev='vda'/></disk>
  <disk type='file' device='disk'><source file='data.img'/><target dev='vdb'/></disk></devices></domain>
EOF

root_alloc=$(bytes_alloc "$ROOT")
data_alloc=$(bytes_alloc "$DATA")

# ---- 3a. full packs of the original disks ----
VMRP_ARCHIVE=$work/bench01.vmrp
step vmrp "pack full" full grow "$VMRP_ARCHIVE" \
    "$VMRP" pack "$VMRP_ARCHIVE" --disk root="$ROOT" --disk data="$DATA" \
    --config vm.json --config-file config/domain.xml --name before --quiet --json $BENCH_VMRP_PACK_ARGS
cp step.out pack1.json
# The same pack with a passphrase slot and a recipient, every record
# encrypted, the commit signed: what encryption and signing cost.
BENCH_KEYS=$work/keys
mkdir -p "$BENCH_KEYS"
"$VMRP" keygen --secret-key "$BENCH_KEYS/sign.key" --public-key "$BENCH_KEYS/sign.pub" \
    --no-passphrase 2> /dev/null || die "keygen failed"
"$VMRP" keygen --encryption --secret-key "$BENCH_KEYS/enc.key" --public-key "$BENCH_KEYS/enc.pub" \
    --no-passphrase 2> /dev/null || die "keygen --encryption failed"
step vmrp "pack full, enc+signed" enc grow "$work/enc.vmrp" \
    env VMRP_PASSPHRASE=bench "$VMRP" pack "$work/enc.vmrp" --disk root="$ROOT" --disk data="$DATA" \
    --config vm.json --config-file config/domain.xml --name before --quiet --json \
    --encrypt --recipient "$BENCH_KEYS/enc.pub" --sign "$BENCH_KEYS/sign.key" $BENCH_VMRP_PACK_ARGS
if has tar; then
    step tar+zstd "pack full" full grow "$work/full.tar.zst" \
        tar -S -I "zstd -3 -q" -cf "$work/full.tar.zst" disks
fi
if has qemu; then
    step qemu-img "pack full" full grow "$work/qemu" \
        sh -c 'mkdir -p qemu && qemu-img convert -c -O qcow2 disks/root.img qemu/root.1.qcow2 &&
               qemu-img convert -c -O qcow2 disks/data.img qemu/data.1.qcow2'
fi
if has borg; then
    export BORG_BASE_DIR="$work/borg-home" BORG_REPO="$work/borg"
    export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
    borg init --encryption none "$BORG_REPO" > /dev/null 2>&1 || die "borg init failed"
    step borg "pack full" full grow "$BORG_REPO" \
        borg create --chunker-params fixed,4194304 --compression zstd,3 --sparse ::p1 disks
fi
if has restic; then
    export RESTIC_REPOSITORY="$work/restic" RESTIC_PASSWORD=bench XDG_CACHE_HOME="$work/cache"
    restic init --repository-version 2 > /dev/null 2>&1 || die "restic init failed"
    step restic "pack full" full grow "$RESTIC_REPOSITORY" \
        restic backup --quiet disks
fi

# ---- 2. the mutation: a few percent of each disk, at fixed places ----
# Root: the first blocks of every 5th file of 64 KiB or more, until 3 % of
# the tree is rewritten in place (found with debugfs, overwritten with
# random or text bytes), plus a new file of 1 % of the tree (debugfs write).
awk -F'\t' -v target=$((tree_bytes * 3 / 100)) -v bs="$fs_block" '
    $1 >= 65536 && $2 !~ / / && ++n % 5 == 0 && t < target {
        len = int($1 / bs) * bs; if (len > 262144) len = 262144
        t += len; print "blocks /" $2
    }' tree.list > mutate.cmds
debugfs -f mutate.cmds "$ROOT" 2>/dev/null |
    awk -v bs="$fs_block" '
        function flush() { if (run) print start * bs, run * bs; run = 0 }
        /^debugfs: / { flush(); take = 262144 / bs; next }
        { for (i = 1; i <= NF && take > 0; i++) {
              if (run && $i == start + run) run++
              else { flush(); start = $i; run = 1 }
              take--
          }
          flush() }' > mutate.runs
[ -s mutate.runs ] || die "no file blocks found to mutate in the root filesystem"
root_mut=0 i=0
while read -r off len; do
    i=$((i + 1))
    if [ $((i % 2)) = 0 ]; then mode=fill; else mode=text; fi
    "$GENDISK" $mode "$ROOT" "$off" "$len" $((1000 + i))
    root_mut=$((root_mut + len))
done < mutate.runs
"$GENDISK" text new.log 0 $((tree_bytes / 100)) 77
debugfs -w -R "write $work/new.log /bench-new.log" "$ROOT" > /dev/null 2>&1 ||
    die "debugfs write failed"
root_mut=$((root_mut + tree_bytes / 100))
rm -f new.log
sparsify "$ROOT"
# Data: overwritten random and text, new data in a hole, a range zeroed.
lay fill 2048 512 31
lay text 24576 512 32
lay fill 50176 256 33
lay text 114688 256 34
lay zero 17408 128
data_mut=$(((512 + 512 + 256 + 256 + 128) * F * 1024))
root_alloc2=$(bytes_alloc "$ROOT")
data_alloc2=$(bytes_alloc "$DATA")

# ---- 3b. incremental packs after the mutation ----
step vmrp "pack incremental" incr grow "$VMRP_ARCHIVE" \
    "$VMRP" pack "$VMRP_ARCHIVE" --disk root="$ROOT" --disk data="$DATA" --name after --quiet --json \
    $BENCH_VMRP_PACK_ARGS
cp step.out pack2.json
if has tar; then
    step tar+zstd "pack again (full)" incr grow "$work/incr.tar.zst" \
        tar -S -I "zstd -3 -q" -cf "$work/incr.tar.zst" disks
fi
if has qemu; then
    step qemu-img "pack incr (-B overlay)" incr grow "$work/qemu" \
        sh -c 'q=$(pwd)/qemu &&
               qemu-img convert -c -O qcow2 -B "$q/root.1.qcow2" -F qcow2 disks/root.img qemu/root.2.qcow2 &&
               qemu-img convert -c -O qcow2 -B "$q/data.1.qcow2" -F qcow2 disks/data.img qemu/data.2.qcow2'
fi
if has borg; then
    step borg "pack incremental" incr grow "$BORG_REPO" \
        borg create --chunker-params fixed,4194304 --compression zstd,3 --sparse ::p2 disks
fi
if has restic; then
    step restic "pack incremental" incr grow "$RESTIC_REPOSITORY" \
        restic backup --quiet disks
fi

# ---- 3c. verification of the whole archive / repository ----
step vmrp verify verify none - "$VMRP" verify "$VMRP_ARCHIVE"
step vmrp "verify --quick" - none - "$VMRP" verify --quick "$VMRP_ARCHIVE"
step vmrp "verify enc, no key" - none - "$VMRP" verify "$work/enc.vmrp" --pubkey "$BENCH_KEYS/sign.pub"
step vmrp "verify enc, with key" - none - \
    "$VMRP" verify "$work/enc.vmrp" --pubkey "$BENCH_KEYS/sign.pub" --identity "$BENCH_KEYS/enc.key"
if has tar; then
    step tar+zstd "verify (zstd -t)" verify none - zstd -tq "$work/full.tar.zst" "$work/incr.tar.zst"
fi
if has qemu; then
    step qemu-img "check (metadata only)" - none - \
        sh -c 'for f in qemu/*.qcow2; do qemu-img check -q "$f" || exit 1; done'
fi
if has borg; then
    step borg "check --verify-data" verify none - borg check --verify-data
fi
if has restic; then
    step restic "check --read-data" verify none - restic check --read-data
fi

# ---- 3d. restores of the latest point, compared with the disks ----
step vmrp "restore VM to dir" restore alloc out/vmrp-vm \
    "$VMRP" restore "$VMRP_ARCHIVE" --output out/vmrp-vm/
same "$ROOT" out/vmrp-vm/disks/root.img "vmrp restore (whole VM)"
same "$DATA" out/vmrp-vm/disks/data.img "vmrp restore (whole VM)"
[ -f out/vmrp-vm/vm.json ] || die "vmrp restore wrote no vm.json"
rm -rf out/vmrp-vm
step vmrp "restore 1 disk (root)" - alloc out/root.img \
    "$VMRP" restore "$VMRP_ARCHIVE" --disk root --output out/root.img
same "$ROOT" out/root.img "vmrp restore (one disk)"
rm -f out/root.img
step vmrp "restore enc VM to dir" - alloc out/vmrp-enc \
    "$VMRP" restore "$work/enc.vmrp" --identity "$BENCH_KEYS/enc.key" --output out/vmrp-enc/
rm -rf out/vmrp-enc
if has tar; then
    mkdir out/tar
    step tar+zstd "restore (extract)" restore alloc out/tar \
        tar -I zstd -xf "$work/incr.tar.zst" -C out/tar
    same "$ROOT" out/tar/disks/root.img "tar+zstd extraction"
    same "$DATA" out/tar/disks/data.img "tar+zstd extraction"
    rm -rf out/tar
fi
if has qemu; then
    mkdir out/qemu
    step qemu-img "restore (to raw)" restore alloc out/qemu \
        sh -c 'qemu-img convert -O raw qemu/root.2.qcow2 out/qemu/root.img &&
               qemu-img convert -O raw qemu/data.2.qcow2 out/qemu/data.img'
    same "$ROOT" out/qemu/root.img "qemu-img convert to raw"
    same "$DATA" out/qemu/data.img "qemu-img convert to raw"
    rm -rf out/qemu
fi
if has borg; then
    mkdir out/borg
    step borg "restore (extract)" restore alloc out/borg \
        sh -c 'cd out/borg && borg extract --sparse ::p2'
    same "$ROOT" out/borg/disks/root.img "borg extract"
    same "$DATA" out/borg/disks/data.img "borg extract"
    rm -rf out/borg
fi
if has restic; then
    step restic "restore" restore alloc out/restic \
        restic restore latest --target out/restic
    same "$ROOT" out/restic/disks/root.img "restic restore"
    same "$DATA" out/restic/disks/data.img "restic restore"
    rm -rf out/restic
fi

# ---- 5. scaling: a 1 TiB sparse disk with ~300 MiB of data over it ----
SC_ROWS=$work/scale.rows
: > "$SC_ROWS"
if [ "$BENCH_SCALING" = 1 ]; then
    rm -rf disks qemu borg restic ./*.tar.zst
    note "scaling: 1 TiB sparse disk, 64 ranges of 4800 KiB"
    "$GENDISK" create big.img 1T
    n=0
    while [ $n -lt 64 ]; do
        # one range every 16 GiB, shifted by a non-aligned amount
        off=$((n * 17179869184 + n * 12345))
        if [ $((n % 2)) = 0 ]; then mode=fill; else mode=text; fi
        "$GENDISK" $mode big.img $off 4800K $((500 + n))
        echo "$off" >> big.offsets
        n=$((n + 1))
    done
    ROWS_MAIN=$ROWS
    ROWS=$SC_ROWS
    step vmrp "pack 1 TiB" - grow big.vmrp "$VMRP" pack big.vmrp --disk big=big.img --quiet $BENCH_VMRP_PACK_ARGS
    step vmrp "verify 1 TiB" - none - "$VMRP" verify big.vmrp
    step vmrp "restore 1 TiB" - alloc out/big.img "$VMRP" restore big.vmrp --disk big --output out/big.img
    ROWS=$ROWS_MAIN
    [ "$(stat -c %s out/big.img)" = "$(stat -c %s big.img)" ] || die "restored 1 TiB disk has the wrong size"
    # every data range is exact; nothing else was written (allocation bound)
    while read -r off; do
        dd if=big.img of=want.bin bs=1M iflag=skip_bytes,count_bytes skip="$off" count=4915200 2>/dev/null
        dd if=out/big.img of=got.bin bs=1M iflag=skip_bytes,count_bytes skip="$off" count=4915200 2>/dev/null
        same want.bin got.bin "1 TiB restore, range at $off"
    done < big.offsets
    big_alloc=$(bytes_alloc out/big.img)
    [ "$big_alloc" -le $((64 * 4915200 + 64 * 2 * 65536 + 1048576)) ] ||
        die "restored 1 TiB disk holds $big_alloc bytes, more than its data"
    big_archive=$(bytes_app big.vmrp)
    rm -f out/big.img big.img
fi

# ---- 6. memory per block: peaks at two sizes of one kind of disk ----
# Random data in 4 KiB blocks (so many blocks for little data): a full pack,
# an incremental pack after 1 % is rewritten, verify and restore, at 128 Ki
# and 512 Ki blocks. The difference of the peaks over the difference of the
# block counts is what each allocated block costs, above the fixed buffers.
MEM_ROWS=$work/mem.rows
: > "$MEM_ROWS"
if [ "$BENCH_MEMORY" = 1 ]; then
    rm -f big.vmrp
    ROWS_MAIN=$ROWS
    ROWS=$MEM_ROWS
    for mb in 512 2048; do
        note "memory: $mb MiB of random data in 4 KiB blocks"
        "$GENDISK" create m.img ${mb}M
        "$GENDISK" fill m.img 0 ${mb}M 7
        rm -f m.vmrp out/m.img
        step vmrp "pack $mb MiB" - grow m.vmrp "$VMRP" pack m.vmrp --disk m=m.img --block-size 4K --quiet
        "$GENDISK" fill m.img $((mb * 1048576 / 3)) $((mb * 10486)) 8
        step vmrp "incremental $mb MiB" - grow m.vmrp "$VMRP" pack m.vmrp --disk m=m.img --quiet
        step vmrp "verify $mb MiB" - none - "$VMRP" verify m.vmrp
        step vmrp "restore $mb MiB" - alloc out/m.img "$VMRP" restore m.vmrp --disk m --output out/m.img
        same m.img out/m.img "restore of $mb MiB in 4 KiB blocks"
        rm -f m.img m.vmrp out/m.img
    done
    ROWS=$ROWS_MAIN
fi

# ---- 4. the report ----
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
echo
echo "vmrp benchmark, scale $BENCH_SCALE, $(date -u +%Y-%m-%d)"
echo "  commit     $commit ($("$VMRP" --version 2>/dev/null | head -n 1))"
echo "  machine    $(nproc) CPUs, $cpu, $mem RAM, Linux $(uname -r)"
echo "  work dir   ${TMPDIR:-/tmp} ($(stat -f -c %T "$work")), warm page cache"
printf '  peers     '
has tar && printf ' tar %s + zstd %s;' "$(tar --version | awk 'NR == 1 { print $NF }')" \
    "$(zstd -V | sed 's/.* v\([0-9.]*\).*/\1/')"
has qemu && printf ' qemu-img %s;' "$(qemu-img --version | awk 'NR == 1 { print $3 }')"
has borg && printf ' borg %s;' "$(borg --version | awk '{ print $2 }')"
has restic && printf ' restic %s;' "$(restic version | awk '{ print $2 }')"
echo
echo "  root disk  $ROOT_SIZE virtual, ext4 (${fs_block} B blocks) from $tree_files files, $(mib "$tree_bytes") MiB;" \
    "$(mib "$root_alloc") MiB allocated"
echo "  data disk  $((128 * F)) MiB virtual, $(mib "$data_alloc") MiB allocated" \
    "(random, text, zeros, a duplicated range)"
echo "  mutation   root $(mib "$root_mut") MiB (in-place file blocks + a new file)," \
    "data $(mib "$data_mut") MiB; allocated after: root $(mib "$root_alloc2") MiB, data $(mib "$data_alloc2") MiB"
echo "  vmrp       block 64 KiB, zstd:3, threads one per core (defaults)${BENCH_VMRP_PACK_ARGS:+, pack $BENCH_VMRP_PACK_ARGS}"
echo "             bytesRead full $(sed -n 's/.*"bytesRead":\([0-9]*\).*/\1/p' pack1.json)," \
    "incremental $(sed -n 's/.*"bytesRead":\([0-9]*\).*/\1/p' pack2.json)"
echo
awk -F'|' '
    { tool[NR] = $1; st[NR] = $2; grp[NR] = $3; w[NR] = $4; c[NR] = $5; m[NR] = $6; b[NR] = $7; sy[NR] = $8
      if ($1 == "vmrp" && $3 != "-") { rw[$3] = $4; rc[$3] = $5; rm[$3] = $6; rb[$3] = $7; has[$3] = 1 } }
    function ratio(a, p) { return (p > 0 && a > 0) ? sprintf("%6.2f", a / p) : sprintf("%6s", "-") }
    END {
        printf "%-9s %-23s %7s %7s %7s %8s %11s | %-10s %6s %6s %6s %6s\n", "tool", "step", "wall s", "cpu s", \
            "(sys)", "peak MiB", "written MiB", "vmrp/peer:", "wall", "cpu", "peak", "wrtn"
        for (i = 1; i <= NR; i++) {
            printf "%-9s %-23s %7.2f %7.2f %7.2f %8.1f %11.1f |", tool[i], st[i], w[i], c[i], sy[i], m[i], b[i] / 1048576
            g = grp[i]
            if (tool[i] != "vmrp" && g != "-" && has[g])
                printf " %-10s %s %s %s %s", "", ratio(rw[g], w[i]), ratio(rc[g], c[i]), ratio(rm[g], m[i]), ratio(rb[g], b[i])
            printf "\n"
        }
        for (i = 1; i <= NR; i++)
            if (tool[i] != "vmrp" && grp[i] == "full" && has["enc"])
                printf "%-33s vs %-9s %-23s | %-10s %s %s %s %s\n", "vmrp pack full, enc+signed", \
                    tool[i], st[i], "", ratio(rw["enc"], w[i]), ratio(rc["enc"], c[i]), \
                    ratio(rm["enc"], m[i]), ratio(rb["enc"], b[i])
    }' "$ROWS"
echo "(cpu = user + sys, of which sys in the kernel; ratios: vmrp's value divided by the peer's"
echo " for the same step, below 1 means vmrp is lower)"
if [ -s "$MEM_ROWS" ]; then
    echo
    echo "memory per block: random data in 4 KiB blocks, 131072 then 524288 blocks;" \
        "bytes/block = growth of the peak / 393216"
    awk -F'|' '{ split($2, w, " "); step[NR] = w[1]; peak[NR] = $6; wall[NR] = $4 }
        END { n = NR / 2
              for (i = 1; i <= n; i++)
                  printf "  %-12s peak %6.1f -> %6.1f MiB  %6.1f bytes/block  (wall %.2f -> %.2f s)\n", step[i], \
                      peak[i], peak[i + n], (peak[i + n] - peak[i]) * 1048576 / 393216, wall[i], wall[i + n] }' "$MEM_ROWS"
fi
if [ -s "$SC_ROWS" ]; then
    echo
    echo "scaling: 1 TiB sparse disk, 64 ranges of 4800 KiB (300 MiB) spread over it;" \
        "archive $(mib "$big_archive") MiB"
    awk -F'|' '{ printf "  %-16s %7.2f s wall %7.2f s cpu (%.2f sys) %6.1f MiB peak %8.1f MiB written\n", $2, $4, $5, $8, $6, $7 / 1048576 }' "$SC_ROWS"
fi
