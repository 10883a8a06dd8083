/* index.c - decoding of INDEX records: the list of a segment's records. */
#include <stdlib.h>
#include <string.h>

#include "vmrp_private.h"

int index_parse(const unsigned char *p, size_t len, const commit_info *c, rec_ref **out,
                size_t *count, uint64_t *point_offset, const char **why)
{
    return index_parse_ex(p, len, c, 1, out, count, point_offset, why);
}

int index_parse_ex(const unsigned char *p, size_t len, const commit_info *c, int strict,
                   rec_ref **out, size_t *count, uint64_t *point_offset, const char **why)
{
    *out = NULL;
    *count = 0;
    if (len < IX_HEADER_SIZE) {
        *why = "index shorter than its header";
        return VMRP_E_CORRUPT;
    }
    uint32_t n = le32_load(p + IX_OFF_ENTRY_COUNT);
    *point_offset = le64_load(p + IX_OFF_POINT_OFFSET);
    if (n == 0 || n > INDEX_ENTRIES_MAX || (strict && le32_load(p + IX_OFF_RESERVED) != 0) ||
        (uint64_t)n * IX_ENTRY_SIZE != len - IX_HEADER_SIZE) {
        *why = "index Entry_Count does not match its size";
        return VMRP_E_CORRUPT;
    }
    rec_ref *refs = malloc((size_t)n * sizeof *refs);
    if (!refs) {
        *why = "out of memory";
        return VMRP_E_NOMEM;
    }
    uint64_t expect = c->segment_offset;
    int points = 0;
    for (uint32_t i = 0; i < n; i++) {
        const unsigned char *e = p + IX_HEADER_SIZE + (size_t)i * IX_ENTRY_SIZE;
        rec_ref *r = &refs[i];
        r->offset = le64_load(e + IXE_OFF_OFFSET);
        r->size = le32_load(e + IXE_OFF_SIZE);
        r->type = e[IXE_OFF_TYPE];
        memcpy(r->hash, e + IXE_OFF_HASH, HASH_SIZE);
        if (r->offset != expect || r->size < RH_SIZE + 1 || r->offset + r->size > c->index_offset ||
            (strict && !is_zero(e + IXE_OFF_RESERVED, 3))) {
            *why = "index entries do not tile the segment";
            free(refs);
            return VMRP_E_CORRUPT;
        }
        /* (KEYS records belong to encrypted collections: readers check) */
        if ((r->type < REC_BLOCK || r->type > REC_POINT) && r->type != REC_KEYS) {
            *why = "index lists a record of a type a segment cannot hold";
            free(refs);
            return VMRP_E_CORRUPT;
        }
        if (r->type == REC_POINT) {
            points++;
            if (i != n - 1 || r->offset != *point_offset) {
                *why = "the POINT record is not the last entry, or Point_Record_Offset does not name it";
                free(refs);
                return VMRP_E_CORRUPT;
            }
        }
        expect = r->offset + r->size;
    }
    if (expect != c->index_offset || points != 1) {
        *why = points != 1 ? "segment does not hold exactly one point record"
                           : "index entries do not reach the index";
        free(refs);
        return VMRP_E_CORRUPT;
    }
    *out = refs;
    *count = n;
    return VMRP_OK;
}
