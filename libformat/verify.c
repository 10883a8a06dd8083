/* verify.c - sequential verification of a whole archive (a file or a pipe).
 *
 * Records are hashed as they pass; a segment's hashes are checked when its
 * INDEX arrives, and the index when its COMMIT arrives. Every BLOCK is
 * decompressed and hashed, so every map entry is checked against the data
 * it names. Nothing is seeked, so the same pass serves files, pipes and
 * tapes.
 *
 * What must be remembered for later records (every block, for the maps
 * that name it; the segment's records, for its INDEX; its MAP records, for
 * its POINT) is held in memory up to a bound and beyond it in temporary
 * files in $TMPDIR, so memory does not grow with the archive.
 *
 * This file is the walk itself: reading the stream, handing each record
 * to its check, KEYS, INDEX and COMMIT. What a POINT record is checked
 * against is in verify_point.c; BLOCK records are checked in parallel
 * batches by verify_batch.c. What they all share (fingerprints, reporting
 * damage, booking the segment's records) is in verify_state.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "verify_private.h"

typedef struct {
    int fd;
    unsigned char *buf;
    size_t cap, start, end;
    uint64_t pos; /* stream offset of buf[start] */
    int eof;
} stream;

/* The buffer, once empty, from the next bytes of the stream; at its end
 * eof is set. Returns 0 or a negative errno. */
static int stream_refill(stream *s)
{
    size_t got = 0;
    int rc = io_read_full(s->fd, s->buf, s->cap, &got);
    if (rc)
        return rc;
    s->start = 0;
    s->end = got;
    if (got < s->cap)
        s->eof = 1;
    return 0;
}

/* Read exactly n bytes; returns 1 at a clean end before any byte, 2 when
 * the stream ends inside, 0 on success, negative errno on error. */
static int stream_read(stream *s, unsigned char *out, size_t n)
{
    size_t done = 0;
    while (done < n) {
        if (s->start == s->end) {
            if (s->eof)
                return done == 0 ? 1 : 2;
            int rc = stream_refill(s);
            if (rc)
                return rc;
            continue;
        }
        size_t take = s->end - s->start;
        if (take > n - done)
            take = n - done;
        memcpy(out + done, s->buf + s->start, take);
        s->start += take;
        s->pos += take;
        done += take;
    }
    return 0;
}

/* Keep the last 8 bytes of what was read (have: how many are kept). */
static void keep_last8(unsigned char last[8], size_t *have, const unsigned char *p, size_t n)
{
    if (n >= 8) {
        memcpy(last, p + n - 8, 8);
        *have = 8;
    } else {
        size_t keep = *have + n > 8 ? 8 - n : *have;
        memmove(last, last + *have - keep, keep);
        memcpy(last + keep, p, n);
        *have = keep + n;
    }
}

/* Read to the end of the stream; report in *ends whether it ends with
 * End_Magic, the last bytes of every complete commit. Returns 0, or a
 * negative errno when a read fails: bytes not read are not judged. */
static int stream_ends_with_commit(stream *s, int *ends)
{
    unsigned char last[8] = {0}, chunk[4096];
    size_t have = 0;
    for (;;) {
        size_t want = sizeof chunk;
        /* stream_read wants exact sizes; take what the buffer holds. */
        if (s->start == s->end && !s->eof) {
            int rc = stream_refill(s);
            if (rc)
                return rc;
        }
        size_t n = s->end - s->start;
        if (n == 0)
            break;
        if (n > want)
            n = want;
        memcpy(chunk, s->buf + s->start, n);
        s->start += n;
        s->pos += n;
        keep_last8(last, &have, chunk, n);
    }
    *ends = have == 8 && memcmp(last, CM_END_MAGIC, 8) == 0;
    return 0;
}

/* Beyond these, verify's lists go to temporary files: every BLOCK and FILE
 * record (24 and 56 bytes each), the segment's records (20 bytes each),
 * its MAP records as stored and where each of them is (40 bytes each; a
 * hostile segment may hold millions of empty ones). Lookups of blocks are
 * sorted per map, so each page of the file is read once per map at most. */
#define KEEP_BLOCKS (256u << 10)
#define KEEP_RECORDS (256u << 10)
#define KEEP_MAP_BYTES (8u << 20)
#define KEEP_MAPS (16u << 10)

