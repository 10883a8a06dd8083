/* test_record.c - record.c: the 16-byte Record_Header and Record_Hash. */
#define _GNU_SOURCE
#include "unit.h"

#include "vmrp_private.h"

#define BS 65536u

static int decode(const record_header *h, uint32_t bs, record_header *out, const char **why)
{
    unsigned char b[RH_SIZE];
    record_header_encode(b, h);
    *why = NULL;
    return record_header_decode(b, bs, out, why);
}

static void rejects(record_header h, const char *label)
{
    record_header out;
    const char *why = NULL;
    int rc = decode(&h, BS, &out, &why);
    ck_assert_msg(rc == VMRP_E_CORRUPT, "%s: accepted (rc %d)", label, rc);
    ck_assert_msg(why != NULL && *why, "%s: no reason given", label);
}

static void accepts(record_header h, const char *label)
{
    record_header out;
    const char *why = NULL;
    int rc = decode(&h, BS, &out, &why);
    ck_assert_msg(rc == VMRP_OK, "%s: rejected: %s", label, why ? why : "?");
    ck_assert_uint_eq(out.type, h.type);
    ck_assert_uint_eq(out.codec, h.codec);
    ck_assert_uint_eq(out.flags, 0);
    ck_assert_uint_eq(out.stored_size, h.stored_size);
    ck_assert_uint_eq(out.raw_size, h.raw_size);
}

START_TEST(test_encode_layout)
{
    record_header h = {REC_MAP, CODEC_ZLIB, 0, 0x01020304u, 0x0a0b0c0du};
    unsigned char b[RH_SIZE];
    memset(b, 0xee, sizeof b);
    record_header_encode(b, &h);
    static const unsigned char want[RH_SIZE] = {'V', 'R', 'e', 'c', 2, 2, 0, 0,
                                                0x04, 0x03, 0x02, 0x01, 0x0d, 0x0c, 0x0b, 0x0a};
    ck_assert_mem_eq(b, want, RH_SIZE);
}
END_TEST

START_TEST(test_round_trip)
{
    accepts((record_header){REC_BLOCK, CODEC_NONE, 0, BS, BS}, "block none");
    accepts((record_header){REC_BLOCK, CODEC_ZSTD, 0, 17, BS}, "block zstd");
    accepts((record_header){REC_BLOCK, CODEC_ZLIB, 0, BS, BS}, "block zlib, not smaller");
    accepts((record_header){REC_MAP, CODEC_ZSTD, 0, 40, 96}, "map zstd");
    accepts((record_header){REC_FILE, CODEC_ZLIB, 0, 1, 1}, "file zlib, same size");
}
END_TEST

START_TEST(test_round_trip_limits)
{
    accepts((record_header){REC_MAP, CODEC_NONE, 0, 48, 48}, "map one entry");
    accepts((record_header){REC_MAP, CODEC_NONE, 0, 48u * 65536, 48u * 65536}, "map max");
    accepts((record_header){REC_FILE, CODEC_NONE, 0, 1, 1}, "file 1 byte");
    accepts((record_header){REC_FILE, CODEC_ZSTD, 0, 1000, 64u << 20}, "file 64 MiB");
    accepts((record_header){REC_POINT, CODEC_ZSTD, 0, 64, 32u << 20}, "point 32 MiB");
    accepts((record_header){REC_POINT, CODEC_NONE, 0, 64, 64}, "point");
    accepts((record_header){REC_INDEX, CODEC_NONE, 0, 64, 64}, "index");
    accepts((record_header){REC_INDEX, CODEC_NONE, 0, 16u + 48u * (1u << 26), 16u + 48u * (1u << 26)},
            "index max");
    accepts((record_header){REC_COMMIT, CODEC_NONE, 0, 240, 240}, "commit");
    /* Block_Size bounds BLOCK records: 4096 and 4 MiB collections. */
    record_header out;
    const char *why;
    record_header b4k = {REC_BLOCK, CODEC_NONE, 0, 4096, 4096};
    ck_assert_int_eq(decode(&b4k, 4096, &out, &why), VMRP_OK);
    ck_assert_int_eq(decode(&b4k, 8192, &out, &why), VMRP_E_CORRUPT);
    record_header b4m = {REC_BLOCK, CODEC_ZSTD, 0, 100, 4u << 20};
    ck_assert_int_eq(decode(&b4m, 4u << 20, &out, &why), VMRP_OK);
}
END_TEST

