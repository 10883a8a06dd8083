#!/bin/sh
# dump-vectors.sh [--brief] ARCHIVE - annotated hex dump of a vmrp archive.
#
# Walks the archive structure by structure, as a sequential reader does
# (format-spec/vmrp-format.md, section 7.2): the file header, then every
# record with its offset, type, codec and sizes. Every byte of the file is
# shown in hexadecimal (decimal file offsets on the left); the fields of the
# file header, of INDEX, COMMIT and POINT payloads and of MAP entries are
# decoded below their bytes. BLOCK and FILE payloads are shown as hex only
# (--brief leaves them out).
#
# Hashes are recomputed with `b2sum -l 256` (BLAKE2b-256, section 1.3) and
# checked: Header_Hash, every Record_Hash against its INDEX entry, the INDEX
# layout, Index_Hash, File_Header_Hash, the Prev_Commit_Hash chain, Block_Id
# of BLOCK records and Content_Hash of FILE records. Each check prints "ok" or
# "MISMATCH"; the exit status is 1 when any check failed.
#
# Needs only a POSIX shell, od, dd, cut, tr, sed and b2sum (GNU coreutils).
# Compressed payloads are decoded with the zstd command (codec 1) or
# `pigz -dz` (codec 2) when those are installed, and left undecoded otherwise.
set -eu

brief=0
if [ "${1-}" = "--brief" ]; then
    brief=1
    shift
