/* reader.c - opening an archive: header, commit chain, indexes and point
 * metadata. Nothing is trusted before it is checked against the file size,
 * the limits of the spec and the hash chain. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmrp_private.h"

vmrp_reader *vmrp_reader_new(void)
{
    vmrp_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->fd = -1;
    return r;
}

static void reader_reset(vmrp_reader *r)
{
    for (uint32_t i = 0; i < r->npoints; i++)
        point_meta_clear(&r->points[i]);
    free(r->points);
    r->points = NULL;
    r->npoints = 0;
    rectab_free(r->table);
    r->table = NULL;
    free(r->recs);
    r->recs = NULL;
    r->nrecs = r->caprecs = 0;
    r->nblocks = 0;
    if (r->own_fd && r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    r->own_fd = 0;
    free(r->label);
    r->label = NULL;
    codec_free(r->codec);
    r->codec = NULL;
    crypt_free(r->crypt);
    r->crypt = NULL;
    free(r->keys_first);
    r->keys_first = NULL;
}

void vmrp_reader_free(vmrp_reader *r)
{
    if (!r)
        return;
    reader_reset(r);
    free(r);
}

const char *vmrp_reader_error_string(const vmrp_reader *r)
{
    return r ? r->err.message : "no reader";
}

int vmrp_reader_error(const vmrp_reader *r)
{
    return r ? r->err.code : VMRP_E_USAGE;
}

void vmrp_reader_set_public_key(vmrp_reader *r, const vmrp_key *key)
{
    r->pubkey = key;
}

void vmrp_reader_set_decryption(vmrp_reader *r, const vmrp_key *identity,
                                vmrp_passphrase_fn ask, void *ctx)
{
    r->identity = identity;
    r->ask = ask;
    r->ask_ctx = ctx;
}

int vmrp_reader_key_slot(const vmrp_reader *r, uint32_t i, vmrp_key_slot_info *out)
{
    if (!r->keys_first || i >= r->coll.key_slot_count)
        return VMRP_E_NOT_FOUND;
    keys_slot_info(r->keys_first, i, out);
    return VMRP_OK;
}

int vmrp_reader_collection_key(const vmrp_reader *r, unsigned char out[32])
{
    if (!r->crypt || !r->keys_first)
        return VMRP_E_NOT_FOUND;
    memcpy(out, r->crypt->collection_pk, KEY_SIZE);
    return VMRP_OK;
}

const unsigned char *reader_id_key(const vmrp_reader *r, uint32_t k)
{
    return r->crypt && k < r->crypt->nsegs ? r->crypt->segs[k].id_key : NULL;
}

void vmrp_reader_set_verify_flags(vmrp_reader *r, unsigned flags)
{
    r->verify_flags = flags & VMRP_VERIFY_QUICK;
}

void vmrp_reader_set_progress(vmrp_reader *r, vmrp_progress_fn fn, void *ctx)
{
    r->progress = fn;
    r->progress_ctx = ctx;
}

const vmrp_collection_info *vmrp_reader_collection(const vmrp_reader *r)
{
    return &r->coll;
}

uint32_t vmrp_reader_point_count(const vmrp_reader *r)
{
    return r->npoints;
}

const vmrp_point_info *vmrp_reader_point(const vmrp_reader *r, uint32_t index)
{
    return index < r->npoints ? &r->points[index].info : NULL;
}

int vmrp_reader_find_point(vmrp_reader *r, const char *spec, uint32_t *index)
{
    if (r->npoints == 0)
        return err_set(&r->err, VMRP_E_NOT_FOUND, "%s: archive holds no restore point", r->label);
    if (strcmp(spec, "latest") == 0) {
        *index = r->npoints - 1;
        return VMRP_OK;
    }
    size_t len = strlen(spec);
    if (len > 0 && len <= 9 && strspn(spec, "0123456789") == len) {
        unsigned long seq = strtoul(spec, NULL, 10);
        if (seq >= 1 && seq <= r->npoints) {
            *index = (uint32_t)seq - 1;
            return VMRP_OK;
        }
    } else {
        /* newest first: an encrypted collection may repeat a name */
        for (uint32_t i = r->npoints; i-- > 0;)
            if (strcmp(r->points[i].info.name, spec) == 0) {
                *index = i;
                return VMRP_OK;
            }
    }
    return err_set(&r->err, VMRP_E_NOT_FOUND,
                   "%s: no restore point '%s' (the archive has %u; use a name, 1..%u or latest)",
                   r->label, spec, r->npoints, r->npoints);
}

