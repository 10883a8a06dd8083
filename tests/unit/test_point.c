/* test_point.c - point.c: decoding of POINT payloads from a hostile file.
 *
 * A valid payload is built by hand from the offsets in format.h (two disks,
 * one of them excluded, and two config files, one of them empty). Every
 * test then breaks one field and expects VMRP_E_CORRUPT, a reason, a
 * cleared point_meta and, under ASan, no leak and no read past the end.
 */
#define _GNU_SOURCE
#include "unit.h"

#include "vmrp_private.h"

typedef struct {
    unsigned char p[4096];
    size_t len;
    /* where each part starts */
    size_t name, meta, disk[2], disk_name[2], disk_maps[2], file[2], file_name[2];
} payload;

static const char *const NAME = "nightly-1";
static const char *const META = "{\"vm\":\"demo\",\"cpus\":2}";
static const char *const DNAME[2] = {"vda", "vdb"};
static const char *const FNAME[2] = {"etc/domain.xml", "nvram/empty"};

static size_t put(payload *b, const void *src, size_t n)
{
    size_t at = b->len;
    ck_assert_uint_le(b->len + n, sizeof b->p);
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return at;
}

static size_t zeros(payload *b, size_t n)
{
    size_t at = b->len;
    ck_assert_uint_le(b->len + n, sizeof b->p);
    memset(b->p + b->len, 0, n);
    b->len += n;
    return at;
}

static void build(payload *b)
{
    memset(b, 0, sizeof *b);
    unsigned char *fx = b->p + zeros(b, PT_FIXED_SIZE);
    for (int i = 0; i < 16; i++)
        fx[PT_OFF_ID + i] = (unsigned char)(0xa0 + i);
    le32_store(fx + PT_OFF_SEQUENCE, 3);
    le32_store(fx + PT_OFF_PARENT, 2);
    le64_store(fx + PT_OFF_TIME, 1700000000123456ull);
    fx[PT_OFF_CONSISTENCY] = VMRP_CONSISTENCY_FILESYSTEM;
    le32_store(fx + PT_OFF_DISK_COUNT, 2);
    le32_store(fx + PT_OFF_FILE_COUNT, 2);
    le32_store(fx + PT_OFF_NAME_SIZE, (uint32_t)strlen(NAME));
    le32_store(fx + PT_OFF_META_SIZE, (uint32_t)strlen(META));
    b->name = put(b, NAME, strlen(NAME));
    b->meta = put(b, META, strlen(META));

    /* Disk 0: included, 70000 changed blocks in two MAP records. */
    b->disk[0] = zeros(b, PD_FIXED_SIZE);
    unsigned char *d = b->p + b->disk[0];
    memset(d + PD_OFF_FAMILY_ID, 0x11, ID_SIZE);
    le64_store(d + PD_OFF_DISK_SIZE, 10ull << 30);
    le32_store(d + PD_OFF_SECTOR_SIZE, 512);
    le64_store(d + PD_OFF_CHANGED, 70000);
    le64_store(d + PD_OFF_STORED, 123456);
    le32_store(d + PD_OFF_MAP_COUNT, 2);
    le32_store(d + PD_OFF_NAME_SIZE, 3);
    b->disk_name[0] = put(b, DNAME[0], 3);
    b->disk_maps[0] = zeros(b, 16);
    le64_store(b->p + b->disk_maps[0], 4096);
    le64_store(b->p + b->disk_maps[0] + 8, 3200000);

    /* Disk 1: excluded, nothing stored. */
    b->disk[1] = zeros(b, PD_FIXED_SIZE);
    d = b->p + b->disk[1];
    memset(d + PD_OFF_FAMILY_ID, 0x22, ID_SIZE);
    le64_store(d + PD_OFF_DISK_SIZE, 1u << 20);
    le32_store(d + PD_OFF_SECTOR_SIZE, 4096);
    le32_store(d + PD_OFF_FLAGS, DISK_FLAG_EXCLUDED);
    le32_store(d + PD_OFF_NAME_SIZE, 3);
    b->disk_name[1] = put(b, DNAME[1], 3);
    b->disk_maps[1] = b->len;

    /* File 0: 10 bytes in a FILE record; file 1: empty. */
    b->file[0] = zeros(b, PF_FIXED_SIZE);
    unsigned char *f = b->p + b->file[0];
    le32_store(f + PF_OFF_MODE, 0644);
    le32_store(f + PF_OFF_NAME_SIZE, (uint32_t)strlen(FNAME[0]));
    le64_store(f + PF_OFF_FILE_SIZE, 10);
    le64_store(f + PF_OFF_RECORD, 777);
    memset(f + PF_OFF_HASH, 0x33, HASH_SIZE);
    b->file_name[0] = put(b, FNAME[0], strlen(FNAME[0]));
    b->file[1] = zeros(b, PF_FIXED_SIZE);
    f = b->p + b->file[1];
    le32_store(f + PF_OFF_MODE, 0600);
    le32_store(f + PF_OFF_NAME_SIZE, (uint32_t)strlen(FNAME[1]));
    hash_buf(f + PF_OFF_HASH, "", 0);
    b->file_name[1] = put(b, FNAME[1], strlen(FNAME[1]));
}

