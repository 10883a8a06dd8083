/* test_spill.c - spill.c, and the writer's INDEX entries beyond those it
 * holds in memory: with the threshold set tiny (writer_set_index_spill),
 * the archive is byte for byte the one the default writes, verifies,
 * restores what was packed, takes incremental points, and a failing
 * temporary file fails the pack with VMRP_E_IO and leaves the archive as it
 * was.
 *
 * Two packs match byte for byte only if they draw the same ids and read the
 * same clock: this program installs a libsodium random source that replays
 * one seeded stream from each pack's start (pack_point), and answers
 * CLOCK_REALTIME with a fixed time (now_us() in hash.c reads it).
 */
#define _GNU_SOURCE
#include "unit.h"

#include <sys/syscall.h>
#include <time.h>

#include "writer_private.h"

/* ---- the same random ids and times for every pack ---- */

static uint64_t det_state;

static const char *det_name(void)
{
    return "test_spill";
}

static void det_buf(void *const buf, const size_t size)
{
    ut_fill_random(buf, size, ut_rand(&det_state));
}

static uint32_t det_random(void)
{
    uint32_t v;
    det_buf(&v, sizeof v);
    return v;
}

static randombytes_implementation det_impl = {det_name, det_random, NULL, NULL, det_buf, NULL};

/* Replaces the C library's for this program: the wall clock stands still. */
int clock_gettime(clockid_t id, struct timespec *ts)
{
    if (id == CLOCK_REALTIME) {
        ts->tv_sec = 1790000000;
        ts->tv_nsec = 123456000;
        return 0;
    }
    return (int)syscall(SYS_clock_gettime, id, ts);
}

/* The next pack draws the same ids as every other. */
static void det_reset(void)
{
    det_state = 42;
}

#define KiB 1024u
#define BS 4096u
#define NDISKS 3

static const char *const disk_names[NDISKS] = {"vda", "vdb", "vdc"};
static const uint64_t disk_sizes[NDISKS] = {1024 * KiB, 768 * KiB, 640 * KiB};

typedef struct {
    char *dir;
    char paths[NDISKS][4096];
    unsigned char *img[NDISKS];
} fixture;

/* Three disks: random, compressible text, and random around a hole; about
 * 560 BLOCK records at 4 KiB. */
static void fixture_init(fixture *f)
{
    f->dir = ut_tmpdir();
    for (int i = 0; i < NDISKS; i++) {
        char leaf[64];
        snprintf(leaf, sizeof leaf, "%s.img", disk_names[i]);
        ut_join(f->paths[i], sizeof f->paths[i], f->dir, leaf);
        f->img[i] = calloc(1, disk_sizes[i]);
        ck_assert_ptr_nonnull(f->img[i]);
    }
    ut_fill_random(f->img[0], disk_sizes[0], 1);
    ut_fill_text(f->img[1], disk_sizes[1], 2);
    ut_fill_random(f->img[2], 128 * KiB, 3);
    ut_fill_random(f->img[2] + 384 * KiB, 256 * KiB, 4);
    for (int i = 0; i < NDISKS; i++)
        ut_write_sparse(f->paths[i], f->img[i], disk_sizes[i]);
}

static void fixture_free(fixture *f)
{
    for (int i = 0; i < NDISKS; i++)
        free(f->img[i]);
    ut_rmtree(f->dir);
}

/* Rewrite `len` bytes of disk i at off, in memory and in its file. */
static void fixture_change(fixture *f, int i, size_t off, size_t len, uint64_t seed)
{
    ut_fill_random(f->img[i] + off, len, seed);
    ut_write_sparse(f->paths[i], f->img[i], disk_sizes[i]);
}

/* Pack every disk as one point; keep 0 is the default threshold, spill_dir
 * NULL the default directory. stream_fd >= 0 writes a new archive to it as
 * a stream. The writer's message goes to msg. */
