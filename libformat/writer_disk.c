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
    /* The previous resolution (zero entries dropped), read twice in block
     * order: `lead` ahead by decide(), `trail` behind by emit_passed(),
     * which replays the entries decide() passed over. Each holds its
     * current entry (when *_have) and one MAP record per point of the
     * chain; NULL when there is no previous image. */
    map_chain *lead, *trail;
    map_entry lead_e, trail_e;
    int lead_have, trail_have;
    unsigned char *map; /* pending MAP entries */
    size_t nmap;
    const uint64_t (*windows)[2]; /* block ranges read: sorted, disjoint */
    size_t nwindows, wemit;       /* wemit: the window emit_passed() is at */
    uint64_t (*changed_windows)[2]; /* windows of changed ranges, owned */
    uint64_t whole[1][2];           /* the window of the whole disk */
} disk_job;

/* What a job holds; NULL members are skipped, so any step may fail. */
static void disk_job_free(disk_job *j)
{
    free(j->map);
    free(j->changed_windows);
    chain_free(j->lead);
    chain_free(j->trail);
}

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

/* ---- blocks in batches ----
 *
 * A batch is up to 16 MiB of data blocks, gathered in disk order from the
 * data extents (holes skipped) of the windows being read, so a fragmented
 * disk still fills whole batches. Per batch: read it (one pread per run of
 * consecutive blocks), hash it (parallel), decide what each block needs
 * (serial: the map and dedup are ordered), compress what must be stored
 * (parallel), append the records and the map entries (serial). The next
 * batch is read while this one is hashed, into a second buffer, so the
 * workers are not idle while the caller waits on the kernel. Memory is
 * bounded by two batches of blocks and one of records.
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
    long rec_len;       /* built record size, or the codec's vmrp_error */
    const char *codec_error; /* what the codec said when rec_len < 0 */
    unsigned char id[HASH_SIZE];
    unsigned char rec_hash[HASH_SIZE];
} bslot;

typedef struct {
    disk_job *j;
    size_t cap;         /* slots */
    size_t n;
    bslot *slots;
    unsigned char *data; /* cap blocks */
    unsigned char *recs; /* cap built records, rec_cap apart (shared by both batches) */
    size_t rec_cap;
    int read_err;        /* -errno of the read, checked when the batch is processed */
    uint64_t read_off;
    uint64_t bytes;      /* disk bytes the batch covers */
} batch;

/* Where the next block comes from: the windows of blocks to read (the
 * whole disk, or the changed ranges) and, within the current window, the
 * data extent the file system reports. */
typedef struct {
    int fd;
    const uint64_t (*windows)[2];
    size_t nwindows, wi;
    uint64_t bs, size;
    uint64_t next;            /* next block to look at in window wi */
    uint64_t run_first, run_last; /* the current run of data blocks */
} block_source;

/* The next run of data blocks, or 0 when the windows are exhausted. */
static int next_run(block_source *src)
{
    while (src->wi < src->nwindows) {
        const uint64_t to = src->windows[src->wi][1];
        if (src->next < src->windows[src->wi][0])
            src->next = src->windows[src->wi][0];
        const uint64_t end = to * src->bs < src->size ? to * src->bs : src->size;
        uint64_t ds, de;
        if (src->next < to && io_next_data(src->fd, src->next * src->bs, end, &ds, &de) == 0) {
            uint64_t first = ds / src->bs, last = de / src->bs + (de % src->bs != 0);
            if (first < src->next)
                first = src->next;
            if (last > to)
                last = to;
            src->next = last;
            if (first < last) {
                src->run_first = first;
                src->run_last = last;
                return 1;
            }
            continue;
        }
        src->wi++;
    }
    return 0;
}

/* Fill a batch with the next blocks and read them, one pread per run. */
static void fill_batch(batch *b, block_source *src)
{
    const uint64_t bs = src->bs;
    b->n = 0;
    b->read_err = 0;
    b->bytes = 0;
    while (b->n < b->cap) {
        if (src->run_first >= src->run_last && !next_run(src))
            break;
        size_t k = b->cap - b->n;
        if (src->run_last - src->run_first < k)
            k = (size_t)(src->run_last - src->run_first);
        const uint64_t off = src->run_first * bs;
        size_t want = src->size - off < k * bs ? (size_t)(src->size - off) : k * bs;
        unsigned char *at = b->data + b->n * bs;
        if (!b->read_err) {
            int e = io_pread_full(src->fd, at, want, off);
            if (e) {
                b->read_err = e;
                b->read_off = off;
            }
        }
        memset(at + want, 0, k * bs - want); /* the last block is padded with zeros */
        for (size_t i = 0; i < k; i++)
            b->slots[b->n + i].block = src->run_first + i;
        b->n += k;
        b->bytes += want;
        src->run_first += k;
    }
}

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
        s->codec_error = codec_error(w->worker_codecs[worker]);
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

/* The next entry of a reading of the previous resolution. */
static int prev_step(disk_job *j, map_chain *c, map_entry *e, int *have)
{
    int rc = chain_next(c, e, have);
    if (rc)
        return writer_fail(j->w, rc, "%s", vmrp_reader_error_string(j->w->prev));
    return VMRP_OK;
}

/* Previous entries of blocks below `upto` that decide() passed over: their
 * blocks were not read. Inside a window being read they are holes now,
 * zero, so a non-zero past needs a zero entry; outside every window they
 * are unchanged by promise of the caller, and need none. */
static int emit_passed(disk_job *j, uint64_t upto)
{
    while (j->trail_have && j->trail_e.block < upto) {
        const uint64_t block = j->trail_e.block;
        while (j->wemit < j->nwindows && j->windows[j->wemit][1] <= block)
            j->wemit++;
        if (j->wemit < j->nwindows && j->windows[j->wemit][0] <= block) {
            int rc = emit(j, block, 0, NULL);
            if (rc)
                return rc;
        }
        int rc = prev_step(j, j->trail, &j->trail_e, &j->trail_have);
        if (rc)
            return rc;
    }
    return VMRP_OK;
}

