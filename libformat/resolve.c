/* resolve.c - rebuilding a disk at a point from its chain of deltas, and
 * reading configuration files.
 *
 * Only the MAP records along the chain and the BLOCK records the result
 * names are read. The resolved map is never held whole: chain.c merges the
 * chain's MAP records into a stream of entries in block order, holding one
 * decoded MAP record per point of the chain, and restore takes it a batch
 * at a time. Memory does not grow with the size of the disk nor with the
 * number of its blocks: it is the chain length times one MAP record (at
 * most 3 MiB, and never more than that point's map), plus two batches of
 * blocks.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmrp_private.h"

static const vmrp_disk_info *disk_of(const vmrp_reader *r, uint32_t pi, const char *name)
{
    int d = point_find_disk(&r->points[pi], name);
    return d < 0 ? NULL : &r->points[pi].info.disks[d];
}

/* Blocks are restored in batches: records are read in file order runs
 * (one pread for records that lie back to back, as a full point's do),
 * checked and decoded on every core, then handed to the sink in order.
 * Two sets of buffers alternate, so that while the workers decode one
 * batch the caller hands the previous one to the sink and reads the next:
 * the writes and reads of a restore overlap its decoding. */
#define RBATCH_BYTES (16u << 20)

typedef struct {
    rec_ref ref;
    const unsigned char *id; /* the map's Block_Id */
    size_t at;          /* record bytes in buf */
    const char *problem;
} rslot;

/* One batch: the next `count` entries of the resolved map. A bad
 * reference or a read error is kept and reported when the batch's turn
 * comes, so that errors are reported in block order. */
typedef struct {
    rslot *s;
    map_entry *e;         /* its entries, taken from the map_chain */
    unsigned char *buf;   /* records */
    unsigned char *out;   /* decoded blocks, one per slot */
    size_t count;
    size_t bad_ref;       /* first slot naming no valid BLOCK record; count if none */
    int read_err;
    uint64_t read_off;
} rset;

typedef struct {
    vmrp_reader *r;
    rset *set;            /* the batch being decoded */
    codec_ctx **codecs;
    uint32_t bs;
    const unsigned char *id_key; /* the point's, in an encrypted collection */
} rbatch;

static void decode_slot(void *ctx, size_t i, unsigned worker)
{
    rbatch *b = ctx;
    rslot *s = &b->set->s[i];
    unsigned char *out = b->set->out + i * (size_t)b->bs;
    /* No Record_Hash pass: the decoded block is checked against the
     * Block_Id of an authenticated map, which proves it is the block that
     * was written (and the map's claim, which the record hash alone would
     * not); decoding is bounded by Block_Size whatever the bytes hold. */
    s->problem = record_decode(b->codecs[worker], b->r->crypt, &s->ref, b->set->buf + s->at,
                               REC_BLOCK, b->bs, b->r->strict, out, b->bs);
    unsigned char id[HASH_SIZE];
    /* Block_Ids of another id space (spec 5.1) are not the map's to name */
    if (!s->problem && b->id_key &&
        sodium_memcmp(reader_id_key(b->r, s->ref.segment), b->id_key, KEY_SIZE) != 0)
        s->problem = "is a block of another id space (keyed with another Id_Key)";
    if (!s->problem) {
        id_hash(id, out, b->bs, b->id_key);
        if (memcmp(id, s->id, HASH_SIZE) != 0)
            s->problem = "does not hold the data of the Block_Id the map gives it";
    }
}

/* Take the next (up to cap) entries of the chain, find their records and
 * read them. Fails only when the chain does, or the record table cannot be
 * read back. */
static int load_set(vmrp_reader *r, rset *b, map_chain *ch, size_t cap, size_t rec_max)
{
    size_t used = 0;
    b->count = 0;
    b->bad_ref = 0;
    b->read_err = 0;
    while (b->count < cap) {
        int have = 0;
        int rc = chain_next(ch, &b->e[b->count], &have);
        if (rc)
            return rc;
        if (!have)
            break;
        b->count++;
    }
    b->bad_ref = b->count;
    const size_t count = b->count;
    for (size_t i = 0; i < count; i++) {
        const rec_ref *ref = reader_find_record(r, b->e[i].record, &b->s[i].ref);
        if (!ref && r->find_failed)
            return r->find_failed;
        if (!ref || ref->type != REC_BLOCK || ref->size > rec_max) {
            b->bad_ref = i;
            return VMRP_OK;
        }
        b->s[i].id = b->e[i].id;
        b->s[i].at = used;
        used += ref->size;
    }
    /* read runs of records that are back to back in the file */
    for (size_t i = 0; i < count;) {
        size_t j = i + 1;
        while (j < count && b->s[j].ref.offset == b->s[j - 1].ref.offset + b->s[j - 1].ref.size &&
               b->s[j].at == b->s[j - 1].at + b->s[j - 1].ref.size)
            j++;
        size_t len = b->s[j - 1].at + b->s[j - 1].ref.size - b->s[i].at;
        int e = io_pread_full(r->fd, b->buf + b->s[i].at, len, b->s[i].ref.offset);
        if (e) {
            b->read_err = e;
            b->read_off = b->s[i].ref.offset;
            return VMRP_OK;
        }
        i = j;
    }
    return VMRP_OK;
}

