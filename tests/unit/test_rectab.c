/* test_rectab.c - rectab.c: the reader's records by offset, read back from
 * their INDEX entries. */
#define _GNU_SOURCE
#include "unit.h"

#include "vmrp_private.h"

/* Three segments of records with sizes from a pattern, as an INDEX lists
 * them: each tiles [start, start + sum of sizes). The entries are written
 * to a file, as the archive holds them, since the table reads them back. */
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

static int entries_file(void)
{
    char tmpl[] = "/tmp/vmrp-rectab.XXXXXX";
    int fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    unlink(tmpl);
    return fd;
}

/* Write the INDEX entry of ref at pos and add it to t. */
static void add_entry(rectab *t, int fd, const rec_ref *ref, uint64_t pos)
{
    unsigned char e[IX_ENTRY_SIZE] = {0};
    le64_store(e + IXE_OFF_OFFSET, ref->offset);
    le32_store(e + IXE_OFF_SIZE, ref->size);
    e[IXE_OFF_TYPE] = ref->type;
    memset(e + IXE_OFF_HASH, 0x5a, HASH_SIZE); /* not kept */
    ut_pwrite_all(fd, e, sizeof e, pos, "entries");
    ck_assert_int_eq(rectab_add(t, ref, pos), VMRP_OK);
}

/* Fill t; offsets[k] receives the offset of record k, pos[k] where its
 * entry is. Segment s's entries start at s * 1 MiB + 99 in the file. */
static size_t build(rectab *t, int fd, uint64_t *offsets, uint64_t *pos)
{
    size_t k = 0;
    for (uint16_t s = 0; s < sizeof segs / sizeof segs[0]; s++) {
        ck_assert_int_eq(rectab_reserve(t, segs[s].count), VMRP_OK);
        uint64_t at = segs[s].start;
        for (size_t i = 0; i < segs[s].count; i++, k++) {
            rec_ref ref = {at, size_of(k), s, type_of(k), {0}, 0};
            pos[k] = (uint64_t)s * 1048576 + 99 + i * IX_ENTRY_SIZE;
            add_entry(t, fd, &ref, pos[k]);
            offsets[k] = at;
            at += ref.size;
        }
    }
    return k;
}

START_TEST(test_find_every_record)
{
    int fd = entries_file();
    rectab *t = rectab_new(fd);
    uint64_t offsets[1131], pos[1131];
    size_t n = build(t, fd, offsets, pos);
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
        ck_assert_int_eq(rectab_get(t, k, &byindex), 1);
        ck_assert_mem_eq(&byindex, &got, sizeof got);
        /* inside a record, or just past it, is not a record */
        ck_assert_int_eq(rectab_find(t, offsets[k] + 1, &got), 0);
        ck_assert_int_eq(rectab_find(t, offsets[k] + size_of(k) - 1, &got), 0);
    }
    rec_ref got;
    ck_assert_int_eq(rectab_get(t, n, &got), 0);
    ck_assert_int_eq(rectab_find(t, 0, &got), 0);
    ck_assert_int_eq(rectab_find(t, 127, &got), 0);
    /* the gap between segments (their INDEX and COMMIT) and past the end */
    ck_assert_int_eq(rectab_find(t, offsets[999] + size_of(999), &got), 0);
    ck_assert_int_eq(rectab_find(t, 99999999, &got), 0);
    ck_assert_int_eq(rectab_find(t, offsets[n - 1] + size_of(n - 1), &got), 0);
    ck_assert_int_eq(rectab_find(t, UINT64_MAX, &got), 0);
    rectab_free(t);
    rectab_free(NULL);
    close(fd);
}
END_TEST

/* More pages than the cache holds, looked up in a random order: every
 * lookup still finds its record (pages are evicted and read again). */
START_TEST(test_more_pages_than_cached)
{
    int fd = entries_file();
    rectab *t = rectab_new(fd);
    const size_t n = 100000;
    for (size_t i = 0; i < n; i++) {
        rec_ref ref = {1000 + i * 64, 64, 0, REC_BLOCK, {0}, 0};
        add_entry(t, fd, &ref, 5000 + i * IX_ENTRY_SIZE);
    }
    uint64_t state = 11;
    for (size_t j = 0; j < 200000; j++) {
        size_t i = j % 3 ? (size_t)ut_below(&state, n) : j / 2 % n;
        rec_ref got;
        ck_assert_int_eq(rectab_find(t, 1000 + i * 64, &got), 1);
        ck_assert_uint_eq(got.offset, 1000 + i * 64);
    }
    rectab_free(t);
    close(fd);
}
END_TEST

/* Entries read back must tile the range they covered when added: a changed
 * entry or an unreadable file is an error, never a record of another size. */