/* Parse an exact-size heap copy, so that any read past the end is seen. */
static int parse_copy(const unsigned char *p, size_t len, point_meta *m, const char **why)
{
    unsigned char *copy = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, p, len);
    *why = NULL;
    int rc = point_parse(copy, len, m, why);
    free(copy);
    return rc;
}

static void expect_corrupt_len(const payload *b, size_t len, const char *label)
{
    point_meta m;
    const char *why;
    int rc = parse_copy(b->p, len, &m, &why);
    if (rc == VMRP_OK)
        point_meta_clear(&m); /* no leak in the failure report below */
    ck_assert_msg(rc == VMRP_E_CORRUPT, "%s: rc %d (expected VMRP_E_CORRUPT)", label, rc);
    ck_assert_msg(why && *why, "%s: no reason", label);
    /* A failed parse leaves nothing to free. */
    ck_assert_ptr_null(m.strings);
    ck_assert_ptr_null(m.disks);
    ck_assert_ptr_null(m.disk_meta);
    ck_assert_ptr_null(m.files);
    ck_assert_ptr_null(m.file_records);
    ck_assert_ptr_null(m.file_hashes);
}

static void expect_corrupt(const payload *b, const char *label)
{
    expect_corrupt_len(b, b->len, label);
}

START_TEST(test_valid_payload)
{
    payload b;
    build(&b);
    point_meta m;
    const char *why;
    int rc = parse_copy(b.p, b.len, &m, &why);
    ck_assert_msg(rc == VMRP_OK, "valid payload rejected: %s", why ? why : "?");
    const vmrp_point_info *pi = &m.info;
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(pi->id[i], 0xa0 + i);
    ck_assert_uint_eq(pi->sequence, 3);
    ck_assert_uint_eq(pi->parent_sequence, 2);
    ck_assert_int_eq(pi->time_created_us, 1700000000123456LL);
    ck_assert_int_eq(pi->consistency, VMRP_CONSISTENCY_FILESYSTEM);
    ck_assert_str_eq(pi->name, NAME);
    ck_assert_str_eq(pi->source_metadata, META);
    ck_assert_uint_eq(pi->source_metadata_size, strlen(META));
    ck_assert_uint_eq(pi->disk_count, 2);
    ck_assert_str_eq(pi->disks[0].name, "vda");
    ck_assert_uint_eq(pi->disks[0].size_bytes, 10ull << 30);
    ck_assert_uint_eq(pi->disks[0].sector_size, 512);
    ck_assert_int_eq(pi->disks[0].excluded, 0);
    ck_assert_uint_eq(pi->disks[0].changed_blocks, 70000);
    ck_assert_uint_eq(pi->disks[0].stored_bytes, 123456);
    ck_assert_uint_eq(pi->disks[0].family_id[7], 0x11);
    ck_assert_uint_eq(m.disk_meta[0].map_count, 2);
    ck_assert_uint_eq(m.disk_meta[0].map_offsets[0], 4096);
    ck_assert_uint_eq(m.disk_meta[0].map_offsets[1], 3200000);
    ck_assert_str_eq(pi->disks[1].name, "vdb");
    ck_assert_int_eq(pi->disks[1].excluded, 1);
    ck_assert_uint_eq(pi->disks[1].sector_size, 4096);
    ck_assert_uint_eq(m.disk_meta[1].map_count, 0);
    ck_assert_uint_eq(pi->config_file_count, 2);
    ck_assert_str_eq(pi->config_files[0].name, FNAME[0]);
    ck_assert_uint_eq(pi->config_files[0].mode, 0644);
    ck_assert_uint_eq(pi->config_files[0].size, 10);
    ck_assert_uint_eq(m.file_records[0], 777);
    ck_assert_uint_eq(m.file_hashes[0][31], 0x33);
    ck_assert_str_eq(pi->config_files[1].name, FNAME[1]);
    ck_assert_uint_eq(pi->config_files[1].size, 0);
    ck_assert_uint_eq(m.file_records[1], 0);
    ck_assert_ptr_eq(pi->disks, m.disks);
    ck_assert_ptr_eq(pi->config_files, m.files);
    point_meta_clear(&m);
    ck_assert_ptr_null(m.strings);
}
END_TEST

