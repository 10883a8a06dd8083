# t_encryption.sh - encrypted archives (format 1.2) through the vmrp
# command: recipient keys and passphrases, every passphrase source, no
# plaintext in the file, incremental and keyless appends, verify with and
# without the key, damage, usage errors, keys of the wrong kind.

unset VMRP_PASSPHRASE VMRP_PASSPHRASE_FILE VMRP_PASSPHRASE_COMMAND
# Argon2id with 1 MiB and one pass: fast, also under valgrind.
KDF="--kdf-memory 1 --kdf-passes 1"
# Uncompressed, so that an unencrypted archive shows the patterns as written.
NC="--compress none"

# A reader without a key asks on /dev/tty: run such commands with no
# controlling terminal, so that they fail instead of waiting for a prompt.
if setsid -w true < /dev/null > /dev/null 2>&1; then
    notty() { setsid -w $VMRP "$@" < /dev/null; }
else
    notty() { vmrp "$@" < /dev/null; }
fi

# json_num KEY: the first numeric value of "KEY" in ./out
json_num() { sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p" out | head -1; }
size() { stat -c %s "$1"; }
# u8 / u32 FILE OFFSET: a little-endian integer of the file
u8() { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '; }
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
# rec_at FILE TYPE N: offset of the Nth record of Record_Type TYPE (walks
# the records from the end of the 128-byte header by their Stored_Size)
rec_at() {
    ra_off=128 ra_end=$(size "$1") ra_n=0
    while [ $((ra_off + 16)) -le "$ra_end" ]; do
        if [ "$(u8 "$1" $((ra_off + 4)))" = "$2" ]; then
            ra_n=$((ra_n + 1))
            if [ "$ra_n" = "$3" ]; then echo "$ra_off"; return 0; fi
        fi
        ra_off=$((ra_off + 16 + $(u32 "$1" $((ra_off + 8)))))
    done
    echo 0
}
# flip FILE OFFSET: invert every bit of one byte
flip() {
    fl_b=$(u8 "$1" "$2")
    printf "\\$(printf %o $((fl_b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
# expect_sha FILE SHA NAME: FILE's sha256 is SHA
expect_sha() {
    if [ -f "$1" ] && [ "$(sha "$1")" = "$2" ]; then pass "$3"; else fail "$3" "$1 differs from what was packed"; fi
}
# expect_grep0 PATTERN FILE NAME: the file holds no line with PATTERN
expect_grep0() {
    eg_n=$(grep -ac -- "$1" "$2")
    if [ "$eg_n" = 0 ]; then pass "$3"; else fail "$3" "'$1' found $eg_n times in $2"; fi
}

# --- inputs: two disks, the VM JSON and a config file, each carrying a
# recognisable pattern that must never appear in an encrypted archive
gendisk create os.img 1M
gendisk fill os.img 0 128K 41
i=0
while [ $i -lt 200 ]; do printf 'ZQXJ7disk-secret-line-%04d\n' $i; i=$((i + 1)); done > pattern.txt
dd if=pattern.txt of=os.img bs=1024 seek=300 conv=notrunc 2>/dev/null
gendisk create data.img 512K
gendisk fill data.img 64K 200K 42
printf '{"name":"enc01","note":"ZQXJ7json-secret"}\n' > vm.json
printf '<domain>ZQXJ7conf-secret</domain>\n' > conf.xml

# remember STATE: keep the current inputs' digests as state STATE
remember() {
    eval "os_$1=\$(sha os.img) data_$1=\$(sha data.img) vm_$1=\$(sha vm.json) conf_$1=\$(sha conf.xml)"
}
# check_restored DIR STATE WHAT: a whole-VM restore equals state STATE
check_restored() {
    eval "cr_os=\$os_$2 cr_data=\$data_$2 cr_vm=\$vm_$2 cr_conf=\$conf_$2"
    expect_sha "$1/disks/os.img" "$cr_os" "$3: disks/os.img"
    expect_sha "$1/disks/data.img" "$cr_data" "$3: disks/data.img"
    expect_sha "$1/vm.json" "$cr_vm" "$3: vm.json"
    expect_sha "$1/config/conf.xml" "$cr_conf" "$3: config/conf.xml"
}

# --- keys
expect_exit 0 "keygen --encryption makes a key pair" \
    vmrp keygen --encryption --secret-key e.key --public-key e.pub --no-passphrase
vmrp keygen --encryption --secret-key other.key --public-key other.pub --no-passphrase 2>/dev/null
vmrp keygen --secret-key s.key --public-key s.pub --no-passphrase 2>/dev/null
vmrp keygen --secret-key s2.key --public-key s2.pub --no-passphrase 2>/dev/null
ekeyid=$(sed -n 's/^untrusted comment: vmrp encryption public key //p' e.pub)

# --- to a recipient: the packing host needs only the public key
remember 1
expect_exit 0 "pack --recipient creates an encrypted archive" \
    vmrp pack r.vmrp --disk os=os.img --disk data=data.img --config vm.json \
    --config-file conf.xml --recipient e.pub $NC --json
w1=$(json_num bytesWritten); w1=${w1:-0}
expect_out '"keyless":false' "pack --json: a new archive is not keyless"
expect_exit 0 "the same inputs unencrypted" \
    vmrp pack plain.vmrp --disk os=os.img --disk data=data.img --config vm.json \
    --config-file conf.xml $NC --quiet
for what in disk json conf; do
    n=$(grep -ac "ZQXJ7$what" plain.vmrp)
    if [ "$n" -gt 0 ]; then pass "the $what pattern is in the unencrypted archive (the check can fail)"
    else fail "the $what pattern is in the unencrypted archive (the check can fail)" "not found"; fi
done
expect_grep0 ZQXJ7 r.vmrp "no pattern of the disks, vm.json or config files in the encrypted archive"

run notty inspect r.vmrp
if [ "$RC" -eq 4 ]; then pass "inspect without a key is exit 4"; else fail "inspect without a key is exit 4" "exit $RC"; fi
expect_err "key slots: recipient $ekeyid" "the refusal names the key slots and the recipient's key id"
run notty restore r.vmrp --output nokey
if [ "$RC" -eq 4 ]; then pass "restore without a key is exit 4"; else fail "restore without a key is exit 4" "exit $RC"; fi
expect_err "key slots: recipient $ekeyid" "the restore refusal names the key slots"
if [ ! -e nokey ]; then pass "nothing restored without the key"; else fail "nothing restored without the key" "nokey exists"; fi
expect_exit 4 "an identity that is not a recipient is exit 4" vmrp inspect r.vmrp --identity other.key
expect_err "not one of its recipients" "the message says the identity is not a recipient"

expect_exit 0 "inspect --identity opens it" vmrp inspect r.vmrp --identity e.key --json
expect_out '"formatVersion":"1.2"' "inspect --json: format 1.2"
expect_out "{\"type\":\"recipient\",\"keyId\":\"$ekeyid\"}" "inspect --json lists the recipient slot"
expect_out 'ZQXJ7json-secret' "inspect --json shows the decrypted VM JSON"
expect_exit 0 "restore --identity of the whole VM" vmrp restore r.vmrp --output vm1 --identity e.key --quiet
check_restored vm1 1 "point 1 restored"

# --- incremental append with the key writes only what changed
gendisk fill os.img 512K 64K 43
remember 2
vm_2=$vm_1 conf_2=$conf_1
s0=$(size r.vmrp)
expect_exit 0 "append with --identity" vmrp pack r.vmrp --disk os=os.img --disk data=data.img \
    --identity e.key $NC --json
w2=$(json_num bytesWritten)
expect_out '"keyless":false' "pack --json: the keyed append is not keyless"
grew=$(($(size r.vmrp) - s0))
if [ "$grew" -eq "${w2:-0}" ]; then pass "bytesWritten is the file's growth"
else fail "bytesWritten is the file's growth" "grew $grew, bytesWritten ${w2:-missing}"; fi
if [ "${w2:-999999999}" -lt $((w1 / 3)) ]; then pass "the keyed append is incremental (wrote $w2 of $w1)"
else fail "the keyed append is incremental" "wrote ${w2:-?}, the first point $w1"; fi

# --- keyless append, on a host that holds the archive and only the public key
# collection_key ARCHIVE: the collection key inspect prints (with a key that
# opens the archive: VMRP_PASSPHRASE or --identity given after the name)
collection_key() {
    a=$1
    shift
    $VMRP inspect "$a" "$@" --json 2> /dev/null | sed -n 's/.*"collectionKey":"\([0-9a-f]*\)".*/\1/p'
}
RCK=$(collection_key r.vmrp --identity e.key)
if [ ${#RCK} = 64 ]; then pass "inspect prints the collection key"; else fail "inspect prints the collection key" "'$RCK'"; fi
cp r.vmrp r.pin
expect_exit 4 "a keyless append with nothing that vouches for the collection key is refused" \
    vmrp pack r.pin --keyless --disk os=os.img --quiet
expect_err "nothing vouches" "the refusal says why"
expect_same r.pin r.vmrp "the refused archive is unchanged"
expect_exit 1 "a keyless append pinned to another collection key is refused" \
    vmrp pack r.pin --keyless --collection-key $(printf '%064d' 0) --disk os=os.img --quiet
expect_same r.pin r.vmrp "that archive is unchanged too"
expect_exit 2 "--collection-key takes 64 hex digits" \
    vmrp pack r.pin --keyless --collection-key abc --disk os=os.img --quiet
mkdir host2
mv r.vmrp host2/
cp e.pub os.img host2/
gendisk fill data.img 300K 64K 44
cp data.img host2/
printf '{"name":"enc01","note":"ZQXJ7json-secret","v":3}\n' > host2/vm.json
printf '<domain>ZQXJ7conf-secret v3</domain>\n' > host2/conf.xml
cp host2/vm.json vm.json
cp host2/conf.xml conf.xml
remember 3
s0=$(size host2/r.vmrp)
cd host2
expect_exit 0 "keyless append: no identity, no passphrase" vmrp pack r.vmrp --keyless --collection-key $RCK --disk os=os.img \
    --disk data=data.img --config vm.json --config-file conf.xml $NC --json
w3=$(json_num bytesWritten)
expect_out '"keyless":true' "pack --json: keyless:true"
expect_err "no key was given" "the keyless append says so on stderr"
cd ..
mv host2/r.vmrp r.vmrp
if [ $(($(size r.vmrp) - s0)) -eq "${w3:-0}" ]; then pass "keyless bytesWritten is the file's growth"
else fail "keyless bytesWritten is the file's growth" "bytesWritten ${w3:-missing}"; fi
if [ "${w3:-0}" -ge $((w1 * 9 / 10)) ]; then pass "the keyless append stores a full point ($w3 bytes)"
else fail "the keyless append stores a full point" "wrote ${w3:-?}, the first point $w1"; fi
run vmrp inspect r.vmrp 3 --json --identity e.key
if [ "$(tr '{' '\n' < out | grep -c '"full":true')" = 2 ]; then pass "inspect: both disks of the keyless point are full"
else fail "inspect: both disks of the keyless point are full" "$(tr '{' '\n' < out | grep -o '"full":[a-z]*' | tr '\n' ' ')"; fi
run vmrp inspect r.vmrp 2 --json --identity e.key
if [ "$(tr '{' '\n' < out | grep -c '"full":false')" = 2 ]; then pass "inspect: the keyed point 2 is a delta"
else fail "inspect: the keyed point 2 is a delta" "$(grep -o '"full":[a-z]*' out | tr '\n' ' ')"; fi

# A keyed append after the keyless one does not build on it (its writer
# chose its own keys): the disks are stored in full once more, and the
# configuration comes from the newest point written with the key.
gendisk fill os.img 0 4K 45
remember 4
vm_4=$vm_2 conf_4=$conf_2
expect_exit 0 "a keyed append after the keyless one" vmrp pack r.vmrp --disk os=os.img \
    --disk data=data.img --identity e.key $NC --json
# (full maps; blocks it shares with points 1 and 2, of its own id space,
# are still stored once)
run vmrp inspect r.vmrp 4 --json --identity e.key
if [ "$(tr '{' '\n' < out | grep -c '"full":true')" = 2 ]; then pass "inspect: both disks of point 4 are full"
else fail "inspect: both disks of point 4 are full" "$(grep -o '"full":[a-z]*' out | tr '\n' ' ')"; fi
# and the next keyed append is incremental again
gendisk fill os.img 8K 4K 49
remember 9
vm_9=$vm_4 conf_9=$conf_4
expect_exit 0 "a second keyed append" vmrp pack r.vmrp --disk os=os.img --disk data=data.img \
    --identity e.key $NC --json
w9=$(json_num bytesWritten)
if [ "${w9:-999999999}" -lt $((w1 / 3)) ]; then pass "the next keyed append is incremental again (wrote $w9)"
else fail "the next keyed append is incremental again" "wrote ${w9:-?}"; fi
expect_exit 0 "restore point 5 with the key" vmrp restore r.vmrp --point 5 --output r5 --identity e.key --quiet
check_restored r5 9 "recipient archive, point 5"

for p in 1 2 3 4; do
    expect_exit 0 "restore point $p with the key" vmrp restore r.vmrp --point $p --output r$p --identity e.key --quiet
    check_restored r$p $p "recipient archive, point $p"
done
expect_exit 0 "restore one disk to stdout with the key" vmrp restore r.vmrp --point 3 --disk data --output - --identity e.key --quiet
expect_sha out "$data_3" "the disk from stdout is the packed one"
expect_grep0 ZQXJ7 r.vmrp "after four appends, still no pattern in the encrypted archive"

# --- verify without and with the key
expect_exit 0 "verify without a key passes" vmrp verify r.vmrp
expect_out "contents not checked" "verify without a key says the contents were not checked"
expect_exit 0 "verify --json without a key" vmrp verify r.vmrp --json
expect_out '"encrypted":true' "verify --json: encrypted:true"
expect_out '"contentChecked":false' "verify --json without a key: contentChecked:false"
expect_exit 0 "verify --identity passes" vmrp verify r.vmrp --identity e.key
expect_out "contents decrypted and checked" "verify --identity says the contents were checked"
expect_exit 0 "verify --identity --json" vmrp verify r.vmrp --identity e.key --json
expect_out '"contentChecked":true' "verify --json with the key: contentChecked:true"
expect_exit 0 "verify --identity reads stdin" sh -c "$VMRP verify - --identity e.key < r.vmrp"
expect_out "contents decrypted and checked" "verify - with the key checks the contents"
expect_exit 0 "verify --quick --identity passes" vmrp verify r.vmrp --identity e.key --quick
expect_out "blocks not decrypted (--quick)" "verify --quick --identity says the blocks were not decrypted"
expect_exit 0 "verify --quick --identity --json" vmrp verify r.vmrp --identity e.key --quick --json
expect_out '"contentChecked":false' "verify --quick --json with the key: contentChecked:false"
expect_exit 0 "verify of an unencrypted archive" vmrp verify plain.vmrp --json
expect_out '"encrypted":false' "verify --json of an unencrypted archive: encrypted:false"

# --- passphrase
remember 5
VMRP_PASSPHRASE=correct-horse expect_exit 0 "pack --encrypt with VMRP_PASSPHRASE" \
    vmrp pack p.vmrp --disk os=os.img --disk data=data.img --config vm.json \
    --config-file conf.xml --encrypt $KDF $NC --json
pw1=$(json_num bytesWritten); pw1=${pw1:-0}
expect_grep0 ZQXJ7 p.vmrp "no pattern in the passphrase-encrypted archive"
VMRP_PASSPHRASE=correct-horse expect_exit 0 "inspect with VMRP_PASSPHRASE" vmrp inspect p.vmrp --json
expect_out '"type":"passphrase","kdf":"argon2id","opslimit":1,"memlimitBytes":1048576' \
    "inspect --json: the passphrase slot has the --kdf-* values"
echo correct-horse > pass.txt
VMRP_PASSPHRASE_FILE=pass.txt expect_exit 0 "inspect with VMRP_PASSPHRASE_FILE" vmrp inspect p.vmrp
VMRP_PASSPHRASE_COMMAND="cat pass.txt" expect_exit 0 "inspect with VMRP_PASSPHRASE_COMMAND" vmrp inspect p.vmrp
VMRP_PASSPHRASE=wrong expect_exit 4 "a wrong passphrase is exit 4" vmrp inspect p.vmrp
expect_err "passphrase is wrong" "the message says the passphrase is wrong"
VMRP_PASSPHRASE=wrong expect_exit 4 "restore with a wrong passphrase is exit 4" vmrp restore p.vmrp --output wrong
if [ ! -e wrong ]; then pass "nothing restored with a wrong passphrase"; else fail "nothing restored with a wrong passphrase" "wrong exists"; fi
VMRP_PASSPHRASE_COMMAND=false expect_exit 4 "a failing VMRP_PASSPHRASE_COMMAND is exit 4" vmrp inspect p.vmrp
run notty inspect p.vmrp
if [ "$RC" -eq 4 ]; then pass "no passphrase at all is exit 4"; else fail "no passphrase at all is exit 4" "exit $RC"; fi
expect_err "key slots: passphrase" "the refusal names the passphrase slot"
run notty pack nopass.vmrp --disk os=os.img --encrypt $KDF
if [ "$RC" -eq 4 ]; then pass "pack --encrypt with no passphrase is exit 4"; else fail "pack --encrypt with no passphrase is exit 4" "exit $RC"; fi
if [ ! -e nopass.vmrp ]; then pass "no archive is left without a passphrase"; else fail "no archive is left without a passphrase" "nopass.vmrp exists"; fi
VMRP_PASSPHRASE_FILE=pass.txt expect_exit 0 "restore with VMRP_PASSPHRASE_FILE" \
    vmrp restore p.vmrp --output p1 --quiet
check_restored p1 5 "passphrase archive, point 1"

gendisk fill data.img 0 64K 46
remember 6
vm_6=$vm_5 conf_6=$conf_5
VMRP_PASSPHRASE_FILE=pass.txt expect_exit 0 "append with --encrypt and VMRP_PASSPHRASE_FILE" \
    vmrp pack p.vmrp --disk os=os.img --disk data=data.img --encrypt $NC --json
expect_out '"keyless":false' "the passphrase append is not keyless"
pw2=$(json_num bytesWritten)
if [ "${pw2:-999999999}" -lt $((pw1 / 3)) ]; then pass "the passphrase append is incremental (wrote $pw2 of $pw1)"
else fail "the passphrase append is incremental" "wrote ${pw2:-?}, the first point $pw1"; fi
gendisk fill os.img 64K 4K 47
remember 7
vm_7=$vm_5 conf_7=$conf_5
VMRP_PASSPHRASE_COMMAND="cat pass.txt" expect_exit 0 "append with --encrypt and VMRP_PASSPHRASE_COMMAND" \
    vmrp pack p.vmrp --disk os=os.img --disk data=data.img --encrypt $NC --json
expect_out '"keyless":false' "the --encrypt append opened the archive"

cp p.vmrp p.before
gendisk fill os.img 128K 4K 48
VMRP_PASSPHRASE=wrong expect_exit 4 "an append with a wrong passphrase is exit 4" \
    vmrp pack p.vmrp --disk os=os.img --disk data=data.img --encrypt
expect_same p.vmrp p.before "the failed append left the archive byte-identical"
remember 8
PCK=$(VMRP_PASSPHRASE=correct-horse collection_key p.vmrp)
expect_exit 0 "a keyless append to the passphrase archive" vmrp pack p.vmrp --keyless --collection-key "$PCK" --disk os=os.img \
    --disk data=data.img --config vm.json --config-file conf.xml $NC --json
expect_out '"keyless":true' "pack --json: keyless:true"
for p in 5 6 7 8; do
    seq=$((p - 4))
    VMRP_PASSPHRASE=correct-horse expect_exit 0 "restore passphrase point $seq" \
        vmrp restore p.vmrp --point $seq --output pp$seq --quiet
    check_restored pp$seq $p "passphrase archive, point $seq"
done
VMRP_PASSPHRASE=correct-horse expect_exit 0 "verify with the passphrase" vmrp verify p.vmrp --json
expect_out '"contentChecked":true' "verify with VMRP_PASSPHRASE checks the contents"
expect_grep0 ZQXJ7 p.vmrp "still no pattern after the appends"

# --- a streamed encrypted archive
run sh -c "$VMRP pack - --disk os=os.img --recipient e.pub --quiet > st.vmrp"
if [ "$RC" -eq 0 ]; then pass "pack - --recipient streams an encrypted archive"; else fail "pack - --recipient streams an encrypted archive" "exit $RC"; fi
expect_exit 0 "the streamed archive restores with the key" \
    vmrp restore st.vmrp --disk os --output st.img --identity e.key --quiet
expect_same st.img os.img "the streamed archive's disk is the packed one"

# --- signed and encrypted: signatures checked without the secret
VMRP_PASSPHRASE=pw expect_exit 0 "pack --sign --encrypt" \
    vmrp pack se.vmrp --disk os=os.img --sign s.key --encrypt $KDF --quiet
VMRP_PASSPHRASE=pw expect_exit 0 "a second signed point, opened by the passphrase" \
    vmrp pack se.vmrp --disk os=os.img --disk data=data.img --sign s.key --encrypt --json
expect_out '"keyless":false' "--encrypt opened the archive with the passphrase"
# VMRP_PASSPHRASE can belong to a protected signing key: without --encrypt
# an append does not try it on the archive, it appends without the key
VMRP_PASSPHRASE=signpass expect_exit 0 "keygen: a protected signing key" \
    vmrp keygen --secret-key sp.key --public-key sp.pub
cp r.vmrp rs.vmrp
VMRP_PASSPHRASE=signpass expect_exit 0 "a signed keyless append with a protected signing key" \
    vmrp pack rs.vmrp --disk os=os.img --sign sp.key --keyless --collection-key $RCK --trust-history --json
expect_out '"keyless":true' "the passphrase went to the signing key, not the archive"
expect_exit 0 "verify --pubkey without the secret" vmrp verify se.vmrp --pubkey s.pub
expect_out "signatures verified" "the signatures are verified without the secret"
expect_out "contents not checked" "and the contents are reported unchecked"
expect_exit 0 "verify --pubkey --json" vmrp verify se.vmrp --pubkey s.pub --json
expect_out '"signaturesChecked":true' "verify --json: signaturesChecked:true"
expect_out '"contentChecked":false' "verify --json: contentChecked:false without the secret"
VMRP_PASSPHRASE=pw expect_exit 0 "verify --pubkey and the passphrase" vmrp verify se.vmrp --pubkey s.pub --json
expect_out '"signaturesChecked":true,"encrypted":true,"contentChecked":true' "both signatures and contents checked"
expect_exit 1 "verify --pubkey with another signing key fails" vmrp verify se.vmrp --pubkey s2.pub
VMRP_PASSPHRASE=pw expect_exit 0 "restore --pubkey with the passphrase" \
    vmrp restore se.vmrp --disk data --output se.img --pubkey s.pub --quiet
expect_same se.img data.img "the signed and encrypted disk restores"
# pack --pubkey: append only to a chain signed by the key (what vouches for
# the collection key of a keyless append)
expect_exit 0 "pack --pubkey appends to a chain signed by the key" \
    vmrp pack se.vmrp --disk os=os.img --pubkey s.pub --sign s.key --keyless --quiet
cp se.vmrp se.before
expect_exit 1 "pack --pubkey with another signing key is exit 1" \
    vmrp pack se.vmrp --disk os=os.img --pubkey s2.pub --keyless --quiet
expect_err "is signed by key" "the refusal names the signer"
expect_same se.vmrp se.before "the refused append left the archive byte-identical"
expect_exit 4 "pack --pubkey with an encryption key is exit 4" \
    vmrp pack se.vmrp --disk os=os.img --pubkey e.pub --keyless --quiet
SCK=$(VMRP_PASSPHRASE=pw collection_key se.vmrp)
expect_exit 0 "an unsigned keyless point appended to it" vmrp pack se.vmrp --keyless --collection-key "$SCK" --disk os=os.img --quiet
expect_exit 1 "verify --pubkey then fails" vmrp verify se.vmrp --pubkey s.pub
expect_err "not signed" "the failure says a commit is not signed"
cp se.vmrp se.before
expect_exit 1 "pack --pubkey refuses a chain with an unsigned commit" \
    vmrp pack se.vmrp --disk os=os.img --pubkey s.pub --sign s.key --keyless --quiet
expect_same se.vmrp se.before "and leaves the archive byte-identical"

# --- damage: every flipped byte is exit 1, with and without the key
# damaged NAME ARCHIVE OFFSET KEYARGS...: flip one byte of a copy, verify
damaged() {
    dm_name=$1 dm_src=$2 dm_off=$3
    shift 3
    cp "$dm_src" bad.vmrp
    flip bad.vmrp "$dm_off"
    expect_exit 1 "$dm_name: verify without the key" vmrp verify bad.vmrp
    expect_err "FAILED" "$dm_name: verify without the key reports it"
    if [ $# -gt 0 ]; then
        expect_exit 1 "$dm_name: verify with the key" "$@" verify bad.vmrp
        expect_err "FAILED" "$dm_name: verify with the key reports it"
    fi
}
withkey() { vmrp "$1" "$2" --identity e.key; }
withpass() { VMRP_PASSPHRASE=correct-horse vmrp "$@"; }
blk=$(rec_at r.vmrp 1 1)
keys1=$(rec_at r.vmrp 7 1)
keys2=$(rec_at r.vmrp 7 2)
slot=$((keys1 + 16 + 200))
if [ "$blk" -gt 0 ] && [ "$keys1" = 128 ] && [ "$keys2" -gt 0 ]; then pass "found the BLOCK and KEYS records"
else fail "found the BLOCK and KEYS records" "block $blk, keys $keys1 $keys2"; fi
damaged "a byte inside a BLOCK record" r.vmrp $((blk + 16 + 100)) withkey
damaged "a byte of a BLOCK record's header" r.vmrp $((blk + 8)) withkey
damaged "a byte of the KEYS record's sealed segment keys" r.vmrp $((keys1 + 16 + 100)) withkey
damaged "a reserved byte of the KEYS record" r.vmrp $((keys1 + 16 + 40)) withkey
damaged "a byte of point 2's KEYS record" r.vmrp $((keys2 + 16 + 100)) withkey
damaged "the Slot_Type of a key slot" r.vmrp "$slot" withkey
damaged "a reserved byte of a key slot" r.vmrp $((slot + 3)) withkey
# A byte of a slot's sealed key, and of the collection public key (which a
# passphrase slot authenticates): checked without the key only. With the
# key, the sequential verify tries the slot before the segment's INDEX has
# told whether the KEYS record is intact, and reports a wrong key (exit 4).
damaged "a byte of a recipient slot's sealed key" r.vmrp $((slot + 100))
damaged "a byte of the collection public key" p.vmrp $((128 + 16 + 5))
damaged "a byte of the file header" r.vmrp 40 withkey
damaged "a byte of the header of a passphrase archive" p.vmrp 40 withpass
damaged "a byte inside a BLOCK record of a passphrase archive" p.vmrp $(($(rec_at p.vmrp 1 1) + 16 + 100)) withpass
cp r.vmrp bad.vmrp
flip bad.vmrp $((blk + 16 + 100))
expect_exit 1 "restore --identity of a damaged point is exit 1" \
    vmrp restore bad.vmrp --point 1 --disk os --output bad.img --identity e.key
if [ ! -e bad.img ]; then pass "nothing restored from the damaged point"; else fail "nothing restored from the damaged point" "bad.img exists"; fi

# --- usage errors (exit 2); the archives stay as they were
cp r.vmrp r.before
cp plain.vmrp plain.before
expect_exit 2 "--recipient on an existing encrypted archive" \
    vmrp pack r.vmrp --disk os=os.img --recipient e.pub --identity e.key
expect_err "recipients are fixed" "the refusal says the recipients are fixed"
expect_exit 2 "--recipient on an existing unencrypted archive" vmrp pack plain.vmrp --disk os=os.img --recipient e.pub
expect_err "plain.vmrp is not encrypted" "the refusal names the unencrypted archive"
VMRP_PASSPHRASE=pw expect_exit 2 "--encrypt on an existing unencrypted archive" vmrp pack plain.vmrp --disk os=os.img --encrypt
expect_exit 2 "--identity on a new archive" vmrp pack new.vmrp --disk os=os.img --identity e.key
if [ ! -e new.vmrp ]; then pass "no archive is left by the refused --identity"; else fail "no archive is left by the refused --identity" "new.vmrp exists"; fi
VMRP_PASSPHRASE=pw expect_exit 2 "--kdf-memory 0" vmrp pack new.vmrp --disk os=os.img --encrypt --kdf-memory 0
VMRP_PASSPHRASE=pw expect_exit 2 "--kdf-memory 2000" vmrp pack new.vmrp --disk os=os.img --encrypt --kdf-memory 2000
expect_err "--kdf-memory" "the message names --kdf-memory"
VMRP_PASSPHRASE=pw expect_exit 2 "--kdf-passes 0" vmrp pack new.vmrp --disk os=os.img --encrypt --kdf-passes 0
VMRP_PASSPHRASE=pw expect_exit 2 "--kdf-passes 11" vmrp pack new.vmrp --disk os=os.img --encrypt --kdf-passes 11

# --- keys of the wrong kind: exit 4, naming the file
expect_exit 4 "a signing public key as --recipient" vmrp pack new.vmrp --disk os=os.img --recipient s.pub
expect_err "s.pub: is a signing key; --recipient needs an encryption public key" "the refusal names s.pub"
expect_exit 4 "an encryption secret key file as --recipient" vmrp pack new.vmrp --disk os=os.img --recipient e.key
expect_err "e.key" "the refusal names e.key"
expect_exit 4 "a signing key as pack --identity" vmrp pack r.vmrp --disk os=os.img --identity s.key
expect_err "s.key: is a signing key; --identity needs an encryption secret key" "the refusal names s.key"
expect_exit 4 "a signing key as inspect --identity" vmrp inspect r.vmrp --identity s.key
expect_err "s.key" "inspect names s.key"
expect_exit 4 "a signing key as restore --identity" vmrp restore r.vmrp --output sk --identity s.key
expect_exit 4 "a signing key as verify --identity" vmrp verify r.vmrp --identity s.key
expect_err "s.key" "verify names s.key"
expect_exit 4 "a public key file as --identity" vmrp inspect r.vmrp --identity e.pub
expect_err "e.pub" "the refusal names e.pub"
VMRP_PASSPHRASE=pw expect_exit 4 "an encryption key as --sign" vmrp pack new.vmrp --disk os=os.img --encrypt --sign e.key
expect_err "e.key: is an encryption key; --sign needs a signing key" "the refusal names e.key and --sign"
expect_exit 4 "an encryption public key as --pubkey" vmrp verify se.vmrp --pubkey e.pub
expect_err "e.pub: is an encryption key; --pubkey needs a signing public key" "the refusal names e.pub and --pubkey"
if [ ! -e new.vmrp ]; then pass "no archive is left by the refused packs"; else fail "no archive is left by the refused packs" "new.vmrp exists"; fi

# --- failed appends leave the archive byte-identical
expect_exit 4 "an append with an identity that is not a recipient" \
    vmrp pack r.vmrp --disk os=os.img --identity other.key
expect_exit 3 "a keyless append with a missing disk" vmrp pack r.vmrp --disk os=missing.img --keyless
expect_same r.vmrp r.before "the encrypted archive is byte-identical after the failed packs"
expect_same plain.vmrp plain.before "the unencrypted archive is byte-identical after the refused packs"

# --- restore never clobbers without --force
printf 'keep me\n' > keep.img
keep=$(sha keep.img)
expect_exit 3 "restore --identity onto an existing file" \
    vmrp restore r.vmrp --disk os --output keep.img --identity e.key
expect_err "--force" "the refusal mentions --force"
expect_sha keep.img "$keep" "the existing file is untouched"
run notty restore r.vmrp --disk os --output keep.img
expect_sha keep.img "$keep" "the existing file is untouched by a keyless restore"
expect_exit 3 "restore --identity into a non-empty directory" vmrp restore r.vmrp --output r1 --identity e.key
check_restored r1 1 "the non-empty directory is untouched"
expect_exit 0 "restore --identity --force replaces it" \
    vmrp restore r.vmrp --disk os --output keep.img --identity e.key --force --quiet
expect_sha keep.img "$os_9" "the replaced file is the packed disk"