fi
if [ $# -ne 1 ]; then
    echo "usage: dump-vectors.sh [--brief] ARCHIVE" >&2
    exit 2
fi
f=$1
if [ ! -f "$f" ]; then
    echo "dump-vectors.sh: $f: not a regular file" >&2
    exit 2
fi
if ! command -v b2sum > /dev/null 2>&1; then
    echo "dump-vectors.sh: b2sum (GNU coreutils) is needed for BLAKE2b-256" >&2
    exit 3
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dump-vectors.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
bad=0

# ---- byte access -------------------------------------------------------
# GNU dd copies any byte range in large blocks; elsewhere fall back to bs=1.
if dd if=/dev/null of=/dev/null iflag=skip_bytes,count_bytes 2> /dev/null; then
    extract() { dd if="$1" bs=65536 iflag=skip_bytes,count_bytes skip="$2" count="$3" 2> /dev/null; }
else
    extract() { dd if="$1" bs=1 skip="$2" count="$3" 2> /dev/null; }
fi

# hash FILE OFF LEN: BLAKE2b-256 of a byte range, lowercase hex
hash() { extract "$1" "$2" "$3" | b2sum -l 256 | cut -d' ' -f1; }

# hex FILE OFF LEN: the bytes as one lowercase hex string
hex() { od -An -v -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }

# spaced HEXSTRING: "a1b2c3" -> "a1 b2 c3"
spaced() { echo "$1" | sed 's/../& /g; s/ $//'; }

# u FILE OFF LEN: little-endian unsigned integer (LEN <= 8), in decimal;
# a u64 above 2^63-1 is printed in hex
u() {
    _f=$1 _o=$2 _n=$3
    # shellcheck disable=SC2046
    set -- $(od -An -v -tu1 -j "$_o" -N "$_n" "$_f")
    _v=0 _s=0 _top=0
    for _b; do
        _v=$((_v + (_b << _s)))
        _s=$((_s + 8))
        _top=$_b
    done
    if [ "$_n" -eq 8 ] && [ "$_top" -ge 128 ]; then
        _h=""
        for _b in $(od -An -v -tx1 -j "$_o" -N 8 "$_f"); do _h=$_b$_h; done
        echo "0x$_h"
    else
        echo "$_v"
    fi
}

# i64 FILE OFF: little-endian two's complement
i64() {
    # shellcheck disable=SC2046
    set -- $(od -An -v -tu1 -j "$2" -N 8 "$1")
    _v=0 _s=0
    for _b; do
        _v=$((_v | (_b << _s)))
        _s=$((_s + 8))
    done
    echo "$_v"
}

# dump FILE OFF LEN [BASE]: hex lines, 16 bytes each, with decimal offsets
# (file offsets; BASE is added when FILE is a decoded payload)
dump() {
    od -Ad -v -tx1 -j "$2" -N "$3" "$1" | sed '/^[0-9]*$/d' |
        while read -r _a _rest; do
            _a=${_a#"${_a%%[!0]*}"}
            printf '    %08d  %s\n' $((${_a:-0} + ${4:-0})) "$_rest"
        done
}

# uuid HEX32: 8-4-4-4-12
uuid() {
    echo "$1" | sed 's/^\(........\)\(....\)\(....\)\(....\)\(............\)$/\1-\2-\3-\4-\5/'
}

# isotime MICROSECONDS: UTC date and time (proleptic Gregorian calendar)
isotime() {
    _s=$(($1 / 1000000)) _r=$(($1 % 1000000))
    if [ "$_r" -lt 0 ]; then _r=$((_r + 1000000)) _s=$((_s - 1)); fi
    _d=$((_s / 86400)) _t=$((_s % 86400))
    if [ "$_t" -lt 0 ]; then _t=$((_t + 86400)) _d=$((_d - 1)); fi
    _z=$((_d + 719468))
    _era=$(((_z >= 0 ? _z : _z - 146096) / 146097))
    _doe=$((_z - _era * 146097))
    _yoe=$(((_doe - _doe / 1460 + _doe / 36524 - _doe / 146096) / 365))
    _y=$((_yoe + _era * 400))
    _doy=$((_doe - (365 * _yoe + _yoe / 4 - _yoe / 100)))
    _mp=$(((5 * _doy + 2) / 153))
    _day=$((_doy - (153 * _mp + 2) / 5 + 1))
    _m=$((_mp < 10 ? _mp + 3 : _mp - 9))
    if [ "$_m" -le 2 ]; then _y=$((_y + 1)); fi
    printf '%04d-%02d-%02dT%02d:%02d:%02d.%06dZ' "$_y" "$_m" "$_day" \
        $((_t / 3600)) $((_t % 3600 / 60)) $((_t % 60)) "$_r"
}

# field ABSOFF NAME VALUE: one decoded field
field() { printf '    @%-8s %-22s = %s\n' "$1" "$2" "$3"; }

# check WHAT EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then
        printf '    check: %s: ok\n' "$1"
    else
        printf '    check: %s: MISMATCH (expected %s, found %s)\n' "$1" "$2" "$3"
        bad=$((bad + 1))
    fi
}

# text FILE OFF LEN: bytes shown as text (names, JSON), continuation lines indented
text() { extract "$1" "$2" "$3" | sed '2,$s/^/                                       /'; echo; }

type_name() {
    case $1 in
    1) echo BLOCK ;; 2) echo MAP ;; 3) echo FILE ;; 4) echo POINT ;;
    5) echo INDEX ;; 6) echo COMMIT ;; 7) echo KEYS ;; *) echo "undefined($1)" ;;
    esac
}
codec_name() {
    case $1 in 0) echo none ;; 1) echo zstd ;; 2) echo zlib ;; *) echo "undefined($1)" ;; esac
}
consistency_name() {
    case $1 in
    1) echo CrashConsistent ;; 2) echo FileSystemConsistent ;; 3) echo ApplicationConsistent ;;
    *) echo "undefined($1)" ;;
    esac
}

# decode OFF STORED RAW CODEC: make the decoded payload available as the
# file $dfile at offset $dbase (the archive itself for codec 0); returns 1
# when the payload cannot be decoded here
decode() {
    if [ "$4" -eq 0 ]; then
        dfile=$f dbase=$1
        return 0
    fi
    dfile=$tmp/payload dbase=0
    case $4 in
    1) command -v zstd > /dev/null 2>&1 || return 1
        extract "$f" "$1" "$2" | zstd -dcq > "$dfile" 2> /dev/null || return 1 ;;
    2) command -v pigz > /dev/null 2>&1 || return 1
        extract "$f" "$1" "$2" | pigz -dzc > "$dfile" 2> /dev/null || return 1 ;;
    *) return 1 ;;
    esac
    [ "$(wc -c < "$dfile" | tr -d ' ')" -eq "$3" ]
}

# where: decoded payload offsets are labelled "payload+N" when the payload
# is not stored as is
at() {
    if [ "$dfile" = "$f" ]; then echo "$1"; else echo "p+$(($1 - dbase))"; fi
}

size=$(wc -c < "$f" | tr -d ' ')
echo "vmrp archive $(basename "$f"): $size bytes"
echo "offsets are decimal file offsets; multi-byte integers are little-endian"
echo

