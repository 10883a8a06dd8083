#!/bin/sh
# make-corpus.sh - seed corpora for the fuzz targets, in build/fuzz/corpus/TARGET/
# (VMRP_FUZZ_OUT/corpus/TARGET/).
#
#   sh tests/fuzz/make-corpus.sh
#
# Archives are made with the vmrp command built by `make B=build/fz`: small
# ones (1-3 points, block size 4K, several disks, config files, codecs none,
# zstd and zlib, a grown / shrunk / excluded / absent disk, torn tails, a full
# collection) plus fixtures/v1/*.vmrp and the other fixtures/*/*.vmrp;
# encrypted archives made with tests/fuzz/mkenc.c (passphrase and recipient
# slots, Argon2id 1 pass over 8 KiB, a keyless append, a full one, torn
# ones). fuzz_json gets a few JSON documents; fuzz_point gets the raw
# payloads of the POINT records (type 4, codec 0) of the archives packed
# with --compress none; fuzz_keyslots the KEYS payloads of the encrypted
# ones. VMRP_FUZZ_OUT=DIR (default build/fuzz) and VMRP_FUZZ_B=DIR (default
# build/fz) as for run.sh.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

B=${VMRP_FUZZ_B:-build/fz}
OUT=${VMRP_FUZZ_OUT:-build/fuzz}/corpus
case $OUT in /*) ;; *) OUT=$root/$OUT ;; esac
make --no-print-directory B="$B" -j2 >/dev/null
VMRP=$root/$B/vmrp
GENDISK=$root/$B/gendisk

work=$(mktemp -d "${TMPDIR:-/tmp}/vmrp-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
rm -rf "$OUT"
mkdir -p "$OUT/fuzz_open" "$OUT/fuzz_verify" "$OUT/fuzz_append" "$OUT/fuzz_json" "$OUT/fuzz_point"
cd "$work"

pack() { "$VMRP" pack "$@" --quiet; }

# --- disks and configuration ---
mk_disks() {
    "$GENDISK" create disk0.img 20K
    "$GENDISK" fill disk0.img 0 8K 1
    "$GENDISK" text disk0.img 12K 6K 2
    "$GENDISK" create disk1.img 8K
    "$GENDISK" text disk1.img 0 8K 3
    "$GENDISK" create disk2.img 12K
    "$GENDISK" fill disk2.img 4K 4K 4
    "$GENDISK" fill disk2.img 8K 100 4   # same bytes as part of disk2's block 1: not a duplicate block
}
mkdir -p cfg1 cfg2/nvram
printf '{"name":"vm1","vcpus":2,"memoryMiB":2048,"disks":["disk0","disk1"],"tags":{"env":"test"}}' > vm1.json
printf '{"name":"vm1","vcpus":4,"memoryMiB":4096,"note":"caf\\u00e9 \303\251\342\202\254"}' > vm2.json
printf '<domain type="kvm"><name>vm1</name></domain>\n' > cfg1/domain.xml
printf 'key=value\n' > cfg1/extra.conf
printf '<domain type="kvm"><name>vm1</name><vcpu>4</vcpu></domain>\n' > cfg2/domain.xml
head -c 3000 /dev/zero | tr '\0' 'N' > cfg2/nvram/VARS.fd
: > cfg2/empty.txt
chmod 600 cfg1/extra.conf

for codec in none zstd zlib; do
    rm -f ./*.img
    mk_disks
    a=one-$codec.vmrp
    pack $a --block-size 4K --compress $codec --disk disk0=disk0.img --disk disk1=disk1.img \
        --config vm1.json --config-file cfg1 --name first
    # three points: changed block, excluded disk, grown disk, shrunk disk,
    # a disk absent then back, new configuration, inherited configuration
    b=three-$codec.vmrp
    pack $b --block-size 4K --compress $codec --disk disk0=disk0.img --disk disk1=disk1.img \
        --disk disk2=disk2.img --config vm1.json --config-file cfg1 --name p1
    "$GENDISK" fill disk0.img 4K 4K 9
    "$GENDISK" resize disk2.img 24K
    "$GENDISK" fill disk2.img 20K 2K 5
    pack $b --compress $codec --disk disk0=disk0.img --disk disk2=disk2.img --exclude-disk disk1 \
        --config vm2.json --config-file cfg2 --name p2 --consistency filesystem
    cp $b two-$codec.vmrp
    "$GENDISK" resize disk0.img 6K
    "$GENDISK" zero disk2.img 4K 4K
    pack $b --compress $codec --disk disk0=disk0.img --disk disk1=disk1.img \
        --consistency application
done

# Default block size (64K), two points.
"$GENDISK" create big0.img 160K
"$GENDISK" fill big0.img 0 64K 11
"$GENDISK" text big0.img 100K 30K 12
pack big.vmrp --compress zstd --disk disk0=big0.img --config vm1.json
"$GENDISK" fill big0.img 64K 1K 13
pack big.vmrp --compress zstd --disk disk0=big0.img

# A full collection (max points 1): appending must refuse.
pack full.vmrp --block-size 4K --max-points 1 --compress none --disk disk0=disk1.img

# Torn tails: a third segment cut short, trailing garbage, a lone header.
size2=$(wc -c < two-none.vmrp)
size3=$(wc -c < three-none.vmrp)
head -c $(( (size2 + size3) / 2 )) three-none.vmrp > torn-mid.vmrp
head -c $(( size3 - 1 )) three-none.vmrp > torn-last-byte.vmrp
cp one-none.vmrp torn-garbage.vmrp
printf 'VRec\001\000\000\000garbage after the last commit' >> torn-garbage.vmrp
head -c 128 one-none.vmrp > header-only.vmrp
head -c 1000 one-zstd.vmrp > creation-cut.vmrp

# --- Encrypted archives (format 1.2) ---
# Packed by mkenc (tests/fuzz/mkenc.c, the library's writer API), since
# `vmrp pack --kdf-memory` counts MiB: passphrase slots for the test
# passphrase with Argon2id 1 pass over 8 KiB, so that an execution that
# derives a key costs little; recipient slots for the test-only key
# tests/fuzz/test-encryption.key (the harnesses hold a copy of it, checked
# here) and for throwaway keys made now.
MKENC=$root/$B/fuzz-mkenc
# shellcheck disable=SC2046
cc -std=c11 -O1 -g -D_FILE_OFFSET_BITS=64 -I"$root/libformat" -I"$root/tests/fuzz" -o "$MKENC" "$root/tests/fuzz/mkenc.c" \
    "$root/$B/libvmrp.a" $(pkg-config --libs libsodium libzstd zlib 2>/dev/null || echo -lsodium -lzstd -lz) -pthread
KEY=$root/tests/fuzz/test-encryption.key
PUB=$root/tests/fuzz/test-encryption.pub
"$MKENC" --check-key "$KEY"
for i in 1 2 3 4 5 6 7; do
    "$VMRP" keygen --encryption --secret-key other$i.key --public-key other$i.pub --no-passphrase \
        > /dev/null 2>&1
done
mkenc() { "$MKENC" "$@"; }
rm -f ./*.img
mk_disks
# one point each: a passphrase slot; recipient slots (the test key last)
mkenc enc-pass.vmrp --new-pass --block-size 4096 --codec none --disk disk0=disk0.img \
    --disk disk1=disk1.img --config vm1.json --file cfg/domain.xml=cfg1/domain.xml --name first
mkenc enc-recipients.vmrp --recipient other1.pub --recipient "$PUB" --block-size 4096 \
    --codec zstd --disk disk0=disk0.img --exclude disk9
mkenc enc-many-slots.vmrp --new-pass --recipient other1.pub --recipient other2.pub \
    --recipient other3.pub --recipient other4.pub --recipient other5.pub --recipient other6.pub \
    --recipient other7.pub --recipient "$PUB" --block-size 4096 --codec zlib --disk disk1=disk1.img
# a full collection: appending must refuse
mkenc enc-full.vmrp --recipient "$PUB" --block-size 4096 --max-points 1 --codec none \
    --disk disk0=disk1.img
# three points opened with the identity, then the passphrase: a changed
# block, an excluded disk, a grown disk, a shrunk one, a disk back
mkenc enc-three.vmrp --new-pass --recipient "$PUB" --block-size 4096 --codec zlib \
    --disk disk0=disk0.img --disk disk1=disk1.img --disk disk2=disk2.img --config vm1.json \
    --file cfg/domain.xml=cfg1/domain.xml --file extra.conf=cfg1/extra.conf --name p1
"$GENDISK" fill disk0.img 4K 4K 9
"$GENDISK" resize disk2.img 24K
"$GENDISK" fill disk2.img 20K 2K 5
mkenc enc-three.vmrp --identity "$KEY" --codec zstd --disk disk0=disk0.img --disk disk2=disk2.img \
    --exclude disk1 --config vm2.json --file nvram/VARS.fd=cfg2/nvram/VARS.fd --name p2
cp enc-three.vmrp enc-two.vmrp
"$GENDISK" resize disk0.img 6K
"$GENDISK" zero disk2.img 4K 4K
mkenc enc-three.vmrp --pass --codec none --disk disk0=disk0.img --disk disk1=disk1.img --name p3
# a keyless append (no key: every disk FULL, new families, an excluded disk
# under a new family, no configuration inherited), then appends with the
# identity (FULL where the id space changed, a delta where it did not) and
# with the passphrase (unchanged disks: empty maps); the keyless point
# repeats the first one's name
rm -f ./*.img
mk_disks
mkenc enc-keyless.vmrp --new-pass --recipient "$PUB" --block-size 4096 --codec zstd \
    --disk disk0=disk0.img --disk disk1=disk1.img --config vm1.json \
    --file cfg/domain.xml=cfg1/domain.xml --name base
"$GENDISK" fill disk0.img 8K 4K 6
mkenc enc-keyless.vmrp --codec zstd --disk disk0=disk0.img --exclude disk1 --name base
cp enc-keyless.vmrp enc-keyless-2.vmrp
"$GENDISK" fill disk1.img 4K 4K 7
"$GENDISK" fill disk0.img 0 4K 8
mkenc enc-keyless.vmrp --identity "$KEY" --codec zlib --disk disk0=disk0.img \
    --disk disk1=disk1.img --config vm2.json --name grown
mkenc enc-keyless.vmrp --pass --codec none --disk disk0=disk0.img --disk disk1=disk1.img \
    --name again
# torn encrypted archives
size2=$(wc -c < enc-two.vmrp)
size3=$(wc -c < enc-three.vmrp)
head -c $(( (size2 + size3) / 2 )) enc-three.vmrp > enc-torn-mid.vmrp
head -c $(( size3 - 1 )) enc-three.vmrp > enc-torn-last-byte.vmrp

for f in *.vmrp "$root"/fixtures/*/*.vmrp; do   # fixtures/v1/*.vmrp, and the other versions
    [ -f "$f" ] || continue
    case $f in
    "$root"/fixtures/*) name=fixture-$(basename "$(dirname "$f")")-$(basename "$f") ;;
    *) name=$(basename "$f") ;;
    esac
    for t in fuzz_open fuzz_verify fuzz_append; do
        cp "$f" "$OUT/$t/$name"
    done
done

# --- fuzz_point: raw POINT payloads of the archives stored as is ---
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
u8() { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '; }
for f in one-none.vmrp two-none.vmrp three-none.vmrp full.vmrp; do
    size=$(wc -c < "$f")
    off=128
    k=0
    while [ $((off + 16)) -le "$size" ]; do
        [ "$(od -An -c -j $off -N4 "$f" | tr -d ' ')" = VRec ] || break
        type=$(u8 "$f" $((off + 4)))
        codec=$(u8 "$f" $((off + 5)))
        stored=$(u32 "$f" $((off + 8)))
        if [ "$type" = 4 ] && [ "$codec" = 0 ]; then
            k=$((k + 1))
            tail -c +$((off + 17)) "$f" | head -c "$stored" > "$OUT/fuzz_point/${f%.vmrp}-point$k"
        fi
        off=$((off + 16 + stored))
    done
done

# --- fuzz_keyslots: KEYS payloads (type 7) of the encrypted archives, after
# an options byte: segment 1's with every option (0x0f), also as not strict
# and with the identity only (0x05), later segments' as such (0x02) ---
mkdir -p "$OUT/fuzz_keyslots"
for f in enc-pass.vmrp enc-recipients.vmrp enc-many-slots.vmrp enc-three.vmrp enc-keyless.vmrp \
    "$root"/fixtures/v1.2/*.vmrp; do
    [ -f "$f" ] || continue
    size=$(wc -c < "$f")
    off=128
    k=0
    base=$(basename "$f" .vmrp)
    while [ $((off + 16)) -le "$size" ]; do
        [ "$(od -An -c -j $off -N4 "$f" | tr -d ' ')" = VRec ] || break
        type=$(u8 "$f" $((off + 4)))
        stored=$(u32 "$f" $((off + 8)))
        if [ "$type" = 7 ]; then
            k=$((k + 1))
            if [ "$off" = 128 ]; then
                for o in 017 005; do
                    { if [ $o = 017 ]; then printf '\017'; else printf '\005'; fi
                      tail -c +$((off + 17)) "$f" | head -c "$stored"; } \
                        > "$OUT/fuzz_keyslots/$base-keys$k-$o"
                done
            else
                { printf '\002'; tail -c +$((off + 17)) "$f" | head -c "$stored"; } \
                    > "$OUT/fuzz_keyslots/$base-keys$k"
            fi
        fi
        off=$((off + 16 + stored))
    done
done

# --- fuzz_json ---
j=$OUT/fuzz_json
cp vm1.json "$j/vm1.json"
cp vm2.json "$j/vm2.json"
printf '{}' > "$j/empty-object"
printf ' [1, -2.5e+10, true, false, null, "a\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u12aF"] ' > "$j/array"
printf '{"a":{"b":{"c":[[[{"d":[]}]]]}}}' > "$j/nested"
printf '"\360\237\230\200 \342\202\254 \302\251"' > "$j/utf8-string"
printf '{"n":0.5,"m":-0,"e":1E-7,"big":123456789012345678901234567890}' > "$j/numbers"
printf '{"a":1,}' > "$j/trailing-comma"
printf '{"a":"\355\240\200"}' > "$j/surrogate"
printf '\t\r\n{"k" : "v" }\n' > "$j/whitespace"

# --- fuzz_keys: key files of both tools, protected and not ---
k=$OUT/fuzz_keys
mkdir -p "$k"
cp "$root"/fixtures/v1.1/test-signing.pub "$k/vmrp.pub"
cp "$root"/fixtures/v1.1/test-signing.key "$k/vmrp-unprotected.key"
if command -v minisign > /dev/null 2>&1; then
    minisign -G -W -p "$work/m.pub" -s "$work/m.key" > /dev/null 2>&1 &&
        cp "$work/m.pub" "$k/minisign.pub" && cp "$work/m.key" "$k/minisign-unprotected.key"
fi
# encryption keys (X1, format 1.2): the test-only key, and the fixtures'
cp "$root"/tests/fuzz/test-encryption.key "$k/x1-unprotected.key"
cp "$root"/tests/fuzz/test-encryption.pub "$k/x1.pub"
# a protected key: the scrypt parameters are read, then refused for want of a passphrase
printf 'untrusted comment: minisign encrypted secret key\nRWRTY0IyAAAA\n' > "$k/protected-stub.key"

# --- fuzz_bundle: small archives of config files in several formats ---
b=$OUT/fuzz_bundle
mkdir -p "$b" "$work/bundle/etc/libvirt"
printf '<domain type="kvm"/>\n' > "$work/bundle/etc/libvirt/vm.xml"
printf 'instance-id: fuzz\n' > "$work/bundle/meta-data"
(cd "$work/bundle" && tar -cf "$b/plain.tar" . && tar -czf "$b/gzip.tgz" . &&
    find . -type f | cpio -o -H newc > "$b/newc.cpio" 2> /dev/null) || true
if command -v bsdtar > /dev/null 2>&1; then
    (cd "$work/bundle" && bsdtar -cf "$b/zip.zip" --format zip . && bsdtar -cf "$b/pax.tar" --format pax .) || true
fi

for t in fuzz_open fuzz_verify fuzz_append fuzz_json fuzz_point fuzz_keys fuzz_bundle fuzz_keyslots; do
    echo "corpus $t: $(ls "$OUT/$t" | wc -l) files"
done
