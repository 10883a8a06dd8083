# t_signing.sh - signed commits, minisign-compatible keys and detached
# signatures, and rollback detection.

gendisk create d.img 2M
gendisk fill d.img 0 200K 11
gendisk text d.img 1M 100K 12

expect_exit 0 "keygen makes an unprotected key pair" vmrp keygen --secret-key k.key --public-key k.pub --no-passphrase
expect_err "unprotected" "keygen says the key is unprotected"
if [ "$(stat -c %a k.key)" = 600 ]; then pass "secret key file is mode 0600"; else fail "secret key file is mode 0600" "mode $(stat -c %a k.key)"; fi
cp k.key k.key.before
expect_exit 3 "keygen refuses to replace an existing key" vmrp keygen --secret-key k.key --public-key k2.pub --no-passphrase
expect_err "k.key" "the refusal names the key file"
expect_same k.key k.key.before "the existing secret key is untouched"
vmrp keygen --secret-key other.key --public-key other.pub --no-passphrase 2>/dev/null

expect_exit 0 "pack --sign --minisig creates a signed archive" vmrp pack a.vmrp --disk d=d.img --sign k.key --minisig --quiet
gendisk fill d.img 64K 64K 13
expect_exit 0 "a second signed point" vmrp pack a.vmrp --disk d=d.img --sign k.key --minisig --quiet
expect_exit 0 "verify --pubkey accepts the signed archive" vmrp verify a.vmrp --pubkey k.pub
expect_out "signatures verified" "verify reports the signatures as verified"
keyid=$(sed -n 's/^untrusted comment: minisign public key //p' k.pub)
expect_out "$keyid" "verify reports the signer's key id"
if command -v minisign > /dev/null 2>&1; then
    expect_exit 0 "stock minisign verifies the detached signature" minisign -V -p k.pub -m a.vmrp
    expect_out "vmrp-points:2" "the trusted comment carries the point count"
    k2=$(mktemp -d)
    minisign -G -W -p "$k2/m.pub" -s "$k2/m.key" > /dev/null 2>&1
    expect_exit 0 "a key made by minisign signs an archive" vmrp pack m.vmrp --disk d=d.img --sign "$k2/m.key" --quiet
    expect_exit 0 "and verify accepts it with minisign's public key" vmrp verify m.vmrp --pubkey "$k2/m.pub"
    rm -rf "$k2"
else
    fail "stock minisign verifies the detached signature" "minisign is not installed"
fi

expect_exit 1 "verify with another public key fails" vmrp verify a.vmrp --pubkey other.pub
expect_err "not by" "the failure names the key ids"
vmrp pack u.vmrp --disk d=d.img --quiet 2>/dev/null
expect_exit 1 "an unsigned archive fails when a key is required" vmrp verify u.vmrp --pubkey k.pub
expect_err "not signed" "the failure says the commit is not signed"
expect_exit 1 "restore --pubkey refuses an unsigned archive" vmrp restore u.vmrp --disk d --output r.img --pubkey k.pub
if [ ! -e r.img ]; then pass "nothing restored from a rejected archive"; else fail "nothing restored from a rejected archive" "r.img exists"; fi
expect_exit 0 "restore --pubkey accepts the signed archive" vmrp restore a.vmrp --disk d --output r.img --pubkey k.pub --quiet
expect_same r.img d.img "restored disk equals the packed disk"

# A byte flipped in the signature itself, and one in a signed block.
size=$(stat -c %s a.vmrp)
cp a.vmrp sig.vmrp
printf '\377' | dd of=sig.vmrp bs=1 seek=$((size - 40)) conv=notrunc 2>/dev/null
expect_exit 1 "a damaged signature fails verify --pubkey" vmrp verify sig.vmrp --pubkey k.pub
cp a.vmrp blk.vmrp
printf '\125' | dd of=blk.vmrp bs=1 seek=300 conv=notrunc 2>/dev/null
expect_exit 1 "a flipped data byte fails verify --pubkey" vmrp verify blk.vmrp --pubkey k.pub