const rec_ref *reader_find_record(vmrp_reader *r, uint64_t offset, rec_ref *out)
{
    r->find_failed = 0;
    /* the few records kept with their hash first: only BLOCKs are left to
     * the table, which reads them back from the archive's INDEX */
    size_t lo = 0, hi = r->nrecs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->recs[mid].offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < r->nrecs && r->recs[lo].offset == offset) {
        *out = r->recs[lo];
        return out;
    }
    int found = r->table ? rectab_find(r->table, offset, out) : 0;
    if (found < 0) {
        r->find_failed = err_set(&r->err, found, "%s: %s", r->label, rectab_why(r->table));
        return NULL;
    }
    return found && out->type == REC_BLOCK ? out : NULL;
}

int reader_read_failed(vmrp_reader *r, int neg_errno, uint64_t off)
{
    return err_set(&r->err, VMRP_E_IO, "%s: read error at offset %llu: %s", r->label,
                   (unsigned long long)off, strerror(-neg_errno));
}

/* Read and decode the commit at `at`, checking it names the same header. */
static int read_commit(vmrp_reader *r, uint64_t at, commit_info *c)
{
    unsigned char rec[CM_RECORD_SIZE];
    const char *why = NULL;
    if (at < FH_SIZE || at > r->coll.file_size - CM_RECORD_SIZE)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: commit offset %llu outside the file", r->label,
                       (unsigned long long)at);
    int rc = io_pread_full(r->fd, rec, sizeof rec, at);
    if (rc)
        return reader_read_failed(r, rc, at);
    if (commit_decode_ex(rec, at, r->strict, c, &why) != VMRP_OK)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: commit at offset %llu: %s", r->label,
                       (unsigned long long)at, why);
    unsigned char hh[HASH_SIZE];
    hash_buf(hh, r->header, FH_SIZE);
    if (memcmp(hh, c->header_hash, HASH_SIZE) != 0)
        return err_set(&r->err, VMRP_E_CORRUPT,
                       "%s: commit at offset %llu does not match the file header", r->label,
                       (unsigned long long)at);
    return VMRP_OK;
}

typedef struct {
    vmrp_reader *r;
    uint16_t segment;
    uint64_t entries; /* archive offset of the INDEX's first entry */
} keeping;

/* Add a record of the INDEX being read to the reader's tables. */
static int keep_record(void *ctx, const rec_ref *entry, uint32_t i)
{
    keeping *kp = ctx;
    vmrp_reader *r = kp->r;
    rec_ref ref = *entry;
    ref.segment = kp->segment;
    int rc = rectab_add(r->table, &ref, kp->entries + (uint64_t)i * IX_ENTRY_SIZE);
    if (rc == VMRP_E_CORRUPT) /* commits chain segments in order: not seen */
        return err_set(&r->err, rc, "%s: record at offset %llu listed out of order", r->label,
                       (unsigned long long)ref.offset);
    if (rc)
        return err_set(&r->err, VMRP_E_NOMEM, "out of memory");
    if (ref.type == REC_BLOCK) {
        r->nblocks++;
        return VMRP_OK;
    }
    if (r->nrecs == r->caprecs) {
        size_t cap = r->caprecs ? 2 * r->caprecs : 64;
        rec_ref *bigger = realloc(r->recs, cap * sizeof *bigger);
        if (!bigger)
            return err_set(&r->err, VMRP_E_NOMEM, "out of memory");
        r->recs = bigger;
        r->caprecs = cap;
    }
    r->recs[r->nrecs++] = ref;
    return VMRP_OK;
}

#define INDEX_PIECE_BYTES ((size_t)1 << 20) /* read at once */

/* Read and check the INDEX of segment k against its commit, in pieces so
 * that no copy of it is held whole; with `keep`, add its records to the
 * reader's tables (which are only used once the whole INDEX checked out). */
