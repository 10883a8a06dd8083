/* test_verify.c - verify.c (and the reader) against damaged archives.
 *
 * A small archive is packed, checked, then damaged: one byte flipped at a
 * time, cut short, given a tail. The verifier must report every change;
 * the reader must either refuse or return exactly the original data.
 */
#define _GNU_SOURCE
#include "unit.h"

#include <malloc.h>
#include <sys/wait.h>

#include "unit_verify.h"

/* ------------------------------------------------------------------ */
/* Building the archives.                                             */

typedef struct {
    char *dir;
    char path[4096];
    unsigned char *bytes; /* the archive as packed */
    size_t len;
    uint32_t points;
    uint64_t blocks_stored; /* sum of the writers' new_blocks */
    uint64_t commit_end[8]; /* end offset of each commit */
} fixture;

static void pack_point(fixture *fx, const ut_disk *disks, size_t n, const ut_point *pt)
{
    vmrp_writer_stats st;
    ck_assert_int_eq(ut_pack(fx->dir, fx->path, disks, n, pt, &st), VMRP_OK);
    fx->blocks_stored += st.new_blocks;
    fx->points++;
}

static void finish(fixture *fx)
{
    fx->bytes = ut_read_file(fx->path, &fx->len);
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, fx->path), VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), fx->points);
    for (uint32_t k = 0; k < fx->points; k++)
        fx->commit_end[k] = vmrp_reader_point(r, k)->commit_offset + CM_RECORD_SIZE;
    ck_assert_uint_eq(fx->commit_end[fx->points - 1], fx->len);
    vmrp_reader_free(r);
}

/* Three points, 4 KiB blocks, every record type, small enough that every
 * byte can be flipped. */
static void build_tiny(fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    fx->dir = ut_tmpdir();
    ut_join(fx->path, sizeof fx->path, fx->dir, "tiny.vmrp");
    unsigned char a[8192] = {0}, b[5000];
    vmrp_writer_options o;
    memset(&o, 0, sizeof o);
    o.block_size = 4096;
    o.codec = VMRP_CODEC_ZSTD;
    o.max_points = 10;
    ut_fill_text(a, 4096, 1);
    ut_fill_text(b, sizeof b, 2);
    ut_file f = {"cfg/x.xml", 0644, "<x>ten</x>", 10};
    ut_disk d[] = {{"a", a, sizeof a, 0}, {"b", b, sizeof b, 0}};
    ut_point p1 = {"p1", 0, "{\"v\":1}", &f, 1, &o};
    pack_point(fx, d, 2, &p1);
    ut_fill_text(a + 4096, 4096, 3);
    ut_point p2 = {"p2", 0, NULL, NULL, 0, NULL};
    pack_point(fx, d, 2, &p2);
    memset(a, 0, 4096);
    b[4999] ^= 0x55;
    ut_point p3 = {"p3", 0, NULL, NULL, 0, NULL};
    pack_point(fx, d, 2, &p3);
    finish(fx);
}

/* Three points of a few hundred KiB: incompressible and compressible
 * blocks, several maps, a dedup reference, an excluded disk. */
static void build_medium(fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    fx->dir = ut_tmpdir();
    ut_join(fx->path, sizeof fx->path, fx->dir, "medium.vmrp");
    size_t asz = 256 * 1024 + 100, bsz = 64 * 1024;
    unsigned char *a = calloc(1, asz), *b = calloc(1, bsz);
    ut_fill_random(a, 64 * 1024, 10);
    ut_fill_text(a + 128 * 1024, 100 * 1024, 11);
    ut_fill_random(a + 256 * 1024, 100, 12);
    memcpy(b, a, 8192); /* deduplicated */
    ut_fill_text(b + 32768, 4096, 13);
    vmrp_writer_options o;
    memset(&o, 0, sizeof o);
    o.block_size = 4096;
    o.codec = VMRP_CODEC_ZSTD;
    ut_file f = {"domain.xml", 0644, "<domain><name>m</name></domain>", 31};
    ut_disk d[] = {{"a", a, asz, 0}, {"b", b, bsz, 0}};
    ut_point p1 = {"m1", VMRP_CONSISTENCY_FILESYSTEM, "{\"vm\":\"medium\"}", &f, 1, &o};
    pack_point(fx, d, 2, &p1);
    uint64_t s = 5;
    for (int i = 0; i < 12; i++)
        ut_fill_random(a + ut_below(&s, asz - 300), 300, ut_rand(&s));
    memset(a + 8192, 0, 8192);
    ut_disk d2[] = {{"a", a, asz, 0}, {"b", NULL, 0, 1}};
    ut_point p2 = {"m2", 0, NULL, NULL, 0, NULL};
    pack_point(fx, d2, 2, &p2);
    ut_fill_text(b, 4096, 14);
    ut_point p3 = {"m3", 0, NULL, NULL, 0, NULL};
    pack_point(fx, d, 2, &p3);
    free(a);
    free(b);
    finish(fx);
}

static void fixture_free(fixture *fx)
{
    free(fx->bytes);
    ut_rmtree(fx->dir);
}

/* ------------------------------------------------------------------ */
/* What the original archive holds, for comparison.                   */

typedef struct {
    char name[64];
    int excluded;
    uint64_t size;
    unsigned char *img;
} exp_disk;

typedef struct {
    char name[64];
    int consistency;
    char meta[256];
    uint32_t ndisks;
    exp_disk disks[4];
    uint32_t nfiles;
    size_t file_size[4];
    unsigned char *file[4];
} exp_point;

typedef struct {
    uint32_t n;
    exp_point p[8];
    unsigned char head_hash[32];
} expected;