static void clear_segment(vstate *v)
{
    offlist_clear(v->maps);
    spill_clear(v->map_bytes);
    spill_clear(v->seg);
    v->seg_end = v->segment_start;
    if (v->have_point)
        point_meta_clear(&v->point);
    v->have_point = 0;
}

/* A segment's INDEX is checked as it streams in (index_stream): it may
 * list 2^26 records (3 GiB), and none of it is kept. Problems are noted as
 * they appear and reported by index_check_end(), once the record is known
 * to be whole (a cut one is an interrupted append, not damage).
 * 32 KiB pieces: not a multiple of 48, so entries are cut between pieces
 * all the time, not only in rare INDEX sizes, and that path is always
 * exercised. */
#define INDEX_PIECE (32u << 10)

#define INDEX_WINDOW 512u

typedef struct {
    vstate *v;
    index_stream s;
    uint64_t differs; /* the offset of the first record unlike its entry */
    uint64_t at;      /* the offset of the next record of the segment */
    seg_record window[INDEX_WINDOW]; /* the segment's records, read back in turn */
    uint64_t window_first;
    size_t window_n;
    int read_failed;  /* -errno of reading them back */
} index_check;

static void index_check_init(vstate *v, index_check *ic, uint64_t off,
                             const unsigned char header[RH_SIZE], uint64_t len)
{
    commit_info c = {0};
    c.segment_offset = v->segment_start;
    c.index_offset = off;
    index_stream_init(&ic->s, header, len, &c, v->strict);
    ic->v = v;
    ic->differs = UINT64_MAX;
    ic->at = v->segment_start;
    ic->window_first = 0;
    ic->window_n = 0;
    ic->read_failed = 0;
}

/* The segment's record i, asked for in increasing order; NULL when it
 * could not be read back (ic->read_failed). */
static const seg_record *segment_record(index_check *ic, uint64_t i)
{
    if (i < ic->window_first || i - ic->window_first >= ic->window_n) {
        uint64_t left = spill_count(ic->v->seg) - i;
        size_t n = left < INDEX_WINDOW ? (size_t)left : INDEX_WINDOW;
        int rc = spill_read(ic->v->seg, i, n, ic->window);
        if (rc) {
            ic->read_failed = rc;
            return NULL;
        }
        ic->window_first = i;
        ic->window_n = n;
    }
    return &ic->window[i - ic->window_first];
}

/* Entry i against the segment's record i, as the walk booked it. */
static int index_check_entry(void *ctx, const rec_ref *ref, uint32_t i)
{
    index_check *ic = ctx;
    const vstate *v = ic->v;
    if (i >= spill_count(v->seg) || ic->differs != UINT64_MAX || ic->read_failed)
        return VMRP_OK;
    const seg_record *mine = segment_record(ic, i);
    if (!mine)
        return VMRP_OK;
    unsigned char fp[FP_SIZE];
    verify_fingerprint(v->key, ref->hash, fp);
    if (ref->offset != ic->at || ref->size != mine->size || ref->type != mine->type ||
        memcmp(fp, mine->fp, FP_SIZE) != 0)
        ic->differs = ic->at;
    ic->at += mine->size;
    return VMRP_OK;
}

/* After the whole payload: the problems, in the order a reader meets them,
 * and the INDEX's Record_Hash. */
static int index_check_end(vstate *v, index_check *ic, uint64_t off,
                           unsigned char hash[HASH_SIZE])
{
    if (ic->read_failed)
        return verify_tmp_failed(v, ic->read_failed, spill_dir(v->seg));
    const char *why = index_stream_end(&ic->s, hash);
    if (why)
        return verify_bad(v, off, "index: %s", why);
    if (ic->s.walk.count != spill_count(v->seg))
        return verify_bad(v, off, "index lists %u records, the segment holds %llu", ic->s.walk.count,
                   (unsigned long long)spill_count(v->seg));
    if (ic->differs != UINT64_MAX)
        return verify_bad(v, ic->differs,
                   "record does not match its index entry (damaged, altered or moved)");
    if (!v->have_point || ic->s.walk.point_offset != v->point_offset)
        return verify_bad(v, off, "index names no valid point record");
    return VMRP_OK;
}

