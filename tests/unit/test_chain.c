/* test_chain.c - resolving a disk as a stream (chain.c): chains of several
 * incremental points, a disk that shrinks and grows, excluded points and a
 * FULL point in the middle, blocks that become zero, MAP records that
 * span more than one record, and damage in an old point's map reported
 * before anything is restored, or while merging when the file changes
 * after it was checked.
 */
#define _GNU_SOURCE
#include "unit.h"

#include "vmrp_private.h"

#define BS 4096u

static vmrp_writer_options opts(void)
{
    vmrp_writer_options o;
    memset(&o, 0, sizeof o);
    o.block_size = BS;
    o.codec = VMRP_CODEC_ZSTD;
    o.threads = 2;
    return o;
}

static void rnd_block(unsigned char *img, uint64_t k, uint64_t seed)
{
    ut_fill_random(img + k * BS, BS, seed);
}

static uint64_t blocks_of(uint64_t size)
{
    return size / BS + (size % BS != 0);
}

/* Everything a reader gives of disk `name` at point k agrees with img:
 * the restored image, the extents (the runs of non-zero blocks), and the
 * resolved entries (increasing, one per non-zero block); and again with
 * every decoded MAP record put aside in the chain's temporary file (a
 * budget of one byte) instead of held. */
static void expect_disk(vmrp_reader *r, uint32_t k, const char *name, const unsigned char *img,
                        uint64_t size)
{
    unsigned char *got = NULL;
    uint64_t got_size = 0;
    int rc = ut_read_image(r, k, name, &got, &got_size);
    ck_assert_msg(rc == VMRP_OK, "point %u disk %s: %s", k + 1, name, vmrp_reader_error_string(r));
    ck_assert_uint_eq(got_size, size);
    if (size)
        ck_assert_msg(memcmp(got, img, (size_t)size) == 0, "point %u disk %s differs", k + 1, name);
    free(got);

    vmrp_extent *x = NULL;
    size_t nx = 0, m = 0;
    ck_assert_int_eq(vmrp_reader_disk_extents(r, k, name, &x, &nx), VMRP_OK);
    map_entry *v = NULL;
    size_t n = 0, i = 0;
    ck_assert_int_eq(reader_resolve_disk(r, k, name, &v, &n), VMRP_OK);
    for (uint64_t b = 0; b < blocks_of(size); b++) {
        uint64_t off = b * BS, len = size - off < BS ? size - off : BS;
        if (ut_all_zero(img + off, (size_t)len))
            continue;
        ck_assert_msg(i < n && v[i].block == b, "point %u disk %s: block %llu not resolved",
                      k + 1, name, (unsigned long long)b);
        i++;
        if (m > 0 && off < x[m - 1].offset + x[m - 1].length)
            continue; /* inside the run checked */
        ck_assert_uint_lt(m, nx);
        ck_assert_uint_eq(x[m].offset, off);
        uint64_t end = off;
        while (end < size && !ut_all_zero(img + end, (size_t)(size - end < BS ? size - end : BS)))
            end += BS;
        ck_assert_uint_eq(x[m].length, (end < size ? end : size) - off);
        m++;
    }
    ck_assert_uint_eq(i, n);
    ck_assert_uint_eq(m, nx);
    free(v);
    free(x);
    if (r->chain_budget == 0) {
        r->chain_budget = 1;
        expect_disk(r, k, name, img, size);
        r->chain_budget = 0;
    }
}

static const vmrp_disk_info *disk_named(vmrp_reader *r, uint32_t k, const char *name)
{
    const vmrp_point_info *pi = vmrp_reader_point(r, k);
    for (uint32_t d = 0; d < pi->disk_count; d++)
        if (strcmp(pi->disks[d].name, name) == 0)
            return &pi->disks[d];
    return NULL;
}

/* Six points of disk d: changes, a block that becomes zero, a shrink, an
 * excluded point, a growth over blocks the disk held before it shrank
 * (which must not come back), then a second disk. */