static int read_index(vmrp_reader *r, const commit_info *c, uint16_t k, int keep,
                      uint64_t *point_offset)
{
    const unsigned long long at = (unsigned long long)c->index_offset;
    unsigned char hdr[RH_SIZE];
    record_header h;
    const char *why = NULL;
    if (c->index_size > UINT32_MAX)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: index at offset %llu is too large", r->label,
                       at);
    if (c->index_size < RH_SIZE)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: index at offset %llu is too short", r->label,
                       at);
    int rc = io_pread_full(r->fd, hdr, RH_SIZE, c->index_offset);
    if (rc)
        return reader_read_failed(r, rc, c->index_offset);
    if (record_header_decode_ex(hdr, r->coll.block_size, r->strict, r->coll.encrypted, &h,
                                &why) != VMRP_OK)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: index at offset %llu: %s", r->label, at, why);
    if (h.type != REC_INDEX || RH_SIZE + (uint64_t)h.stored_size != c->index_size ||
        h.codec != CODEC_NONE || h.raw_size != h.stored_size)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: index at offset %llu: header disagrees with the index",
                       r->label, at);
    /* The header check makes the payload the raw entries (codec none). */
    unsigned char *buf = malloc(INDEX_PIECE_BYTES);
    if (!buf)
        return err_set(&r->err, VMRP_E_NOMEM, "out of memory");
    index_stream st;
    index_stream_init(&st, hdr, h.raw_size, c, r->strict);
    keeping kp = {r, k, c->index_offset + RH_SIZE + IX_HEADER_SIZE};
    uint64_t pos = c->index_offset + RH_SIZE, end = c->index_offset + c->index_size;
    size_t piece = IX_HEADER_SIZE; /* the Index_Header first: it sizes the table */
    while (rc == VMRP_OK && pos < end) {
        size_t len = end - pos < piece ? (size_t)(end - pos) : piece;
        if ((rc = io_pread_full(r->fd, buf, len, pos)) != 0) {
            rc = reader_read_failed(r, rc, pos);
            break;
        }
        rc = index_stream_feed(&st, buf, len, keep ? keep_record : NULL, &kp);
        if (rc == VMRP_OK && keep && piece == IX_HEADER_SIZE && index_stream_header_read(&st) &&
            rectab_reserve(r->table, st.walk.count) != VMRP_OK)
            rc = err_set(&r->err, VMRP_E_NOMEM, "out of memory");
        pos += len;
        piece = INDEX_PIECE_BYTES;
    }
    free(buf);
    if (rc)
        return rc;
    unsigned char got[HASH_SIZE];
    const char *bad = index_stream_end(&st, got);
    if (memcmp(got, c->index_hash, HASH_SIZE) != 0)
        return err_set(&r->err, VMRP_E_CORRUPT,
                       "%s: index at offset %llu: does not match its hash in the index (damaged or altered)",
                       r->label, at);
    if (bad)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: index at offset %llu (point %u): %s", r->label,
                       at, c->sequence, bad);
    *point_offset = st.walk.point_offset;
    return VMRP_OK;
}

/* The trailer failed its checks: walk records forward from the header and
 * keep the last commit that links to the one before it. The walk stops at
 * the first thing that does not check (damage or an interrupted append),
 * but a read that fails is an error: bytes that could not be read are never
 * judged, so a failing medium is not taken for a torn tail. */
static int scan_for_head(vmrp_reader *r, uint64_t *head)
{
    uint64_t off = FH_SIZE, size = r->coll.file_size;
    commit_info last = {0};
    int have = 0, rc = VMRP_OK;
    *head = 0;
    while (rc == VMRP_OK && off + RH_SIZE <= size) {
        unsigned char hdr[RH_SIZE];
        record_header h;
        const char *why;
        if ((rc = io_pread_full(r->fd, hdr, RH_SIZE, off)) != 0) {
            rc = reader_read_failed(r, rc, off);
            break;
        }
        if (record_header_decode_ex(hdr, r->coll.block_size, r->strict, r->coll.encrypted, &h,
                                    &why) != VMRP_OK)
            break;
        uint64_t next = off + RH_SIZE + h.stored_size;
        if (next > size)
            break;
        if (h.type == REC_COMMIT) {
            commit_info c;
            uint64_t pt;
            if ((rc = read_commit(r, off, &c)) != VMRP_OK)
                break;
            if (have ? (c.prev_offset != last.commit_offset ||
                        memcmp(c.prev_hash, last.hash, HASH_SIZE) != 0)
                     : c.prev_offset != 0)
                break;
            if ((rc = read_index(r, &c, 0, 0, &pt)) != VMRP_OK)
                break;
            last = c;
            have = 1;
            *head = off;
        }
        off = next;
    }
    if (rc != VMRP_E_CORRUPT)
        return rc; /* VMRP_OK, or a read error or no memory: the scan is void */
    err_clear(&r->err);
    return VMRP_OK;
}

