/* test_writer_reader.c - writer*.c, reader.c, resolve.c through the public
 * API, in a temporary directory.
 *
 * The main scenario keeps every disk both as a file (sparse, changed in
 * place, holes punched) and as an image in memory, packs a restore point,
 * snapshots the images, and after every commit resolves every disk at
 * every point and compares it with its snapshot.
 */
#define _GNU_SOURCE
#include "unit.h"

#include <fcntl.h>
#include <sys/wait.h>

#include "vmrp_private.h"

#define KiB 1024ull
#define MiB (1024ull * 1024ull)
#define BS 65536u

/* ------------------------------------------------------------------ */
/* Disks that live both in a file and in memory.                      */

typedef struct {
    const char *name;
    char path[4096];
    unsigned char *img;
    size_t cap;
    uint64_t size;
} live_disk;

static void ld_init(live_disk *d, const char *dir, const char *name, size_t cap, uint64_t size)
{
    char leaf[64];
    memset(d, 0, sizeof *d);
    d->name = name;
    snprintf(leaf, sizeof leaf, "%s.img", name);
    ut_join(d->path, sizeof d->path, dir, leaf);
    d->img = calloc(1, cap);
    ck_assert_ptr_nonnull(d->img);
    d->cap = cap;
    d->size = size;
    int fd = open(d->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
    close(fd);
}

static void ld_free(live_disk *d)
{
    free(d->img);
    d->img = NULL;
}

static void ld_write(live_disk *d, uint64_t off, const void *data, size_t len)
{
    ck_assert_uint_le(off + len, d->size);
    memmove(d->img + off, data, len);
    int fd = open(d->path, O_WRONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ut_pwrite_all(fd, data, len, off, d->path);
    close(fd);
}

static void ld_random(live_disk *d, uint64_t off, size_t len, uint64_t seed)
{
    unsigned char *buf = malloc(len);
    ut_fill_random(buf, len, seed);
    ld_write(d, off, buf, len);
    free(buf);
}

static void ld_text(live_disk *d, uint64_t off, size_t len, uint64_t seed)
{
    unsigned char *buf = malloc(len);
    ut_fill_text(buf, len, seed);
    ld_write(d, off, buf, len);
    free(buf);
}

/* Zero a range by punching a hole (written zeros where that fails). */
static void ld_punch(live_disk *d, uint64_t off, size_t len)
{
    ck_assert_uint_le(off + len, d->size);
    memset(d->img + off, 0, len);
    int fd = open(d->path, O_WRONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) != 0) {
        void *z = calloc(1, len);
        ut_pwrite_all(fd, z, len, off, d->path);
        free(z);
    }
    close(fd);
}

/* Zero a range by writing zeros (a data extent that reads as zero). */
static void ld_zero_written(live_disk *d, uint64_t off, size_t len)
{
    void *z = calloc(1, len);
    ld_write(d, off, z, len);
    free(z);
}

static void ld_resize(live_disk *d, uint64_t size)
{
    ck_assert_uint_le(size, d->cap);
    if (size < d->size)
        memset(d->img + size, 0, d->size - size); /* truncate, then extend: zeros */
    ck_assert_int_eq(truncate(d->path, (off_t)size), 0);
    d->size = size;
}

/* n random changes in [lo, hi): new data, text, copies of other blocks,
 * holes and written zeros. */
static void ld_changes(live_disk *d, uint64_t *seed, int n, uint64_t lo, uint64_t hi)
{
    ck_assert_uint_lt(lo, hi);
    ck_assert_uint_le(hi, d->size);
    for (int i = 0; i < n; i++) {
        uint64_t off = lo + ut_below(seed, hi - lo);
        size_t len = (size_t)(1 + ut_below(seed, 3 * BS));
        if (off + len > hi)
            len = (size_t)(hi - off);
        switch (ut_below(seed, 10)) {
        case 0:
        case 1:
        case 2:
        case 3:
            ld_random(d, off, len, ut_rand(seed));
            break;
        case 4:
            ld_text(d, off, len, ut_rand(seed));
            break;
        case 5: { /* copy a block-aligned block from elsewhere: deduplicated */
            uint64_t src = (lo / BS + ut_below(seed, (hi - lo) / BS + 1)) * BS;
            uint64_t dst = (off / BS) * BS;
            if (src + BS <= d->size && dst + BS <= hi && dst >= lo) {
                unsigned char *tmp = malloc(BS);
                memcpy(tmp, d->img + src, BS);
                ld_write(d, dst, tmp, BS);
                free(tmp);
            }
            break;
        }
        case 6:
        case 7:
            ld_punch(d, off, len);
            break;
        default:
            ld_zero_written(d, off, len);
            break;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Snapshots of what every point must resolve to.                     */

typedef struct {
    const char *name;
    int excluded;
    uint64_t size;
    unsigned char *img; /* NULL when excluded */
} snap_disk;

typedef struct {
    char name[32];
    size_t n;
    snap_disk d[4];
} snap_point;

static void snap_take(snap_point *sp, const char *pname, live_disk *const *disks,
                      const int *excluded, size_t n)
{
    memset(sp, 0, sizeof *sp);
    snprintf(sp->name, sizeof sp->name, "%s", pname);
    sp->n = n;
    for (size_t i = 0; i < n; i++) {
        snap_disk *s = &sp->d[i];
        s->name = disks[i]->name;
        s->excluded = excluded[i];
        s->size = disks[i]->size;
        if (excluded[i])
            continue;
        s->img = calloc(1, s->size ? (size_t)s->size : 1);
        ck_assert_ptr_nonnull(s->img);
        /* Copy only the non-zero chunks: the images stay sparse in memory. */
        for (uint64_t off = 0; off < s->size; off += BS) {
            size_t len = s->size - off < BS ? (size_t)(s->size - off) : BS;
            if (!is_zero(disks[i]->img + off, len))
                memcpy(s->img + off, disks[i]->img + off, len);
        }
    }
}

static void snap_free(snap_point *sp)
{
    for (size_t i = 0; i < sp->n; i++)
        free(sp->d[i].img);
}

static void assert_same_image(const unsigned char *got, const unsigned char *want, uint64_t size,
                              uint32_t point, const char *disk)
{
    if (memcmp(got, want, size) == 0)
        return;
    uint64_t at = 0;
    while (at < size && got[at] == want[at])
        at++;
    ck_abort_msg("point %u, disk %s: resolved image differs from what was packed at offset %llu "
                 "(block %llu): got 0x%02x, expected 0x%02x",
                 point, disk, (unsigned long long)at, (unsigned long long)(at / BS), got[at],
                 want[at]);
}

static const vmrp_disk_info *find_disk(const vmrp_point_info *pi, const char *name)
{
    for (uint32_t d = 0; d < pi->disk_count; d++)
        if (strcmp(pi->disks[d].name, name) == 0)
            return &pi->disks[d];
    return NULL;
}

/* Every disk of every point resolves to its snapshot. */
static void check_archive(const char *archive, const snap_point *snaps, uint32_t n)
{
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_ptr_nonnull(r);
    int rc = vmrp_reader_open(r, archive);
    ck_assert_msg(rc == VMRP_OK, "open: %s", vmrp_reader_error_string(r));
    const vmrp_collection_info *ci = vmrp_reader_collection(r);
    ck_assert_uint_eq(vmrp_reader_point_count(r), n);
    ck_assert_uint_eq(ci->point_count, n);
    ck_assert_uint_eq(ci->committed_size, ci->file_size);
    ck_assert_uint_eq(ci->block_size, BS);
    for (uint32_t k = 0; k < n; k++) {
        const vmrp_point_info *pi = vmrp_reader_point(r, k);
        ck_assert_ptr_nonnull(pi);
        ck_assert_str_eq(pi->name, snaps[k].name);
        ck_assert_uint_eq(pi->sequence, k + 1);
        ck_assert_uint_eq(pi->parent_sequence, k);
        ck_assert_uint_eq(pi->disk_count, snaps[k].n);
        for (size_t j = 0; j < snaps[k].n; j++) {
            const snap_disk *s = &snaps[k].d[j];
            const vmrp_disk_info *di = find_disk(pi, s->name);
            ck_assert_msg(di != NULL, "point %u has no disk %s", k + 1, s->name);
            ck_assert_int_eq(di->excluded, s->excluded);
            ck_assert_uint_eq(di->size_bytes, s->size);
            if (s->excluded) {
                ck_assert_int_eq(vmrp_reader_read_disk(r, k, s->name, ut_image_block, NULL),
                                 VMRP_E_NOT_FOUND);
                continue;
            }
            unsigned char *img = NULL;
            uint64_t size = 0;
            rc = ut_read_image(r, k, s->name, &img, &size);
            ck_assert_msg(rc == VMRP_OK, "point %u disk %s: %s", k + 1, s->name,
                          vmrp_reader_error_string(r));
            ck_assert_uint_eq(size, s->size);
            assert_same_image(img, s->img, size, k + 1, s->name);
            free(img);
        }
        ck_assert_int_eq(vmrp_reader_read_disk(r, k, "nosuchdisk", ut_image_block, NULL),
                         VMRP_E_NOT_FOUND);
        ck_assert_ptr_nonnull(strstr(vmrp_reader_error_string(r), "nosuchdisk"));
    }
    ck_assert_ptr_null(vmrp_reader_point(r, n));
    vmrp_reader_free(r);
}

/* Pack the live disks (excluded ones by name only) as one point. */
static void pack_live(const char *archive, live_disk *const *disks, const int *excluded, size_t n,
                      const char *pname, const char *meta, vmrp_writer_stats *st)
{
    vmrp_writer *w = vmrp_writer_new();
    int rc = vmrp_writer_open(w, archive, NULL);
    ck_assert_msg(rc == VMRP_OK, "open: %s", vmrp_writer_error_string(w));
    ck_assert_int_eq(vmrp_writer_set_point(w, pname, VMRP_CONSISTENCY_APPLICATION), VMRP_OK);
    if (meta)
        ck_assert_int_eq(vmrp_writer_set_source_metadata(w, meta, strlen(meta)), VMRP_OK);
    for (size_t i = 0; i < n; i++) {
        if (excluded[i]) {
            ck_assert_int_eq(vmrp_writer_exclude_disk(w, disks[i]->name), VMRP_OK);
            continue;
        }
        int fd = open(disks[i]->path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        rc = vmrp_writer_add_disk(w, disks[i]->name, fd, disks[i]->path);
        close(fd);
        ck_assert_msg(rc == VMRP_OK, "add_disk %s: %s", disks[i]->name,
                      vmrp_writer_error_string(w));
    }
    rc = vmrp_writer_commit(w);
    ck_assert_msg(rc == VMRP_OK, "commit: %s", vmrp_writer_error_string(w));
    vmrp_writer_get_stats(w, st);
    vmrp_writer_free(w);
}

static void assert_zero_range(vmrp_reader *r, uint32_t k, const char *disk, uint64_t from,
                              uint64_t to)
{
    unsigned char *img = NULL;
    uint64_t size = 0;
    ck_assert_int_eq(ut_read_image(r, k, disk, &img, &size), VMRP_OK);
    ck_assert_uint_le(to, size);
    for (uint64_t i = from; i < to; i++)
        if (img[i])
            ck_abort_msg("point %u disk %s: byte %llu of a regrown area is not zero", k + 1, disk,
                         (unsigned long long)i);
    free(img);
}

/* The archive opens and holds exactly `points` committed points. */
static void expect_points(const char *archive, uint32_t points)
{
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), points);
    vmrp_reader_free(r);
}

START_TEST(test_points_resolve_to_what_was_packed)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "vm.vmrp");
    uint64_t seed = 2026;
    live_disk a, b, c;
    ld_init(&a, dir, "vda", (size_t)(80 * MiB), 64 * MiB);
    ld_init(&b, dir, "vdb", (size_t)(400 * KiB), 200 * KiB + 123);
    ld_init(&c, dir, "vdc", (size_t)(2 * MiB), MiB + 1);
    snap_point snaps[6];
    vmrp_writer_stats st;

    /* P1: a sparse 64 MiB disk with three data regions, and a small one. */
    ld_random(&a, 0, (size_t)MiB, 1);
    ld_text(&a, 10 * MiB + 4096, (size_t)(300 * KiB), 2);
    ld_random(&a, 63 * MiB + 12345, (size_t)(MiB - 12345), 3);
    ld_random(&b, 0, (size_t)b.size, 4);
    live_disk *d1[] = {&a, &b};
    int x1[] = {0, 0};
    pack_live(archive, d1, x1, 2, "p1", "{\"vm\":\"test\"}", &st);
    ck_assert_int_eq(st.created, 1);
    ck_assert_uint_eq(st.sequence, 1);
    ck_assert_uint_eq(st.point_count, 1);
    ck_assert_uint_gt(st.new_blocks, 0);
    /* Holes are not read: far less than 64 MiB. */
    ck_assert_uint_lt(st.bytes_read, 8 * MiB);
    snap_take(&snaps[0], "p1", d1, x1, 2);
    check_archive(archive, snaps, 1);

    /* P2: changes everywhere; vda grows to 72 MiB with data at 70 MiB. */
    ld_changes(&a, &seed, 25, 0, a.size);
    ld_changes(&b, &seed, 6, 0, b.size);
    ld_resize(&a, 72 * MiB);
    ld_random(&a, 70 * MiB, (size_t)(512 * KiB), 5);
    pack_live(archive, d1, x1, 2, "p2", NULL, &st);
    ck_assert_int_eq(st.created, 0);
    ck_assert_uint_eq(st.sequence, 2);
    ck_assert_uint_eq(st.dropped_tail, 0);
    ck_assert_uint_gt(st.changed_blocks, 0);
    snap_take(&snaps[1], "p2", d1, x1, 2);
    check_archive(archive, snaps, 2);

    /* P3: vdb shrinks to 70000 bytes (inside its second block). */
    ld_changes(&a, &seed, 25, 0, a.size);
    ld_changes(&b, &seed, 4, 0, b.size);
    ld_resize(&b, 70000);
    pack_live(archive, d1, x1, 2, "p3", NULL, &st);
    snap_take(&snaps[2], "p3", d1, x1, 2);
    check_archive(archive, snaps, 3);

    /* P4: vdb grows back past its first size; only its first 70000 bytes
     * change, so the regrown area must read as zero. */
    ld_changes(&a, &seed, 25, 0, a.size);
    ld_resize(&b, 300 * KiB + 5);
    ld_changes(&b, &seed, 4, 0, 70000);
    pack_live(archive, d1, x1, 2, "p4", NULL, &st);
    snap_take(&snaps[3], "p4", d1, x1, 2);
    check_archive(archive, snaps, 4);

    /* P5: vdb excluded; vda shrinks to 40 MiB + 1000 bytes. */
    ld_changes(&a, &seed, 25, 0, a.size);
    ld_resize(&a, 40 * MiB + 1000);
    int x5[] = {0, 1};
    pack_live(archive, d1, x5, 2, "p5", NULL, &st);
    snap_take(&snaps[4], "p5", d1, x5, 2);
    check_archive(archive, snaps, 5);

    /* P6: vdb back with changes, a new disk vdc, vda grows back to 72 MiB
     * with new data only at 60 MiB. */
    ld_changes(&a, &seed, 25, 0, a.size);
    ld_resize(&a, 72 * MiB);
    ld_random(&a, 60 * MiB, (size_t)(100 * KiB), 6);
    ld_changes(&b, &seed, 6, 0, b.size);
    ld_random(&c, 0, (size_t)(300 * KiB), 7);
    ld_text(&c, MiB - 100, 101, 8);
    live_disk *d6[] = {&a, &b, &c};
    int x6[] = {0, 0, 0};
    pack_live(archive, d6, x6, 3, "p6", NULL, &st);
    snap_take(&snaps[5], "p6", d6, x6, 3);
    check_archive(archive, snaps, 6);

    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    /* Regrown areas read as zero, whatever the older points held there. */
    assert_zero_range(r, 3, "vdb", 70000, 300 * KiB + 5);
    assert_zero_range(r, 5, "vda", 40 * MiB + 1000, 60 * MiB);
    assert_zero_range(r, 5, "vda", 60 * MiB + 100 * KiB, 72 * MiB);
    /* A disk keeps its Family_Id in every point, excluded or not; an
     * excluded disk keeps its latest size. */
    const vmrp_point_info *p1 = vmrp_reader_point(r, 0);
    for (uint32_t k = 1; k < 6; k++) {
        const vmrp_point_info *pk = vmrp_reader_point(r, k);
        ck_assert_mem_eq(find_disk(pk, "vda")->family_id, find_disk(p1, "vda")->family_id, 16);
        ck_assert_mem_eq(find_disk(pk, "vdb")->family_id, find_disk(p1, "vdb")->family_id, 16);
        ck_assert_int_eq(pk->consistency, VMRP_CONSISTENCY_APPLICATION);
        ck_assert_str_eq(pk->source_metadata, "{\"vm\":\"test\"}");
    }
    ck_assert(memcmp(find_disk(p1, "vda")->family_id, find_disk(p1, "vdb")->family_id, 16) != 0);
    ck_assert_uint_eq(find_disk(vmrp_reader_point(r, 4), "vdb")->size_bytes, 300 * KiB + 5);
    ck_assert_uint_eq(find_disk(vmrp_reader_point(r, 4), "vdb")->changed_blocks, 0);
    /* vdc is not in the older points. */
    ck_assert_int_eq(vmrp_reader_read_disk(r, 4, "vdc", ut_image_block, NULL), VMRP_E_NOT_FOUND);

    /* restore_disk, sparse and streamed, gives the same bytes. */
    char out[4096];
    ut_join(out, sizeof out, dir, "restored.img");
    for (int sparse = 0; sparse < 2; sparse++) {
        int fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(vmrp_reader_restore_disk(r, 1, "vdb", fd,
                                                  sparse ? VMRP_RESTORE_SPARSE : 0),
                         VMRP_OK);
        close(fd);
        size_t len = 0;
        unsigned char *got = ut_read_file(out, &len);
        ck_assert_uint_eq(len, snaps[1].d[1].size);
        assert_same_image(got, snaps[1].d[1].img, len, 2, "vdb (restored)");
        free(got);
    }
    int fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_eq(vmrp_reader_restore_disk(r, 5, "vda", fd, VMRP_RESTORE_SPARSE), VMRP_OK);
    close(fd);
    size_t len = 0;
    unsigned char *got = ut_read_file(out, &len);
    ck_assert_uint_eq(len, 72 * MiB);
    assert_same_image(got, snaps[5].d[0].img, len, 6, "vda (restored)");
    free(got);
    vmrp_reader_free(r);

    /* The whole archive verifies. */
    r = vmrp_reader_new();
    fd = open(archive, O_RDONLY | O_CLOEXEC);
    vmrp_verify_report rep;
    int rc = vmrp_reader_verify(r, fd, archive, &rep);
    ck_assert_msg(rc == VMRP_OK, "verify: %s", vmrp_reader_error_string(r));
    ck_assert_uint_eq(rep.points, 6);
    close(fd);
    vmrp_reader_free(r);

    for (int k = 0; k < 6; k++)
        snap_free(&snaps[k]);
    ld_free(&a);
    ld_free(&b);
    ld_free(&c);
    ut_rmtree(dir);
}
END_TEST

/* An unchanged disk adds no block; one changed block adds one. */
START_TEST(test_incremental_is_minimal)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    size_t size = 20 * BS + 77;
    unsigned char *disk = malloc(size);
    ut_fill_random(disk, size, 11);
    memset(disk + 5 * BS, 0, BS); /* one zero block */
    ut_disk d = {"vda", disk, size, 0};
    vmrp_writer_stats st;
    ck_assert_int_eq(ut_pack(dir, archive, &d, 1, NULL, &st), VMRP_OK);
    ck_assert_uint_eq(st.new_blocks, 20);
    ck_assert_uint_eq(st.changed_blocks, 20);
    ck_assert_uint_eq(st.dedup_blocks, 0);
    ck_assert_uint_eq(st.bytes_read, size - BS); /* the zero block is a hole: not read */

    ck_assert_int_eq(ut_pack(dir, archive, &d, 1, NULL, &st), VMRP_OK);
    ck_assert_uint_eq(st.changed_blocks, 0);
    ck_assert_uint_eq(st.new_blocks, 0);
    ck_assert_uint_lt(st.bytes_written, 4096);

    disk[7 * BS + 3] ^= 0xff;
    ck_assert_int_eq(ut_pack(dir, archive, &d, 1, NULL, &st), VMRP_OK);
    ck_assert_uint_eq(st.changed_blocks, 1);
    ck_assert_uint_eq(st.new_blocks, 1);

    /* A block changed back to an older content is referenced, not stored. */
    disk[7 * BS + 3] ^= 0xff;
    ck_assert_int_eq(ut_pack(dir, archive, &d, 1, NULL, &st), VMRP_OK);
    ck_assert_uint_eq(st.changed_blocks, 1);
    ck_assert_uint_eq(st.new_blocks, 0);
    ck_assert_uint_eq(st.dedup_blocks, 1);

    /* A block that becomes zero gets a zero entry and nothing stored. */
    memset(disk + 2 * BS, 0, BS);
    ck_assert_int_eq(ut_pack(dir, archive, &d, 1, NULL, &st), VMRP_OK);
    ck_assert_uint_eq(st.changed_blocks, 1);
    ck_assert_uint_eq(st.new_blocks, 0);

    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 5);
    unsigned char *img;
    uint64_t isz;
    ck_assert_int_eq(ut_read_image(r, 4, "vda", &img, &isz), VMRP_OK);
    ck_assert_uint_eq(isz, size);
    ck_assert_mem_eq(img, disk, size);
    free(img);
    ck_assert_uint_eq(vmrp_reader_point(r, 1)->disks[0].changed_blocks, 0);
    ck_assert_uint_eq(vmrp_reader_point(r, 2)->disks[0].changed_blocks, 1);
    vmrp_reader_free(r);
    free(disk);
    ut_rmtree(dir);
}
END_TEST

