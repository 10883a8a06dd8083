# t_config_inputs.sh - --config-file stores files as given; only a file
# named as a bundle (.tar, .tar.gz, .zip, .cpio, ...) is unpacked, and only
# from those formats; bundles are capped in count and size; sparse tar
# members come back with their holes as zeros.

gendisk create d.img 256K
gendisk fill d.img 0 64K 91
mkdir -p in/etc
echo "hostname: web01" > in/etc/user-data
echo "instance-id: web01" > in/etc/meta-data
tar cf bundle.tar -C in etc
# A cloud-init seed, whatever its bytes look like, stays one file: here a
# tar under a name that is not a bundle's.
cp bundle.tar seed.iso
printf '#mtree\n./evil mode=4755 type=file contents=/etc/hostname\n' > notes.txt
expect_exit 0 "pack with a seed image, a note and a bundle" vmrp pack a.vmrp --disk d=d.img \
    --config-file seed.iso --config-file notes.txt --config-file bundle.tar --json
vmrp inspect a.vmrp --json > inspect.json
for want in '"name":"seed.iso"' '"name":"notes.txt"' '"name":"etc/user-data"' '"name":"etc/meta-data"'; do
    if grep -qF "$want" inspect.json; then pass "stored: $want"; else fail "stored: $want" "not in inspect"; fi
done
grep -qF '"name":"evil"' inspect.json && fail "a text file starting with #mtree is not unpacked" "evil is there"
rm -rf r
expect_exit 0 "restore the VM" vmrp restore a.vmrp --output r --quiet
expect_same r/config/seed.iso seed.iso "the seed image comes back byte for byte"
expect_same r/config/notes.txt notes.txt "the note comes back as it was"
expect_same r/config/etc/user-data in/etc/user-data "a bundle member comes back"

# Named as a bundle, it must be one, of the formats named; mtree is not.
cp notes.txt fake.tar
cp a.vmrp a.before
expect_exit 3 "a .tar that is no tar is refused" vmrp pack a.vmrp --disk d=d.img --config-file fake.tar
expect_err "fake.tar" "the refusal names the file"
expect_same a.vmrp a.before "the archive is unchanged"

# Sparse members: holes come back as zeros, data where it was.
mkdir -p sp
truncate -s 3M sp/nvram.fd
printf 'VARS' | dd of=sp/nvram.fd bs=1 seek=2097152 conv=notrunc 2> /dev/null
printf 'HEAD' | dd of=sp/nvram.fd bs=1 seek=0 conv=notrunc 2> /dev/null
if tar -S -cf sparse.tar -C sp nvram.fd 2> /dev/null; then
    expect_exit 0 "a sparse tar member packs" vmrp pack s.vmrp --disk d=d.img --config-file sparse.tar --quiet
    rm -rf rs
    vmrp restore s.vmrp --output rs --quiet 2> err
    expect_same rs/config/nvram.fd sp/nvram.fd "the sparse member restores exactly"
else
    skip "sparse tar members" "tar -S failed"
fi

# Caps: 4096 files and 256 MiB in all, checked before the bytes are held.
mkdir -p many
(cd many && seq 1 4097 | xargs touch)
tar cf many.tar many
expect_exit 3 "a bundle of 4097 files is refused" vmrp pack m.vmrp --disk d=d.img --config-file many.tar
expect_err "more than 4096" "the refusal gives the limit"
mkdir -p big
for i in 1 2 3 4 5; do truncate -s 60M big/z$i; done
if tar -S -czf bomb.tar.gz big 2> /dev/null && [ "$(wc -c < bomb.tar.gz)" -lt 100000 ]; then
    expect_exit 3 "a small bundle of 300 MiB is refused" \
        vmrp pack m.vmrp --disk d=d.img --config-file bomb.tar.gz
    expect_err "256 MiB" "the refusal gives the limit"
    [ ! -e m.vmrp ] && pass "no archive is left by the refused packs"
else
    skip "bundle size cap" "tar -S -z failed"
fi
rm -rf big many