START_TEST(test_entries_changed_or_unreadable)
{
    int fd = entries_file();
    rectab *t = rectab_new(fd);
    uint64_t offsets[1131], pos[1131];
    build(t, fd, offsets, pos);
    unsigned char size[4];
    le32_store(size, size_of(500) + 1);
    ut_pwrite_all(fd, size, 4, pos[500] + IXE_OFF_SIZE, "entries");
    rec_ref got;
    ck_assert_int_eq(rectab_find(t, offsets[400], &got), VMRP_E_CORRUPT);
    ck_assert_msg(strstr(rectab_why(t), "changed since the archive was opened") != NULL, "%s",
                  rectab_why(t));
    ck_assert_int_eq(rectab_find(t, offsets[1000], &got), 1); /* another page */
    rectab_free(t);
    close(fd);

    fd = entries_file();
    t = rectab_new(fd);
    build(t, fd, offsets, pos);
    ck_assert_int_eq(ftruncate(fd, 1048576), 0); /* the second and third segments' entries */
    ck_assert_int_eq(rectab_find(t, offsets[999], &got), 1);
    ck_assert_int_eq(rectab_find(t, offsets[1000], &got), VMRP_E_IO);
    ck_assert_msg(strstr(rectab_why(t), "reading the index entries at offset 1048675") != NULL,
                  "%s", rectab_why(t));
    rectab_free(t);
    close(fd);
}
END_TEST

/* Entries rewritten to reach the end of their page early, leaving the
 * page's last entries out: refused too. */
START_TEST(test_entries_end_early)
{
    int fd = entries_file();
    rectab *t = rectab_new(fd);
    for (uint64_t i = 0; i < 3; i++) {
        rec_ref ref = {1000 + i * 100, 100, 0, REC_BLOCK, {0}, 0};
        add_entry(t, fd, &ref, i * IX_ENTRY_SIZE);
    }
    unsigned char e[IX_ENTRY_SIZE] = {0};
    le64_store(e + IXE_OFF_OFFSET, 1100);
    le32_store(e + IXE_OFF_SIZE, 200);
    e[IXE_OFF_TYPE] = REC_BLOCK;
    ut_pwrite_all(fd, e, sizeof e, IX_ENTRY_SIZE, "entries");
    le64_store(e + IXE_OFF_OFFSET, 1300);
    le32_store(e + IXE_OFF_SIZE, 50);
    ut_pwrite_all(fd, e, sizeof e, 2 * IX_ENTRY_SIZE, "entries");
    rec_ref got;
    ck_assert_int_eq(rectab_find(t, 1100, &got), VMRP_E_CORRUPT);
    rectab_free(t);
    close(fd);
}
END_TEST

/* A page found while it is still being filled is read again once it has
 * grown. */
START_TEST(test_page_grows_after_a_lookup)
{
    int fd = entries_file();
    rectab *t = rectab_new(fd);
    rec_ref got;
    for (uint64_t i = 0; i < 20; i++) {
        rec_ref ref = {1000 + i * 100, 100, 0, REC_BLOCK, {0}, 0};
        add_entry(t, fd, &ref, i * IX_ENTRY_SIZE);
        ck_assert_int_eq(rectab_find(t, 1000 + i * 100, &got), 1);
        ck_assert_int_eq(rectab_find(t, 1000 + i / 2 * 100, &got), 1);
    }
    rectab_free(t);
    close(fd);
}
END_TEST

START_TEST(test_out_of_order)
{
    int fd = entries_file();
    rectab *t = rectab_new(fd);
    rec_ref a = {1000, 100, 0, REC_BLOCK, {0}, 0}, b = a;
    add_entry(t, fd, &a, 0);
    ck_assert_int_eq(rectab_add(t, &b, IX_ENTRY_SIZE), VMRP_E_CORRUPT); /* the same offset */
    b.offset = 1099;
    ck_assert_int_eq(rectab_add(t, &b, IX_ENTRY_SIZE), VMRP_E_CORRUPT); /* inside the last */
    ck_assert_uint_eq(rectab_count(t), 1);
    /* grows without a reservation */
    for (uint64_t i = 0; i < 5000; i++) {
        rec_ref c = {1100 + i * 20, 20, 0, REC_BLOCK, {0}, 0};
        add_entry(t, fd, &c, (i + 1) * IX_ENTRY_SIZE);
    }
    rec_ref got;
    ck_assert_int_eq(rectab_find(t, 1100 + 4999 * 20, &got), 1);
    ck_assert_uint_eq(got.size, 20);
    rectab_free(t);
    close(fd);
}
END_TEST

static Suite *rectab_suite(void)
{
    Suite *s = suite_create("rectab");
    TCase *tc = tcase_create("rectab");
    tcase_add_test(tc, test_find_every_record);
    tcase_add_test(tc, test_more_pages_than_cached);
    tcase_add_test(tc, test_entries_changed_or_unreadable);
    tcase_add_test(tc, test_entries_end_early);
    tcase_add_test(tc, test_page_grows_after_a_lookup);
    tcase_add_test(tc, test_out_of_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(rectab_suite());
}
