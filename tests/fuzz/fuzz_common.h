/* fuzz_common.h - helpers shared by the libvmrp fuzz targets.
 *
 * Included (once) by each target. It provides:
 *  - FUZZ_CHECK(): an oracle failure aborts, so libFuzzer and the regression
 *    driver report it like a sanitizer error;
 *  - fuzz_memfd(): the input as an anonymous file (memfd_create);
 *  - fuzz_skip(): lets a campaign go past a known, already reported finding
 *    (VMRP_FUZZ_SKIP=name1,name2; never set by the regression run);
 *  - for the archive targets (FUZZ_ARCHIVE_MUTATOR defined): a custom
 *    mutator that, after libFuzzer's own mutation, usually repairs the
 *    archive's hash chain (record hashes in every INDEX, Index_Hash,
 *    File_Header_Hash and Prev_Commit_Hash in every COMMIT, the Header_Hash)
 *    and sometimes re-frames stored-as-is records and relinks the commit
 *    offsets. Without it almost every mutation dies at the first hash check
 *    and the parsers behind it are never reached. The repaired bytes are the
 *    test case: crashes replay as they are, with no mutator.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "vmrp.h"

#define FZ_UNUSED __attribute__((unused))

#define FUZZ_CHECK(cond, ...)                                                        \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, \
                    #cond);                                                          \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
            abort();                                                                 \
        }                                                                            \
    } while (0)

static FZ_UNUSED void fuzz_init_once(void)
{
    static int done;
    if (!done) {
        if (vmrp_init() != VMRP_OK)
            abort();
        done = 1;
    }
}

/* 1 when the campaign asked to step over the known finding `name`. */
static FZ_UNUSED int fuzz_skip(const char *name)
{
    const char *s = getenv("VMRP_FUZZ_SKIP");
    size_t n = strlen(name);
    while (s && *s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if (len == n && memcmp(s, name, n) == 0)
            return 1;
        s = end ? end + 1 : NULL;
    }
    return 0;
}

static FZ_UNUSED int fuzz_write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The input as a file descriptor positioned at offset 0. */
static FZ_UNUSED int fuzz_memfd(const char *name, const uint8_t *data, size_t size)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) {
        perror("memfd_create");
        abort();
    }
    if (fuzz_write_all(fd, data, size) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
        perror("memfd write");
        abort();
    }
    return fd;
}

static FZ_UNUSED uint32_t fz_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static FZ_UNUSED uint64_t fz_le64(const uint8_t *p)
{
    return (uint64_t)fz_le32(p) | ((uint64_t)fz_le32(p + 4) << 32);
}
static FZ_UNUSED void fz_st32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static FZ_UNUSED void fz_st64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Offset of the first "VRec" at or after `from`, or n. */
static FZ_UNUSED size_t fz_next_magic(const uint8_t *d, size_t n, size_t from)
{
    if (from >= n)
        return n;
    const void *p = memmem(d + from, n - from, "VRec", 4);
    return p ? (size_t)((const uint8_t *)p - d) : n;
}

#ifdef FUZZ_ARCHIVE_MUTATOR

/* Record boundaries found by magic: each record runs to the next "VRec". */
typedef struct {
    size_t off, end; /* end = start of the next record (or n) */
    uint8_t type;
} fz_rec;

static FZ_UNUSED size_t fz_scan(const uint8_t *d, size_t n, fz_rec *v, size_t cap)
{
    size_t k = 0;
    for (size_t off = fz_next_magic(d, n, 128); off + 16 <= n && k < cap;) {
        size_t next = fz_next_magic(d, n, off + 4);
        v[k].off = off;
        v[k].end = next;
        v[k].type = d[off + 4];
        k++;
        off = next;
    }
    return k;
}

/* Re-frame records stored as is (codec 0) to end where the next record
 * starts, rebuild each INDEX's entries from the records before it, and
 * relink every COMMIT to its segment and its predecessor. Sizes of BLOCK
 * and COMMIT records are fixed by the format and left alone. */
