/* resolve.c - rebuilding a disk at a point from its chain of deltas, and
 * reading configuration files.
 *
 * Only the MAP records along the chain and the BLOCK records the result
 * names are read; memory grows with the entries along the chain, never with
 * the virtual size of the disk.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmrp_private.h"

typedef struct {
    map_entry e;
    uint32_t rank; /* 0 = newest point of the chain */
} ranked_entry;

static int find_disk(const point_meta *pm, const char *name)
{
    for (uint32_t d = 0; d < pm->info.disk_count; d++)
        if (strcmp(pm->info.disks[d].name, name) == 0)
            return (int)d;
    return -1;
}

static uint64_t block_count(uint64_t size, uint32_t bs)
{
    return size / bs + (size % bs != 0);
}

/* Append the map of disk d of point k to *v, keeping entries below
 * `limit` (the running minimum of block counts). Every entry is checked,
 * kept or not, so damage is found wherever it lies. */
static int load_map(vmrp_reader *r, uint32_t k, uint32_t d, uint64_t limit, uint32_t rank,
                    ranked_entry **v, size_t *n, size_t *cap)
{
    const point_meta *pm = &r->points[k];
    const vmrp_disk_info *di = &pm->info.disks[d];
    const disk_meta *dm = &pm->disk_meta[d];
    uint64_t nblocks = block_count(di->size_bytes, r->coll.block_size);
    uint64_t seen = 0;
    int64_t prev_block = -1;
    for (uint32_t m = 0; m < dm->map_count; m++) {
        rec_ref found;
        const rec_ref *ref = reader_find_record(r, dm->map_offsets[m], &found);
        char what[128];
        snprintf(what, sizeof what, "map %u of disk %s in point %u", m, di->name, k + 1);
        unsigned char *raw = NULL;
        size_t len = 0;
        int rc = reader_load_record(r, ref, REC_MAP, &raw, &len, what);
        if (rc)
            return rc;
        size_t cnt = len / MAP_ENTRY_SIZE;
        if (len % MAP_ENTRY_SIZE != 0 || seen + cnt > di->changed_blocks) {
            free(raw);
            return err_set(&r->err, VMRP_E_CORRUPT, "%s: %s: size does not match Changed_Blocks",
                           r->label, what);
        }
        seen += cnt;
        if (*n + cnt > *cap) {
            size_t want = (*cap ? *cap : 1024);
            while (want < *n + cnt)
                want *= 2;
            ranked_entry *bigger = realloc(*v, want * sizeof *bigger);
            if (!bigger) {
                free(raw);
                return err_set(&r->err, VMRP_E_NOMEM, "%s: out of memory resolving disk %s",
                               r->label, di->name);
            }
            *v = bigger;
            *cap = want;
        }
        for (size_t i = 0; i < cnt; i++) {
            const unsigned char *p = raw + i * MAP_ENTRY_SIZE;
            map_entry e;
            e.block = le64_load(p + ME_OFF_BLOCK);
            e.record = le64_load(p + ME_OFF_RECORD);
            memcpy(e.id, p + ME_OFF_ID, HASH_SIZE);
            const char *bad = NULL;
            if ((int64_t)e.block <= prev_block || e.block >= nblocks)
                bad = "block numbers not increasing or beyond the disk size";
            else if (e.record == 0 && !is_zero(e.id, HASH_SIZE))
                bad = "zero entry with a Block_Id";
            else if (e.record != 0) {
                rec_ref block;
                const rec_ref *br = reader_find_record(r, e.record, &block);
                if (!br || br->type != REC_BLOCK || br->offset >= pm->index_offset)
                    bad = "entry names no BLOCK record";
            }
            if (bad) {
                free(raw);
                return err_set(&r->err, VMRP_E_CORRUPT, "%s: %s, entry %zu (block %llu): %s",
                               r->label, what, i, (unsigned long long)e.block, bad);
            }
            prev_block = (int64_t)e.block;
            if (e.block < limit) {
                (*v)[*n].e = e;
                (*v)[*n].rank = rank;
                (*n)++;
            }
        }
        free(raw);
    }
    if (seen != di->changed_blocks)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: disk %s in point %u: maps hold %llu entries, Changed_Blocks says %llu",
                       r->label, di->name, k + 1, (unsigned long long)seen,
                       (unsigned long long)di->changed_blocks);
    return VMRP_OK;
}

static int by_block_then_rank(const void *a, const void *b)
{
    const ranked_entry *x = a, *y = b;
    if (x->e.block != y->e.block)
        return x->e.block < y->e.block ? -1 : 1;
    return (x->rank > y->rank) - (x->rank < y->rank);
}

static int find_family(const point_meta *pm, const unsigned char family[ID_SIZE])
{
    for (uint32_t d = 0; d < pm->info.disk_count; d++)
        if (memcmp(pm->info.disks[d].family_id, family, ID_SIZE) == 0)
            return (int)d;
    return -1;
}

/* Resolve disk `name` at point index pi (which must include it): the chain
 * is its family's (spec 9). */
static int resolve_at(vmrp_reader *r, uint32_t pi, const char *name, map_entry **out,
                      size_t *count)
{
    ranked_entry *v = NULL;
    size_t n = 0, cap = 0;
    uint64_t limit = UINT64_MAX;
    uint32_t rank = 0;
    *out = NULL;
    *count = 0;
    unsigned char family[ID_SIZE];
    memcpy(family, r->points[pi].info.disks[find_disk(&r->points[pi], name)].family_id, ID_SIZE);
    /* One allocation for the entries along the chain, when the points'
     * Changed_Blocks can be believed: growing by doubling holds up to three
     * times as much while it copies. A hostile point may claim far more
     * entries than its MAP records hold (it may name one record many
     * times), so the guess is capped by what the file can hold, twice its
     * record count; load_map() grows past it, entry by entry as read. */
    uint64_t claimed = 0;
    for (int64_t k = pi; k >= 0; k--) {
        int d = find_family(&r->points[k], family);
        if (d < 0 || r->points[k].info.disks[d].excluded)
            continue;
        claimed += r->points[k].info.disks[d].changed_blocks;
        if (r->points[k].info.disks[d].full)
            break;
    }
    const uint64_t believable = 2 * (uint64_t)rectab_count(r->table) + 1024;
    cap = (size_t)(claimed < believable ? claimed : believable);
    if (cap && !(v = malloc(cap * sizeof *v)))
        return err_set(&r->err, VMRP_E_NOMEM, "%s: out of memory resolving disk %s", r->label, name);
    for (int64_t k = pi; k >= 0; k--) {
        int d = find_family(&r->points[k], family);
        if (d < 0 || r->points[k].info.disks[d].excluded)
            continue;
        uint64_t nb = block_count(r->points[k].info.disks[d].size_bytes, r->coll.block_size);
        if (nb < limit)
            limit = nb;
        int rc = load_map(r, (uint32_t)k, (uint32_t)d, limit, rank++, &v, &n, &cap);
        if (rc) {
            free(v);
            return rc;
        }
        if (r->points[k].info.disks[d].full)
            break; /* its map is complete: older points add nothing */
    }
    if (rank > 1)
        qsort(v, n, sizeof *v, by_block_then_rank);
    /* Keep the newest entry of each block, dropping zero entries, as plain
     * map entries compacted in place: entry m is written at or before
     * where ranked entry i >= m was read. */
    map_entry *res = (map_entry *)(void *)v;
    size_t m = 0;
    uint64_t last_block = 0;
    for (size_t i = 0; i < n; i++) {
        map_entry e = v[i].e; /* read before res[m] may overwrite it */
        if (i > 0 && e.block == last_block)
            continue; /* an older entry for a block already resolved */
        last_block = e.block;
        if (e.record != 0)
            res[m++] = e;
    }
    if (m == 0) {
        free(v);
        res = malloc(sizeof *res);
        if (!res)
            return err_set(&r->err, VMRP_E_NOMEM, "%s: out of memory resolving disk %s", r->label,
                           name);
    } else {
        map_entry *smaller = realloc(res, m * sizeof *res);
        res = smaller ? smaller : res;
    }
    *out = res;
    *count = m;
    return VMRP_OK;
}

