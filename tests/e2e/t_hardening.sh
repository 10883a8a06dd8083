# t_hardening.sh - restore, output and command-line hardening (issue 17):
# the modes restored files get and have while they are written; what --force
# may replace; a block device checked and written through one descriptor;
# no core dumps while secrets are held; archives that cannot be read by
# random access; a passphrase command that never ends; names that could
# spoof a terminal; output names that look like files and compressed tars;
# errors as JSON, restore --json, commit hashes; -h; keygen over an existing
# key; --config from a pipe.

E2E_TMP=${TMPDIR:-/tmp}

# no_tty CMD...: run without a controlling terminal
if setsid -w true < /dev/null > /dev/null 2>&1; then
    no_tty() { setsid -w "$@" < /dev/null; }
else
    no_tty() { "$@" < /dev/null; }
fi

# expect_mode FILE MODE NAME: FILE has permission bits MODE (octal, as stat %a)
expect_mode() {
    em_got=$(stat -c %a "$1" 2>/dev/null)
    if [ "$em_got" = "$2" ]; then pass "$3"; else fail "$3" "mode ${em_got:-missing}, expected $2"; fi
}

# no_bytes TEXT FILE NAME: FILE does not hold the bytes TEXT (printf format)
no_bytes() {
    if grep -q "$(printf "$1")" "$2"; then fail "$3" "$2 holds them"; else pass "$3"; fi
}

# json_ok FILE NAME: FILE is one JSON value (checked when python3 is there)
json_ok() {
    if command -v python3 > /dev/null 2>&1; then
        if python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2> /dev/null
        then pass "$2"; else fail "$2" "not JSON: $(head -c 200 "$1")"; fi
    else
        skip "$2" "python3 not found"
    fi
}

# json_get FILE EXPR: print a value of the JSON in FILE (python3), "" without
json_get() {
    command -v python3 > /dev/null 2>&1 || return 0
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2> /dev/null
}

# An LD_PRELOAD shim for what no black-box test can see: it logs the mode
# asked for each temporary file restore creates (SHIM_LOG_CREATE), and
# renames SHIM_SWAP_WITH over SHIM_SWAP_PATH right after the first lookup of
# that path (stat, or an open), as another user could in a race.
SHIM=
cat > shim.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int swapped;

static void after_lookup(const char *path)
{
    const char *want = getenv("SHIM_SWAP_PATH"), *with = getenv("SHIM_SWAP_WITH");
    if (!swapped && want && with && path && strcmp(path, want) == 0) {
        swapped = 1;
        rename(with, want);
    }
}

static void log_create(const char *path, int flags, unsigned mode)
{
    const char *log = getenv("SHIM_LOG_CREATE");
    if (log && path && (flags & O_CREAT) && strstr(path, "vmrp-tmp")) {
        FILE *f = fopen(log, "a");
        if (f) {
            fprintf(f, "%o %s\n", mode & 07777, path);
            fclose(f);
        }
    }
}

#define OPEN_SHIM(name)                                                  \
    int name(const char *path, int flags, ...)                           \
    {                                                                    \
        static int (*real)(const char *, int, ...);                      \
        unsigned mode = 0;                                               \
        if (flags & (O_CREAT | O_TMPFILE)) {                             \
            va_list ap;                                                  \
            va_start(ap, flags);                                         \
            mode = va_arg(ap, unsigned);                                 \
            va_end(ap);                                                  \
        }                                                                \
        if (!real)                                                       \
            real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
        log_create(path, flags, mode);                                   \
        int r = real(path, flags, mode);                                 \
        after_lookup(path);                                              \
        return r;                                                        \
    }
OPEN_SHIM(open)
OPEN_SHIM(open64)

#define OPENAT_SHIM(name)                                                \
    int name(int dirfd, const char *path, int flags, ...)                \
    {                                                                    \
        static int (*real)(int, const char *, int, ...);                 \
        unsigned mode = 0;                                               \
        if (flags & (O_CREAT | O_TMPFILE)) {                             \
            va_list ap;                                                  \
            va_start(ap, flags);                                         \
            mode = va_arg(ap, unsigned);                                 \
            va_end(ap);                                                  \
        }                                                                \
        if (!real)                                                       \
            real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, #name); \
        log_create(path, flags, mode);                                   \
        int r = real(dirfd, path, flags, mode);                          \
        after_lookup(path);                                              \
        return r;                                                        \
    }