/* The smallest valid point: no disk, no file, "{}". */
START_TEST(test_minimal_payload)
{
    unsigned char p[PT_FIXED_SIZE + 3];
    memset(p, 0, sizeof p);
    le32_store(p + PT_OFF_SEQUENCE, 1);
    p[PT_OFF_CONSISTENCY] = 1;
    le32_store(p + PT_OFF_NAME_SIZE, 1);
    le32_store(p + PT_OFF_META_SIZE, 2);
    memcpy(p + PT_FIXED_SIZE, "x{}", 3);
    point_meta m;
    const char *why;
    ck_assert_int_eq(parse_copy(p, sizeof p, &m, &why), VMRP_OK);
    ck_assert_str_eq(m.info.name, "x");
    ck_assert_str_eq(m.info.source_metadata, "{}");
    ck_assert_uint_eq(m.info.disk_count, 0);
    ck_assert_uint_eq(m.info.config_file_count, 0);
    point_meta_clear(&m);
    /* Metadata that is not an object, or not JSON, or empty. */
    memcpy(p + PT_FIXED_SIZE, "x[]", 3);
    ck_assert_int_eq(parse_copy(p, sizeof p, &m, &why), VMRP_E_CORRUPT);
    memcpy(p + PT_FIXED_SIZE, "x{,", 3);
    ck_assert_int_eq(parse_copy(p, sizeof p, &m, &why), VMRP_E_CORRUPT);
    le32_store(p + PT_OFF_META_SIZE, 0);
    ck_assert_int_eq(parse_copy(p, PT_FIXED_SIZE + 1, &m, &why), VMRP_E_CORRUPT);
}
END_TEST

START_TEST(test_every_truncation)
{
    payload b;
    build(&b);
    for (size_t len = 0; len < b.len; len++) {
        char label[64];
        snprintf(label, sizeof label, "truncated to %zu of %zu", len, b.len);
        expect_corrupt_len(&b, len, label);
    }
}
END_TEST

START_TEST(test_trailing_bytes)
{
    payload b;
    build(&b);
    zeros(&b, 1);
    expect_corrupt(&b, "one byte after the last entry");
    build(&b);
    put(&b, "xxxxxxxx", 8);
    expect_corrupt(&b, "eight bytes after the last entry");
}
END_TEST

START_TEST(test_counts_too_large)
{
    static const uint32_t disks[] = {3, 4, 257, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof disks / sizeof disks[0]; i++) {
        payload b;
        build(&b);
        le32_store(b.p + PT_OFF_DISK_COUNT, disks[i]);
        expect_corrupt(&b, "Disk_Count too large");
    }
    static const uint32_t files[] = {3, 4097, UINT32_MAX};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        payload b;
        build(&b);
        le32_store(b.p + PT_OFF_FILE_COUNT, files[i]);
        expect_corrupt(&b, "Config_File_Count too large");
    }
    /* Fewer entries than present leaves trailing bytes. */
    payload b;
    build(&b);
    le32_store(b.p + PT_OFF_DISK_COUNT, 1);
    expect_corrupt(&b, "Disk_Count too small");
    build(&b);
    le32_store(b.p + PT_OFF_FILE_COUNT, 1);
    expect_corrupt(&b, "Config_File_Count too small");
    /* Map record counts. */
    static const uint32_t maps[] = {3, 1000, 0x20000000u, UINT32_MAX};
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        build(&b);
        le32_store(b.p + b.disk[0] + PD_OFF_MAP_COUNT, maps[i]);
        le64_store(b.p + b.disk[0] + PD_OFF_CHANGED, maps[i]);
        expect_corrupt(&b, "Map_Record_Count past the end");
    }
    /* Changed_Blocks must fit the map records: 1..65536 entries each. */
    build(&b);
    le64_store(b.p + b.disk[0] + PD_OFF_CHANGED, 2 * 65536 + 1);
    expect_corrupt(&b, "Changed_Blocks above 65536 per map record");
    build(&b);
    le64_store(b.p + b.disk[0] + PD_OFF_CHANGED, 1);
    expect_corrupt(&b, "fewer Changed_Blocks than map records");
    build(&b);
    le64_store(b.p + b.disk[0] + PD_OFF_CHANGED, 0);
    expect_corrupt(&b, "no Changed_Blocks with map records");
    build(&b);
    le64_store(b.p + b.disk[0] + PD_OFF_CHANGED, UINT64_MAX);
    expect_corrupt(&b, "Changed_Blocks 2^64-1");
}
END_TEST

