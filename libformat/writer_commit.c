/* writer_commit.c - the POINT record, the INDEX and the COMMIT that makes
 * a point visible. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "writer_private.h"

static size_t point_payload_size(const vmrp_writer *w, size_t name_len)
{
    size_t n = PT_FIXED_SIZE + name_len + w->meta_len;
    for (size_t i = 0; i < w->ndisks; i++)
        n += PD_FIXED_SIZE + strlen(w->disks[i].name) + (size_t)w->disks[i].nmaps * 8;
    for (size_t i = 0; i < w->nfiles; i++)
        n += PF_FIXED_SIZE + strlen(w->cfiles[i].name);
    return n;
}

static unsigned char *put(unsigned char *p, const void *src, size_t n)
{
    memcpy(p, src, n);
    return p + n;
}

static int write_point(vmrp_writer *w, uint64_t *offset)
{
    char default_name[32];
    const char *name = w->point_name;
    if (!name) {
        snprintf(default_name, sizeof default_name, "point-%u", w->sequence);
        name = default_name;
        for (uint32_t k = 0; w->prev && k < w->prev->npoints; k++)
            if (strcmp(w->prev->points[k].info.name, name) == 0)
                return writer_fail(w, VMRP_E_EXISTS,
                                   "%s: default name %s is taken by point %u; give --name",
                                   w->label, name, k + 1);
    }
    const char *meta = w->meta;
    size_t meta_len = w->meta_len;
    size_t name_len = strlen(name);
    size_t len = point_payload_size(w, name_len);
    if (len > POINT_RAW_MAX)
        return writer_fail(w, VMRP_E_LIMIT, "%s: point metadata is %zu bytes; at most 32 MiB",
                           w->label, len);
    unsigned char *buf = calloc(1, len), *p = buf;
    if (!buf)
        return writer_fail(w, VMRP_E_NOMEM, "out of memory");
    unsigned char id[ID_SIZE];
    random_id(id);
    memcpy(p + PT_OFF_ID, id, ID_SIZE);
    le32_store(p + PT_OFF_SEQUENCE, w->sequence);
    le32_store(p + PT_OFF_PARENT, w->sequence - 1);
    le64_store(p + PT_OFF_TIME, (uint64_t)now_us());
    p[PT_OFF_CONSISTENCY] = (unsigned char)w->consistency;
    le32_store(p + PT_OFF_DISK_COUNT, (uint32_t)w->ndisks);
    le32_store(p + PT_OFF_FILE_COUNT, (uint32_t)w->nfiles);
    le32_store(p + PT_OFF_NAME_SIZE, (uint32_t)name_len);
    le32_store(p + PT_OFF_META_SIZE, (uint32_t)meta_len);
    p = put(p + PT_FIXED_SIZE, name, name_len);
    p = put(p, meta, meta_len);
    for (size_t i = 0; i < w->ndisks; i++) {
        const new_disk *d = &w->disks[i];
        size_t dn = strlen(d->name);
        memcpy(p + PD_OFF_FAMILY_ID, d->family_id, ID_SIZE);
        le64_store(p + PD_OFF_DISK_SIZE, d->size);
        le32_store(p + PD_OFF_SECTOR_SIZE, d->sector_size);
        le32_store(p + PD_OFF_FLAGS,
                   (d->excluded ? DISK_FLAG_EXCLUDED : 0) | (d->full ? DISK_FLAG_FULL : 0));
        le64_store(p + PD_OFF_CHANGED, d->changed);
        le64_store(p + PD_OFF_STORED, d->stored_bytes);
        le32_store(p + PD_OFF_MAP_COUNT, d->nmaps);
        le32_store(p + PD_OFF_NAME_SIZE, (uint32_t)dn);
        p = put(p + PD_FIXED_SIZE, d->name, dn);
        for (uint32_t m = 0; m < d->nmaps; m++, p += 8)
            le64_store(p, d->map_offsets[m]);
    }
    for (size_t i = 0; i < w->nfiles; i++) {
        const new_file *f = &w->cfiles[i];
        size_t fn = strlen(f->name);
        le32_store(p + PF_OFF_MODE, f->mode);
        le32_store(p + PF_OFF_NAME_SIZE, (uint32_t)fn);
        le64_store(p + PF_OFF_FILE_SIZE, f->size);
        le64_store(p + PF_OFF_RECORD, f->record);
        memcpy(p + PF_OFF_HASH, f->hash, HASH_SIZE);
        p = put(p + PF_FIXED_SIZE, f->name, fn);
    }
    int rc = writer_put_record(w, REC_POINT, w->codec_id, buf, len, offset);
    free(buf);
    return rc;
}

int writer_set_index_spill(vmrp_writer *w, size_t keep, const char *dir)
{
    if (w->entries)
        return writer_fail(w, VMRP_E_USAGE, "set the index spill before the first record");
    char *copy = dir ? strdup(dir) : NULL;
    if (dir && !copy)
        return writer_fail(w, VMRP_E_NOMEM, "out of memory");
    free(w->index_dir);
    w->index_dir = copy;
    w->index_keep = keep;
    return VMRP_OK;
}

/* A failure of the temporary file that holds the index entries. */
static int spill_failed(vmrp_writer *w, int err, const char *doing)
{
    if (err == -ENOMEM)
        return writer_fail(w, VMRP_E_NOMEM, "%s: out of memory", w->label);
    return writer_fail(w, VMRP_E_IO, "%s: cannot %s the index entries in a temporary file in %s: %s",
                       w->label, doing, spill_dir(w->entries), strerror(-err));
}

