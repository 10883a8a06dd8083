/* test_codec.c - codec.c: zstd / zlib / none compression of record payloads. */
#define _GNU_SOURCE
#include "unit.h"

#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "vmrp_private.h"

static const size_t sizes[] = {1, 100, 4096, 65536 + 3, (1u << 20) + 7};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* Compress src with `codec`, check the codec actually used, decompress and
 * compare. Returns the stored size. */
static size_t round_trip(codec_ctx *c, int codec, int level, const unsigned char *src,
                         size_t len, int expect_codec)
{
    size_t cap = codec_bound(len);
    ck_assert_uint_ge(cap, len);
    unsigned char *dst = malloc(cap);
    unsigned char *back = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(dst);
    ck_assert_ptr_nonnull(back);
    size_t stored = 0;
    int used = codec_compress(c, codec, level, src, len, dst, cap, &stored);
    ck_assert_msg(used == expect_codec, "codec %d level %d size %zu: used %d, expected %d",
                  codec, level, len, used, expect_codec);
    if (used == CODEC_NONE) {
        ck_assert_uint_eq(stored, len);
        ck_assert_mem_eq(dst, src, len);
    } else {
        ck_assert_msg(stored < len, "compressed %zu bytes to %zu", len, stored);
    }
    memset(back, 0xa5, len);
    ck_assert_int_eq(codec_decompress(c, used, dst, stored, back, len), VMRP_OK);
    ck_assert_mem_eq(back, src, len);
    free(dst);
    free(back);
    return stored;
}

START_TEST(test_round_trip_compressible)
{
    codec_ctx *c = codec_new();
    ck_assert_ptr_nonnull(c);
    for (size_t i = 0; i < NSIZES; i++) {
        size_t len = sizes[i];
        unsigned char *src = malloc(len);
        ck_assert_ptr_nonnull(src);
        ut_fill_text(src, len, 7 + i);
        /* One byte cannot shrink: it is stored as is whatever the codec. */
        int small = len < 16;
        round_trip(c, CODEC_ZSTD, 0, src, len, small ? CODEC_NONE : CODEC_ZSTD);
        round_trip(c, CODEC_ZSTD, 1, src, len, small ? CODEC_NONE : CODEC_ZSTD);
        round_trip(c, CODEC_ZLIB, 0, src, len, small ? CODEC_NONE : CODEC_ZLIB);
        round_trip(c, CODEC_ZLIB, 9, src, len, small ? CODEC_NONE : CODEC_ZLIB);
        round_trip(c, CODEC_NONE, 0, src, len, CODEC_NONE);
        if (len <= 65536 + 3)
            round_trip(c, CODEC_ZSTD, 19, src, len, small ? CODEC_NONE : CODEC_ZSTD);
        free(src);
    }
    codec_free(c);
}
END_TEST

START_TEST(test_zero_block_compresses_well)
{
    codec_ctx *c = codec_new();
    unsigned char *src = calloc(1, 65536);
    ck_assert_ptr_nonnull(src);
    src[100] = 1;
    size_t z = round_trip(c, CODEC_ZSTD, 0, src, 65536, CODEC_ZSTD);
    size_t d = round_trip(c, CODEC_ZLIB, 0, src, 65536, CODEC_ZLIB);
    ck_assert_uint_lt(z, 1024);
    ck_assert_uint_lt(d, 1024);
    free(src);
    codec_free(c);
}
END_TEST

START_TEST(test_incompressible_is_stored)
{
    codec_ctx *c = codec_new();
    for (size_t i = 0; i < NSIZES; i++) {
        size_t len = sizes[i];
        unsigned char *src = malloc(len);
        ut_fill_random(src, len, 1000 + i);
        round_trip(c, CODEC_ZSTD, 0, src, len, CODEC_NONE);
        round_trip(c, CODEC_ZSTD, 19, src, len > 65536 ? 65536 : len, CODEC_NONE);
        round_trip(c, CODEC_ZLIB, 0, src, len, CODEC_NONE);
        round_trip(c, CODEC_ZLIB, 9, src, len, CODEC_NONE);
        free(src);
    }
    codec_free(c);
}
END_TEST

/* Compress `len` bytes of text with codec into a malloc'd buffer. */
static unsigned char *compressed(codec_ctx *c, int codec, size_t len, size_t *stored,
                                 unsigned char **raw)
{
    *raw = malloc(len);
    ut_fill_text(*raw, len, 42);
    unsigned char *dst = malloc(codec_bound(len));
    ck_assert_int_eq(codec_compress(c, codec, 0, *raw, len, dst, codec_bound(len), stored), codec);
    return dst;
}