#define TAIL_PIECE_BYTES ((size_t)1 << 20) /* read at once when a tail is checked whole */

/* Bytes after the last valid commit are an interrupted append only if they
 * could be the prefix of a segment: no complete COMMIT record among them and
 * no End_Magic at the very end. Anything else is damage to something that
 * was committed, and must not be truncated away. With `whole`, for a caller
 * that removes a torn tail, every byte of it must also read back: what
 * cannot be read cannot be judged. */
static int judge_tail(vmrp_reader *r, uint64_t from, int whole, int *damaged)
{
    uint64_t size = r->coll.file_size;
    unsigned char last[8];
    int rc = VMRP_OK;
    *damaged = 0;
    if (from >= size)
        return VMRP_OK;
    if (size - from >= 8) {
        if ((rc = io_pread_full(r->fd, last, 8, size - 8)) != 0)
            return reader_read_failed(r, rc, size - 8);
        if (memcmp(last, CM_END_MAGIC, 8) == 0) {
            *damaged = 1;
            return VMRP_OK;
        }
    }
    for (uint64_t off = from; off + RH_SIZE <= size;) {
        unsigned char hdr[RH_SIZE];
        record_header h;
        const char *why;
        if ((rc = io_pread_full(r->fd, hdr, RH_SIZE, off)) != 0)
            return reader_read_failed(r, rc, off);
        if (record_header_decode_ex(hdr, r->coll.block_size, r->strict, r->coll.encrypted, &h,
                                    &why) != VMRP_OK)
            break;
        if (h.type == REC_COMMIT && off + CM_RECORD_SIZE <= size) {
            *damaged = 1;
            return VMRP_OK;
        }
        off += RH_SIZE + (uint64_t)h.stored_size;
    }
    if (!whole)
        return VMRP_OK;
    unsigned char *buf = malloc(TAIL_PIECE_BYTES);
    if (!buf)
        return err_set(&r->err, VMRP_E_NOMEM, "out of memory");
    for (uint64_t off = from; off < size && rc == VMRP_OK;) {
        size_t len = size - off < TAIL_PIECE_BYTES ? (size_t)(size - off) : TAIL_PIECE_BYTES;
        if ((rc = io_pread_full(r->fd, buf, len, off)) != 0)
            rc = reader_read_failed(r, rc, off);
        off += len;
    }
    free(buf);
    return rc;
}

/* What the points before the one being loaded left to check it against. */
typedef struct {
    hashidx *names;      /* point name -> index */
    familytab *families; /* the disks' names and families */
} points_seen;

/* Load the POINT record of point k and check it against the commit chain
 * and the points before it. */