/* Decide, in block order, what each block of the batch needs. */
static int decide(batch *b)
{
    disk_job *j = b->j;
    vmrp_writer *w = j->w;
    for (size_t i = 0; i < b->n; i++) {
        bslot *s = &b->slots[i];
        int rc;
        while (j->lead_have && j->lead_e.block < s->block)
            if ((rc = prev_step(j, j->lead, &j->lead_e, &j->lead_have)) != VMRP_OK)
                return rc;
        map_entry before_e;
        const map_entry *before = NULL;
        if (j->lead_have && j->lead_e.block == s->block) {
            before_e = j->lead_e;
            before = &before_e;
            if ((rc = prev_step(j, j->lead, &j->lead_e, &j->lead_have)) != VMRP_OK)
                return rc;
        }
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
        int rc = emit_passed(j, s->block);
        if (rc)
            return rc;
        /* the entry decide() compared this block with: not passed over */
        if (j->trail_have && j->trail_e.block == s->block &&
            (rc = prev_step(j, j->trail, &j->trail_e, &j->trail_have)) != VMRP_OK)
            return rc;
        if (!s->changed)
            continue;
        if (s->same_as >= 0)
            s->record = b->slots[s->same_as].record;
        rc = emit(j, s->block, s->zero ? 0 : s->record, s->zero ? NULL : s->id);
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

/* A batch that has been read and hashed: decide and compress. */
static int build_batch(batch *b)
{
    disk_job *j = b->j;
    vmrp_writer *w = j->w;
    if (b->read_err == -ENODATA)
        return writer_fail(w, VMRP_E_INPUT,
                           "%s (disk %s): ended near offset %llu while being read; it changed "
                           "size (pack disks that are not in use)",
                           j->label, j->d->name, (unsigned long long)b->read_off);
    if (b->read_err)
        return writer_fail(w, VMRP_E_IO, "%s (disk %s): read error at offset %llu: %s", j->label,
                           j->d->name, (unsigned long long)b->read_off, strerror(-b->read_err));
    w->stats.bytes_read += b->bytes;
    int rc = decide(b);
    if (rc)
        return rc;
    pool_for(w->workers, b->n, build_slot, b);
    for (size_t i = 0; i < b->n; i++) {
        const bslot *s = &b->slots[i];
        if (s->store && s->rec_len < 0)
            return writer_fail(w, (int)s->rec_len, "%s (disk %s): block %llu: %s compression failed: %s",
                               j->label, j->d->name, (unsigned long long)s->block,
                               codec_name(w->codec_id), s->codec_error);
    }
    return VMRP_OK;
}

/* Append a built batch. */
static int append_batch(batch *b)
{
    int rc = commit_batch(b);
    report(b->j->w, b->bytes);
    return rc;
}

/* Read the windows of the disk (sorted, disjoint block ranges), batch by
 * batch, then account for previous entries past the last block read.
 *
 * While the workers hash batch k, the caller appends batch k-1 (built, not
 * yet written) and reads batch k+1. The order of the archive is kept:
 * batch k-1 is appended, and its blocks entered in the block table, before
 * batch k is decided. Encrypted records are sealed on the pool once their
 * offsets are known, so an encrypting writer appends each batch at once. */
static int read_disk(disk_job *j, int fd)
{
    vmrp_writer *w = j->w;
    const uint64_t bs = w->block_size, size = j->d->size;
    const uint64_t nblocks = block_count(size, bs);
    batch b[2];
    memset(b, 0, sizeof b);
    const size_t cap = BATCH_BYTES / bs ? BATCH_BYTES / bs : 1;
    const size_t rec_cap = writer_record_bound(w, bs);
    unsigned char *recs = malloc(cap * rec_cap);
    int rc = recs ? VMRP_OK : VMRP_E_NOMEM;
    for (int k = 0; k < 2; k++) {
        b[k].j = j;
        b[k].cap = cap;
        b[k].rec_cap = rec_cap;
        b[k].recs = recs;
        b[k].slots = calloc(cap, sizeof *b[k].slots);
        b[k].data = malloc(cap * bs);
        if (!b[k].slots || !b[k].data)
            rc = VMRP_E_NOMEM;
    }
    if (rc)
        rc = writer_fail(w, VMRP_E_NOMEM, "out of memory");
    block_source src = {fd, j->windows, j->nwindows, 0, bs, size, 0, 0, 0};
    batch *cur = &b[0], *next = &b[1], *built = NULL;
    if (rc == VMRP_OK)
        fill_batch(cur, &src);
    while (rc == VMRP_OK && cur->n > 0) {
        pool_start(w->workers, cur->read_err ? 0 : cur->n, hash_slot, cur);
        if (built)
            rc = append_batch(built);
        built = NULL;
        if (rc == VMRP_OK)
            fill_batch(next, &src);
        pool_finish(w->workers);
        if (rc == VMRP_OK)
            rc = build_batch(cur);
        if (rc == VMRP_OK && w->crypt)
            rc = append_batch(cur);
        else if (rc == VMRP_OK)
            built = cur;
        batch *t = cur;
        cur = next;
        next = t;
    }
    if (rc == VMRP_OK && built)
        rc = append_batch(built);
    if (rc == VMRP_OK)
        rc = emit_passed(j, nblocks);
    for (int k = 0; k < 2; k++) {
        free(b[k].slots);
        free(b[k].data);
    }
    free(recs);
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
        win[m][1] = block_count(end, bs);
        m++;
    }
    if (size > prev_size) {
        win[m][0] = prev_size / bs; /* a partial last block may have grown */
        win[m][1] = block_count(size, bs);
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

/* Measure the disk and give it its slot in the point. */
static int start_disk(vmrp_writer *w, const char *name, int fd, const char *label,
                      new_disk **out)
{
    uint64_t size = 0;
    uint32_t sector = 512;
    int blockdev = 0;
    int rc = io_disk_geometry(fd, &size, &sector, &blockdev);
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
    *out = d;
    return VMRP_OK;
}

/* Open the disk's previous image twice (lead and trail) when the new map
 * is a delta against it, and take its family. *included: the entry the
 * delta is against, NULL when the disk is read whole. */
static int open_previous(disk_job *j, const char *name, const vmrp_disk_info **included)
{
    vmrp_writer *w = j->w;
    const vmrp_disk_info *latest = NULL;
    *included = NULL;
    if (w->prev) {
        /* the first reading checks every MAP record along the chain */
        int rc = chain_open_latest(w->prev, name, 1, &j->lead, &latest, included);
        if (rc)
            return writer_fail(w, rc, "%s", vmrp_reader_error_string(w->prev));
    }
    /* In an encrypted collection a map is a delta only against Block_Ids
     * of the same Id_Key, and only within one family; otherwise (no key, a
     * point written without it, a family restarted by such a point) the
     * disk is stored whole and its map marked FULL. */
    if (w->crypt && (!*included || !same_id_key(w, *included) ||
                     memcmp(latest->family_id, (*included)->family_id, ID_SIZE) != 0)) {
        j->d->full = 1;
        chain_free(j->lead);
        j->lead = NULL;
        *included = NULL;
    }
    if (j->lead) {
        const vmrp_disk_info *l2 = NULL, *i2 = NULL;
        int rc = chain_open_latest(w->prev, name, 0, &j->trail, &l2, &i2);
        if (rc == VMRP_OK)
            rc = chain_next(j->lead, &j->lead_e, &j->lead_have);
        if (rc == VMRP_OK)
            rc = chain_next(j->trail, &j->trail_e, &j->trail_have);
        if (rc)
            return writer_fail(w, rc, "%s", vmrp_reader_error_string(w->prev));
    }
    if (latest)
        memcpy(j->d->family_id, latest->family_id, ID_SIZE);
    else
        random_id(j->d->family_id);
    return VMRP_OK;
}

/* Changed ranges narrow an incremental read; with no previous image of
 * this disk every block is new, and the whole disk is read. */
static int choose_windows(disk_job *j, const vmrp_extent *changed, size_t nchanged,
                          const vmrp_disk_info *included)
{
    const uint64_t size = j->d->size;
    if (changed && included) {
        int rc = ranges_to_windows(j->w, changed, nchanged, included->size_bytes, size,
                                   &j->changed_windows, &j->nwindows);
        if (rc)
            return rc;
        j->windows = (const uint64_t(*)[2])j->changed_windows;
        return VMRP_OK;
    }
    j->whole[0][0] = 0;
    j->whole[0][1] = block_count(size, j->w->block_size);
    j->windows = (const uint64_t(*)[2])j->whole;
    j->nwindows = 1;
    return VMRP_OK;
}

/* A disk whose size moved while it was read was not read consistently. */
static int check_same_size(vmrp_writer *w, const new_disk *d, int fd, const char *label)
{
    uint64_t after = d->size;
    uint32_t sector = 0;
    int blockdev = 0;
    if (io_disk_geometry(fd, &after, &sector, &blockdev) == 0 && after != d->size)
        return writer_fail(w, VMRP_E_INPUT,
                           "%s (disk %s): changed size from %llu to %llu bytes while being read",
                           label, d->name, (unsigned long long)d->size, (unsigned long long)after);
    return VMRP_OK;
}

int vmrp_writer_add_disk_ranges(vmrp_writer *w, const char *name, int fd, const char *label,
                                const vmrp_extent *changed, size_t nchanged)
{
    int rc = writer_ready(w);
    if (rc)
        return rc;
    label = label ? label : name;
    disk_job j;
    memset(&j, 0, sizeof j);
    j.w = w;
    j.label = label;
    const vmrp_disk_info *included = NULL;
    rc = start_disk(w, name, fd, label, &j.d);
    if (rc == VMRP_OK)
        rc = open_previous(&j, name, &included);
    if (rc == VMRP_OK && !(j.map = malloc((size_t)MAP_ENTRIES_PER_RECORD * MAP_ENTRY_SIZE)))
        rc = writer_fail(w, VMRP_E_NOMEM, "out of memory");
    if (rc == VMRP_OK) {
#ifdef POSIX_FADV_SEQUENTIAL /* not on every system (macOS) */
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* a hint: readahead */
#endif
        rc = choose_windows(&j, changed, nchanged, included);
    }
    if (rc == VMRP_OK)
        rc = read_disk(&j, fd);
    if (rc == VMRP_OK)
        rc = flush_map(&j);
    if (rc == VMRP_OK)
        rc = check_same_size(w, j.d, fd, label);
    disk_job_free(&j);
    return rc;
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