START_TEST(test_truncated_input_rejected)
{
    static const int codecs[] = {CODEC_ZSTD, CODEC_ZLIB};
    codec_ctx *c = codec_new();
    for (size_t k = 0; k < 2; k++) {
        size_t stored = 0, len = 20000;
        unsigned char *raw = NULL;
        unsigned char *z = compressed(c, codecs[k], len, &stored, &raw);
        unsigned char *out = malloc(len);
        for (size_t cut = 0; cut < stored; cut++) {
            /* An exact-size copy, so reading past it is an ASan error. */
            unsigned char *part = malloc(cut ? cut : 1);
            memcpy(part, z, cut);
            int rc = codec_decompress(c, codecs[k], part, cut, out, len);
            ck_assert_msg(rc == VMRP_E_CORRUPT, "codec %d: %zu of %zu bytes accepted (rc %d)",
                          codecs[k], cut, stored, rc);
            free(part);
        }
        free(out);
        free(raw);
        free(z);
    }
    codec_free(c);
}
END_TEST

START_TEST(test_trailing_garbage_rejected)
{
    static const int codecs[] = {CODEC_ZSTD, CODEC_ZLIB};
    codec_ctx *c = codec_new();
    for (size_t k = 0; k < 2; k++) {
        size_t stored = 0, len = 20000;
        unsigned char *raw = NULL;
        unsigned char *z = compressed(c, codecs[k], len, &stored, &raw);
        unsigned char *out = malloc(len);
        static const size_t extra[] = {1, 2, 4, 5, 8, 16, 100};
        for (size_t e = 0; e < sizeof extra / sizeof extra[0]; e++) {
            unsigned char *more = malloc(stored + extra[e]);
            memcpy(more, z, stored);
            ut_fill_random(more + stored, extra[e], e);
            ck_assert_msg(codec_decompress(c, codecs[k], more, stored + extra[e], out, len) ==
                              VMRP_E_CORRUPT,
                          "codec %d: %zu bytes of garbage after the stream accepted", codecs[k],
                          extra[e]);
            memset(more + stored, 0, extra[e]);
            ck_assert_msg(codec_decompress(c, codecs[k], more, stored + extra[e], out, len) ==
                              VMRP_E_CORRUPT,
                          "codec %d: %zu zero bytes after the stream accepted", codecs[k],
                          extra[e]);
            free(more);
        }
        /* The untouched stream still decodes. */
        ck_assert_int_eq(codec_decompress(c, codecs[k], z, stored, out, len), VMRP_OK);
        ck_assert_mem_eq(out, raw, len);
        free(out);
        free(raw);
        free(z);
    }
    codec_free(c);
}
END_TEST

/* Spec 4.3: a zstd payload is "exactly one Zstandard frame ... nothing
 * before or after it". Payloads that decode to the right number of bytes
 * but are not one frame must be rejected. */
START_TEST(test_zstd_exactly_one_frame)
{
    codec_ctx *c = codec_new();
    size_t stored = 0, len = 20000;
    unsigned char *raw = NULL;
    unsigned char *z = compressed(c, CODEC_ZSTD, len, &stored, &raw);
    unsigned char *out = malloc(len);
    unsigned char *buf = malloc(2 * stored + 100);
    char accepted[256] = "";

    /* Frame followed by an empty frame. */
    unsigned char empty[64];
    size_t en = ZSTD_compress(empty, sizeof empty, "", 0, 3);
    ck_assert(!ZSTD_isError(en));
    memcpy(buf, z, stored);
    memcpy(buf + stored, empty, en);
    if (codec_decompress(c, CODEC_ZSTD, buf, stored + en, out, len) != VMRP_E_CORRUPT)
        strcat(accepted, " frame+empty-frame");
    /* Skippable frame (magic 0x184D2A50, size 4) after, and before. */
    static const unsigned char skip[12] = {0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4};
    memcpy(buf, z, stored);
    memcpy(buf + stored, skip, sizeof skip);
    if (codec_decompress(c, CODEC_ZSTD, buf, stored + sizeof skip, out, len) != VMRP_E_CORRUPT)
        strcat(accepted, " frame+skippable");
    memcpy(buf, skip, sizeof skip);
    memcpy(buf + sizeof skip, z, stored);
    if (codec_decompress(c, CODEC_ZSTD, buf, stored + sizeof skip, out, len) != VMRP_E_CORRUPT)
        strcat(accepted, " skippable+frame");
    /* Two frames holding half of the data each. */
    size_t h1 = ZSTD_compress(buf, stored + 50, raw, len / 2, 3);
    ck_assert(!ZSTD_isError(h1));
    size_t h2 = ZSTD_compress(buf + h1, 2 * stored + 100 - h1, raw + len / 2, len - len / 2, 3);
    ck_assert(!ZSTD_isError(h2));
    if (codec_decompress(c, CODEC_ZSTD, buf, h1 + h2, out, len) != VMRP_E_CORRUPT)
        strcat(accepted, " two-half-frames");
    free(buf);
    free(out);
    free(raw);
    free(z);
    codec_free(c);
    ck_assert_msg(accepted[0] == '\0', "zstd payloads that are not exactly one frame accepted:%s",
                  accepted);
}
END_TEST