int writer_index_add(vmrp_writer *w, const rec_ref *ref)
{
    if (!w->entries) {
        /* The temporary file goes beside the archive; a stream has no
         * directory, and takes $TMPDIR's. */
        char dir[4096];
        const char *where = w->index_dir;
        if (!where && !w->stream && w->path) {
            io_parent_dir(w->path, dir, sizeof dir);
            where = dir;
        }
        w->entries = spill_new(IX_ENTRY_SIZE, w->index_keep ? w->index_keep : WRITER_INDEX_KEEP,
                               where);
        if (!w->entries)
            return writer_fail(w, VMRP_E_NOMEM, "%s: out of memory", w->label);
    }
    if (spill_count(w->entries) >= INDEX_ENTRIES_MAX - 1)
        return writer_fail(w, VMRP_E_LIMIT, "%s: one point may hold at most %u records",
                           w->label, INDEX_ENTRIES_MAX - 1);
    unsigned char e[IX_ENTRY_SIZE] = {0};
    le64_store(e + IXE_OFF_OFFSET, ref->offset);
    le32_store(e + IXE_OFF_SIZE, ref->size);
    e[IXE_OFF_TYPE] = ref->type;
    memcpy(e + IXE_OFF_HASH, ref->hash, HASH_SIZE);
    int rc = spill_append(w->entries, e);
    return rc ? spill_failed(w, rc, "write") : VMRP_OK;
}

typedef struct {
    vmrp_writer *w;
    hash_state *hash;
    int write_failed; /* the archive, not the temporary file: already reported */
} index_out;

/* Hash and append bytes of the INDEX record. */
static int index_append(vmrp_writer *w, hash_state *st, const void *buf, size_t len)
{
    hash_update(st, buf, len);
    return writer_append_bytes(w, buf, len);
}

static int index_entries_out(void *ctx, const unsigned char *entries, size_t count)
{
    index_out *o = ctx;
    int rc = index_append(o->w, o->hash, entries, count * IX_ENTRY_SIZE);
    o->write_failed = rc != VMRP_OK;
    return rc;
}

/* The INDEX is written as its entries are read back: the record header and
 * the index header first (their sizes follow from the count), then the
 * entries in runs, the Record_Hash taken over the same bytes on the way. */
static int write_index(vmrp_writer *w, uint64_t point_offset, commit_info *c)
{
    uint64_t n = w->entries ? spill_count(w->entries) : 0;
    size_t len = IX_HEADER_SIZE + (size_t)n * IX_ENTRY_SIZE;
    unsigned char head[RH_SIZE + IX_HEADER_SIZE] = {0};
    record_header h = {REC_INDEX, CODEC_NONE, 0, (uint32_t)len, (uint32_t)len};
    record_header_encode(head, &h);
    le32_store(head + RH_SIZE + IX_OFF_ENTRY_COUNT, (uint32_t)n);
    le64_store(head + RH_SIZE + IX_OFF_POINT_OFFSET, point_offset);
    hash_state st;
    hash_init(&st);
    c->index_offset = w->pos;
    c->index_size = RH_SIZE + len;
    int rc = index_append(w, &st, head, sizeof head);
    if (rc)
        return rc;
    index_out o = {w, &st, 0};
    if (n)
        rc = spill_each(w->entries, index_entries_out, &o);
    if (rc)
        /* spill_each's own failures are -errno of the temporary file */
        return o.write_failed ? rc : spill_failed(w, rc, "read back");
    hash_final(&st, c->index_hash);
    return VMRP_OK;
}

