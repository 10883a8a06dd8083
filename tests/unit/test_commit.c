/* test_commit.c - commit.c: the file header and the COMMIT record. */
#define _GNU_SOURCE
#include "unit.h"

#include "vmrp_private.h"

static const unsigned char coll_id[ID_SIZE] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x46, 0x17,
                                               0x98, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};

static void make_header(unsigned char h[FH_SIZE])
{
    header_encode(h, coll_id, 65536, 200, 1700000000123456LL);
}

/* Recompute Header_Hash after a field was changed on purpose. */
static void rehash(unsigned char h[FH_SIZE])
{
    hash_buf(h + FH_OFF_HEADER_HASH, h, FH_OFF_HEADER_HASH);
}

static int parse(const unsigned char h[FH_SIZE], vmrp_collection_info *ci)
{
    const char *why = NULL;
    int rc = header_parse(h, ci, &why);
    if (rc != VMRP_OK)
        ck_assert_msg(why && *why, "header_parse failed (%d) without a reason", rc);
    return rc;
}

START_TEST(test_header_round_trip)
{
    unsigned char h[FH_SIZE];
    make_header(h);
    ck_assert_mem_eq(h, FH_MAGIC, FH_MAGIC_SIZE);
    ck_assert_uint_eq(le16_load(h + FH_OFF_MAJOR), 1);
    /* unencrypted: nothing of 1.2 is used, so the file says 1.1 */
    ck_assert_uint_eq(le16_load(h + FH_OFF_MINOR), FORMAT_MINOR_PLAIN);
    ck_assert_uint_eq(le32_load(h + FH_OFF_HEADER_SIZE), 128);
    ck_assert(ut_all_zero(h + FH_OFF_INCOMPAT, 16));
    ck_assert(ut_all_zero(h + FH_OFF_RESERVED, FH_RESERVED_SIZE));
    unsigned char want[HASH_SIZE];
    crypto_generichash(want, HASH_SIZE, h, 96, NULL, 0);
    ck_assert_mem_eq(h + FH_OFF_HEADER_HASH, want, HASH_SIZE);

    vmrp_collection_info ci;
    memset(&ci, 0xee, sizeof ci);
    ck_assert_int_eq(parse(h, &ci), VMRP_OK);
    ck_assert_uint_eq(ci.format_major, 1);
    ck_assert_uint_eq(ci.format_minor, FORMAT_MINOR_PLAIN);
    ck_assert_int_eq(ci.encrypted, 0);
    ck_assert_mem_eq(ci.collection_id, coll_id, ID_SIZE);
    ck_assert_uint_eq(ci.block_size, 65536);
    ck_assert_uint_eq(ci.max_points, 200);
    ck_assert_int_eq(ci.time_created_us, 1700000000123456LL);
    ck_assert_uint_eq(ci.point_count, 0);

    /* Extremes of the ranges. */
    header_encode(h, coll_id, 4096, 1, -5);
    ck_assert_int_eq(parse(h, &ci), VMRP_OK);
    ck_assert_uint_eq(ci.block_size, 4096);
    ck_assert_uint_eq(ci.max_points, 1);
    ck_assert_int_eq(ci.time_created_us, -5);
    header_encode(h, coll_id, 4u << 20, 65535, 0);
    ck_assert_int_eq(parse(h, &ci), VMRP_OK);
    ck_assert_uint_eq(ci.block_size, 4u << 20);
    ck_assert_uint_eq(ci.max_points, 65535);
}
END_TEST

START_TEST(test_header_not_archive)
{
    unsigned char h[FH_SIZE];
    vmrp_collection_info ci;
    for (unsigned i = 0; i < FH_MAGIC_SIZE; i++) {
        make_header(h);
        h[i] ^= 0x01;
        rehash(h);
        ck_assert_msg(parse(h, &ci) == VMRP_E_NOT_ARCHIVE, "magic byte %u", i);
    }
    /* CR-LF conversion of the magic ("\r\n" -> "\n"). */
    make_header(h);
    memmove(h + 5, h + 6, FH_SIZE - 6);
    ck_assert_int_eq(parse(h, &ci), VMRP_E_NOT_ARCHIVE);
    memset(h, 0, sizeof h);
    ck_assert_int_eq(parse(h, &ci), VMRP_E_NOT_ARCHIVE);
}
END_TEST

