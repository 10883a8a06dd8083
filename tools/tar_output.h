/* tar_output.h - a whole restore point as one pax tar (libarchive). */
#ifndef VMRP_TAR_OUTPUT_H
#define VMRP_TAR_OUTPUT_H

#include "vmrp.h"

/* Write point `index` to fd as: vm.json, config/NAME..., disks/NAME.img
 * (sparse entries). Messages go to err. Returns a vmrp error code. */
int tar_write_point(vmrp_reader *r, uint32_t index, int fd, char *err, size_t errlen);

#endif