/* A disk that is empty, grows, becomes empty again and regrows as zeros. */
START_TEST(test_zero_size_disk)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    unsigned char data[3 * BS];
    ut_fill_random(data, sizeof data, 17);
    static const unsigned char zeros[2 * BS];
    ut_disk steps[] = {{"vda", NULL, 0, 0}, {"vda", data, sizeof data, 0},
                       {"vda", NULL, 0, 0}, {"vda", zeros, sizeof zeros, 0}};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(ut_pack(dir, archive, &steps[i], 1, NULL, NULL), VMRP_OK);
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    for (uint32_t k = 0; k < 4; k++) {
        unsigned char *img;
        uint64_t isz;
        ck_assert_int_eq(ut_read_image(r, k, "vda", &img, &isz), VMRP_OK);
        ck_assert_uint_eq(isz, steps[k].size);
        if (isz)
            ck_assert_mem_eq(img, steps[k].data, isz);
        free(img);
        vmrp_extent *x;
        size_t n;
        ck_assert_int_eq(vmrp_reader_disk_extents(r, k, "vda", &x, &n), VMRP_OK);
        ck_assert_uint_eq(n, k == 1 ? 1 : 0);
        free(x);
    }
    vmrp_reader_free(r);
    ut_rmtree(dir);
}
END_TEST

