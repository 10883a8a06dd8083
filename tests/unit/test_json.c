/* test_json.c - json.c: the strict RFC 8259 validator and text_valid. */
#define _GNU_SOURCE
#include "unit.h"

#include "vmrp_private.h"

static int valid(const char *s)
{
    return vmrp_json_validate(s, strlen(s), 0, NULL) == VMRP_OK;
}

static int valid_n(const char *s, size_t n)
{
    return vmrp_json_validate(s, n, 0, NULL) == VMRP_OK;
}

START_TEST(test_accepts_values)
{
    static const char *ok[] = {
        "{}", "[]", " { } ", "\t[\n]\r\n", "{\"a\":1}", "{\"a\" : [1, 2, {\"b\": null}]}",
        "[true,false,null]", "\"\"", "\"text\"", "0", "-0", "1", "-1", "123456789012345678901234567890",
        "0.5", "-0.5", "1e10", "1E+10", "1e-10", "1.25e3", "-12.5E-3", "[0,1,-1,0.0,1e0]",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u0041\\u00e9\\uFFFF\\uD834\\uDD1E\"",
        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", /* 2, 3 and 4-byte UTF-8 */
        "\"\xef\xbf\xbf\"",                              /* U+FFFF */
        "\"\xf4\x8f\xbf\xbf\"",                          /* U+10FFFF */
        "\"\x7f\"",                                      /* DEL is allowed in JSON */
        "{\"a\":{\"b\":{\"c\":[[[]]]}}}", "{\"\":\"\"}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_msg(valid(ok[i]), "rejected valid JSON #%zu: %s", i, ok[i]);
}
END_TEST

START_TEST(test_rejects_syntax)
{
    static const char *bad[] = {
        "", " ", "{", "}", "[", "]", "{]", "[}", "[1,]", "[,1]", "[1,,2]", "{\"a\":1,}", "{,}",
        "{\"a\"}", "{\"a\":}", "{a:1}", "{'a':1}", "{\"a\" 1}", "{1:2}", "[1 2]", "01", "-01",
        "00", "1.", ".5", "-", "+1", "1e", "1e+", "1.e5", "0x10", "NaN", "Infinity", "-Infinity",
        "tru", "true1", "nul", "nulll", "False", "\"abc", "\"\\\"", "\"\\x41\"", "\"\\u12\"",
        "\"\\u12G4\"", "\"\\U0041\"", "\"\\'\"", "\"\\\"", "[\"a\"", "{\"a\":1", "{} {}",
        "[] x", "1 2", "\"a\" \"b\"", "{}}", "[]]", "/* c */ {}", "{} // c",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!valid(bad[i]), "accepted invalid JSON #%zu: %s", i, bad[i]);
}
END_TEST

START_TEST(test_rejects_control_chars)
{
    for (int ch = 0; ch < 0x20; ch++) {
        char s[8] = {'"', 'a', (char)ch, 'b', '"'};
        ck_assert_msg(!valid_n(s, 5), "control character 0x%02x inside a string accepted", ch);
    }
    /* Outside strings only space, tab, LF and CR are whitespace. */
    ck_assert(!valid_n("[1,\x0b" "2]", 6));
    ck_assert(!valid_n("[1,\f2]", 6));
    ck_assert(!valid_n("{}\0", 3));
    ck_assert(!valid_n("\0{}", 3));
    ck_assert(valid_n("[1,\t\n\r 2]", 9));
}
END_TEST

START_TEST(test_rejects_bad_utf8)
{
    static const char *bad[] = {
        "\"\x80\"",                 /* lone continuation byte */
        "\"\xbf\"",                 /* lone continuation byte */
        "\"\xc0\xaf\"",             /* overlong '/' */
        "\"\xc1\xbf\"",             /* overlong */
        "\"\xe0\x80\xaf\"",         /* overlong, 3 bytes */
        "\"\xe0\x9f\xbf\"",         /* overlong U+07FF */
        "\"\xf0\x80\x80\xaf\"",     /* overlong, 4 bytes */
        "\"\xf0\x8f\xbf\xbf\"",     /* overlong U+FFFF */
        "\"\xed\xa0\x80\"",         /* surrogate U+D800 */
        "\"\xed\xbf\xbf\"",         /* surrogate U+DFFF */
        "\"\xf4\x90\x80\x80\"",     /* U+110000 */
        "\"\xf5\x80\x80\x80\"",     /* beyond Unicode */
        "\"\xff\"", "\"\xfe\"",     /* never valid */
        "\"\xc3\"",                 /* truncated 2-byte */
        "\"\xe2\x82\"",             /* truncated 3-byte */
        "\"\xf0\x9f\x98\"",         /* truncated 4-byte */
        "\"\xc3\x28\"",             /* bad continuation */
        "\"\xe2\x28\xa1\"",         /* bad continuation */
        "{\"\xed\xa0\x80\":1}",     /* surrogate in a key */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!valid(bad[i]), "invalid UTF-8 #%zu accepted", i);
    /* A multi-byte sequence cut by the end of the input. */
    ck_assert(!valid_n("\"\xe2\x82\xac\"", 3));
    ck_assert(!valid_n("\"\xf0\x9f\x98\x80", 4));
    /* Bytes >= 0x80 outside a string are never valid JSON. */
    ck_assert(!valid("[\xc3\xa9]"));
}
END_TEST

static char *nested(int depth, char open, char close)
{
    char *s = malloc((size_t)depth * 2 + 1);
    for (int i = 0; i < depth; i++) {
        s[i] = open;
        s[depth * 2 - 1 - i] = close;
    }
    s[depth * 2] = '\0';
    return s;
}

START_TEST(test_depth_bounded)
{
    /* Deep but reasonable nesting is fine... */
    char *s = nested(100, '[', ']');
    ck_assert(valid(s));
    free(s);
    /* ...300 levels is refused (and must not exhaust the stack). */
    s = nested(300, '[', ']');
    ck_assert(!valid(s));
    free(s);
    /* Objects nest through values. */
    size_t depth = 300, cap = depth * 8 + 8, n = 0;
    s = malloc(cap);
    for (size_t i = 0; i < depth; i++)
        n += (size_t)snprintf(s + n, cap - n, "{\"a\":");
    s[n++] = '1';
    for (size_t i = 0; i < depth; i++)
        s[n++] = '}';
    ck_assert(!valid_n(s, n));
    free(s);
    /* A hostile 1 MiB of '[' fails quickly and without a crash. */
    size_t big = 1u << 20;
    s = malloc(big);
    memset(s, '[', big);
    size_t at = 0;
    ck_assert_int_eq(vmrp_json_validate(s, big, 0, &at), VMRP_E_INPUT);
    ck_assert_uint_le(at, 300);
    free(s);
}
END_TEST

START_TEST(test_want_object)
{
    ck_assert_int_eq(vmrp_json_validate("{}", 2, 1, NULL), VMRP_OK);
    ck_assert_int_eq(vmrp_json_validate("  {\"vm\": [1]}  ", 15, 1, NULL), VMRP_OK);
    static const char *not_obj[] = {"[]", "\"{}\"", "1", "null", "true", "", "  ", "[{}]"};
    for (size_t i = 0; i < sizeof not_obj / sizeof not_obj[0]; i++) {
        const char *t = not_obj[i];
        ck_assert_msg(vmrp_json_validate(t, strlen(t), 1, NULL) == VMRP_E_INPUT,
                      "'%s' accepted as an object", t);
        if (strlen(t) && strcmp(t, "  ") != 0)
            ck_assert_int_eq(vmrp_json_validate(t, strlen(t), 0, NULL), VMRP_OK);
    }
    size_t at = 99;
    ck_assert_int_eq(vmrp_json_validate("  [1]", 5, 1, &at), VMRP_E_INPUT);
    ck_assert_uint_eq(at, 2);
}
END_TEST

/* The size argument is honoured: bytes after it are not looked at. */
START_TEST(test_size_is_honoured)
{
    const char *s = "{\"a\":1}garbage";
    ck_assert_int_eq(vmrp_json_validate(s, 7, 1, NULL), VMRP_OK);
    ck_assert_int_eq(vmrp_json_validate(s, 8, 1, NULL), VMRP_E_INPUT);
    ck_assert_int_eq(vmrp_json_validate(s, 6, 1, NULL), VMRP_E_INPUT);
    /* Exact-size heap copies of every prefix of a valid document: only the
     * full length is valid, and nothing reads past the end (ASan). */
    const char *doc = "{\"name\":\"vm\xc3\xa9\",\"n\":[1.5e3,-0,true,null,\"\\u00e9\"]}";
    size_t len = strlen(doc);
    for (size_t cut = 0; cut <= len; cut++) {
        char *p = malloc(cut ? cut : 1);
        memcpy(p, doc, cut);
        int rc = vmrp_json_validate(p, cut, 1, NULL);
        ck_assert_msg(rc == (cut == len ? VMRP_OK : VMRP_E_INPUT), "prefix %zu: rc %d", cut, rc);
        free(p);
    }
}
END_TEST

static size_t err_at(const char *s)
{
    size_t at = (size_t)-1;
    ck_assert_int_eq(vmrp_json_validate(s, strlen(s), 0, &at), VMRP_E_INPUT);
    return at;
}

START_TEST(test_err_offset)
{
    ck_assert_uint_eq(err_at("[1,]"), 3);
    ck_assert_uint_eq(err_at("{\"a\":1,}"), 7);
    ck_assert_uint_eq(err_at("{\"a\":1} x"), 8);
    ck_assert_uint_eq(err_at("\"ab\x01\""), 3);
    ck_assert_uint_eq(err_at("\"ab\\q\""), 4);
    ck_assert_uint_eq(err_at("[1, 2, tru]"), 7);
    ck_assert_uint_eq(err_at("\"\xc3\x28\""), 1);
    ck_assert_uint_eq(err_at("[01]"), 2);
    ck_assert_uint_eq(err_at(""), 0);
    ck_assert_uint_eq(err_at("   "), 3);
    ck_assert_uint_eq(err_at("\"abc"), 4);
    /* No error: the offset is left alone. */
    size_t at = 12345;
    ck_assert_int_eq(vmrp_json_validate("[]", 2, 0, &at), VMRP_OK);
    ck_assert_uint_eq(at, 12345);
}
END_TEST

START_TEST(test_text_valid)
{
    ck_assert(text_valid("", 0));
    ck_assert(text_valid("hello world", 11));
    ck_assert(text_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
    ck_assert(!text_valid("a\nb", 3));
    ck_assert(!text_valid("a\tb", 3));
    ck_assert(!text_valid("a\x7f", 2));
    ck_assert(!text_valid("a\0b", 3));
    ck_assert(!text_valid("\xed\xa0\x80", 3));
    ck_assert(!text_valid("\xc0\xaf", 2));
    ck_assert(!text_valid("\xe2\x82", 2));
    ck_assert(!text_valid("\x80", 1));
    /* Only size bytes are looked at. */
    ck_assert(text_valid("ok\n", 2));
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("validate");
    tcase_add_test(tc, test_accepts_values);
    tcase_add_test(tc, test_rejects_syntax);
    tcase_add_test(tc, test_rejects_control_chars);
    tcase_add_test(tc, test_rejects_bad_utf8);
    tcase_add_test(tc, test_depth_bounded);
    tcase_add_test(tc, test_want_object);
    tcase_add_test(tc, test_size_is_honoured);
    tcase_add_test(tc, test_err_offset);
    suite_add_tcase(s, tc);
    tc = tcase_create("text");
    tcase_add_test(tc, test_text_valid);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(json_suite());
}