START_TEST(test_sizes_past_the_end)
{
    static const uint32_t big[] = {1000, 65535, 0x7fffffffu, UINT32_MAX};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        payload b;
        build(&b);
        le32_store(b.p + PT_OFF_NAME_SIZE, big[i]);
        expect_corrupt(&b, "point Name_Size");
        build(&b);
        le32_store(b.p + PT_OFF_META_SIZE, big[i]);
        expect_corrupt(&b, "Source_Metadata_Size");
        build(&b);
        le32_store(b.p + b.disk[0] + PD_OFF_NAME_SIZE, big[i]);
        expect_corrupt(&b, "disk Name_Size");
        build(&b);
        le32_store(b.p + b.disk[1] + PD_OFF_NAME_SIZE, big[i]);
        expect_corrupt(&b, "last disk Name_Size");
        build(&b);
        le32_store(b.p + b.file[0] + PF_OFF_NAME_SIZE, big[i]);
        expect_corrupt(&b, "config file Name_Size");
        build(&b);
        le32_store(b.p + b.file[1] + PF_OFF_NAME_SIZE, big[i]);
        expect_corrupt(&b, "last config file Name_Size");
    }
    payload b;
    build(&b);
    le32_store(b.p + PT_OFF_NAME_SIZE, 0);
    expect_corrupt(&b, "point Name_Size 0");
    build(&b);
    le32_store(b.p + b.disk[0] + PD_OFF_NAME_SIZE, 0);
    expect_corrupt(&b, "disk Name_Size 0");
    build(&b);
    le32_store(b.p + b.file[0] + PF_OFF_NAME_SIZE, 0);
    expect_corrupt(&b, "config Name_Size 0");
    /* One byte too long: the next field is read as part of the name. */
    build(&b);
    le32_store(b.p + PT_OFF_NAME_SIZE, (uint32_t)strlen(NAME) + 1);
    expect_corrupt(&b, "point Name_Size + 1");
    build(&b);
    le32_store(b.p + PT_OFF_META_SIZE, (uint32_t)strlen(META) - 1);
    expect_corrupt(&b, "Source_Metadata_Size - 1");
    /* Sizes above their limits even when the bytes are there. */
    build(&b);
    le32_store(b.p + PT_OFF_META_SIZE, (16u << 20) + 1);
    expect_corrupt(&b, "Source_Metadata_Size above 16 MiB");
    build(&b);
    le32_store(b.p + PT_OFF_NAME_SIZE, 256);
    expect_corrupt(&b, "Name_Size 256");
}
END_TEST

/* Overwrite a name in place (same length) and expect rejection. */
static void bad_name(size_t at, const char *text, size_t len, const char *label)
{
    payload b;
    build(&b);
    memcpy(b.p + at, text, len);
    expect_corrupt(&b, label);
}
#define BAD_NAME(at, lit, label) bad_name((at), (lit), sizeof(lit) - 1, (label))

START_TEST(test_bad_names)
{
    payload probe;
    build(&probe);
    /* Point names: all digits, "latest"-like, control chars, NUL, bad UTF-8. */
    BAD_NAME(probe.name, "123456789", "all-digit point name");
    BAD_NAME(probe.name, "nightly\n1", "control char in point name");
    BAD_NAME(probe.name, "nightly\0" "1", "NUL in point name");
    BAD_NAME(probe.name, "nightly\xc0\xaf", "overlong UTF-8 in point name");
    /* Disk names. */
    BAD_NAME(probe.disk_name[0], "../", "disk name ../");
    BAD_NAME(probe.disk_name[0], ".vd", "disk name starting with a dot");
    BAD_NAME(probe.disk_name[0], "v/a", "disk name with a slash");
    BAD_NAME(probe.disk_name[1], "v a", "disk name with a space");
    BAD_NAME(probe.disk_name[1], "vda", "two disks with the same name");
    /* Config names. */
    BAD_NAME(probe.file_name[0], "../domain.xmlx", "config name with ..");
    BAD_NAME(probe.file_name[0], "/etc/domainxml", "absolute config name");
    BAD_NAME(probe.file_name[0], "etc//domainxml", "empty config name component");
    BAD_NAME(probe.file_name[0], "etc/./omainxml", "config name with .");
    BAD_NAME(probe.file_name[0], "etc/domain.xm/", "config name ending with /");
    BAD_NAME(probe.file_name[0], "etc/dom\tin.xml", "control char in config name");
}
END_TEST