/* ------------------------------------------------------------------ */

static void pack_named(const char *dir, const char *archive, const char *name,
                       const vmrp_writer_options *opts)
{
    unsigned char data[3 * 4096];
    ut_fill_text(data, sizeof data, (uint64_t)(name ? name[0] : 0));
    ut_disk d = {"vda", data, sizeof data, 0};
    ut_point pt = {name, 0, NULL, NULL, 0, opts};
    ck_assert_int_eq(ut_pack(dir, archive, &d, 1, &pt, NULL), VMRP_OK);
}

START_TEST(test_find_point)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    pack_named(dir, archive, "alpha", NULL);
    pack_named(dir, archive, "beta", NULL);
    pack_named(dir, archive, NULL, NULL); /* default name point-3 */
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    ck_assert_str_eq(vmrp_reader_point(r, 2)->name, "point-3");
    static const struct {
        const char *spec;
        uint32_t index;
    } ok[] = {{"alpha", 0}, {"beta", 1}, {"point-3", 2}, {"1", 0},
              {"2", 1},     {"3", 2},    {"latest", 2}, {"03", 2}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint32_t idx = 99;
        ck_assert_msg(vmrp_reader_find_point(r, ok[i].spec, &idx) == VMRP_OK, "'%s' not found",
                      ok[i].spec);
        ck_assert_uint_eq(idx, ok[i].index);
    }
    static const char *missing[] = {"gamma", "4", "0", "", "Alpha", "latest2", "99999999999"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        uint32_t idx = 99;
        ck_assert_int_eq(vmrp_reader_find_point(r, missing[i], &idx), VMRP_E_NOT_FOUND);
        ck_assert_int_eq(vmrp_reader_error(r), VMRP_E_NOT_FOUND);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", missing[i]);
        ck_assert_msg(strstr(vmrp_reader_error_string(r), quoted) != NULL,
                      "message does not name '%s': %s", missing[i], vmrp_reader_error_string(r));
    }
    vmrp_reader_free(r);
    ut_rmtree(dir);
}
END_TEST

/* A deduplication table at its bound (1 MiB: 16384 Block_Ids) gives way
 * to new blocks: a later copy of a replaced block is stored again, recent
 * ones are still found, and every disk reads back exactly. */
START_TEST(test_dedup_bounded)
{
    char *dir = ut_tmpdir();
    char archive[4096], roomy[4096];
    ut_join(archive, sizeof archive, dir, "bounded.vmrp");
    ut_join(roomy, sizeof roomy, dir, "roomy.vmrp");
    const size_t bs = 4096, nblocks = 20480, ncopy = 2048, size = nblocks * bs;
    unsigned char *data = malloc(size);
    ck_assert_ptr_nonnull(data);
    ut_fill_random(data, size, 77);
    /* vdb: copies of vda's first and last 2048 blocks */
    unsigned char *copy = malloc(2 * ncopy * bs);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, data, ncopy * bs);
    memcpy(copy + ncopy * bs, data + size - ncopy * bs, ncopy * bs);
    ut_disk disks[] = {{"vda", data, size, 0}, {"vdb", copy, 2 * ncopy * bs, 0}};
    vmrp_writer_options opts = {0};
    opts.block_size = (uint32_t)bs;
    opts.dedup_memory_mib = 1;
    ut_point pt = {0};
    pt.opts = &opts;
    vmrp_writer_stats st;
    ck_assert_int_eq(ut_pack(dir, archive, disks, 2, &pt, &st), VMRP_OK);
    /* Some of vda's blocks were replaced in the table before vdb came;
     * most were not. */
    ck_assert_uint_gt(st.new_blocks, nblocks + 100);
    ck_assert_uint_ge(st.dedup_blocks, ncopy);
    ck_assert_uint_eq(st.new_blocks + st.dedup_blocks, nblocks + 2 * ncopy);
    opts.dedup_memory_mib = 0; /* the default holds them all */
    vmrp_writer_stats all;
    ck_assert_int_eq(ut_pack(dir, roomy, disks, 2, &pt, &all), VMRP_OK);
    ck_assert_uint_eq(all.new_blocks, nblocks);
    ck_assert_uint_eq(all.dedup_blocks, 2 * ncopy);
    ck_assert_uint_lt(all.bytes_written, st.bytes_written);

    vmrp_reader *r = vmrp_reader_new();
    int fd = open(archive, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    vmrp_verify_report rep;
    ck_assert_msg(vmrp_reader_verify(r, fd, archive, &rep) == VMRP_OK, "%s",
                  vmrp_reader_error_string(r));
    close(fd);
    vmrp_reader_free(r);
    r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    ut_check_image(r, 0, "vda", data, size);
    ut_check_image(r, 0, "vdb", copy, 2 * ncopy * bs);
    vmrp_reader_free(r);

    free(data);
    free(copy);
    ut_rmtree(dir);
}
END_TEST

