/* verify_state.c - what every check of verify shares: the fingerprints it
 * keeps of hashes, how it reports damage and failures of this machine, and
 * the booking of the segment's records for its INDEX.
 *
 * It is apart so that the walk (verify.c) can call the checks of POINT and
 * BLOCK records (verify_point.c, verify_batch.c) while they, in turn, call
 * only this file: verify.c -> verify_point.c, verify_batch.c ->
 * verify_state.c, never back.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify_private.h"

void verify_fingerprint(const fp_key key, const unsigned char hash[HASH_SIZE],
                        unsigned char fp[FP_SIZE])
{
    unsigned char h[crypto_shorthash_siphashx24_BYTES];
    crypto_shorthash_siphashx24(h, hash, HASH_SIZE, key);
    memcpy(fp, h, FP_SIZE);
}

int verify_bad(vstate *v, uint64_t off, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    v->rep->error_offset = off;
    v->rep->error_point = v->points + 1;
    return err_set(&v->r->err, VMRP_E_CORRUPT, "%s: point %u, offset %llu: %s", v->label,
                   v->points + 1, (unsigned long long)off, msg);
}

int verify_grow(unsigned char **buf, size_t *cap, size_t want)
{
    if (want <= *cap)
        return VMRP_OK;
    unsigned char *bigger = realloc(*buf, want);
    if (!bigger)
        return VMRP_E_NOMEM;
    *buf = bigger;
    *cap = want;
    return VMRP_OK;
}

int verify_tmp_failed(vstate *v, int rc, const char *dir)
{
    if (rc == -ENOMEM)
        return err_set(&v->r->err, VMRP_E_NOMEM, "out of memory");
    return err_set(&v->r->err, VMRP_E_IO, "%s: verify's temporary file in %s: %s", v->label,
                   dir, strerror(-rc));
}

int verify_push_seg(vstate *v, uint64_t off, uint32_t size, uint8_t type,
                    const unsigned char hash[HASH_SIZE])
{
    if (off != v->seg_end) /* the walk books records in file order */
        return verify_bad(v, off, "record out of place in its segment");
    seg_record rec;
    memset(&rec, 0, sizeof rec); /* its padding goes to a file too */
    rec.size = size;
    rec.type = type;
    verify_fingerprint(v->key, hash, rec.fp);
    int rc = spill_append(v->seg, &rec);
    if (rc)
        return verify_tmp_failed(v, rc, spill_dir(v->seg));
    v->seg_end = off + size;
    return VMRP_OK;
}