# ---- file header -------------------------------------------------------
if [ "$size" -lt 128 ]; then
    echo "file shorter than the 128-byte header"
    exit 1
fi
echo "== File_Header @0, 128 bytes"
dump "$f" 0 128
dfile=$f
field 0 Magic "$(spaced "$(hex "$f" 0 8)")"
check "Magic" "89564d52500d0a1a" "$(hex "$f" 0 8)"
field 8 Major_Version "$(u "$f" 8 2)"
field 10 Minor_Version "$(u "$f" 10 2)"
field 12 Header_Size "$(u "$f" 12 4)"
field 16 Incompat_Features "0x$(hex "$f" 16 8)"
field 24 Compat_Features "0x$(hex "$f" 24 8)"
field 32 Collection_Id "$(uuid "$(hex "$f" 32 16)")"
block_size=$(u "$f" 48 4)
field 48 Block_Size "$block_size"
field 52 Max_Points "$(u "$f" 52 4)"
t=$(i64 "$f" 56)
field 56 Time_Created "$t ($(isotime "$t"))"
field 64 Reserved "32 bytes, $(if [ "$(hex "$f" 64 32 | tr -d 0)" = "" ]; then echo "all zero"; else echo "NOT ZERO"; fi)"
header_hash=$(hex "$f" 96 32)
field 96 Header_Hash "$header_hash"
check "Header_Hash = BLAKE2b-256(bytes 0..95)" "$(hash "$f" 0 96)" "$header_hash"
file_header_hash=$(hash "$f" 0 128)
echo "    BLAKE2b-256(bytes 0..127) = $file_header_hash   (File_Header_Hash of every COMMIT)"
echo

