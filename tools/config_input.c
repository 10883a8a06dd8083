/* config_input.c - --config-file: a file, a directory, or an archive. */
#define _GNU_SOURCE
#include "config_input.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "vmrp.h"

#define CONFIG_FILE_MAX (64u << 20)
/* What one point may hold (spec 11: 4096 config files), and what pack keeps
 * in memory for them: a small bundle must not unpack to gigabytes. */
#define CONFIG_COUNT_MAX 4096u
#define CONFIG_TOTAL_MAX (256u << 20)

static int push(config_set *s, const char *from, const char *name, uint32_t mode,
                unsigned char *data, size_t size, char *err, size_t errlen)
{
    if (!vmrp_config_name_valid(name)) {
        snprintf(err, errlen, "%s: entry '%s' is not a safe relative name (no '..', no leading '/')",
                 from, name);
        free(data);
        return -1;
    }
    if (s->count == CONFIG_COUNT_MAX || size > CONFIG_TOTAL_MAX - s->total) {
        snprintf(err, errlen, "%s: more than %u config files or %u MiB in all (at '%s')", from,
                 CONFIG_COUNT_MAX, CONFIG_TOTAL_MAX >> 20, name);
        free(data);
        return -1;
    }
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->items[i].name, name) == 0) {
            snprintf(err, errlen, "%s: two config files have this name", name);
            free(data);
            return -1;
        }
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        config_item *bigger = realloc(s->items, cap * sizeof *bigger);
        if (!bigger) {
            free(data);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        s->items = bigger;
        s->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) {
        free(data);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->items[s->count++] = (config_item){copy, mode & 07777, data, size};
    s->total += size;
    return 0;
}

void config_set_free(config_set *s)
{
    for (size_t i = 0; i < s->count; i++) {
        free(s->items[i].name);
        free(s->items[i].data);
    }
    free(s->items);
    memset(s, 0, sizeof *s);
}

/* The data of the current entry into data[size] (zeroed by the caller):
 * block by block at their offsets, so that the holes of a sparse entry
 * stay zeros. NULL, or what went wrong. */
static const char *read_entry(struct archive *a, unsigned char *data, uint64_t size)
{
    const void *block;
    size_t len;
    la_int64_t at;
    int r;
    while ((r = archive_read_data_block(a, &block, &len, &at)) == ARCHIVE_OK ||
           r == ARCHIVE_WARN) {
        if (at < 0 || (uint64_t)at > size || len > size - (uint64_t)at)
            return "data past its stated size";
        if (len)
            memcpy(data + at, block, len);
    }
    return r == ARCHIVE_EOF ? NULL : archive_error_string(a) ? archive_error_string(a) : "read error";
}

/* Read the entries of an open libarchive reader. */
static int take_archive(config_set *s, struct archive *a, const char *label, char *err,
                        size_t errlen)
{
    struct archive_entry *e;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        const char *name = archive_entry_pathname(e);
        mode_t type = archive_entry_filetype(e);
        if (type == AE_IFDIR)
            continue;
        if (!name || type != AE_IFREG) {
            snprintf(err, errlen, "%s: entry '%s' is not a regular file", label, name ? name : "?");
            return -1;
        }
        while (name[0] == '.' && name[1] == '/')
            name += 2; /* "./etc/x" as written by tar -C dir . */
        la_int64_t size = archive_entry_size(e);
        if (size < 0 || size > CONFIG_FILE_MAX) {
            snprintf(err, errlen, "%s: entry '%s' is larger than 64 MiB", label, name);
            return -1;
        }
        if ((uint64_t)size > CONFIG_TOTAL_MAX - s->total) {
            snprintf(err, errlen, "%s: more than %u MiB of config files in all (at '%s')", label,
                     CONFIG_TOTAL_MAX >> 20, name);
            return -1;
        }
        unsigned char *data = calloc(1, size ? (size_t)size : 1);
        if (!data) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        const char *why = read_entry(a, data, (uint64_t)size);
        if (why) {
            snprintf(err, errlen, "%s: entry '%s': %s", label, name, why);
            free(data);
            return -1;
        }
        if (push(s, label, name, (uint32_t)archive_entry_perm(e), data, (size_t)size, err, errlen))
            return -1;
    }
    if (r != ARCHIVE_EOF) {
        snprintf(err, errlen, "%s: %s", label, archive_error_string(a));
        return -1;
    }
    return 0;
}