START_TEST(test_dedup)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    const size_t nblocks = 16, size = nblocks * BS;
    unsigned char *data = malloc(size);
    ut_fill_random(data, size, 21);
    /* Two disks with the same content: the second stores nothing new. */
    ut_disk two[] = {{"vda", data, size, 0}, {"vdb", data, size, 0}};
    vmrp_writer_stats st;
    ck_assert_int_eq(ut_pack(dir, archive, two, 2, NULL, &st), VMRP_OK);
    ck_assert_uint_eq(st.new_blocks, nblocks);
    ck_assert_uint_eq(st.dedup_blocks, nblocks);
    ck_assert_uint_eq(st.changed_blocks, 2 * nblocks);
    ck_assert_uint_lt(st.bytes_written, size + size / 4);

    /* A new disk in a later point with content already stored. */
    ut_disk three[] = {{"vda", data, size, 0}, {"vdb", data, size, 0}, {"vdc", data, size, 0}};
    ck_assert_int_eq(ut_pack(dir, archive, three, 3, NULL, &st), VMRP_OK);
    ck_assert_uint_eq(st.new_blocks, 0);
    ck_assert_uint_eq(st.dedup_blocks, nblocks);
    ck_assert_uint_lt(st.bytes_written, 16 * 1024);

    /* Repeated blocks inside one disk are stored once. */
    unsigned char *rep = malloc(size);
    for (size_t i = 0; i < nblocks; i++)
        memcpy(rep + i * BS, data + (i % 2) * BS + 7, BS);
    ut_disk one[] = {{"vdd", rep, size, 0}};
    ck_assert_int_eq(ut_pack(dir, archive, one, 1, NULL, &st), VMRP_OK);
    ck_assert_uint_eq(st.new_blocks, 2);
    ck_assert_uint_eq(st.dedup_blocks, nblocks - 2);

    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    const char *names[] = {"vda", "vdb", "vdc"};
    for (int i = 0; i < 3; i++) {
        unsigned char *img;
        uint64_t isz;
        ck_assert_int_eq(ut_read_image(r, 1, names[i], &img, &isz), VMRP_OK);
        ck_assert_mem_eq(img, data, size);
        free(img);
    }
    unsigned char *img;
    uint64_t isz;
    ck_assert_int_eq(ut_read_image(r, 2, "vdd", &img, &isz), VMRP_OK);
    ck_assert_mem_eq(img, rep, size);
    free(img);
    /* The first point stored the blocks once: vdb's entry names none. */
    ck_assert_uint_gt(vmrp_reader_point(r, 0)->disks[0].stored_bytes, size / 2);
    ck_assert_uint_eq(vmrp_reader_point(r, 0)->disks[1].stored_bytes, 0);
    vmrp_reader_free(r);
    free(rep);
    free(data);
    ut_rmtree(dir);
}
END_TEST

static void add_disk_file(vmrp_writer *w, const char *dir, const char *name, size_t size,
                          uint64_t seed)
{
    char path[4096];
    ut_join(path, sizeof path, dir, "input.img");
    unsigned char *data = malloc(size);
    ut_fill_random(data, size, seed);
    ut_write_file(path, data, size);
    free(data);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_eq(vmrp_writer_add_disk(w, name, fd, path), VMRP_OK);
    close(fd);
}

START_TEST(test_free_without_commit_existing)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    pack_named(dir, archive, "first", NULL);
    size_t before_len;
    unsigned char *before = ut_read_file(archive, &before_len);

    vmrp_writer *w = vmrp_writer_new();
    ck_assert_int_eq(vmrp_writer_open(w, archive, NULL), VMRP_OK);
    ck_assert_int_eq(vmrp_writer_set_point(w, "second", 0), VMRP_OK);
    add_disk_file(w, dir, "vda", 10 * BS, 5);
    ck_assert_int_eq(vmrp_writer_add_config_file(w, "x.xml", 0644, "<x/>", 4), VMRP_OK);
    vmrp_writer_stats st;
    vmrp_writer_get_stats(w, &st);
    ck_assert_uint_gt(st.bytes_written, 10 * BS); /* it did write */
    vmrp_writer_free(w);

    size_t after_len;
    unsigned char *after = ut_read_file(archive, &after_len);
    ck_assert_uint_eq(after_len, before_len);
    ck_assert_mem_eq(after, before, before_len);
    free(after);
    free(before);
    /* The lock is gone: a new writer appends normally. */
    pack_named(dir, archive, "second", NULL);
    expect_points(archive, 2);
    ut_rmtree(dir);
}
END_TEST

START_TEST(test_free_without_commit_new)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "new.vmrp");
    vmrp_writer *w = vmrp_writer_new();
    ck_assert_int_eq(vmrp_writer_open(w, archive, NULL), VMRP_OK);
    ck_assert(ut_file_exists(archive));
    add_disk_file(w, dir, "vda", 4 * BS, 6);
    vmrp_writer_free(w);
    ck_assert_msg(!ut_file_exists(archive), "an uncommitted new archive was left behind");
    /* Freeing a writer that was never opened, and NULL, is harmless. */
    vmrp_writer_free(vmrp_writer_new());
    vmrp_writer_free(NULL);
    vmrp_reader_free(NULL);
    ut_rmtree(dir);
}
END_TEST

/* An existing empty file (an interrupted creation) is adopted as a new
 * archive; a writer freed without commit leaves it as it found it. */
START_TEST(test_free_without_commit_empty_file)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "empty.vmrp");
    ut_write_file(archive, "", 0);
    vmrp_writer *w = vmrp_writer_new();
    ck_assert_int_eq(vmrp_writer_open(w, archive, NULL), VMRP_OK);
    add_disk_file(w, dir, "vda", 2 * BS, 8);
    vmrp_writer_free(w);
    ck_assert(ut_file_exists(archive));
    size_t len;
    unsigned char *after = ut_read_file(archive, &len);
    free(after);
    /* It can still be packed into. */
    pack_named(dir, archive, "first", NULL);
    expect_points(archive, 1);
    ut_rmtree(dir);
    ck_assert_msg(len == 0, "an empty file is %zu bytes after a writer that did not commit", len);
}
END_TEST

START_TEST(test_second_writer_locked)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    pack_named(dir, archive, "first", NULL);
    size_t before_len;
    unsigned char *before = ut_read_file(archive, &before_len);

    vmrp_writer *w1 = vmrp_writer_new();
    ck_assert_int_eq(vmrp_writer_open(w1, archive, NULL), VMRP_OK);
    vmrp_writer *w2 = vmrp_writer_new();
    ck_assert_int_eq(vmrp_writer_open(w2, archive, NULL), VMRP_E_LOCKED);
    ck_assert_int_eq(vmrp_writer_error(w2), VMRP_E_LOCKED);
    ck_assert_ptr_nonnull(strstr(vmrp_writer_error_string(w2), archive));
    /* A failed writer refuses further work. */
    ck_assert_int_ne(vmrp_writer_commit(w2), VMRP_OK);
    vmrp_writer_free(w2);
    /* w1 still holds the lock and can commit. */
    add_disk_file(w1, dir, "vda", 2 * BS, 9);
    ck_assert_int_eq(vmrp_writer_commit(w1), VMRP_OK);
    vmrp_writer_free(w1);
    size_t after_len;
    unsigned char *after = ut_read_file(archive, &after_len);
    ck_assert_uint_gt(after_len, before_len);
    ck_assert_mem_eq(after, before, before_len); /* committed bytes never change */
    free(after);
    free(before);
    /* The lock is released with the writer. */
    pack_named(dir, archive, "third", NULL);
    ut_rmtree(dir);
}
END_TEST