/* The errors found while loading or decoding a batch, in block order. */
static int set_problem(vmrp_reader *r, const rset *b, const char *disk_name)
{
    if (b->bad_ref < b->count)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: block %llu of disk %s names no valid BLOCK record",
                       r->label, (unsigned long long)b->e[b->bad_ref].block, disk_name);
    if (b->read_err)
        return err_set(&r->err, VMRP_E_IO, "%s: read error at offset %llu: %s", r->label,
                       (unsigned long long)b->read_off, strerror(-b->read_err));
    for (size_t i = 0; i < b->count; i++) {
        const map_entry *e = &b->e[i];
        if (b->s[i].problem)
            return err_set(&r->err, VMRP_E_CORRUPT, "%s: block %llu of disk %s, record at offset %llu: %s",
                           r->label, (unsigned long long)e->block, disk_name,
                           (unsigned long long)e->record, b->s[i].problem);
    }
    return VMRP_OK;
}

/* Runs of consecutive blocks lie back to back in out: one sink call (one
 * write) per run, not per block. */
static int sink_set(const rset *b, uint32_t bs, uint64_t size, vmrp_block_sink sink, void *ctx)
{
    int rc = VMRP_OK;
    const map_entry *e = b->e;
    for (size_t i = 0; i < b->count && rc == VMRP_OK;) {
        size_t j = i + 1;
        while (j < b->count && e[j].block == e[j - 1].block + 1)
            j++;
        uint64_t off = e[i].block * bs;
        uint64_t end = (e[j - 1].block + 1) * bs;
        if (end > size)
            end = size;
        rc = sink(ctx, off, b->out + i * (size_t)bs, (size_t)(end - off));
        i = j;
    }
    return rc;
}

/* Give a checked batch to the sink, then report progress: the disk is
 * restored up to the end of the batch's last block. (The number of blocks
 * a disk resolves to is known only once its chain is merged.) */
static int sink_pending(vmrp_reader *r, const rset *b, uint32_t bs, uint64_t size,
                        vmrp_block_sink sink, void *ctx)
{
    int rc = sink_set(b, bs, size, sink, ctx);
    if (rc == VMRP_OK && r->progress && b->count) {
        uint64_t end = (b->e[b->count - 1].block + 1) * bs;
        r->progress(r->progress_ctx, end < size ? end : size, size);
    }
    return rc;
}