int reader_resolve_disk(vmrp_reader *r, uint32_t pi, const char *name, map_entry **out,
                        size_t *count)
{
    if (pi >= r->npoints)
        return err_set(&r->err, VMRP_E_NOT_FOUND, "%s: no point %u", r->label, pi + 1);
    int d = find_disk(&r->points[pi], name);
    if (d < 0)
        return err_set(&r->err, VMRP_E_NOT_FOUND, "%s: point %s (%u) has no disk '%s'", r->label,
                       r->points[pi].info.name, pi + 1, name);
    if (r->points[pi].info.disks[d].excluded)
        return err_set(&r->err, VMRP_E_NOT_FOUND,
                       "%s: disk '%s' was excluded from point %s (%u): nothing was stored",
                       r->label, name, r->points[pi].info.name, pi + 1);
    return resolve_at(r, pi, name, out, count);
}

int reader_resolve_latest(vmrp_reader *r, const char *name, map_entry **out, size_t *count,
                          const vmrp_disk_info **latest, const vmrp_disk_info **included)
{
    *out = NULL;
    *count = 0;
    *latest = NULL;
    *included = NULL;
    for (int64_t k = (int64_t)r->npoints - 1; k >= 0; k--) {
        int d = find_disk(&r->points[k], name);
        if (d < 0)
            continue;
        if (!*latest)
            *latest = &r->points[k].info.disks[d]; /* family and size, even if excluded */
        if (!r->points[k].info.disks[d].excluded) {
            *included = &r->points[k].info.disks[d];
            return resolve_at(r, (uint32_t)k, name, out, count);
        }
    }
    return VMRP_OK;
}

static const vmrp_disk_info *disk_of(const vmrp_reader *r, uint32_t pi, const char *name)
{
    int d = find_disk(&r->points[pi], name);
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

/* One batch: blocks [first, first + count) of the resolved map. A bad
 * reference or a read error is kept and reported when the batch's turn
 * comes, so that errors are reported in block order. */
typedef struct {
    rslot *s;
    unsigned char *buf;   /* records */
    unsigned char *out;   /* decoded blocks, one per slot */
    size_t first, count;
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

/* Find the records of blocks [first, first + count) and read them. */
static void load_set(vmrp_reader *r, rset *b, const map_entry *v, size_t first, size_t count,
                     size_t rec_max)
{
    size_t used = 0;
    b->first = first;
    b->count = count;
    b->bad_ref = count;
    b->read_err = 0;
    for (size_t i = 0; i < count; i++) {
        const rec_ref *ref = reader_find_record(r, v[first + i].record, &b->s[i].ref);
        if (!ref || ref->type != REC_BLOCK || ref->size > rec_max) {
            b->bad_ref = i;
            return;
        }
        b->s[i].id = v[first + i].id;
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
            return;
        }
        i = j;
    }
}

/* The errors found while loading or decoding a batch, in block order. */
static int set_problem(vmrp_reader *r, const rset *b, const map_entry *v, const char *disk_name)
{
    if (b->bad_ref < b->count)
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: block %llu of disk %s names no valid BLOCK record",
                       r->label, (unsigned long long)v[b->first + b->bad_ref].block, disk_name);
    if (b->read_err)
        return err_set(&r->err, VMRP_E_IO, "%s: read error at offset %llu: %s", r->label,
                       (unsigned long long)b->read_off, strerror(-b->read_err));
    for (size_t i = 0; i < b->count; i++) {
        const map_entry *e = &v[b->first + i];
        if (b->s[i].problem)
            return err_set(&r->err, VMRP_E_CORRUPT, "%s: block %llu of disk %s, record at offset %llu: %s",
                           r->label, (unsigned long long)e->block, disk_name,
                           (unsigned long long)e->record, b->s[i].problem);
    }
    return VMRP_OK;
}

/* Runs of consecutive blocks lie back to back in out: one sink call (one
 * write) per run, not per block. */
