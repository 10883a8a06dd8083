/* writer_disk.c - reading a disk and writing its delta against the disk's
 * latest point: only blocks whose content changed get a map entry, only
 * blocks never stored before get a BLOCK record. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "writer_private.h"

typedef struct {
    vmrp_writer *w;
    new_disk *d;
    const char *label;
    const map_entry *prev; /* previous resolution, sorted, zero entries dropped */
    size_t nprev, iprev;
    unsigned char *map; /* pending MAP entries */
    size_t nmap;
} disk_job;

static new_disk *new_disk_slot(vmrp_writer *w, const char *name)
{
    if (!name || !name_disk_valid(name, strlen(name))) {
        writer_fail(w, VMRP_E_INPUT,
                    "disk name '%s' is not valid: 1..64 of [A-Za-z0-9._-], not starting with '.'",
                    name ? name : "");
        return NULL;
    }
    for (size_t i = 0; i < w->ndisks; i++)
        if (strcmp(w->disks[i].name, name) == 0) {
            writer_fail(w, VMRP_E_EXISTS, "disk %s is named twice in this point", name);
            return NULL;
        }
    if (w->ndisks >= DISKS_PER_POINT_MAX) {
        writer_fail(w, VMRP_E_LIMIT, "a point holds at most %u disks", DISKS_PER_POINT_MAX);
        return NULL;
    }
    if (w->ndisks == w->capdisks) {
        size_t cap = w->capdisks ? w->capdisks * 2 : 4;
        new_disk *bigger = realloc(w->disks, cap * sizeof *bigger);
        if (!bigger) {
            writer_fail(w, VMRP_E_NOMEM, "out of memory");
            return NULL;
        }
        w->disks = bigger;
        w->capdisks = cap;
    }
    new_disk *d = &w->disks[w->ndisks];
    memset(d, 0, sizeof *d);
    d->name = strdup(name);
    if (!d->name) {
        writer_fail(w, VMRP_E_NOMEM, "out of memory");
        return NULL;
    }
    d->sector_size = 512;
    return d;
}

static int flush_map(disk_job *j)
{
    if (j->nmap == 0)
        return VMRP_OK;
    new_disk *d = j->d;
    uint64_t *bigger = realloc(d->map_offsets, (d->nmaps + 1) * sizeof *bigger);
    if (!bigger)
        return writer_fail(j->w, VMRP_E_NOMEM, "out of memory");
    d->map_offsets = bigger;
    int rc = writer_put_record(j->w, REC_MAP, j->w->codec_id, j->map, j->nmap * MAP_ENTRY_SIZE,
                               &d->map_offsets[d->nmaps]);
    if (rc)
        return rc;
    d->nmaps++;
    j->nmap = 0;
    return VMRP_OK;
}

static int emit(disk_job *j, uint64_t block, uint64_t record, const unsigned char *id)
{
    unsigned char *e = j->map + j->nmap * MAP_ENTRY_SIZE;
    le64_store(e + ME_OFF_BLOCK, block);
    le64_store(e + ME_OFF_RECORD, record);
    if (id)
        memcpy(e + ME_OFF_ID, id, HASH_SIZE);
    else
        memset(e + ME_OFF_ID, 0, HASH_SIZE);
    j->d->changed++;
    j->w->stats.changed_blocks++;
    if (++j->nmap == MAP_ENTRIES_PER_RECORD)
        return flush_map(j);
    return VMRP_OK;
}

/* Previous entries for blocks before `upto` that were not read (holes):
 * those blocks are zero now, so a non-zero past needs a zero entry. */
static int zero_skipped(disk_job *j, uint64_t upto)
{
    while (j->iprev < j->nprev && j->prev[j->iprev].block < upto) {
        int rc = emit(j, j->prev[j->iprev].block, 0, NULL);
        if (rc)
            return rc;
        j->iprev++;
    }
    return VMRP_OK;
}

/* ---- blocks in batches ----
 *
 * A batch is a run of consecutive blocks of one data range, so no hole lies
 * inside it. Per batch: read it (serial, one large pread), hash it (parallel),
 * decide what each block needs (serial: the map and dedup are ordered),
 * compress what must be stored (parallel), append the records and the map
 * entries (serial). Memory is bounded by one batch.
 */
#define BATCH_BYTES (16u << 20)
#define PENDING (1ull << 63) /* a blocktab offset for "stored in this batch" */