static void capture(const fixture *fx, expected *e)
{
    memset(e, 0, sizeof *e);
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, fx->path), VMRP_OK);
    e->n = vmrp_reader_point_count(r);
    memcpy(e->head_hash, vmrp_reader_collection(r)->head_hash, 32);
    for (uint32_t k = 0; k < e->n; k++) {
        const vmrp_point_info *pi = vmrp_reader_point(r, k);
        exp_point *ep = &e->p[k];
        snprintf(ep->name, sizeof ep->name, "%s", pi->name);
        snprintf(ep->meta, sizeof ep->meta, "%s", pi->source_metadata);
        ep->consistency = pi->consistency;
        ep->ndisks = pi->disk_count;
        for (uint32_t d = 0; d < pi->disk_count; d++) {
            exp_disk *ed = &ep->disks[d];
            snprintf(ed->name, sizeof ed->name, "%s", pi->disks[d].name);
            ed->excluded = pi->disks[d].excluded;
            ed->size = pi->disks[d].size_bytes;
            if (!ed->excluded) {
                uint64_t sz;
                ck_assert_int_eq(ut_read_image(r, k, ed->name, &ed->img, &sz), VMRP_OK);
            }
        }
        ep->nfiles = pi->config_file_count;
        for (uint32_t f = 0; f < ep->nfiles; f++) {
            void *data;
            ck_assert_int_eq(vmrp_reader_read_config_file(r, k, f, &data, &ep->file_size[f]),
                             VMRP_OK);
            ep->file[f] = data;
        }
    }
    vmrp_reader_free(r);
}

static void expected_free(expected *e)
{
    for (uint32_t k = 0; k < e->n; k++) {
        for (uint32_t d = 0; d < e->p[k].ndisks; d++)
            free(e->p[k].disks[d].img);
        for (uint32_t f = 0; f < e->p[k].nfiles; f++)
            free(e->p[k].file[f]);
    }
}

enum { READ_SAME, READ_REFUSED, READ_WRONG };

/* Open path and read everything. READ_WRONG when anything that was
 * returned without an error differs from the original. */
static int read_back(const char *path, const expected *e, uint32_t *points, char *why,
                     size_t whylen)
{
    vmrp_reader *r = vmrp_reader_new();
    int result = READ_SAME;
    *points = 0;
    if (vmrp_reader_open(r, path) != VMRP_OK) {
        vmrp_reader_free(r);
        return READ_REFUSED;
    }
    uint32_t n = vmrp_reader_point_count(r);
    *points = n;
    if (n > e->n) {
        snprintf(why, whylen, "%u points, the original has %u", n, e->n);
        vmrp_reader_free(r);
        return READ_WRONG;
    }
    for (uint32_t k = 0; k < n && result != READ_WRONG; k++) {
        const vmrp_point_info *pi = vmrp_reader_point(r, k);
        const exp_point *ep = &e->p[k];
        if (strcmp(pi->name, ep->name) != 0 || strcmp(pi->source_metadata, ep->meta) != 0 ||
            pi->consistency != ep->consistency || pi->disk_count != ep->ndisks ||
            pi->config_file_count != ep->nfiles) {
            snprintf(why, whylen, "point %u metadata differs", k + 1);
            result = READ_WRONG;
            break;
        }
        for (uint32_t d = 0; d < ep->ndisks && result != READ_WRONG; d++) {
            const exp_disk *ed = &ep->disks[d];
            if (strcmp(pi->disks[d].name, ed->name) != 0 || pi->disks[d].size_bytes != ed->size ||
                pi->disks[d].excluded != ed->excluded) {
                snprintf(why, whylen, "point %u disk %u description differs", k + 1, d);
                result = READ_WRONG;
                break;
            }
            if (ed->excluded)
                continue;
            unsigned char *img = NULL;
            uint64_t sz = 0;
            if (ut_read_image(r, k, ed->name, &img, &sz) != VMRP_OK) {
                result = READ_REFUSED;
                continue;
            }
            if (sz != ed->size || memcmp(img, ed->img, sz) != 0) {
                snprintf(why, whylen, "point %u disk %s: wrong data returned without error",
                         k + 1, ed->name);
                result = READ_WRONG;
            }
            free(img);
        }
        for (uint32_t f = 0; f < ep->nfiles && result != READ_WRONG; f++) {
            void *data = NULL;
            size_t len = 0;
            if (vmrp_reader_read_config_file(r, k, f, &data, &len) != VMRP_OK) {
                result = READ_REFUSED;
                continue;
            }
            if (len != ep->file_size[f] || (len && memcmp(data, ep->file[f], len) != 0)) {
                snprintf(why, whylen, "point %u config file %u: wrong content", k + 1, f);
                result = READ_WRONG;
            }
            free(data);
        }
    }
    vmrp_reader_free(r);
    return result;
}

static int verify_path(const char *path, vmrp_verify_report *rep, char *msg, size_t msglen)
{
    return ut_verify_file(path, 0, NULL, rep, msg, msglen);
}

/* ------------------------------------------------------------------ */

static void check_clean(const fixture *fx)
{
    vmrp_verify_report rep;
    char msg[600];
    int rc = verify_path(fx->path, &rep, msg, sizeof msg);
    ck_assert_msg(rc == VMRP_OK, "clean archive: %s", msg);
    ck_assert_uint_eq(rep.points, fx->points);
    ck_assert_uint_eq(rep.blocks, fx->blocks_stored);
    ck_assert_uint_eq(rep.bytes, fx->len);
    ck_assert_uint_eq(rep.committed_size, fx->len);
    ck_assert_uint_eq(rep.torn_bytes, 0);
    ck_assert_uint_gt(rep.records, 4 * fx->points);
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, fx->path), VMRP_OK);
    ck_assert_mem_eq(rep.head_hash, vmrp_reader_collection(r)->head_hash, 32);
    vmrp_reader_free(r);
}

START_TEST(test_clean_archives_verify)
{
    fixture fx;
    build_tiny(&fx);
    ck_assert_uint_eq(fx.points, 3);
    check_clean(&fx);
    fixture_free(&fx);
    build_medium(&fx);
    check_clean(&fx);
    fixture_free(&fx);
}
END_TEST

/* Verification of a pipe gives the same report as of the file. */
START_TEST(test_verify_pipe)
{
    fixture fx;
    build_medium(&fx);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        size_t done = 0;
        while (done < fx.len) {
            size_t chunk = fx.len - done < 1000 ? fx.len - done : 1000; /* small writes */
            ssize_t n = write(p[1], fx.bytes + done, chunk);
            if (n <= 0)
                _exit(1);
            done += (size_t)n;
        }
        _exit(0);
    }
    close(p[1]);
    vmrp_reader *r = vmrp_reader_new();
    vmrp_verify_report a, b;
    int rc = vmrp_reader_verify(r, p[0], "pipe", &a);
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(rc == VMRP_OK, "pipe: %s", vmrp_reader_error_string(r));
    vmrp_reader_free(r);
    ck_assert_int_eq(verify_path(fx.path, &b, NULL, 0), VMRP_OK);
    ck_assert_uint_eq(a.points, b.points);
    ck_assert_uint_eq(a.records, b.records);
    ck_assert_uint_eq(a.blocks, b.blocks);
    ck_assert_uint_eq(a.bytes, b.bytes);
    ck_assert_mem_eq(a.head_hash, b.head_hash, 32);
    fixture_free(&fx);
}
END_TEST

