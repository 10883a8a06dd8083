/* config_input.h - gathering --config-file inputs: a file, a directory, or
 * an archive of files read with libarchive. */
#ifndef VMRP_CONFIG_INPUT_H
#define VMRP_CONFIG_INPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *name;
    uint32_t mode;
    unsigned char *data;
    size_t size;
} config_item;

typedef struct {
    config_item *items;
    size_t count, cap;
    uint64_t total; /* bytes of all items */
} config_set;

/* 1 when a --config-file of this name is a bundle to unpack: it ends in
 * .tar, .tar.gz, .tgz, .tar.zst, .tzst, .tar.xz, .txz, .tar.bz2, .tbz2,
 * .zip or .cpio. Any other file is stored as given. */
int config_is_bundle_name(const char *path);
/* Add the file(s) behind path. On failure err names the file at fault. */
int config_set_add(config_set *s, const char *path, char *err, size_t errlen);
/* Add the regular files of an in-memory archive (tar, zip, cpio, ...). */
int config_set_add_archive_memory(config_set *s, const void *buf, size_t len, const char *label,
                                  char *err, size_t errlen);
void config_set_free(config_set *s);

#endif
