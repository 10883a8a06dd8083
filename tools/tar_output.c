/* tar_output.c - a restore point as one pax tar, for hosts without vmrp.
 * Disks become sparse entries: their holes take no space in the tar. */
#define _GNU_SOURCE /* uselocale */
#include "tar_output.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <locale.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>

static const struct {
    const char *suffix;
    int filter;
} suffixes[] = {
    {".tar", TAR_PLAIN},     {".tar.gz", TAR_GZIP}, {".tgz", TAR_GZIP},
    {".tar.zst", TAR_ZSTD},  {".tzst", TAR_ZSTD},   {".tar.xz", TAR_XZ},
    {".txz", TAR_XZ},
};

int tar_kind(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t k = strlen(suffixes[i].suffix);
        if (n > k && name[n - k - 1] != '/' && strcasecmp(name + n - k, suffixes[i].suffix) == 0)
            return suffixes[i].filter;
    }
    return 0;
}

const char *tar_filter_name(int filter)
{
    return filter == TAR_GZIP ? "gzip" : filter == TAR_ZSTD ? "zstd" : filter == TAR_XZ ? "xz" : NULL;
}

static int add_filter(struct archive *a, int filter)
{
    switch (filter) {
    case TAR_GZIP:
        return archive_write_add_filter_gzip(a);
    case TAR_ZSTD:
        return archive_write_add_filter_zstd(a);
    case TAR_XZ:
        return archive_write_add_filter_xz(a);
    default:
        return ARCHIVE_OK;
    }
}

/* Permission bits only: never set-id or sticky bits from an archive. */
static unsigned member_mode(const tar_options *o, unsigned stored)
{
    unsigned m = stored & 0777;
    return o->private_modes ? m & 0700 : m;
}

static void tell(const tar_options *o, const char *name, const char *type, const char *disk,
                 uint64_t size, unsigned mode)
{
    if (o->member)
        o->member(o->ctx, name, type, disk, size, mode);
}

typedef struct {
    struct archive *a;
    uint64_t pos;
    const unsigned char *zeros;
    size_t zeros_len;
} tar_sink;

/* libarchive's pax writer takes the whole logical stream and skips the
 * bytes that fall in holes, at most 2 GiB a call, so holes are fed from one
 * zero buffer that size: a read-only mapping never backed by memory. A disk
 * of at most TAR_DISK_MAX bytes then takes at most 524,288 calls (a few
 * hundredths of a second); larger ones, which the format allows (2^62) but
 * no real disk has, would take hours of calls and are refused. */
#define ZEROS_MAX ((size_t)1 << 31)
#define TAR_DISK_MAX ((uint64_t)1 << 50)
#define ZEROS_MIN ((size_t)64 << 20)

static const unsigned char *zeros_map(size_t *len)
{
    for (size_t n = sizeof(size_t) > 4 ? ZEROS_MAX : ZEROS_MIN; n >= ZEROS_MIN; n /= 16) {
        void *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) {
            *len = n;
            return p;
        }
    }
    return NULL;
}

static int feed_zeros(tar_sink *s, uint64_t upto)
{
    while (s->pos < upto) {
        size_t n = upto - s->pos < s->zeros_len ? (size_t)(upto - s->pos) : s->zeros_len;
        la_ssize_t took = archive_write_data(s->a, s->zeros, n);
        if (took <= 0)
            return VMRP_E_IO;
        s->pos += (uint64_t)took; /* the writer may take less than it was given */
    }
    return VMRP_OK;
}

static int tar_block(void *ctx, uint64_t off, const void *data, size_t len)
{
    tar_sink *s = ctx;
    int rc = feed_zeros(s, off);
    if (rc)
        return rc;
    if (archive_write_data(s->a, data, len) < 0)
        return VMRP_E_IO;
    s->pos = off + len;
    return VMRP_OK;
}

static struct archive_entry *entry_for(const char *name, uint32_t mode, uint64_t size, time_t mtime)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return NULL;
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, mode);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_mtime(e, mtime, 0);
    return e;
}

static int put_file(struct archive *a, const char *name, uint32_t mode, const void *data,
                    size_t size, time_t mtime, char *err, size_t errlen)
{
    struct archive_entry *e = entry_for(name, mode, size, mtime);
    int ok = e && archive_write_header(a, e) == ARCHIVE_OK &&
             (size == 0 || archive_write_data(a, data, size) == (la_ssize_t)size);
    archive_entry_free(e);
    if (!ok) {
        snprintf(err, errlen, "tar entry %s: %s", name, archive_error_string(a));
        return VMRP_E_IO;
    }
    return VMRP_OK;
}