/* Replace the first disk's or file's name with one of another length. */
static void renamed(int disk, const char *name, const char *label)
{
    payload b, out;
    build(&b);
    memset(&out, 0, sizeof out);
    size_t entry = disk ? b.disk[0] : b.file[0];
    size_t at = disk ? b.disk_name[0] : b.file_name[0];
    size_t old = disk ? 3 : strlen(FNAME[0]);
    memcpy(out.p, b.p, at);
    out.len = at;
    put(&out, name, strlen(name));
    put(&out, b.p + at + old, b.len - at - old);
    le32_store(out.p + entry + (disk ? PD_OFF_NAME_SIZE : PF_OFF_NAME_SIZE),
               (uint32_t)strlen(name));
    expect_corrupt(&out, label);
}

START_TEST(test_hostile_names)
{
    renamed(0, "../../etc/passwd", "config file ../../etc/passwd");
    renamed(0, "..", "config file ..");
    renamed(0, "a/../../b", "config file a/../../b");
    renamed(0, "nvram/empty", "two config files with the same name");
    renamed(1, "../x", "disk ../x");
    renamed(1, "..", "disk ..");
    renamed(1, "vdb", "two disks with the same name");
    renamed(1, "/dev/sda", "disk /dev/sda");
    char long_name[66];
    memset(long_name, 'd', 65);
    long_name[65] = '\0';
    renamed(1, long_name, "disk name of 65 bytes");
}
END_TEST

START_TEST(test_reserved_bytes)
{
    for (size_t i = PT_OFF_CONSISTENCY + 1; i < PT_OFF_CONSISTENCY + 4; i++) {
        payload b;
        build(&b);
        b.p[i] = 1;
        expect_corrupt(&b, "point reserved byte after Consistency_Mode");
    }
    for (size_t i = PT_OFF_RESERVED; i < PT_FIXED_SIZE; i++) {
        payload b;
        build(&b);
        b.p[i] = 0x80;
        expect_corrupt(&b, "point reserved byte");
    }
    for (int d = 0; d < 2; d++)
        for (size_t i = PD_OFF_RESERVED; i < PD_FIXED_SIZE; i++) {
            payload b;
            build(&b);
            b.p[b.disk[d] + i] = 1;
            expect_corrupt(&b, "disk reserved byte");
        }
    /* bit 1 is FULL (encrypted collections; the reader checks which) */
    for (unsigned bit = 2; bit < 32; bit++) {
        payload b;
        build(&b);
        le32_store(b.p + b.disk[0] + PD_OFF_FLAGS, 1u << bit);
        expect_corrupt(&b, "unknown Disk_Flags bit");
    }
    payload b;
    build(&b);
    le32_store(b.p + b.disk[0] + PD_OFF_FLAGS, DISK_FLAG_EXCLUDED | DISK_FLAG_FULL);
    expect_corrupt(&b, "EXCLUDED and FULL");
}
END_TEST

START_TEST(test_bad_fields)
{
    payload b;
    static const uint8_t modes[] = {0, 4, 255};
    for (size_t i = 0; i < 3; i++) {
        build(&b);
        b.p[PT_OFF_CONSISTENCY] = modes[i];
        expect_corrupt(&b, "Consistency_Mode");
    }
    build(&b);
    le64_store(b.p + b.disk[0] + PD_OFF_DISK_SIZE, (1ull << 62) + 1);
    expect_corrupt(&b, "Disk_Size above 2^62");
    static const uint32_t sectors[] = {0, 256, 511, 513, 1000, 131072, UINT32_MAX};
    for (size_t i = 0; i < sizeof sectors / sizeof sectors[0]; i++) {
        build(&b);
        le32_store(b.p + b.disk[0] + PD_OFF_SECTOR_SIZE, sectors[i]);
        expect_corrupt(&b, "Logical_Sector_Size");
    }
    build(&b);
    le32_store(b.p + b.file[0] + PF_OFF_MODE, 010000);
    expect_corrupt(&b, "config Mode above 07777");
    build(&b);
    le64_store(b.p + b.file[0] + PF_OFF_FILE_SIZE, (64ull << 20) + 1);
    expect_corrupt(&b, "config File_Size above 64 MiB");
    build(&b);
    le64_store(b.p + b.file[0] + PF_OFF_RECORD, 0);
    expect_corrupt(&b, "non-empty config file without a record");
    build(&b);
    le64_store(b.p + b.file[1] + PF_OFF_RECORD, 4096);
    expect_corrupt(&b, "empty config file with a record");
    /* Limits themselves are accepted. */
    point_meta m;
    const char *why;
    build(&b);
    le64_store(b.p + b.disk[0] + PD_OFF_DISK_SIZE, 1ull << 62);
    le32_store(b.p + b.disk[0] + PD_OFF_SECTOR_SIZE, 65536);
    le32_store(b.p + b.file[0] + PF_OFF_MODE, 07777);
    le64_store(b.p + b.file[0] + PF_OFF_FILE_SIZE, 64ull << 20);
    ck_assert_int_eq(parse_copy(b.p, b.len, &m, &why), VMRP_OK);
    point_meta_clear(&m);
}
END_TEST

