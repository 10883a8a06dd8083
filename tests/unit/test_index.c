/* test_index.c - index.c: decoding of a segment's INDEX payload. */
#define _GNU_SOURCE
#include "unit.h"

#include "vmrp_private.h"

typedef struct {
    uint64_t offset;
    uint32_t size;
    uint8_t type;
} ent;

/* Segment at 128: BLOCK(100) MAP(64) FILE(40) POINT(200); index at 532. */
static const ent base[] = {
    {128, 100, REC_BLOCK}, {228, 64, REC_MAP}, {292, 40, REC_FILE}, {332, 200, REC_POINT}};
#define NBASE 4u

static size_t encode(unsigned char *p, const ent *e, uint32_t n, uint64_t point_offset)
{
    memset(p, 0, IX_HEADER_SIZE + (size_t)n * IX_ENTRY_SIZE);
    le32_store(p + IX_OFF_ENTRY_COUNT, n);
    le64_store(p + IX_OFF_POINT_OFFSET, point_offset);
    for (uint32_t i = 0; i < n; i++) {
        unsigned char *x = p + IX_HEADER_SIZE + (size_t)i * IX_ENTRY_SIZE;
        le64_store(x + IXE_OFF_OFFSET, e[i].offset);
        le32_store(x + IXE_OFF_SIZE, e[i].size);
        x[IXE_OFF_TYPE] = e[i].type;
        memset(x + IXE_OFF_HASH, (int)(0x10 + i), HASH_SIZE);
    }
    return IX_HEADER_SIZE + (size_t)n * IX_ENTRY_SIZE;
}

static commit_info seg(uint64_t segment, uint64_t index)
{
    commit_info c;
    memset(&c, 0, sizeof c);
    c.segment_offset = segment;
    c.index_offset = index;
    return c;
}

static int parse(const unsigned char *p, size_t len, const commit_info *c, rec_ref **refs,
                 size_t *n, uint64_t *pt)
{
    unsigned char *copy = malloc(len ? len : 1); /* exact size: over-reads show under ASan */
    memcpy(copy, p, len);
    const char *why = NULL;
    int rc = index_parse(copy, len, c, refs, n, pt, &why);
    free(copy);
    if (rc != VMRP_OK) {
        ck_assert_msg(why && *why, "index_parse failed (%d) without a reason", rc);
        ck_assert_ptr_null(*refs);
        ck_assert_uint_eq(*n, 0);
    }
    return rc;
}

static void rejects(const ent *e, uint32_t n, uint64_t pt_off, uint64_t index_offset,
                    const char *label)
{
    unsigned char p[IX_HEADER_SIZE + 16 * IX_ENTRY_SIZE];
    size_t len = encode(p, e, n, pt_off);
    commit_info c = seg(128, index_offset);
    rec_ref *refs = (rec_ref *)1;
    size_t cnt = 99;
    uint64_t pt;
    int rc = parse(p, len, &c, &refs, &cnt, &pt);
    if (rc == VMRP_OK)
        free(refs);
    ck_assert_msg(rc == VMRP_E_CORRUPT, "%s: accepted", label);
}

START_TEST(test_valid_index)
{
    unsigned char p[512];
    size_t len = encode(p, base, NBASE, 332);
    commit_info c = seg(128, 532);
    rec_ref *refs = NULL;
    size_t n = 0;
    uint64_t pt = 0;
    ck_assert_int_eq(parse(p, len, &c, &refs, &n, &pt), VMRP_OK);
    ck_assert_uint_eq(n, NBASE);
    ck_assert_uint_eq(pt, 332);
    for (uint32_t i = 0; i < NBASE; i++) {
        ck_assert_uint_eq(refs[i].offset, base[i].offset);
        ck_assert_uint_eq(refs[i].size, base[i].size);
        ck_assert_uint_eq(refs[i].type, base[i].type);
        ck_assert_uint_eq(refs[i].hash[0], 0x10 + i);
        ck_assert_uint_eq(refs[i].hash[31], 0x10 + i);
    }
    free(refs);
    /* A segment with only its POINT record. */
    const ent one[] = {{1000, 300, REC_POINT}};
    len = encode(p, one, 1, 1000);
    c = seg(1000, 1300);
    ck_assert_int_eq(parse(p, len, &c, &refs, &n, &pt), VMRP_OK);
    ck_assert_uint_eq(n, 1);
    free(refs);
}
END_TEST

START_TEST(test_every_truncation)
{
    unsigned char p[512];
    size_t len = encode(p, base, NBASE, 332);
    commit_info c = seg(128, 532);
    for (size_t cut = 0; cut < len; cut++) {
        rec_ref *refs = NULL;
        size_t n = 0;
        uint64_t pt;
        ck_assert_msg(parse(p, cut, &c, &refs, &n, &pt) == VMRP_E_CORRUPT, "%zu of %zu bytes",
                      cut, len);
    }
    /* One extra byte. */
    p[len] = 0;
    rec_ref *refs = NULL;
    size_t n = 0;
    uint64_t pt;
    ck_assert_int_eq(parse(p, len + 1, &c, &refs, &n, &pt), VMRP_E_CORRUPT);
}
END_TEST