OPENAT_SHIM(openat)
OPENAT_SHIM(openat64)

#define STAT_SHIM(name, type)                                            \
    int name(const char *path, struct type *st)                          \
    {                                                                    \
        static int (*real)(const char *, struct type *);                 \
        if (!real)                                                       \
            real = (int (*)(const char *, struct type *))dlsym(RTLD_NEXT, #name); \
        int r = real(path, st);                                          \
        after_lookup(path);                                              \
        return r;                                                        \
    }
STAT_SHIM(stat, stat)
STAT_SHIM(stat64, stat64)
EOF
if cc -shared -fPIC -o shim.so shim.c -ldl > shim.err 2>&1; then
    SHIM=$PWD/shim.so
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
fi

gendisk create d.img 1M
gendisk fill d.img 0 200K 1
gendisk text d.img 512K 100K 2
gendisk create e.img 512K
gendisk fill e.img 64K 64K 3
echo '{"name": "web01"}' > vm.json
mkdir cfg
printf 'secret config\n' > cfg/private.conf
printf 'shared config\n' > cfg/shared.conf
printf '#!/bin/sh\n' > cfg/hook.sh
printf 'setuid\n' > cfg/suid.sh
printf 'setgid\n' > cfg/sgid.sh
chmod 600 cfg/private.conf
chmod 644 cfg/shared.conf
chmod 755 cfg/hook.sh
chmod 4755 cfg/suid.sh
chmod 2750 cfg/sgid.sh
expect_exit 0 "pack a plain archive with config files of modes 0600..04755" \
    vmrp pack a.vmrp --disk d=d.img --disk e=e.img --config vm.json --config-file cfg --name first --quiet
run vmrp inspect a.vmrp --json
expect_out '"name":"suid.sh","mode":"4755"' "the archive keeps the stored set-user-ID bit"
VMRP_PASSPHRASE=pw expect_exit 0 "pack an encrypted archive (passphrase)" \
    vmrp pack p.vmrp --encrypt --kdf-memory 8 --kdf-passes 1 --disk d=d.img --disk e=e.img \
    --config vm.json --config-file cfg --quiet

# ==== 3. modes ===============================================================

# A whole-VM tar never carries set-id or sticky bits.
expect_exit 0 "restore a whole VM to a tar" vmrp restore a.vmrp --output vm.tar --quiet
tar -tvf vm.tar > tar.list 2>&1
if grep -q '^-[rwx-]\{2\}[sS]\|^-[rwx-]\{5\}[sS]\|^-[rwx-]\{8\}[tT]' tar.list; then
    fail "tar members have no set-id or sticky bits" "$(grep 'suid\|sgid' tar.list | tr '\n' ' ')"
else pass "tar members have no set-id or sticky bits"; fi
if grep -q '^-rwxr-xr-x .* config/suid.sh$' tar.list && grep -q '^-rwxr-x--- .* config/sgid.sh$' tar.list
then pass "tar members keep their permission bits"; else fail "tar members keep their permission bits" "$(tr '\n' ' ' < tar.list)"; fi

# Every temporary file is created 0600: nothing is readable by others while it fills.
if [ -n "$SHIM" ]; then
    : > creates.log
    for how in "--output tmpdir" "--output tmp.tar" "--disk d --output tmp.img"; do
        # shellcheck disable=SC2086
        LD_PRELOAD=$SHIM SHIM_LOG_CREATE=$PWD/creates.log vmrp restore a.vmrp $how --quiet > out 2> err ||
            fail "restore $how under the shim" "exit $?"
    done
    n_tmp=$(wc -l < creates.log)
    n_600=$(grep -c '^600 ' creates.log)
    if [ "$n_tmp" -ge 9 ] && [ "$n_tmp" = "$n_600" ]; then pass "every temporary file is created 0600 ($n_tmp of them)"
    else fail "every temporary file is created 0600" "$(sort -u creates.log | cut -d' ' -f1 | sort | uniq -c | tr '\n' ' ')"; fi
else
    skip "temporary files are created 0600" "no C compiler for the LD_PRELOAD shim: $(head -1 shim.err)"
fi

# Final modes respect the umask; a config file keeps its stored bits (less
# the umask), never a set-id bit; images and vm.json are 0666 less the umask.
( umask 027 && vmrp restore a.vmrp --output m027 --quiet ) 2> err || fail "restore with umask 027" "exit $?"
expect_mode m027/vm.json 640 "umask 027: vm.json 0640"
expect_mode m027/disks/d.img 640 "umask 027: disk image 0640"
expect_mode m027/config/private.conf 600 "umask 027: a 0600 config file stays 0600"
expect_mode m027/config/shared.conf 640 "umask 027: a 0644 config file is 0640"
expect_mode m027/config/hook.sh 750 "umask 027: a 0755 config file is 0750"
expect_mode m027/config/suid.sh 750 "umask 027: a 04755 config file is 0750"
expect_mode m027/config/sgid.sh 750 "umask 027: a 02750 config file is 0750"
expect_mode m027 750 "umask 027: the directory is 0750"
expect_mode m027/disks 750 "umask 027: disks/ is 0750"
( umask 027 && vmrp restore a.vmrp --disk d --output m027.img --quiet ) 2> err || fail "restore one disk with umask 027" "exit $?"
expect_mode m027.img 640 "umask 027: a single disk image 0640"
( umask 022 && vmrp restore a.vmrp --output m022 --quiet ) 2> err || fail "restore with umask 022" "exit $?"
expect_mode m022/disks/e.img 644 "umask 022: disk image 0644"
expect_mode m022/config/shared.conf 644 "umask 022: a 0644 config file is 0644"
expect_mode m022/config/suid.sh 755 "umask 022: a 04755 config file is 0755"

# From an encrypted archive, nothing restored is readable by group or others.
( umask 022 && VMRP_PASSPHRASE=pw vmrp restore p.vmrp --output enc --quiet ) 2> err || fail "restore the encrypted archive" "exit $?"
expect_mode enc 700 "encrypted: the directory is 0700"
expect_mode enc/config 700 "encrypted: config/ is 0700"
expect_mode enc/vm.json 600 "encrypted: vm.json 0600"
expect_mode enc/disks/d.img 600 "encrypted: disk image 0600"
expect_mode enc/config/shared.conf 600 "encrypted: a 0644 config file is 0600"
expect_mode enc/config/hook.sh 700 "encrypted: a 0755 config file is 0700"
expect_same enc/disks/d.img d.img "encrypted: the disk restores"
( umask 022 && VMRP_PASSPHRASE=pw vmrp restore p.vmrp --disk e --output enc-e.img --quiet ) 2> err || fail "restore one encrypted disk" "exit $?"
expect_mode enc-e.img 600 "encrypted: a single disk image 0600"
( umask 022 && VMRP_PASSPHRASE=pw vmrp restore p.vmrp --output enc.tar --quiet ) 2> err || fail "restore the encrypted archive to a tar" "exit $?"
expect_mode enc.tar 600 "encrypted: the tar file is 0600"
tar -tvf enc.tar > tar.list 2>&1
if grep -q '^-' tar.list && ! grep -v '^-[rwx-][rwx-][rwx-]------ ' tar.list | grep -q .; then
    pass "encrypted: tar members have no group or other bits"
else fail "encrypted: tar members have no group or other bits" "$(head -3 tar.list | tr '\n' ' ')"; fi

# ==== 7. what --force replaces, block devices, core dumps, ... ==============

mkfifo fifo.img
bad_target() { # NAME TARGET TEXT: --force is refused on TARGET, which stays
    expect_exit 3 "--force onto $1 is refused" vmrp restore a.vmrp --disk d --output "$2" --force
    expect_err "$3" "--force onto $1: the message says what it is"
}
bad_target "a FIFO" fifo.img "fifo.img is a FIFO"
if [ -p fifo.img ]; then pass "the FIFO is still a FIFO"; else fail "the FIFO is still a FIFO" "$(ls -l fifo.img)"; fi
echo "precious" > real.img
cp real.img real.copy
ln -s real.img link.img
bad_target "a symbolic link" link.img "link.img is a symbolic link"
if [ -L link.img ]; then pass "the symbolic link is still one"; else fail "the symbolic link is still one" "$(ls -l link.img)"; fi
expect_same real.img real.copy "the file the link names is unchanged"
mkdir adir
bad_target "a directory" adir "adir is a directory"
if mknod chr.img c 1 3 2> /dev/null; then
    bad_target "a character device" chr.img "chr.img is a character device"
    if [ -c chr.img ]; then pass "the character device is still one"; else fail "the character device is still one" "$(ls -l chr.img)"; fi
else
    skip "--force onto a character device" "mknod not permitted"
fi
mkdir vmf
mkfifo vmf/vm.json
expect_exit 3 "a whole-VM --force restore does not replace a FIFO in DIR" vmrp restore a.vmrp --output vmf --force
expect_err "vm.json is a FIFO" "the whole-VM refusal names the FIFO"
echo "old" > old.img
expect_exit 0 "--force still replaces a regular file" vmrp restore a.vmrp --disk d --output old.img --force --quiet
expect_same old.img d.img "the regular file was replaced"

# A block device is checked and written through one descriptor: a path
# swapped for a file between the check and the open is never written.
if [ -n "$SHIM" ] && mknod blk b 0 250 2> /dev/null; then
    gendisk create victim.img 2M
    gendisk fill victim.img 0 2M 77
    cp victim.img victim.copy
    LD_PRELOAD=$SHIM SHIM_SWAP_PATH=blk SHIM_SWAP_WITH=victim.img \
        vmrp restore a.vmrp --disk d --output blk --force --quiet > out 2> err
    RC=$?
    if [ -f blk ]; then
        if [ "$RC" -ne 0 ]; then pass "a block device swapped for a file: restore fails"
        else fail "a block device swapped for a file: restore fails" "exit 0"; fi
        expect_same blk victim.copy "a block device swapped for a file: the file is not written"
    else
        fail "the shim swapped the block device for a file" "$(ls -l blk 2>&1)"
    fi
    rm -f blk
else
    skip "a block device swapped between check and open" "no shim, or mknod not permitted"
fi

# A real block device (a loop device), and one named through a symbolic link.
loopdev=
if [ "$(id -u)" = 0 ] && command -v losetup > /dev/null 2>&1; then
    gendisk create loop.img 2M
    loopdev=$(losetup -f --show loop.img 2> /dev/null) || loopdev=
fi
if [ -n "$loopdev" ]; then
    expect_exit 3 "a block device without --force is refused" vmrp restore a.vmrp --disk d --output "$loopdev"
    expect_err "is a block device; use --force" "the refusal says to use --force"
    expect_exit 0 "restore onto a loop device with --force" vmrp restore a.vmrp --disk d --output "$loopdev" --force --quiet
    if cmp -s -n 1048576 "$loopdev" d.img; then pass "the loop device holds the disk"
    else fail "the loop device holds the disk" "bytes differ"; fi
    ln -s "$loopdev" devlink
    dd if=/dev/zero of="$loopdev" bs=1M count=2 conv=fsync 2> /dev/null
    expect_exit 0 "restore onto a symbolic link to a block device" \
        vmrp restore a.vmrp --disk d --output devlink --force --quiet
    if cmp -s -n 1048576 "$loopdev" d.img; then pass "the device behind the link holds the disk"
    else fail "the device behind the link holds the disk" "bytes differ"; fi
    losetup -d "$loopdev"
else
    skip "restore onto a loop device" "not root, or no loop device"
fi

# No core dumps, and not dumpable, while a secret may be held: the
# passphrase command looks at the process that runs it.
core_limits() { # CMD...: the soft core size limit vmrp runs with
    rm -f limits.txt
    ( ulimit -c unlimited 2> /dev/null
      VMRP_PASSPHRASE_COMMAND='echo pw; grep "Max core file size" /proc/$PPID/limits > limits.txt' "$@" \
          > /dev/null 2>&1 )
    [ -f limits.txt ] && awk '{print $5}' limits.txt
}
if (ulimit -c unlimited 2> /dev/null); then
    for cmd in "inspect p.vmrp" "verify p.vmrp" "restore p.vmrp --disk d --output core.img --force"; do
        # shellcheck disable=SC2086
        got=$(core_limits vmrp $cmd)
        if [ "$got" = 0 ]; then pass "vmrp $cmd runs with a core size limit of 0"
        else fail "vmrp $cmd runs with a core size limit of 0" "limit '${got}'"; fi
    done
    if [ "${E2E_QUICK:-0}" = 1 ]; then
        skip "vmrp keygen runs with a core size limit of 0" "E2E_QUICK=1: no passphrase-protected key (scrypt, 1 GiB)"
    else
        got=$(core_limits vmrp keygen --secret-key core.key --public-key core.pub)
        if [ "$got" = 0 ]; then pass "vmrp keygen runs with a core size limit of 0"
        else fail "vmrp keygen runs with a core size limit of 0" "limit '${got}'"; fi
    fi
else
    skip "core size limit" "ulimit -c unlimited is not allowed here"
fi
# Not dumpable: /proc/PID's files then belong to root, whoever runs vmrp.
nobody_dir=
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null 2>&1; then
    nobody_dir=$(mktemp -d "$E2E_TMP/vmrp-hardening.XXXXXX")
    chmod 711 "$nobody_dir"
    mkdir "$nobody_dir/w"
    cp p.vmrp "$nobody_dir/w/"
    nb_vmrp=$VMRP
    as_nobody() { (cd "$nobody_dir/w" && setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"); }
    chown -R 65534:65534 "$nobody_dir/w"
    # shellcheck disable=SC2086
    if ! as_nobody $nb_vmrp --version > /dev/null 2>&1; then
        cp "${VMRP##* }" "$nobody_dir/vmrp" && chmod 755 "$nobody_dir/vmrp"
        nb_vmrp="${VMRP%"${VMRP##* }"}$nobody_dir/vmrp"
    fi
    # shellcheck disable=SC2086
    VMRP_PASSPHRASE_COMMAND='echo pw; stat -c %u /proc/$PPID/environ > owner.txt' \
        as_nobody $nb_vmrp inspect p.vmrp > /dev/null 2> err
    owner=$(cat "$nobody_dir/w/owner.txt" 2> /dev/null)
    if [ "$owner" = 0 ]; then pass "vmrp inspect run by uid 65534 is not dumpable"
    else fail "vmrp inspect run by uid 65534 is not dumpable" "its /proc files belong to '${owner:-?}'"; fi
    rm -rf "$nobody_dir"
else
    skip "not dumpable" "not root, or no setpriv"
fi

# inspect and restore read an archive by random access: a FIFO, a character
# device or a directory is refused at once, not waited on.
mkfifo fifo.vmrp
for how in "inspect fifo.vmrp" "restore fifo.vmrp --disk d --output f.img" "inspect /dev/null" "inspect adir"; do
    # shellcheck disable=SC2086
    run timeout 20 $VMRP $how
    if [ "$RC" = 3 ]; then pass "vmrp $how: exit 3 at once"; else fail "vmrp $how: exit 3 at once" "exit $RC"; fi
    expect_err "reads an archive by random access" "vmrp $how: the message says why"
done
expect_err "is a directory" "a directory is called one"
run timeout 20 $VMRP inspect fifo.vmrp
expect_err "fifo.vmrp: is a FIFO" "a FIFO is called one"

# A passphrase command that never ends is stopped after VMRP_PASSPHRASE_TIMEOUT.
VMRP_PASSPHRASE_TIMEOUT=1 VMRP_PASSPHRASE_COMMAND='sleep 30 & echo $! > bg.pid; wait' \
    run no_tty timeout 20 $VMRP inspect p.vmrp
if [ "$RC" = 4 ]; then pass "a passphrase command that hangs: exit 4"; else fail "a passphrase command that hangs: exit 4" "exit $RC"; fi
expect_err "VMRP_PASSPHRASE_COMMAND did not finish within 1 s" "the message names the command and the limit"
expect_err "VMRP_PASSPHRASE_TIMEOUT" "the message names the variable that sets the limit"
sleep 1
bg=$(cat bg.pid 2> /dev/null)
if [ -n "$bg" ] && [ -e /proc/$bg ] && [ "$(cut -d' ' -f3 /proc/$bg/stat 2> /dev/null)" != Z ]; then
    fail "what the command started is stopped too" "pid $bg still runs"
    kill "$bg" 2> /dev/null
else pass "what the command started is stopped too"; fi
VMRP_PASSPHRASE_TIMEOUT=1 VMRP_PASSPHRASE_COMMAND='echo pw; exec sleep 30' \
    run no_tty timeout 20 $VMRP inspect p.vmrp
if [ "$RC" = 4 ]; then pass "a command that gives the line but does not exit: exit 4"
else fail "a command that gives the line but does not exit: exit 4" "exit $RC"; fi
VMRP_PASSPHRASE_TIMEOUT=soon VMRP_PASSPHRASE_COMMAND='echo pw' run vmrp inspect p.vmrp
if [ "$RC" = 4 ]; then pass "VMRP_PASSPHRASE_TIMEOUT that is not a number: exit 4"
else fail "VMRP_PASSPHRASE_TIMEOUT that is not a number: exit 4" "exit $RC"; fi
expect_err "VMRP_PASSPHRASE_TIMEOUT is a number of seconds" "the message says what the variable takes"
VMRP_PASSPHRASE_TIMEOUT=5 VMRP_PASSPHRASE_COMMAND='echo pw' expect_exit 0 "a command within the limit works" \
    vmrp inspect p.vmrp

# Names that could rewrite a terminal's line are escaped in text, and in
# JSON as \u escapes.
RLO=$(printf '\342\200\256')
CSI=$(printf '\302\233')
LRI=$(printf '\342\201\246')
mkdir spoof
printf 'x\n' > "spoof/a${CSI}2J${LRI}b.conf"
expect_exit 0 "pack a point and a config file with bidi and C1 names" \
    vmrp pack s.vmrp --disk d=e.img --config-file "spoof/a${CSI}2J${LRI}b.conf" --name "evil${RLO}gpj.exe" --quiet
run vmrp inspect s.vmrp
no_bytes '\342\200\256' out "inspect text: no raw right-to-left override"
no_bytes '\302\233' out "inspect text: no raw C1 control"
no_bytes '\342\201\246' out "inspect text: no raw isolate"
expect_out 'point 1: evil\u202Egpj.exe' "inspect text shows the override escaped"
expect_out 'config file  a\u009B2J\u2066b.conf' "inspect text shows the C1 control and isolate escaped"
run vmrp inspect s.vmrp --json
no_bytes '\342\200\256' out "inspect --json: no raw right-to-left override"
no_bytes '\302\233' out "inspect --json: no raw C1 control"
expect_out '"name":"evil\u202egpj.exe"' "inspect --json escapes the override"
json_ok out "inspect --json with such names is valid JSON"
mkdir sp
vmrp restore s.vmrp --output sp --quiet 2> err
expect_exit 3 "a refused restore onto such a name" vmrp restore s.vmrp --disk d --output "sp/config/a${CSI}2J${LRI}b.conf"
no_bytes '\302\233' err "error messages: no raw C1 control"
expect_err 'a\u009B2J\u2066b.conf exists' "error messages show the name escaped"

# ==== 8. output names ========================================================

# (lib.sh's helpers use $name: the loop has its own variable)
for oname in r.img new.json disk.qcow2 x.zip vm.tar.bz2 sub/r.raw; do
    expect_exit 2 "whole VM to --output $oname is refused" vmrp restore a.vmrp --output $oname
    expect_err "looks like a file name" "--output $oname: the message says why"
    if [ -e "$oname" ]; then fail "--output $oname: nothing made" "$(ls -ld "$oname")"; else pass "--output $oname: nothing made"; fi
done
expect_exit 0 "an image-like name ending in / is a directory" vmrp restore a.vmrp --output r.img/ --quiet
if [ -d r.img ] && [ -f r.img/disks/d.img ]; then pass "r.img/ is a directory with the VM"
else fail "r.img/ is a directory with the VM" "$(ls -ld r.img 2>&1)"; fi
mkdir web01.example.com
expect_exit 0 "an existing directory with a dotted name is used" vmrp restore a.vmrp --output web01.example.com --quiet

# check_tar FILE MAGIC WHAT: FILE starts with MAGIC (hex) and holds the VM
check_tar() {
    ct_magic=$(od -An -tx1 -N6 "$1" | tr -d ' \n')
    case $ct_magic in "$2"*) pass "$3: compressed as asked" ;; *) fail "$3: compressed as asked" "magic $ct_magic" ;; esac
    rm -rf ct && mkdir ct
    if tar -C ct -xf "$1" 2> tar.err; then
        expect_same ct/disks/d.img d.img "$3: the disk extracts"
        expect_same ct/vm.json vm.json "$3: vm.json extracts"
        expect_mode ct/config/hook.sh 755 "$3: hook.sh keeps its mode"
    else
        skip "$3: extract" "tar cannot read it here: $(head -1 tar.err)"
    fi
}
expect_exit 0 "whole VM to .tar.gz" vmrp restore a.vmrp --output vm.tar.gz --quiet
check_tar vm.tar.gz 1f8b ".tar.gz"
expect_exit 0 "whole VM to .tgz" vmrp restore a.vmrp --output vm.tgz --quiet
check_tar vm.tgz 1f8b ".tgz"
expect_exit 0 "whole VM to .tar.zst" vmrp restore a.vmrp --output vm.tar.zst --quiet
check_tar vm.tar.zst 28b52ffd ".tar.zst"
expect_exit 0 "whole VM to .tar.xz" vmrp restore a.vmrp --output vm.tar.xz --quiet
check_tar vm.tar.xz fd377a585a00 ".tar.xz"
expect_exit 3 "an existing .tar.zst is not replaced without --force" vmrp restore a.vmrp --output vm.tar.zst
expect_err "vm.tar.zst exists" "the refusal names the .tar.zst"

expect_exit 3 "an unknown disk" vmrp restore a.vmrp --disk nosuch --output x.img
expect_err "has no disk 'nosuch'" "the message names the disk asked for"
expect_err "its disks: d, e" "the message names the disks there are"
expect_exit 0 "a point that excludes a disk" vmrp pack a.vmrp --disk d=d.img --exclude-disk e --name second --quiet
expect_exit 3 "an unknown disk of that point" vmrp restore a.vmrp --disk zz --output x.img
expect_err "its disks: d, e (excluded)" "the list says which disk is excluded"

# ==== 12. JSON, -h, keygen, --config from a pipe ============================

# json_error NAME EXIT CMD...: exit EXIT, one error object on stdout, the
# message still on stderr
json_error() {
    je_name=$1 je_exit=$2
    shift 2
    expect_exit "$je_exit" "$je_name: exit $je_exit" "$@"
    expect_out '{"ok":false,"error":{"code":-' "$je_name: an error object on stdout"
    expect_out "\"exit\":$je_exit," "$je_name: the object has the exit status"
    if [ "$(grep -c '"ok"' out)" = 1 ]; then pass "$je_name: one object"; else fail "$je_name: one object" "$(cat out)"; fi
    json_ok out "$je_name: valid JSON"
    if [ -s err ]; then pass "$je_name: the message is on stderr too"; else fail "$je_name: the message is on stderr too" "stderr is empty"; fi
}
json_error "inspect --json of a missing archive" 3 vmrp inspect nosuch.vmrp --json
expect_out 'nosuch.vmrp: No such file' "inspect --json: the message names the archive"
json_error "inspect --json of random bytes" 1 vmrp inspect d.img --json
json_error "verify --json of a missing archive" 3 vmrp verify nosuch.vmrp --json
json_error "pack --json of a missing disk" 3 vmrp pack new.vmrp --disk d=nosuch.img --json
json_error "pack --json with a bad option value" 2 vmrp pack new.vmrp --disk d=d.img --block-size 3 --json
json_error "restore --json without --output" 2 vmrp restore a.vmrp --json
json_error "restore --json of an unknown disk" 3 vmrp restore a.vmrp --disk nosuch --output x.img --json
VMRP_PASSPHRASE=wrong json_error "restore --json with a wrong passphrase" 4 vmrp restore p.vmrp --output wrong --json
expect_out '"code":-11' "a wrong passphrase is code -11 (VMRP_E_KEY)"
json_error "restore --js (an abbreviation) of a missing archive" 3 vmrp restore nosuch.vmrp --output x --js
cp a.vmrp damaged.vmrp
printf 'XXXX' | dd of=damaged.vmrp bs=1 seek=70000 conv=notrunc 2> /dev/null
expect_exit 1 "verify --json of a damaged archive" vmrp verify damaged.vmrp --json
if [ "$(grep -c '"ok"' out)" = 1 ]; then pass "verify --json of a damaged archive: its own object only"
else fail "verify --json of a damaged archive: its own object only" "$(cat out)"; fi

# restore --json: what was written.
expect_exit 0 "restore --json of a whole VM" vmrp restore a.vmrp --point first --output js-dir --json
json_ok out "restore --json is valid JSON"
expect_out '"ok":true' "restore --json: ok"
expect_out '"outputType":"directory"' "restore --json: the output type"
expect_out '"path":"js-dir/disks/d.img","type":"disk","disk":"d","size":1048576,"mode":"0644"' \
    "restore --json: a disk with its size and mode"
expect_out '"path":"js-dir/config/private.conf","type":"config","size":14,"mode":"0600"' \
    "restore --json: a config file with its size and mode"
expect_out '"commitHash":"' "restore --json: the point's commit hash"
expect_exit 0 "restore --json of one disk" vmrp restore a.vmrp --disk d --output js.img --json
expect_out '"outputType":"file"' "restore --json of a disk: a file"
expect_exit 0 "restore --json to a .tar.zst" vmrp restore a.vmrp --point first --output js.tar.zst --json
expect_out '"outputType":"tar","compression":"zstd"' "restore --json of a tar: type and compression"
expect_out '"path":"config/suid.sh","type":"config","size":7,"mode":"0755"' "restore --json of a tar: members"
expect_exit 2 "restore --json with --output - is refused" vmrp restore a.vmrp --disk d --output - --json

# inspect: each point's commit hash; the last one's is the head hash.
expect_exit 0 "inspect --json" vmrp inspect a.vmrp --json
expect_out '"commitHash":"' "inspect --json has commitHash"
if command -v python3 > /dev/null 2>&1; then
    heads=$(json_get out 'd["headHash"] == d["restorePoints"][-1]["commitHash"] and len(set(p["commitHash"] for p in d["restorePoints"])) == 2')
    if [ "$heads" = True ]; then pass "the last point's commitHash is the headHash, and each point has its own"
    else fail "the last point's commitHash is the headHash, and each point has its own" "$heads"; fi
fi
run vmrp inspect a.vmrp
expect_out "  commit:       " "inspect text shows each point's commit hash"

# -h is --help for every command.
for sub in pack inspect verify restore keygen repair; do
    expect_exit 0 "vmrp $sub -h" vmrp $sub -h
    expect_out "usage: vmrp $sub" "vmrp $sub -h prints its usage"
done
expect_exit 0 "vmrp -h" vmrp -h

# keygen refuses an existing key file before it asks for a passphrase.
echo "old key" > old.key
cp old.key old.key.copy
rm -f asked
VMRP_PASSPHRASE_COMMAND='touch asked; echo pw' expect_exit 3 "keygen onto an existing secret key" \
    vmrp keygen --secret-key old.key --public-key new.pub
expect_err "old.key: exists; refusing to replace a key" "the refusal names the file"
if [ -e asked ]; then fail "no passphrase was asked for" "the passphrase command ran"; else pass "no passphrase was asked for"; fi
expect_same old.key old.key.copy "the existing key is unchanged"
if [ -e new.pub ]; then fail "no public key was written" "new.pub exists"; else pass "no public key was written"; fi
echo "old pub" > old.pub
VMRP_PASSPHRASE_COMMAND='touch asked; echo pw' expect_exit 3 "keygen onto an existing public key" \
    vmrp keygen --secret-key new.key --public-key old.pub
if [ -e asked ] || [ -e new.key ]; then fail "nothing asked or written for an existing public key" "$(ls asked new.key 2>&1)"
else pass "nothing asked or written for an existing public key"; fi

# --config from a pipe, a FIFO, a character device; its size cap still holds.
cat vm.json | vmrp pack pipe.vmrp --disk d=d.img --config /dev/stdin --quiet > out 2> err
RC=$?
if [ "$RC" = 0 ]; then pass "--config /dev/stdin from a pipe"; else fail "--config /dev/stdin from a pipe" "exit $RC"; fi
vmrp restore pipe.vmrp --output pipe-vm --quiet 2> err
expect_same pipe-vm/vm.json vm.json "--config from a pipe: vm.json restores"
mkfifo cfg.fifo
timeout 20 sh -c 'cat vm.json > cfg.fifo' &
expect_exit 0 "--config from a FIFO" vmrp pack fifo-cfg.vmrp --disk d=d.img --config cfg.fifo --quiet
wait
head -c 17000000 /dev/zero | vmrp pack big.vmrp --disk d=d.img --config /dev/stdin --quiet > out 2> err
RC=$?
if [ "$RC" = 3 ]; then pass "--config from a pipe over 16 MiB: exit 3"; else fail "--config from a pipe over 16 MiB: exit 3" "exit $RC"; fi
expect_err "file is too large" "--config over the cap: the message says so"
if [ -e big.vmrp ]; then fail "--config over the cap: no archive" "big.vmrp exists"; else pass "--config over the cap: no archive"; fi
expect_exit 3 "--config that is a directory" vmrp pack dir.vmrp --disk d=d.img --config cfg
expect_err "not a regular file" "--config directory: the message is unchanged"
:
