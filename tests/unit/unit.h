/* unit.h - helpers shared by the unit tests (Check framework).
 *
 * Every helper is `static inline` so that a test file uses what it needs
 * without unused-function warnings. Include this header first: it defines
 * _GNU_SOURCE for mkdtemp, nftw and fallocate.
 *
 *   ut_tmpdir / ut_rmtree      a private temporary directory, removed recursively
 *   ut_join                    "dir/name" into a caller buffer
 *   ut_write_file              a file holding exactly the given bytes
 *   ut_write_sparse            the same, with all-zero 4 KiB chunks left as holes
 *   ut_read_file               a whole file into a malloc'd buffer
 *   ut_rand / ut_fill_random   deterministic pseudo-random numbers (splitmix64)
 *   ut_fill_text               deterministic compressible bytes
 *   ut_pack                    one restore point from disks held in memory
 *   ut_read_image              a disk at a point, resolved into a memory image
 *   ut_check_image             ... and compared with the bytes it must hold
 *   ut_flip_byte               XOR one byte of a file in place
 *   ut_run_suite               vmrp_init + srunner_run_all(CK_NORMAL) + exit code
 */
#ifndef VMRP_UNIT_H
#define VMRP_UNIT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmrp.h"

/* ---- temporary directories and files ---- */

static inline char *ut_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    size_t n = strlen(base) + 32;
    char *t = malloc(n);
    ck_assert_ptr_nonnull(t);
    snprintf(t, n, "%s/vmrp-unit.XXXXXX", base);
    ck_assert_msg(mkdtemp(t) != NULL, "mkdtemp %s: %s", t, strerror(errno));
    return t;
}

static inline int ut_rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

/* Remove dir and everything below it, then free the string. */
static inline void ut_rmtree(char *dir)
{
    if (!dir)
        return;
    (void)nftw(dir, ut_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static inline const char *ut_join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    ck_assert_msg(n > 0 && (size_t)n < cap, "path too long: %s/%s", dir, name);
    return out;
}

static inline void ut_write_all(int fd, const void *data, size_t len, const char *path)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        ck_assert_msg(n > 0, "write %s: %s", path, strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

static inline void ut_pwrite_all(int fd, const void *data, size_t len, uint64_t off,
                                 const char *path)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        ck_assert_msg(n > 0, "pwrite %s: %s", path, strerror(errno));
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
}

/* Create (or replace) path with exactly len bytes of data. */
static inline void ut_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    if (len)
        ut_write_all(fd, data, len, path);
    ck_assert_int_eq(close(fd), 0);
}

static inline int ut_all_zero(const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return 0;
    return 1;
}

/* As ut_write_file, but 4 KiB chunks that are all zero are left as holes. */
static inline void ut_write_sparse(const char *path, const void *data, size_t len)
{
    const unsigned char *p = data;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    ck_assert_int_eq(ftruncate(fd, (off_t)len), 0);
    for (size_t off = 0; off < len; off += 4096) {
        size_t n = len - off < 4096 ? len - off : 4096;
        if (!ut_all_zero(p + off, n))
            ut_pwrite_all(fd, p + off, n, off, path);
    }
    ck_assert_int_eq(close(fd), 0);
}

/* The whole file in a malloc'd buffer (never NULL; *len may be 0). */
static inline unsigned char *ut_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    size_t size = (size_t)st.st_size;
    unsigned char *buf = malloc(size ? size : 1);
    ck_assert_ptr_nonnull(buf);
    size_t done = 0;
    while (done < size) {
        ssize_t n = read(fd, buf + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        ck_assert_msg(n > 0, "read %s: %s", path, n < 0 ? strerror(errno) : "short file");
        done += (size_t)n;
    }
    close(fd);
    *len = size;
    return buf;
}

static inline int ut_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- deterministic data ---- */

static inline uint64_t ut_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform-ish value in [0, n). */
static inline uint64_t ut_below(uint64_t *state, uint64_t n)
{
    return n ? ut_rand(state) % n : 0;
}

/* Incompressible bytes that depend only on seed. */
static inline void ut_fill_random(void *buf, size_t len, uint64_t seed)
{
    unsigned char *p = buf;
    uint64_t s = seed;
    while (len >= 8) {
        uint64_t v = ut_rand(&s);
        memcpy(p, &v, 8);
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t v = ut_rand(&s);
        memcpy(p, &v, len);
    }
}

/* Compressible, never all-zero bytes that depend only on seed. */
static inline void ut_fill_text(void *buf, size_t len, uint64_t seed)
{
    static const char words[] = "restore point disk block map commit index vm config ";
    unsigned char *p = buf;
    uint64_t s = seed;
    size_t w = (size_t)ut_below(&s, sizeof words - 1);
    for (size_t i = 0; i < len; i++) {
        p[i] = (unsigned char)words[w];
        w = (w + 1) % (sizeof words - 1);
        if (i % 61 == 60)
            p[i] = (unsigned char)('0' + ut_below(&s, 10));
    }
}

/* ---- packing restore points from memory ---- */

typedef struct {
    const char *name;   /* disk name */
    const void *data;   /* content (NULL with size 0 is an empty disk) */
    uint64_t size;      /* bytes */
    int exclude;        /* 1: vmrp_writer_exclude_disk() instead of add_disk */
} ut_disk;

typedef struct {
    const char *name;
    uint32_t mode;
    const void *data;
    size_t size;
} ut_file;

typedef struct {
    const char *point_name;          /* NULL: default name */
    int consistency;                 /* 0: default */
    const char *metadata;            /* NULL: none given */
    const ut_file *files;            /* config files, NULL: none given */
    size_t nfiles;
    const vmrp_writer_options *opts; /* NULL: defaults */
} ut_point;

/* What ut_pack_ex() sets beyond the point, each NULL when not given:
 * encryption (vmrp_writer_set_encryption() before opening) and a signing
 * key; msg, when given, receives the writer's message instead of stderr. */
typedef struct {
    const vmrp_encryption *enc;
    const vmrp_key *signer;
    char *msg;
    size_t msglen;
    int no_pin; /* do not pin the collection key of a keyless append */
} ut_pack_extra;

/* The Collection_Public_Key an encrypted archive names: the first bytes of
 * the payload of its first record, the KEYS record of segment 1 (format
 * 5.6.1). 0 when the file is too short to hold one. A test pins it for a
 * keyless append: it made the archive, so it vouches for the key. */
static inline int ut_named_collection_key(const char *archive, unsigned char key[32])
{
    int fd = open(archive, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = pread(fd, key, 32, 128 + 16);
    close(fd);
    return n == 32;
}

/* Write every disk to a sparse file in dir, pack them as one restore point
 * into archive, and return the writer's result (0 when committed). stats
 * and x may be NULL. */
static inline int ut_pack_ex(const char *dir, const char *archive, const ut_disk *disks,
                             size_t ndisks, const ut_point *pt, const ut_pack_extra *x,
                             vmrp_writer_stats *stats)
{
    char path[4096];
    vmrp_writer *w = vmrp_writer_new();
    ck_assert_ptr_nonnull(w);
    int rc = x && x->enc ? vmrp_writer_set_encryption(w, x->enc) : VMRP_OK;
    if (rc == VMRP_OK && x && x->signer)
        rc = vmrp_writer_set_signing_key(w, x->signer);
    unsigned char named_key[32];
    if (!(x && x->no_pin) && ut_named_collection_key(archive, named_key))
        vmrp_writer_set_collection_key(w, named_key); /* used by keyless appends only */
    if (rc == VMRP_OK)
        rc = vmrp_writer_open(w, archive, pt ? pt->opts : NULL);
    if (rc == VMRP_OK && pt && (pt->point_name || pt->consistency))
        rc = vmrp_writer_set_point(w, pt->point_name, pt->consistency);
    if (rc == VMRP_OK && pt && pt->metadata)
        rc = vmrp_writer_set_source_metadata(w, pt->metadata, strlen(pt->metadata));
    for (size_t i = 0; rc == VMRP_OK && pt && i < pt->nfiles; i++)
        rc = vmrp_writer_add_config_file(w, pt->files[i].name, pt->files[i].mode,
                                         pt->files[i].data, pt->files[i].size);
    for (size_t i = 0; rc == VMRP_OK && i < ndisks; i++) {
        if (disks[i].exclude) {
            rc = vmrp_writer_exclude_disk(w, disks[i].name);
            continue;
        }
        char leaf[128];
        snprintf(leaf, sizeof leaf, "ut-disk-%zu.img", i);
        ut_join(path, sizeof path, dir, leaf);
        ut_write_sparse(path, disks[i].data, (size_t)disks[i].size);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
        rc = vmrp_writer_add_disk(w, disks[i].name, fd, path);
        close(fd);
        unlink(path);
    }
    if (rc == VMRP_OK)
        rc = vmrp_writer_commit(w);
    if (stats)
        vmrp_writer_get_stats(w, stats);
    if (x && x->msg)
        snprintf(x->msg, x->msglen, "%s", vmrp_writer_error_string(w));
    else if (rc != VMRP_OK)
        fprintf(stderr, "ut_pack %s: %s (%s)\n", archive, vmrp_strerror(rc),
                vmrp_writer_error_string(w));
    vmrp_writer_free(w);
    return rc;
}

static inline int ut_pack(const char *dir, const char *archive, const ut_disk *disks,
                          size_t ndisks, const ut_point *pt, vmrp_writer_stats *stats)
{
    return ut_pack_ex(dir, archive, disks, ndisks, pt, NULL, stats);
}

/* ---- encryption keys ---- */

/* A new X25519 encryption key pair. */
static inline vmrp_key *ut_new_x25519(void)
{
    vmrp_key *k = vmrp_key_new();
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(vmrp_key_generate_encryption(k), VMRP_OK);
    return k;
}

/* The public half of k alone, as read back from its public key file (saved
 * in dir as NAME.key and NAME.pub): a recipient's, or a signer's. */
static inline vmrp_key *ut_public_half(vmrp_key *k, const char *dir, const char *name)
{
    char sec[4096], pub[4096], leaf[64];
    snprintf(leaf, sizeof leaf, "%s.key", name);
    ut_join(sec, sizeof sec, dir, leaf);
    snprintf(leaf, sizeof leaf, "%s.pub", name);
    ut_join(pub, sizeof pub, dir, leaf);
    ck_assert_int_eq(vmrp_key_save(k, sec, pub, NULL), VMRP_OK);
    vmrp_key *p = vmrp_key_new();
    ck_assert_int_eq(vmrp_key_load_public(p, pub), VMRP_OK);
    ck_assert_int_eq(vmrp_key_has_secret(p), 0);
    ck_assert_int_eq(vmrp_key_kind(p), vmrp_key_kind(k));
    return p;
}

/* ---- reading disks back ---- */

typedef struct {
    unsigned char *img;
    uint64_t size;
    uint32_t block_size;
    uint64_t next; /* lowest offset the next call may have */
    uint64_t calls;
} ut_image_sink;

/* Checks the contract of vmrp_block_sink: increasing, block-aligned
 * offsets, blocks cut only at the disk size, never an all-zero block. */
static inline int ut_image_block(void *ctx, uint64_t off, const void *data, size_t len)
{
    ut_image_sink *s = ctx;
    ck_assert_msg(off % s->block_size == 0, "sink offset %llu not block aligned",
                  (unsigned long long)off);
    ck_assert_msg(off >= s->next, "sink offsets not increasing (%llu)", (unsigned long long)off);
    ck_assert_msg(off < s->size, "sink offset %llu beyond the disk size %llu",
                  (unsigned long long)off, (unsigned long long)s->size);
    /* A run of whole blocks, cut only at the end of the disk. */
    ck_assert_msg(len > 0 && len <= s->size - off, "sink run at %llu of %zu bytes passes the disk end",
                  (unsigned long long)off, len);
    ck_assert_msg(len % s->block_size == 0 || off + len == s->size,
                  "sink run at %llu of %zu bytes is not whole blocks", (unsigned long long)off, len);
    for (size_t k = 0; k < len; k += s->block_size) {
        size_t n = len - k < s->block_size ? len - k : s->block_size;
        ck_assert_msg(!ut_all_zero((const unsigned char *)data + k, n),
                      "sink got an all-zero block at %llu", (unsigned long long)(off + k));
    }
    memcpy(s->img + off, data, len);
    s->next = off + len;
    s->calls++;
    return 0;
}

/* Resolve disk `name` at point `index` into a calloc'd image of the size
 * the point records. Returns the reader's result; *img is NULL on error. */
static inline int ut_read_image(vmrp_reader *r, uint32_t index, const char *name,
                                unsigned char **img, uint64_t *size)
{
    *img = NULL;
    *size = 0;
    const vmrp_point_info *pi = vmrp_reader_point(r, index);
    ck_assert_ptr_nonnull(pi);
    uint64_t sz = 0;
    for (uint32_t d = 0; d < pi->disk_count; d++)
        if (strcmp(pi->disks[d].name, name) == 0)
            sz = pi->disks[d].size_bytes;
    ut_image_sink s = {calloc(1, sz ? (size_t)sz : 1), sz,
                       vmrp_reader_collection(r)->block_size, 0, 0};
    ck_assert_ptr_nonnull(s.img);
    int rc = vmrp_reader_read_disk(r, index, name, ut_image_block, &s);
    if (rc != VMRP_OK) {
        free(s.img);
        return rc;
    }
    *img = s.img;
    *size = sz;
    return VMRP_OK;
}

/* Resolve disk `name` at point `index` and check it holds exactly want. */
static inline void ut_check_image(vmrp_reader *r, uint32_t index, const char *name,
                                  const void *want, uint64_t size)
{
    unsigned char *img;
    uint64_t isz;
    ck_assert_msg(ut_read_image(r, index, name, &img, &isz) == VMRP_OK, "disk %s at point %u: %s",
                  name, index + 1, vmrp_reader_error_string(r));
    ck_assert_uint_eq(isz, size);
    ck_assert_msg(memcmp(img, want, (size_t)size) == 0, "disk %s at point %u differs", name,
                  index + 1);
    free(img);
}

/* XOR one byte of a file in place. */
static inline void ut_flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    unsigned char c;
    ck_assert_int_eq(pread(fd, &c, 1, (off_t)off), 1);
    c ^= 0x5a;
    ck_assert_int_eq(pwrite(fd, &c, 1, (off_t)off), 1);
    close(fd);
}

/* ---- running a suite ---- */

/* vmrp_init, then every test of s with CK_NORMAL output; the exit status
 * is 1 when any test failed. */
static inline int ut_run_suite(Suite *s)
{
    if (vmrp_init() != VMRP_OK) {
        fprintf(stderr, "vmrp_init failed\n");
        return 1;
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0 ? 1 : 0;
}

#endif