START_TEST(test_header_version)
{
    unsigned char h[FH_SIZE];
    vmrp_collection_info ci;
    static const uint16_t majors[] = {0, 2, 3, 0xffff};
    for (size_t i = 0; i < sizeof majors / sizeof majors[0]; i++) {
        make_header(h);
        le16_store(h + FH_OFF_MAJOR, majors[i]);
        rehash(h);
        ck_assert_msg(parse(h, &ci) == VMRP_E_VERSION, "major %u", majors[i]);
        /* Major is checked before the hash (a newer format may hash differently). */
        make_header(h);
        le16_store(h + FH_OFF_MAJOR, majors[i]);
        ck_assert_msg(parse(h, &ci) == VMRP_E_VERSION, "major %u, old hash", majors[i]);
    }
    /* Every incompat bit is must-understand; 1.2 implements bit 0 only. */
    for (unsigned bit = 1; bit < 64; bit += 7) {
        make_header(h);
        le64_store(h + FH_OFF_INCOMPAT, 1ull << bit);
        rehash(h);
        ck_assert_msg(parse(h, &ci) == VMRP_E_VERSION, "incompat bit %u", bit);
    }
    make_header(h);
    le64_store(h + FH_OFF_INCOMPAT, FEATURE_INCOMPAT_ENCRYPTED | (1ull << 1));
    rehash(h);
    ck_assert_int_eq(parse(h, &ci), VMRP_E_VERSION);
    /* ENCRYPTED is understood; an encrypted header is written as 1.2. */
    header_encode_ex(h, coll_id, 65536, 200, 0, FEATURE_INCOMPAT_ENCRYPTED);
    ck_assert_uint_eq(le16_load(h + FH_OFF_MINOR), FORMAT_MINOR);
    ck_assert_int_eq(parse(h, &ci), VMRP_OK);
    ck_assert_int_eq(ci.encrypted, 1);
    /* A newer minor version is accepted. */
    make_header(h);
    le16_store(h + FH_OFF_MINOR, FORMAT_MINOR + 6);
    rehash(h);
    ck_assert_int_eq(parse(h, &ci), VMRP_OK);
    ck_assert_uint_eq(ci.format_minor, FORMAT_MINOR + 6);
}
END_TEST

/* Spec 3.3: with a Minor_Version greater than the reader's, reserved
 * fields it does not know MUST be ignored (only must-understand bits are
 * refused); with the same minor they MUST be zero. */
START_TEST(test_header_reserved_and_minor)
{
    unsigned char h[FH_SIZE];
    vmrp_collection_info ci;
    make_header(h);
    h[FH_OFF_RESERVED + 5] = 1;
    rehash(h);
    ck_assert_int_eq(parse(h, &ci), VMRP_E_CORRUPT);
    le16_store(h + FH_OFF_MINOR, 0);
    rehash(h);
    ck_assert_int_eq(parse(h, &ci), VMRP_E_CORRUPT);
    le16_store(h + FH_OFF_MINOR, FORMAT_MINOR + 1);
    rehash(h);
    ck_assert_msg(parse(h, &ci) == VMRP_OK,
                  "a header of a newer minor version with a non-zero reserved byte is refused; "
                  "spec 3.3 says a reader ignores reserved fields of a newer minor version");
    /* ...but never an incompat bit. */
    le64_store(h + FH_OFF_INCOMPAT, 1ull << 40);
    rehash(h);
    ck_assert_int_eq(parse(h, &ci), VMRP_E_VERSION);
}
END_TEST