# ---- records -----------------------------------------------------------
pos=128 seg=1 seg_start=128 prev_commit_hash="" prev_commit_off=0
: > "$tmp/seen"    # "offset size type hash" of the records of the current segment
: > "$tmp/blocks"  # "offset block_id" of every BLOCK record
index_hash="" index_off=0 index_size=0
while [ "$pos" -lt "$size" ]; do
    if [ $((size - pos)) -lt 16 ]; then
        echo "== tail @$pos: $((size - pos)) bytes, too short for a Record_Header"
        bad=$((bad + 1))
        break
    fi
    magic=$(hex "$f" "$pos" 4)
    rtype=$(u "$f" $((pos + 4)) 1)
    codec=$(u "$f" $((pos + 5)) 1)
    flags=$(u "$f" $((pos + 6)) 1)
    rsv=$(u "$f" $((pos + 7)) 1)
    stored=$(u "$f" $((pos + 8)) 4)
    raw=$(u "$f" $((pos + 12)) 4)
    if [ "$magic" != "56526563" ] || [ $((pos + 16 + stored)) -gt "$size" ]; then
        echo "== tail @$pos: $((size - pos)) bytes that are not a complete record"
        bad=$((bad + 1))
        break
    fi
    rsize=$((16 + stored))
    tname=$(type_name "$rtype")
    rhash=$(hash "$f" "$pos" "$rsize")
    echo "== $tname record @$pos, Record_Size $rsize (segment $seg)"
    echo "   Record_Header:"
    dump "$f" "$pos" 16
    field "$pos" Magic "$(spaced "$magic") (\"VRec\")"
    field $((pos + 4)) Record_Type "$rtype ($tname)"
    field $((pos + 5)) Codec "$codec ($(codec_name "$codec"))"
    field $((pos + 6)) Record_Flags "$flags"
    field $((pos + 7)) Reserved "$rsv"
    field $((pos + 8)) Stored_Size "$stored"
    field $((pos + 12)) Raw_Size "$raw"
    if [ "$rtype" -eq 6 ]; then
        echo "    (a COMMIT is authenticated by its Commit_Hash, below, not by a Record_Hash)"
    else
        echo "    Record_Hash = BLAKE2b-256(bytes $pos..$((pos + rsize - 1))) = $rhash"
    fi
    p=$((pos + 16))
    case $rtype in
    1 | 3) # BLOCK, FILE
        if [ "$brief" -eq 1 ]; then
            echo "   payload: $stored bytes (left out: --brief)"
        else
            echo "   payload ($stored bytes, $(codec_name "$codec")):"
            dump "$f" "$p" "$stored"
        fi
        if decode "$p" "$stored" "$raw" "$codec"; then
            id=$(hash "$dfile" "$dbase" "$raw")
            if [ "$rtype" -eq 1 ]; then
                echo "    Block_Id = BLAKE2b-256(decoded payload) = $id"
                echo "$pos $id" >> "$tmp/blocks"
            else
                echo "    Content_Hash = BLAKE2b-256(decoded payload) = $id"
                echo "$pos $id" >> "$tmp/files"
            fi
        else
            echo "    (payload not decoded: no $(codec_name "$codec") decoder here)"
        fi
        ;;
    2) # MAP
        echo "   payload ($stored bytes, $(codec_name "$codec")):"
        dump "$f" "$p" "$stored"
        if decode "$p" "$stored" "$raw" "$codec"; then
            [ "$codec" -eq 0 ] || { echo "   decoded payload ($raw bytes; offsets p+N from its start):"; dump "$dfile" 0 "$raw"; }
            n=$((raw / 48)) k=0
            echo "   Map_Entry x $n:"
            while [ "$k" -lt "$n" ]; do
                e=$((dbase + 48 * k))
                bn=$(u "$dfile" "$e" 8)
                bro=$(u "$dfile" $((e + 8)) 8)
                bid=$(hex "$dfile" $((e + 16)) 32)
                field "$(at "$e")" "[$k] Block_Number" "$bn"
                field "$(at $((e + 8)))" "[$k] Block_Record_Offset" "$bro"
                field "$(at $((e + 16)))" "[$k] Block_Id" "$bid"
                if [ "$bro" -eq 0 ]; then
                    check "[$k] zero block has an all-zero Block_Id" "" "$(echo "$bid" | tr -d 0)"
                else
                    check "[$k] Block_Id of the BLOCK record @$bro" \
                        "$(sed -n "s/^$bro //p" "$tmp/blocks")" "$bid"
                fi
                k=$((k + 1))
            done
        else
            echo "    (payload not decoded: no $(codec_name "$codec") decoder here)"
        fi
        ;;
    4) # POINT
        echo "   payload ($stored bytes, $(codec_name "$codec")):"
        dump "$f" "$p" "$stored"
        if decode "$p" "$stored" "$raw" "$codec"; then
            [ "$codec" -eq 0 ] || { echo "   decoded payload ($raw bytes; offsets p+N from its start):"; dump "$dfile" 0 "$raw"; }
            b=$dbase
            echo "   Point_Fixed:"
            field "$(at "$b")" Point_Id "$(uuid "$(hex "$dfile" "$b" 16)")"
            field "$(at $((b + 16)))" Sequence "$(u "$dfile" $((b + 16)) 4)"
            field "$(at $((b + 20)))" Parent_Sequence "$(u "$dfile" $((b + 20)) 4)"
            t=$(i64 "$dfile" $((b + 24)))
            field "$(at $((b + 24)))" Time_Created "$t ($(isotime "$t"))"
            cm=$(u "$dfile" $((b + 32)) 1)
            field "$(at $((b + 32)))" Consistency_Mode "$cm ($(consistency_name "$cm"))"
            field "$(at $((b + 33)))" Reserved "$(spaced "$(hex "$dfile" $((b + 33)) 3)")"
            ndisks=$(u "$dfile" $((b + 36)) 4)
            nfiles=$(u "$dfile" $((b + 40)) 4)
            nsize=$(u "$dfile" $((b + 44)) 4)
            msize=$(u "$dfile" $((b + 48)) 4)
            field "$(at $((b + 36)))" Disk_Count "$ndisks"
            field "$(at $((b + 40)))" Config_File_Count "$nfiles"
            field "$(at $((b + 44)))" Name_Size "$nsize"
            field "$(at $((b + 48)))" Source_Metadata_Size "$msize"
            field "$(at $((b + 52)))" Reserved "$(spaced "$(hex "$dfile" $((b + 52)) 12)")"
            c=$((b + 64))
            printf '    @%-8s %-22s = ' "$(at "$c")" Name
            text "$dfile" "$c" "$nsize"
            c=$((c + nsize))
            printf '    @%-8s %-22s = ' "$(at "$c")" Source_Metadata
            text "$dfile" "$c" "$msize"
            c=$((c + msize))
            k=0
            while [ "$k" -lt "$ndisks" ]; do
                echo "   Disk_Entry [$k]:"
                field "$(at "$c")" Family_Id "$(uuid "$(hex "$dfile" "$c" 16)")"
                field "$(at $((c + 16)))" Disk_Size "$(u "$dfile" $((c + 16)) 8)"
                field "$(at $((c + 24)))" Logical_Sector_Size "$(u "$dfile" $((c + 24)) 4)"
                field "$(at $((c + 28)))" Disk_Flags "$(u "$dfile" $((c + 28)) 4)"
                field "$(at $((c + 32)))" Changed_Blocks "$(u "$dfile" $((c + 32)) 8)"
                field "$(at $((c + 40)))" Stored_Bytes "$(u "$dfile" $((c + 40)) 8)"
                nmaps=$(u "$dfile" $((c + 48)) 4)
                dn=$(u "$dfile" $((c + 52)) 4)
                field "$(at $((c + 48)))" Map_Record_Count "$nmaps"
                field "$(at $((c + 52)))" Name_Size "$dn"
                field "$(at $((c + 56)))" Reserved "$(spaced "$(hex "$dfile" $((c + 56)) 8)")"
                c=$((c + 64))
                printf '    @%-8s %-22s = ' "$(at "$c")" Name
                text "$dfile" "$c" "$dn"
                c=$((c + dn))
                m=0
                while [ "$m" -lt "$nmaps" ]; do
                    field "$(at "$c")" "Map_Record_Offset[$m]" "$(u "$dfile" "$c" 8)"
                    c=$((c + 8))
                    m=$((m + 1))
                done
                k=$((k + 1))
            done
            k=0
            while [ "$k" -lt "$nfiles" ]; do
                echo "   Config_File_Entry [$k]:"
                field "$(at "$c")" Mode "0$(printf '%o' "$(u "$dfile" "$c" 4)")"
                fn=$(u "$dfile" $((c + 4)) 4)
                field "$(at $((c + 4)))" Name_Size "$fn"
                field "$(at $((c + 8)))" File_Size "$(u "$dfile" $((c + 8)) 8)"
                fro=$(u "$dfile" $((c + 16)) 8)
                field "$(at $((c + 16)))" File_Record_Offset "$fro"
                ch=$(hex "$dfile" $((c + 24)) 32)
                field "$(at $((c + 24)))" Content_Hash "$ch"
                if [ "$fro" -ne 0 ] && [ -f "$tmp/files" ]; then
                    check "Content_Hash of the FILE record @$fro" "$(sed -n "s/^$fro //p" "$tmp/files")" "$ch"
                fi
                c=$((c + 56))
                printf '    @%-8s %-22s = ' "$(at "$c")" Name
                text "$dfile" "$c" "$fn"
                c=$((c + fn))
                k=$((k + 1))
            done
            check "payload ends after the last entry" "$((dbase + raw))" "$c"
        else
            echo "    (payload not decoded: no $(codec_name "$codec") decoder here)"
        fi
        ;;
    5) # INDEX
        echo "   payload ($stored bytes):"
        dump "$f" "$p" "$stored"
        n=$(u "$f" "$p" 4)
        field "$p" Entry_Count "$n"
        field $((p + 4)) Reserved "$(u "$f" $((p + 4)) 4)"
        field $((p + 8)) Point_Record_Offset "$(u "$f" $((p + 8)) 8)"
        k=0 expect=$seg_start
        while [ "$k" -lt "$n" ]; do
            e=$((p + 16 + 48 * k))
            ro=$(u "$f" "$e" 8)
            rs=$(u "$f" $((e + 8)) 4)
            rt=$(u "$f" $((e + 12)) 1)
            rh=$(hex "$f" $((e + 16)) 32)
            echo "   Index_Entry [$k]:"
            field "$e" Record_Offset "$ro"
            field $((e + 8)) Record_Size "$rs"
            field $((e + 12)) Record_Type "$rt ($(type_name "$rt"))"
            field $((e + 13)) Reserved "$(spaced "$(hex "$f" $((e + 13)) 3)")"
            field $((e + 16)) Record_Hash "$rh"
            check "entry $k matches the record seen at $expect" \
                "$(sed -n "$((k + 1))p" "$tmp/seen")" "$ro $rs $rt $rh"
            expect=$((ro + rs))
            k=$((k + 1))
        done
        check "entries tile the segment up to the INDEX" "$pos" "$expect"
        check "Entry_Count = records of the segment before the INDEX" \
            "$(wc -l < "$tmp/seen" | tr -d ' ')" "$n"
        index_hash=$rhash index_off=$pos index_size=$rsize
        ;;
    6) # COMMIT
        echo "   payload ($stored bytes):"
        dump "$f" "$p" "$stored"
        field "$p" Commit_Sequence "$(u "$f" "$p" 4)"
        field $((p + 4)) Point_Count "$(u "$f" $((p + 4)) 4)"
        co=$(u "$f" $((p + 8)) 8)
        so=$(u "$f" $((p + 16)) 8)
        io=$(u "$f" $((p + 24)) 8)
        is=$(u "$f" $((p + 32)) 8)
        ih=$(hex "$f" $((p + 40)) 32)
        po=$(u "$f" $((p + 72)) 8)
        ph=$(hex "$f" $((p + 80)) 32)
        fh=$(hex "$f" $((p + 112)) 32)
        field $((p + 8)) Commit_Offset "$co"
        field $((p + 16)) Segment_Offset "$so"
        field $((p + 24)) Index_Offset "$io"
        field $((p + 32)) Index_Size "$is"
        field $((p + 40)) Index_Hash "$ih"
        field $((p + 72)) Prev_Commit_Offset "$po"
        field $((p + 80)) Prev_Commit_Hash "$ph"
        field $((p + 112)) File_Header_Hash "$fh"
        t=$(i64 "$f" $((p + 144)))
        field $((p + 144)) Time_Committed "$t ($(isotime "$t"))"
        field $((p + 152)) Commit_Flags "$(u "$f" $((p + 152)) 8)"
        field $((p + 160)) Signer_Key_Id "$(spaced "$(hex "$f" $((p + 160)) 8)")"
        sg=$(hex "$f" $((p + 168)) 64)
        field $((p + 168)) Signature "$(if [ -z "$(echo "$sg" | tr -d 0)" ]; then echo "64 zero bytes"; else echo "$sg"; fi)"
        field $((p + 232)) End_Magic "$(spaced "$(hex "$f" $((p + 232)) 8)") (\"VMRPEND\\x1a\")"
        commit_hash=$(hash "$f" "$pos" 184)
        echo "    Commit_Hash = BLAKE2b-256(bytes $pos..$((pos + 183))) = $commit_hash"
        check "Commit_Sequence = segment number" "$seg" "$(u "$f" "$p" 4)"
        check "Commit_Offset = offset of this record" "$pos" "$co"
        check "Segment_Offset" "$seg_start" "$so"
        check "Index_Offset, Index_Size" "$index_off $index_size" "$io $is"
        check "Index_Offset + Index_Size = Commit_Offset" "$co" "$((io + is))"
        check "Index_Hash = Record_Hash of the INDEX" "$index_hash" "$ih"
        if [ "$seg" -eq 1 ]; then
            check "Prev_Commit_Offset, Prev_Commit_Hash of the first commit are zero" \
                "0 $(printf '%064d' 0)" "$po $ph"
        else
            check "Prev_Commit_Offset = previous Commit_Offset" "$prev_commit_off" "$po"
            check "Prev_Commit_Hash = previous Commit_Hash" "$prev_commit_hash" "$ph"
        fi
        check "File_Header_Hash = BLAKE2b-256(bytes 0..127)" "$file_header_hash" "$fh"
        check "End_Magic" "564d5250454e441a" "$(hex "$f" $((p + 232)) 8)"
        prev_commit_hash=$commit_hash prev_commit_off=$pos
        ;;
    *)
        echo "   payload ($stored bytes):"
        dump "$f" "$p" "$stored"
        echo "    (record type not defined in format 1.0)"
        bad=$((bad + 1))
        ;;
    esac
    echo
    case $rtype in
    5) ;;
    6) : > "$tmp/seen"
        seg=$((seg + 1)) seg_start=$((pos + rsize)) ;;
    *) echo "$pos $rsize $rtype $rhash" >> "$tmp/seen" ;;
    esac
    pos=$((pos + rsize))
done

echo "== end @$pos: $((seg - 1)) commit(s); latest Commit_Hash ${prev_commit_hash:-(none)}"
if [ "$bad" -ne 0 ]; then
    echo "$bad check(s) failed"
    exit 1
fi
echo "all checks ok"