typedef struct {
    size_t flips, verify_refused, head_hash_only, undetected, reader_refused, reader_fewer,
        reader_same, reader_wrong;
    size_t first_undetected, first_wrong;
    char wrong_why[200];
} flip_stats;

static void flip_one(const fixture *fx, const char *work, int fd, const expected *e, size_t off,
                     flip_stats *st)
{
    unsigned char orig = fx->bytes[off];
    unsigned char bad = (unsigned char)(orig ^ (1u << (off % 8)));
    ut_pwrite_all(fd, &bad, 1, off, work);
    st->flips++;

    vmrp_verify_report rep;
    int rc = verify_path(work, &rep, NULL, 0);
    if (rc != VMRP_OK) {
        st->verify_refused++;
        ck_assert_msg(rep.error_offset <= fx->len, "error offset %llu beyond the file",
                      (unsigned long long)rep.error_offset);
    } else if (memcmp(rep.head_hash, e->head_hash, 32) != 0) {
        /* Only the head commit is not covered by anything after it: a
         * change to its Time_Committed shows only in the head hash. */
        st->head_hash_only++;
        size_t t = fx->len - CM_RECORD_SIZE + RH_SIZE + CM_OFF_TIME;
        ck_assert_msg(off >= t && off < t + 8,
                      "flip at %zu accepted by verify with only a different head hash", off);
    } else {
        if (!st->undetected)
            st->first_undetected = off;
        st->undetected++;
    }

    uint32_t points = 0;
    char why[200] = "";
    switch (read_back(work, e, &points, why, sizeof why)) {
    case READ_REFUSED:
        st->reader_refused++;
        break;
    case READ_WRONG:
        if (!st->reader_wrong) {
            st->first_wrong = off;
            snprintf(st->wrong_why, sizeof st->wrong_why, "%s", why);
        }
        st->reader_wrong++;
        break;
    default:
        if (points < e->n)
            st->reader_fewer++;
        else
            st->reader_same++;
    }
    ut_pwrite_all(fd, &orig, 1, off, work);
}