typedef struct {
    uint64_t block;
    int zero;
    int changed;        /* needs a map entry */
    int store;          /* needs a BLOCK record */
    int64_t same_as;    /* an earlier slot of the batch with the same data */
    uint64_t record;    /* BLOCK record offset of the map entry */
    long rec_len;       /* built record size */
    unsigned char id[HASH_SIZE];
    unsigned char rec_hash[HASH_SIZE];
} bslot;

typedef struct {
    disk_job *j;
    size_t cap;         /* slots */
    size_t n;
    bslot *slots;
    unsigned char *data; /* cap blocks */
    unsigned char *recs; /* cap built records, rec_cap apart */
    size_t rec_cap;
    int failed;
} batch;

static void hash_slot(void *ctx, size_t i, unsigned worker)
{
    (void)worker;
    batch *b = ctx;
    const uint32_t bs = b->j->w->block_size;
    const unsigned char *data = b->data + i * bs;
    b->slots[i].zero = is_zero(data, bs);
    if (!b->slots[i].zero)
        id_hash(b->slots[i].id, data, bs, b->j->w->id_key);
}

static void build_slot(void *ctx, size_t i, unsigned worker)
{
    batch *b = ctx;
    bslot *s = &b->slots[i];
    if (!s->store)
        return;
    vmrp_writer *w = b->j->w;
    unsigned char *out = b->recs + i * b->rec_cap;
    s->rec_len = writer_build_record(w->worker_codecs[worker], REC_BLOCK, w->codec_id, w->level,
                                     b->data + i * w->block_size, w->block_size,
                                     writer_encrypts(w, REC_BLOCK), out, b->rec_cap);
    if (s->rec_len < 0)
        b->failed = 1;
    else if (!w->crypt)
        hash_buf(s->rec_hash, out, (size_t)s->rec_len);
}

/* Encrypted records are bound to their offset, known only once the batch
 * is laid out; they are sealed, and then hashed, in a second pass. */
static void seal_slot(void *ctx, size_t i, unsigned worker)
{
    (void)worker;
    batch *b = ctx;
    bslot *s = &b->slots[i];
    if (!s->store)
        return;
    unsigned char *rec = b->recs + i * b->rec_cap;
    writer_seal(b->j->w, rec, (size_t)s->rec_len, s->record);
    hash_buf(s->rec_hash, rec, (size_t)s->rec_len);
}

/* Decide, in block order, what each block of the batch needs. */
static int decide(batch *b)
{
    disk_job *j = b->j;
    vmrp_writer *w = j->w;
    for (size_t i = 0; i < b->n; i++) {
        bslot *s = &b->slots[i];
        const map_entry *before = (j->iprev < j->nprev && j->prev[j->iprev].block == s->block)
                                      ? &j->prev[j->iprev++]
                                      : NULL;
        s->changed = s->store = 0;
        s->same_as = -1;
        s->record = 0;
        if (s->zero) {
            s->changed = before != NULL; /* became zero: recorded, not stored */
            continue;
        }
        if (before && memcmp(before->id, s->id, HASH_SIZE) == 0)
            continue;
        s->changed = 1;
        uint64_t known = blocktab_get(w->blocks, s->id);
        if (known & PENDING) {
            s->same_as = (int64_t)(known & ~PENDING);
            w->stats.dedup_blocks++;
        } else if (known) {
            s->record = known;
            w->stats.dedup_blocks++;
        } else {
            s->store = 1;
            if (blocktab_put(w->blocks, s->id, PENDING | i))
                return writer_fail(w, VMRP_E_NOMEM, "out of memory");
        }
    }
    return VMRP_OK;
}

