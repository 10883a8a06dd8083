#!/bin/sh
# make-corpus.sh - seed corpora for the fuzz targets, in build/fuzz/corpus/TARGET/.
#
#   sh tests/fuzz/make-corpus.sh
#
# Archives are made with the vmrp command built by `make B=build/fz`: small
# ones (1-3 points, block size 4K, several disks, config files, codecs none,
# zstd and zlib, a grown / shrunk / excluded / absent disk, torn tails, a full
# collection) plus fixtures/v1/*.vmrp and the other fixtures/*/*.vmrp.
# fuzz_json gets a few JSON documents; fuzz_point gets the raw payloads of
# the POINT records (type 4, codec 0) of the archives packed with
# --compress none.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

B=build/fz
OUT=$root/build/fuzz/corpus
make --no-print-directory B=$B -j2 >/dev/null
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

for t in fuzz_open fuzz_verify fuzz_append fuzz_json fuzz_point fuzz_keys fuzz_bundle; do
    echo "corpus $t: $(ls "$OUT/$t" | wc -l) files"
done