START_TEST(test_excluded_disk_rules)
{
    payload b;
    build(&b);
    le32_store(b.p + b.disk[0] + PD_OFF_FLAGS, DISK_FLAG_EXCLUDED);
    expect_corrupt(&b, "excluded disk with a map");
    build(&b);
    le64_store(b.p + b.disk[1] + PD_OFF_CHANGED, 1);
    expect_corrupt(&b, "excluded disk with Changed_Blocks");
}
END_TEST

/* Spec 5.4.2: for an EXCLUDED disk "Changed_Blocks, Stored_Bytes and
 * Map_Record_Count MUST be 0". */
START_TEST(test_excluded_disk_stored_bytes)
{
    payload b;
    build(&b);
    le64_store(b.p + b.disk[1] + PD_OFF_STORED, 4096);
    expect_corrupt(&b, "excluded disk with Stored_Bytes 4096");
}
END_TEST

/* Spec 5.4.2: "Family_Id MUST be unique within the point." */
START_TEST(test_duplicate_family)
{
    payload b;
    build(&b);
    memcpy(b.p + b.disk[1] + PD_OFF_FAMILY_ID, b.p + b.disk[0] + PD_OFF_FAMILY_ID, ID_SIZE);
    expect_corrupt(&b, "two disks of one point with the same Family_Id");
}
END_TEST

/* Random damage anywhere: never a crash, a leak or an over-read; a parse
 * that succeeds yields NUL-terminated names that pass the name rules. */
START_TEST(test_random_damage)
{
    uint64_t seed = 99;
    for (int round = 0; round < 3000; round++) {
        payload b;
        build(&b);
        int flips = 1 + (int)ut_below(&seed, 4);
        for (int k = 0; k < flips; k++)
            b.p[ut_below(&seed, b.len)] ^= (unsigned char)(1u << ut_below(&seed, 8));
        point_meta m;
        const char *why;
        int rc = parse_copy(b.p, b.len, &m, &why);
        ck_assert(rc == VMRP_OK || rc == VMRP_E_CORRUPT);
        if (rc == VMRP_OK) {
            ck_assert(name_point_valid(m.info.name, strlen(m.info.name)));
            for (uint32_t d = 0; d < m.info.disk_count; d++)
                ck_assert(vmrp_disk_name_valid(m.info.disks[d].name));
            for (uint32_t f = 0; f < m.info.config_file_count; f++)
                ck_assert(vmrp_config_name_valid(m.info.config_files[f].name));
            point_meta_clear(&m);
        }
    }
}
END_TEST

static Suite *point_suite(void)
{
    Suite *s = suite_create("point");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, test_valid_payload);
    tcase_add_test(tc, test_minimal_payload);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_every_truncation);
    tcase_add_test(tc, test_trailing_bytes);
    tcase_add_test(tc, test_counts_too_large);
    tcase_add_test(tc, test_sizes_past_the_end);
    tcase_add_test(tc, test_bad_names);
    tcase_add_test(tc, test_hostile_names);
    tcase_add_test(tc, test_reserved_bytes);
    tcase_add_test(tc, test_bad_fields);
    tcase_add_test(tc, test_excluded_disk_rules);
    tcase_add_test(tc, test_random_damage);
    suite_add_tcase(s, tc);
    tc = tcase_create("spec_rules");
    tcase_add_test(tc, test_excluded_disk_stored_bytes);
    tcase_add_test(tc, test_duplicate_family);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(point_suite());
}
