# t_vm.sh - whole-VM restore points: the VM configuration (--config), config
# files from a file, a directory and a tar, restored to a directory and to a
# tar; appended points keep the configuration; inspect --json fields.

A=vm.vmrp

if [ "${E2E_QUICK:-0}" = 1 ]; then OS=4M; else OS=32M; fi

gendisk create os.img $OS
gendisk fill os.img 0 512K 1
gendisk text os.img 1M 256K 2
gendisk fill os.img $((${OS%M} * 1048576 - 65536)) 65536 3
gendisk create data.img 3M
gendisk fill data.img 1M 100000 4

cat > vm.json <<'EOF'
{"name": "web01", "vmId": "0b5e4f7e-6c61-4c1e-9d0a-2f3b8a1c9e11",
 "hardwareProfile": {"vmSize": "Standard_D2s_v3", "cpus": 2, "memoryMB": 8192},
 "storageProfile": {"osDisk": "os", "dataDisks": ["data"]},
 "tags": {"env": "test", "note": "quote \" and unicode \u00e9"}}
EOF

# a single file
gendisk fill nvram.fd 0 128K 5
chmod 600 nvram.fd
# a directory with a subdirectory
mkdir -p seed/sub
printf '#cloud-config\nhostname: web01\n' > seed/user-data
printf 'instance-id: web01\n' > seed/meta-data
printf 'version: 2\nethernets: {}\n' > seed/sub/network-config
chmod 640 seed/meta-data
# a tar of files with modes 0600 and 0755
mkdir -p tarsrc/tpm tarsrc/hooks
gendisk fill tarsrc/tpm/tpm2-00.permall 0 9000 6
printf '#!/bin/sh\necho start\n' > tarsrc/hooks/start.sh
chmod 600 tarsrc/tpm/tpm2-00.permall
chmod 755 tarsrc/hooks/start.sh
tar -C tarsrc -cf extra.tar .

# expected: name in the archive, source file, mode
cat > expected.txt <<'EOF'
nvram.fd nvram.fd 600
user-data seed/user-data 644
meta-data seed/meta-data 640
sub/network-config seed/sub/network-config 644
tpm/tpm2-00.permall tarsrc/tpm/tpm2-00.permall 600
hooks/start.sh tarsrc/hooks/start.sh 755
EOF
chmod 644 seed/user-data seed/sub/network-config

expect_exit 0 "pack a VM with --config and three --config-file kinds" \
    vmrp pack $A --disk os=os.img --disk data=data.img --config vm.json \
    --config-file nvram.fd --config-file seed --config-file extra.tar \
    --consistency application --name installed
cp os.img os.1
cp data.img data.1

# check_vm DIR WHAT OS DATA: DIR holds vm.json, the config files, the disks
check_vm() {
    cv_dir=$1 cv_what=$2
    expect_same "$cv_dir/vm.json" vm.json "$cv_what: vm.json has the same bytes"
    while read -r cv_name cv_src cv_mode; do
        expect_same "$cv_dir/config/$cv_name" "$cv_src" "$cv_what: config/$cv_name content"
        cv_got=$(stat -c %a "$cv_dir/config/$cv_name" 2>/dev/null)
        if [ "$cv_got" = "$cv_mode" ]; then pass "$cv_what: config/$cv_name mode $cv_mode"
        else fail "$cv_what: config/$cv_name mode $cv_mode" "mode ${cv_got:-missing}"; fi
    done < expected.txt
    expect_same "$cv_dir/disks/os.img" "$3" "$cv_what: disks/os.img"
    expect_same "$cv_dir/disks/data.img" "$4" "$cv_what: disks/data.img"
    cv_extra=$(cd "$cv_dir" && find . -type f | sort | tr '\n' ' ')
    cv_want="./config/hooks/start.sh ./config/meta-data ./config/nvram.fd ./config/sub/network-config ./config/tpm/tpm2-00.permall ./config/user-data ./disks/data.img ./disks/os.img ./vm.json "
    if [ "$cv_extra" = "$cv_want" ]; then pass "$cv_what: exactly the expected files"
    else fail "$cv_what: exactly the expected files" "got: $cv_extra"; fi
}

expect_exit 0 "restore the whole VM to a directory" vmrp restore $A --output vm1
check_vm vm1 "VM directory" os.1 data.1
used_k=$(du -k vm1/disks/os.img | cut -f1)
if [ "$used_k" -lt $((${OS%M} * 1024 / 2)) ]; then pass "VM directory: disk image is sparse (${used_k}K)"
else fail "VM directory: disk image is sparse" "${used_k}K used"; fi

expect_exit 0 "restore the whole VM to a tar" vmrp restore $A --output vm1.tar
mkdir x1
if tar -C x1 -xpf vm1.tar 2> tar.err; then pass "the tar extracts with tar -xf"
else fail "the tar extracts with tar -xf" "$(head -3 tar.err)"; fi
check_vm x1 "VM tar" os.1 data.1
if [ "$(stat -c %s vm1.tar)" -lt $((${OS%M} * 1048576 / 2)) ]; then pass "VM tar stores disk holes sparsely"
else fail "VM tar stores disk holes sparsely" "tar is $(stat -c %s vm1.tar) bytes"; fi