static int pack_point(fixture *f, const char *archive, int stream_fd, size_t keep,
                      const char *spill_dir, char *msg, size_t msglen)
{
    vmrp_writer_options o = {0};
    o.block_size = BS;
    det_reset();
    vmrp_writer *w = vmrp_writer_new();
    ck_assert_ptr_nonnull(w);
    int rc = writer_set_index_spill(w, keep, spill_dir);
    if (rc == VMRP_OK)
        rc = stream_fd >= 0 ? vmrp_writer_open_stream(w, stream_fd, archive, &o)
                            : vmrp_writer_open(w, archive, &o);
    for (int i = 0; rc == VMRP_OK && i < NDISKS; i++) {
        int fd = open(f->paths[i], O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        rc = vmrp_writer_add_disk(w, disk_names[i], fd, f->paths[i]);
        close(fd);
    }
    if (rc == VMRP_OK)
        rc = vmrp_writer_commit(w);
    snprintf(msg, msglen, "%s", vmrp_writer_error_string(w));
    vmrp_writer_free(w);
    return rc;
}

static void pack_ok(fixture *f, const char *archive, size_t keep)
{
    char msg[600];
    int rc = pack_point(f, archive, -1, keep, NULL, msg, sizeof msg);
    ck_assert_msg(rc == VMRP_OK, "pack %s (keep %zu): %s", archive, keep, msg);
}

/* a and b hold the same bytes. */
static void assert_same_archive(const char *a, const char *b)
{
    size_t alen, blen;
    unsigned char *abuf = ut_read_file(a, &alen), *bbuf = ut_read_file(b, &blen);
    ck_assert_uint_eq(alen, blen);
    if (memcmp(abuf, bbuf, alen) != 0) {
        size_t i = 0;
        while (abuf[i] == bbuf[i])
            i++;
        ck_abort_msg("%s and %s differ at byte %zu", a, b, i);
    }
    free(abuf);
    free(bbuf);
}

/* Entry_Count of the last point's INDEX. */
static uint32_t last_entry_count(const char *archive)
{
    size_t len;
    unsigned char *buf = ut_read_file(archive, &len);
    commit_info c;
    const char *why = NULL;
    ck_assert_int_eq(commit_decode(buf + len - CM_RECORD_SIZE, len - CM_RECORD_SIZE, &c, &why),
                     VMRP_OK);
    uint32_t n = le32_load(buf + c.index_offset + RH_SIZE + IX_OFF_ENTRY_COUNT);
    free(buf);
    return n;
}

/* Verify the archive, and restore every disk at its last point. */
static void assert_verifies_restores(fixture *f, const char *archive, uint32_t points)
{
    vmrp_reader *r = vmrp_reader_new();
    int fd = open(archive, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    vmrp_verify_report rep;
    int rc = vmrp_reader_verify(r, fd, archive, &rep);
    ck_assert_msg(rc == VMRP_OK, "verify %s: %s", archive, vmrp_reader_error_string(r));
    ck_assert_uint_eq(rep.points, points);
    close(fd);
    vmrp_reader_free(r);

    r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), points);
    for (int i = 0; i < NDISKS; i++) {
        unsigned char *img;
        uint64_t size;
        ck_assert_int_eq(ut_read_image(r, points - 1, disk_names[i], &img, &size), VMRP_OK);
        ck_assert_uint_eq(size, disk_sizes[i]);
        ck_assert_msg(memcmp(img, f->img[i], size) == 0, "%s: disk %s restores other bytes",
                      archive, disk_names[i]);
        free(img);
    }
    vmrp_reader_free(r);
}

/* spill.c alone: entries come back in order, from the file and memory. */
typedef struct {
    uint32_t next;
    size_t calls;
} walk;

static void fill_entry(unsigned char e[12], uint32_t i)
{
    memcpy(e, &i, 4);
    memset(e + 4, (int)(i & 0xff), 8);
}

static int check_run(void *ctx, const unsigned char *entries, size_t count)
{
    walk *wk = ctx;
    wk->calls++;
    for (size_t i = 0; i < count; i++, wk->next++) {
        uint32_t v;
        memcpy(&v, entries + i * 12, 4);
        if (v != wk->next || entries[i * 12 + 11] != (v & 0xff))
            ck_abort_msg("entry %u reads back as %u", wk->next, v);
    }
    return 0;
}

static int stop_run(void *ctx, const unsigned char *entries, size_t count)
{
    (void)ctx;
    (void)entries;
    (void)count;
    return VMRP_E_IO;
}