static void flip_offsets(const fixture *fx, const size_t *offs, size_t n, const char *label)
{
    expected e;
    capture(fx, &e);
    char work[4096];
    ut_join(work, sizeof work, fx->dir, "work.vmrp");
    ut_write_file(work, fx->bytes, fx->len);
    int fd = open(work, O_WRONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    flip_stats st;
    memset(&st, 0, sizeof st);
    for (size_t i = 0; i < n; i++)
        flip_one(fx, work, fd, &e, offs[i], &st);
    close(fd);
    printf("%s: %zu-byte archive, %zu flips: verify refused %zu, head hash only %zu, "
           "undetected %zu; reader refused %zu, fell back to fewer points %zu, "
           "same data %zu, wrong data %zu\n",
           label, fx->len, st.flips, st.verify_refused, st.head_hash_only, st.undetected,
           st.reader_refused, st.reader_fewer, st.reader_same, st.reader_wrong);
    fflush(stdout);
    ck_assert_msg(st.undetected == 0, "%s: %zu flips not detected by verify (first at offset %zu)",
                  label, st.undetected, st.first_undetected);
    ck_assert_msg(st.reader_wrong == 0,
                  "%s: the reader returned wrong data for %zu flips (first at offset %zu: %s)",
                  label, st.reader_wrong, st.first_wrong, st.wrong_why);
    expected_free(&e);
}

START_TEST(test_flip_every_byte_tiny)
{
    fixture fx;
    build_tiny(&fx);
    ck_assert_msg(fx.len < 4096, "tiny archive is %zu bytes", fx.len);
    size_t *offs = malloc(fx.len * sizeof *offs);
    for (size_t i = 0; i < fx.len; i++)
        offs[i] = i;
    flip_offsets(&fx, offs, fx.len, "tiny");
    free(offs);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_flip_spread_medium)
{
    fixture fx;
    build_medium(&fx);
    ck_assert_uint_gt(fx.len, 4096);
    /* ~200 evenly spread offsets, plus every byte of the head commit. */
    size_t n = 0, offs[200 + CM_RECORD_SIZE];
    for (size_t i = 0; i < 200; i++)
        offs[n++] = i * (fx.len - 1) / 199;
    for (size_t i = 0; i < CM_RECORD_SIZE; i++)
        offs[n++] = fx.len - CM_RECORD_SIZE + i;
    flip_offsets(&fx, offs, n, "medium");
    fixture_free(&fx);
}
END_TEST

/* Every 97th length: verify refuses (unless the cut falls exactly at the
 * end of a commit: a shorter valid archive), the reader finds the last
 * complete commit and returns the original data of those points. */
START_TEST(test_truncation)
{
    fixture fx;
    build_medium(&fx);
    expected e;
    capture(&fx, &e);
    char work[4096];
    ut_join(work, sizeof work, fx.dir, "cut.vmrp");
    size_t cuts = 0, refused = 0, valid_prefix = 0;
    for (size_t cut = 0; cut < fx.len; cut += 97) {
        ut_write_file(work, fx.bytes, cut);
        uint32_t complete = 0;
        while (complete < fx.points && fx.commit_end[complete] <= cut)
            complete++;
        vmrp_verify_report rep;
        char msg[600];
        int rc = verify_path(work, &rep, msg, sizeof msg);
        cuts++;
        if (complete > 0 && fx.commit_end[complete - 1] == cut) {
            ck_assert_msg(rc == VMRP_OK, "cut at commit end %zu: %s", cut, msg);
            ck_assert_uint_eq(rep.points, complete);
            valid_prefix++;
        } else if (cut < FH_SIZE) {
            ck_assert_msg(rc == VMRP_E_NOT_ARCHIVE, "cut at %zu: rc %d", cut, rc);
            refused++;
        } else {
            ck_assert_msg(rc == VMRP_E_TORN || rc == VMRP_E_CORRUPT, "cut at %zu: rc %d (%s)", cut,
                          rc, msg);
            ck_assert_uint_eq(rep.points, complete);
            refused++;
        }
        uint32_t points = 0;
        char why[200] = "";
        int rb = read_back(work, &e, &points, why, sizeof why);
        if (cut < FH_SIZE) {
            ck_assert_int_eq(rb, READ_REFUSED);
        } else {
            ck_assert_msg(rb == READ_SAME, "cut at %zu: reader result %d (%s)", cut, rb, why);
            ck_assert_msg(points == complete, "cut at %zu: reader found %u points, expected %u",
                          cut, points, complete);
        }
    }
    printf("truncation: %zu cuts of a %zu-byte archive: %zu refused, %zu at a commit end\n", cuts,
           fx.len, refused, valid_prefix);
    expected_free(&e);
    fixture_free(&fx);
}
END_TEST

/* Append `tail` to a copy; the verifier must say TORN with the right
 * count; the reader opens the committed part. Returns "" or what is wrong
 * (the caller cleans up before it asserts). */
static const char *check_tail(const fixture *fx, const expected *e, const unsigned char *tail,
                              size_t n, const char *label, char *out, size_t outlen)
{
    char work[4096];
    ut_join(work, sizeof work, fx->dir, "tail.vmrp");
    unsigned char *buf = malloc(fx->len + n);
    memcpy(buf, fx->bytes, fx->len);
    memcpy(buf + fx->len, tail, n);
    ut_write_file(work, buf, fx->len + n);
    free(buf);
    out[0] = '\0';

    vmrp_reader *r = vmrp_reader_new();
    int rc = vmrp_reader_open(r, work);
    const vmrp_collection_info *ci = vmrp_reader_collection(r);
    if (rc != VMRP_OK || ci->point_count != fx->points || ci->committed_size != fx->len ||
        ci->file_size != fx->len + n)
        snprintf(out, outlen, "%s: reader: rc %d, %u points, committed %llu of %llu", label, rc,
                 ci->point_count, (unsigned long long)ci->committed_size,
                 (unsigned long long)ci->file_size);
    vmrp_reader_free(r);
    if (out[0])
        return out;
    uint32_t points;
    char why[200] = "";
    if (read_back(work, e, &points, why, sizeof why) != READ_SAME || points != fx->points) {
        snprintf(out, outlen, "%s: reading back: %s", label, why);
        return out;
    }

    vmrp_verify_report rep;
    char msg[600];
    rc = verify_path(work, &rep, msg, sizeof msg);
    if (rc != VMRP_E_TORN)
        snprintf(out, outlen, "%s: verify returned %d (%s), expected VMRP_E_TORN", label, rc, msg);
    else if (rep.torn_bytes != n || rep.committed_size != fx->len ||
             rep.error_offset != fx->len || rep.points != fx->points)
        snprintf(out, outlen, "%s: report: torn %llu (want %zu), committed %llu, offset %llu, %u points",
                 label, (unsigned long long)rep.torn_bytes, n,
                 (unsigned long long)rep.committed_size, (unsigned long long)rep.error_offset,
                 rep.points);
    return out;
}

/* The tail an interrupted writer leaves: a child packs a point and dies
 * before its commit. Returns the tail (malloc'd). */
static unsigned char *interrupted_tail(const fixture *fx, size_t *n)
{
    char work[4096];
    ut_join(work, sizeof work, fx->dir, "interrupted.vmrp");
    ut_write_file(work, fx->bytes, fx->len);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char img[4096];
        snprintf(img, sizeof img, "%s/child.img", fx->dir);
        unsigned char data[6 * 4096];
        ut_fill_random(data, sizeof data, 1234);
        int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, data, sizeof data) != (ssize_t)sizeof data)
            _exit(2);
        vmrp_writer *w = vmrp_writer_new();
        if (vmrp_writer_open(w, work, NULL) != VMRP_OK ||
            vmrp_writer_add_config_file(w, "late.txt", 0644, "late", 4) != VMRP_OK ||
            vmrp_writer_add_disk(w, "a", fd, img) != VMRP_OK)
            _exit(3);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (%d)", status);
    size_t len;
    unsigned char *all = ut_read_file(work, &len);
    ck_assert_uint_gt(len, fx->len);
    ck_assert_mem_eq(all, fx->bytes, fx->len);
    *n = len - fx->len;
    unsigned char *tail = malloc(*n);
    memcpy(tail, all + fx->len, *n);
    free(all);
    return tail;
}

START_TEST(test_torn_tail_interrupted_append)
{
    fixture fx;
    build_tiny(&fx);
    expected e;
    capture(&fx, &e);
    size_t n;
    unsigned char *tail = interrupted_tail(&fx, &n);
    char a[800];
    check_tail(&fx, &e, tail, n, "interrupted append (complete records)", a, sizeof a);
    free(tail);
    expected_free(&e);
    fixture_free(&fx);
    ck_assert_msg(a[0] == '\0', "%s", a);
}
END_TEST

/* Spec 7.2 / 10: end of input inside a record after the last commit, or
 * a record that cannot be parsed there, is a tail: VMRP_E_TORN with its
 * byte count, like any other interrupted append. */
START_TEST(test_torn_tail_cut_inside_a_record)
{
    fixture fx;
    build_tiny(&fx);
    expected e;
    capture(&fx, &e);
    size_t n;
    unsigned char *tail = interrupted_tail(&fx, &n);
    /* The first record of the tail, cut in the middle of its payload. */
    size_t first = RH_SIZE + le32_load(tail + RH_OFF_STORED_SIZE);
    ck_assert_uint_le(first, n);
    char a[800], b[800];
    check_tail(&fx, &e, tail, first / 2 + RH_SIZE / 2, "append cut inside a record", a, sizeof a);
    check_tail(&fx, &e, tail, 7, "append cut inside a record header", b, sizeof b);
    free(tail);
    expected_free(&e);
    fixture_free(&fx);
    ck_assert_msg(a[0] == '\0' && b[0] == '\0', "%s%s%s", a, a[0] && b[0] ? "; " : "", b);
}
END_TEST