int vmrp_reader_read_disk(vmrp_reader *r, uint32_t index, const char *disk_name,
                          vmrp_block_sink sink, void *ctx)
{
    map_chain *ch = NULL;
    int rc = chain_open(r, index, disk_name, 1, &ch);
    if (rc)
        return rc;
    const uint32_t bs = r->coll.block_size;
    const uint64_t size = disk_of(r, index, disk_name)->size_bytes;
    const size_t cap = RBATCH_BYTES / bs ? RBATCH_BYTES / bs : 1;
    const size_t rec_max = RH_SIZE + (size_t)bs + (r->crypt ? RECORD_CRYPTO_OVERHEAD : 0);
    pool *workers = pool_new(pool_default_threads());
    rset set[2];
    memset(set, 0, sizeof set);
    rbatch b = {r, NULL, NULL, bs, reader_id_key(r, index)};
    int nomem = !workers;
    for (int k = 0; k < 2; k++) {
        set[k].s = calloc(cap, sizeof(rslot));
        set[k].e = malloc(cap * sizeof(map_entry));
        set[k].buf = malloc(cap * rec_max);
        set[k].out = malloc(cap * (size_t)bs);
        nomem |= !set[k].s || !set[k].e || !set[k].buf || !set[k].out;
    }
    if (workers)
        b.codecs = calloc(pool_size(workers), sizeof *b.codecs);
    for (unsigned w = 0; b.codecs && w < pool_size(workers); w++)
        nomem |= !(b.codecs[w] = codec_new());
    if (nomem || !b.codecs) {
        rc = err_set(&r->err, VMRP_E_NOMEM, "%s: out of memory", r->label);
        goto out;
    }
    const rset *pending = NULL; /* decoded and checked, not yet given to the sink */
    rc = load_set(r, &set[0], ch, cap, rec_max);
    for (size_t k = 0; rc == VMRP_OK && set[k % 2].count > 0; k++) {
        rset *cur = &set[k % 2], *next = &set[(k + 1) % 2];
        const int loaded = cur->bad_ref == cur->count && !cur->read_err;
        b.set = cur;
        pool_start(workers, loaded ? cur->count : 0, decode_slot, &b);
        if (pending)
            rc = sink_pending(r, pending, bs, size, sink, ctx);
        pending = NULL;
        next->count = 0;
        if (rc == VMRP_OK && cur->count == cap)
            rc = load_set(r, next, ch, cap, rec_max);
        pool_finish(workers);
        if (rc == VMRP_OK)
            rc = set_problem(r, cur, disk_name);
        if (rc == VMRP_OK)
            pending = cur;
    }
    if (rc == VMRP_OK && pending)
        rc = sink_pending(r, pending, bs, size, sink, ctx);
out:
    for (unsigned w = 0; b.codecs && w < pool_size(workers); w++)
        codec_free(b.codecs[w]);
    free(b.codecs);
    pool_free(workers);
    for (int k = 0; k < 2; k++) {
        free(set[k].s);
        free(set[k].e);
        free(set[k].buf);
        free(set[k].out);
    }
    chain_free(ch);
    return rc;
}

typedef struct {
    vmrp_reader *r;
    int fd;
    int sparse;
    uint64_t pos; /* streaming: bytes written so far */
    unsigned char *zeros;
    size_t zeros_len;
} fd_sink;

static int write_zeros(fd_sink *s, uint64_t upto)
{
    while (s->pos < upto) {
        size_t len = (upto - s->pos < s->zeros_len) ? (size_t)(upto - s->pos) : s->zeros_len;
        int rc = io_write_full(s->fd, s->zeros, len);
        if (rc)
            return err_set(&s->r->err, VMRP_E_IO, "write error: %s", strerror(-rc));
        s->pos += len;
    }
    return VMRP_OK;
}

static int fd_sink_block(void *ctx, uint64_t off, const void *data, size_t len)
{
    fd_sink *s = ctx;
    int rc;
    if (s->sparse) {
        rc = io_pwrite_full(s->fd, data, len, off);
        io_start_writeback(s->fd, off, len);
    } else {
        rc = write_zeros(s, off);
        if (rc)
            return rc;
        rc = io_write_full(s->fd, data, len);
        s->pos = off + len;
    }
    if (rc)
        return err_set(&s->r->err, VMRP_E_IO, "write error at offset %llu: %s",
                       (unsigned long long)off, strerror(-rc));
    return VMRP_OK;
}

int vmrp_reader_restore_disk(vmrp_reader *r, uint32_t index, const char *disk_name, int fd,
                             unsigned flags)
{
    if (index >= r->npoints)
        return err_set(&r->err, VMRP_E_NOT_FOUND, "%s: no point %u", r->label, index + 1);
    const vmrp_disk_info *di = disk_of(r, index, disk_name);
    fd_sink s = {r, fd, (flags & VMRP_RESTORE_SPARSE) != 0, 0, NULL, 0};
    if (di && s.sparse && ftruncate(fd, (off_t)di->size_bytes) != 0)
        return err_set(&r->err, VMRP_E_IO, "cannot set the size of the output to %llu bytes: %s",
                       (unsigned long long)di->size_bytes, strerror(errno));
    if (!s.sparse) {
        s.zeros_len = 1u << 20;
        s.zeros = calloc(1, s.zeros_len);
        if (!s.zeros)
            return err_set(&r->err, VMRP_E_NOMEM, "out of memory");
    }
    int rc = vmrp_reader_read_disk(r, index, disk_name, fd_sink_block, &s);
    if (rc == VMRP_OK && !s.sparse)
        rc = write_zeros(&s, di->size_bytes);
    free(s.zeros);
    return rc;
}

