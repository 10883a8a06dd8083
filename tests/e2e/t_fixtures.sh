# t_fixtures.sh - the frozen archives of fixtures/v* still verify and restore
# to exactly the bytes recorded when they were written, and the sample disk
# generator still builds the disks those hashes describe.
#
# For each fixtures/v1/NAME.vmrp, NAME.sha256 lists "POINT NAME SHA256" for
# every disk, the VM configuration (vm.json) and every config file
# (config:PATH) of every point (fixtures/v1/README.md). The files themselves
# must not change: fixtures/v1/SHA256SUMS pins them.
#
# Sourced by run.sh in an empty directory, like every t_*.sh: no `set -e`
# here, the lib.sh helpers record a failing command and go on.

fx_v1=$VMRP_FIXTURES/v1

# fx_sha FILE WANT NAME: pass when FILE exists and has sha256 WANT
fx_sha() {
    if [ ! -f "$1" ]; then
        fail "$3" "$1 was not written"
    elif [ "$(sha "$1")" = "$2" ]; then
        pass "$3"
    else
        fail "$3" "sha256 $(sha "$1"), expected $2"
    fi
}

# Every format version keeps its own directory (v1, v1.1, ...).
for fx_dir in "$VMRP_FIXTURES"/v*; do
    [ -d "$fx_dir" ] || continue
    fx_ver=fixtures/$(basename "$fx_dir")
    # ---- the frozen files are the ones committed ------------------------------
    if (cd "$fx_dir" && sha256sum -c --quiet SHA256SUMS) > out 2> err; then
        pass "$fx_ver files match SHA256SUMS (never regenerated or modified)"
    else
        fail "$fx_ver files match SHA256SUMS" "$(head -3 out | tr '\n' ' ')"
    fi

    # ---- every frozen archive ---------------------------------------------------
    fx_count=0
    for fx_a in "$fx_dir"/*.vmrp; do
        [ -f "$fx_a" ] || continue
        fx_count=$((fx_count + 1))
        fx_b=$(basename "$fx_a" .vmrp)
        fx_list=$fx_dir/$fx_b.sha256
        # an encrypted fixture ships its test identity and passphrase
        fx_open=
        if [ -f "$fx_dir/test-encryption.key" ]; then
            fx_open="--identity $fx_dir/test-encryption.key"
            expect_exit 4 "$fx_b: restore without a key is exit 4" \
                vmrp restore "$fx_a" --disk sys --output nokey.img
            expect_err "key slots: passphrase, recipient" "$fx_b: the message names the key slots"
            [ ! -e nokey.img ] && pass "$fx_b: nothing written without the key" ||
                fail "$fx_b: nothing written without the key" "nokey.img exists"
            expect_exit 0 "$fx_b: verify without the key" vmrp verify "$fx_a"
            expect_out "contents not checked" "$fx_b: verify says the contents were not checked"
            expect_exit 0 "$fx_b: verify with the identity" vmrp verify "$fx_a" $fx_open
            expect_out "contents decrypted and checked" "$fx_b: verify decrypted every record"
            VMRP_PASSPHRASE_FILE=$fx_dir/test-passphrase.txt expect_exit 0 \
                "$fx_b: verify with the passphrase" vmrp verify "$fx_a"
            expect_out "contents decrypted and checked" "$fx_b: the passphrase slot opens it too"
            VMRP_PASSPHRASE=wrong expect_exit 4 "$fx_b: a wrong passphrase is exit 4" \
                vmrp inspect "$fx_a"
            if [ -n "$ENCVECTORS" ] && [ -f "$fx_dir/$fx_b.vectors" ]; then
                # libsodium alone, with none of libvmrp, opens the archive
                # and must print the frozen test vectors of the spec
                if "$ENCVECTORS" "$fx_a" "$fx_dir/test-encryption.key" \
                    "$fx_dir/test-passphrase.txt" > vectors.out 2> err &&
                    cmp -s vectors.out "$fx_dir/$fx_b.vectors"; then
                    pass "$fx_b: an independent decryption gives the frozen test vectors"
                else
                    fail "$fx_b: an independent decryption gives the frozen test vectors" \
                        "$(diff vectors.out "$fx_dir/$fx_b.vectors" | head -3) $(head -1 err)"
                fi
            elif [ -f "$fx_dir/$fx_b.vectors" ]; then
                skip "$fx_b: an independent decryption gives the frozen test vectors" \
                    "ENCVECTORS not set"
            fi
        fi
        expect_exit 0 "$fx_b: verify" vmrp verify "$fx_a" $fx_open
        # a signed fixture ships its public key as test-signing.pub
        if [ -f "$fx_dir/test-signing.pub" ]; then
            expect_exit 0 "$fx_b: verify --pubkey" vmrp verify "$fx_a" --pubkey "$fx_dir/test-signing.pub"
            expect_out "signatures verified" "$fx_b: every commit's signature verified"
        fi
        expect_exit 0 "$fx_b: verify from stdin" sh -c "$VMRP verify - < \"\$1\"" sh "$fx_a"
        expect_exit 0 "$fx_b: inspect --json" vmrp inspect "$fx_a" --json $fx_open
        if [ ! -s "$fx_list" ]; then
            fail "$fx_b: hash list" "$fx_list is missing or empty"
            continue
        fi
        fx_points=$(cut -d' ' -f1 "$fx_list" | sort -un)
        fx_n=$(echo "$fx_points" | wc -l | tr -d ' ')
        expect_out "\"pointCount\":$fx_n" "$fx_b: $fx_n points, as in $fx_b.sha256"

        # each disk of each point on its own
        while read -r fx_p fx_name fx_want <&3; do
            case $fx_name in
            vm.json | config:*) continue ;;
            esac
            fx_out=$fx_b-$fx_p-$fx_name.img
            expect_exit 0 "$fx_b: restore point $fx_p disk $fx_name" \
                vmrp restore "$fx_a" --point "$fx_p" --disk "$fx_name" --output "$fx_out" $fx_open
            fx_sha "$fx_out" "$fx_want" "$fx_b: point $fx_p disk $fx_name sha256"
            rm -f "$fx_out"
        done 3< "$fx_list"

        # each point as a whole VM: vm.json, config files, disk images
        for fx_p in $fx_points; do
            fx_d=$fx_b-vm$fx_p
            expect_exit 0 "$fx_b: restore point $fx_p whole VM" \
                vmrp restore "$fx_a" --point "$fx_p" --output "$fx_d" $fx_open
            while read -r fx_lp fx_name fx_want <&3; do
                [ "$fx_lp" = "$fx_p" ] || continue
                case $fx_name in
                vm.json) fx_f=$fx_d/vm.json ;;
                config:*) fx_f=$fx_d/config/${fx_name#config:} ;;
                *) fx_f=$fx_d/disks/$fx_name.img ;;
                esac
                fx_sha "$fx_f" "$fx_want" "$fx_b: point $fx_p whole VM: $fx_name sha256"
            done 3< "$fx_list"
            # nothing restored beyond what the list names
            fx_got=$(cd "$fx_d" 2> /dev/null && find config disks -type f 2> /dev/null |
                sed 's|^config/|config:|; s|^disks/\(.*\)\.img$|\1|' | sort)
            fx_exp=$(sed -n "s/^$fx_p \([^ ]*\) .*/\1/p" "$fx_list" | grep -v '^vm\.json$' | sort)
            if [ "$fx_got" = "$fx_exp" ]; then
                pass "$fx_b: point $fx_p whole VM: exactly the listed disks and config files"
            else
                fail "$fx_b: point $fx_p whole VM: exactly the listed disks and config files" \
                    "restored: $(echo "$fx_got" | tr '\n' ' ')"
            fi
            rm -rf "$fx_d"
        done
    done
    if [ "$fx_count" -gt 0 ]; then
        pass "$fx_ver holds $fx_count archives"
    else
        fail "$fx_ver archives" "no .vmrp file in $fx_dir"
    fi