static int check_commit(vstate *v, uint64_t off, const unsigned char rec[CM_RECORD_SIZE],
                        uint64_t index_offset, const unsigned char index_hash[HASH_SIZE],
                        uint64_t index_size)
{
    commit_info c;
    const char *why = NULL;
    if (commit_decode_ex(rec, off, v->strict, &c, &why) != VMRP_OK)
        return verify_bad(v, off, "commit: %s", why);
    if (c.sequence != v->points + 1)
        return verify_bad(v, off, "commit sequence %u, expected %u", c.sequence, v->points + 1);
    if (c.segment_offset != v->segment_start || c.index_offset != index_offset ||
        c.index_size != index_size || memcmp(c.index_hash, index_hash, HASH_SIZE) != 0)
        return verify_bad(v, off, "commit does not match the index before it");
    if (v->points > 0 && (c.prev_offset != v->last.commit_offset ||
                          memcmp(c.prev_hash, v->last.hash, HASH_SIZE) != 0))
        return verify_bad(v, off, "commit does not chain to the previous commit");
    if (memcmp(c.header_hash, v->header_hash, HASH_SIZE) != 0)
        return verify_bad(v, off, "commit does not match the file header");
    char why_buf[96];
    const char *problem = commit_signature_problem(v->r->pubkey, &c, why_buf, sizeof why_buf);
    if (problem)
        return verify_bad(v, off, "the commit %s", problem);
    if (c.flags & COMMIT_FLAG_SIGNED) {
        if (v->rep->signed_points && memcmp(v->rep->signer_key_id, c.key_id, KEY_ID_SIZE) != 0)
            v->rep->several_signers = 1;
        v->rep->signed_points++;
        memcpy(v->rep->signer_key_id, c.key_id, KEY_ID_SIZE);
    }
    v->last = c;
    return VMRP_OK;
}

static void vstate_free(vstate *v)
{
    verify_batch_free(&v->batch);
    crypt_free(v->ck);
    if (v->have_point)
        point_meta_clear(&v->point);
    offlist_free(v->maps);
    spill_free(v->seg);
    spill_free(v->map_bytes);
    free(v->stored);
    free(v->refs);
    offlist_free(v->blocks);
    offlist_free(v->files);
    sodium_memzero(v->key, sizeof v->key);
    hashidx_free(v->names);
    familytab_free(v->families);
    codec_free(v->codec);
    free(v->payload);
    free(v->raw);
}

/* A KEYS record: the collection's key slots (first segment) and the
 * segment's sealed keys, opened when a key was given. */
static void defer(vstate *v, int rc, const char *msg)
{
    v->deferred_rc = rc;
    snprintf(v->deferred_msg, sizeof v->deferred_msg, "%s", msg);
}

static int take_keys(vstate *v, uint64_t off, const unsigned char *p, size_t len)
{
    const char *why = NULL;
    v->seg_keys = 0;
    if (keys_check(p, len, v->points == 0, v->strict, &why) != VMRP_OK)
        return verify_bad(v, off, "key record: %s", why);
    if (v->points >= v->max_points)
        return verify_bad(v, off, "more points than Max_Points %u", v->max_points);
    if (v->points == 0) {
        if (!(v->ck = crypt_new(v->collection_id, v->max_points)))
            return err_set(&v->r->err, VMRP_E_NOMEM, "out of secure memory");
        memcpy(v->ck->collection_pk, p + KY_OFF_PUBLIC, KEY_SIZE);
        v->rep->key_slots = le32_load(p + KY_OFF_SLOT_COUNT);
        if (v->r->identity || v->r->ask) {
            vmrp_err e;
            int rc = crypt_unlock(&e, v->label, p, v->ck, v->r->identity, v->r->ask,
                                  v->r->ask_ctx);
            if (rc == VMRP_E_NOMEM)
                return err_set(&v->r->err, rc, "%s", e.message);
            if (rc)
                defer(v, rc, e.message);
        }
    } else if (memcmp(p + KY_OFF_PUBLIC, v->ck->collection_pk, KEY_SIZE) != 0) {
        return verify_bad(v, off, "key record names another collection key");
    }
    if (v->ck->unlocked) {
        if (keys_open_segment(p, v->ck, v->segment_start, &v->ck->segs[v->points]) == VMRP_OK)
            v->seg_keys = 1;
        else if (!v->deferred_rc) {
            char msg[300];
            snprintf(msg, sizeof msg, "%s: point %u, offset %llu: the segment's sealed keys do not "
                     "open with the collection key", v->label, v->points + 1,
                     (unsigned long long)off);
            defer(v, VMRP_E_CORRUPT, msg);
            v->rep->error_offset = off;
        }
    }
    return VMRP_OK;
}