/* Append the batch's records in one write, then its map entries. */
static int commit_batch(batch *b)
{
    disk_job *j = b->j;
    vmrp_writer *w = j->w;
    size_t count = 0, len = 0;
    for (size_t i = 0, at = 0; i < b->n; i++)
        if (b->slots[i].store) {
            b->slots[i].record = w->pos + at;
            at += (size_t)b->slots[i].rec_len;
        }
    if (w->crypt)
        pool_for(w->workers, b->n, seal_slot, b);
    for (size_t i = 0; i < b->n; i++) {
        bslot *s = &b->slots[i];
        if (!s->store)
            continue;
        /* pack the built records back to back, in block order */
        memmove(b->recs + len, b->recs + i * b->rec_cap, (size_t)s->rec_len);
        blocktab_set(w->blocks, s->id, s->record);
        len += (size_t)s->rec_len;
        j->d->stored_bytes += (uint64_t)s->rec_len;
        w->stats.new_blocks++;
        count++;
    }
    if (count) {
        uint32_t *sizes = malloc(count * sizeof *sizes);
        unsigned char (*hashes)[HASH_SIZE] = malloc(count * sizeof *hashes);
        if (!sizes || !hashes) {
            free(sizes);
            free(hashes);
            return writer_fail(w, VMRP_E_NOMEM, "out of memory");
        }
        for (size_t i = 0, k = 0; i < b->n; i++)
            if (b->slots[i].store) {
                sizes[k] = (uint32_t)b->slots[i].rec_len;
                memcpy(hashes[k++], b->slots[i].rec_hash, HASH_SIZE);
            }
        int rc = writer_append_built(w, REC_BLOCK, b->recs, len, count, sizes,
                                     (const unsigned char(*)[HASH_SIZE])hashes);
        free(sizes);
        free(hashes);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < b->n; i++) {
        bslot *s = &b->slots[i];
        if (!s->changed)
            continue;
        if (s->same_as >= 0)
            s->record = b->slots[s->same_as].record;
        int rc = emit(j, s->block, s->zero ? 0 : s->record, s->zero ? NULL : s->id);
        if (rc)
            return rc;
    }
    return VMRP_OK;
}

static void report(vmrp_writer *w, uint64_t bytes)
{
    w->progress_done += bytes;
    if (w->progress)
        w->progress(w->progress_ctx, w->progress_done, w->progress_total);
}

/* Blocks [first, last) are data: read, hash, decide, compress, append. */
static int run_batch(batch *b, int fd, uint64_t first, uint64_t last)
{
    disk_job *j = b->j;
    vmrp_writer *w = j->w;
    const uint64_t bs = w->block_size, size = j->d->size;
    int rc = zero_skipped(j, first);
    if (rc)
        return rc;
    b->n = (size_t)(last - first);
    uint64_t off = first * bs;
    size_t want = (size - off < b->n * bs) ? (size_t)(size - off) : (size_t)(b->n * bs);
    int e = io_pread_full(fd, b->data, want, off);
    if (e == -ENODATA)
        return writer_fail(w, VMRP_E_INPUT,
                           "%s (disk %s): ended near offset %llu while being read; it changed "
                           "size (pack disks that are not in use)",
                           j->label, j->d->name, (unsigned long long)off);
    if (e)
        return writer_fail(w, VMRP_E_IO, "%s (disk %s): read error at offset %llu: %s", j->label,
                           j->d->name, (unsigned long long)off, strerror(-e));
    memset(b->data + want, 0, b->n * bs - want); /* the last block is padded with zeros */
    w->stats.bytes_read += want;
    for (size_t i = 0; i < b->n; i++)
        b->slots[i].block = first + i;
    pool_for(w->workers, b->n, hash_slot, b);
    if ((rc = decide(b)) != 0)
        return rc;
    pool_for(w->workers, b->n, build_slot, b);
    if (b->failed)
        return writer_fail(w, VMRP_E_NOMEM, "%s: compression failed", w->label);
    rc = commit_batch(b);
    report(w, want);
    return rc;
}

/* Read every data range of the disk, batch by batch. */
/* Previous entries before block `upto` that lie outside the ranges being
 * read: unchanged by promise of the caller, so no entry. */
static void skip_unread(disk_job *j, uint64_t upto)
{
    while (j->iprev < j->nprev && j->prev[j->iprev].block < upto)
        j->iprev++;
}

/* Read the data ranges of blocks [from, to), batch by batch. Holes in the
 * window are zero now, so earlier data there gets a zero entry. */
static int read_window(batch *b, int fd, uint64_t from, uint64_t to)
{
    disk_job *j = b->j;
    const uint64_t bs = j->w->block_size, size = j->d->size;
    const uint64_t end = to * bs < size ? to * bs : size;
    int rc = VMRP_OK;
    uint64_t next_block = from, ds, de;
    while (rc == VMRP_OK && next_block < to &&
           io_next_data(fd, next_block * bs, end, &ds, &de) == 0) {
        uint64_t first = ds / bs, last = de / bs + (de % bs != 0);
        if (first < next_block)
            first = next_block;
        if (last > to)
            last = to;
        for (uint64_t at = first; rc == VMRP_OK && at < last; at += b->cap)
            rc = run_batch(b, fd, at, last - at < b->cap ? last : at + b->cap);
        next_block = last;
    }
    return rc == VMRP_OK ? zero_skipped(j, to) : rc;
}