START_TEST(test_point_limit)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    vmrp_writer_options o;
    memset(&o, 0, sizeof o);
    o.max_points = 2;
    pack_named(dir, archive, "one", &o);
    pack_named(dir, archive, "two", NULL);
    vmrp_writer *w = vmrp_writer_new();
    ck_assert_int_eq(vmrp_writer_open(w, archive, NULL), VMRP_E_LIMIT);
    ck_assert_int_eq(vmrp_writer_error(w), VMRP_E_LIMIT);
    vmrp_writer_free(w);
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_collection(r)->max_points, 2);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 2);
    vmrp_reader_free(r);
    ut_rmtree(dir);
}
END_TEST

/* A writer that fails to open an existing file must leave it exactly as
 * it was, even after vmrp_writer_free (which the API requires). */
START_TEST(test_failed_open_keeps_file)
{
    char *dir = ut_tmpdir();
    char archive[4096], other[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    ut_join(other, sizeof other, dir, "notes.txt");
    vmrp_writer_options o;
    memset(&o, 0, sizeof o);
    o.max_points = 1;
    pack_named(dir, archive, "only", &o);
    const char text[] = "this is not an archive, but it is somebody's data\n";
    ut_write_file(other, text, sizeof text - 1);
    size_t before_len;
    unsigned char *before = ut_read_file(archive, &before_len);

    struct {
        const char *path;
        uint32_t block_size;
        int want;
    } cases[] = {{archive, 0, VMRP_E_LIMIT}, {archive, 4096, VMRP_E_USAGE},
                 {other, 0, VMRP_E_NOT_ARCHIVE}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vmrp_writer_options oo;
        memset(&oo, 0, sizeof oo);
        oo.block_size = cases[i].block_size;
        vmrp_writer *w = vmrp_writer_new();
        int rc = vmrp_writer_open(w, cases[i].path, &oo);
        ck_assert_msg(rc == cases[i].want || (cases[i].block_size && rc == VMRP_E_LIMIT),
                      "case %zu: rc %d", i, rc);
        vmrp_writer_free(w);
    }
    size_t after_len;
    unsigned char *after = ut_read_file(archive, &after_len);
    ck_assert_msg(after_len == before_len,
                  "archive is %zu bytes after a refused open + free, was %zu", after_len,
                  before_len);
    ck_assert_mem_eq(after, before, before_len);
    free(after);
    after = ut_read_file(other, &after_len);
    ck_assert_msg(after_len == sizeof text - 1,
                  "a file that is not an archive is %zu bytes after a refused open + free",
                  after_len);
    ck_assert_mem_eq(after, text, sizeof text - 1);
    free(after);
    free(before);
    ut_rmtree(dir);
}
END_TEST

START_TEST(test_duplicate_point_name)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    pack_named(dir, archive, "alpha", NULL);
    pack_named(dir, archive, "point-3", NULL);
    vmrp_writer *w = vmrp_writer_new();
    ck_assert_int_eq(vmrp_writer_open(w, archive, NULL), VMRP_OK);
    ck_assert_int_eq(vmrp_writer_set_point(w, "alpha", 0), VMRP_E_EXISTS);
    ck_assert_ptr_nonnull(strstr(vmrp_writer_error_string(w), "alpha"));
    /* Not fatal: a fresh name is accepted afterwards... but the default
     * name point-3 is taken by point 2, so committing without one fails. */
    add_disk_file(w, dir, "vda", BS, 1);
    ck_assert_int_eq(vmrp_writer_commit(w), VMRP_E_EXISTS);
    ck_assert_int_eq(vmrp_writer_set_point(w, "gamma", 0), VMRP_OK);
    vmrp_writer_free(w);
    expect_points(archive, 2);
    ut_rmtree(dir);
}
END_TEST

START_TEST(test_argument_errors_are_not_fatal)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    vmrp_writer *w = vmrp_writer_new();
    ck_assert_int_eq(vmrp_writer_open(w, archive, NULL), VMRP_OK);
    ck_assert_int_eq(vmrp_writer_set_point(w, "123", 0), VMRP_E_USAGE);
    ck_assert_int_eq(vmrp_writer_set_point(w, "latest", 0), VMRP_E_USAGE);
    ck_assert_int_eq(vmrp_writer_set_point(w, "ok", 4), VMRP_E_USAGE);
    char longname[257];
    memset(longname, 'n', 256);
    longname[256] = '\0';
    ck_assert_int_eq(vmrp_writer_set_point(w, longname, 0), VMRP_E_USAGE);
    longname[255] = '\0';
    ck_assert_int_eq(vmrp_writer_set_point(w, longname, 0), VMRP_OK);
    ck_assert_int_eq(vmrp_writer_set_point(w, "good", VMRP_CONSISTENCY_FILESYSTEM), VMRP_OK);
    size_t big = (16u << 20) + 1;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    ck_assert_int_eq(vmrp_writer_set_source_metadata(w, huge, big), VMRP_E_INPUT);
    free(huge);
    ck_assert_int_eq(vmrp_writer_set_source_metadata(w, "[]", 2), VMRP_E_INPUT);
    ck_assert_int_eq(vmrp_writer_set_source_metadata(w, "{\"a\":", 5), VMRP_E_INPUT);
    ck_assert_int_eq(vmrp_writer_set_source_metadata(w, "{\"a\":1}", 7), VMRP_OK);
    ck_assert_int_eq(vmrp_writer_add_config_file(w, "../x", 0644, "x", 1), VMRP_E_INPUT);
    ck_assert_int_eq(vmrp_writer_add_config_file(w, "/etc/x", 0644, "x", 1), VMRP_E_INPUT);
    ck_assert_int_eq(vmrp_writer_add_config_file(w, "x", 010000, "x", 1), VMRP_E_INPUT);
    ck_assert_int_eq(vmrp_writer_add_config_file(w, "x", 0600, "x", 1), VMRP_OK);
    ck_assert_int_eq(vmrp_writer_add_config_file(w, "x", 0600, "y", 1), VMRP_E_EXISTS);
    char path[4096];
    ut_join(path, sizeof path, dir, "d.img");
    unsigned char data[BS];
    ut_fill_random(data, sizeof data, 3);
    ut_write_file(path, data, sizeof data);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_eq(vmrp_writer_add_disk(w, "../vda", fd, path), VMRP_E_INPUT);
    ck_assert_int_eq(vmrp_writer_add_disk(w, ".vda", fd, path), VMRP_E_INPUT);
    ck_assert_int_eq(vmrp_writer_add_disk(w, "vda", fd, path), VMRP_OK);
    ck_assert_int_eq(vmrp_writer_add_disk(w, "vda", fd, path), VMRP_E_EXISTS);
    ck_assert_int_eq(vmrp_writer_exclude_disk(w, "vda"), VMRP_E_EXISTS);
    ck_assert_int_eq(vmrp_writer_exclude_disk(w, "a/b"), VMRP_E_INPUT);
    close(fd);
    /* A directory is not a disk. */
    fd = open(dir, O_RDONLY | O_CLOEXEC);
    ck_assert_int_eq(vmrp_writer_add_disk(w, "vdz", fd, dir), VMRP_E_INPUT);
    close(fd);
    ck_assert_int_eq(vmrp_writer_exclude_disk(w, "vdx"), VMRP_OK);
    ck_assert_int_eq(vmrp_writer_commit(w), VMRP_OK);
    ck_assert_int_ne(vmrp_writer_commit(w), VMRP_OK); /* once only */
    vmrp_writer_free(w);

    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    const vmrp_point_info *pi = vmrp_reader_point(r, 0);
    ck_assert_str_eq(pi->name, "good");
    ck_assert_int_eq(pi->consistency, VMRP_CONSISTENCY_FILESYSTEM);
    ck_assert_str_eq(pi->source_metadata, "{\"a\":1}");
    ck_assert_uint_eq(pi->disk_count, 2);
    ck_assert_str_eq(pi->disks[0].name, "vda");
    ck_assert_str_eq(pi->disks[1].name, "vdx");
    ck_assert_int_eq(pi->disks[1].excluded, 1);
    ck_assert_uint_eq(pi->disks[1].size_bytes, 0);
    ck_assert_uint_eq(pi->config_file_count, 1);
    ck_assert_str_eq(pi->config_files[0].name, "x");
    ck_assert_uint_eq(pi->config_files[0].mode, 0600);
    unsigned char *img;
    uint64_t isz;
    ck_assert_int_eq(ut_read_image(r, 0, "vda", &img, &isz), VMRP_OK);
    ck_assert_mem_eq(img, data, sizeof data);
    free(img);
    vmrp_reader_free(r);
    ut_rmtree(dir);
}
END_TEST

START_TEST(test_bad_options)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    vmrp_writer_options bad[10];
    memset(bad, 0, sizeof bad);
    bad[0].block_size = 3000;
    bad[1].block_size = 8u << 20;
    bad[2].block_size = 12288;
    bad[3].max_points = 65536;
    bad[4].codec = VMRP_CODEC_NONE;
    bad[4].level = 1;
    bad[5].codec = VMRP_CODEC_ZLIB;
    bad[5].level = 10;
    bad[6].codec = 4;
    bad[7].reserved[5] = 1;
    bad[8].block_size = 2048;
    bad[9].dedup_memory_mib = 65537;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vmrp_writer *w = vmrp_writer_new();
        ck_assert_msg(vmrp_writer_open(w, archive, &bad[i]) == VMRP_E_USAGE, "options %zu", i);
        vmrp_writer_free(w);
        ck_assert_msg(!ut_file_exists(archive), "options %zu: a file was created", i);
    }
    ut_rmtree(dir);
}
END_TEST