static int take_record(vstate *v, uint64_t off, const record_header *h)
{
    /* every segment of an encrypted collection opens with its keys */
    if (v->encrypted && (off == v->segment_start) != (h->type == REC_KEYS))
        return verify_bad(v, off, off == v->segment_start ? "segment does not start with a key record"
                                                   : "key record inside a segment");
    if (h->type == REC_BLOCK)
        return verify_queue_block(v, off, h);
    int rc = verify_flush_blocks(v);
    if (rc)
        return rc;
    unsigned char hash[HASH_SIZE];
    record_hash(hash, v->payload, v->payload + RH_SIZE, h->stored_size);
    if ((rc = verify_push_seg(v, off, RH_SIZE + h->stored_size, h->type, hash)) != 0)
        return rc;
    if (h->type == REC_POINT && v->have_point)
        return verify_bad(v, off, "second point record in one segment");
    if (h->type == REC_KEYS)
        return take_keys(v, off, v->payload + RH_SIZE, h->stored_size);
    unsigned char *payload = v->payload + RH_SIZE;
    size_t payload_len = h->stored_size;
    if (h->flags & RECORD_FLAG_ENCRYPTED) {
        if (!v->seg_keys) {
            /* no key: the hash (checked against the index) is what can be
             * checked; the index still needs to know the point record */
            if (h->type == REC_POINT) {
                v->have_point = 1;
                v->point_offset = off;
            }
            return VMRP_OK;
        }
        if (crypt_open_record(v->ck->collection_id, v->ck->segs[v->points].data_key, off,
                              v->payload, RH_SIZE + payload_len) != VMRP_OK)
            return verify_bad(v, off, "record does not decrypt with its segment's key (altered, moved, "
                               "or sealed with another key)");
        payload += RECORD_NONCE_SIZE;
        payload_len -= RECORD_CRYPTO_OVERHEAD;
    }
    if (verify_grow(&v->raw, &v->raw_cap, h->raw_size))
        return err_set(&v->r->err, VMRP_E_NOMEM, "out of memory");
    if (codec_decompress(v->codec, h->codec, payload, payload_len, v->raw, h->raw_size) != VMRP_OK)
        return verify_bad(v, off, "record does not decompress to its Raw_Size");
    const char *why = NULL;
    switch (h->type) {
    case REC_FILE: {
        known k;
        memset(&k, 0, sizeof k); /* its padding goes to a file too */
        k.offset = off;
        id_hash(k.id, v->raw, h->raw_size, v->ck ? v->ck->segs[v->points].id_key : NULL);
        k.size = h->raw_size;
        k.segment = v->points;
        rc = offlist_push(v->files, &k);
        return rc ? verify_tmp_failed(v, rc, offlist_dir(v->files)) : VMRP_OK;
    }
    case REC_MAP: {
        if (h->raw_size % MAP_ENTRY_SIZE != 0)
            return verify_bad(v, off, "map size is not a multiple of 48");
        seg_map sm;
        memset(&sm, 0, sizeof sm); /* its padding goes to a file too */
        sm.offset = off;
        sm.at = spill_count(v->map_bytes);
        sm.stored_len = payload_len;
        sm.len = h->raw_size;
        sm.codec = h->codec;
        if ((rc = spill_append_n(v->map_bytes, payload, payload_len)) != 0)
            return verify_tmp_failed(v, rc, spill_dir(v->map_bytes));
        if ((rc = offlist_push(v->maps, &sm)) != 0)
            return verify_tmp_failed(v, rc, offlist_dir(v->maps));
        return VMRP_OK;
    }
    case REC_POINT: {
        rc = point_parse_ex(v->raw, h->raw_size, v->strict, &v->point, &why);
        if (rc)
            return verify_bad(v, off, "point record: %s", why);
        v->have_point = 1;
        v->point_offset = off;
        return verify_check_point(v);
    }
    default:
        return verify_bad(v, off, "unexpected record type %u", h->type);
    }
}