START_TEST(test_torn_tail_garbage)
{
    fixture fx;
    build_tiny(&fx);
    expected e;
    capture(&fx, &e);
    unsigned char garbage[1000];
    ut_fill_random(garbage, sizeof garbage, 4321);
    char a[800];
    check_tail(&fx, &e, garbage, sizeof garbage, "1000 bytes of garbage", a, sizeof a);
    expected_free(&e);
    fixture_free(&fx);
    ck_assert_msg(a[0] == '\0', "%s", a);
}
END_TEST

/* Verification that stops after a segment's POINT record and before its
 * COMMIT (a torn append that got as far as the point, or a damaged index)
 * must free everything it allocated. Measured with mallinfo2 (and by
 * LeakSanitizer in the ASan build). */
START_TEST(test_verify_frees_uncommitted_point)
{
    fixture fx;
    build_tiny(&fx);
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, fx.path), VMRP_OK);
    size_t cut = (size_t)r->points[fx.points - 1].index_offset;
    vmrp_reader_free(r);
    char torn[4096], damaged[4096];
    ut_join(torn, sizeof torn, fx.dir, "torn.vmrp");
    ut_join(damaged, sizeof damaged, fx.dir, "damaged.vmrp");
    ut_write_file(torn, fx.bytes, cut); /* ends right after the last POINT record */
    unsigned char *copy = malloc(fx.len);
    memcpy(copy, fx.bytes, fx.len);
    copy[cut + RH_SIZE + IX_HEADER_SIZE + 2] ^= 1; /* inside the last INDEX */
    ut_write_file(damaged, copy, fx.len);
    free(copy);
    vmrp_verify_report rep;
    ck_assert_int_eq(verify_path(torn, &rep, NULL, 0), VMRP_E_TORN);
    ck_assert_int_eq(verify_path(damaged, &rep, NULL, 0), VMRP_E_CORRUPT);
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < 500; i++) {
        ck_assert_int_eq(verify_path(torn, &rep, NULL, 0), VMRP_E_TORN);
        ck_assert_int_eq(verify_path(damaged, &rep, NULL, 0), VMRP_E_CORRUPT);
    }
    struct mallinfo2 after = mallinfo2();
    size_t grown = after.uordblks > before.uordblks ? after.uordblks - before.uordblks : 0;
    fixture_free(&fx);
    ck_assert_msg(grown < 8192,
                  "1000 failed verifications left %zu more bytes allocated (a leak per call)",
                  grown);
}
END_TEST

/* A writer may only remove a tail that is an interrupted append. Damage
 * to the head commit (or to the index before it) makes the last point
 * unreadable, but it was committed: opening a writer and freeing it must
 * leave the file exactly as it was, whether the open succeeds or not. */
START_TEST(test_writer_keeps_damaged_commits)
{
    fixture fx;
    build_tiny(&fx);
    char work[4096];
    ut_join(work, sizeof work, fx.dir, "damaged.vmrp");
    size_t from = fx.len - CM_RECORD_SIZE - 64, changed = 0, refused = 0;
    for (size_t off = from; off < fx.len; off++) {
        unsigned char *copy = malloc(fx.len);
        memcpy(copy, fx.bytes, fx.len);
        copy[off] ^= (unsigned char)(1u << (off % 8));
        ut_write_file(work, copy, fx.len);
        vmrp_writer *w = vmrp_writer_new();
        int rc = vmrp_writer_open(w, work, NULL);
        refused += rc != VMRP_OK;
        vmrp_writer_free(w);
        size_t len;
        unsigned char *after = ut_read_file(work, &len);
        if (len != fx.len || memcmp(after, copy, len) != 0) {
            if (!changed)
                fprintf(stderr, "flip at %zu: writer open (rc %d) + free left %zu of %zu bytes\n",
                        off, rc, len, fx.len);
            changed++;
        }
        free(after);
        free(copy);
    }
    printf("damaged head: %zu flips, writer refused %zu, file changed %zu\n", fx.len - from,
           refused, changed);
    ck_assert_msg(changed == 0, "%zu damaged archives were changed by a writer that did not commit",
                  changed);
    fixture_free(&fx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Semantic damage with valid hashes: a one-point archive stored without
 * compression is edited and re-sealed (record hash in the index, index
 * hash in the commit), as a writer with a bug would have written it. */

typedef void (*point_edit)(unsigned char *payload, size_t len);

static void build_plain(fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    fx->dir = ut_tmpdir();
    ut_join(fx->path, sizeof fx->path, fx->dir, "plain.vmrp");
    unsigned char a[3 * 4096], b[2 * 4096];
    ut_fill_text(a, sizeof a, 1);
    ut_fill_text(b, sizeof b, 2);
    vmrp_writer_options o;
    memset(&o, 0, sizeof o);
    o.block_size = 4096;
    o.codec = VMRP_CODEC_NONE;
    ut_disk d[] = {{"a", a, sizeof a, 0}, {"b", b, sizeof b, 0}};
    ut_point p = {"plain", 0, "{}", NULL, 0, &o};
    pack_point(fx, d, 2, &p);
    finish(fx);
}

/* Copy the archive, let edit() change the payload of the first record of
 * type want_type (stored without compression), and re-seal it: its hash in
 * the index and the index's hash in the commit are recomputed, as a writer
 * with a bug would have written it. Returns the record's offset. */
static uint64_t reseal(const fixture *fx, uint8_t want_type, point_edit edit, const char *work)
{
    unsigned char *a = ut_dup(fx->bytes, fx->len);
    ut_segment s = ut_last_segment(a, fx->len);
    unsigned char *entry = ut_index_find(&s, want_type, 0);
    ck_assert_ptr_nonnull(entry);
    size_t len;
    unsigned char *payload = ut_plain_payload(&s, entry, &len);
    uint64_t off = le64_load(entry + IXE_OFF_OFFSET);
    edit(payload, len);
    ut_seal_entry(&s, entry);
    ut_seal_index(&s);
    ut_write_file(work, a, fx->len);
    free(a);
    return off;
}

static void resealed(const fixture *fx, point_edit edit, const char *work)
{
    (void)reseal(fx, REC_POINT, edit, work);
}

static void edit_time(unsigned char *p, size_t len)
{
    (void)len;
    le64_store(p + PT_OFF_TIME, 42);
}

static void edit_parent(unsigned char *p, size_t len)
{
    (void)len;
    le32_store(p + PT_OFF_PARENT, 5);
}

static void edit_changed_blocks(unsigned char *p, size_t len)
{
    (void)len;
    unsigned char *d = ut_point_disk(p, 0);
    le64_store(d + PD_OFF_CHANGED, le64_load(d + PD_OFF_CHANGED) + 1);
}

static void edit_disk_size(unsigned char *p, size_t len)
{
    (void)len;
    le64_store(ut_point_disk(p, 0) + PD_OFF_DISK_SIZE, 4096); /* map has blocks 1 and 2 */
}

static void edit_same_family(unsigned char *p, size_t len)
{
    (void)len;
    memcpy(ut_point_disk(p, 1) + PD_OFF_FAMILY_ID, ut_point_disk(p, 0) + PD_OFF_FAMILY_ID, ID_SIZE);
}

START_TEST(test_resealed_control)
{
    /* The re-sealing is right: a harmless edit still verifies. */
    fixture fx;
    build_plain(&fx);
    char work[4096];
    ut_join(work, sizeof work, fx.dir, "edited.vmrp");
    resealed(&fx, edit_time, work);
    vmrp_verify_report rep;
    char msg[600];
    ck_assert_msg(verify_path(work, &rep, msg, sizeof msg) == VMRP_OK, "%s", msg);
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, work), VMRP_OK);
    ck_assert_int_eq(vmrp_reader_point(r, 0)->time_created_us, 42);
    vmrp_reader_free(r);
    fixture_free(&fx);
}
END_TEST