static int sync_or_fail(vmrp_writer *w)
{
    if (w->stream)
        return VMRP_OK;
    int rc = io_sync(w->fd);
    return rc ? writer_fail(w, VMRP_E_IO, "%s: cannot flush to stable storage: %s", w->label,
                            strerror(-rc))
              : VMRP_OK;
}

/* A point appended without a VM configuration or config files keeps the
 * latest point's: the VM did not lose its configuration between points.
 * The files are referenced, not stored again. */
static int inherit_configuration(vmrp_writer *w)
{
    /* The newest point of this writer's id space: in an encrypted archive a
     * point written without the key is not trusted to configure the VM
     * (a writer without the key sees no points at all). */
    const point_meta *last = NULL;
    for (uint32_t k = w->prev ? w->prev->npoints : 0; k-- > 0 && !last;)
        if (!w->id_key || sodium_memcmp(reader_id_key(w->prev, k), w->id_key, KEY_SIZE) == 0)
            last = &w->prev->points[k];
    if (!w->meta) {
        const char *src = last ? last->info.source_metadata : "{}";
        size_t len = last ? last->info.source_metadata_size : 2;
        if (!(w->meta = malloc(len + 1)))
            return writer_fail(w, VMRP_E_NOMEM, "out of memory");
        memcpy(w->meta, src, len + 1);
        w->meta_len = len;
    }
    if (!last || w->nfiles > 0 || w->files_given)
        return VMRP_OK;
    size_t n = last->info.config_file_count;
    if (n == 0)
        return VMRP_OK;
    if (!(w->cfiles = calloc(n, sizeof *w->cfiles)))
        return writer_fail(w, VMRP_E_NOMEM, "out of memory");
    w->capfiles = n;
    for (size_t i = 0; i < n; i++) {
        new_file *f = &w->cfiles[i];
        if (!(f->name = strdup(last->info.config_files[i].name)))
            return writer_fail(w, VMRP_E_NOMEM, "out of memory");
        w->nfiles++;
        f->mode = last->info.config_files[i].mode;
        f->size = last->info.config_files[i].size;
        f->record = last->file_records[i];
        memcpy(f->hash, last->file_hashes[i], HASH_SIZE);
    }
    return VMRP_OK;
}

int vmrp_writer_commit(vmrp_writer *w)
{
    int rc = writer_ready(w);
    if (rc)
        return rc;
    if ((rc = inherit_configuration(w)) != 0)
        return rc;
    uint64_t point_offset = 0;
    commit_info c;
    memset(&c, 0, sizeof c);
    c.segment_offset = w->base;
    if ((rc = write_point(w, &point_offset)) != 0 || (rc = write_index(w, point_offset, &c)) != 0)
        return rc;
    /* The segment must be durable before the commit that makes it visible,
     * or a crash could leave a commit naming bytes that never arrived. */
    if ((rc = sync_or_fail(w)) != 0)
        return rc;
    c.sequence = w->sequence;
    c.point_count = w->sequence;
    c.commit_offset = w->pos;
    c.prev_offset = w->prev_commit_offset;
    memcpy(c.prev_hash, w->prev_commit_hash, HASH_SIZE);
    hash_buf(c.header_hash, w->header, FH_SIZE);
    c.time_us = now_us();
    if (w->signer && le16_load(w->header + FH_OFF_MINOR) < 1)
        return writer_fail(w, VMRP_E_VERSION,
                           "%s was created in format 1.0, which has no signed commits: sign a "
                           "new archive instead (appending unsigned points still works)",
                           w->label);
    if (w->signer) {
        c.flags |= COMMIT_FLAG_SIGNED;
        memcpy(c.key_id, key_keynum(w->signer), KEY_ID_SIZE);
    }
    unsigned char rec[CM_RECORD_SIZE];
    commit_encode(rec, &c);
    if (w->signer) {
        /* The signature is not part of the Commit_Hash it signs. */
        commit_hash(rec, c.hash);
        if ((rc = key_sign_commit(w->signer, c.hash, c.signature)) != 0)
            return writer_fail(w, rc, "%s: signing the commit failed", w->label);
        commit_encode(rec, &c);
    }
    if ((rc = writer_append_bytes(w, rec, sizeof rec)) != 0)
        return rc;
    if ((rc = sync_or_fail(w)) != 0)
        return rc;
    if (w->created && !w->stream && (rc = io_sync_parent(w->path)) != 0)
        return writer_fail(w, VMRP_E_IO, "%s: cannot flush its directory: %s", w->label,
                           strerror(-rc));
    w->committed = 1;
    w->stats.sequence = w->sequence;
    w->stats.point_count = w->sequence;
    return VMRP_OK;
}