/* Where the walk is: the stream, and the current segment's INDEX until
 * its COMMIT arrives. */
typedef struct {
    stream s;
    uint64_t committed;    /* end of the last commit */
    uint64_t index_offset; /* 0: the segment's INDEX is not read yet */
    uint64_t index_size;
    unsigned char index_hash[HASH_SIZE];
    index_check ic;
} walk;

/* A positive "stop": the stream ends here, cleanly or in an interrupted
 * append, with nothing to report. */
#define WALK_END 1

#define STREAM_BUFFER (1u << 20)

/* A read of the archive failed at stream offset off: an I/O error, never
 * a verdict on the bytes that could not be read. */
static int read_failed(vstate *v, uint64_t off, int got)
{
    return err_set(&v->r->err, VMRP_E_IO, "%s: read error at offset %llu: %s", v->label,
                   (unsigned long long)off, strerror(-got));
}

static int start_walk(vstate *v, walk *wk, vmrp_reader *r, int fd, const char *label,
                      vmrp_verify_report *rep)
{
    memset(v, 0, sizeof *v);
    memset(wk, 0, sizeof *wk);
    v->r = r;
    v->label = label ? label : "archive";
    v->rep = rep;
    wk->s.fd = fd;
    wk->s.buf = malloc(STREAM_BUFFER);
    wk->s.cap = STREAM_BUFFER;
    v->codec = codec_new();
    size_t keep = r->verify_keep;
    v->blocks = offlist_new(sizeof(known_block), keep ? keep : KEEP_BLOCKS);
    v->files = offlist_new(sizeof(known), keep ? keep : KEEP_BLOCKS);
    v->maps = offlist_new(sizeof(seg_map), keep ? keep : KEEP_MAPS);
    v->seg = spill_new(sizeof(seg_record), keep ? keep : KEEP_RECORDS, NULL);
    v->map_bytes = spill_new(1, keep ? keep : KEEP_MAP_BYTES, NULL);
    v->names = hashidx_new();
    v->families = familytab_new();
    if (!wk->s.buf || !v->codec || !v->blocks || !v->files || !v->maps || !v->seg ||
        !v->map_bytes || !v->names || !v->families)
        return err_set(&r->err, VMRP_E_NOMEM, "out of memory");
    return VMRP_OK;
}

/* The file header: what the rest of the walk is checked against. */
static int take_file_header(vstate *v, walk *wk)
{
    unsigned char header[FH_SIZE];
    vmrp_collection_info ci;
    const char *why = NULL;
    int got = stream_read(&wk->s, header, FH_SIZE);
    if (got < 0)
        return read_failed(v, 0, got);
    if (got > 0)
        return err_set(&v->r->err, VMRP_E_NOT_ARCHIVE, "%s: not a vmrp archive (%s)", v->label,
                       got == 1 ? "empty" : "shorter than a file header");
    int rc = header_parse(header, &ci, &why);
    if (rc != VMRP_OK) {
        v->rep->error_offset = 0;
        return err_set(&v->r->err, rc, "%s: %sfile header (offset 0..127): %s", v->label,
                       rc == VMRP_E_NOT_ARCHIVE ? "not a vmrp archive: " : "", why);
    }
    v->block_size = ci.block_size;
    if ((rc = verify_batch_init(&v->batch, ci.block_size)) != VMRP_OK)
        return err_set(&v->r->err, rc, "out of memory");
    v->batch.quick = (v->r->verify_flags & VMRP_VERIFY_QUICK) != 0;
    v->strict = ci.format_minor <= FORMAT_MINOR;
    v->encrypted = ci.encrypted;
    v->max_points = ci.max_points;
    memcpy(v->collection_id, ci.collection_id, ID_SIZE);
    v->rep->encrypted = ci.encrypted;
    hash_buf(v->header_hash, header, FH_SIZE);
    randombytes_buf(v->key, sizeof v->key);
    v->segment_start = FH_SIZE;
    v->seg_end = FH_SIZE;
    wk->committed = FH_SIZE;
    return VMRP_OK;
}

/* The header of the record at off, into v->payload; WALK_END where the
 * records stop. */
