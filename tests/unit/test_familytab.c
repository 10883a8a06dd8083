/* test_familytab.c - hashidx.c and the name/family rule of familytab.c
 * (spec 5.4.2) that the reader and the verifier share. */
#define _GNU_SOURCE
#include "unit.h"

#include "vmrp_private.h"

static const unsigned char *fam(int n)
{
    static unsigned char ids[8][ID_SIZE];
    memset(ids[n], 0xa0 + n, ID_SIZE);
    return ids[n];
}

/* Check, then add when the rule holds; returns the clash or NULL. */
static const family_entry *step(familytab *t, uint32_t point, uint32_t disk, const char *name,
                                int f, int may_restart, int *differs)
{
    const family_entry *clash = familytab_check(t, name, fam(f), may_restart, differs);
    if (!clash)
        ck_assert_ptr_nonnull(familytab_add(t, name, fam(f), point, disk));
    return clash;
}

START_TEST(test_rule)
{
    familytab *t = familytab_new();
    ck_assert_ptr_nonnull(t);
    int differs = -1;
    /* point 0: a(f1), b(f2); point 1: a(f1) again, c(f3) */
    ck_assert_ptr_null(step(t, 0, 0, "a", 1, 0, &differs));
    ck_assert_ptr_null(step(t, 0, 1, "b", 2, 0, &differs));
    ck_assert_ptr_null(step(t, 1, 0, "a", 1, 0, &differs));
    ck_assert_ptr_null(step(t, 1, 1, "c", 3, 0, &differs));
    /* a Family_Id under another name: that of its newest point */
    const family_entry *clash = step(t, 2, 0, "d", 1, 0, &differs);
    ck_assert_ptr_nonnull(clash);
    ck_assert_int_eq(differs, 0);
    ck_assert_str_eq(clash->name, "a");
    ck_assert_uint_eq(clash->point, 1);
    /* a name with another Family_Id */
    clash = step(t, 2, 0, "b", 4, 0, &differs);
    ck_assert_ptr_nonnull(clash);
    ck_assert_int_eq(differs, 1);
    ck_assert_str_eq(clash->name, "b");
    ck_assert_uint_eq(clash->point, 0);
    /* unless the disk may start a new family: then the name keeps it */
    ck_assert_ptr_null(step(t, 2, 0, "b", 4, 1, &differs));
    ck_assert_ptr_null(step(t, 3, 0, "b", 4, 0, &differs));
    clash = step(t, 4, 0, "b", 2, 0, &differs);
    ck_assert_ptr_nonnull(clash);
    ck_assert_int_eq(differs, 1);
    ck_assert_uint_eq(clash->point, 3);
    /* the old family may not come back under any name but b, nor the
     * restart rule lend it to another name */
    clash = step(t, 4, 0, "e", 2, 1, &differs);
    ck_assert_ptr_nonnull(clash);
    ck_assert_int_eq(differs, 0);
    ck_assert_str_eq(clash->name, "b");
    /* both broken: the newer entry is reported (c at point 1 against b at 3) */
    clash = step(t, 5, 0, "b", 3, 0, &differs);
    ck_assert_ptr_nonnull(clash);
    ck_assert_int_eq(differs, 1);
    ck_assert_uint_eq(clash->point, 3);
    clash = step(t, 5, 0, "c", 4, 0, &differs);
    ck_assert_ptr_nonnull(clash);
    ck_assert_int_eq(differs, 0);
    ck_assert_str_eq(clash->name, "b");
    ck_assert_uint_eq(clash->point, 3);
    familytab_free(t);
}
END_TEST

/* Many keys through growth, found with their last value; similar keys,
 * keys that are prefixes of others and the empty key stay apart. */
START_TEST(test_hashidx_many)
{
    hashidx *h = hashidx_new();
    ck_assert_ptr_nonnull(h);
    char key[32];
    const uint32_t n = 100000;
    for (uint32_t i = 0; i < n; i++) {
        int len = snprintf(key, sizeof key, "disk%u", i);
        ck_assert_int_eq(hashidx_put(h, key, (size_t)len, i), VMRP_OK);
    }
    for (uint32_t i = 0; i < n; i += 3) {
        int len = snprintf(key, sizeof key, "disk%u", i);
        ck_assert_int_eq(hashidx_put(h, key, (size_t)len, i + n), VMRP_OK);
    }
    ck_assert_int_eq(hashidx_put(h, "", 0, 7), VMRP_OK);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v = 0;
        int len = snprintf(key, sizeof key, "disk%u", i);
        ck_assert_int_eq(hashidx_find(h, key, (size_t)len, &v), 1);
        ck_assert_uint_eq(v, i % 3 == 0 ? i + n : i);
        ck_assert_int_eq(hashidx_find(h, key, (size_t)len + 1, &v), 0); /* with its NUL */
    }
    uint32_t v = 0;
    ck_assert_int_eq(hashidx_find(h, "", 0, &v), 1);
    ck_assert_uint_eq(v, 7);
    ck_assert_int_eq(hashidx_find(h, "disk", 4, &v), 0);
    hashidx_free(h);
}
END_TEST

static Suite *familytab_suite(void)
{
    Suite *s = suite_create("familytab");
    TCase *tc = tcase_create("familytab");
    tcase_add_test(tc, test_rule);
    tcase_add_test(tc, test_hashidx_many);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(familytab_suite());
}