int vmrp_reader_disk_extents(vmrp_reader *r, uint32_t index, const char *disk_name,
                             vmrp_extent **extents, size_t *count)
{
    *extents = NULL;
    *count = 0;
    map_chain *ch = NULL;
    int rc = chain_open(r, index, disk_name, 1, &ch);
    if (rc)
        return rc;
    const uint64_t bs = r->coll.block_size;
    const uint64_t size = disk_of(r, index, disk_name)->size_bytes;
    vmrp_extent *x = malloc(sizeof *x);
    size_t m = 0, cap = 1;
    if (!x)
        rc = err_set(&r->err, VMRP_E_NOMEM, "out of memory");
    while (rc == VMRP_OK) {
        map_entry e;
        int have = 0;
        rc = chain_next(ch, &e, &have);
        if (rc || !have)
            break;
        uint64_t off = e.block * bs;
        uint64_t len = size - off < bs ? size - off : bs;
        if (m > 0 && x[m - 1].offset + x[m - 1].length == off) {
            x[m - 1].length += len;
            continue;
        }
        if (m == cap) {
            vmrp_extent *bigger = realloc(x, 2 * cap * sizeof *x);
            if (!bigger) {
                rc = err_set(&r->err, VMRP_E_NOMEM, "out of memory");
                break;
            }
            x = bigger;
            cap *= 2;
        }
        x[m++] = (vmrp_extent){off, len};
    }
    chain_free(ch);
    if (rc) {
        free(x);
        return rc;
    }
    *extents = x;
    *count = m;
    return VMRP_OK;
}

int vmrp_reader_read_config_file(vmrp_reader *r, uint32_t index, uint32_t file_index,
                                 void **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    if (index >= r->npoints || file_index >= r->points[index].info.config_file_count)
        return err_set(&r->err, VMRP_E_NOT_FOUND, "%s: no config file %u in point %u", r->label,
                       file_index, index + 1);
    const point_meta *pm = &r->points[index];
    const vmrp_config_file_info *fi = &pm->info.config_files[file_index];
    if (fi->size == 0)
        return VMRP_OK;
    char what[128];
    snprintf(what, sizeof what, "config file %.80s of point %u", fi->name, index + 1);
    unsigned char *raw = NULL;
    size_t len = 0;
    rec_ref found;
    const rec_ref *ref = reader_find_record(r, pm->file_records[file_index], &found);
    const unsigned char *id_key = reader_id_key(r, index);
    if (ref && id_key && sodium_memcmp(reader_id_key(r, ref->segment), id_key, KEY_SIZE) != 0)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: %s names a record of another id space",
                       r->label, what);
    int rc = reader_load_record(r, ref, REC_FILE, &raw, &len, what);
    if (rc)
        return rc;
    unsigned char h[HASH_SIZE];
    id_hash(h, raw, len, reader_id_key(r, index));
    if (len != fi->size || memcmp(h, pm->file_hashes[file_index], HASH_SIZE) != 0) {
        free(raw);
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: %s does not match its size and Content_Hash",
                       r->label, what);
    }
    *data = raw;
    *size = len;
    return VMRP_OK;
}

typedef struct {
    vmrp_reader *r;
    blocktab *t;
} collect_ctx;

static int collect_entry(void *ctx, const map_entry *e)
{
    collect_ctx *c = ctx;
    if (e->record && blocktab_put(c->t, e->id, e->record))
        return err_set(&c->r->err, VMRP_E_NOMEM, "out of memory");
    return VMRP_OK;
}

int reader_collect_blocks(vmrp_reader *r, blocktab *t, const unsigned char *id_key)
{
    /* Every stored block has one BLOCK record; an eighth more leaves room
     * for what an incremental point usually adds. */
    size_t stored = r->nblocks;
    if (blocktab_reserve(t, stored + stored / 8))
        return err_set(&r->err, VMRP_E_NOMEM, "out of memory");
    collect_ctx c = {r, t};
    for (uint32_t k = 0; k < r->npoints; k++) {
        const point_meta *pm = &r->points[k];
        /* Block_Ids keyed otherwise are not comparable with the writer's */
        if (id_key && sodium_memcmp(reader_id_key(r, k), id_key, KEY_SIZE) != 0)
            continue;
        for (uint32_t d = 0; d < pm->info.disk_count; d++) {
            if (pm->info.disks[d].excluded)
                continue;
            /* one MAP record at a time, every entry checked */
            int rc = map_walk(r, k, d, collect_entry, &c);
            if (rc)
                return rc;
        }
    }
    return VMRP_OK;
}