START_TEST(test_spill_order)
{
    char *dir = ut_tmpdir();
    /* 12-byte entries, 7 in memory: runs of 7 go to the file. */
    spill *s = spill_new(12, 7, dir);
    ck_assert_ptr_nonnull(s);
    walk wk = {0, 0};
    ck_assert_int_eq(spill_each(s, check_run, &wk), 0);
    ck_assert_uint_eq(wk.calls, 0);
    unsigned char e[12] = {0};
    for (uint32_t i = 0; i < 100000; i++) {
        fill_entry(e, i);
        if (spill_append(s, e) != 0)
            ck_abort_msg("entry %u not added", i);
    }
    ck_assert_uint_eq(spill_count(s), 100000);
    ck_assert_str_eq(spill_dir(s), dir);
    ck_assert_int_eq(spill_each(s, check_run, &wk), 0);
    ck_assert_uint_eq(wk.next, 100000);
    ck_assert_uint_gt(wk.calls, 2); /* read back in several runs, then memory */
    ck_assert_int_eq(spill_each(s, stop_run, NULL), VMRP_E_IO);
    spill_free(s);

    /* Under the threshold nothing is written: a missing directory is fine. */
    s = spill_new(12, 7, "/nonexistent-vmrp-spill");
    for (uint32_t i = 0; i < 7; i++) {
        fill_entry(e, i);
        ck_assert_int_eq(spill_append(s, e), 0);
    }
    wk = (walk){0, 0};
    ck_assert_int_eq(spill_each(s, check_run, &wk), 0);
    ck_assert_uint_eq(wk.next, 7);
    /* The eighth needs the file. */
    ck_assert_int_eq(spill_append(s, e), -ENOENT);
    spill_free(s);

    /* No directory given: $TMPDIR. */
    char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    ck_assert_int_eq(setenv("TMPDIR", dir, 1), 0);
    s = spill_new(12, 1, NULL);
    ck_assert_str_eq(spill_dir(s), dir);
    for (uint32_t i = 0; i < 10; i++) {
        fill_entry(e, i);
        ck_assert_int_eq(spill_append(s, e), 0);
    }
    wk = (walk){0, 0};
    ck_assert_int_eq(spill_each(s, check_run, &wk), 0);
    ck_assert_uint_eq(wk.next, 10);
    spill_free(s);
    if (old)
        setenv("TMPDIR", old, 1);
    else
        unsetenv("TMPDIR");
    free(old);
    ut_rmtree(dir);
}
END_TEST

/* (a) and (b): the same archive with 16 entries in memory as with the
 * default, and it verifies and restores. */
START_TEST(test_spilled_index_same_archive)
{
    fixture f;
    fixture_init(&f);
    char a[4096], b[4096];
    ut_join(a, sizeof a, f.dir, "default.vmrp");
    ut_join(b, sizeof b, f.dir, "spilled.vmrp");
    pack_ok(&f, a, 0);
    pack_ok(&f, b, 16);
    assert_same_archive(a, b);
    assert_verifies_restores(&f, b, 1);

    /* Exactly a multiple of the threshold, and one entry in memory. */
    uint32_t records = last_entry_count(b);
    ck_assert_uint_gt(records, 500);
    ut_join(b, sizeof b, f.dir, "spilled-exact.vmrp");
    pack_ok(&f, b, (size_t)records);
    assert_same_archive(a, b);
    ut_join(b, sizeof b, f.dir, "spilled-one.vmrp");
    pack_ok(&f, b, 1);
    assert_same_archive(a, b);
    assert_verifies_restores(&f, b, 1);
    fixture_free(&f);
}
END_TEST

/* (c): incremental points spill too, and match the default's. */
START_TEST(test_spilled_index_incremental)
{
    fixture f;
    fixture_init(&f);
    char a[4096], b[4096];
    ut_join(a, sizeof a, f.dir, "default.vmrp");
    ut_join(b, sizeof b, f.dir, "spilled.vmrp");
    pack_ok(&f, a, 0);
    pack_ok(&f, b, 16);
    fixture_change(&f, 0, 64 * KiB, 200 * KiB, 11); /* 50 blocks */
    fixture_change(&f, 2, 200 * KiB, 12 * KiB, 12); /* into the hole */
    pack_ok(&f, a, 0);
    pack_ok(&f, b, 16);
    assert_same_archive(a, b);
    assert_verifies_restores(&f, b, 2);
    fixture_change(&f, 1, 0, 8 * KiB, 13);
    pack_ok(&f, a, 0);
    pack_ok(&f, b, 3);
    assert_same_archive(a, b);
    assert_verifies_restores(&f, b, 3);
    fixture_free(&f);
}
END_TEST