START_TEST(test_rejects_header_fields)
{
    /* Bad magic, each byte. */
    for (int i = 0; i < 4; i++) {
        unsigned char b[RH_SIZE];
        record_header h = {REC_FILE, CODEC_NONE, 0, 10, 10}, out;
        record_header_encode(b, &h);
        b[i] ^= 0x20;
        const char *why = NULL;
        ck_assert_int_eq(record_header_decode(b, BS, &out, &why), VMRP_E_CORRUPT);
        ck_assert_ptr_nonnull(why);
    }
    /* Unknown types, and KEYS (7) in a 1.0 archive. */
    static const uint8_t types[] = {0, 7, 8, 9, 100, 255};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char label[32];
        snprintf(label, sizeof label, "type %u", types[i]);
        rejects((record_header){types[i], CODEC_NONE, 0, 10, 10}, label);
    }
    /* Unknown codecs. */
    for (unsigned c = 3; c < 256; c += 21)
        rejects((record_header){REC_FILE, (uint8_t)c, 0, 10, 10}, "codec");
    /* Any flag bit (ENCRYPTED is reserved). */
    for (unsigned f = 0; f < 8; f++)
        rejects((record_header){REC_FILE, CODEC_NONE, (uint8_t)(1u << f), 10, 10}, "flags");
    /* Reserved byte 7. */
    unsigned char b[RH_SIZE];
    record_header h = {REC_FILE, CODEC_NONE, 0, 10, 10}, out;
    record_header_encode(b, &h);
    b[RH_OFF_RESERVED] = 1;
    const char *why = NULL;
    ck_assert_int_eq(record_header_decode(b, BS, &out, &why), VMRP_E_CORRUPT);
}
END_TEST

START_TEST(test_rejects_sizes)
{
    rejects((record_header){REC_BLOCK, CODEC_NONE, 0, BS - 1, BS - 1}, "block raw < block size");
    rejects((record_header){REC_BLOCK, CODEC_NONE, 0, BS / 2, BS / 2}, "block raw half");
    rejects((record_header){REC_BLOCK, CODEC_ZSTD, 0, 100, BS + 1}, "block raw > block size");
    rejects((record_header){REC_BLOCK, CODEC_ZSTD, 0, 100, 2 * BS}, "block raw 2x");
    rejects((record_header){REC_COMMIT, CODEC_NONE, 0, 239, 239}, "commit 239");
    rejects((record_header){REC_COMMIT, CODEC_NONE, 0, 241, 241}, "commit 241");
    rejects((record_header){REC_COMMIT, CODEC_NONE, 0, 0, 0}, "commit 0");
    rejects((record_header){REC_COMMIT, CODEC_ZSTD, 0, 100, 240}, "commit compressed");
    rejects((record_header){REC_INDEX, CODEC_ZLIB, 0, 32, 64}, "index compressed");
    rejects((record_header){REC_FILE, CODEC_ZSTD, 0, 11, 10}, "zstd stored > raw");
    rejects((record_header){REC_FILE, CODEC_ZLIB, 0, 11, 10}, "zlib stored > raw");
    rejects((record_header){REC_BLOCK, CODEC_ZSTD, 0, BS + 1, BS}, "block stored > raw");
    rejects((record_header){REC_FILE, CODEC_NONE, 0, 9, 10}, "none stored < raw");
    rejects((record_header){REC_FILE, CODEC_NONE, 0, 11, 10}, "none stored > raw");
    rejects((record_header){REC_FILE, CODEC_NONE, 0, 0, 0}, "file raw 0");
    rejects((record_header){REC_MAP, CODEC_NONE, 0, 0, 0}, "map raw 0");
    rejects((record_header){REC_POINT, CODEC_ZSTD, 0, 0, 0}, "point raw 0");
    rejects((record_header){REC_FILE, CODEC_ZSTD, 0, 100, (64u << 20) + 1}, "file > 64 MiB");
    rejects((record_header){REC_MAP, CODEC_ZSTD, 0, 100, 48u * 65536 + 48}, "map > 65536 entries");
    rejects((record_header){REC_POINT, CODEC_ZSTD, 0, 100, (32u << 20) + 1}, "point > 32 MiB");
    rejects((record_header){REC_INDEX, CODEC_NONE, 0, 16u + 48u * (1u << 26) + 48,
                            16u + 48u * (1u << 26) + 48},
            "index > 2^26 entries");
    rejects((record_header){REC_FILE, CODEC_ZSTD, 0, 100, UINT32_MAX}, "file raw 4 GiB");
}
END_TEST

START_TEST(test_record_hash)
{
    /* Record_Hash = BLAKE2b-256(header || stored payload). */
    record_header h = {REC_FILE, CODEC_NONE, 0, 5, 5};
    unsigned char b[RH_SIZE + 5];
    record_header_encode(b, &h);
    memcpy(b + RH_SIZE, "hello", 5);
    unsigned char a[HASH_SIZE], want[HASH_SIZE];
    record_hash(a, b, b + RH_SIZE, 5);
    crypto_generichash(want, HASH_SIZE, b, sizeof b, NULL, 0);
    ck_assert_mem_eq(a, want, HASH_SIZE);
    /* Header bytes are covered. */
    b[RH_OFF_RAW_SIZE] ^= 1;
    record_hash(want, b, b + RH_SIZE, 5);
    ck_assert(memcmp(a, want, HASH_SIZE) != 0);
}
END_TEST

static Suite *record_suite(void)
{
    Suite *s = suite_create("record");
    TCase *tc = tcase_create("header");
    tcase_add_test(tc, test_encode_layout);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_round_trip_limits);
    tcase_add_test(tc, test_rejects_header_fields);
    tcase_add_test(tc, test_rejects_sizes);
    tcase_add_test(tc, test_record_hash);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(record_suite());
}