START_TEST(test_chain_of_incremental_points)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "chain.vmrp");
    vmrp_writer_options o = opts();
    ut_point pt = {NULL, 0, NULL, NULL, 0, &o};
    enum { NPTS = 6, MAXB = 50 };
    unsigned char *img[NPTS];
    uint64_t size[NPTS];
    unsigned char *e = calloc(1, 8 * BS);
    for (uint64_t b = 0; b < 8; b += 2)
        rnd_block(e, b, 900 + b);

    img[0] = calloc(1, MAXB * BS);
    size[0] = 40 * BS - 100; /* a partial last block */
    for (uint64_t b = 0; b < 40; b++)
        if (b % 9 != 4)
            rnd_block(img[0], b, 100 + b);
    memset(img[0] + size[0], 0, MAXB * BS - size[0]);
    for (int k = 1; k < NPTS; k++) {
        img[k] = malloc(MAXB * BS);
        memcpy(img[k], img[k - 1], MAXB * BS);
        size[k] = size[k - 1];
    }
    /* P2: two blocks change, one becomes zero, one zero block gets data */
    rnd_block(img[1], 3, 203);
    rnd_block(img[1], 10, 210);
    memset(img[1] + 7 * BS, 0, BS);
    rnd_block(img[1], 13, 213);
    for (int k = 2; k < NPTS; k++)
        memcpy(img[k], img[1], MAXB * BS);
    /* P3: shrinks to 25 blocks, block 20 changes */
    size[2] = 25 * BS;
    memset(img[2] + size[2], 0, (MAXB - 25) * BS);
    rnd_block(img[2], 20, 320);
    for (int k = 3; k < NPTS; k++)
        memcpy(img[k], img[2], MAXB * BS), size[k] = size[2];
    /* P4: d excluded. P5: grows to 50 blocks, some new blocks zero (P1
     * held data there), block 2 changes. */
    size[4] = MAXB * BS;
    for (uint64_t b = 25; b < MAXB; b++)
        if (b % 3 != 0)
            rnd_block(img[4], b, 500 + b);
    rnd_block(img[4], 2, 502);
    memcpy(img[5], img[4], MAXB * BS);
    size[5] = size[4];
    /* P6: block 0 becomes zero, block 1 changes, disk e added */
    memset(img[5], 0, BS);
    rnd_block(img[5], 1, 601);

    vmrp_writer_stats st;
    for (int k = 0; k < NPTS; k++) {
        ut_disk d[] = {{"d", img[k], size[k], k == 3}, {"e", e, 8 * BS, 0}};
        ck_assert_int_eq(ut_pack(dir, archive, d, k == 5 ? 2 : 1, &pt, &st), VMRP_OK);
        static const uint64_t changed[NPTS] = {36, 4, 1, 0, 18, 6};
        ck_assert_msg(st.changed_blocks == changed[k], "point %d: %llu changed", k + 1,
                      (unsigned long long)st.changed_blocks);
    }
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), NPTS);
    for (uint32_t k = 0; k < NPTS; k++) {
        if (k == 3) {
            unsigned char *got = NULL;
            uint64_t gs = 0;
            ck_assert_int_eq(ut_read_image(r, k, "d", &got, &gs), VMRP_E_NOT_FOUND);
            continue;
        }
        expect_disk(r, k, "d", img[k], size[k]);
    }
    expect_disk(r, 5, "e", e, 8 * BS);
    vmrp_reader_free(r);
    for (int k = 0; k < NPTS; k++)
        free(img[k]);
    free(e);
    ut_rmtree(dir);
}
END_TEST

static vmrp_encryption enc_pass(const char *pass)
{
    vmrp_encryption x;
    memset(&x, 0, sizeof x);
    x.kdf_opslimit = 1;
    x.kdf_memlimit = 8192;
    x.passphrase = pass;
    return x;
}

static int give_pass(void *ctx, const char *path, char *buf, size_t size)
{
    (void)path;
    snprintf(buf, size, "%s", (const char *)ctx);
    return 0;
}

/* A FULL point in the middle of a family: a keyless append starts a new
 * family (FULL), the next keyed point is FULL in that family, and the one
 * after is a delta on it. The chain of the last point stops at the keyed
 * FULL point: a block the keyless point held and the FULL point does not
 * stays zero. */
START_TEST(test_chain_stops_at_full_point)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "full.vmrp");
    vmrp_writer_options o = opts();
    ut_point pt = {NULL, 0, NULL, NULL, 0, &o};
    vmrp_encryption x = enc_pass("pw");
    ut_pack_extra keyed = {&x, NULL, NULL, 0, 0};
    const uint64_t size = 12 * BS;
    unsigned char *img[4];
    img[0] = calloc(1, size);
    for (uint64_t b = 0; b < 12; b++)
        if (b != 5)
            rnd_block(img[0], b, 10 + b);
    for (int k = 1; k < 4; k++)
        img[k] = malloc(size);
    memcpy(img[1], img[0], size);
    rnd_block(img[1], 5, 25); /* the keyless point: block 5 gets data */
    memcpy(img[2], img[1], size);
    memset(img[2] + 5 * BS, 0, BS); /* P3, keyed and FULL: block 5 zero again */
    rnd_block(img[2], 6, 36);
    memcpy(img[3], img[2], size);
    rnd_block(img[3], 1, 41); /* P4: a delta on P3 */
    memset(img[3] + 8 * BS, 0, BS);
    vmrp_writer_stats st;
    for (int k = 0; k < 4; k++) {
        ut_disk d = {"vda", img[k], size, 0};
        ck_assert_int_eq(ut_pack_ex(dir, archive, &d, 1, k == 0 ? &pt : NULL,
                                    k == 1 ? NULL : &keyed, &st),
                         VMRP_OK);
    }
    ck_assert_uint_eq(st.changed_blocks, 2);
    vmrp_reader *r = vmrp_reader_new();
    vmrp_reader_set_decryption(r, NULL, give_pass, (void *)"pw");
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    ck_assert_int_eq(disk_named(r, 0, "vda")->full, 1);
    ck_assert_int_eq(disk_named(r, 1, "vda")->full, 1);
    ck_assert_int_eq(disk_named(r, 2, "vda")->full, 1);
    ck_assert_int_eq(disk_named(r, 3, "vda")->full, 0);
    ck_assert_mem_eq(disk_named(r, 1, "vda")->family_id, disk_named(r, 3, "vda")->family_id, 16);
    for (uint32_t k = 0; k < 4; k++)
        expect_disk(r, k, "vda", img[k], size);
    vmrp_reader_free(r);
    for (int k = 0; k < 4; k++)
        free(img[k]);
    ut_rmtree(dir);
}
END_TEST

