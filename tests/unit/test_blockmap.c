/* test_blockmap.c - blockmap.c: Block_Id -> record offset (deduplication). */
#define _GNU_SOURCE
#include "unit.h"

#include "vmrp_private.h"

static void id_of(uint64_t n, unsigned char id[HASH_SIZE])
{
    unsigned char v[8];
    le64_store(v, n);
    hash_buf(id, v, sizeof v);
}

START_TEST(test_many_ids)
{
    const uint64_t n = 100000;
    blocktab *t = blocktab_new((size_t)64 << 20);
    ck_assert_ptr_nonnull(t);
    unsigned char id[HASH_SIZE];
    for (uint64_t i = 0; i < n; i++) {
        id_of(i, id);
        ck_assert_int_eq(blocktab_put(t, id, 128 + i * 7), VMRP_OK);
        /* Visible at once, including across every growth of the table. */
        ck_assert_uint_eq(blocktab_get(t, id), 128 + i * 7);
    }
    for (uint64_t i = 0; i < n; i++) {
        id_of(i, id);
        ck_assert_msg(blocktab_get(t, id) == 128 + i * 7, "id %llu lost after growth",
                      (unsigned long long)i);
    }
    for (uint64_t i = n; i < n + 10000; i++) {
        id_of(i, id);
        ck_assert_uint_eq(blocktab_get(t, id), 0);
    }
    blocktab_free(t);
}
END_TEST

START_TEST(test_absent_is_zero)
{
    blocktab *t = blocktab_new((size_t)64 << 20);
    unsigned char id[HASH_SIZE] = {0};
    ck_assert_uint_eq(blocktab_get(t, id), 0);
    id_of(1, id);
    ck_assert_uint_eq(blocktab_get(t, id), 0);
    ck_assert_int_eq(blocktab_put(t, id, 4096), VMRP_OK);
    unsigned char other[HASH_SIZE];
    memcpy(other, id, HASH_SIZE);
    other[HASH_SIZE - 1] ^= 1; /* same slot, different id */
    ck_assert_uint_eq(blocktab_get(t, other), 0);
    blocktab_free(t);
    blocktab_free(NULL);
}
END_TEST

START_TEST(test_first_put_wins)
{
    blocktab *t = blocktab_new((size_t)64 << 20);
    unsigned char id[HASH_SIZE];
    id_of(77, id);
    ck_assert_int_eq(blocktab_put(t, id, 1000), VMRP_OK);
    ck_assert_int_eq(blocktab_put(t, id, 2000), VMRP_OK);
    ck_assert_int_eq(blocktab_put(t, id, 3000), VMRP_OK);
    ck_assert_uint_eq(blocktab_get(t, id), 1000);
    /* ... also after the table grows past the duplicates. */
    unsigned char x[HASH_SIZE];
    for (uint64_t i = 0; i < 5000; i++) {
        id_of(100000 + i, x);
        ck_assert_int_eq(blocktab_put(t, x, 1 + i), VMRP_OK);
    }
    ck_assert_int_eq(blocktab_put(t, id, 4000), VMRP_OK);
    ck_assert_uint_eq(blocktab_get(t, id), 1000);
    blocktab_free(t);
}
END_TEST

/* Ids are hashes, but hostile ids may not be: 3000 ids that share their
 * first 8 bytes (one home slot). Lookups stay bounded and never return
 * another id's record; the table stays within its bound; the newest id is
 * always found. */
START_TEST(test_colliding_prefixes)
{
    blocktab *t = blocktab_new((size_t)1 << 20);
    unsigned char id[HASH_SIZE];
    for (uint32_t i = 0; i < 3000; i++) {
        memset(id, 0xab, HASH_SIZE);
        le32_store(id + 20, i);
        ck_assert_int_eq(blocktab_put(t, id, 10 + i), VMRP_OK);
        ck_assert_uint_eq(blocktab_get(t, id), 10 + i);
    }
    size_t found = 0;
    for (uint32_t i = 0; i < 3000; i++) {
        memset(id, 0xab, HASH_SIZE);
        le32_store(id + 20, i);
        uint64_t got = blocktab_get(t, id);
        ck_assert_msg(got == 0 || got == 10 + i, "id %u gave another id's record %llu", i,
                      (unsigned long long)got);
        found += got != 0;
    }
    ck_assert_uint_le(found, 64);
    ck_assert_uint_ge(found, 1);
    ck_assert_uint_eq(blocktab_evicted(t), 3000 - found);
    ck_assert_uint_le(blocktab_bytes(t), (size_t)1 << 20);
    memset(id, 0xab, HASH_SIZE);
    le32_store(id + 20, 3000);
    ck_assert_uint_eq(blocktab_get(t, id), 0);
    /* Ids whose first 8 bytes index the last slots wrap around. */
    for (uint32_t i = 0; i < 20; i++) {
        memset(id, 0xff, HASH_SIZE);
        le32_store(id + 24, i);
        ck_assert_int_eq(blocktab_put(t, id, 50000 + i), VMRP_OK);
    }
    for (uint32_t i = 0; i < 20; i++) {
        memset(id, 0xff, HASH_SIZE);
        le32_store(id + 24, i);
        ck_assert_uint_eq(blocktab_get(t, id), 50000 + i);
    }
    blocktab_free(t);
}
END_TEST

/* The table never outgrows its bound: 1 MiB holds 16384 slots of 40 bytes.
 * Past that, new ids replace old ones; what remains is still right, and
 * an id is found at once after it is put. */
START_TEST(test_bounded)
{
    blocktab *t = blocktab_new((size_t)1 << 20);
    unsigned char id[HASH_SIZE];
    const uint64_t n = 100000;
    for (uint64_t i = 0; i < n; i++) {
        id_of(i, id);
        ck_assert_int_eq(blocktab_put(t, id, 1 + i), VMRP_OK);
        ck_assert_uint_eq(blocktab_get(t, id), 1 + i);
        ck_assert_uint_le(blocktab_bytes(t), (size_t)1 << 20);
    }
    ck_assert_uint_eq(blocktab_bytes(t), 16384 * 40);
    uint64_t found = 0, recent = 0;
    for (uint64_t i = 0; i < n; i++) {
        id_of(i, id);
        uint64_t got = blocktab_get(t, id);
        ck_assert(got == 0 || got == 1 + i);
        found += got != 0;
        recent += got != 0 && i >= n - 1000;
    }
    ck_assert_uint_le(found, 16384);
    ck_assert_uint_ge(found, 16384 * 3 / 4); /* it fills, not just three quarters */
    ck_assert_uint_eq(blocktab_evicted(t), n - found);
    ck_assert_uint_ge(recent, 900); /* recent ids mostly survive */
    /* A table below its bound loses nothing (test_many_ids); nor does one
     * reserved up to it. */
    blocktab *r = blocktab_new((size_t)1 << 20);
    ck_assert_int_eq(blocktab_reserve(r, 1000000), VMRP_OK);
    ck_assert_uint_eq(blocktab_bytes(r), 16384 * 40);
    blocktab_free(r);
    blocktab_free(t);
}
END_TEST

static Suite *blockmap_suite(void)
{
    Suite *s = suite_create("blockmap");
    TCase *tc = tcase_create("blocktab");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_many_ids);
    tcase_add_test(tc, test_absent_is_zero);
    tcase_add_test(tc, test_first_put_wins);
    tcase_add_test(tc, test_colliding_prefixes);
    tcase_add_test(tc, test_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(blockmap_suite());
}
