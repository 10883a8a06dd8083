/* test_offlist.c - offlist.c and the spill.c calls under it: entries found
 * by offset whether they sit in memory or in the temporary file. */
#define _GNU_SOURCE
#include "unit.h"

#include "vmrp_private.h"

typedef struct {
    uint64_t offset;
    uint64_t value;
} entry;

/* Offsets with gaps from a pattern; value: a function of the index. */
static uint64_t offset_of(uint64_t i)
{
    return 1000 + i * 100 + i * i % 37;
}

static uint64_t value_of(uint64_t i)
{
    return i * 0x9e3779b97f4a7c15ull;
}

static void fill(offlist *l, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        entry e = {offset_of(i), value_of(i)};
        ck_assert_int_eq(offlist_push(l, &e), 0);
    }
    ck_assert_uint_eq(offlist_count(l), n);
}

/* Every entry, in order and at random, and offsets between entries, for
 * lists held in memory, wholly in the file, and split across both. */
START_TEST(test_find_everywhere)
{
    static const size_t keeps[] = {1, 7, 255, 256, 1000, 100000};
    const uint64_t n = 3001;
    for (size_t k = 0; k < sizeof keeps / sizeof keeps[0]; k++) {
        offlist *l = offlist_new(sizeof(entry), keeps[k]);
        ck_assert_ptr_nonnull(l);
        fill(l, n);
        const void *found;
        uint64_t state = 7;
        for (uint64_t j = 0; j < 2 * n; j++) {
            uint64_t i = j < n ? j : ut_below(&state, n);
            ck_assert_int_eq(offlist_find(l, offset_of(i), &found), 0);
            ck_assert_msg(found != NULL, "keep %zu: entry %llu not found", keeps[k],
                          (unsigned long long)i);
            entry e;
            memcpy(&e, found, sizeof e);
            ck_assert_uint_eq(e.offset, offset_of(i));
            ck_assert_uint_eq(e.value, value_of(i));
            ck_assert_int_eq(offlist_find(l, offset_of(i) + 1, &found), 0);
            ck_assert_ptr_null(found);
        }
        ck_assert_int_eq(offlist_find(l, 0, &found), 0);
        ck_assert_ptr_null(found);
        ck_assert_int_eq(offlist_find(l, UINT64_MAX, &found), 0);
        ck_assert_ptr_null(found);
        offlist_free(l);
    }
}
END_TEST

/* The last page is read again once it has grown. */
START_TEST(test_find_while_growing)
{
    offlist *l = offlist_new(sizeof(entry), 5);
    for (uint64_t i = 0; i < 600; i++) {
        entry e = {offset_of(i), value_of(i)};
        ck_assert_int_eq(offlist_push(l, &e), 0);
        const void *found;
        ck_assert_int_eq(offlist_find(l, offset_of(i), &found), 0);
        ck_assert_ptr_nonnull(found);
        ck_assert_int_eq(offlist_find(l, offset_of(i / 2), &found), 0);
        ck_assert_ptr_nonnull(found);
    }
    offlist_free(l);
}
END_TEST

START_TEST(test_out_of_order)
{
    offlist *l = offlist_new(sizeof(entry), 16);
    entry a = {500, 1}, same = {500, 2}, before = {499, 3};
    ck_assert_int_eq(offlist_push(l, &a), 0);
    ck_assert_int_eq(offlist_push(l, &same), -EINVAL);
    ck_assert_int_eq(offlist_push(l, &before), -EINVAL);
    ck_assert_uint_eq(offlist_count(l), 1);
    offlist_free(l);
}
END_TEST

/* spill_append_n across the memory bound, spill_read of any range,
 * spill_clear, and reuse of the emptied file. */
START_TEST(test_spill_bytes)
{
    unsigned char data[10000];
    ut_fill_random(data, sizeof data, 3);
    spill *s = spill_new(1, 999, NULL);
    for (int round = 0; round < 2; round++) {
        size_t at = 0, step = 1;
        while (at < sizeof data) {
            size_t n = sizeof data - at < step ? sizeof data - at : step;
            ck_assert_int_eq(spill_append_n(s, data + at, n), 0);
            at += n;
            step = step * 3 + 1;
        }
        ck_assert_uint_eq(spill_count(s), sizeof data);
        unsigned char back[sizeof data];
        static const size_t cuts[][2] = {{0, 10000}, {0, 1}, {998, 3}, {999, 1000}, {5000, 5000},
                                         {9999, 1}, {10000, 0}};
        for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
            ck_assert_int_eq(spill_read(s, cuts[c][0], cuts[c][1], back), 0);
            ck_assert_mem_eq(back, data + cuts[c][0], cuts[c][1]);
        }
        ck_assert_int_eq(spill_read(s, 9999, 2, back), -EINVAL);
        ck_assert_int_eq(spill_read(s, 10001, 0, back), -EINVAL);
        spill_clear(s);
        ck_assert_uint_eq(spill_count(s), 0);
        ut_fill_random(data, sizeof data, 4); /* the second round reuses the file */
    }
    spill_free(s);
}
END_TEST

static Suite *offlist_suite(void)
{
    Suite *s = suite_create("offlist");
    TCase *tc = tcase_create("offlist");
    tcase_add_test(tc, test_find_everywhere);
    tcase_add_test(tc, test_find_while_growing);
    tcase_add_test(tc, test_out_of_order);
    tcase_add_test(tc, test_spill_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(offlist_suite());
}