static int read_record_header(vstate *v, walk *wk, uint64_t off, record_header *h)
{
    if (verify_grow(&v->payload, &v->payload_cap, RH_SIZE))
        return err_set(&v->r->err, VMRP_E_NOMEM, "out of memory");
    int got = stream_read(&wk->s, v->payload, RH_SIZE);
    if (got == 1)
        return WALK_END;
    if (got == 2) {
        /* a cut inside a header is an interrupted append, unless the
         * file still ends like a commit: then it is damage */
        if (wk->s.pos - off >= 8 &&
            memcmp(v->payload + (wk->s.pos - off) - 8, CM_END_MAGIC, 8) == 0)
            return verify_bad(v, off, "archive ends inside a record header, after a commit's End_Magic");
        return WALK_END;
    }
    if (got < 0)
        return read_failed(v, off, got);
    const char *why = NULL;
    if (record_header_decode_ex(v->payload, v->block_size, v->strict, v->encrypted, h, &why) !=
        VMRP_OK) {
        /* Garbage after the last commit is an interrupted append (or a
         * zero-filled tail after a crash); garbage before a commit
         * that still ends the file is damage. */
        int ends = 0;
        if ((got = stream_ends_with_commit(&wk->s, &ends)) < 0)
            return read_failed(v, wk->s.pos, got);
        return ends ? verify_bad(v, off, "%s", why) : WALK_END;
    }
    return VMRP_OK;
}

/* The payload of the record at off, after its header in v->payload;
 * WALK_END when the stream ends inside it.
 *
 * The segment's INDEX streams through index_check; every other record is
 * read whole, growing by what actually arrives, so a hostile size cannot
 * make us allocate more than the stream holds (plus one chunk). */
static int read_payload(vstate *v, walk *wk, uint64_t off, const record_header *h)
{
    const int streamed = h->type == REC_INDEX && !wk->index_offset;
    if (streamed) {
        int rc = verify_flush_blocks(v);
        if (rc)
            return rc;
        index_check_init(v, &wk->ic, off, v->payload, h->stored_size);
    }
    unsigned char last8[8];
    size_t nlast = 0;
    keep_last8(last8, &nlast, v->payload, RH_SIZE);
    size_t have = 0;
    int got = 0;
    const size_t most = streamed ? INDEX_PIECE : (16u << 20);
    while (have < h->stored_size && got == 0) {
        size_t chunk = h->stored_size - have > most ? most : h->stored_size - have;
        size_t at = streamed ? 0 : have;
        if (verify_grow(&v->payload, &v->payload_cap, RH_SIZE + at + chunk))
            return err_set(&v->r->err, VMRP_E_NOMEM, "out of memory");
        uint64_t before = wk->s.pos;
        got = stream_read(&wk->s, v->payload + RH_SIZE + at, chunk);
        keep_last8(last8, &nlast, v->payload + RH_SIZE + at, (size_t)(wk->s.pos - before));
        if (streamed)
            index_stream_feed(&wk->ic.s, v->payload + RH_SIZE, (size_t)(wk->s.pos - before),
                              index_check_entry, &wk->ic);
        have += chunk;
    }
    if (got > 0) {
        if (nlast == 8 && memcmp(last8, CM_END_MAGIC, 8) == 0)
            return verify_bad(v, off, "record of %u bytes runs past the end of an archive that ends "
                              "like a commit: damage, not an interrupted append",
                              h->stored_size);
        return WALK_END;
    }
    if (got < 0)
        return read_failed(v, wk->s.pos, got);
    return VMRP_OK;
}

/* The segment's INDEX, checked against the records booked before it. */
static int take_index(vstate *v, walk *wk, uint64_t off, const record_header *h)
{
    if (wk->index_offset)
        return verify_bad(v, off, "two indexes in one segment");
    int rc = index_check_end(v, &wk->ic, off, wk->index_hash);
    if (rc)
        return rc;
    if (v->deferred_rc) { /* the key record is as written: the key is wrong */
        v->rep->error_point = v->points + 1;
        return err_set(&v->r->err, v->deferred_rc, "%s", v->deferred_msg);
    }
    wk->index_offset = off;
    wk->index_size = RH_SIZE + h->stored_size;
    return VMRP_OK;
}

