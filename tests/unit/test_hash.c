/* test_hash.c - hash.c (BLAKE2b-256, ids, is_zero) and error.c. */
#define _GNU_SOURCE
#include "unit.h"

#include <time.h>

#include "vmrp_private.h"

static void hex(const unsigned char *h, char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Known-answer values from the spec, section 13. */
START_TEST(test_known_answers)
{
    unsigned char h[HASH_SIZE];
    char s[65];
    hash_buf(h, "", 0);
    hex(h, s);
    ck_assert_str_eq(s, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
    unsigned char *zero = calloc(1, 4096);
    hash_buf(h, zero, 4096);
    hex(h, s);
    ck_assert_str_eq(s, "686ede9288c391e7e05026e56f2f91bfd879987a040ea98445dabc76f55b8e5f");
    free(zero);
}
END_TEST

START_TEST(test_streaming_equals_one_shot)
{
    unsigned char buf[1000], a[HASH_SIZE], b[HASH_SIZE];
    ut_fill_random(buf, sizeof buf, 3);
    hash_buf(a, buf, sizeof buf);
    for (size_t cut = 0; cut <= sizeof buf; cut += 37) {
        hash_state st;
        hash_init(&st);
        hash_update(&st, buf, cut);
        hash_update(&st, buf + cut, sizeof buf - cut);
        hash_final(&st, b);
        ck_assert_mem_eq(a, b, HASH_SIZE);
    }
    buf[999] ^= 1;
    hash_buf(b, buf, sizeof buf);
    ck_assert(memcmp(a, b, HASH_SIZE) != 0);
}
END_TEST

START_TEST(test_is_zero)
{
    /* Every alignment and length, with a set byte at every position. */
    unsigned char *buf = calloc(1, 256);
    for (size_t start = 0; start < 16; start++)
        for (size_t len = 0; len <= 80; len++) {
            ck_assert_msg(is_zero(buf + start, len), "zeros at %zu+%zu", start, len);
            for (size_t i = 0; i < len; i++) {
                buf[start + i] = 0x80;
                ck_assert_msg(!is_zero(buf + start, len), "byte %zu of %zu at +%zu", i, len,
                              start);
                buf[start + i] = 0;
            }
            /* Bytes just outside the range are not looked at. */
            if (start > 0)
                buf[start - 1] = 1;
            buf[start + len] = 1;
            ck_assert(is_zero(buf + start, len));
            if (start > 0)
                buf[start - 1] = 0;
            buf[start + len] = 0;
        }
    free(buf);
}
END_TEST

START_TEST(test_random_id)
{
    unsigned char a[ID_SIZE], b[ID_SIZE];
    for (int i = 0; i < 100; i++) {
        random_id(a);
        ck_assert_uint_eq(a[6] >> 4, 4);       /* version 4 */
        ck_assert_uint_eq(a[8] & 0xc0, 0x80);  /* variant 10 */
    }
    random_id(b);
    ck_assert(memcmp(a, b, ID_SIZE) != 0);
}
END_TEST

START_TEST(test_now)
{
    int64_t t = now_us();
    int64_t wall = (int64_t)time(NULL) * 1000000;
    ck_assert_int_lt(t > wall ? t - wall : wall - t, 5 * 1000000);
}
END_TEST

START_TEST(test_strerror_and_version)
{
    ck_assert_str_eq(vmrp_strerror(VMRP_OK), "success");
    ck_assert_str_eq(vmrp_strerror(VMRP_E_CORRUPT), "archive is damaged or was tampered with");
    ck_assert_str_eq(vmrp_strerror(VMRP_E_TORN), "archive ends with an interrupted append");
    ck_assert_str_eq(vmrp_strerror(-15), "unknown error");
    ck_assert_str_eq(vmrp_strerror(1), "unknown error");
    for (int code = 0; code >= VMRP_E_CRYPTO; code--) {
        ck_assert_ptr_nonnull(vmrp_strerror(code));
        ck_assert_str_ne(vmrp_strerror(code), "unknown error");
    }
    ck_assert_uint_eq(vmrp_version_number(), VMRP_VERSION_NUMBER);
    ck_assert_str_eq(vmrp_version_string(), VMRP_VERSION_STRING);
    ck_assert_int_eq(vmrp_init(), VMRP_OK); /* again: harmless */
}
END_TEST

START_TEST(test_little_endian_helpers)
{
    unsigned char b[8];
    le64_store(b, 0x0102030405060708ull);
    static const unsigned char want[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    ck_assert_mem_eq(b, want, 8);
    ck_assert_uint_eq(le64_load(b), 0x0102030405060708ull);
    ck_assert_uint_eq(le32_load(b), 0x05060708u);
    ck_assert_uint_eq(le16_load(b), 0x0708u);
    le32_store(b, 0xffffffffu);
    ck_assert_uint_eq(le32_load(b), 0xffffffffu);
    le16_store(b, 0xfffe);
    ck_assert_uint_eq(le16_load(b), 0xfffe);
}
END_TEST

static Suite *hash_suite(void)
{
    Suite *s = suite_create("hash");
    TCase *tc = tcase_create("hash");
    tcase_add_test(tc, test_known_answers);
    tcase_add_test(tc, test_streaming_equals_one_shot);
    tcase_add_test(tc, test_is_zero);
    tcase_add_test(tc, test_random_id);
    tcase_add_test(tc, test_now);
    suite_add_tcase(s, tc);
    tc = tcase_create("misc");
    tcase_add_test(tc, test_strerror_and_version);
    tcase_add_test(tc, test_little_endian_helpers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(hash_suite());
}
