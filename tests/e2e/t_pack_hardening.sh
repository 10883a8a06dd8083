# t_pack_hardening.sh - what pack writes and what it appends to: temporary
# files created exclusively, archive modes that follow the umask (0600 when
# encrypted), a signing append that checks whose history it signs, and an
# encrypted archive never appended to without its key unless asked.

gendisk create d.img 1M
gendisk fill d.img 0 128K 81
vmrp keygen --secret-key k.key --public-key k.pub --no-passphrase 2> /dev/null
vmrp keygen --secret-key o.key --public-key o.pub --no-passphrase 2> /dev/null

# Every file pack and keygen create is created exclusively (O_EXCL: never
# through an existing name or symbolic link), temporary ones also with
# O_NOFOLLOW.
if [ -n "${FAULTINJECT:-}" ] && [ -f "$FAULTINJECT" ]; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
    : > creates.log
    for step in 1 2; do
        LD_PRELOAD=$FAULTINJECT VMRP_FAULT_CREATES=$PWD/creates.log \
            $VMRP pack s.vmrp --disk d=d.img --sign k.key --minisig --quiet 2> err ||
            fail "signed pack $step under the create log" "exit $?: $(head -1 err)"
    done
    LD_PRELOAD=$FAULTINJECT VMRP_FAULT_CREATES=$PWD/creates.log \
        $VMRP keygen --secret-key n.key --public-key n.pub --no-passphrase 2> /dev/null
    n=$(wc -l < creates.log)
    loose=$(grep -v '^EXCL ' creates.log | head -3)
    tmp_follow=$(grep '\.tmp\.' creates.log | grep -v '^EXCL NOFOLLOW ' | head -3)
    if [ "$n" -ge 5 ] && [ -z "$loose" ] && [ -z "$tmp_follow" ] &&
        [ "$(grep -c 'minisig\.tmp\.' creates.log)" = 2 ]; then
        pass "pack --minisig and keygen create all $n files exclusively"
    else
        fail "files created exclusively" "$n creates; not exclusive: $loose $tmp_follow"
    fi
    expect_exit 0 "minisign checks the detached signature" sh -c \
        'command -v minisign > /dev/null || exit 0; minisign -V -q -p k.pub -m s.vmrp'
else
    skip "files created exclusively" "FAULTINJECT not set"
fi
# A symbolic link where the detached signature goes is replaced, never
# written through.
echo victim > victim.txt
rm -f s.vmrp.minisig
ln -s victim.txt s.vmrp.minisig
expect_exit 0 "pack --minisig over a symbolic link" vmrp pack s.vmrp --disk d=d.img --sign k.key --minisig --quiet
if [ "$(cat victim.txt)" = victim ] && [ ! -L s.vmrp.minisig ]; then
    pass "the link is replaced by the signature, its target untouched"
else
    fail "the link is replaced by the signature" "victim: $(head -c 40 victim.txt)"
fi
[ -z "$(ls | grep '\.tmp\.')" ] && pass "no temporary file is left behind"

# Modes: 0666 less the umask; 0600 for an encrypted collection.
mode() { stat -c %a "$1"; }
(umask 022 && vmrp pack m1.vmrp --disk d=d.img --quiet) 2> err
[ "$(mode m1.vmrp)" = 644 ] && pass "umask 022: a new archive is 0644" || fail "umask 022: mode" "$(mode m1.vmrp)"
(umask 077 && vmrp pack m2.vmrp --disk d=d.img --quiet) 2> err
[ "$(mode m2.vmrp)" = 600 ] && pass "umask 077: a new archive is 0600" || fail "umask 077: mode" "$(mode m2.vmrp)"
(umask 022 && VMRP_PASSPHRASE=pw vmrp pack e.vmrp --disk d=d.img --encrypt --kdf-memory 1 --kdf-passes 1 --quiet) 2> err
[ "$(mode e.vmrp)" = 600 ] && pass "an encrypted archive is 0600 whatever the umask" || fail "encrypted archive mode" "$(mode e.vmrp)"
chmod 640 m1.vmrp
vmrp pack m1.vmrp --disk d=d.img --quiet 2> err
[ "$(mode m1.vmrp)" = 640 ] && pass "an append keeps the archive's mode" || fail "append keeps the mode" "$(mode m1.vmrp)"

# A signing append signs the whole file (minisign -V checks it whole), so
# it checks that every earlier commit carries its own key's signature.
vmrp pack u.vmrp --disk d=d.img --quiet
cp u.vmrp u.before
expect_exit 1 "a signing append to unsigned history is refused" \
    vmrp pack u.vmrp --disk d=d.img --sign k.key --minisig --quiet
expect_err "not signed" "the refusal says a commit is not signed"
expect_same u.vmrp u.before "the refused archive is unchanged"
[ ! -e u.vmrp.minisig ] && pass "no detached signature is written for it"
expect_exit 0 "--trust-history signs over it when asked" \
    vmrp pack u.vmrp --disk d=d.img --sign k.key --trust-history --quiet
vmrp pack o.vmrp --disk d=d.img --sign o.key --quiet
cp o.vmrp o.before
expect_exit 1 "a signing append to history signed by another key is refused" \
    vmrp pack o.vmrp --disk d=d.img --sign k.key --quiet
expect_same o.vmrp o.before "that archive is unchanged"
expect_exit 0 "--pubkey names the key the history is checked against" \
    vmrp pack o.vmrp --disk d=d.img --sign k.key --pubkey o.pub --quiet
expect_exit 0 "the signer's own history is appended to" \
    vmrp pack s.vmrp --disk d=d.img --sign k.key --quiet
expect_exit 2 "--trust-history without --sign is a usage error" \
    vmrp pack s.vmrp --disk d=d.img --trust-history --quiet

# An encrypted archive and no key: refused (the lost passphrase variable of
# a cron job), unless --keyless says a full unreadable point is wanted.
cp e.vmrp e.before
expect_exit 4 "an append to an encrypted archive without a key is refused" \
    vmrp pack e.vmrp --disk d=d.img --quiet
expect_err "--keyless" "the refusal names --keyless"
expect_same e.vmrp e.before "the encrypted archive is unchanged"
ck=$(VMRP_PASSPHRASE=pw $VMRP inspect e.vmrp --json 2> /dev/null | sed -n 's/.*"collectionKey":"\([0-9a-f]*\)".*/\1/p')
expect_exit 4 "--keyless alone: nothing vouches for the collection key" \
    vmrp pack e.vmrp --disk d=d.img --keyless --quiet
expect_same e.vmrp e.before "the encrypted archive is still unchanged"
expect_exit 0 "--keyless with the collection key pinned appends without the key" \
    vmrp pack e.vmrp --disk d=d.img --keyless --collection-key "$ck" --json
expect_out '"keyless":true' "the append is keyless"
expect_exit 2 "--keyless on an unencrypted archive is a usage error" \
    vmrp pack m1.vmrp --disk d=d.img --keyless --quiet
VMRP_PASSPHRASE=pw expect_exit 0 "the passphrase still opens it for an incremental point" \
    vmrp pack e.vmrp --disk d=d.img --encrypt --json
expect_out '"keyless":false' "that append is not keyless"