static int reader_load_point(vmrp_reader *r, uint32_t k, uint64_t point_offset,
                             uint64_t segment_offset, uint64_t index_offset,
                             const points_seen *seen)
{
    rec_ref found_ref;
    const rec_ref *ref = reader_find_record(r, point_offset, &found_ref);
    unsigned char *raw = NULL;
    size_t len = 0;
    char what[64];
    snprintf(what, sizeof what, "point record of point %u", k + 1);
    if (!ref)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: %s is not in the index", r->label, what);
    int rc = reader_load_record(r, ref, REC_POINT, &raw, &len, what);
    if (rc)
        return rc;
    point_meta *pm = &r->points[k];
    uint64_t commit_offset = pm->info.commit_offset;
    unsigned char commit_hash_copy[HASH_SIZE];
    memcpy(commit_hash_copy, pm->info.commit_hash, HASH_SIZE);
    const char *why = NULL;
    rc = point_parse_ex(raw, len, r->strict, pm, &why);
    free(raw);
    if (rc)
        return err_set(&r->err, rc, "%s: point %u (record at offset %llu): %s", r->label, k + 1,
                       (unsigned long long)point_offset, why);
    pm->info.commit_offset = commit_offset;
    memcpy(pm->info.commit_hash, commit_hash_copy, HASH_SIZE);
    pm->segment_offset = segment_offset;
    pm->index_offset = index_offset;
    r->npoints = k + 1; /* from here on reader_reset frees it */
    const vmrp_point_info *pi = &pm->info;
    if (pi->sequence != k + 1 || pi->parent_sequence != k)
        return err_set(&r->err, VMRP_E_CORRUPT,
                       "%s: point %u: Sequence %u / Parent_Sequence %u do not follow the commit chain",
                       r->label, k + 1, pi->sequence, pi->parent_sequence);
    /* A writer without the key of an encrypted collection cannot see its
     * names, so there they may repeat. */
    uint32_t j;
    if (!r->coll.encrypted && hashidx_find(seen->names, pi->name, strlen(pi->name), &j))
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: point %u: name '%s' is also point %u's",
                       r->label, k + 1, pi->name, j + 1);
    if (!r->coll.encrypted && hashidx_put(seen->names, pi->name, strlen(pi->name), k) != VMRP_OK)
        return err_set(&r->err, VMRP_E_NOMEM, "out of memory");
    for (uint32_t d = 0; d < pi->disk_count; d++) {
        const disk_meta *dm = &pm->disk_meta[d];
        if (pi->disks[d].full && !r->coll.encrypted)
            return err_set(&r->err, VMRP_E_CORRUPT,
                           "%s: point %u, disk %s: FULL flag in an archive without encryption",
                           r->label, k + 1, pi->disks[d].name);
        for (uint32_t m = 0; m < dm->map_count; m++) {
            rec_ref found_mr;
            const rec_ref *mr = reader_find_record(r, dm->map_offsets[m], &found_mr);
            if (!mr || mr->type != REC_MAP || mr->offset < segment_offset ||
                mr->offset >= index_offset)
                return err_set(&r->err, VMRP_E_CORRUPT,
                               "%s: point %u, disk %s: map %u at offset %llu is not a MAP record of its segment",
                               r->label, k + 1, pi->disks[d].name, m,
                               (unsigned long long)dm->map_offsets[m]);
        }
        /* A Family_Id has one name across the collection, and a name keeps
         * the family of its newest earlier entry (chains are followed by
         * name), except that a FULL or EXCLUDED disk may start a new family
         * (a writer without the key of an encrypted archive sees none). */
        const vmrp_disk_info *di = &pi->disks[d];
        int differs = 0;
        const family_entry *clash = familytab_check(
            seen->families, di->name, di->family_id,
            r->coll.encrypted && (di->full || di->excluded), &differs);
        if (clash)
            return err_set(&r->err, VMRP_E_CORRUPT, "%s: point %u, disk %s: %s point %u's disk %s",
                           r->label, k + 1, di->name,
                           differs ? "Family_Id differs from" : "Family_Id is that of",
                           clash->point + 1, clash->name);
        if (!familytab_add(seen->families, di->name, di->family_id, k, d))
            return err_set(&r->err, VMRP_E_NOMEM, "out of memory");
    }
    for (uint32_t f = 0; f < pi->config_file_count; f++) {
        uint64_t fo = pm->file_records[f];
        if (fo == 0)
            continue;
        rec_ref found_fr;
        const rec_ref *fr = reader_find_record(r, fo, &found_fr);
        if (!fr || fr->type != REC_FILE || fr->offset >= index_offset)
            return err_set(&r->err, VMRP_E_CORRUPT,
                           "%s: point %u, config file %s: offset %llu is not a FILE record",
                           r->label, k + 1, pi->config_files[f].name, (unsigned long long)fo);
    }
    return VMRP_OK;
}

/* Where each segment's parts are, from its commit and its INDEX. */
typedef struct {
    uint64_t start; /* the segment's first record */
    uint64_t point; /* its POINT record */
    uint64_t index; /* its INDEX record */
} segment_place;

/* Every segment of an encrypted collection starts with a KEYS record: the
 * first holds the key slots, each holds its segment's sealed keys. */