/* Read the disk: everything, or only the given windows of blocks (sorted,
 * disjoint) when the caller knows what changed. */
static int read_disk(disk_job *j, int fd, const uint64_t (*windows)[2], size_t nwindows)
{
    vmrp_writer *w = j->w;
    const uint64_t bs = w->block_size, size = j->d->size;
    const uint64_t nblocks = size / bs + (size % bs != 0);
    batch b;
    memset(&b, 0, sizeof b);
    b.j = j;
    b.cap = BATCH_BYTES / bs ? BATCH_BYTES / bs : 1;
    b.rec_cap = writer_record_bound(w, bs);
    b.slots = calloc(b.cap, sizeof *b.slots);
    b.data = malloc(b.cap * bs);
    b.recs = malloc(b.cap * b.rec_cap);
    int rc = VMRP_OK;
    if (!b.slots || !b.data || !b.recs)
        rc = writer_fail(w, VMRP_E_NOMEM, "out of memory");
    if (!windows) {
        if (rc == VMRP_OK)
            rc = read_window(&b, fd, 0, nblocks);
    } else {
        for (size_t i = 0; rc == VMRP_OK && i < nwindows; i++) {
            uint64_t from = windows[i][0], to = windows[i][1] < nblocks ? windows[i][1] : nblocks;
            if (from >= to)
                continue;
            skip_unread(j, from);
            rc = read_window(&b, fd, from, to);
        }
        if (rc == VMRP_OK)
            skip_unread(j, nblocks);
    }
    free(b.slots);
    free(b.data);
    free(b.recs);
    return rc;
}

/* Block windows from byte ranges: rounded out to whole blocks, the area
 * beyond the previous point's size added (new blocks are always read),
 * sorted and merged. */
static int ranges_to_windows(vmrp_writer *w, const vmrp_extent *ranges, size_t n,
                             uint64_t prev_size, uint64_t size, uint64_t (**out)[2], size_t *count)
{
    const uint64_t bs = w->block_size;
    uint64_t (*win)[2] = malloc((n + 1) * sizeof *win);
    if (!win)
        return writer_fail(w, VMRP_E_NOMEM, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (ranges[i].length == 0 || ranges[i].offset >= size)
            continue;
        uint64_t end = size - ranges[i].offset < ranges[i].length ? size : ranges[i].offset + ranges[i].length;
        win[m][0] = ranges[i].offset / bs;
        win[m][1] = end / bs + (end % bs != 0);
        m++;
    }
    if (size > prev_size) {
        win[m][0] = prev_size / bs; /* a partial last block may have grown */
        win[m][1] = size / bs + (size % bs != 0);
        m++;
    }
    /* insertion sort: range lists are short and usually sorted already */
    for (size_t i = 1; i < m; i++)
        for (size_t k = i; k > 0 && win[k - 1][0] > win[k][0]; k--) {
            uint64_t t0 = win[k][0], t1 = win[k][1];
            win[k][0] = win[k - 1][0];
            win[k][1] = win[k - 1][1];
            win[k - 1][0] = t0;
            win[k - 1][1] = t1;
        }
    size_t merged = 0;
    for (size_t i = 0; i < m; i++) {
        if (merged > 0 && win[i][0] <= win[merged - 1][1]) {
            if (win[i][1] > win[merged - 1][1])
                win[merged - 1][1] = win[i][1];
        } else {
            win[merged][0] = win[i][0];
            win[merged][1] = win[i][1];
            merged++;
        }
    }
    *out = win;
    *count = merged;
    return VMRP_OK;
}

/* Whether the point holding disk entry di has this segment's Id_Key. */
static int same_id_key(const vmrp_writer *w, const vmrp_disk_info *di)
{
    const vmrp_reader *r = w->prev;
    for (uint32_t k = 0; k < r->npoints; k++) {
        const vmrp_point_info *pi = &r->points[k].info;
        if (di >= pi->disks && di < pi->disks + pi->disk_count)
            return sodium_memcmp(reader_id_key(r, k), w->id_key, KEY_SIZE) == 0;
    }
    return 0;
}

int vmrp_writer_add_disk(vmrp_writer *w, const char *name, int fd, const char *label)
{
    return vmrp_writer_add_disk_ranges(w, name, fd, label, NULL, 0);
}

