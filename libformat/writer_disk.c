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

static int process_block(disk_job *j, uint64_t b, const unsigned char *data)
{
    vmrp_writer *w = j->w;
    int rc = zero_skipped(j, b);
    if (rc)
        return rc;
    const map_entry *before = (j->iprev < j->nprev && j->prev[j->iprev].block == b)
                                  ? &j->prev[j->iprev++]
                                  : NULL;
    if (is_zero(data, w->block_size))
        return before ? emit(j, b, 0, NULL) : VMRP_OK;
    unsigned char id[HASH_SIZE];
    hash_buf(id, data, w->block_size);
    if (before && memcmp(before->id, id, HASH_SIZE) == 0)
        return VMRP_OK;
    uint64_t record = blocktab_get(w->blocks, id);
    if (record) {
        w->stats.dedup_blocks++;
    } else {
        uint64_t start = w->pos;
        rc = writer_put_record(w, REC_BLOCK, w->codec_id, data, w->block_size, &record);
        if (rc)
            return rc;
        if (blocktab_put(w->blocks, id, record))
            return writer_fail(w, VMRP_E_NOMEM, "out of memory");
        j->d->stored_bytes += w->pos - start;
        w->stats.new_blocks++;
    }
    return emit(j, b, record, id);
}

static void report(vmrp_writer *w, uint64_t bytes)
{
    w->progress_done += bytes;
    if (w->progress)
        w->progress(w->progress_ctx, w->progress_done, w->progress_total);
}

/* Read every data range of the disk block by block. */
static int read_disk(disk_job *j, int fd)
{
    vmrp_writer *w = j->w;
    const uint64_t bs = w->block_size, size = j->d->size;
    const uint64_t nblocks = size / bs + (size % bs != 0);
    unsigned char *block = malloc(bs);
    if (!block)
        return writer_fail(w, VMRP_E_NOMEM, "out of memory");
    int rc = VMRP_OK;
    uint64_t next_block = 0, ds, de;
    while (rc == VMRP_OK && next_block < nblocks &&
           io_next_data(fd, next_block * bs, size, &ds, &de) == 0) {
        uint64_t first = ds / bs, last = de / bs + (de % bs != 0);
        if (first < next_block)
            first = next_block;
        for (uint64_t b = first; rc == VMRP_OK && b < last; b++) {
            uint64_t off = b * bs;
            size_t want = (size - off < bs) ? (size_t)(size - off) : (size_t)bs;
            int e = io_pread_full(fd, block, want, off);
            if (e == -ENODATA)
                rc = writer_fail(w, VMRP_E_INPUT, "%s (disk %s): ended at offset %llu while being read; "
                                 "it changed size (pack disks that are not in use)",
                                 j->label, j->d->name, (unsigned long long)off);
            else if (e)
                rc = writer_fail(w, VMRP_E_IO, "%s (disk %s): read error at offset %llu: %s",
                                 j->label, j->d->name, (unsigned long long)off, strerror(-e));
            if (rc)
                break;
            memset(block + want, 0, bs - want);
            w->stats.bytes_read += want;
            rc = process_block(j, b, block);
            report(w, want);
        }
        next_block = last;
    }
    if (rc == VMRP_OK)
        rc = zero_skipped(j, nblocks);
    free(block);
    return rc;
}

int vmrp_writer_add_disk(vmrp_writer *w, const char *name, int fd, const char *label)
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
    const vmrp_disk_info *latest = NULL;
    map_entry *prev = NULL;
    if (w->prev) {
        rc = reader_resolve_latest(w->prev, name, &prev, &j.nprev, &latest);
        if (rc)
            return writer_fail(w, rc, "%s", vmrp_reader_error_string(w->prev));
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
    rc = read_disk(&j, fd);
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