/* Damage in the map of the oldest point of a chain is reported before the
 * sink gets a byte, by restore and by extents, with the map named. */
START_TEST(test_damaged_old_map_reported_first)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "damaged.vmrp");
    vmrp_writer_options o = opts();
    ut_point pt = {NULL, 0, NULL, NULL, 0, &o};
    const uint64_t size = 600 * (uint64_t)BS; /* three restore batches */
    unsigned char *img = malloc(size);
    ut_fill_random(img, size, 5);
    for (int k = 0; k < 3; k++) {
        rnd_block(img, (uint64_t)(100 * k + 7), 70 + (uint64_t)k);
        ut_disk d = {"d", img, size, 0};
        ck_assert_int_eq(ut_pack(dir, archive, &d, 1, &pt, NULL), VMRP_OK);
    }
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    ck_assert_uint_eq(r->points[0].disk_meta[0].map_count, 1);
    const uint64_t at = r->points[0].disk_meta[0].map_offsets[0] + RH_SIZE + 3;
    vmrp_reader_free(r);
    ut_flip_byte(archive, at);

    r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    ut_image_sink sink = {calloc(1, size), size, BS, 0, 0};
    ck_assert_int_eq(vmrp_reader_read_disk(r, 2, "d", ut_image_block, &sink), VMRP_E_CORRUPT);
    ck_assert_msg(strstr(vmrp_reader_error_string(r), "map 0 of disk d in point 1") != NULL, "%s",
                  vmrp_reader_error_string(r));
    ck_assert_uint_eq(sink.calls, 0);
    vmrp_extent *x = NULL;
    size_t nx = 0;
    ck_assert_int_eq(vmrp_reader_disk_extents(r, 1, "d", &x, &nx), VMRP_E_CORRUPT);
    ck_assert_ptr_null(x);
    ck_assert_msg(strstr(vmrp_reader_error_string(r), "map 0 of disk d in point 1") != NULL, "%s",
                  vmrp_reader_error_string(r));
    free(sink.img);
    vmrp_reader_free(r);
    free(img);
    ut_rmtree(dir);
}
END_TEST

/* A disk whose map takes two MAP records (every block the same, so one
 * BLOCK record), and a delta whose changes straddle the records' border.
 * Damage in the second record made after the chain was checked fails the
 * merge cleanly, with the record named. */