static struct archive *new_reader(void)
{
    struct archive *a = archive_read_new();
    if (a) {
        /* The bundle formats the suffixes name, and no other: mtree, for
         * one, would read files named inside it from this host. */
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        archive_read_support_format_gnutar(a);
        archive_read_support_format_zip(a);
        archive_read_support_format_cpio(a);
    }
    return a;
}

int config_set_add_archive_memory(config_set *s, const void *buf, size_t len, const char *label,
                                  char *err, size_t errlen)
{
    struct archive *a = new_reader();
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc;
    if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK) {
        snprintf(err, errlen, "%s: %s", label, archive_error_string(a));
        rc = -1;
    } else {
        rc = take_archive(s, a, label, err, errlen);
    }
    archive_read_free(a);
    return rc;
}

int config_is_bundle_name(const char *path)
{
    static const char *const suffixes[] = {".tar",     ".tar.gz", ".tgz",  ".tar.zst", ".tzst",
                                           ".tar.xz",  ".txz",    ".tar.bz2", ".tbz2", ".zip",
                                           ".cpio"};
    size_t len = strlen(path);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t n = strlen(suffixes[i]);
        if (len > n && strcmp(path + len - n, suffixes[i]) == 0)
            return 1;
    }
    return 0;
}

/* A file named as a bundle (config_is_bundle_name) is unpacked, and must
 * be one; any other file is stored as it is, whatever its bytes look like
 * (a cloud-init seed.iso stays an ISO image). */
static int add_file(config_set *s, const char *path, const char *name, const struct stat *st,
                    int may_be_bundle, char *err, size_t errlen)
{
    char *data = NULL;
    size_t size = 0;
    if (cli_read_file(path, CONFIG_FILE_MAX, &data, &size, err, errlen))
        return -1;
    if (may_be_bundle && config_is_bundle_name(path)) {
        int rc = config_set_add_archive_memory(s, data, size, path, err, errlen);
        free(data);
        return rc;
    }
    return push(s, path, name, (uint32_t)st->st_mode, (unsigned char *)data, size, err, errlen);
}

static int add_dir(config_set *s, const char *dir, const char *prefix, int depth, char *err,
                   size_t errlen)
{
    if (depth > 64) {
        snprintf(err, errlen, "%s: directories nested too deeply", dir);
        return -1;
    }
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    if (n < 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *base = list[i]->d_name;
        if (rc == 0 && strcmp(base, ".") != 0 && strcmp(base, "..") != 0) {
            char path[8192], name[8192];
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", dir, base);
            snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "/" : "", base);
            if (lstat(path, &st) != 0) {
                snprintf(err, errlen, "%s: %s", path, strerror(errno));
                rc = -1;
            } else if (S_ISDIR(st.st_mode)) {
                rc = add_dir(s, path, name, depth + 1, err, errlen);
            } else if (S_ISREG(st.st_mode)) {
                rc = add_file(s, path, name, &st, 0, err, errlen);
            } else {
                snprintf(err, errlen, "%s: not a regular file or directory", path);
                rc = -1;
            }
        }
        free(list[i]);
    }
    free(list);
    return rc;
}

int config_set_add(config_set *s, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode))
        return add_dir(s, path, "", 0, err, errlen);
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file or directory", path);
        return -1;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return add_file(s, path, base, &st, 1, err, errlen);
}