START_TEST(test_header_fields)
{
    unsigned char p[512];
    commit_info c = seg(128, 532);
    rec_ref *refs = NULL;
    size_t n = 0;
    uint64_t pt;
    size_t len = encode(p, base, NBASE, 332);
    le32_store(p + IX_OFF_ENTRY_COUNT, 0);
    ck_assert_int_eq(parse(p, IX_HEADER_SIZE, &c, &refs, &n, &pt), VMRP_E_CORRUPT);
    le32_store(p + IX_OFF_ENTRY_COUNT, NBASE + 1);
    ck_assert_int_eq(parse(p, len, &c, &refs, &n, &pt), VMRP_E_CORRUPT);
    le32_store(p + IX_OFF_ENTRY_COUNT, NBASE - 1);
    ck_assert_int_eq(parse(p, len, &c, &refs, &n, &pt), VMRP_E_CORRUPT);
    le32_store(p + IX_OFF_ENTRY_COUNT, UINT32_MAX);
    ck_assert_int_eq(parse(p, len, &c, &refs, &n, &pt), VMRP_E_CORRUPT);
    encode(p, base, NBASE, 332);
    le32_store(p + IX_OFF_RESERVED, 1);
    ck_assert_int_eq(parse(p, len, &c, &refs, &n, &pt), VMRP_E_CORRUPT);
    for (int b = 0; b < 3; b++) {
        encode(p, base, NBASE, 332);
        p[IX_HEADER_SIZE + IX_ENTRY_SIZE + IXE_OFF_RESERVED + b] = 1;
        ck_assert_int_eq(parse(p, len, &c, &refs, &n, &pt), VMRP_E_CORRUPT);
    }
}
END_TEST

START_TEST(test_tiling_rejects)
{
    ent e[NBASE];
    memcpy(e, base, sizeof e);
    e[0].offset = 129;
    rejects(e, NBASE, 332, 532, "first entry not at Segment_Offset");
    memcpy(e, base, sizeof e);
    e[1].offset = 230;
    rejects(e, NBASE, 332, 532, "gap between entries");
    memcpy(e, base, sizeof e);
    e[1].offset = 220;
    rejects(e, NBASE, 332, 532, "overlapping entries");
    memcpy(e, base, sizeof e);
    e[0].size = 16;
    rejects(e, NBASE, 332, 532, "record without payload");
    memcpy(e, base, sizeof e);
    rejects(e, NBASE, 332, 540, "entries end before the index");
    rejects(e, NBASE, 332, 500, "entries run into the index");
    memcpy(e, base, sizeof e);
    e[3].size = UINT32_MAX;
    rejects(e, NBASE, 332, 532, "huge record size");
    static const uint8_t bad_types[] = {0, REC_INDEX, REC_COMMIT, 8, 255}; /* KEYS: readers check */
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        memcpy(e, base, sizeof e);
        e[1].type = bad_types[i];
        rejects(e, NBASE, 332, 532, "record type a segment cannot hold");
    }
}
END_TEST

START_TEST(test_point_entry)
{
    ent e[NBASE];
    memcpy(e, base, sizeof e);
    e[3].type = REC_FILE;
    rejects(e, NBASE, 332, 532, "no POINT record");
    memcpy(e, base, sizeof e);
    e[2].type = REC_POINT;
    rejects(e, NBASE, 332, 532, "two POINT records");
    memcpy(e, base, sizeof e);
    rejects(e, NBASE, 292, 532, "Point_Record_Offset names another record");
    rejects(e, NBASE, 0, 532, "Point_Record_Offset 0");
}
END_TEST

/* Spec 5.5: "Exactly one entry has type POINT; it is the last entry". */
START_TEST(test_point_entry_is_last)
{
    const ent e[] = {{128, 100, REC_BLOCK}, {228, 200, REC_POINT}, {428, 64, REC_MAP}};
    rejects(e, 3, 228, 492, "POINT entry followed by a MAP entry");
}
END_TEST

static Suite *index_suite(void)
{
    Suite *s = suite_create("index");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_valid_index);
    tcase_add_test(tc, test_every_truncation);
    tcase_add_test(tc, test_header_fields);
    tcase_add_test(tc, test_tiling_rejects);
    tcase_add_test(tc, test_point_entry);
    suite_add_tcase(s, tc);
    tc = tcase_create("spec_rules");
    tcase_add_test(tc, test_point_entry_is_last);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(index_suite());
}