static int reader_open_keys(vmrp_reader *r, size_t n, const segment_place *seg)
{
    size_t nkeys = 0;
    for (size_t i = 0; i < r->nrecs; i++)
        nkeys += r->recs[i].type == REC_KEYS;
    if (nkeys != n)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: %zu key records for %zu points", r->label,
                       nkeys, n);
    r->crypt = crypt_new(r->coll.collection_id, n + 1);
    if (!r->crypt)
        return err_set(&r->err, VMRP_E_NOMEM, "out of secure memory");
    for (size_t k = 0; k < n; k++) {
        char what[64];
        snprintf(what, sizeof what, "key record of point %zu", k + 1);
        rec_ref found_ref;
        const rec_ref *ref = reader_find_record(r, seg[k].start, &found_ref);
        if (!ref || ref->type != REC_KEYS)
            return err_set(&r->err, VMRP_E_CORRUPT, "%s: point %zu: its segment does not start "
                           "with a key record", r->label, k + 1);
        unsigned char *raw = NULL;
        size_t len = 0;
        const char *why = NULL;
        int rc = reader_load_record(r, ref, REC_KEYS, &raw, &len, what);
        if (rc)
            return rc;
        if (keys_check(raw, len, k == 0, r->strict, &why) != VMRP_OK) {
            free(raw);
            return err_set(&r->err, VMRP_E_CORRUPT, "%s: %s at offset %llu: %s", r->label, what,
                           (unsigned long long)ref->offset, why);
        }
        if (k == 0) {
            memcpy(r->crypt->collection_pk, raw + KY_OFF_PUBLIC, KEY_SIZE);
            r->keys_first = raw;
            r->coll.key_slot_count = le32_load(raw + KY_OFF_SLOT_COUNT);
            rc = (r->identity || r->ask || !r->keyless_ok)
                     ? crypt_unlock(&r->err, r->label, raw, r->crypt, r->identity, r->ask,
                                    r->ask_ctx)
                     : VMRP_OK;
            if (rc)
                return rc;
            continue;
        }
        if (memcmp(raw + KY_OFF_PUBLIC, r->crypt->collection_pk, KEY_SIZE) != 0)
            rc = err_set(&r->err, VMRP_E_CORRUPT, "%s: %s names another collection key",
                         r->label, what);
        if (rc == VMRP_OK && r->crypt->unlocked &&
            keys_open_segment(raw, r->crypt, seg[k].start, &r->crypt->segs[k]) != VMRP_OK)
            rc = err_set(&r->err, VMRP_E_CORRUPT,
                         "%s: %s: its sealed segment keys do not open with the collection key",
                         r->label, what);
        free(raw);
        if (rc)
            return rc;
    }
    if (r->crypt->unlocked &&
        keys_open_segment(r->keys_first, r->crypt, seg[0].start, &r->crypt->segs[0]) != VMRP_OK)
        return err_set(&r->err, VMRP_E_CORRUPT,
                       "%s: key record of point 1: its sealed segment keys do not open with the "
                       "collection key", r->label);
    r->crypt->nsegs = r->crypt->unlocked ? n : 0; /* no keys are there to use */
    return VMRP_OK;
}

/* The header of the file on fd, checked and parsed into r->coll. */
static int reader_open_header(vmrp_reader *r, int fd, const char *label)
{
    r->fd = fd;
    r->label = strdup(label ? label : "archive");
    r->codec = codec_new();
    if (!r->label || !r->codec)
        return err_set(&r->err, VMRP_E_NOMEM, "out of memory");
    uint64_t size;
    int rc = io_file_size(fd, &size);
    if (rc)
        return reader_read_failed(r, rc, 0);
    if (size < FH_SIZE)
        return err_set(&r->err, VMRP_E_NOT_ARCHIVE, "%s: not a vmrp archive (%s)", r->label,
                       size == 0 ? "empty file" : "shorter than a file header");
    rc = io_pread_full(fd, r->header, FH_SIZE, 0);
    if (rc)
        return reader_read_failed(r, rc, 0);
    const char *why = NULL;
    rc = header_parse(r->header, &r->coll, &why);
    if (rc)
        return err_set(&r->err, rc, "%s: %s%s", r->label,
                       rc == VMRP_E_NOT_ARCHIVE ? "not a vmrp archive: " : "", why);
    r->coll.file_size = size;
    r->strict = r->coll.format_minor <= FORMAT_MINOR;
    return VMRP_OK;
}