START_TEST(test_header_corrupt)
{
    unsigned char h[FH_SIZE];
    vmrp_collection_info ci;
    /* Any byte covered by Header_Hash, and the hash itself. */
    for (unsigned i = FH_OFF_HEADER_SIZE; i < FH_SIZE; i++) {
        make_header(h);
        h[i] ^= 0x40;
        ck_assert_msg(parse(h, &ci) == VMRP_E_CORRUPT, "byte %u flipped", i);
    }
    make_header(h);
    le32_store(h + FH_OFF_HEADER_SIZE, 127);
    rehash(h);
    ck_assert_int_eq(parse(h, &ci), VMRP_E_CORRUPT);
    make_header(h);
    le32_store(h + FH_OFF_HEADER_SIZE, 256);
    rehash(h);
    ck_assert_int_eq(parse(h, &ci), VMRP_E_CORRUPT);
    static const uint32_t bad_bs[] = {0, 512, 2048, 4095, 4097, 12288, 65535, 65537, 8u << 20,
                                      (4u << 20) + 4096, 0x80000000u};
    for (size_t i = 0; i < sizeof bad_bs / sizeof bad_bs[0]; i++) {
        make_header(h);
        le32_store(h + FH_OFF_BLOCK_SIZE, bad_bs[i]);
        rehash(h);
        ck_assert_msg(parse(h, &ci) == VMRP_E_CORRUPT, "block size %u", bad_bs[i]);
    }
    static const uint32_t bad_mp[] = {0, 65536, 100000, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_mp / sizeof bad_mp[0]; i++) {
        make_header(h);
        le32_store(h + FH_OFF_MAX_POINTS, bad_mp[i]);
        rehash(h);
        ck_assert_msg(parse(h, &ci) == VMRP_E_CORRUPT, "max points %u", bad_mp[i]);
    }
}
END_TEST

/* ---- COMMIT ---- */

static commit_info sample_commit(uint32_t seq)
{
    commit_info c;
    memset(&c, 0, sizeof c);
    c.sequence = seq;
    c.point_count = seq;
    c.segment_offset = seq == 1 ? FH_SIZE : 50000;
    c.prev_offset = seq == 1 ? 0 : 50000 - CM_RECORD_SIZE;
    c.index_offset = c.segment_offset + 3000;
    c.index_size = RH_SIZE + IX_HEADER_SIZE + 4 * IX_ENTRY_SIZE;
    c.commit_offset = c.index_offset + c.index_size;
    for (unsigned i = 0; i < HASH_SIZE; i++) {
        c.index_hash[i] = (unsigned char)(i + 1);
        c.header_hash[i] = (unsigned char)(0x80 + i);
        if (seq > 1)
            c.prev_hash[i] = (unsigned char)(0x40 + i);
    }
    c.time_us = 1700000000000000LL + seq;
    return c;
}

static int decode_at(const unsigned char rec[CM_RECORD_SIZE], uint64_t at, commit_info *out)
{
    const char *why = NULL;
    int rc = commit_decode(rec, at, out, &why);
    if (rc != VMRP_OK)
        ck_assert_msg(why && *why, "commit_decode failed (%d) without a reason", rc);
    return rc;
}

static void check_same(const commit_info *a, const commit_info *b)
{
    ck_assert_uint_eq(a->sequence, b->sequence);
    ck_assert_uint_eq(a->point_count, b->point_count);
    ck_assert_uint_eq(a->commit_offset, b->commit_offset);
    ck_assert_uint_eq(a->segment_offset, b->segment_offset);
    ck_assert_uint_eq(a->index_offset, b->index_offset);
    ck_assert_uint_eq(a->index_size, b->index_size);
    ck_assert_mem_eq(a->index_hash, b->index_hash, HASH_SIZE);
    ck_assert_uint_eq(a->prev_offset, b->prev_offset);
    ck_assert_mem_eq(a->prev_hash, b->prev_hash, HASH_SIZE);
    ck_assert_mem_eq(a->header_hash, b->header_hash, HASH_SIZE);
    ck_assert_int_eq(a->time_us, b->time_us);
}