/* Other block sizes and codecs, and a sequential (stream) writer. */
START_TEST(test_codecs_block_sizes_stream)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    size_t size = 5 * MiB + 333;
    unsigned char *data = calloc(1, size);
    ut_fill_random(data, MiB, 31);
    ut_fill_text(data + 2 * MiB, MiB, 32);
    ut_fill_random(data + 5 * MiB, 333, 33);
    ut_disk d = {"vda", data, size, 0};
    static const struct {
        uint32_t bs;
        int codec, level;
    } cfg[] = {{4096, VMRP_CODEC_ZLIB, 9}, {4u << 20, VMRP_CODEC_NONE, 0},
               {16384, VMRP_CODEC_ZSTD, 19}, {65536, VMRP_CODEC_ZLIB, 1}};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        char leaf[32];
        snprintf(leaf, sizeof leaf, "c%zu.vmrp", i);
        ut_join(archive, sizeof archive, dir, leaf);
        vmrp_writer_options o;
        memset(&o, 0, sizeof o);
        o.block_size = cfg[i].bs;
        o.codec = cfg[i].codec;
        o.level = cfg[i].level;
        ut_point pt = {NULL, 0, NULL, NULL, 0, &o};
        vmrp_writer_stats st;
        ck_assert_int_eq(ut_pack(dir, archive, &d, 1, &pt, &st), VMRP_OK);
        if (cfg[i].codec == VMRP_CODEC_NONE)
            ck_assert_uint_gt(st.bytes_written, 2 * MiB);
        else
            ck_assert_uint_lt(st.bytes_written, MiB + MiB / 2);
        vmrp_reader *r = vmrp_reader_new();
        ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
        ck_assert_uint_eq(vmrp_reader_collection(r)->block_size, cfg[i].bs);
        unsigned char *img;
        uint64_t isz;
        ck_assert_int_eq(ut_read_image(r, 0, "vda", &img, &isz), VMRP_OK);
        ck_assert_uint_eq(isz, size);
        ck_assert_mem_eq(img, data, size);
        free(img);
        vmrp_reader_free(r);
    }

    /* Stream writer: nothing is seeked; the result is a normal archive. */
    char path[4096];
    ut_join(archive, sizeof archive, dir, "stream.vmrp");
    ut_join(path, sizeof path, dir, "disk.img");
    ut_write_sparse(path, data, size);
    int out = open(archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    vmrp_writer *w = vmrp_writer_new();
    ck_assert_int_eq(vmrp_writer_open_stream(w, out, "stream", NULL), VMRP_OK);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_eq(vmrp_writer_add_disk(w, "vda", fd, path), VMRP_OK);
    close(fd);
    ck_assert_int_eq(vmrp_writer_commit(w), VMRP_OK);
    vmrp_writer_free(w);
    ck_assert_int_eq(close(out), 0); /* the library did not close it */
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    unsigned char *img;
    uint64_t isz;
    ck_assert_int_eq(ut_read_image(r, 0, "vda", &img, &isz), VMRP_OK);
    ck_assert_mem_eq(img, data, size);
    free(img);
    vmrp_reader_free(r);
    free(data);
    ut_rmtree(dir);
}
END_TEST

START_TEST(test_config_stored_once)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    size_t csize = 100 * 1024;
    unsigned char *cfg = malloc(csize);
    ut_fill_random(cfg, csize, 41);
    unsigned char disk[2 * 4096];
    ut_fill_text(disk, sizeof disk, 1);
    ut_disk d = {"vda", disk, sizeof disk, 0};
    ut_file f1 = {"nvram/VARS.fd", 0600, cfg, csize};
    ut_point pt = {"p1", 0, NULL, &f1, 1, NULL};
    vmrp_writer_stats st;
    ck_assert_int_eq(ut_pack(dir, archive, &d, 1, &pt, &st), VMRP_OK);
    ck_assert_uint_gt(st.bytes_written, csize);
    /* Same content again, under the same and under another name. */
    ut_file f2[] = {{"nvram/VARS.fd", 0600, cfg, csize}, {"backup/VARS.fd", 0400, cfg, csize}};
    ut_point pt2 = {"p2", 0, NULL, f2, 2, NULL};
    ck_assert_int_eq(ut_pack(dir, archive, &d, 1, &pt2, &st), VMRP_OK);
    ck_assert_msg(st.bytes_written < 4096, "identical config files stored again (%llu bytes)",
                  (unsigned long long)st.bytes_written);

    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    ck_assert_uint_eq(r->points[1].file_records[0], r->points[0].file_records[0]);
    ck_assert_uint_eq(r->points[1].file_records[1], r->points[0].file_records[0]);
    for (uint32_t f = 0; f < 2; f++) {
        void *data = NULL;
        size_t len = 0;
        ck_assert_int_eq(vmrp_reader_read_config_file(r, 1, f, &data, &len), VMRP_OK);
        ck_assert_uint_eq(len, csize);
        ck_assert_mem_eq(data, cfg, csize);
        free(data);
    }
    ck_assert_uint_eq(vmrp_reader_point(r, 1)->config_files[1].mode, 0400);
    vmrp_reader_free(r);
    free(cfg);
    ut_rmtree(dir);
}
END_TEST

START_TEST(test_read_config_file)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    const char xml[] = "<domain type='kvm'><name>demo</name></domain>\n";
    unsigned char bin[3000];
    ut_fill_random(bin, sizeof bin, 8);
    ut_file files[] = {{"domain.xml", 0644, xml, sizeof xml - 1},
                       {"tpm/empty", 0600, NULL, 0},
                       {"nvram/VARS.fd", 0600, bin, sizeof bin}};
    ut_point pt = {"p1", 0, "{\"name\":\"demo\"}", files, 3, NULL};
    unsigned char disk[4096];
    ut_fill_text(disk, sizeof disk, 2);
    ut_disk d = {"vda", disk, sizeof disk, 0};
    ck_assert_int_eq(ut_pack(dir, archive, &d, 1, &pt, NULL), VMRP_OK);
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    const vmrp_point_info *pi = vmrp_reader_point(r, 0);
    ck_assert_uint_eq(pi->config_file_count, 3);
    for (uint32_t i = 0; i < 3; i++) {
        ck_assert_str_eq(pi->config_files[i].name, files[i].name);
        ck_assert_uint_eq(pi->config_files[i].mode, files[i].mode);
        ck_assert_uint_eq(pi->config_files[i].size, files[i].size);
        void *data = (void *)1;
        size_t len = 99;
        ck_assert_int_eq(vmrp_reader_read_config_file(r, 0, i, &data, &len), VMRP_OK);
        ck_assert_uint_eq(len, files[i].size);
        if (files[i].size)
            ck_assert_mem_eq(data, files[i].data, len);
        else
            ck_assert_ptr_null(data);
        free(data);
    }
    void *data = NULL;
    size_t len = 0;
    ck_assert_int_eq(vmrp_reader_read_config_file(r, 0, 3, &data, &len), VMRP_E_NOT_FOUND);
    ck_assert_int_eq(vmrp_reader_read_config_file(r, 1, 0, &data, &len), VMRP_E_NOT_FOUND);
    ck_assert_str_eq(pi->source_metadata, "{\"name\":\"demo\"}");
    vmrp_reader_free(r);
    ut_rmtree(dir);
}
END_TEST