/* Verify with flags (VMRP_VERIFY_QUICK). */
static int verify_path_flags(const char *path, unsigned flags, vmrp_verify_report *rep, char *msg,
                             size_t msglen)
{
    return ut_verify_file(path, flags, NULL, rep, msg, msglen);
}

static void edit_flip_middle(unsigned char *p, size_t len)
{
    p[len / 2] ^= 0x01;
}

/* The first BLOCK record with one byte flipped, re-sealed. */
static uint64_t reseal_first_block(const fixture *fx, const char *work)
{
    return reseal(fx, REC_BLOCK, edit_flip_middle, work);
}

START_TEST(test_quick_verify)
{
    fixture fx;
    build_plain(&fx);
    vmrp_verify_report rep;
    char msg[600], work[4096];
    /* An undamaged archive: every record checked, no block decoded. */
    ck_assert_msg(verify_path_flags(fx.path, VMRP_VERIFY_QUICK, &rep, msg, sizeof msg) == VMRP_OK,
                  "%s", msg);
    ck_assert_int_eq(rep.content_checked, 0);
    ck_assert_uint_eq(rep.blocks, 0);
    ck_assert_uint_eq(rep.bytes, fx.len);
    ck_assert_uint_eq(rep.points, 1);
    ck_assert_int_eq(verify_path_flags(fx.path, 0, &rep, msg, sizeof msg), VMRP_OK);
    ck_assert_int_eq(rep.content_checked, 1);
    ck_assert_uint_eq(rep.blocks, fx.blocks_stored);

    /* A flipped byte in a block is media damage: quick finds it. */
    ut_join(work, sizeof work, fx.dir, "flipped.vmrp");
    unsigned char *a = malloc(fx.len);
    memcpy(a, fx.bytes, fx.len);
    uint64_t off = reseal_first_block(&fx, work); /* for its offset */
    a[off + RH_SIZE + 100] ^= 0x40;
    ut_write_file(work, a, fx.len);
    free(a);
    ck_assert_int_eq(verify_path_flags(work, VMRP_VERIFY_QUICK, &rep, msg, sizeof msg),
                     VMRP_E_CORRUPT);
    ck_assert_uint_eq(rep.error_offset, off);
    ck_assert_msg(strstr(msg, "does not match its index entry") != NULL, "%s", msg);

    /* A block re-sealed with data that is not its Block_Id's was written so:
     * only decoding finds it, which is what quick leaves out. */
    ut_join(work, sizeof work, fx.dir, "resealed.vmrp");
    off = reseal_first_block(&fx, work);
    ck_assert_int_eq(verify_path_flags(work, VMRP_VERIFY_QUICK, &rep, msg, sizeof msg), VMRP_OK);
    ck_assert_int_eq(verify_path_flags(work, 0, &rep, msg, sizeof msg), VMRP_E_CORRUPT);
    ck_assert_msg(strstr(msg, "Block_Id") != NULL, "%s", msg);
    ck_assert_uint_eq(rep.error_offset, off);
    fixture_free(&fx);
}
END_TEST

/* Verify checks one batch of BLOCK records (at most 1024) while it reads the
 * next: of several problems, the one earliest in the file is reported, also
 * when the walk stops at a later one while a batch is still being checked. */
/* One point of one disk of 3000 text blocks of 4 KiB: three verify batches,
 * an INDEX of 3000 entries (144,016 bytes). */
static void build_3000_blocks(fixture *fx, const char *name, uint64_t seed)
{
    memset(fx, 0, sizeof *fx);
    fx->dir = ut_tmpdir();
    ut_join(fx->path, sizeof fx->path, fx->dir, name);
    const size_t size = 3000 * 4096;
    unsigned char *text = malloc(size);
    ut_fill_text(text, size, seed);
    vmrp_writer_options o;
    memset(&o, 0, sizeof o);
    o.block_size = 4096;
    ut_disk d[] = {{"t", text, size, 0}};
    ut_point p = {"blocks", 0, "{}", NULL, 0, &o};
    pack_point(fx, d, 1, &p);
    finish(fx);
    free(text);
}

START_TEST(test_verify_reports_the_first_problem)
{
    fixture fx;
    build_3000_blocks(&fx, "batches.vmrp", 9);
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_int_eq(vmrp_reader_open(r, fx.path), VMRP_OK);
    uint64_t block_off[3000];
    size_t nb = 0;
    for (size_t i = 0; i < rectab_count(r->table) && nb < 3000; i++) {
        rec_ref ref;
        ck_assert_int_eq(rectab_get(r->table, i, &ref), 1);
        if (ref.type == REC_BLOCK)
            block_off[nb++] = ref.offset;
    }
    vmrp_reader_free(r);
    ck_assert_uint_eq(nb, 3000);
    /* a stored zstd frame with a broken magic does not decompress; a record
     * header with an unknown type stops the walk */
    static const struct {
        int frame1500, frame2500, header2100;
        size_t first; /* the block record that must be named */
    } cases[] = {{0, 1, 0, 2500}, {1, 1, 0, 1500}, {1, 0, 1, 1500}, {0, 0, 1, 2100}};
    char work[4096];
    ut_join(work, sizeof work, fx.dir, "damaged.vmrp");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char *a = malloc(fx.len);
        memcpy(a, fx.bytes, fx.len);
        ck_assert_uint_eq(a[block_off[1500] + RH_OFF_CODEC], CODEC_ZSTD);
        if (cases[c].frame1500)
            a[block_off[1500] + RH_SIZE] ^= 0xff;
        if (cases[c].frame2500)
            a[block_off[2500] + RH_SIZE] ^= 0xff;
        if (cases[c].header2100)
            a[block_off[2100] + RH_OFF_TYPE] = 0xee;
        ut_write_file(work, a, fx.len);
        free(a);
        vmrp_verify_report rep;
        char msg[600];
        ck_assert_int_eq(verify_path(work, &rep, msg, sizeof msg), VMRP_E_CORRUPT);
        ck_assert_msg(rep.error_offset == block_off[cases[c].first],
                      "case %zu: error at %llu, expected block record %zu at %llu: %s", c,
                      (unsigned long long)rep.error_offset, cases[c].first,
                      (unsigned long long)block_off[cases[c].first], msg);
    }
    fixture_free(&fx);
}
END_TEST

/* Copy the archive with INDEX entry i of its last segment changed by
 * edit() and the INDEX re-sealed into the commit. Returns the entry's
 * record offset. */
static uint64_t reseal_index_entry(const fixture *fx, uint32_t i, void (*edit)(unsigned char *),
                                   const char *work)
{
    unsigned char *a = ut_dup(fx->bytes, fx->len);
    ut_segment s = ut_last_segment(a, fx->len);
    unsigned char *e = ut_index_entry(&s, i);
    uint64_t off = le64_load(e + IXE_OFF_OFFSET);
    edit(e);
    ut_seal_index(&s);
    ut_write_file(work, a, fx->len);
    free(a);
    return off;
}

static void entry_hash_flip(unsigned char *e)
{
    e[IXE_OFF_HASH + 31] ^= 1;
}

static void entry_size_plus_one(unsigned char *e)
{
    le32_store(e + IXE_OFF_SIZE, le32_load(e + IXE_OFF_SIZE) + 1);
}

/* An INDEX of 3000 entries (144,016 bytes) is checked as it streams, in
 * pieces that cut entries: an entry cut between two pieces is read whole,
 * and a mismatch there is named at its record. */
START_TEST(test_index_checked_in_pieces)
{
    fixture fx;
    build_3000_blocks(&fx, "pieces.vmrp", 12);
    vmrp_verify_report rep;
    char msg[600], work[4096];
    ck_assert_msg(verify_path(fx.path, &rep, msg, sizeof msg) == VMRP_OK, "%s", msg);
    ut_join(work, sizeof work, fx.dir, "entry.vmrp");
    /* entry 682 spans payload bytes 32752..32799, across the first piece's
     * end at 32768; entry 2000 lies inside a piece */
    const uint32_t entries[] = {682, 2000, 0, 2999};
    for (size_t k = 0; k < sizeof entries / sizeof entries[0]; k++) {
        uint64_t off = reseal_index_entry(&fx, entries[k], entry_hash_flip, work);
        ck_assert_int_eq(verify_path(work, &rep, msg, sizeof msg), VMRP_E_CORRUPT);
        ck_assert_msg(rep.error_offset == off && strstr(msg, "does not match its index entry"),
                      "entry %u: error at %llu, expected %llu: %s", entries[k],
                      (unsigned long long)rep.error_offset, (unsigned long long)off, msg);
    }
    /* a size that breaks the tiling is the INDEX's own fault */
    reseal_index_entry(&fx, 682, entry_size_plus_one, work);
    ck_assert_int_eq(verify_path(work, &rep, msg, sizeof msg), VMRP_E_CORRUPT);
    ck_assert_msg(strstr(msg, "index: index entries do not tile the segment") != NULL, "%s", msg);
    fixture_free(&fx);
}
END_TEST

/* Open and read every disk: some step must fail. */
static int reader_refuses(const char *path)
{
    vmrp_reader *r = vmrp_reader_new();
    int refused = vmrp_reader_open(r, path) != VMRP_OK;
    for (uint32_t k = 0; !refused && k < vmrp_reader_point_count(r); k++) {
        const vmrp_point_info *pi = vmrp_reader_point(r, k);
        for (uint32_t d = 0; !refused && d < pi->disk_count; d++) {
            unsigned char *img = NULL;
            uint64_t sz;
            refused = ut_read_image(r, k, pi->disks[d].name, &img, &sz) != VMRP_OK;
            free(img);
        }
    }
    vmrp_reader_free(r);
    return refused;
}

static void semantic_case(point_edit edit, const char *label)
{
    fixture fx;
    build_plain(&fx);
    char work[4096];
    ut_join(work, sizeof work, fx.dir, "edited.vmrp");
    resealed(&fx, edit, work);
    vmrp_verify_report rep;
    char msg[600];
    int rc = verify_path(work, &rep, msg, sizeof msg);
    int refused = reader_refuses(work);
    size_t len = fx.len;
    fixture_free(&fx);
    ck_assert_msg(rc == VMRP_E_CORRUPT && refused,
                  "%s: verify returned %d (%s), the reader %s it", label, rc, msg,
                  refused ? "refused" : "accepted");
    ck_assert_uint_ge(rep.error_offset, FH_SIZE);
    ck_assert_uint_lt(rep.error_offset, len);
}

START_TEST(test_resealed_semantic_damage)
{
    semantic_case(edit_parent, "Parent_Sequence 5 in point 1");
    semantic_case(edit_changed_blocks, "Changed_Blocks one more than the map holds");
    semantic_case(edit_disk_size, "map entries beyond Disk_Size");
}
END_TEST

/* Spec 5.4.2 "Family_Id MUST be unique within the point"; spec 10.4: the
 * verifier checks every rule of 5.4. */
START_TEST(test_resealed_duplicate_family)
{
    semantic_case(edit_same_family, "two disks of one point share a Family_Id");
}
END_TEST

/* A head commit whose Index_Offset + Index_Size wraps around 2^64 to its
 * own offset describes no segment: it is damage (or a tail), not an I/O
 * error of the file system. */
START_TEST(test_wrapping_index_offset)
{
    fixture fx;
    build_plain(&fx);
    unsigned char *a = malloc(fx.len);
    memcpy(a, fx.bytes, fx.len);
    unsigned char *p = a + fx.len - CM_RECORD_SIZE + RH_SIZE;
    uint64_t at = fx.len - CM_RECORD_SIZE;
    le64_store(p + CM_OFF_INDEX_OFFSET, UINT64_MAX - 999);
    le64_store(p + CM_OFF_INDEX_SIZE, at + 1000);
    char work[4096];
    ut_join(work, sizeof work, fx.dir, "wrapped.vmrp");
    ut_write_file(work, a, fx.len);
    free(a);
    vmrp_reader *r = vmrp_reader_new();
    int rc = vmrp_reader_open(r, work);
    int ok = rc == VMRP_E_CORRUPT || (rc == VMRP_OK && vmrp_reader_point_count(r) == 0);
    char msg[600];
    snprintf(msg, sizeof msg, "%s", vmrp_reader_error_string(r));
    vmrp_reader_free(r);
    vmrp_verify_report rep;
    int vrc = verify_path(work, &rep, NULL, 0);
    fixture_free(&fx);
    ck_assert_msg(ok, "reader: rc %d (%s); expected VMRP_E_CORRUPT, or no committed point", rc,
                  msg);
    ck_assert_int_eq(vrc, VMRP_E_CORRUPT);
}
END_TEST

START_TEST(test_not_an_archive)
{
    char *dir = ut_tmpdir();
    char path[4096];
    ut_join(path, sizeof path, dir, "x");
    vmrp_verify_report rep;
    ut_write_file(path, "", 0);
    ck_assert_int_eq(verify_path(path, &rep, NULL, 0), VMRP_E_NOT_ARCHIVE);
    char junk[500];
    memset(junk, 'j', sizeof junk);
    ut_write_file(path, junk, sizeof junk);
    ck_assert_int_eq(verify_path(path, &rep, NULL, 0), VMRP_E_NOT_ARCHIVE);
    /* A header alone: no committed point. */
    unsigned char hdr[FH_SIZE];
    unsigned char id[ID_SIZE] = {7};
    header_encode(hdr, id, 4096, 10, 0);
    ut_write_file(path, hdr, sizeof hdr);
    ck_assert_int_ne(verify_path(path, &rep, NULL, 0), VMRP_OK);
    ck_assert_uint_eq(rep.points, 0);
    /* A newer major version. */
    le16_store(hdr + FH_OFF_MAJOR, 2);
    ut_write_file(path, hdr, sizeof hdr);
    ck_assert_int_eq(verify_path(path, &rep, NULL, 0), VMRP_E_VERSION);
    ut_rmtree(dir);
}
END_TEST

/* Past its bounds verify keeps its lists in $TMPDIR: a directory that
 * cannot hold them is a runtime error naming it, not damage; under the
 * bounds no file is made, so a small archive verifies anywhere. */
START_TEST(test_verify_temp_dir_unusable)
{
    fixture fx;
    build_medium(&fx);
    const char *old = getenv("TMPDIR");
    char *saved = old ? strdup(old) : NULL;
    char nowhere[4096];
    ut_join(nowhere, sizeof nowhere, fx.dir, "no-such-dir");
    setenv("TMPDIR", nowhere, 1);
    int fd = open(fx.path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    vmrp_reader *r = vmrp_reader_new();
    vmrp_verify_report rep;
    ck_assert_int_eq(vmrp_reader_verify(r, fd, fx.path, &rep), VMRP_OK);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    r->verify_keep = 7;
    ck_assert_int_eq(vmrp_reader_verify(r, fd, fx.path, &rep), VMRP_E_IO);
    const char *msg = vmrp_reader_error_string(r);
    ck_assert_msg(strstr(msg, nowhere) && strstr(msg, fx.path) && strstr(msg, "No such file"),
                  "message: %s", msg);
    vmrp_reader_free(r);
    close(fd);
    if (saved)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
    free(saved);
    fixture_free(&fx);
}
END_TEST

static Suite *verify_suite(void)
{
    Suite *s = suite_create("verify");
    TCase *tc = tcase_create("clean");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_clean_archives_verify);
    tcase_add_test(tc, test_verify_pipe);
    tcase_add_test(tc, test_not_an_archive);
    tcase_add_test(tc, test_verify_temp_dir_unusable);
    suite_add_tcase(s, tc);
    tc = tcase_create("damage");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_flip_every_byte_tiny);
    tcase_add_test(tc, test_flip_spread_medium);
    tcase_add_test(tc, test_truncation);
    suite_add_tcase(s, tc);
    tc = tcase_create("torn");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_torn_tail_interrupted_append);
    tcase_add_test(tc, test_torn_tail_cut_inside_a_record);
    tcase_add_test(tc, test_torn_tail_garbage);
    tcase_add_test(tc, test_writer_keeps_damaged_commits);
    tcase_add_test(tc, test_verify_frees_uncommitted_point);
    suite_add_tcase(s, tc);
    tc = tcase_create("resealed");
    tcase_add_test(tc, test_resealed_control);
    tcase_add_test(tc, test_index_checked_in_pieces);
    tcase_add_test(tc, test_quick_verify);
    tcase_add_test(tc, test_verify_reports_the_first_problem);
    tcase_add_test(tc, test_resealed_semantic_damage);
    tcase_add_test(tc, test_resealed_duplicate_family);
    tcase_add_test(tc, test_wrapping_index_offset);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(verify_suite());
}