done

# ---- the sample disk generator is deterministic ------------------------------
# fixtures/make-sample-disks.sh must still build, state by state, the disks
# whose hashes sample-3points.sha256 recorded (the demo relies on it).
for fx_s in 1 2 3; do
    if sh "$VMRP_FIXTURES/make-sample-disks.sh" "gen$fx_s" "$fx_s" > out 2> err; then
        for fx_name in root data; do
            fx_want=$(sed -n "s/^$fx_s $fx_name //p" "$fx_v1/sample-3points.sha256")
            fx_sha "gen$fx_s/$fx_name.img" "$fx_want" \
                "make-sample-disks.sh state $fx_s: $fx_name.img as recorded"
        done
    else
        fail "make-sample-disks.sh state $fx_s" "exit status $?"
    fi
    rm -rf "gen$fx_s"
done
# a second run over an existing directory gives the same bytes
if sh "$VMRP_FIXTURES/make-sample-disks.sh" gen 2 > out 2> err &&
    sh "$VMRP_FIXTURES/make-sample-disks.sh" gen 3 > out 2> err; then
    fx_sha gen/root.img "$(sed -n 's/^3 root //p' "$fx_v1/sample-3points.sha256")" \
        "make-sample-disks.sh state 3 over state 2: root.img as recorded"
    fx_sha gen/data.img "$(sed -n 's/^3 data //p' "$fx_v1/sample-3points.sha256")" \
        "make-sample-disks.sh state 3 over state 2: data.img as recorded"
else
    fail "make-sample-disks.sh state 3 over state 2" "exit status $?"
fi
rm -rf gen