/* The offset of the last valid commit (0: none): the trailer if it is one,
 * else what a forward scan finds. A read error is returned, not taken for
 * a trailer that does not check. */
static int reader_find_head(vmrp_reader *r, uint64_t *head)
{
    uint64_t size = r->coll.file_size;
    commit_info c;
    *head = 0;
    if (size >= FH_SIZE + CM_RECORD_SIZE) {
        int rc = read_commit(r, size - CM_RECORD_SIZE, &c);
        if (rc == VMRP_OK) {
            *head = size - CM_RECORD_SIZE;
            return VMRP_OK;
        }
        if (rc != VMRP_E_CORRUPT)
            return rc;
        err_clear(&r->err);
    }
    return scan_for_head(r, head);
}

/* The commits from the one at `head` back to the first, newest first, each
 * checked against its successor and, with a public key set, its signature.
 * The walk is finite because every predecessor lies strictly before its
 * successor. */
static int read_commit_chain(vmrp_reader *r, uint64_t head, commit_info **out, size_t *count)
{
    size_t cap = 16, n = 0;
    commit_info *chain = malloc(cap * sizeof *chain);
    int rc = chain ? VMRP_OK : err_set(&r->err, VMRP_E_NOMEM, "out of memory");
    for (uint64_t at = head; rc == VMRP_OK;) {
        if (n == cap) {
            commit_info *bigger = realloc(chain, 2 * cap * sizeof *chain);
            if (!bigger) {
                rc = err_set(&r->err, VMRP_E_NOMEM, "out of memory");
                break;
            }
            chain = bigger;
            cap *= 2;
        }
        if ((rc = read_commit(r, at, &chain[n])) != VMRP_OK)
            break;
        /* Signatures are checked on the chain, not while finding its head:
         * an unsigned archive is refused, not mistaken for an empty one. */
        char why_buf[96];
        const char *problem = commit_signature_problem(r->pubkey, &chain[n], why_buf, sizeof why_buf);
        if (problem)
            rc = err_set(&r->err, VMRP_E_CORRUPT, "%s: the commit of point %u (offset %llu) %s",
                         r->label, chain[n].sequence, (unsigned long long)at, problem);
        else if (n > 0 && memcmp(chain[n - 1].prev_hash, chain[n].hash, HASH_SIZE) != 0)
            rc = err_set(&r->err, VMRP_E_CORRUPT,
                         "%s: commit at offset %llu does not match the hash its successor holds",
                         r->label, (unsigned long long)at);
        else if (n > 0 && chain[n].sequence + 1 != chain[n - 1].sequence)
            rc = err_set(&r->err, VMRP_E_CORRUPT, "%s: commit sequence numbers are not consecutive",
                         r->label);
        else if (chain[n++].prev_offset == 0)
            break;
        else
            at = chain[n - 1].prev_offset;
    }
    if (rc == VMRP_OK && (chain[n - 1].sequence != 1 || n > r->coll.max_points))
        rc = err_set(&r->err, VMRP_E_CORRUPT,
                     "%s: commit chain does not start at point 1 or exceeds Max_Points", r->label);
    if (rc) {
        free(chain);
        return rc;
    }
    *out = chain;
    *count = n;
    return VMRP_OK;
}

/* Every segment's INDEX, oldest first so that the record table stays sorted
 * by offset, then the key records of an encrypted collection. */