START_TEST(test_commit_round_trip)
{
    for (uint32_t seq = 1; seq <= 3; seq += 2) {
        commit_info c = sample_commit(seq), d;
        unsigned char rec[CM_RECORD_SIZE];
        commit_encode(rec, &c);
        /* Header: type 6, codec 0, sizes 240; End_Magic at the end. */
        ck_assert_mem_eq(rec, "VRec", 4);
        ck_assert_uint_eq(rec[RH_OFF_TYPE], REC_COMMIT);
        ck_assert_uint_eq(rec[RH_OFF_CODEC], CODEC_NONE);
        ck_assert_uint_eq(le32_load(rec + RH_OFF_STORED_SIZE), 240);
        ck_assert_uint_eq(le32_load(rec + RH_OFF_RAW_SIZE), 240);
        ck_assert_mem_eq(rec + CM_RECORD_SIZE - 8, "VMRPEND\x1a", 8);
        ck_assert(ut_all_zero(rec + RH_SIZE + CM_OFF_FLAGS, 8 + 8 + 64));
        ck_assert_uint_eq(le64_load(rec + RH_SIZE + CM_OFF_COMMIT_OFFSET), c.commit_offset);
        ck_assert_uint_eq(le64_load(rec + RH_SIZE + CM_OFF_TIME), (uint64_t)c.time_us);

        memset(&d, 0xee, sizeof d);
        ck_assert_int_eq(decode_at(rec, c.commit_offset, &d), VMRP_OK);
        check_same(&c, &d);
        unsigned char want[HASH_SIZE];
        crypto_generichash(want, HASH_SIZE, rec, 184, NULL, 0);
        ck_assert_mem_eq(d.hash, want, HASH_SIZE);
        commit_hash(rec, want);
        ck_assert_mem_eq(d.hash, want, HASH_SIZE);
    }
}
END_TEST

START_TEST(test_commit_hash_coverage)
{
    commit_info c = sample_commit(2);
    unsigned char rec[CM_RECORD_SIZE], h0[HASH_SIZE], h1[HASH_SIZE];
    commit_encode(rec, &c);
    commit_hash(rec, h0);
    /* Every byte before the Signature changes Commit_Hash... */
    for (unsigned i = 0; i < RH_SIZE + CM_HASHED_SIZE; i++) {
        rec[i] ^= 0x01;
        commit_hash(rec, h1);
        rec[i] ^= 0x01;
        ck_assert_msg(memcmp(h0, h1, HASH_SIZE) != 0, "byte %u not covered", i);
    }
    /* ...Signature and End_Magic do not. */
    for (unsigned i = RH_SIZE + CM_HASHED_SIZE; i < CM_RECORD_SIZE; i++) {
        rec[i] ^= 0x01;
        commit_hash(rec, h1);
        rec[i] ^= 0x01;
        ck_assert_mem_eq(h0, h1, HASH_SIZE);
    }
}
END_TEST

/* Encode c, let mutate() change the record, and expect CORRUPT. */
static void commit_rejected(const commit_info *c, uint64_t at, const char *label)
{
    unsigned char rec[CM_RECORD_SIZE];
    commit_info d;
    commit_encode(rec, c);
    ck_assert_msg(decode_at(rec, at, &d) == VMRP_E_CORRUPT, "%s: accepted", label);
}

START_TEST(test_commit_rejects_fields)
{
    commit_info c = sample_commit(2);
    commit_rejected(&c, c.commit_offset + 1, "read at another offset");
    commit_rejected(&c, c.commit_offset - 256, "read at another offset");

    unsigned char rec[CM_RECORD_SIZE];
    commit_info d;
    for (unsigned i = 0; i < 8; i++) {
        commit_encode(rec, &c);
        rec[RH_SIZE + CM_OFF_END_MAGIC + i] ^= 0x04;
        ck_assert_msg(decode_at(rec, c.commit_offset, &d) == VMRP_E_CORRUPT, "End_Magic byte %u",
                      i);
    }
    /* The record header must be a COMMIT header. */
    commit_encode(rec, &c);
    rec[RH_OFF_TYPE] = REC_POINT;
    ck_assert_int_eq(decode_at(rec, c.commit_offset, &d), VMRP_E_CORRUPT);
    commit_encode(rec, &c);
    rec[0] = 'X';
    ck_assert_int_eq(decode_at(rec, c.commit_offset, &d), VMRP_E_CORRUPT);
    commit_encode(rec, &c);
    le32_store(rec + RH_OFF_STORED_SIZE, 241);
    le32_store(rec + RH_OFF_RAW_SIZE, 241);
    ck_assert_int_eq(decode_at(rec, c.commit_offset, &d), VMRP_E_CORRUPT);
    /* Commit_Flags: unknown bits; SIGNED is reserved; key id / signature
     * must be zero in an unsigned commit. */
    commit_encode(rec, &c);
    le64_store(rec + RH_SIZE + CM_OFF_FLAGS, 1ull << 1);
    ck_assert_int_eq(decode_at(rec, c.commit_offset, &d), VMRP_E_CORRUPT);
    commit_encode(rec, &c);
    rec[RH_SIZE + CM_OFF_KEY_ID + 3] = 1;
    ck_assert_int_eq(decode_at(rec, c.commit_offset, &d), VMRP_E_CORRUPT);
    commit_encode(rec, &c);
    rec[RH_SIZE + CM_OFF_SIGNATURE + 63] = 1;
    ck_assert_int_eq(decode_at(rec, c.commit_offset, &d), VMRP_E_CORRUPT);

    commit_info x = sample_commit(1);
    x.sequence = 0;
    x.point_count = 0;
    commit_rejected(&x, x.commit_offset, "sequence 0");
    x = sample_commit(2);
    x.point_count = 3;
    commit_rejected(&x, x.commit_offset, "point count != sequence");
    x = sample_commit(1);
    x.prev_offset = 128;
    commit_rejected(&x, x.commit_offset, "first commit with a previous offset");
    x = sample_commit(1);
    x.prev_hash[7] = 1;
    commit_rejected(&x, x.commit_offset, "first commit with a previous hash");
    x = sample_commit(2);
    x.prev_offset = 0;
    commit_rejected(&x, x.commit_offset, "later commit without a previous one");
}
END_TEST

