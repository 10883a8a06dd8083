/* spill.c - a list of fixed-size entries that grows without growing memory.
 *
 * Why it exists: the writer lists every record of the segment it writes in
 * the segment's INDEX, written at commit (48 bytes per record). Held in
 * memory, that list grows with the disk: 16M records, 768 MiB, for a 1 TiB
 * disk at 64 KiB blocks. Here the first `keep` entries are held in memory;
 * each time that buffer is full it is appended whole to an anonymous
 * temporary file, so memory stays at `keep` entries whatever the count and
 * the rest takes 48 bytes per record of disk space until the writer is
 * freed. An archive of fewer records never creates the file. Verify keeps
 * its lists (offlist.c) and a segment's MAP records the same way.
 *
 * The file is made with O_TMPFILE in the directory the writer asks for (the
 * archive's, so the space is taken where the archive lives), else in
 * $TMPDIR (or /tmp) where that directory cannot hold one, else with
 * mkstemp() and unlink(): it has no name, and closing it frees it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmrp_private.h"

struct spill {
    size_t entry_size;
    size_t keep;        /* entries held in memory before they are written out */
    unsigned char *mem; /* the newest entries, not yet in the file */
    size_t nmem, capmem;
    uint64_t nfile;     /* entries in the file, before those in mem */
    int fd;             /* -1 until the first chunk is written out */
    char *dir;          /* where the file is, or was last tried */
};

/* Read back in pieces of about this size. */
#define SPILL_READ_BYTES ((size_t)1 << 20)

spill *spill_new(size_t entry_size, size_t keep, const char *dir)
{
    spill *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->entry_size = entry_size ? entry_size : 1;
    s->keep = keep ? keep : 1;
    s->fd = -1;
    if (!(s->dir = strdup(dir ? dir : io_tmp_dir()))) {
        free(s);
        return NULL;
    }
    return s;
}

void spill_free(spill *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s->mem);
    free(s->dir);
    free(s);
}

uint64_t spill_count(const spill *s)
{
    return s->nfile + s->nmem;
}

const char *spill_dir(const spill *s)
{
    return s->dir;
}

/* Move the entries held in memory to the end of the file. */
static int spill_out(spill *s)
{
    if (s->fd < 0) {
        int fd = io_tmpfile(&s->dir);
        if (fd < 0)
            return fd;
        s->fd = fd;
    }
    int rc = io_pwrite_full(s->fd, s->mem, s->nmem * s->entry_size, s->nfile * s->entry_size);
    if (rc)
        return rc;
    s->nfile += s->nmem;
    s->nmem = 0;
    return 0;
}

int spill_append_n(spill *s, const void *entries, size_t count)
{
    const unsigned char *from = entries;
    while (count > 0) {
        if (s->nmem == s->keep) {
            int rc = spill_out(s);
            if (rc)
                return rc;
        }
        if (s->nmem == s->capmem) {
            size_t cap = s->capmem ? s->capmem * 2 : 256;
            if (cap > s->keep)
                cap = s->keep;
            unsigned char *bigger = realloc(s->mem, cap * s->entry_size);
            if (!bigger)
                return -ENOMEM;
            s->mem = bigger;
            s->capmem = cap;
        }
        size_t take = s->capmem - s->nmem < count ? s->capmem - s->nmem : count;
        memcpy(s->mem + s->nmem * s->entry_size, from, take * s->entry_size);
        s->nmem += take;
        from += take * s->entry_size;
        count -= take;
    }
    return 0;
}

int spill_append(spill *s, const void *entry)
{
    return spill_append_n(s, entry, 1);
}

int spill_read(spill *s, uint64_t first, size_t count, void *out)
{
    if (first > spill_count(s) || count > spill_count(s) - first)
        return -EINVAL;
    unsigned char *to = out;
    if (first < s->nfile) {
        size_t from_file = s->nfile - first < count ? (size_t)(s->nfile - first) : count;
        int rc = io_pread_full(s->fd, to, from_file * s->entry_size, first * s->entry_size);
        if (rc)
            return rc;
        to += from_file * s->entry_size;
        first += from_file;
        count -= from_file;
    }
    if (count > 0)
        memcpy(to, s->mem + (first - s->nfile) * s->entry_size, count * s->entry_size);
    return 0;
}

void spill_clear(spill *s)
{
    /* the file's space is given back; its descriptor is kept for reuse */
    if (s->nfile > 0 && s->fd >= 0 && ftruncate(s->fd, 0) != 0) {
        /* not fatal: the space is freed when the file is closed */
    }
    s->nfile = 0;
    s->nmem = 0;
}

int spill_each(spill *s, spill_fn fn, void *ctx)
{
    if (s->nfile > 0) {
        size_t per = SPILL_READ_BYTES / s->entry_size;
        if (per == 0)
            per = 1;
        if (per > s->nfile)
            per = (size_t)s->nfile;
        unsigned char *buf = malloc(per * s->entry_size);
        if (!buf)
            return -ENOMEM;
        for (uint64_t at = 0; at < s->nfile;) {
            size_t n = s->nfile - at < per ? (size_t)(s->nfile - at) : per;
            int rc = io_pread_full(s->fd, buf, n * s->entry_size, at * s->entry_size);
            if (rc == 0)
                rc = fn(ctx, buf, n);
            if (rc) {
                free(buf);
                return rc;
            }
            at += n;
        }
        free(buf);
    }
    return s->nmem ? fn(ctx, s->mem, s->nmem) : 0;
}