static int reader_load_indexes(vmrp_reader *r, const commit_info *chain, size_t n,
                               segment_place *seg)
{
    int rc = VMRP_OK;
    for (size_t k = 0; k < n && rc == VMRP_OK; k++) {
        const commit_info *ci = &chain[n - 1 - k];
        rc = read_index(r, ci, (uint16_t)k /* < Max_Points <= 65535 */, 1, &seg[k].point);
        seg[k].start = ci->segment_offset;
        seg[k].index = ci->index_offset;
        r->points[k].info.commit_offset = ci->commit_offset;
        memcpy(r->points[k].info.commit_hash, ci->hash, HASH_SIZE);
    }
    if (rc)
        return rc;
    memcpy(r->coll.head_hash, chain[0].hash, HASH_SIZE);
    r->head_offset = chain[0].commit_offset;
    if (r->coll.encrypted)
        return reader_open_keys(r, n, seg);
    for (size_t i = 0; i < r->nrecs; i++)
        if (r->recs[i].type == REC_KEYS)
            return err_set(&r->err, VMRP_E_CORRUPT,
                           "%s: key record at offset %llu in an archive without encryption",
                           r->label, (unsigned long long)r->recs[i].offset);
    return VMRP_OK;
}

/* The segments of the chain: indexes, keys, then each point's metadata. */
static int reader_load_segments(vmrp_reader *r, const commit_info *chain, size_t n)
{
    r->points = calloc(n, sizeof *r->points);
    r->table = rectab_new(r->fd);
    segment_place *seg = calloc(n, sizeof *seg);
    int rc = r->points && r->table && seg ? reader_load_indexes(r, chain, n, seg)
                                          : err_set(&r->err, VMRP_E_NOMEM, "out of memory");
    if (rc == VMRP_OK && r->coll.encrypted && !r->crypt->unlocked) {
        /* a writer appending without the key: the chain, no points */
        r->coll.point_count = (uint32_t)n;
        free(seg);
        return VMRP_OK;
    }
    points_seen seen = {hashidx_new(), familytab_new()};
    if (rc == VMRP_OK && (!seen.names || !seen.families))
        rc = err_set(&r->err, VMRP_E_NOMEM, "out of memory");
    for (size_t k = 0; k < n && rc == VMRP_OK; k++)
        rc = reader_load_point(r, (uint32_t)k, seg[k].point, seg[k].start, seg[k].index, &seen);
    hashidx_free(seen.names);
    familytab_free(seen.families);
    free(seg);
    if (rc == VMRP_OK)
        r->coll.point_count = r->npoints;
    return rc;
}

int reader_open_internal(vmrp_reader *r, int fd, const char *label, uint64_t *torn_bytes)
{
    reader_reset(r);
    err_clear(&r->err);
    memset(&r->coll, 0, sizeof r->coll);
    uint64_t head = 0;
    int rc = reader_open_header(r, fd, label);
    if (rc == VMRP_OK)
        rc = reader_find_head(r, &head);
    if (rc)
        return rc;
    r->coll.committed_size = head ? head + CM_RECORD_SIZE : FH_SIZE;
    rc = judge_tail(r, r->coll.committed_size, torn_bytes != NULL, &r->coll.tail_damaged);
    if (rc)
        return rc;
    if (torn_bytes)
        *torn_bytes = r->coll.file_size - r->coll.committed_size;
    if (head == 0)
        return VMRP_OK; /* an interrupted creation: no points */
    commit_info *chain = NULL;
    size_t n = 0;
    rc = read_commit_chain(r, head, &chain, &n);
    if (rc)
        return rc;
    rc = reader_load_segments(r, chain, n);
    free(chain);
    return rc;
}

int vmrp_reader_open_fd(vmrp_reader *r, int fd, const char *label)
{
    return reader_open_internal(r, fd, label, NULL);
}

int vmrp_probe(const char *path, vmrp_collection_info *info)
{
    unsigned char header[FH_SIZE];
    const char *why = NULL;
    memset(info, 0, sizeof *info);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? VMRP_E_NOT_FOUND : VMRP_E_IO;
    int rc = io_pread_full(fd, header, FH_SIZE, 0);
    close(fd);
    if (rc == -ENODATA)
        return VMRP_E_NOT_ARCHIVE; /* shorter than a header */
    if (rc) {
        errno = -rc;
        return VMRP_E_IO;
    }
    return header_parse(header, info, &why);
}

int vmrp_reader_open(vmrp_reader *r, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno; /* before reader_reset, whose close() may change it */
        reader_reset(r);
        return err_set(&r->err, e == ENOENT ? VMRP_E_NOT_FOUND : VMRP_E_IO, "%s: %s", path,
                       strerror(e));
    }
    int rc = reader_open_internal(r, fd, path, NULL);
    r->own_fd = 1;
    return rc;
}