# Rollback: cut the archive back to its first commit. Still validly signed;
# only what the caller remembers can tell.
head=$(vmrp verify a.vmrp --json | sed 's/.*"headHash":"\([0-9a-f]*\)".*/\1/')
# the first point ends where the second segment starts: find it by packing
# the same first point into a copy taken before the second pack
vmrp pack b.vmrp --disk d=d.img --sign k.key --quiet 2>/dev/null
bsize=$(stat -c %s b.vmrp)
gendisk fill d.img 128K 64K 14
vmrp pack b.vmrp --disk d=d.img --sign k.key --quiet 2>/dev/null
bhead=$(vmrp verify b.vmrp --json | sed 's/.*"headHash":"\([0-9a-f]*\)".*/\1/')
truncate -s "$bsize" b.vmrp
expect_exit 0 "an archive cut back to an earlier commit still verifies on its own" vmrp verify b.vmrp --pubkey k.pub
expect_exit 1 "--min-points catches the removed point" vmrp verify b.vmrp --pubkey k.pub --min-points 2
expect_err "fewer than --min-points" "the failure explains the point count"
expect_exit 1 "--expect-head catches the rollback" vmrp verify b.vmrp --expect-head "$bhead"
expect_err "not the expected" "the failure names the expected head"
expect_exit 0 "--expect-head accepts the true head" vmrp verify a.vmrp --expect-head "$head" --min-points 2
expect_exit 2 "--expect-head rejects a malformed hash" vmrp verify a.vmrp --expect-head xyz

# Passphrase-protected keys (scrypt with 1 GiB: skipped in quick runs).
if [ "${E2E_QUICK:-0}" != 1 ]; then
    VMRP_PASSPHRASE=correct-horse expect_exit 0 "keygen with a passphrase from VMRP_PASSPHRASE" \
        vmrp keygen --secret-key p.key --public-key p.pub
    VMRP_PASSPHRASE=wrong expect_exit 4 "a wrong passphrase is exit 4" vmrp pack p.vmrp --disk d=d.img --sign p.key
    expect_err "wrong passphrase" "the message says the passphrase is wrong"
    if [ ! -e p.vmrp ]; then pass "no archive is left by a failed signing pack"; else fail "no archive is left by a failed signing pack" "p.vmrp exists"; fi
    echo correct-horse > pass.txt
    VMRP_PASSPHRASE_FILE=pass.txt expect_exit 0 "VMRP_PASSPHRASE_FILE unlocks the key" vmrp pack p.vmrp --disk d=d.img --sign p.key --quiet
    VMRP_PASSPHRASE_COMMAND="cat pass.txt" expect_exit 0 "VMRP_PASSPHRASE_COMMAND unlocks the key" vmrp pack p.vmrp --disk d=d.img --sign p.key --quiet
    expect_exit 0 "both points verify with the public key" vmrp verify p.vmrp --pubkey p.pub
    expect_exit 4 "no passphrase source at all is exit 4" vmrp pack p.vmrp --disk d=d.img --sign p.key < /dev/null
else
    skip "passphrase-protected signing keys" "E2E_QUICK=1 (scrypt with 1 GiB)"
fi

# A point appended without the key is never taken for the latest signed one.
cp a.vmrp mixed.vmrp
expect_exit 0 "an unsigned point can be appended to a signed archive" vmrp pack mixed.vmrp --disk d=d.img --quiet
expect_exit 1 "restore --pubkey refuses it, not falls back to an older point" vmrp restore mixed.vmrp --disk d --output mixed.img --pubkey k.pub
expect_err "point 3" "the refusal names the unsigned point"
expect_exit 1 "verify --pubkey fails on it" vmrp verify mixed.vmrp --pubkey k.pub
expect_exit 0 "verify without a key passes and counts the signatures" vmrp verify mixed.vmrp
expect_out "signed: 2 of 3 commits" "verify reports 2 of 3 commits signed"

# Format 1.0 archives have no signed commits: signing an append is refused.
cp "$VMRP_FIXTURES/v1/tiny.vmrp" old.vmrp
expect_exit 1 "signing an append to a format 1.0 archive is refused" vmrp pack old.vmrp --disk d0=d.img --sign k.key
expect_err "format 1.0" "the refusal names the format version"
expect_same old.vmrp "$VMRP_FIXTURES/v1/tiny.vmrp" "the 1.0 archive is unchanged"