START_TEST(test_inherit_configuration)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    unsigned char disk[4096];
    ut_fill_text(disk, sizeof disk, 3);
    ut_disk d = {"vda", disk, sizeof disk, 0};
    unsigned char vars[20000];
    ut_fill_random(vars, sizeof vars, 12);
    ut_file f1[] = {{"domain.xml", 0644, "<domain/>", 9}, {"nvram/VARS.fd", 0600, vars, sizeof vars},
                    {"empty", 0644, NULL, 0}};
    ut_point p1 = {"p1", 0, "{\"vm\":1}", f1, 3, NULL};
    ck_assert_int_eq(ut_pack(dir, archive, &d, 1, &p1, NULL), VMRP_OK);
    /* p2: nothing given: metadata and files carried over, not stored. */
    ut_point p2 = {"p2", 0, NULL, NULL, 0, NULL};
    vmrp_writer_stats st;
    ck_assert_int_eq(ut_pack(dir, archive, &d, 1, &p2, &st), VMRP_OK);
    ck_assert_uint_lt(st.bytes_written, 4096);
    /* p3: new metadata only: files still carried over. */
    ut_point p3 = {"p3", 0, "{\"vm\":3}", NULL, 0, NULL};
    ck_assert_int_eq(ut_pack(dir, archive, &d, 1, &p3, NULL), VMRP_OK);
    /* p4: one config file given: only that one; metadata carried from p3. */
    ut_file f4[] = {{"domain.xml", 0640, "<domain v='4'/>", 15}};
    ut_point p4 = {"p4", 0, NULL, f4, 1, NULL};
    ck_assert_int_eq(ut_pack(dir, archive, &d, 1, &p4, NULL), VMRP_OK);

    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    static const char *metas[] = {"{\"vm\":1}", "{\"vm\":1}", "{\"vm\":3}", "{\"vm\":3}"};
    for (uint32_t k = 0; k < 4; k++) {
        const vmrp_point_info *pi = vmrp_reader_point(r, k);
        ck_assert_str_eq(pi->source_metadata, metas[k]);
        ck_assert_uint_eq(pi->source_metadata_size, strlen(metas[k]));
        const ut_file *want = k < 3 ? f1 : f4;
        uint32_t n = k < 3 ? 3 : 1;
        ck_assert_uint_eq(pi->config_file_count, n);
        for (uint32_t i = 0; i < n; i++) {
            ck_assert_str_eq(pi->config_files[i].name, want[i].name);
            ck_assert_uint_eq(pi->config_files[i].mode, want[i].mode);
            void *data = NULL;
            size_t len = 0;
            ck_assert_int_eq(vmrp_reader_read_config_file(r, k, i, &data, &len), VMRP_OK);
            ck_assert_uint_eq(len, want[i].size);
            if (len)
                ck_assert_mem_eq(data, want[i].data, len);
            free(data);
        }
    }
    vmrp_reader_free(r);
    ut_rmtree(dir);
}
END_TEST

START_TEST(test_disk_extents)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    size_t size = 16 * BS + 100;
    unsigned char *disk = calloc(1, size);
    static const int data_blocks[] = {0, 1, 2, 5, 7, 8};
    for (size_t i = 0; i < sizeof data_blocks / sizeof data_blocks[0]; i++)
        ut_fill_random(disk + (size_t)data_blocks[i] * BS, BS, (uint64_t)i + 1);
    ut_fill_random(disk + 16 * BS, 100, 50);
    disk[12 * BS + BS - 1] = 1; /* one byte makes a block non-zero */
    ut_disk d = {"vda", disk, size, 0};
    ck_assert_int_eq(ut_pack(dir, archive, &d, 1, NULL, NULL), VMRP_OK);
    memset(disk + BS, 0, BS);   /* block 1 becomes zero */
    memset(disk + 12 * BS, 0, BS);
    ut_fill_random(disk + 6 * BS, BS, 99); /* block 6 joins 5 and 7-8 */
    ck_assert_int_eq(ut_pack(dir, archive, &d, 1, NULL, NULL), VMRP_OK);

    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    vmrp_extent *x = NULL;
    size_t n = 0;
    ck_assert_int_eq(vmrp_reader_disk_extents(r, 0, "vda", &x, &n), VMRP_OK);
    const vmrp_extent want0[] = {{0, 3 * BS}, {5 * BS, BS}, {7 * BS, 2 * BS},
                                 {12 * BS, BS}, {16 * BS, 100}};
    ck_assert_uint_eq(n, 5);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(x[i].offset, want0[i].offset);
        ck_assert_uint_eq(x[i].length, want0[i].length);
    }
    free(x);
    ck_assert_int_eq(vmrp_reader_disk_extents(r, 1, "vda", &x, &n), VMRP_OK);
    const vmrp_extent want1[] = {{0, BS}, {2 * BS, BS}, {5 * BS, 4 * BS}, {16 * BS, 100}};
    ck_assert_uint_eq(n, 4);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(x[i].offset, want1[i].offset);
        ck_assert_uint_eq(x[i].length, want1[i].length);
    }
    free(x);
    x = (vmrp_extent *)1;
    ck_assert_int_eq(vmrp_reader_disk_extents(r, 1, "nope", &x, &n), VMRP_E_NOT_FOUND);
    ck_assert_ptr_null(x);
    ck_assert_uint_eq(n, 0);
    vmrp_reader_free(r);
    free(disk);
    ut_rmtree(dir);
}
END_TEST

/* A writer that dies before its commit leaves a tail: readers ignore it,
 * the next writer removes it (dropped_tail) and appends. */
START_TEST(test_interrupted_append_recovered)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    pack_named(dir, archive, "p1", NULL);
    size_t before_len;
    unsigned char *before = ut_read_file(archive, &before_len);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        vmrp_writer *w = vmrp_writer_new();
        if (vmrp_writer_open(w, archive, NULL) != VMRP_OK)
            _exit(2);
        char path[4096];
        snprintf(path, sizeof path, "%s/child.img", dir);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        unsigned char *data = malloc(8 * BS);
        ut_fill_random(data, 8 * BS, 77);
        if (fd < 0 || write(fd, data, 8 * BS) != (ssize_t)(8 * BS))
            _exit(3);
        if (vmrp_writer_add_disk(w, "vda", fd, path) != VMRP_OK)
            _exit(4);
        _exit(0); /* dies here: no commit, no free */
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (%d)", status);
    size_t torn_len;
    unsigned char *torn = ut_read_file(archive, &torn_len);
    ck_assert_uint_gt(torn_len, before_len + 8 * BS);
    ck_assert_mem_eq(torn, before, before_len);
    free(torn);

    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 1);
    ck_assert_uint_eq(vmrp_reader_collection(r)->committed_size, before_len);
    ck_assert_uint_eq(vmrp_reader_collection(r)->file_size, torn_len);
    vmrp_reader_free(r);

    unsigned char data[4 * 4096];
    ut_fill_text(data, sizeof data, 5);
    ut_disk d = {"vda", data, sizeof data, 0};
    vmrp_writer_stats st;
    ck_assert_int_eq(ut_pack(dir, archive, &d, 1, NULL, &st), VMRP_OK);
    ck_assert_uint_eq(st.dropped_tail, torn_len - before_len);
    r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 2);
    ck_assert_uint_eq(vmrp_reader_collection(r)->committed_size,
                      vmrp_reader_collection(r)->file_size);
    unsigned char *img;
    uint64_t isz;
    ck_assert_int_eq(ut_read_image(r, 1, "vda", &img, &isz), VMRP_OK);
    ck_assert_mem_eq(img, data, sizeof data);
    free(img);
    vmrp_reader_free(r);
    free(before);
    ut_rmtree(dir);
}
END_TEST

START_TEST(test_reader_errors)
{
    char *dir = ut_tmpdir();
    char path[4096];
    vmrp_reader *r = vmrp_reader_new();
    ut_join(path, sizeof path, dir, "missing.vmrp");
    ck_assert_int_eq(vmrp_reader_open(r, path), VMRP_E_NOT_FOUND);
    ut_join(path, sizeof path, dir, "empty.vmrp");
    ut_write_file(path, "", 0);
    ck_assert_int_eq(vmrp_reader_open(r, path), VMRP_E_NOT_ARCHIVE);
    ut_join(path, sizeof path, dir, "text.vmrp");
    char text[300];
    memset(text, 'a', sizeof text);
    ut_write_file(path, text, sizeof text);
    ck_assert_int_eq(vmrp_reader_open(r, path), VMRP_E_NOT_ARCHIVE);
    ck_assert_ptr_nonnull(strstr(vmrp_reader_error_string(r), path));
    /* A header alone (an interrupted creation) holds no point. */
    unsigned char hdr[FH_SIZE];
    unsigned char id[ID_SIZE] = {1};
    header_encode(hdr, id, 65536, 200, 0);
    ut_join(path, sizeof path, dir, "header.vmrp");
    ut_write_file(path, hdr, sizeof hdr);
    ck_assert_int_eq(vmrp_reader_open(r, path), VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 0);
    uint32_t idx;
    ck_assert_int_eq(vmrp_reader_find_point(r, "latest", &idx), VMRP_E_NOT_FOUND);
    ck_assert_int_eq(vmrp_reader_read_disk(r, 0, "vda", ut_image_block, NULL), VMRP_E_NOT_FOUND);
    vmrp_reader_free(r);
    ut_rmtree(dir);
}
END_TEST

/* A disk excluded in its first point keeps that Family_Id when it is
 * included later, and resolves to what was read then. */
START_TEST(test_excluded_first_then_added)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    unsigned char a[2 * 4096], b[3 * 4096];
    ut_fill_text(a, sizeof a, 1);
    ut_fill_random(b, sizeof b, 2);
    ut_disk p1[] = {{"vda", a, sizeof a, 0}, {"vdb", NULL, 0, 1}};
    ck_assert_int_eq(ut_pack(dir, archive, p1, 2, NULL, NULL), VMRP_OK);
    ut_disk p2[] = {{"vda", a, sizeof a, 0}, {"vdb", b, sizeof b, 0}};
    ck_assert_int_eq(ut_pack(dir, archive, p2, 2, NULL, NULL), VMRP_OK);
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    const vmrp_disk_info *x = find_disk(vmrp_reader_point(r, 0), "vdb");
    const vmrp_disk_info *y = find_disk(vmrp_reader_point(r, 1), "vdb");
    ck_assert_int_eq(x->excluded, 1);
    ck_assert_uint_eq(x->size_bytes, 0);
    ck_assert_int_eq(y->excluded, 0);
    ck_assert_mem_eq(x->family_id, y->family_id, 16);
    ck_assert_int_eq(vmrp_reader_read_disk(r, 0, "vdb", ut_image_block, NULL), VMRP_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(vmrp_reader_error_string(r), "excluded"));
    unsigned char *img;
    uint64_t isz;
    ck_assert_int_eq(ut_read_image(r, 1, "vdb", &img, &isz), VMRP_OK);
    ck_assert_uint_eq(isz, sizeof b);
    ck_assert_mem_eq(img, b, sizeof b);
    free(img);
    vmrp_reader_free(r);
    ut_rmtree(dir);
}
END_TEST

