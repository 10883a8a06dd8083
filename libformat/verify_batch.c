/* verify_batch.c - verify's BLOCK records, checked in batches on the
 * worker pool: each is hashed, decrypted when its segment's keys are open,
 * decompressed and its Block_Id computed, then booked in file order.
 *
 * It is apart from the walk in verify.c because it alone runs on other
 * threads: the walk queues BLOCK records here and reads on while the
 * workers check the previous batch; every other record, and the booking
 * of these, stays on the walk's thread, in file order.
 */
#include <stdlib.h>
#include <string.h>

#include "verify_private.h"

/* BLOCK records wait here in a batch, so that hashing and decompressing
 * them (most of verify's work) runs on every core. */
#define VBATCH_BYTES (16u << 20)
#define VBATCH_MAX 1024u

struct vblock {
    uint64_t off;
    size_t at;  /* where the record's bytes start in the batch buffer */
    record_header h;
    unsigned char rec_hash[HASH_SIZE];
    unsigned char id[HASH_SIZE];
    int problem; /* 1: does not decompress, 2: all zero, 3: does not decrypt */
};

int verify_batch_init(vbatch *vb, uint32_t block_size)
{
    vb->block_size = block_size;
    vb->workers = pool_new(pool_default_threads());
    if (!vb->workers)
        return VMRP_E_NOMEM;
    unsigned n = pool_size(vb->workers);
    vb->codecs = calloc(n, sizeof *vb->codecs);
    vb->raw = calloc(n, sizeof *vb->raw);
    vb->b = malloc(VBATCH_MAX * sizeof *vb->b);
    vb->buf = malloc(VBATCH_BYTES);
    vb->b_other = malloc(VBATCH_MAX * sizeof *vb->b_other);
    vb->buf_other = malloc(VBATCH_BYTES);
    if (!vb->codecs || !vb->raw || !vb->b || !vb->buf || !vb->b_other || !vb->buf_other)
        return VMRP_E_NOMEM;
    for (unsigned i = 0; i < n; i++)
        if (!(vb->codecs[i] = codec_new()) || !(vb->raw[i] = malloc(block_size)))
            return VMRP_E_NOMEM;
    return VMRP_OK;
}

void verify_batch_free(vbatch *vb)
{
    if (vb->in_flight) /* the buffers are the workers' until they finish */
        pool_finish(vb->workers);
    vb->in_flight = 0;
    for (unsigned i = 0; vb->workers && i < pool_size(vb->workers); i++) {
        if (vb->codecs)
            codec_free(vb->codecs[i]);
        if (vb->raw)
            free(vb->raw[i]);
    }
    free(vb->codecs);
    free(vb->raw);
    free(vb->b);
    free(vb->buf);
    free(vb->b_other);
    free(vb->buf_other);
    pool_free(vb->workers);
}

/* Check one BLOCK record of a batch (a worker runs this). */
static void check_block(void *ctx, size_t i, unsigned worker)
{
    const vjob *job = ctx;
    vbatch *vb = job->vb;
    vblock *b = &job->b[i];
    unsigned char *rec = job->buf + b->at;
    hash_buf(b->rec_hash, rec, RH_SIZE + b->h.stored_size);
    if (vb->quick)
        return; /* its hash, checked against the index, is all that is asked */
    const unsigned char *payload = rec + RH_SIZE;
    size_t len = b->h.stored_size;
    if (b->h.flags & RECORD_FLAG_ENCRYPTED) {
        if (!vb->seg)
            return; /* no key: its hash is all that can be checked */
        if (crypt_open_record(vb->ck->collection_id, vb->seg->data_key, b->off, rec,
                              RH_SIZE + len) != VMRP_OK) {
            b->problem = 3;
            return;
        }
        payload += RECORD_NONCE_SIZE;
        len -= RECORD_CRYPTO_OVERHEAD;
    }
    unsigned char *raw = vb->raw[worker];
    if (codec_decompress(vb->codecs[worker], b->h.codec, payload, len, raw, vb->block_size) !=
        VMRP_OK)
        b->problem = 1;
    else if (is_zero(raw, vb->block_size))
        b->problem = 2;
    else
        id_hash(b->id, raw, vb->block_size, vb->seg ? vb->seg->id_key : NULL);
}

/* Book checked BLOCK records in order. */
static int book_blocks(vstate *v, const vblock *blocks, size_t n)
{
    vbatch *vb = &v->batch;
    int rc = VMRP_OK;
    for (size_t i = 0; i < n && rc == VMRP_OK; i++) {
        const vblock *b = &blocks[i];
        rc = verify_push_seg(v, b->off, RH_SIZE + b->h.stored_size, REC_BLOCK, b->rec_hash);
        if (rc == VMRP_OK && b->problem == 1)
            rc = verify_bad(v, b->off, "record does not decompress to its Raw_Size");
        else if (rc == VMRP_OK && b->problem == 2)
            rc = verify_bad(v, b->off, "an all-zero block is stored");
        else if (rc == VMRP_OK && b->problem == 3)
            rc = verify_bad(v, b->off, "record does not decrypt with its segment's key (altered, moved, "
                                "or sealed with another key)");
        else if (rc == VMRP_OK && v->encrypted && !vb->seg)
            continue; /* contents not checked without the key */
        else if (rc == VMRP_OK) {
            /* quick: the maps still name it, though its Block_Id is not known */
            known_block k = {b->off, {0}, (uint16_t)v->points}; /* < Max_Points <= 65535 */
            if (!vb->quick) {
                v->rep->blocks++;
                verify_fingerprint(v->key, b->id, k.fp);
            }
            int pushed = offlist_push(v->blocks, &k);
            if (pushed)
                rc = verify_tmp_failed(v, pushed, offlist_dir(v->blocks));
        }
    }
    return rc;
}

/* Wait for the batch in flight, if any, and book it. Its records all lie
 * before anything read since, so its errors come first. */
int verify_land_blocks(vstate *v)
{
    vbatch *vb = &v->batch;
    if (!vb->in_flight)
        return VMRP_OK;
    pool_finish(vb->workers);
    vb->in_flight = 0;
    return book_blocks(v, vb->job.b, vb->job.n);
}

/* A full batch: hand it to the workers and fill the other set meanwhile. */
static int launch_blocks(vstate *v)
{
    vbatch *vb = &v->batch;
    int rc = verify_land_blocks(v);
    if (rc)
        return rc;
    vb->ck = v->ck;
    vb->seg = v->seg_keys ? &v->ck->segs[v->points] : NULL;
    vb->job = (vjob){vb, vb->b, vb->buf, vb->n};
    pool_start(vb->workers, vb->n, check_block, &vb->job);
    vb->in_flight = 1;
    vblock *b = vb->b;
    unsigned char *buf = vb->buf;
    vb->b = vb->b_other;
    vb->buf = vb->buf_other;
    vb->b_other = b;
    vb->buf_other = buf;
    vb->n = 0;
    vb->used = 0;
    return VMRP_OK;
}

/* Check and book every waiting BLOCK record, before a record that must be
 * handled in order after them. */
int verify_flush_blocks(vstate *v)
{
    int rc = v->batch.n ? launch_blocks(v) : VMRP_OK;
    return rc ? rc : verify_land_blocks(v);
}

int verify_queue_block(vstate *v, uint64_t off, const record_header *h)
{
    vbatch *vb = &v->batch;
    size_t len = RH_SIZE + h->stored_size;
    if (vb->n == VBATCH_MAX || vb->used + len > VBATCH_BYTES) {
        int rc = launch_blocks(v);
        if (rc)
            return rc;
    }
    vblock *b = &vb->b[vb->n++];
    b->off = off;
    b->at = vb->used;
    b->h = *h;
    b->problem = 0;
    memcpy(vb->buf + vb->used, v->payload, len);
    vb->used += len;
    return VMRP_OK;
}