START_TEST(test_wrong_raw_len_rejected)
{
    static const int codecs[] = {CODEC_ZSTD, CODEC_ZLIB, CODEC_NONE};
    codec_ctx *c = codec_new();
    for (size_t k = 0; k < 3; k++) {
        size_t len = 20000, stored = 0;
        unsigned char *raw = malloc(len);
        ut_fill_text(raw, len, 3);
        unsigned char *z = malloc(codec_bound(len));
        ck_assert_int_eq(codec_compress(c, codecs[k], 0, raw, len, z, codec_bound(len), &stored),
                         codecs[k]);
        unsigned char *out = malloc(len + 100);
        static const long delta[] = {-1, +1, -100, +100};
        for (size_t d = 0; d < 4; d++) {
            size_t want = (size_t)((long)len + delta[d]);
            ck_assert_msg(codec_decompress(c, codecs[k], z, stored, out, want) == VMRP_E_CORRUPT,
                          "codec %d: %zu-byte payload decoded as %zu bytes", codecs[k], len,
                          want);
        }
        ck_assert_int_eq(codec_decompress(c, codecs[k], z, stored, out, len), VMRP_OK);
        free(out);
        free(raw);
        free(z);
    }
    codec_free(c);
}
END_TEST

/* A zstd frame whose Frame_Content_Size disagrees with Raw_Size. */
START_TEST(test_zstd_content_size_mismatch)
{
    codec_ctx *c = codec_new();
    unsigned char raw[8192], z[9000], out[8192];
    ut_fill_text(raw, sizeof raw, 5);
    size_t n = ZSTD_compress(z, sizeof z, raw, 4096, 3); /* FCS = 4096 */
    ck_assert(!ZSTD_isError(n));
    ck_assert_int_eq(codec_decompress(c, CODEC_ZSTD, z, n, out, 4096), VMRP_OK);
    ck_assert_int_eq(codec_decompress(c, CODEC_ZSTD, z, n, out, 8192), VMRP_E_CORRUPT);
    ck_assert_int_eq(codec_decompress(c, CODEC_ZSTD, z, n, out, 4095), VMRP_E_CORRUPT);
    codec_free(c);
}
END_TEST

START_TEST(test_corrupted_stream_rejected)
{
    codec_ctx *c = codec_new();
    size_t len = 20000, stored = 0;
    unsigned char *raw = NULL;
    unsigned char *z = compressed(c, CODEC_ZLIB, len, &stored, &raw);
    unsigned char *out = malloc(len);
    /* The Adler-32 at the end of a zlib stream is checked. */
    z[stored - 1] ^= 0x01;
    ck_assert_int_eq(codec_decompress(c, CODEC_ZLIB, z, stored, out, len), VMRP_E_CORRUPT);
    z[stored - 1] ^= 0x01;
    /* A preset dictionary (FDICT) is not allowed. */
    unsigned char *d = malloc(stored);
    memcpy(d, z, stored);
    unsigned flg = (d[1] & 0xc0u) | 0x20u; /* FLEVEL kept, FDICT set, FCHECK below */
    flg |= (31u - ((d[0] * 256u + flg) % 31u)) % 31u;
    d[1] = (unsigned char)flg;
    ck_assert_uint_eq((d[0] * 256u + d[1]) % 31u, 0);
    ck_assert_int_eq(codec_decompress(c, CODEC_ZLIB, d, stored, out, len), VMRP_E_CORRUPT);
    free(d);
    /* Not a zstd frame at all. */
    ck_assert_int_eq(codec_decompress(c, CODEC_ZSTD, z, stored, out, len), VMRP_E_CORRUPT);
    free(out);
    free(raw);
    free(z);
    codec_free(c);
}
END_TEST