static int write_point(vmrp_reader *r, uint32_t index, int fd, const tar_options *o, char *err,
                       size_t errlen)
{
    const vmrp_point_info *p = vmrp_reader_point(r, index);
    time_t mtime = (time_t)(p->time_created_us / 1000000);
    struct archive *a = archive_write_new();
    size_t zeros_len = 0;
    const unsigned char *zeros = zeros_map(&zeros_len);
    int rc = VMRP_OK;
    /* A filter that libarchive could only run as an outside program is a
     * warning: refused, rather than depend on what PATH holds. */
    if (!a || !zeros || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        add_filter(a, o->filter) != ARCHIVE_OK || archive_write_open_fd(a, fd) != ARCHIVE_OK) {
        snprintf(err, errlen, "cannot start the tar: %s", a ? archive_error_string(a) : "out of memory");
        rc = VMRP_E_IO;
        goto out;
    }
    unsigned mode = member_mode(o, 0644);
    rc = put_file(a, "vm.json", mode, p->source_metadata, p->source_metadata_size, mtime, err, errlen);
    if (rc == VMRP_OK)
        tell(o, "vm.json", "vmJson", NULL, p->source_metadata_size, mode);
    for (uint32_t f = 0; rc == VMRP_OK && f < p->config_file_count; f++) {
        void *data = NULL;
        size_t size = 0;
        char name[4200];
        rc = vmrp_reader_read_config_file(r, index, f, &data, &size);
        if (rc) {
            snprintf(err, errlen, "%s", vmrp_reader_error_string(r));
            break;
        }
        snprintf(name, sizeof name, "config/%s", p->config_files[f].name);
        mode = member_mode(o, p->config_files[f].mode);
        rc = put_file(a, name, mode, data, size, mtime, err, errlen);
        free(data);
        if (rc == VMRP_OK)
            tell(o, name, "config", NULL, size, mode);
    }
    for (uint32_t d = 0; rc == VMRP_OK && d < p->disk_count; d++) {
        const vmrp_disk_info *di = &p->disks[d];
        if (di->excluded)
            continue;
        if (di->size_bytes > TAR_DISK_MAX) {
            snprintf(err, errlen, "disk %s: %llu bytes is more than tar output takes (1 PiB); "
                     "restore the point to a directory", di->name,
                     (unsigned long long)di->size_bytes);
            rc = VMRP_E_LIMIT;
            break;
        }
        vmrp_extent *x = NULL;
        size_t nx = 0;
        rc = vmrp_reader_disk_extents(r, index, di->name, &x, &nx);
        if (rc) {
            snprintf(err, errlen, "%s", vmrp_reader_error_string(r));
            break;
        }
        char name[128];
        snprintf(name, sizeof name, "disks/%s.img", di->name);
        mode = member_mode(o, 0644);
        struct archive_entry *e = entry_for(name, mode, di->size_bytes, mtime);
        for (size_t i = 0; e && i < nx; i++)
            archive_entry_sparse_add_entry(e, (la_int64_t)x[i].offset, (la_int64_t)x[i].length);
        if (e && nx == 0)
            archive_entry_sparse_add_entry(e, 0, 0); /* all holes */
        free(x);
        if (!e || archive_write_header(a, e) != ARCHIVE_OK) {
            snprintf(err, errlen, "tar entry %s: %s", name, archive_error_string(a));
            archive_entry_free(e);
            rc = VMRP_E_IO;
            break;
        }
        archive_entry_free(e);
        tar_sink s = {a, 0, zeros, zeros_len};
        rc = vmrp_reader_read_disk(r, index, di->name, tar_block, &s);
        if (rc == VMRP_OK)
            rc = feed_zeros(&s, di->size_bytes);
        if (rc)
            snprintf(err, errlen, "disk %s: %s", di->name,
                     rc == VMRP_E_IO ? archive_error_string(a) : vmrp_reader_error_string(r));
        else
            tell(o, name, "disk", di->name, di->size_bytes, mode);
    }
    if (rc == VMRP_OK && archive_write_close(a) != ARCHIVE_OK) {
        snprintf(err, errlen, "cannot finish the tar: %s", archive_error_string(a));
        rc = VMRP_E_IO;
    }
out:
    if (a)
        archive_write_free(a);
    if (zeros)
        munmap((void *)zeros, zeros_len);
    return rc;
}

/* Names in an archive are UTF-8, and a pax header holds UTF-8: libarchive
 * converts names from the locale's character set, which in the C locale
 * cannot hold them. The tar is written in a UTF-8 locale for this thread. */
int tar_write_point(vmrp_reader *r, uint32_t index, int fd, const tar_options *o, char *err,
                    size_t errlen)
{
    locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
    int rc = write_point(r, index, fd, o, err, errlen);
    if (utf8) {
        uselocale(old);
        freelocale(utf8);
    }
    return rc;
}
