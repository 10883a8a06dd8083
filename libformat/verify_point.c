/* verify_point.c - what verify checks a POINT record against: each disk's
 * maps against the BLOCK records seen so far, disk families across points,
 * config files against their FILE records, and point names.
 *
 * A POINT record comes last in its segment and names what came before it,
 * so these checks read back verify's lists (blocks, the segment's MAP
 * records, config files) instead of the stream; they live apart from the
 * sequential walk in verify.c, which calls verify_check_point() once per point.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify_private.h"

/* A map entry that names a BLOCK record: entries of one MAP record are
 * looked up in record order, not block order. */
struct map_ref {
    uint64_t record;
    uint32_t entry;
};

static int map_ref_cmp(const void *a, const void *b)
{
    const map_ref *x = a, *y = b;
    return x->record < y->record ? -1 : x->record > y->record;
}


/* A reference from the current point to a record keyed with another
 * Id_Key (spec 5.1, 5.2). */
static int other_id_space(const vstate *v, uint32_t segment)
{
    return v->ck && sodium_memcmp(v->ck->segs[segment].id_key, v->ck->segs[v->points].id_key,
                                  KEY_SIZE) != 0;
}

/* Whether map entry e's BLOCK record is known, in this id space, and (in a
 * full verify) holds the block e's Block_Id names: 0 when it passes, else
 * the check that fails (*segment: the record's, for the message). */
enum { REF_MISSING = 1, REF_OTHER_SPACE, REF_MISMATCH };

static int check_ref(vstate *v, const unsigned char *e, uint64_t rec, uint32_t *segment, int *rc)
{
    const void *found;
    if ((*rc = offlist_find(v->blocks, rec, &found)) != 0)
        return 0;
    if (!found)
        return REF_MISSING;
    const known_block *k = found;
    *segment = k->segment;
    if (other_id_space(v, k->segment))
        return REF_OTHER_SPACE;
    unsigned char fp[FP_SIZE];
    if (!v->batch.quick) {
        verify_fingerprint(v->key, e + ME_OFF_ID, fp);
        if (memcmp(fp, k->fp, FP_SIZE) != 0)
            return REF_MISMATCH;
    }
    return 0;
}

/* Check one MAP record of disk d (decoded in v->raw): order, bounds, and
 * that every entry names a block whose decoded bytes hash to its Block_Id.
 * The entries that name records are looked up sorted by record, so the
 * blocks' list is read forward, a page at a time; the problem reported is
 * still the first in entry order. */
static int check_map_entries(vstate *v, const seg_map *sm, const vmrp_disk_info *di,
                             uint64_t nblocks, int64_t *prev)
{
    size_t n = sm->len / MAP_ENTRY_SIZE;
    if (n > v->caprefs) {
        map_ref *bigger = realloc(v->refs, n * sizeof *bigger);
        if (!bigger)
            return err_set(&v->r->err, VMRP_E_NOMEM, "out of memory");
        v->refs = bigger;
        v->caprefs = n;
    }
    size_t nrefs = 0, first_bad = n;
    int sorted = 1, bad_kind = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *e = v->raw + i * MAP_ENTRY_SIZE;
        uint64_t block = le64_load(e + ME_OFF_BLOCK), rec = le64_load(e + ME_OFF_RECORD);
        if ((int64_t)block <= *prev || block >= nblocks) {
            first_bad = i;
            break;
        }
        *prev = (int64_t)block;
        if (rec == 0) {
            if (!is_zero(e + ME_OFF_ID, HASH_SIZE)) {
                first_bad = i;
                bad_kind = 1;
                break;
            }
            continue;
        }
        if (nrefs > 0 && rec < v->refs[nrefs - 1].record)
            sorted = 0;
        v->refs[nrefs++] = (map_ref){rec, (uint32_t)i};
    }
    if (!sorted)
        qsort(v->refs, nrefs, sizeof *v->refs, map_ref_cmp);
    size_t ref_bad = n;
    int ref_kind = 0;
    uint32_t ref_segment = 0;
    for (size_t r = 0; r < nrefs; r++) {
        if (v->refs[r].entry >= ref_bad)
            continue;
        uint32_t segment = 0;
        int rc = 0;
        int kind = check_ref(v, v->raw + (size_t)v->refs[r].entry * MAP_ENTRY_SIZE,
                             v->refs[r].record, &segment, &rc);
        if (rc)
            return verify_tmp_failed(v, rc, offlist_dir(v->blocks));
        if (kind) {
            ref_bad = v->refs[r].entry;
            ref_kind = kind;
            ref_segment = segment;
        }
    }
    size_t i = ref_bad < first_bad ? ref_bad : first_bad;
    if (i == n)
        return VMRP_OK;
    const unsigned char *e = v->raw + i * MAP_ENTRY_SIZE;
    unsigned long long block = le64_load(e + ME_OFF_BLOCK), rec = le64_load(e + ME_OFF_RECORD);
    if (i == first_bad)
        return bad_kind ? verify_bad(v, sm->offset, "disk %s: zero entry for block %llu has a Block_Id",
                              di->name, block)
                        : verify_bad(v, sm->offset, "disk %s: map entry %zu: block %llu out of order "
                              "or beyond the disk", di->name, i, block);
    if (ref_kind == REF_MISSING)
        return verify_bad(v, sm->offset, "disk %s: block %llu names offset %llu, not a BLOCK record",
                   di->name, block, rec);
    if (ref_kind == REF_OTHER_SPACE)
        return verify_bad(v, sm->offset, "disk %s: block %llu names a block of another id space "
                   "(point %u's Id_Key)", di->name, block, ref_segment + 1);
    return verify_bad(v, rec, "disk %s: block %llu: stored data does not match its Block_Id", di->name,
               block);
}

/* Check one disk's maps, in the order its point lists them. */
static int check_disk_map(vstate *v, uint32_t d)
{
    const vmrp_disk_info *di = &v->point.info.disks[d];
    const disk_meta *dm = &v->point.disk_meta[d];
    uint64_t nblocks = block_count(di->size_bytes, v->block_size);
    uint64_t seen = 0;
    int64_t prev = -1;
    for (uint32_t m = 0; m < dm->map_count; m++) {
        const void *found;
        int rc = offlist_find(v->maps, dm->map_offsets[m], &found);
        if (rc)
            return verify_tmp_failed(v, rc, offlist_dir(v->maps));
        if (!found)
            return verify_bad(v, v->point_offset, "disk %s: map %u names offset %llu, not a MAP record of this point",
                       di->name, m, (unsigned long long)dm->map_offsets[m]);
        seg_map sm;
        memcpy(&sm, found, sizeof sm);
        if (verify_grow(&v->raw, &v->raw_cap, sm.len) || verify_grow(&v->stored, &v->stored_cap, sm.stored_len))
            return err_set(&v->r->err, VMRP_E_NOMEM, "out of memory");
        rc = spill_read(v->map_bytes, sm.at, sm.stored_len, v->stored);
        if (rc)
            return verify_tmp_failed(v, rc, spill_dir(v->map_bytes));
        if (codec_decompress(v->codec, sm.codec, v->stored, sm.stored_len, v->raw, sm.len) != VMRP_OK)
            return verify_bad(v, sm.offset, "map record does not decompress to its Raw_Size");
        if ((rc = check_map_entries(v, &sm, di, nblocks, &prev)) != 0)
            return rc;
        seen += sm.len / MAP_ENTRY_SIZE;
    }
    if (seen != di->changed_blocks)
        return verify_bad(v, v->point_offset, "disk %s: maps hold %llu entries, Changed_Blocks says %llu",
                   di->name, (unsigned long long)seen, (unsigned long long)di->changed_blocks);
    return VMRP_OK;
}

/* A Family_Id has one name; a name keeps the family it has now, unless a
 * FULL or EXCLUDED disk starts a new one; and a chain of deltas never crosses Id_Keys,
 * since its Block_Ids are compared and checked with one key. */
static int check_family(vstate *v, uint32_t d, const vmrp_disk_info *di)
{
    int differs = 0;
    const family_entry *clash = familytab_check(v->families, di->name, di->family_id,
                                                v->encrypted && (di->full || di->excluded),
                                                &differs);
    if (clash)
        return verify_bad(v, v->point_offset, "disk %s: %s disk %s of an earlier point", di->name,
                          differs ? "Family_Id differs from" : "Family_Id is that of", clash->name);
    family_entry *mine = familytab_add(v->families, di->name, di->family_id, v->points, d);
    if (!mine)
        return err_set(&v->r->err, VMRP_E_NOMEM, "out of memory");
    if (di->excluded)
        return VMRP_OK;
    if (v->ck && mine->included && !di->full &&
        sodium_memcmp(v->ck->segs[mine->last_included].id_key, v->ck->segs[v->points].id_key,
                      KEY_SIZE) != 0)
        return verify_bad(v, v->point_offset,
                   "disk %s: a delta against point %u, whose Block_Ids are keyed otherwise "
                   "(the disk must be FULL)", di->name, mine->last_included + 1);
    mine->included = 1;
    mine->last_included = v->points;
    return VMRP_OK;
}

int verify_check_point(vstate *v)
{
    const vmrp_point_info *pi = &v->point.info;
    if (pi->sequence != v->points + 1 || pi->parent_sequence != v->points)
        return verify_bad(v, v->point_offset, "Sequence %u / Parent_Sequence %u out of order",
                   pi->sequence, pi->parent_sequence);
    uint32_t earlier;
    if (!v->encrypted && hashidx_find(v->names, pi->name, strlen(pi->name), &earlier))
        return verify_bad(v, v->point_offset, "name '%s' is also point %u's", pi->name,
                          earlier + 1);
    for (uint32_t d = 0; d < pi->disk_count; d++) {
        const vmrp_disk_info *di = &pi->disks[d];
        if (di->full && !v->encrypted)
            return verify_bad(v, v->point_offset, "disk %s: FULL flag in an archive without encryption",
                       di->name);
        int rc = check_disk_map(v, d);
        if (rc)
            return rc;
        if ((rc = check_family(v, d, di)) != 0)
            return rc;
    }
    for (uint32_t i = 0; i < pi->config_file_count; i++) {
        uint64_t rec = v->point.file_records[i];
        if (rec == 0)
            continue;
        const void *found;
        int rc = offlist_find(v->files, rec, &found);
        if (rc)
            return verify_tmp_failed(v, rc, offlist_dir(v->files));
        const known *k = found;
        if (!k || k->size != pi->config_files[i].size || other_id_space(v, k->segment) ||
            memcmp(k->id, v->point.file_hashes[i], HASH_SIZE) != 0)
            return verify_bad(v, v->point_offset, "config file %s: record at %llu missing or not matching its Content_Hash",
                       pi->config_files[i].name, (unsigned long long)rec);
    }
    if (hashidx_put(v->names, pi->name, strlen(pi->name), v->points) != VMRP_OK)
        return err_set(&v->r->err, VMRP_E_NOMEM, "out of memory");
    return VMRP_OK;
}