/* A stream has no directory: the file goes to $TMPDIR. */
START_TEST(test_spilled_index_stream)
{
    fixture f;
    fixture_init(&f);
    char a[4096], b[4096], msg[600];
    ut_join(a, sizeof a, f.dir, "default.vmrp");
    ut_join(b, sizeof b, f.dir, "stream.vmrp");
    pack_ok(&f, a, 0);
    int out = open(b, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(out, 0);
    int rc = pack_point(&f, b, out, 16, NULL, msg, sizeof msg);
    ck_assert_msg(rc == VMRP_OK, "stream: %s", msg);
    ck_assert_int_eq(close(out), 0);
    assert_same_archive(a, b);
    assert_verifies_restores(&f, b, 1);
    fixture_free(&f);
}
END_TEST

/* (d): the temporary file cannot be made: VMRP_E_IO naming its directory,
 * and the archive stays as its last commit left it. */
START_TEST(test_spill_failure_rolls_back)
{
    fixture f;
    fixture_init(&f);
    char a[4096], msg[600];
    const char *nowhere = "/nonexistent-vmrp-spill/tmp";
    ut_join(a, sizeof a, f.dir, "a.vmrp");
    pack_ok(&f, a, 0);
    size_t before_len;
    unsigned char *before = ut_read_file(a, &before_len);
    fixture_change(&f, 0, 0, 1024 * KiB, 21); /* 256 new blocks */
    int rc = pack_point(&f, a, -1, 16, nowhere, msg, sizeof msg);
    ck_assert_int_eq(rc, VMRP_E_IO);
    ck_assert_msg(strstr(msg, nowhere) && strstr(msg, strerror(ENOENT)) && strstr(msg, a),
                  "message: %s", msg);
    size_t after_len;
    unsigned char *after = ut_read_file(a, &after_len);
    ck_assert_uint_eq(after_len, before_len);
    ck_assert_mem_eq(after, before, before_len);
    free(after);
    free(before);
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, a), VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 1);
    vmrp_reader_free(r);

    /* Few records: no file is needed, and the point is committed. */
    fixture_change(&f, 1, 0, 8 * KiB, 22);
    vmrp_writer_options o = {0};
    vmrp_writer *w = vmrp_writer_new();
    ck_assert_int_eq(writer_set_index_spill(w, 1000, nowhere), VMRP_OK);
    ck_assert_int_eq(vmrp_writer_open(w, a, &o), VMRP_OK);
    for (int i = 0; i < NDISKS; i++) {
        int fd = open(f.paths[i], O_RDONLY | O_CLOEXEC);
        ck_assert_int_eq(vmrp_writer_add_disk(w, disk_names[i], fd, f.paths[i]), VMRP_OK);
        close(fd);
    }
    /* Too late to change once records are written. */
    ck_assert_int_eq(writer_set_index_spill(w, 16, NULL), VMRP_E_USAGE);
    ck_assert_int_eq(vmrp_writer_commit(w), VMRP_OK);
    vmrp_writer_free(w);
    assert_verifies_restores(&f, a, 2);

    /* A new archive that fails is removed. */
    char b[4096];
    ut_join(b, sizeof b, f.dir, "new.vmrp");
    rc = pack_point(&f, b, -1, 16, nowhere, msg, sizeof msg);
    ck_assert_int_eq(rc, VMRP_E_IO);
    ck_assert_int_eq(ut_file_exists(b), 0);
    fixture_free(&f);
}
END_TEST

static Suite *spill_suite(void)
{
    Suite *s = suite_create("spill");
    TCase *tc = tcase_create("spill");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_spill_order);
    tcase_add_test(tc, test_spilled_index_same_archive);
    tcase_add_test(tc, test_spilled_index_incremental);
    tcase_add_test(tc, test_spilled_index_stream);
    tcase_add_test(tc, test_spill_failure_rolls_back);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* before vmrp_init(), which initializes libsodium */
    if (randombytes_set_implementation(&det_impl) != 0)
        return 1;
    return ut_run_suite(spill_suite());
}