static int sink_set(const rset *b, const map_entry *v, uint32_t bs, uint64_t size,
                    vmrp_block_sink sink, void *ctx)
{
    int rc = VMRP_OK;
    const map_entry *e = v + b->first;
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

/* Give a checked batch to the sink, then report progress up to its end. */
static int sink_pending(vmrp_reader *r, const rset *b, const map_entry *v, size_t n, uint32_t bs,
                        uint64_t size, vmrp_block_sink sink, void *ctx)
{
    int rc = sink_set(b, v, bs, size, sink, ctx);
    if (rc == VMRP_OK && r->progress)
        r->progress(r->progress_ctx, (b->first + b->count) * (uint64_t)bs, (uint64_t)n * bs);
    return rc;
}

int vmrp_reader_read_disk(vmrp_reader *r, uint32_t index, const char *disk_name,
                          vmrp_block_sink sink, void *ctx)
{
    map_entry *v = NULL;
    size_t n = 0;
    int rc = reader_resolve_disk(r, index, disk_name, &v, &n);
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
        set[k].buf = malloc(cap * rec_max);
        set[k].out = malloc(cap * (size_t)bs);
        nomem |= !set[k].s || !set[k].buf || !set[k].out;
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
    if (n > 0)
        load_set(r, &set[0], v, 0, n < cap ? n : cap, rec_max);
    for (size_t k = 0, first = 0; first < n && rc == VMRP_OK; k++, first += cap) {
        rset *cur = &set[k % 2], *next = &set[(k + 1) % 2];
        const int loaded = cur->bad_ref == cur->count && !cur->read_err;
        b.set = cur;
        pool_start(workers, loaded ? cur->count : 0, decode_slot, &b);
        if (pending)
            rc = sink_pending(r, pending, v, n, bs, size, sink, ctx);
        pending = NULL;
        if (rc == VMRP_OK && first + cap < n)
            load_set(r, next, v, first + cap, n - first - cap < cap ? n - first - cap : cap,
                     rec_max);
        pool_finish(workers);
        if (rc == VMRP_OK)
            rc = set_problem(r, cur, v, disk_name);
        if (rc == VMRP_OK)
            pending = cur;
    }
    if (rc == VMRP_OK && pending)
        rc = sink_pending(r, pending, v, n, bs, size, sink, ctx);
out:
    for (unsigned w = 0; b.codecs && w < pool_size(workers); w++)
        codec_free(b.codecs[w]);
    free(b.codecs);
    pool_free(workers);
    for (int k = 0; k < 2; k++) {
        free(set[k].s);
        free(set[k].buf);
        free(set[k].out);
    }
    free(v);
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
    map_entry *v = NULL;
    size_t n = 0;
    *extents = NULL;
    *count = 0;
    int rc = reader_resolve_disk(r, index, disk_name, &v, &n);
    if (rc)
        return rc;
    const uint64_t bs = r->coll.block_size;
    const uint64_t size = disk_of(r, index, disk_name)->size_bytes;
    vmrp_extent *x = malloc((n ? n : 1) * sizeof *x);
    if (!x) {
        free(v);
        return err_set(&r->err, VMRP_E_NOMEM, "out of memory");
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t off = v[i].block * bs;
        uint64_t len = size - off < bs ? size - off : bs;
        if (m > 0 && x[m - 1].offset + x[m - 1].length == off)
            x[m - 1].length += len;
        else
            x[m++] = (vmrp_extent){off, len};
    }
    free(v);
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

int reader_collect_blocks(vmrp_reader *r, blocktab *t, const unsigned char *id_key)
{
    /* Every stored block has one BLOCK record; an eighth more leaves room
     * for what an incremental point usually adds. */
    size_t stored = r->nblocks;
    if (blocktab_reserve(t, stored + stored / 8))
        return err_set(&r->err, VMRP_E_NOMEM, "out of memory");
    for (uint32_t k = 0; k < r->npoints; k++) {
        const point_meta *pm = &r->points[k];
        /* Block_Ids keyed otherwise are not comparable with the writer's */
        if (id_key && sodium_memcmp(reader_id_key(r, k), id_key, KEY_SIZE) != 0)
            continue;
        for (uint32_t d = 0; d < pm->info.disk_count; d++) {
            if (pm->info.disks[d].excluded)
                continue;
            ranked_entry *v = NULL;
            size_t n = 0, cap = 0;
            int rc = load_map(r, k, d, UINT64_MAX, 0, &v, &n, &cap);
            for (size_t i = 0; rc == VMRP_OK && i < n; i++)
                if (v[i].e.record && blocktab_put(t, v[i].e.id, v[i].e.record))
                    rc = err_set(&r->err, VMRP_E_NOMEM, "out of memory");
            free(v);
            if (rc)
                return rc;
        }
    }
    return VMRP_OK;
}
