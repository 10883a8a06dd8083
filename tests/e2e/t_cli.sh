# t_cli.sh - bad input: every case checks the exit code of DESIGN.md
# section 5, that stderr names what is at fault, and that nothing was lost
# (a refused pack leaves the archive as it was, or never creates it).

# bad CODE NAME TEXT CMD...: exit CODE and TEXT on stderr
bad() {
    b_code=$1 b_name=$2 b_text=$3
    shift 3
    expect_exit "$b_code" "$b_name: exit $b_code" "$@"
    expect_err "$b_text" "$b_name: stderr names '$b_text'"
}

# absent FILE NAME: a refused pack did not leave FILE behind
absent() {
    if [ -e "$1" ]; then fail "$2" "$1 exists"; rm -f "$1"; else pass "$2"; fi
}

# unchanged FILE COPY NAME
unchanged() { expect_same "$1" "$2" "$3: archive unchanged"; }

gendisk create d.img 1M
gendisk fill d.img 0 200K 1
gendisk text d.img 512K 100K 2
gendisk create e.img 512K
gendisk fill e.img 64K 64K 3

# ---- pack: inputs ------------------------------------------------------------
bad 3 "missing disk file" "nosuch-disk.img" vmrp pack new.vmrp --disk d=nosuch-disk.img
absent new.vmrp "missing disk file: no archive created"