# ---- an appended point without --config keeps the configuration -----------
gendisk fill os.img 2M 200K 7
gendisk text data.img 0 64K 8
expect_exit 0 "append a point without --config or --config-file" \
    vmrp pack $A --disk os=os.img --disk data=data.img --name updated
cp os.img os.2
cp data.img data.2
expect_exit 0 "inspect --json of the appended point" vmrp inspect $A updated --json
expect_out '"web01"' "appended point keeps sourceMetadata"
expect_out '"name":"nvram.fd"' "appended point keeps config file nvram.fd"
expect_out '"name":"hooks/start.sh","mode":"0755"' "appended point keeps hooks/start.sh and its mode"
expect_out '"parent":"installed"' "appended point's parent is the first point"
expect_exit 0 "restore the appended point" vmrp restore $A --point updated --output vm2
check_vm vm2 "appended point" os.2 data.2
expect_exit 0 "restore the first point again" vmrp restore $A --point installed --output vm1b
check_vm vm1b "first point after the append" os.1 data.1

# ---- a point with a new configuration replaces it ---------------------------
echo '{"name": "web01", "resized": true}' > vm2.json
expect_exit 0 "append a point with a new --config" vmrp pack $A --disk os=os.img --config vm2.json
expect_exit 0 "restore the point with the new --config" vmrp restore $A --output vm3 --point 3
expect_same vm3/vm.json vm2.json "new --config is the point's vm.json"
run vmrp inspect $A 2 --json
expect_out '"hardwareProfile"' "the previous point still has the old configuration"

# ---- inspect --json ---------------------------------------------------------
expect_exit 0 "inspect --json" vmrp inspect $A --json
if command -v python3 > /dev/null 2>&1; then
    expect_true "inspect --json is valid JSON" python3 -m json.tool out
    cp out inspect.json
    expect_exit 0 "inspect --json of one point" vmrp inspect $A 1 --json
    expect_true "inspect --json of one point is valid JSON" python3 -m json.tool out
    mv inspect.json out
else
    skip "inspect --json is valid JSON" "python3 not found"
fi
for f in formatVersion restorePointCollectionId blockSize restorePoints name id sequence \
    timeCreated consistencyMode parent excludeDisks sourceMetadata configFiles \
    diskRestorePoints diskName familyId diskSizeBytes changedBlocks storedBytes; do
    expect_out "\"$f\":" "inspect --json has field $f"
done
expect_out '"consistencyMode":"ApplicationConsistent"' "--consistency application shows ApplicationConsistent"
expect_out '"consistencyMode":"CrashConsistent"' "default consistency is CrashConsistent"
expect_out '"parent":null' "the first point has parent null"
expect_out "\"diskSizeBytes\":$(stat -c %s os.img)" "diskSizeBytes is the disk size"
expect_out '"formatVersion":"1.' "formatVersion is 1.x"
fam1=$(tr '{' '\n' < out | grep '"diskName":"os"' | sed -n 's/.*"familyId":"\([^"]*\)".*/\1/p' | sort -u | wc -l)
if [ "$fam1" -eq 1 ]; then pass "familyId of a disk is the same in every point"
else fail "familyId of a disk is the same in every point" "$fam1 different ids"; fi
expect_exit 0 "inspect (text)" vmrp inspect $A
expect_out "ApplicationConsistent" "inspect text shows ApplicationConsistent"
expect_out "nvram.fd" "inspect text lists config files"

# --consistency filesystem
expect_exit 0 "pack --consistency filesystem" vmrp pack $A --disk os=os.img --consistency filesystem
run vmrp inspect $A latest --json
expect_out '"consistencyMode":"FileSystemConsistent"' "--consistency filesystem shows FileSystemConsistent"

# a VM without --config has vm.json {}
expect_exit 0 "pack without any configuration" vmrp pack bare.vmrp --disk data=data.img
expect_exit 0 "restore a VM without configuration" vmrp restore bare.vmrp --output bare
if [ "$(tr -d ' \n' < bare/vm.json)" = "{}" ]; then pass "no --config gives vm.json {}"
else fail "no --config gives vm.json {}" "$(head -c 100 bare/vm.json)"; fi
expect_same bare/disks/data.img data.img "bare VM disk"
expect_exit 0 "verify the VM archive" vmrp verify $A

# disks at the edges, through the directory and the tar: size 0, all holes,
# data in a partial last block
gendisk create zero.img 0
gendisk create holes.img 5M
gendisk create tail.img $((3 * 1048576 + 777))
gendisk fill tail.img 0 1000 9
gendisk fill tail.img $((3 * 1048576)) 777 10
expect_exit 0 "pack edge-case disks" vmrp pack edge.vmrp --disk zero=zero.img --disk holes=holes.img --disk tail=tail.img
expect_exit 0 "restore edge-case disks to a directory" vmrp restore edge.vmrp --output edge
expect_exit 0 "restore edge-case disks to a tar" vmrp restore edge.vmrp --output edge.tar
mkdir edge-x
expect_true "edge-case tar extracts" tar -C edge-x -xpf edge.tar
for dk in zero holes tail; do
    expect_same edge/disks/$dk.img $dk.img "edge-case disk $dk in the directory"
    expect_same edge-x/disks/$dk.img $dk.img "edge-case disk $dk in the tar"
done
:
