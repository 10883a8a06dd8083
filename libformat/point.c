/* point.c - decoding of POINT records: the metadata of one restore point.
 *
 * The payload comes from a possibly hostile file, so every count and size
 * is checked against what remains of the payload before it is used.
 */
#include <stdlib.h>
#include <string.h>

#include "vmrp_private.h"

typedef struct {
    const unsigned char *p;
    size_t len;
    size_t pos;
} cursor;

static const unsigned char *take(cursor *c, size_t n)
{
    if (c->len - c->pos < n)
        return NULL;
    const unsigned char *at = c->p + c->pos;
    c->pos += n;
    return at;
}

static char *copy_str(char **strings, const unsigned char *src, size_t n)
{
    char *dst = *strings;
    memcpy(dst, src, n);
    dst[n] = '\0';
    *strings += n + 1;
    return dst;
}

int point_find_disk(const point_meta *pm, const char *name)
{
    for (uint32_t d = 0; d < pm->info.disk_count; d++)
        if (strcmp(pm->info.disks[d].name, name) == 0)
            return (int)d;
    return -1;
}

void point_meta_clear(point_meta *m)
{
    if (m->disk_meta)
        for (uint32_t i = 0; i < m->info.disk_count; i++)
            free(m->disk_meta[i].map_offsets);
    free(m->disk_meta);
    free(m->disks);
    free(m->files);
    free(m->file_records);
    free(m->file_hashes);
    free(m->strings);
    memset(m, 0, sizeof *m);
}

#define FAIL(msg)      \
    do {               \
        *why = (msg);  \
        goto fail;     \
    } while (0)

int point_parse(const unsigned char *p, size_t len, point_meta *m, const char **why)
{
    return point_parse_ex(p, len, 1, m, why);
}

int point_parse_ex(const unsigned char *p, size_t len, int strict, point_meta *m,
                   const char **why)
{
    cursor c = {p, len, 0};
    hashidx *file_names = NULL;
    memset(m, 0, sizeof *m);
    const unsigned char *fx = take(&c, PT_FIXED_SIZE);
    if (!fx)
        FAIL("point record shorter than its fixed part");
    vmrp_point_info *pi = &m->info;
    memcpy(pi->id, fx + PT_OFF_ID, ID_SIZE);
    pi->sequence = le32_load(fx + PT_OFF_SEQUENCE);
    pi->parent_sequence = le32_load(fx + PT_OFF_PARENT);
    pi->time_created_us = (int64_t)le64_load(fx + PT_OFF_TIME);
    pi->consistency = fx[PT_OFF_CONSISTENCY];
    uint32_t ndisks = le32_load(fx + PT_OFF_DISK_COUNT);
    uint32_t nfiles = le32_load(fx + PT_OFF_FILE_COUNT);
    uint32_t name_size = le32_load(fx + PT_OFF_NAME_SIZE);
    uint32_t meta_size = le32_load(fx + PT_OFF_META_SIZE);
    if (!vmrp_consistency_name(pi->consistency))
        FAIL("Consistency_Mode is not 1, 2 or 3");
    if (strict && (!is_zero(fx + PT_OFF_CONSISTENCY + 1, 3) || !is_zero(fx + PT_OFF_RESERVED, 12)))
        FAIL("reserved bytes of the point are not zero");
    if (ndisks > DISKS_PER_POINT_MAX)
        FAIL("Disk_Count above 256");
    if (nfiles > CONFIG_FILES_PER_POINT_MAX)
        FAIL("Config_File_Count above 4096");
    if (name_size == 0 || name_size > POINT_NAME_MAX)
        FAIL("Name_Size not in 1..255");
    if (meta_size > SOURCE_METADATA_MAX)
        FAIL("Source_Metadata_Size above 16 MiB");

    /* Names and metadata are copied NUL-terminated; the payload length plus
     * one NUL per string bounds the buffer. */
    m->strings = malloc(len + 2 + ndisks + nfiles);
    m->disks = calloc(ndisks ? ndisks : 1, sizeof *m->disks);
    m->disk_meta = calloc(ndisks ? ndisks : 1, sizeof *m->disk_meta);
    m->files = calloc(nfiles ? nfiles : 1, sizeof *m->files);
    m->file_records = calloc(nfiles ? nfiles : 1, sizeof *m->file_records);
    m->file_hashes = calloc(nfiles ? nfiles : 1, sizeof *m->file_hashes);
    if (!m->strings || !m->disks || !m->disk_meta || !m->files || !m->file_records ||
        !m->file_hashes)
        goto no_memory;
    char *sp = m->strings;
    const unsigned char *name = take(&c, name_size);
    if (!name)
        FAIL("point name runs past the end of the record");
    if (!name_point_valid((const char *)name, name_size))
        FAIL("point name is not valid");
    pi->name = copy_str(&sp, name, name_size);
    const unsigned char *meta = take(&c, meta_size);
    if (!meta)
        FAIL("Source_Metadata runs past the end of the record");
    if (json_validate((const char *)meta, meta_size, 1, NULL) != VMRP_OK)
        FAIL("Source_Metadata is not a JSON object");
    pi->source_metadata = copy_str(&sp, meta, meta_size);
    pi->source_metadata_size = meta_size;

    pi->disk_count = ndisks;
    pi->disks = m->disks;
    for (uint32_t i = 0; i < ndisks; i++) {
        const unsigned char *d = take(&c, PD_FIXED_SIZE);
        if (!d)
            FAIL("disk entry runs past the end of the record");
        vmrp_disk_info *di = &m->disks[i];
        memcpy(di->family_id, d + PD_OFF_FAMILY_ID, ID_SIZE);
        di->size_bytes = le64_load(d + PD_OFF_DISK_SIZE);
        di->sector_size = le32_load(d + PD_OFF_SECTOR_SIZE);
        uint32_t flags = le32_load(d + PD_OFF_FLAGS);
        di->changed_blocks = le64_load(d + PD_OFF_CHANGED);
        di->stored_bytes = le64_load(d + PD_OFF_STORED);
        uint32_t nmaps = le32_load(d + PD_OFF_MAP_COUNT);
        uint32_t dname_size = le32_load(d + PD_OFF_NAME_SIZE);
        if (strict && (flags & ~(DISK_FLAG_EXCLUDED | DISK_FLAG_FULL)))
            FAIL("unknown Disk_Flags bits");
        di->excluded = (flags & DISK_FLAG_EXCLUDED) != 0;
        di->full = (flags & DISK_FLAG_FULL) != 0; /* encrypted collections only: callers check */
        if (di->excluded && di->full)
            FAIL("a disk is both EXCLUDED and FULL");
        if (strict && !is_zero(d + PD_OFF_RESERVED, 8))
            FAIL("reserved bytes of a disk entry are not zero");
        if (di->size_bytes > DISK_SIZE_MAX)
            FAIL("Disk_Size above 2^62");
        if (di->sector_size < 512 || di->sector_size > 65536 ||
            (di->sector_size & (di->sector_size - 1)))
            FAIL("Logical_Sector_Size is not a power of two in 512..65536");
        if (di->excluded && (nmaps != 0 || di->changed_blocks != 0 || di->stored_bytes != 0))
            FAIL("an excluded disk has a map or stored bytes");
        /* Each map record holds at most 65536 entries and at least one. */
        if (di->changed_blocks > (uint64_t)nmaps * MAP_ENTRIES_PER_RECORD ||
            nmaps > di->changed_blocks)
            FAIL("Changed_Blocks does not fit Map_Record_Count");
        const unsigned char *dname = take(&c, dname_size);
        if (!dname || !name_disk_valid((const char *)dname, dname_size))
            FAIL("disk name is not valid");
        di->name = copy_str(&sp, dname, dname_size);
        for (uint32_t k = 0; k < i; k++) {
            if (strcmp(m->disks[k].name, di->name) == 0)
                FAIL("two disks of the point have the same name");
            if (memcmp(m->disks[k].family_id, di->family_id, ID_SIZE) == 0)
                FAIL("two disks of the point have the same Family_Id");
        }
        if ((uint64_t)nmaps * 8 > c.len - c.pos)
            FAIL("map record list runs past the end of the record");
        disk_meta *dm = &m->disk_meta[i];
        dm->map_count = nmaps;
        dm->map_offsets = malloc(nmaps ? (size_t)nmaps * 8 : 1);
        if (!dm->map_offsets)
            goto no_memory;
        for (uint32_t k = 0; k < nmaps; k++)
            dm->map_offsets[k] = le64_load(take(&c, 8));
    }

    pi->config_file_count = nfiles;
    pi->config_files = m->files;
    for (uint32_t i = 0; i < nfiles; i++) {
        const unsigned char *f = take(&c, PF_FIXED_SIZE);
        if (!f)
            FAIL("config file entry runs past the end of the record");
        vmrp_config_file_info *fi = &m->files[i];
        fi->mode = le32_load(f + PF_OFF_MODE);
        uint32_t fname_size = le32_load(f + PF_OFF_NAME_SIZE);
        fi->size = le64_load(f + PF_OFF_FILE_SIZE);
        m->file_records[i] = le64_load(f + PF_OFF_RECORD);
        memcpy(m->file_hashes[i], f + PF_OFF_HASH, HASH_SIZE);
        if (fi->mode > 07777)
            FAIL("config file Mode above 07777");
        if (fi->size > FILE_RAW_MAX)
            FAIL("config File_Size above 64 MiB");
        if ((fi->size == 0) != (m->file_records[i] == 0))
            FAIL("config File_Record_Offset inconsistent with File_Size");
        const unsigned char *fname = take(&c, fname_size);
        if (!fname || !name_config_valid((const char *)fname, fname_size))
            FAIL("config file name is not a safe relative path");
        fi->name = copy_str(&sp, fname, fname_size);
        /* up to 4096 names of up to 4 KiB: compared through an index */
        uint32_t other;
        if (!file_names && !(file_names = hashidx_new()))
            goto no_memory;
        if (hashidx_find(file_names, fname, fname_size, &other))
            FAIL("two config files of the point have the same name");
        if (hashidx_put(file_names, fname, fname_size, i) != VMRP_OK)
            goto no_memory;
    }
    hashidx_free(file_names);
    file_names = NULL;
    if (c.pos != c.len)
        FAIL("point record has bytes after its last entry");
    return VMRP_OK;
no_memory:
    hashidx_free(file_names);
    point_meta_clear(m);
    *why = "out of memory";
    return VMRP_E_NOMEM;
fail:
    hashidx_free(file_names);
    point_meta_clear(m);
    return VMRP_E_CORRUPT;
}
