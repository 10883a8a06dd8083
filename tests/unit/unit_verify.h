/* unit_verify.h - verify an archive twice: as configured, and with verify's
 * lists moved to temporary files every few entries.
 *
 * Verify keeps what later records need (blocks, the segment's records, its
 * maps) in memory up to a bound and in temporary files past it. Archives
 * small enough for a unit test never reach the bound, so each verification
 * here runs a second time with the bound set to 2 entries (2 bytes of maps):
 * both must give the same result, the same message and the same report.
 * Include after unit.h.
 */
#ifndef VMRP_UNIT_VERIFY_H
#define VMRP_UNIT_VERIFY_H

#include "vmrp_private.h"

/* fd: a file (it is read again from its start). */
static inline int ut_verify_spilled_too(vmrp_reader *r, int fd, const char *label,
                                        vmrp_verify_report *rep)
{
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    int rc = vmrp_reader_verify(r, fd, label, rep);
    char *msg = strdup(vmrp_reader_error_string(r));
    vmrp_verify_report again;
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    r->verify_keep = 2;
    int rc_again = vmrp_reader_verify(r, fd, label, &again);
    r->verify_keep = 0;
    ck_assert_msg(rc_again == rc && strcmp(msg, vmrp_reader_error_string(r)) == 0,
                  "%s: verify with its lists in memory gave %d (%s), with them in files %d (%s)",
                  label, rc, msg, rc_again, vmrp_reader_error_string(r));
    ck_assert_msg(memcmp(rep, &again, sizeof again) == 0,
                  "%s: verify's report differs with its lists in files", label);
    free(msg);
    return rc;
}

#endif