# A mode-000 disk. Root reads it all the same, so as root (as in CI) the
# pack runs as uid/gid 65534 (nobody), in a directory that user owns (run.sh
# leaves the test directories searchable). A pack of a readable disk there
# first proves that user can run vmrp and write the archive, so that the
# refusal can only come from the disk; when the build directory is out of its
# reach, it runs a copy of the binary (the last word of $VMRP).
mkdir ro
gendisk create ro/ok.img 64K
gendisk create ro/locked.img 64K
chmod 000 ro/locked.img
as_user= ro_vmrp=$VMRP
if [ "$(id -u)" = 0 ]; then
    as_user="setpriv --reuid=65534 --regid=65534 --clear-groups --"
    chown 65534:65534 ro
    # shellcheck disable=SC2086
    ro_probe() { $as_user $ro_vmrp pack ro/probe.vmrp --disk d=ro/ok.img --quiet > /dev/null 2>&1; }
    if ! command -v setpriv > /dev/null 2>&1; then
        as_user=none
    elif ! ro_probe; then
        cp "${VMRP##* }" ro/vmrp
        ro_vmrp="${VMRP%"${VMRP##* }"}$PWD/ro/vmrp"
        ro_probe || as_user=none
    fi
    rm -f ro/probe.vmrp
fi
if [ "$as_user" = none ]; then
    skip "unreadable disk" "running as root, and uid 65534 cannot run vmrp in $PWD/ro"
else
    # shellcheck disable=SC2086
    bad 3 "unreadable disk${as_user:+ (as uid 65534)}" "locked.img" \
        $as_user $ro_vmrp pack ro/new.vmrp --disk d=ro/locked.img
    absent ro/new.vmrp "unreadable disk: no archive created"
fi
rm -rf ro

gendisk create zero.img 0
expect_exit 0 "zero-length disk packs" vmrp pack z.vmrp --disk empty=zero.img --disk d=d.img
expect_exit 0 "zero-length disk: verify" vmrp verify z.vmrp
expect_exit 0 "zero-length disk: restore" vmrp restore z.vmrp --disk empty --output zero-out.img
if [ -f zero-out.img ] && [ ! -s zero-out.img ]; then pass "zero-length disk restores to a 0-byte file"
else fail "zero-length disk restores to a 0-byte file" "$(ls -l zero-out.img 2>&1)"; fi
run vmrp inspect z.vmrp --json
expect_out '"diskName":"empty"' "zero-length disk: inspect lists it"
expect_out '"diskSizeBytes":0' "zero-length disk: inspect shows size 0"

mkdir adir
bad 3 "directory given as disk" "adir" vmrp pack new.vmrp --disk d=adir
absent new.vmrp "directory given as disk: no archive created"
bad 2 "duplicate --disk name" "dupdisk" vmrp pack new.vmrp --disk dupdisk=d.img --disk dupdisk=e.img
absent new.vmrp "duplicate --disk name: no archive created"
bad 2 "disk name ../x" "../x" vmrp pack new.vmrp --disk ../x=d.img
bad 2 "disk name .hidden" ".hidden" vmrp pack new.vmrp --disk .hidden=d.img
bad 2 "disk name with a slash" "a/b" vmrp pack new.vmrp --disk a/b=d.img
bad 2 "--disk without =PATH" "--disk" vmrp pack new.vmrp --disk d
absent new.vmrp "bad disk names: no archive created"

# ---- pack: usage -----------------------------------------------------------
bad 2 "pack without ARCHIVE" "ARCHIVE" vmrp pack --disk d=d.img
bad 2 "pack with an unknown option" "--frobnicate" vmrp pack new.vmrp --disk d=d.img --frobnicate
bad 2 "pack without --disk" "--disk" vmrp pack new.vmrp
bad 2 "--block-size 3000" "3000" vmrp pack new.vmrp --disk d=d.img --block-size 3000
bad 2 "--block-size 8M" "8M" vmrp pack new.vmrp --disk d=d.img --block-size 8M
bad 2 "--compress zstd:99" "zstd:99" vmrp pack new.vmrp --disk d=d.img --compress zstd:99
bad 2 "--compress lz4" "lz4" vmrp pack new.vmrp --disk d=d.img --compress lz4
bad 2 "--consistency sometimes" "sometimes" vmrp pack new.vmrp --disk d=d.img --consistency sometimes
bad 2 "--max-points 0" "--max-points" vmrp pack new.vmrp --disk d=d.img --max-points 0
bad 2 "--dedup-memory 0" "--dedup-memory" vmrp pack new.vmrp --disk d=d.img --dedup-memory 0
bad 2 "--dedup-memory 65537" "65537" vmrp pack new.vmrp --disk d=d.img --dedup-memory 65537
bad 2 "--dedup-memory 1G" "1G" vmrp pack new.vmrp --disk d=d.img --dedup-memory 1G
absent new.vmrp "usage errors: no archive created"

# A deduplication table at its smallest bound still packs what reads back.
gendisk create dm.img 3M
gendisk fill dm.img 0 1M 41
gendisk fill dm.img 2M 1M 41
expect_exit 0 "--dedup-memory 1: pack" vmrp pack dm.vmrp --disk d=dm.img --block-size 4K \
    --dedup-memory 1 --json --quiet
expect_out '"dedupBlocks":256' "--dedup-memory 1: the copy is found"
expect_exit 0 "--dedup-memory 1: restore" vmrp restore dm.vmrp --disk d --output dm-out.img
expect_same dm.img dm-out.img "--dedup-memory 1: restored bytes equal"

# ---- pack: configuration -----------------------------------------------------
printf '{"name": "vm1", ' > notjson.json
bad 3 "--config that is not JSON" "notjson.json" vmrp pack new.vmrp --disk d=d.img --config notjson.json
absent new.vmrp "--config not JSON: no archive created"
echo '[1, 2, 3]' > array.json
bad 3 "--config that is a JSON array" "array.json" vmrp pack new.vmrp --disk d=d.img --config array.json
bad 3 "--config that does not exist" "nosuch.json" vmrp pack new.vmrp --disk d=d.img --config nosuch.json
absent new.vmrp "bad --config: no archive created"

# an existing archive, to which refused appends must not do anything
expect_exit 0 "pack the reference archive" vmrp pack a.vmrp --disk d=d.img --disk e=e.img --name first
cp a.vmrp a.copy

mkdir -p evil
echo "payload" > evil/x
tar -cf evil.tar --transform 's,^evil/x,conf/../../escape,' evil/x 2>/dev/null
bad 3 "--config-file tar with a ../ entry" "../escape" vmrp pack a.vmrp --disk d=d.img --config-file evil.tar
unchanged a.vmrp a.copy "--config-file tar with a ../ entry"
tar -cf evil2.tar --transform 's,^evil/x,../escape,' evil/x 2>/dev/null
bad 3 "--config-file tar with a leading ../ entry" "../escape" vmrp pack a.vmrp --disk d=d.img --config-file evil2.tar
unchanged a.vmrp a.copy "--config-file tar with a leading ../ entry"
bad 3 "--config-file that does not exist" "nosuch.cfg" vmrp pack a.vmrp --disk d=d.img --config-file nosuch.cfg
unchanged a.vmrp a.copy "--config-file that does not exist"
bad 3 "missing disk on append" "nosuch-disk.img" vmrp pack a.vmrp --disk d=nosuch-disk.img
unchanged a.vmrp a.copy "missing disk on append"

# ---- pack: appends that the archive refuses -----------------------------------
bad 2 "--block-size different from the archive's" "block size" vmrp pack a.vmrp --disk d=d.img --block-size 4K
unchanged a.vmrp a.copy "--block-size different from the archive's"
cp a.copy a.vmrp
bad 3 "duplicate point name on append" "first" vmrp pack a.vmrp --disk d=d.img --name first
unchanged a.vmrp a.copy "duplicate point name on append"
cp a.copy a.vmrp
bad 2 "point name made of digits" "123" vmrp pack a.vmrp --disk d=d.img --name 123
unchanged a.vmrp a.copy "point name made of digits"
cp a.copy a.vmrp
bad 2 "point name 'latest'" "latest" vmrp pack a.vmrp --disk d=d.img --name latest
unchanged a.vmrp a.copy "point name 'latest'"
cp a.copy a.vmrp

# ---- restore targets ---------------------------------------------------------
echo "precious" > target.img
cp target.img target.copy
bad 3 "restore onto an existing file without --force" "target.img" \
    vmrp restore a.vmrp --disk d --output target.img
expect_same target.img target.copy "existing restore target left unchanged"
expect_exit 0 "restore onto an existing file with --force" vmrp restore a.vmrp --disk d --output target.img --force
expect_same target.img d.img "--force replaced the target"
if ls -A | grep -q 'vmrp-tmp'; then fail "restore leaves no temporary file" "$(ls -A | grep vmrp-tmp)"
else pass "restore leaves no temporary file"; fi

mkdir full
echo keep > full/other
bad 3 "restore into a non-empty DIR without --force" "full" vmrp restore a.vmrp --output full
if [ "$(ls -A full)" = other ] && [ "$(cat full/other)" = keep ]; then pass "non-empty DIR left unchanged"
else fail "non-empty DIR left unchanged" "$(ls -A full | tr '\n' ' ')"; fi
expect_exit 0 "restore into a non-empty DIR with --force" vmrp restore a.vmrp --output full --force
expect_same full/disks/d.img d.img "--force wrote the disk into the DIR"
expect_exit 0 "restore a whole VM to a tar" vmrp restore a.vmrp --output vm.tar
cp vm.tar vm.tar.copy
bad 3 "restore onto an existing .tar without --force" "vm.tar" vmrp restore a.vmrp --point first --output vm.tar
expect_same vm.tar vm.tar.copy "existing .tar left unchanged"
bad 2 "restore without --output" "--output" vmrp restore a.vmrp --disk d
bad 2 "restore of a whole VM to stdout" "stdout" vmrp restore a.vmrp --output -
bad 2 "restore without ARCHIVE" "ARCHIVE" vmrp restore --disk d --output x.img
bad 3 "restore from a missing archive" "nosuch.vmrp" vmrp restore nosuch.vmrp --disk d --output x.img

# ---- points and disks that do not exist -------------------------------------
bad 3 "--point nosuch" "nosuch" vmrp restore a.vmrp --point nosuch --disk d --output x.img
absent x.img "--point nosuch: no output"
bad 3 "--point 7 beyond the last" "7" vmrp restore a.vmrp --point 7 --disk d --output x.img
bad 3 "inspect of a point that does not exist" "nosuch" vmrp inspect a.vmrp nosuch
bad 3 "disk not found in point" "nosuchdisk" vmrp restore a.vmrp --point first --disk nosuchdisk --output x.img
absent x.img "disk not found: no output"

# ---- not an archive ------------------------------------------------------------
gendisk fill junk.vmrp 0 300000 99
cp junk.vmrp junk.copy
bad 1 "verify of random bytes" "not a vmrp archive" vmrp verify junk.vmrp
bad 1 "inspect of random bytes" "not a vmrp archive" vmrp inspect junk.vmrp
bad 1 "restore from random bytes" "not a vmrp archive" vmrp restore junk.vmrp --disk d --output x.img
absent x.img "restore from random bytes: no output"
bad 1 "pack onto random bytes" "junk.vmrp" vmrp pack junk.vmrp --disk d=d.img
expect_same junk.vmrp junk.copy "pack onto random bytes leaves the file unchanged"

: > empty.vmrp
bad 1 "inspect of an empty file" "empty" vmrp inspect empty.vmrp
bad 1 "verify of an empty file" "empty" vmrp verify empty.vmrp

# ---- a future major version --------------------------------------------------
cp a.copy future.vmrp
printf '\002\000' | dd of=future.vmrp bs=1 seek=8 conv=notrunc 2>/dev/null
cp future.vmrp future.copy
bad 1 "inspect of a major version 2 archive" "version" vmrp inspect future.vmrp
bad 1 "verify of a major version 2 archive" "version" vmrp verify future.vmrp
bad 1 "restore from a major version 2 archive" "version" vmrp restore future.vmrp --disk d --output x.img
bad 1 "pack onto a major version 2 archive" "version" vmrp pack future.vmrp --disk d=d.img
expect_same future.vmrp future.copy "pack onto a major version 2 archive leaves it unchanged"

# ---- the command itself ------------------------------------------------------------
expect_exit 0 "vmrp help pack" vmrp help pack
expect_out "--disk NAME=PATH" "help pack describes --disk"
for sub in inspect verify restore; do
    expect_exit 0 "vmrp help $sub" vmrp help $sub
    expect_out "usage: vmrp $sub" "help $sub prints its usage"
    expect_exit 0 "vmrp $sub --help" vmrp $sub --help
done
bad 2 "vmrp nosuchcmd" "nosuchcmd" vmrp nosuchcmd
bad 2 "vmrp without a command" "usage" vmrp
expect_exit 0 "vmrp --version" vmrp --version
expect_out "vmrp " "--version prints the version"
bad 2 "inspect with an unknown option" "--frobnicate" vmrp inspect a.vmrp --frobnicate
bad 2 "verify with an unknown option" "--frobnicate" vmrp verify a.vmrp --frobnicate
bad 2 "verify without ARCHIVE" "ARCHIVE" vmrp verify

# the reference archive survived all of the above
expect_exit 0 "reference archive still verifies" vmrp verify a.vmrp
expect_same a.vmrp a.copy "reference archive is byte-identical after every refused command"
:
