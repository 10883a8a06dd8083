/* test_names.c - names.c: disk, config file and point names; ids and times. */
#define _GNU_SOURCE
#include "unit.h"

#include "vmrp_private.h"

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

START_TEST(test_disk_names)
{
    static const char *ok[] = {"vda", "A", "disk-0_1.raw", "sda.qcow2", "-x", "_", "0", "a..b"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_msg(vmrp_disk_name_valid(ok[i]), "'%s' rejected", ok[i]);
        ck_assert(name_disk_valid(ok[i], strlen(ok[i])));
    }
    static const char *bad[] = {"",      ".hidden", ".",       "..",     "a/b",    "/vda",
                                "a b",   "a\tb",    "caf\xc3\xa9", "vda:", "a\\b",  "a*",
                                "a\nb",  "~x",      "a+b",     "a@b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(!vmrp_disk_name_valid(bad[i]), "'%s' accepted", bad[i]);
        ck_assert(!name_disk_valid(bad[i], strlen(bad[i])));
    }
    ck_assert(!vmrp_disk_name_valid(NULL));
    char *s = repeat('d', 64);
    ck_assert(vmrp_disk_name_valid(s));
    free(s);
    s = repeat('d', 65);
    ck_assert(!vmrp_disk_name_valid(s));
    ck_assert(name_disk_valid(s, 64));
    free(s);
    /* Explicit lengths: an embedded NUL is not a name character. */
    ck_assert(!name_disk_valid("vda\0x", 5));
    ck_assert(name_disk_valid("vda\0x", 3));
    ck_assert(!name_disk_valid("vda", 0));
}
END_TEST

START_TEST(test_config_names)
{
    static const char *ok[] = {"domain.xml", "a/b/c.xml", "nvram/VARS.fd", "a/.b", "...",
                               "a/...", "caf\xc3\xa9/\xc3\xbc.txt", ".hidden", "a b/c d",
                               "x..y", "a/b..", "..a"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_msg(vmrp_config_name_valid(ok[i]), "'%s' rejected", ok[i]);
        ck_assert(name_config_valid(ok[i], strlen(ok[i])));
    }
    static const char *bad[] = {"",      "/abs",   "/",    "a/../b", "..",   "../x",
                                "x/..",  ".",      "./x",  "a/./b",  "a/.",  "a//b",
                                "a/",    "//",     "a\nb", "a\x7f",  "a\x01/b", "\xc0\xaf",
                                "\xed\xa0\x80", "\xe2\x82", "../../etc/passwd", "a/b/../../.."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(!vmrp_config_name_valid(bad[i]), "bad config name #%zu '%s' accepted", i,
                      bad[i]);
        ck_assert(!name_config_valid(bad[i], strlen(bad[i])));
    }
    ck_assert(!vmrp_config_name_valid(NULL));
    ck_assert(!name_config_valid("a\0b", 3));
    char *s = repeat('c', 4096);
    ck_assert(vmrp_config_name_valid(s));
    free(s);
    s = repeat('c', 4097);
    ck_assert(!vmrp_config_name_valid(s));
    free(s);
}
END_TEST

START_TEST(test_point_names)
{
    static const char *ok[] = {"nightly", "1a", "a1", "latest2", "Latest", "-1", "+1", "point 1",
                               "caf\xc3\xa9", "2026-11-25", "1.0", " 1", "latest "};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_msg(name_point_valid(ok[i], strlen(ok[i])), "'%s' rejected", ok[i]);
    static const char *bad[] = {"", "123", "0", "007", "latest", "a\nb", "tab\t", "a\x7f",
                                "\xc3", "\xed\xa0\x80", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!name_point_valid(bad[i], strlen(bad[i])), "bad point name #%zu accepted",
                      i);
    ck_assert(!name_point_valid("a\0b", 3));
    ck_assert(!name_point_valid("12\0", 3));
    char *s = repeat('p', 255);
    ck_assert(name_point_valid(s, 255));
    free(s);
    s = repeat('p', 256);
    ck_assert(!name_point_valid(s, 256));
    free(s);
    s = repeat('9', 255);
    ck_assert(!name_point_valid(s, 255));
    free(s);
}
END_TEST

START_TEST(test_uuid_format)
{
    unsigned char id[16];
    char out[37];
    for (int i = 0; i < 16; i++)
        id[i] = (unsigned char)i;
    memset(out, 'X', sizeof out);
    vmrp_uuid_format(id, out);
    ck_assert_str_eq(out, "00010203-0405-0607-0809-0a0b0c0d0e0f");
    memset(id, 0xff, sizeof id);
    vmrp_uuid_format(id, out);
    ck_assert_str_eq(out, "ffffffff-ffff-ffff-ffff-ffffffffffff");
    static const unsigned char v4[16] = {0xde, 0xad, 0xbe, 0xef, 0x12, 0x34, 0x4a, 0xbc,
                                         0x9d, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab};
    vmrp_uuid_format(v4, out);
    ck_assert_str_eq(out, "deadbeef-1234-4abc-9def-0123456789ab");
    ck_assert_uint_eq(strlen(out), 36);
}
END_TEST

static void time_is(int64_t us, const char *want)
{
    char out[32];
    memset(out, 'X', sizeof out);
    vmrp_time_format(us, out);
    ck_assert_msg(strcmp(out, want) == 0, "time %lld: got '%s', expected '%s'", (long long)us,
                  out, want);
}

START_TEST(test_time_format)
{
    time_is(0, "1970-01-01T00:00:00.000000Z");
    time_is(1, "1970-01-01T00:00:00.000001Z");
    time_is(999999, "1970-01-01T00:00:00.999999Z");
    time_is(1000000, "1970-01-01T00:00:01.000000Z");
    time_is(-1, "1969-12-31T23:59:59.999999Z");
    time_is(-999999, "1969-12-31T23:59:59.000001Z");
    time_is(-1000000, "1969-12-31T23:59:59.000000Z");
    time_is(-1000001, "1969-12-31T23:59:58.999999Z");
    time_is(951782400000000LL, "2000-02-29T00:00:00.000000Z");
    time_is(1700000000123456LL, "2023-11-14T22:13:20.123456Z");
    time_is(253402300799999999LL, "9999-12-31T23:59:59.999999Z");
    time_is(-62135596800000000LL, "0001-01-01T00:00:00.000000Z");
    /* Extremes: no crash, and always a NUL-terminated string that fits. */
    static const int64_t extremes[] = {INT64_MAX, INT64_MIN, INT64_MIN + 1, -62135596800000001LL};
    for (size_t i = 0; i < sizeof extremes / sizeof extremes[0]; i++) {
        char out[32];
        memset(out, 'X', sizeof out);
        vmrp_time_format(extremes[i], out);
        ck_assert(memchr(out, '\0', sizeof out) != NULL);
        ck_assert_uint_gt(strlen(out), 0);
    }
}
END_TEST

START_TEST(test_consistency_names)
{
    ck_assert_str_eq(vmrp_consistency_name(VMRP_CONSISTENCY_CRASH), "CrashConsistent");
    ck_assert_str_eq(vmrp_consistency_name(VMRP_CONSISTENCY_FILESYSTEM), "FileSystemConsistent");
    ck_assert_str_eq(vmrp_consistency_name(VMRP_CONSISTENCY_APPLICATION), "ApplicationConsistent");
    ck_assert_ptr_null(vmrp_consistency_name(0));
    ck_assert_ptr_null(vmrp_consistency_name(4));
    ck_assert_ptr_null(vmrp_consistency_name(-1));
}
END_TEST

static Suite *names_suite(void)
{
    Suite *s = suite_create("names");
    TCase *tc = tcase_create("names");
    tcase_add_test(tc, test_disk_names);
    tcase_add_test(tc, test_config_names);
    tcase_add_test(tc, test_point_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("format");
    tcase_add_test(tc, test_uuid_format);
    tcase_add_test(tc, test_time_format);
    tcase_add_test(tc, test_consistency_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(names_suite());
}