START_TEST(test_two_map_records_and_a_change_while_merging)
{
    char *dir = ut_tmpdir();
    char archive[4096], path[4096];
    ut_join(archive, sizeof archive, dir, "big.vmrp");
    ut_join(path, sizeof path, dir, "big.img");
    const uint64_t nb = MAP_ENTRIES_PER_RECORD + 300;
    unsigned char *chunk = malloc(256 * BS);
    for (int i = 0; i < 256; i++)
        ut_fill_random(chunk + (size_t)i * BS, BS, 42);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(fd, 0);
    for (uint64_t b = 0; b < nb; b += 256) {
        uint64_t k = nb - b < 256 ? nb - b : 256;
        ut_pwrite_all(fd, chunk, (size_t)(k * BS), b * BS, path);
    }
    ck_assert_int_eq(close(fd), 0);
    vmrp_writer_options o = opts();
    for (int k = 0; k < 2; k++) {
        if (k == 1) { /* a few blocks each side of the border become others */
            fd = open(path, O_WRONLY | O_CLOEXEC);
            unsigned char blk[BS];
            for (uint64_t b = MAP_ENTRIES_PER_RECORD - 3; b < MAP_ENTRIES_PER_RECORD + 3; b++) {
                ut_fill_random(blk, BS, b);
                ut_pwrite_all(fd, blk, BS, b * BS, path);
            }
            memset(blk, 0, BS);
            ut_pwrite_all(fd, blk, BS, 5 * BS, path);
            close(fd);
        }
        vmrp_writer *w = vmrp_writer_new();
        ck_assert_int_eq(vmrp_writer_open(w, archive, &o), VMRP_OK);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_eq(vmrp_writer_add_disk(w, "d", fd, path), VMRP_OK);
        close(fd);
        ck_assert_int_eq(vmrp_writer_commit(w), VMRP_OK);
        vmrp_writer_stats st;
        vmrp_writer_get_stats(w, &st);
        ck_assert_uint_eq(st.changed_blocks, k ? 7 : nb);
        vmrp_writer_free(w);
    }
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    ck_assert_uint_eq(r->points[0].disk_meta[0].map_count, 2);
    map_entry *v = NULL;
    size_t n = 0;
    ck_assert_int_eq(reader_resolve_disk(r, 1, "d", &v, &n), VMRP_OK);
    ck_assert_uint_eq(n, nb - 1);
    unsigned char want[HASH_SIZE], blk[BS];
    for (size_t i = 0; i < n; i++) {
        uint64_t b = i < 5 ? i : i + 1;
        ck_assert_uint_eq(v[i].block, b);
        if (b >= MAP_ENTRIES_PER_RECORD - 3 && b < MAP_ENTRIES_PER_RECORD + 3)
            ut_fill_random(blk, BS, b);
        else
            ut_fill_random(blk, BS, 42);
        id_hash(want, blk, BS, NULL);
        ck_assert_msg(memcmp(v[i].id, want, HASH_SIZE) == 0, "block %llu", (unsigned long long)b);
    }
    /* the same entries with the records put aside, two MAP records each
     * read back a window at a time */
    r->chain_budget = 1;
    map_entry *aside = NULL;
    size_t naside = 0;
    ck_assert_int_eq(reader_resolve_disk(r, 1, "d", &aside, &naside), VMRP_OK);
    ck_assert_uint_eq(naside, n);
    ck_assert_msg(memcmp(aside, v, n * sizeof *v) == 0, "entries differ when put aside");
    free(aside);
    /* and a directory that cannot hold the file is an error naming it */
    const char *old = getenv("TMPDIR");
    char *saved = old ? strdup(old) : NULL;
    char nowhere[4096];
    ut_join(nowhere, sizeof nowhere, dir, "no-such-dir");
    setenv("TMPDIR", nowhere, 1);
    ck_assert_int_eq(reader_resolve_disk(r, 1, "d", &aside, &naside), VMRP_E_IO);
    ck_assert_msg(strstr(vmrp_reader_error_string(r), nowhere) != NULL, "%s",
                  vmrp_reader_error_string(r));
    if (saved)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
    free(saved);
    r->chain_budget = 0;
    free(v);
    const uint64_t second = r->points[0].disk_meta[0].map_offsets[1];

    /* checked, then the second record of point 1 changes under the merge */
    map_chain *ch = NULL;
    ck_assert_int_eq(chain_open(r, 1, "d", 1, &ch), VMRP_OK);
    ut_flip_byte(archive, second + RH_SIZE + 3);
    map_entry e;
    int have = 1, rc;
    size_t got = 0;
    while ((rc = chain_next(ch, &e, &have)) == VMRP_OK && have)
        got++;
    ck_assert_int_eq(rc, VMRP_E_CORRUPT);
    ck_assert_int_eq(have, 0);
    ck_assert_uint_lt(got, MAP_ENTRIES_PER_RECORD);
    ck_assert_msg(strstr(vmrp_reader_error_string(r), "map 1 of disk d in point 1") != NULL, "%s",
                  vmrp_reader_error_string(r));
    ck_assert_int_eq(chain_next(ch, &e, &have), VMRP_OK); /* ended */
    ck_assert_int_eq(have, 0);
    chain_free(ch);
    /* and a restore reports it up front */
    ut_image_sink sink = {calloc(1, nb * BS), nb * BS, BS, 0, 0};
    ck_assert_int_eq(vmrp_reader_read_disk(r, 1, "d", ut_image_block, &sink), VMRP_E_CORRUPT);
    ck_assert_uint_eq(sink.calls, 0);
    free(sink.img);
    vmrp_reader_free(r);
    free(chunk);
    ut_rmtree(dir);
}
END_TEST

static Suite *chain_suite(void)
{
    Suite *s = suite_create("chain");
    TCase *tc = tcase_create("resolve");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_chain_of_incremental_points);
    tcase_add_test(tc, test_chain_stops_at_full_point);
    tcase_add_test(tc, test_damaged_old_map_reported_first);
    tcase_add_test(tc, test_two_map_records_and_a_change_while_merging);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(chain_suite());
}
