/* index.c - decoding of INDEX records: the list of a segment's records.
 *
 * An INDEX may list up to 2^26 records (3 GiB), so readers walk it in
 * pieces: index_walk_begin() on its 16-byte header, index_walk_entry() on
 * each 48-byte entry in order, index_walk_end() after the last. The walk
 * holds no entry; index_parse() builds the whole list on top of it, and
 * index_stream takes the record as it is read, in pieces of any size,
 * hashing it on the way (the reader opening an archive, verify).
 */
#include <stdlib.h>
#include <string.h>

#include "vmrp_private.h"

int index_walk_begin(index_walk *w, const unsigned char hdr[IX_HEADER_SIZE], uint64_t len,
                     const commit_info *c, int strict, const char **why)
{
    memset(w, 0, sizeof *w);
    w->c = c;
    w->strict = strict;
    w->expect = c->segment_offset;
    if (len < IX_HEADER_SIZE) {
        *why = "index shorter than its header";
        return VMRP_E_CORRUPT;
    }
    w->count = le32_load(hdr + IX_OFF_ENTRY_COUNT);
    w->point_offset = le64_load(hdr + IX_OFF_POINT_OFFSET);
    if (w->count == 0 || w->count > INDEX_ENTRIES_MAX ||
        (strict && le32_load(hdr + IX_OFF_RESERVED) != 0) ||
        (uint64_t)w->count * IX_ENTRY_SIZE != len - IX_HEADER_SIZE) {
        *why = "index Entry_Count does not match its size";
        return VMRP_E_CORRUPT;
    }
    return VMRP_OK;
}

int index_walk_entry(index_walk *w, const unsigned char e[IX_ENTRY_SIZE], rec_ref *out,
                     const char **why)
{
    memset(out, 0, sizeof *out);
    out->offset = le64_load(e + IXE_OFF_OFFSET);
    out->size = le32_load(e + IXE_OFF_SIZE);
    out->type = e[IXE_OFF_TYPE];
    memcpy(out->hash, e + IXE_OFF_HASH, HASH_SIZE);
    if (w->seen >= w->count || out->offset != w->expect || out->size < RH_SIZE + 1 ||
        out->offset + out->size > w->c->index_offset ||
        (w->strict && !is_zero(e + IXE_OFF_RESERVED, 3))) {
        *why = "index entries do not tile the segment";
        return VMRP_E_CORRUPT;
    }
    /* (KEYS records belong to encrypted collections: readers check) */
    if ((out->type < REC_BLOCK || out->type > REC_POINT) && out->type != REC_KEYS) {
        *why = "index lists a record of a type a segment cannot hold";
        return VMRP_E_CORRUPT;
    }
    if (out->type == REC_POINT) {
        w->points++;
        if (w->seen != w->count - 1 || out->offset != w->point_offset) {
            *why = "the POINT record is not the last entry, or Point_Record_Offset does not name it";
            return VMRP_E_CORRUPT;
        }
    }
    w->expect = out->offset + out->size;
    w->seen++;
    return VMRP_OK;
}

int index_walk_end(const index_walk *w, const char **why)
{
    if (w->expect != w->c->index_offset || w->points != 1) {
        *why = w->points != 1 ? "segment does not hold exactly one point record"
                              : "index entries do not reach the index";
        return VMRP_E_CORRUPT;
    }
    return VMRP_OK;
}

void index_stream_init(index_stream *s, const unsigned char header[RH_SIZE], uint64_t len,
                       const commit_info *c, int strict)
{
    memset(s, 0, sizeof *s);
    s->c = *c;
    s->strict = strict;
    s->len = len;
    hash_init(&s->hs);
    hash_update(&s->hs, header, RH_SIZE);
}

/* One whole header or entry. */
static int stream_unit(index_stream *s, const unsigned char *unit, index_entry_fn fn, void *ctx)
{
    if (s->taken == IX_HEADER_SIZE) {
        index_walk_begin(&s->walk, unit, s->len, &s->c, s->strict, &s->why);
        return 0;
    }
    rec_ref ref;
    if (index_walk_entry(&s->walk, unit, &ref, &s->why) != VMRP_OK || !fn)
        return 0;
    return fn(ctx, &ref, s->walk.seen - 1);
}

int index_stream_feed(index_stream *s, const unsigned char *p, size_t n, index_entry_fn fn,
                      void *ctx)
{
    hash_update(&s->hs, p, n);
    while (n > 0 && !s->why) {
        size_t need = s->taken < IX_HEADER_SIZE ? IX_HEADER_SIZE : IX_ENTRY_SIZE;
        size_t take = need - s->nunit < n ? need - s->nunit : n;
        const unsigned char *unit = p;
        if (s->nunit || take < need) { /* cut between pieces: gather it */
            memcpy(s->unit + s->nunit, p, take);
            s->nunit += take;
            unit = s->unit;
        }
        p += take;
        n -= take;
        s->taken += take;
        if (unit == s->unit && s->nunit < need)
            break; /* the rest comes with the next piece */
        s->nunit = 0;
        int rc = stream_unit(s, unit, fn, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

int index_stream_header_read(const index_stream *s)
{
    return !s->why && s->taken >= IX_HEADER_SIZE;
}

const char *index_stream_end(index_stream *s, unsigned char hash[HASH_SIZE])
{
    hash_final(&s->hs, hash);
    if (!s->why && s->taken < IX_HEADER_SIZE) /* shorter than its header */
        index_walk_begin(&s->walk, s->unit, s->len, &s->c, s->strict, &s->why);
    if (!s->why)
        index_walk_end(&s->walk, &s->why);
    return s->why;
}

int index_parse(const unsigned char *p, size_t len, const commit_info *c, rec_ref **out,
                size_t *count, uint64_t *point_offset, const char **why)
{
    index_walk w;
    *out = NULL;
    *count = 0;
    int rc = index_walk_begin(&w, p, len, c, 1, why);
    if (rc)
        return rc;
    *point_offset = w.point_offset;
    rec_ref *refs = malloc((size_t)w.count * sizeof *refs);
    if (!refs) {
        *why = "out of memory";
        return VMRP_E_NOMEM;
    }
    for (uint32_t i = 0; i < w.count && rc == VMRP_OK; i++)
        rc = index_walk_entry(&w, p + IX_HEADER_SIZE + (size_t)i * IX_ENTRY_SIZE, &refs[i], why);
    if (rc == VMRP_OK)
        rc = index_walk_end(&w, why);
    if (rc) {
        free(refs);
        return rc;
    }
    *out = refs;
    *count = w.count;
    return VMRP_OK;
}
