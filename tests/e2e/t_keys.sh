# t_keys.sh - encryption key pairs (vmrp keygen --encryption), and keys of
# the wrong kind refused where signing keys are needed.

gendisk create d.img 1M
gendisk fill d.img 0 100K 21

expect_exit 0 "keygen --encryption makes an unprotected key pair" \
    vmrp keygen --encryption --secret-key e.key --public-key e.pub --no-passphrase
expect_err "encryption key" "keygen says it made an encryption key"
if [ "$(stat -c %a e.key)" = 600 ]; then pass "encryption secret key file is mode 0600"
else fail "encryption secret key file is mode 0600" "mode $(stat -c %a e.key)"; fi
expect_true "the public key file names an encryption key" grep -q '^untrusted comment: vmrp encryption public key [0-9A-F]\{16\}$' e.pub
expect_true "the secret key file names an encryption key" grep -q '^untrusted comment: vmrp encryption secret key$' e.key
expect_true "the public key is \"X1\" (base64 WD...)" grep -q '^WD' e.pub
cp e.key e.key.before
expect_exit 3 "keygen --encryption refuses to replace an existing key" \
    vmrp keygen --encryption --secret-key e.key --public-key e2.pub --no-passphrase
expect_same e.key e.key.before "the existing encryption key is untouched"
vmrp keygen --secret-key s.key --public-key s.pub --no-passphrase 2>/dev/null

expect_exit 4 "pack --sign refuses an encryption key" vmrp pack a.vmrp --disk d=d.img --sign e.key
expect_err "e.key: is an encryption key; --sign needs a signing key" "the refusal names the file and the option"
if [ ! -e a.vmrp ]; then pass "no archive is left by the refused --sign"; else fail "no archive is left by the refused --sign" "a.vmrp exists"; fi
expect_exit 0 "a signing key still signs" vmrp pack a.vmrp --disk d=d.img --sign s.key --quiet
expect_exit 4 "verify --pubkey refuses an encryption public key" vmrp verify a.vmrp --pubkey e.pub
expect_err "e.pub: is an encryption key; --pubkey needs a signing public key" "the --pubkey refusal names the file"
expect_exit 4 "verify --pubkey refuses a secret key file" vmrp verify a.vmrp --pubkey s.key
expect_err "secret key file" "the refusal says it is a secret key file"
expect_exit 0 "verify --pubkey with the signing public key passes" vmrp verify a.vmrp --pubkey s.pub

if command -v minisign > /dev/null 2>&1; then
    run minisign -S -s e.key -m d.img < /dev/null
    if [ "$RC" -ne 0 ]; then pass "minisign refuses to sign with an encryption key"
    else fail "minisign refuses to sign with an encryption key" "exit 0"; fi
    if [ ! -e d.img.minisig ]; then pass "minisign wrote no signature"; else fail "minisign wrote no signature" "d.img.minisig exists"; fi
else
    skip "minisign refuses to sign with an encryption key" "minisign not found"
fi

# A protected encryption key of the wrong kind is refused before any
# passphrase is asked (scrypt with 1 GiB: skipped in quick runs).
if [ "${E2E_QUICK:-0}" != 1 ]; then
    VMRP_PASSPHRASE=correct-horse expect_exit 0 "keygen --encryption with a passphrase" \
        vmrp keygen --encryption --secret-key pe.key --public-key pe.pub
    expect_err "passphrase-protected" "keygen says the key is protected"
    expect_exit 4 "pack --sign refuses a protected encryption key without a passphrase" \
        vmrp pack b.vmrp --disk d=d.img --sign pe.key < /dev/null
    expect_err "is an encryption key" "the refusal names the kind, not the passphrase"
else
    skip "a protected encryption key given to --sign" "E2E_QUICK=1 (scrypt with 1 GiB)"
fi