START_TEST(test_unknown_codec_rejected)
{
    codec_ctx *c = codec_new();
    unsigned char src[64], out[64];
    ut_fill_text(src, sizeof src, 1);
    static const int bad[] = {3, 4, 7, 255, -1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(codec_decompress(c, bad[i], src, sizeof src, out, sizeof out),
                         VMRP_E_CORRUPT);
    /* None: stored and raw sizes must agree. */
    ck_assert_int_eq(codec_decompress(c, CODEC_NONE, src, 63, out, 64), VMRP_E_CORRUPT);
    ck_assert_int_eq(codec_decompress(c, CODEC_NONE, src, 64, out, 63), VMRP_E_CORRUPT);
    ck_assert_int_eq(codec_decompress(c, CODEC_NONE, src, 64, out, 64), VMRP_OK);
    ck_assert_mem_eq(out, src, 64);
    codec_free(c);
}
END_TEST

START_TEST(test_level_valid)
{
    ck_assert(codec_level_valid(CODEC_NONE, 0));
    ck_assert(!codec_level_valid(CODEC_NONE, 1));
    ck_assert(!codec_level_valid(CODEC_NONE, -1));
    for (int l = 0; l <= 19; l++)
        ck_assert_msg(codec_level_valid(CODEC_ZSTD, l), "zstd level %d", l);
    ck_assert(!codec_level_valid(CODEC_ZSTD, 20));
    ck_assert(!codec_level_valid(CODEC_ZSTD, 22));
    ck_assert(!codec_level_valid(CODEC_ZSTD, -1));
    for (int l = 0; l <= 9; l++)
        ck_assert_msg(codec_level_valid(CODEC_ZLIB, l), "zlib level %d", l);
    ck_assert(!codec_level_valid(CODEC_ZLIB, 10));
    ck_assert(!codec_level_valid(CODEC_ZLIB, -1));
    ck_assert(!codec_level_valid(3, 0));
    ck_assert(!codec_level_valid(-1, 0));
}
END_TEST

START_TEST(test_bound)
{
    static const size_t lens[] = {0, 1, 4096, 65536, 4u << 20};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        ck_assert_uint_ge(codec_bound(lens[i]), ZSTD_compressBound(lens[i]));
        ck_assert_uint_ge(codec_bound(lens[i]), compressBound((uLong)lens[i]));
        ck_assert_uint_ge(codec_bound(lens[i]), lens[i]);
    }
}
END_TEST

/* A failure is the library's, in its own words: not out of memory unless
 * the library says so. */
START_TEST(test_compress_failure_says_why)
{
    codec_ctx *c = codec_new();
    ck_assert_ptr_nonnull(c);
    unsigned char src[4096], dst[8];
    ut_fill_text(src, sizeof src, 3);
    size_t stored = 0;
    ck_assert_int_eq(codec_compress(c, CODEC_ZSTD, 0, src, sizeof src, dst, sizeof dst, &stored),
                     VMRP_E_IO);
    ck_assert_str_eq(codec_error(c), ZSTD_getErrorString(ZSTD_error_dstSize_tooSmall));
    ck_assert_int_eq(codec_compress(c, CODEC_ZLIB, 0, src, sizeof src, dst, sizeof dst, &stored),
                     VMRP_E_IO);
    ck_assert_str_eq(codec_error(c), zError(Z_BUF_ERROR));
    ck_assert_int_eq(codec_compress(c, CODEC_NONE, 0, src, sizeof src, dst, sizeof dst, &stored),
                     VMRP_E_USAGE);
    ck_assert_str_eq(codec_error(c), "output buffer smaller than the input");
    ck_assert_str_eq(codec_name(CODEC_ZSTD), "zstd");
    ck_assert_str_eq(codec_name(CODEC_ZLIB), "zlib");
    ck_assert_str_eq(codec_name(CODEC_NONE), "none");
    codec_free(c);
}
END_TEST

static Suite *codec_suite(void)
{
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("round_trip");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_round_trip_compressible);
    tcase_add_test(tc, test_zero_block_compresses_well);
    tcase_add_test(tc, test_incompressible_is_stored);
    suite_add_tcase(s, tc);
    tc = tcase_create("decode_rejects");
    tcase_add_test(tc, test_truncated_input_rejected);
    tcase_add_test(tc, test_trailing_garbage_rejected);
    tcase_add_test(tc, test_zstd_exactly_one_frame);
    tcase_add_test(tc, test_wrong_raw_len_rejected);
    tcase_add_test(tc, test_zstd_content_size_mismatch);
    tcase_add_test(tc, test_corrupted_stream_rejected);
    tcase_add_test(tc, test_unknown_codec_rejected);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_add_test(tc, test_level_valid);
    tcase_add_test(tc, test_bound);
    tcase_add_test(tc, test_compress_failure_says_why);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(codec_suite());
}
