/* test_rectab.c - rectab.c: the reader's records by offset, without hashes. */
#define _GNU_SOURCE
#include "unit.h"

#include "vmrp_private.h"

/* Three segments of records with sizes from a pattern, as an INDEX lists
 * them: each tiles [start, start + sum of sizes). */
typedef struct {
    uint64_t start;
    size_t count;
} segment;

static const segment segs[] = {{128, 1000}, {100000000, 1}, {200000000, 130}};

static uint32_t size_of(size_t i)
{
    return 17 + (uint32_t)(i * 7919 % 70000);
}

static uint8_t type_of(size_t i)
{
    return i % 97 == 3 ? REC_MAP : REC_BLOCK;
}

/* Fill t; offsets[k] receives the offset of record k. */
static size_t build(rectab *t, uint64_t *offsets)
{
    size_t k = 0;
    for (uint16_t s = 0; s < sizeof segs / sizeof segs[0]; s++) {
        ck_assert_int_eq(rectab_reserve(t, segs[s].count), VMRP_OK);
        uint64_t at = segs[s].start;
        for (size_t i = 0; i < segs[s].count; i++, k++) {
            rec_ref ref = {at, size_of(k), s, type_of(k), {0}, 0};
            memset(ref.hash, 0x5a, HASH_SIZE); /* not kept */
            ck_assert_int_eq(rectab_add(t, &ref), VMRP_OK);
            offsets[k] = at;
            at += ref.size;
        }
    }
    return k;
}

START_TEST(test_find_every_record)
{
    rectab *t = rectab_new();
    uint64_t offsets[1131];
    size_t n = build(t, offsets);
    ck_assert_uint_eq(n, 1131);
    ck_assert_uint_eq(rectab_count(t), n);
    for (size_t k = 0; k < n; k++) {
        rec_ref got;
        ck_assert_msg(rectab_find(t, offsets[k], &got) == 1, "record %zu not found", k);
        ck_assert_uint_eq(got.offset, offsets[k]);
        ck_assert_uint_eq(got.size, size_of(k));
        ck_assert_uint_eq(got.type, type_of(k));
        ck_assert_uint_eq(got.segment, k < 1000 ? 0 : k < 1001 ? 1 : 2);
        ck_assert_uint_eq(got.no_hash, 1);
        ck_assert(is_zero(got.hash, HASH_SIZE));
        rec_ref byindex;
        rectab_get(t, k, &byindex);
        ck_assert_mem_eq(&byindex, &got, sizeof got);
        /* inside a record, or just past it, is not a record */
        ck_assert_int_eq(rectab_find(t, offsets[k] + 1, &got), 0);
        ck_assert_int_eq(rectab_find(t, offsets[k] + size_of(k) - 1, &got), 0);
    }
    rec_ref got;
    ck_assert_int_eq(rectab_find(t, 0, &got), 0);
    ck_assert_int_eq(rectab_find(t, 127, &got), 0);
    /* the gap between segments (their INDEX and COMMIT) and past the end */
    ck_assert_int_eq(rectab_find(t, offsets[999] + size_of(999), &got), 0);
    ck_assert_int_eq(rectab_find(t, 99999999, &got), 0);
    ck_assert_int_eq(rectab_find(t, offsets[n - 1] + size_of(n - 1), &got), 0);
    ck_assert_int_eq(rectab_find(t, UINT64_MAX, &got), 0);
    rectab_free(t);
    rectab_free(NULL);
}
END_TEST

START_TEST(test_out_of_order)
{
    rectab *t = rectab_new();
    rec_ref a = {1000, 100, 0, REC_BLOCK, {0}, 0}, b = a;
    ck_assert_int_eq(rectab_add(t, &a), VMRP_OK);
    ck_assert_int_eq(rectab_add(t, &b), VMRP_E_CORRUPT); /* the same offset again */
    b.offset = 999;
    ck_assert_int_eq(rectab_add(t, &b), VMRP_E_CORRUPT);
    ck_assert_uint_eq(rectab_count(t), 1);
    /* grows without a reservation */
    for (uint64_t i = 0; i < 5000; i++) {
        rec_ref c = {1100 + i * 20, 20, 0, REC_BLOCK, {0}, 0};
        ck_assert_int_eq(rectab_add(t, &c), VMRP_OK);
    }
    rec_ref got;
    ck_assert_int_eq(rectab_find(t, 1100 + 4999 * 20, &got), 1);
    ck_assert_uint_eq(got.size, 20);
    rectab_free(t);
}
END_TEST

static Suite *rectab_suite(void)
{
    Suite *s = suite_create("rectab");
    TCase *tc = tcase_create("rectab");
    tcase_add_test(tc, test_find_every_record);
    tcase_add_test(tc, test_out_of_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(rectab_suite());
}
