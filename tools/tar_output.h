/* tar_output.h - a whole restore point as one pax tar (libarchive),
 * optionally compressed. */
#ifndef VMRP_TAR_OUTPUT_H
#define VMRP_TAR_OUTPUT_H

#include "vmrp.h"

/* Compression of the tar, chosen by the output's name (tar_kind). */
enum { TAR_PLAIN = 1, TAR_GZIP, TAR_ZSTD, TAR_XZ };

/* Told of each member as it is written: its name in the tar, "vmJson",
 * "config" or "disk", the disk's name (disks only), size and mode. */
typedef void (*tar_member_fn)(void *ctx, const char *name, const char *type, const char *disk,
                              uint64_t size, unsigned mode);

typedef struct {
    int filter;         /* TAR_PLAIN, TAR_GZIP, TAR_ZSTD or TAR_XZ */
    int private_modes;  /* 1: members get no group or other permission bits
                           (a restore from an encrypted archive) */
    tar_member_fn member; /* may be NULL */
    void *ctx;
} tar_options;

/* Write point `index` to fd as: vm.json, config/NAME..., disks/NAME.img
 * (sparse entries). Member modes: vm.json and disks 0644, config files their
 * stored permission bits (never set-user-ID, set-group-ID or sticky); with
 * private_modes, less the group and other bits. Messages go to err.
 * Returns a vmrp error code. */
int tar_write_point(vmrp_reader *r, uint32_t index, int fd, const tar_options *o, char *err,
                    size_t errlen);

/* The tar that a file name asks for: TAR_PLAIN for NAME.tar, TAR_GZIP for
 * .tar.gz or .tgz, TAR_ZSTD for .tar.zst or .tzst, TAR_XZ for .tar.xz or
 * .txz (any case); 0 for any other name. */
int tar_kind(const char *name);
/* "gzip", "zstd", "xz", or NULL for TAR_PLAIN. */
const char *tar_filter_name(int filter);

#endif
