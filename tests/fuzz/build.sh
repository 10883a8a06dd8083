#!/bin/sh
# build.sh - build the libvmrp fuzz targets and their regression replayers.
#
#   sh tests/fuzz/build.sh [TARGET ...]     (default: every target)
#
# build/fuzz/TARGET          libFuzzer binary: clang, ASan + UBSan, the
#                            library sources compiled into it with the same flags
# build/fuzz/TARGET-regress  the same target without libFuzzer (gcc by default,
#                            REGRESS_CC=clang works too), ASan + UBSan,
#                            driven by regression_driver.c
#
# A binary is rebuilt only when a library or fuzz source is newer than it
# (FORCE=1 rebuilds everything). JOBS=N builds N binaries at once (default 2).
# VMRP_FUZZ_LIBDIR=DIR builds against another copy of the library sources
# (for example a snapshot of a commit: git archive COMMIT libformat | tar -x).
# VMRP_FUZZ_OUT=DIR puts the binaries in DIR instead of build/fuzz (so that
# two campaigns can run side by side).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

TARGETS_ALL="fuzz_open fuzz_verify fuzz_json fuzz_point fuzz_append fuzz_keys fuzz_bundle fuzz_keyslots"
TARGETS=${*:-$TARGETS_ALL}
OUT=${VMRP_FUZZ_OUT:-build/fuzz}
CLANG=${CLANG:-clang}
REGRESS_CC=${REGRESS_CC:-gcc}
JOBS=${JOBS:-2}
FORCE=${FORCE:-0}

PKG_CFLAGS=$(pkg-config --cflags libsodium libzstd zlib 2>/dev/null || true)
PKG_LIBS=$(pkg-config --libs libsodium libzstd zlib 2>/dev/null || echo "-lsodium -lzstd -lz")
# BLAKE3 as the Makefile finds it: a system libblake3, or the packaged C
# sources (B3_SRCS), compiled into each binary like the library's own.
B3_CFLAGS="" B3_LIBS="" B3_SRCS=""
eval "$(make -s --no-print-directory -C "$root" blake3-vars)"
PKG_CFLAGS="$PKG_CFLAGS $B3_CFLAGS"
PKG_LIBS="$PKG_LIBS $B3_LIBS"
LIBDIR=${VMRP_FUZZ_LIBDIR:-libformat}
LIB_SRC="$(ls "$LIBDIR"/*.c) $B3_SRCS"
COMMON="-g -O1 -D_FILE_OFFSET_BITS=64 -I$LIBDIR -DVMRP_BUILDING_LIBRARY $PKG_CFLAGS"
# Sanitizer findings must stop the run, not scroll past.
FUZZ_FLAGS="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
REGRESS_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -DVMRP_FUZZ_NO_MUTATOR"

command -v "$CLANG" >/dev/null || { echo "build.sh: $CLANG not found" >&2; exit 1; }
mkdir -p "$OUT"

# Newest mtime of everything a binary depends on.
deps_newer_than() {
    [ "$FORCE" = 1 ] && return 0
    [ -e "$1" ] || return 0
    for f in "$LIBDIR"/*.c "$LIBDIR"/*.h tests/fuzz/*.c tests/fuzz/*.h tools/config_input.c; do
        [ "$f" -nt "$1" ] && return 0
    done
    return 1
}

build_one() {
    t=$1
    # fuzz_bundle reads bundles through the tool's own code, with libarchive
    extra=""
    [ "$t" = fuzz_bundle ] && extra="-Itools tools/config_input.c tools/cli.c tools/passphrase.c $(pkg-config --libs libarchive 2>/dev/null || echo -larchive)"
    if deps_newer_than "$OUT/$t"; then
        echo "  FUZZ    $OUT/$t"
        # shellcheck disable=SC2086
        $CLANG $COMMON $FUZZ_FLAGS -o "$OUT/$t" "tests/fuzz/$t.c" $LIB_SRC $extra $PKG_LIBS
    fi
    if deps_newer_than "$OUT/$t-regress"; then
        echo "  REGRESS $OUT/$t-regress"
        # shellcheck disable=SC2086
        $REGRESS_CC $COMMON $REGRESS_FLAGS -o "$OUT/$t-regress" tests/fuzz/regression_driver.c \
            "tests/fuzz/$t.c" $LIB_SRC $extra $PKG_LIBS
    fi
}

status=0
pids=""
n=0
for t in $TARGETS; do
    [ -f "tests/fuzz/$t.c" ] || { echo "build.sh: no target $t" >&2; exit 2; }
    build_one "$t" > "$OUT/.build-$t.log" 2>&1 &
    pids="$pids $!:$t"
    n=$((n + 1))
    if [ "$n" -ge "$JOBS" ]; then
        for p in $pids; do
            wait "${p%%:*}" || { status=1; echo "build.sh: ${p#*:} failed:" >&2; }
            cat "$OUT/.build-${p#*:}.log"
        done
        pids=""
        n=0
    fi
done
for p in $pids; do
    wait "${p%%:*}" || { status=1; echo "build.sh: ${p#*:} failed:" >&2; }
    cat "$OUT/.build-${p#*:}.log"
done
rm -f "$OUT"/.build-*.log
exit $status