int vmrp_writer_add_disk_ranges(vmrp_writer *w, const char *name, int fd, const char *label,
                                const vmrp_extent *changed, size_t nchanged)
{
    int rc = writer_ready(w);
    if (rc)
        return rc;
    label = label ? label : name;
    uint64_t size = 0;
    uint32_t sector = 512;
    int blockdev = 0;
    rc = io_disk_geometry(fd, &size, &sector, &blockdev);
    if (rc)
        return writer_fail(w, rc == -EINVAL ? VMRP_E_INPUT : VMRP_E_IO,
                           "%s (disk %s): %s", label, name ? name : "",
                           rc == -EINVAL ? "not a regular file or block device" : strerror(-rc));
    if (size > DISK_SIZE_MAX)
        return writer_fail(w, VMRP_E_INPUT, "%s: disk larger than 2^62 bytes", label);
    new_disk *d = new_disk_slot(w, name);
    if (!d)
        return w->err.code;
    w->ndisks++; /* freed with the writer from here on */
    d->size = size;
    d->sector_size = sector;

    disk_job j = {w, d, label, NULL, 0, 0, NULL, 0};
    const vmrp_disk_info *latest = NULL, *included = NULL;
    map_entry *prev = NULL;
    if (w->prev) {
        rc = reader_resolve_latest(w->prev, name, &prev, &j.nprev, &latest, &included);
        if (rc)
            return writer_fail(w, rc, "%s", vmrp_reader_error_string(w->prev));
    }
    /* In an encrypted collection a map is a delta only against Block_Ids
     * of the same Id_Key, and only within one family; otherwise (no key, a
     * point written without it, a family restarted by such a point) the
     * disk is stored whole and its map marked FULL. */
    if (w->crypt && (!included || !same_id_key(w, included) ||
                     memcmp(latest->family_id, included->family_id, ID_SIZE) != 0)) {
        d->full = 1;
        free(prev);
        prev = NULL;
        j.nprev = 0;
        included = NULL;
    }
    j.prev = prev;
    if (latest)
        memcpy(d->family_id, latest->family_id, ID_SIZE);
    else
        random_id(d->family_id);
    j.map = malloc((size_t)MAP_ENTRIES_PER_RECORD * MAP_ENTRY_SIZE);
    if (!j.map) {
        free(prev);
        return writer_fail(w, VMRP_E_NOMEM, "out of memory");
    }
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* a hint: readahead */
    /* Changed ranges narrow an incremental read; with no previous image of
     * this disk every block is new, and the whole disk is read. */
    uint64_t (*windows)[2] = NULL;
    size_t nwindows = 0;
    if (changed && included &&
        (rc = ranges_to_windows(w, changed, nchanged, included->size_bytes, size, &windows,
                                &nwindows)) != 0) {
        free(j.map);
        free(prev);
        return rc;
    }
    rc = read_disk(&j, fd, windows, nwindows);
    free(windows);
    if (rc == VMRP_OK)
        rc = flush_map(&j);
    free(j.map);
    free(prev);
    if (rc)
        return rc;
    /* A disk whose size moved while it was read was not read consistently. */
    uint64_t after = size;
    if (io_disk_geometry(fd, &after, &sector, &blockdev) == 0 && after != size)
        return writer_fail(w, VMRP_E_INPUT,
                           "%s (disk %s): changed size from %llu to %llu bytes while being read",
                           label, name, (unsigned long long)size, (unsigned long long)after);
    return VMRP_OK;
}

int vmrp_writer_exclude_disk(vmrp_writer *w, const char *name)
{
    int rc = writer_ready(w);
    if (rc)
        return rc;
    new_disk *d = new_disk_slot(w, name);
    if (!d)
        return w->err.code;
    w->ndisks++;
    d->excluded = 1;
    const vmrp_disk_info *latest = NULL;
    for (int64_t k = w->prev ? (int64_t)w->prev->npoints - 1 : -1; k >= 0 && !latest; k--) {
        const vmrp_point_info *pi = &w->prev->points[k].info;
        for (uint32_t i = 0; i < pi->disk_count; i++)
            if (strcmp(pi->disks[i].name, name) == 0)
                latest = &pi->disks[i];
    }
    if (latest) {
        memcpy(d->family_id, latest->family_id, ID_SIZE);
        d->size = latest->size_bytes;
        d->sector_size = latest->sector_size;
    } else {
        random_id(d->family_id);
    }
    return VMRP_OK;
}