START_TEST(test_commit_rejects_offsets)
{
    commit_info x = sample_commit(2);
    x.index_size += 1;
    commit_rejected(&x, x.commit_offset, "index does not end at the commit");
    x = sample_commit(2);
    x.index_offset -= 1;
    commit_rejected(&x, x.commit_offset, "index does not end at the commit");
    x = sample_commit(2);
    x.segment_offset += 1;
    commit_rejected(&x, x.commit_offset, "segment does not follow the previous commit");
    x = sample_commit(2);
    x.prev_offset -= 1;
    commit_rejected(&x, x.commit_offset, "segment does not follow the previous commit");
    x = sample_commit(1);
    x.segment_offset = 256;
    commit_rejected(&x, x.commit_offset, "first segment not at 128");
    x = sample_commit(1);
    x.segment_offset = 64;
    commit_rejected(&x, x.commit_offset, "segment inside the header");
    x = sample_commit(2);
    x.index_offset = x.segment_offset + 8; /* no room for a POINT record */
    x.index_size = x.commit_offset - x.index_offset;
    commit_rejected(&x, x.commit_offset, "segment smaller than a record");
    x = sample_commit(2);
    x.index_size = RH_SIZE + IX_HEADER_SIZE; /* an index with no entry */
    x.index_offset = x.commit_offset - x.index_size;
    commit_rejected(&x, x.commit_offset, "index smaller than one entry");
    x = sample_commit(2);
    x.index_offset = x.segment_offset - 100; /* before its segment */
    x.index_size = x.commit_offset - x.index_offset;
    commit_rejected(&x, x.commit_offset, "index before its segment");
}
END_TEST

/* Index_Offset + Index_Size must be computed without overflow (spec 11):
 * an index "after" the commit whose end wraps around to it is not a
 * segment. */
START_TEST(test_commit_rejects_wrapping_offsets)
{
    commit_info x = sample_commit(1);
    x.index_offset = UINT64_MAX - 99;
    x.index_size = x.commit_offset + 100; /* wraps to commit_offset */
    ck_assert_uint_eq(x.index_offset + x.index_size, x.commit_offset);
    commit_rejected(&x, x.commit_offset, "Index_Offset + Index_Size wraps around 2^64");
}
END_TEST

static Suite *commit_suite(void)
{
    Suite *s = suite_create("commit");
    TCase *tc = tcase_create("header");
    tcase_add_test(tc, test_header_round_trip);
    tcase_add_test(tc, test_header_not_archive);
    tcase_add_test(tc, test_header_version);
    tcase_add_test(tc, test_header_reserved_and_minor);
    tcase_add_test(tc, test_header_corrupt);
    suite_add_tcase(s, tc);
    tc = tcase_create("commit");
    tcase_add_test(tc, test_commit_round_trip);
    tcase_add_test(tc, test_commit_hash_coverage);
    tcase_add_test(tc, test_commit_rejects_fields);
    tcase_add_test(tc, test_commit_rejects_offsets);
    tcase_add_test(tc, test_commit_rejects_wrapping_offsets);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(commit_suite());
}