static FZ_UNUSED void fz_relink(uint8_t *d, size_t n)
{
    enum { CAP = 4096 };
    static fz_rec v[CAP];
    size_t k = fz_scan(d, n, v, CAP);
    size_t seg_first = 0;           /* first record of the current segment */
    uint64_t prev_commit = 0;       /* offset of the previous commit, 0 if none */
    size_t last_index = (size_t)-1; /* record number of the segment's index */
    for (size_t i = 0; i < k; i++) {
        uint8_t *h = d + v[i].off;
        uint8_t type = v[i].type, codec = h[5];
        size_t gap = v[i].end - v[i].off - 16;
        if (codec == 0 && (type == 2 || type == 3 || type == 4 || type == 5) && v[i].end - v[i].off >= 17) {
            fz_st32(h + 8, (uint32_t)gap);
            fz_st32(h + 12, (uint32_t)gap);
        }
        if (type == 5 && v[i].end - v[i].off >= 16 + 16) {
            uint8_t *p = h + 16;
            size_t room = (gap - 16) / 48, cnt = 0;
            for (size_t j = seg_first; j < i && cnt < room; j++, cnt++) {
                uint8_t *e = p + 16 + cnt * 48;
                fz_st64(e, v[j].off);
                fz_st32(e + 8, (uint32_t)(v[j].end - v[j].off));
                e[12] = v[j].type;
                if (v[j].type == 4)
                    fz_st64(p + 8, v[j].off);
            }
            last_index = i;
        }
        if (type == 6 && v[i].end - v[i].off >= 256) {
            uint8_t *p = h + 16;
            fz_st64(p + 8, v[i].off);
            fz_st64(p + 16, seg_first < k ? v[seg_first].off : v[i].off);
            if (last_index != (size_t)-1) {
                fz_st64(p + 24, v[last_index].off);
                fz_st64(p + 32, v[last_index].end - v[last_index].off);
            }
            fz_st64(p + 72, prev_commit);
            prev_commit = v[i].off;
            seg_first = i + 1;
            last_index = (size_t)-1;
        }
    }
}

/* Recompute every hash the reader checks, in dependency order: the header,
 * the record hashes listed by each INDEX, then each COMMIT (in file order,
 * so a predecessor is final before its successor hashes it). */
static FZ_UNUSED void fz_fix_hashes(uint8_t *d, size_t n)
{
    if (n < 128 || memcmp(d, "\x89VMRP\r\n\x1a", 8) != 0)
        return;
    crypto_generichash(d + 96, 32, d, 96, NULL, 0);
    /* Walk by declared sizes; resynchronise on the next magic when lost. */
    enum { CAP = 4096 };
    static size_t commits[CAP];
    size_t nc = 0;
    for (size_t off = 128; off + 16 <= n;) {
        if (memcmp(d + off, "VRec", 4) != 0) {
            off = fz_next_magic(d, n, off + 1);
            continue;
        }
        uint8_t type = d[off + 4];
        uint64_t stored = fz_le32(d + off + 8);
        uint64_t end = off + 16 + stored;
        if (type == 5 && end <= n && stored >= 16) {
            uint8_t *p = d + off + 16;
            uint64_t cnt = fz_le32(p);
            for (uint64_t i = 0; i < cnt && 16 + (i + 1) * 48 <= stored; i++) {
                uint8_t *e = p + 16 + i * 48;
                uint64_t eo = fz_le64(e), es = fz_le32(e + 8);
                if (eo <= n && es <= n - eo && (eo + es <= off || eo >= end)) /* not the index itself */
                    crypto_generichash(e + 16, 32, d + eo, (size_t)es, NULL, 0);
            }
        }
        if (type == 6 && off + 256 <= n && nc < CAP)
            commits[nc++] = off;
        if (end > n || stored == 0) {
            off = fz_next_magic(d, n, off + 4);
            continue;
        }
        off = (size_t)end;
    }
    for (size_t i = 0; i < nc; i++) {
        uint8_t *rec = d + commits[i], *p = rec + 16;
        uint64_t io = fz_le64(p + 24), is = fz_le64(p + 32), po = fz_le64(p + 72);
        if (io <= n && is <= n - io && is < (1u << 30))
            crypto_generichash(p + 40, 32, d + io, (size_t)is, NULL, 0);
        if (po >= 128 && po <= n && n - po >= 256 && po != commits[i])
            crypto_generichash(p + 80, 32, d + po, 184, NULL, 0);
        else if (po == 0)
            memset(p + 80, 0, 32);
        crypto_generichash(p + 112, 32, d, 128, NULL, 0);
    }
}

#ifndef VMRP_FUZZ_NO_MUTATOR /* the regression driver has no libFuzzer */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    fuzz_init_once();
    size = LLVMFuzzerMutate(data, size, max_size);
    switch (seed % 16) {
    case 0:
    case 1:
        break; /* raw mutation: the hash checks themselves */
    case 2:
    case 3:
    case 4:
    case 5:
        fz_relink(data, size);
        fz_fix_hashes(data, size);
        break;
    default:
        fz_fix_hashes(data, size);
        break;
    }
    return size;
}
#endif /* VMRP_FUZZ_NO_MUTATOR */
#endif /* FUZZ_ARCHIVE_MUTATOR */

#endif