/* Readers opened while a writer appends see only committed points. */
START_TEST(test_reader_during_append)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    pack_named(dir, archive, "p1", NULL);
    size_t committed;
    unsigned char *tmp = ut_read_file(archive, &committed);
    free(tmp);
    vmrp_writer *w = vmrp_writer_new();
    ck_assert_int_eq(vmrp_writer_open(w, archive, NULL), VMRP_OK);
    ck_assert_int_eq(vmrp_writer_set_point(w, "p2", 0), VMRP_OK);
    add_disk_file(w, dir, "vda", 6 * BS, 3);
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 1);
    ck_assert_uint_eq(vmrp_reader_collection(r)->committed_size, committed);
    ck_assert_uint_gt(vmrp_reader_collection(r)->file_size, committed);
    vmrp_reader_free(r);
    ck_assert_int_eq(vmrp_writer_commit(w), VMRP_OK);
    r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 2);
    ck_assert_str_eq(vmrp_reader_point(r, 1)->name, "p2");
    vmrp_reader_free(r);
    vmrp_writer_free(w);
    ut_rmtree(dir);
}
END_TEST

typedef struct {
    uint64_t calls, last_done, last_total;
    int decreasing;
} progress_log;

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    progress_log *p = ctx;
    if (done < p->last_done)
        p->decreasing = 1;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
}

/* Restore decodes one batch (256 blocks of 64 KiB) while it writes the one
 * before: a damaged block is named by its number, every earlier batch has
 * reached the sink and no later one has, and of two damaged blocks the
 * earlier is named. */
START_TEST(test_restore_reports_damage_in_order)
{
    char *dir = ut_tmpdir();
    char archive[4096], work[4096];
    ut_join(archive, sizeof archive, dir, "ordered.vmrp");
    ut_join(work, sizeof work, dir, "damaged.vmrp");
    const size_t size = 700 * (size_t)BS; /* blocks 0..699: three batches */
    unsigned char *data = malloc(size);
    ut_fill_random(data, size, 77);
    ut_disk d[] = {{"d", data, size, 0}};
    ck_assert_int_eq(ut_pack(dir, archive, d, 1, NULL, NULL), VMRP_OK);
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_OK);
    map_entry *v = NULL;
    size_t n = 0;
    ck_assert_int_eq(reader_resolve_disk(r, 0, "d", &v, &n), VMRP_OK);
    ck_assert_uint_eq(n, 700);
    vmrp_reader_free(r);
    const uint64_t at300 = v[300].record + RH_SIZE + 1000, at600 = v[600].record + RH_SIZE + 1000;
    free(v);
    static const struct {
        int flip300, flip600;
        const char *named;
        uint64_t sunk; /* blocks given to the sink before the error */
    } cases[] = {{0, 1, "block 600 of disk d,", 512}, {1, 0, "block 300 of disk d,", 256},
                 {1, 1, "block 300 of disk d,", 256}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t len = 0;
        unsigned char *bytes = ut_read_file(archive, &len);
        ut_write_file(work, bytes, len);
        free(bytes);
        if (cases[c].flip300)
            ut_flip_byte(work, at300);
        if (cases[c].flip600)
            ut_flip_byte(work, at600);
        r = vmrp_reader_new();
        ck_assert_int_eq(vmrp_reader_open(r, work), VMRP_OK);
        ut_image_sink sink = {calloc(1, size), size, BS, 0, 0};
        int rc = vmrp_reader_read_disk(r, 0, "d", ut_image_block, &sink);
        ck_assert_int_eq(rc, VMRP_E_CORRUPT);
        ck_assert_msg(strstr(vmrp_reader_error_string(r), cases[c].named) != NULL,
                      "case %zu: %s", c, vmrp_reader_error_string(r));
        ck_assert_uint_eq(sink.next, cases[c].sunk * BS);
        ck_assert_int_eq(memcmp(sink.img, data, (size_t)sink.next), 0);
        free(sink.img);
        vmrp_reader_free(r);
    }
    free(data);
    ut_rmtree(dir);
}
END_TEST

START_TEST(test_progress_and_reopen)
{
    char *dir = ut_tmpdir();
    char a1[4096], a2[4096], path[4096];
    ut_join(a1, sizeof a1, dir, "one.vmrp");
    ut_join(a2, sizeof a2, dir, "two.vmrp");
    ut_join(path, sizeof path, dir, "disk.img");
    unsigned char data[10 * 4096];
    ut_fill_random(data, sizeof data, 4);
    ut_write_file(path, data, sizeof data);
    progress_log wp = {0, 0, 0, 0};
    vmrp_writer *w = vmrp_writer_new();
    vmrp_writer_set_progress(w, on_progress, &wp);
    vmrp_writer_set_progress_total(w, sizeof data);
    ck_assert_int_eq(vmrp_writer_open(w, a1, NULL), VMRP_OK);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_eq(vmrp_writer_add_disk(w, "vda", fd, path), VMRP_OK);
    close(fd);
    ck_assert_int_eq(vmrp_writer_commit(w), VMRP_OK);
    vmrp_writer_free(w);
    ck_assert_uint_gt(wp.calls, 0);
    ck_assert_int_eq(wp.decreasing, 0);
    ck_assert_uint_eq(wp.last_done, sizeof data);
    ck_assert_uint_eq(wp.last_total, sizeof data);
    pack_named(dir, a2, "other", NULL);

    /* One reader, opened on one archive then another; open_fd keeps the fd. */
    vmrp_reader *r = vmrp_reader_new();
    progress_log rp = {0, 0, 0, 0};
    vmrp_reader_set_progress(r, on_progress, &rp);
    ck_assert_int_eq(vmrp_reader_open(r, a1), VMRP_OK);
    ck_assert_str_eq(vmrp_reader_point(r, 0)->name, "point-1");
    unsigned char *img;
    uint64_t isz;
    ck_assert_int_eq(ut_read_image(r, 0, "vda", &img, &isz), VMRP_OK);
    ck_assert_mem_eq(img, data, sizeof data);
    free(img);
    ck_assert_uint_gt(rp.calls, 0);
    ck_assert_int_eq(rp.decreasing, 0);
    fd = open(a2, O_RDONLY | O_CLOEXEC);
    ck_assert_int_eq(vmrp_reader_open_fd(r, fd, "second"), VMRP_OK);
    ck_assert_str_eq(vmrp_reader_point(r, 0)->name, "other");
    ck_assert_uint_eq(vmrp_reader_point_count(r), 1);
    vmrp_reader_free(r);
    ck_assert_int_ne(fcntl(fd, F_GETFD), -1); /* still open */
    ck_assert_int_eq(close(fd), 0);
    ut_rmtree(dir);
}
END_TEST

static Suite *writer_reader_suite(void)
{
    Suite *s = suite_create("writer_reader");
    TCase *tc = tcase_create("scenario");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_points_resolve_to_what_was_packed);
    tcase_add_test(tc, test_incremental_is_minimal);
    tcase_add_test(tc, test_zero_size_disk);
    tcase_add_test(tc, test_codecs_block_sizes_stream);
    suite_add_tcase(s, tc);
    tc = tcase_create("api");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_find_point);
    tcase_add_test(tc, test_dedup);
    tcase_add_test(tc, test_dedup_bounded);
    tcase_add_test(tc, test_free_without_commit_existing);
    tcase_add_test(tc, test_free_without_commit_new);
    tcase_add_test(tc, test_free_without_commit_empty_file);
    tcase_add_test(tc, test_second_writer_locked);
    tcase_add_test(tc, test_point_limit);
    tcase_add_test(tc, test_failed_open_keeps_file);
    tcase_add_test(tc, test_duplicate_point_name);
    tcase_add_test(tc, test_argument_errors_are_not_fatal);
    tcase_add_test(tc, test_bad_options);
    tcase_add_test(tc, test_config_stored_once);
    tcase_add_test(tc, test_read_config_file);
    tcase_add_test(tc, test_inherit_configuration);
    tcase_add_test(tc, test_disk_extents);
    tcase_add_test(tc, test_interrupted_append_recovered);
    tcase_add_test(tc, test_reader_errors);
    tcase_add_test(tc, test_excluded_first_then_added);
    tcase_add_test(tc, test_reader_during_append);
    tcase_add_test(tc, test_progress_and_reopen);
    tcase_add_test(tc, test_restore_reports_damage_in_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(writer_reader_suite());
}