/* The segment's COMMIT, against its INDEX; it ends the segment. */
static int take_commit(vstate *v, walk *wk, uint64_t off)
{
    if (!wk->index_offset)
        return verify_bad(v, off, "commit without an index before it");
    int rc = check_commit(v, off, v->payload, wk->index_offset, wk->index_hash, wk->index_size);
    if (rc)
        return rc;
    if (v->points >= v->max_points) /* named as the point this commit adds */
        return verify_bad(v, off, "more points than Max_Points %u", v->max_points);
    v->points++;
    wk->committed = wk->s.pos;
    v->segment_start = wk->s.pos;
    wk->index_offset = 0;
    clear_segment(v);
    return VMRP_OK;
}

/* Every record after the file header, in file order, until the stream
 * ends or a check fails. */
static int walk_records(vstate *v, walk *wk)
{
    for (;;) {
        uint64_t off = wk->s.pos;
        record_header h;
        int rc = read_record_header(v, wk, off, &h);
        if (rc == VMRP_OK)
            rc = read_payload(v, wk, off, &h);
        if (rc == WALK_END)
            return VMRP_OK;
        if (rc)
            return rc;
        v->rep->records++;
        if (v->r->progress)
            v->r->progress(v->r->progress_ctx, wk->s.pos, 0);
        if (h.type == REC_INDEX)
            rc = take_index(v, wk, off, &h);
        else if (h.type == REC_COMMIT)
            rc = take_commit(v, wk, off);
        else if (wk->index_offset)
            rc = verify_bad(v, off, "record after the index of its segment");
        else
            rc = take_record(v, off, &h);
        if (rc)
            return rc;
    }
}

/* The report of a walk that read the file header, and its verdict when
 * every record passed: bytes after the last commit, or no commit at all. */
static int end_walk(vstate *v, const walk *wk, int rc)
{
    vmrp_verify_report *rep = v->rep;
    rep->points = v->points;
    rep->bytes = wk->s.pos;
    rep->committed_size = wk->committed;
    memcpy(rep->head_hash, v->last.hash, HASH_SIZE);
    if (rc == VMRP_OK && wk->s.pos > wk->committed && io_writer_active(wk->s.fd, wk->s.pos)) {
        /* Not damage: a writer is appending. What is committed checked out;
         * the rest is not a point yet. */
        rep->torn_bytes = wk->s.pos - wk->committed;
        rep->append_in_progress = 1;
        if (v->points == 0)
            rc = err_set(&v->r->err, VMRP_E_LOCKED,
                         "%s: being created by another writer; no point is committed yet",
                         v->label);
    } else if (rc == VMRP_OK && wk->s.pos > wk->committed) {
        rep->torn_bytes = wk->s.pos - wk->committed;
        rep->error_offset = wk->committed;
        rep->error_point = v->points + 1;
        rc = err_set(&v->r->err, VMRP_E_TORN,
                     "%s: %llu bytes after the last commit (point %u) at offset %llu: an interrupted "
                     "append; the next pack removes them",
                     v->label, (unsigned long long)rep->torn_bytes, v->points,
                     (unsigned long long)wk->committed);
    } else if (rc == VMRP_OK && v->points == 0) {
        rc = err_set(&v->r->err, VMRP_E_CORRUPT, "%s: no committed restore point", v->label);
    }
    rep->signatures_checked = rc == VMRP_OK && v->r->pubkey != NULL;
    rep->content_checked = !v->batch.quick && (!v->encrypted || (v->ck && v->ck->unlocked));
    return rc;
}

int vmrp_reader_verify(vmrp_reader *r, int fd, const char *label, vmrp_verify_report *rep)
{
    vstate v;
    walk wk;
    memset(rep, 0, sizeof *rep);
    err_clear(&r->err);
    int rc = start_walk(&v, &wk, r, fd, label, rep);
    if (rc == VMRP_OK)
        rc = take_file_header(&v, &wk);
    if (rc == VMRP_OK) {
        rc = walk_records(&v, &wk);
        /* a batch still in flight holds records before whatever stopped the
         * walk: its errors come first, and its blocks are booked either way */
        int landed = verify_land_blocks(&v);
        if (landed)
            rc = landed;
        rc = end_walk(&v, &wk, rc);
    }
    free(wk.s.buf);
    vstate_free(&v);
    return rc;
}
