/* reader_record.c - one record of an open archive, found through its INDEX
 * entry: read, checked against its Record_Hash, then decoded (decrypted and
 * decompressed) into exactly the raw size its type needs. Nothing is
 * allocated for a size the index does not vouch for. */
#include <stdlib.h>
#include <string.h>

#include "vmrp_private.h"

int reader_load_record_into(vmrp_reader *r, const rec_ref *ref, uint8_t want_type,
                            unsigned char *scratch, size_t scratch_cap, unsigned char *out,
                            size_t raw_cap, const char *what)
{
    if (!ref)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: %s is not a committed record", r->label, what);
    unsigned long long off = (unsigned long long)ref->offset;
    if (ref->type != want_type)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: %s at offset %llu is not a record of the right type",
                       r->label, what, off);
    if (ref->size > scratch_cap)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: %s at offset %llu is larger than its type allows",
                       r->label, what, off);
    int rc = io_pread_full(r->fd, scratch, ref->size, ref->offset);
    if (rc)
        return reader_read_failed(r, rc, ref->offset);
    const char *why = record_check_decode(r->codec, r->crypt, ref, scratch, want_type,
                                          r->coll.block_size, r->strict, out, raw_cap);
    if (why)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: %s at offset %llu: %s", r->label, what, off,
                       why);
    return VMRP_OK;
}

const char *record_check_decode(codec_ctx *codec, const crypt_keys *ck, const rec_ref *ref,
                                unsigned char *bytes, uint8_t want_type, uint32_t block_size,
                                int strict, unsigned char *out, size_t raw_cap)
{
    unsigned char h[HASH_SIZE];
    if (ref->no_hash)
        return "was looked up without its hash (internal error)";
    hash_buf(h, bytes, ref->size);
    if (memcmp(h, ref->hash, HASH_SIZE) != 0)
        return "does not match its hash in the index (damaged or altered)";
    return record_decode(codec, ck, ref, bytes, want_type, block_size, strict, out, raw_cap);
}

const char *record_decode(codec_ctx *codec, const crypt_keys *ck, const rec_ref *ref,
                          unsigned char *bytes, uint8_t want_type, uint32_t block_size,
                          int strict, unsigned char *out, size_t raw_cap)
{
    record_header h2;
    const char *why = NULL;
    if (record_header_decode_ex(bytes, block_size, strict, ck != NULL, &h2, &why) != VMRP_OK)
        return why;
    if (h2.type != want_type || RH_SIZE + (uint64_t)h2.stored_size != ref->size)
        return "header disagrees with the index";
    if (h2.raw_size != raw_cap)
        return "raw size is not what its type needs";
    const unsigned char *payload = bytes + RH_SIZE;
    size_t payload_len = h2.stored_size;
    if (h2.flags & RECORD_FLAG_ENCRYPTED) {
        if (!ck->unlocked || ref->segment >= ck->nsegs)
            return "is encrypted and its key is not open";
        if (crypt_open_record(ck->collection_id, ck->segs[ref->segment].data_key, ref->offset,
                              bytes, ref->size) != VMRP_OK)
            return "does not decrypt with its segment's key (altered, moved, or sealed with "
                   "another key)";
        payload += RECORD_NONCE_SIZE;
        payload_len -= RECORD_CRYPTO_OVERHEAD;
    }
    if (codec_decompress(codec, h2.codec, payload, payload_len, out, raw_cap) != 0)
        return "does not decompress";
    return NULL;
}

int reader_load_record(vmrp_reader *r, const rec_ref *ref, uint8_t want_type,
                       unsigned char **out, size_t *out_len, const char *what)
{
    unsigned char hdr[RH_SIZE];
    record_header h;
    const char *why = NULL;
    *out = NULL;
    if (!ref)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: %s is not a committed record", r->label, what);
    if (ref->size < RH_SIZE)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: %s at offset %llu is too short", r->label, what,
                       (unsigned long long)ref->offset);
    int rc = io_pread_full(r->fd, hdr, RH_SIZE, ref->offset);
    if (rc)
        return reader_read_failed(r, rc, ref->offset);
    if (record_header_decode_ex(hdr, r->coll.block_size, r->strict, r->coll.encrypted, &h,
                                &why) != VMRP_OK)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: %s at offset %llu: %s", r->label, what,
                       (unsigned long long)ref->offset, why);
    /* Nothing is allocated for sizes the index does not vouch for. */
    if (h.type != want_type || RH_SIZE + (uint64_t)h.stored_size != ref->size)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: %s at offset %llu: header disagrees with the index",
                       r->label, what, (unsigned long long)ref->offset);
    unsigned char *scratch = malloc(ref->size);
    unsigned char *raw = malloc(h.raw_size);
    if (!scratch || !raw) {
        free(scratch);
        free(raw);
        return err_set(&r->err, VMRP_E_NOMEM, "%s: out of memory reading %s", r->label, what);
    }
    rc = reader_load_record_into(r, ref, want_type, scratch, ref->size, raw, h.raw_size, what);
    free(scratch);
    if (rc) {
        free(raw);
        return rc;
    }
    *out = raw;
    *out_len = h.raw_size;
    return VMRP_OK;
}
