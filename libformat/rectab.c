/* rectab.c - the reader's table of committed records, about 5 bytes each.
 *
 * A reader looks up records by offset (a map entry names its BLOCK record
 * by offset) for as long as it is open, and an archive of a large disk
 * holds millions of them: 48-byte index entries would make memory grow by
 * 750 KiB per GiB of data at the default block size. Records tile their
 * segment, so a record's offset is its group's first offset plus the sizes
 * before it in the group: the table keeps a size and a type per record and,
 * every GROUP records and at each segment, the offset and segment number.
 * Record_Hashes are not kept: the reader keeps those of the few records it
 * authenticates by them (reader.c), and BLOCK records are checked against
 * their Block_Id instead (spec 7.1).
 */
#include <stdlib.h>
#include <string.h>

#include "vmrp_private.h"

#define GROUP 64 /* records per group at most: a lookup scans up to this many sizes */

typedef struct {
    uint64_t offset; /* of the group's first record */
    size_t first;    /* its index */
    uint16_t segment;
} group;

struct rectab {
    uint32_t *sizes;
    uint8_t *types;
    size_t n, cap;
    group *groups;
    size_t ngroups, capgroups;
    uint64_t end; /* where the last record ends */
};

rectab *rectab_new(void)
{
    return calloc(1, sizeof(rectab));
}

void rectab_free(rectab *t)
{
    if (!t)
        return;
    free(t->sizes);
    free(t->types);
    free(t->groups);
    free(t);
}

size_t rectab_count(const rectab *t)
{
    return t->n;
}

static int resize(void **p, size_t count, size_t each)
{
    void *bigger = realloc(*p, count * each);
    if (!bigger)
        return VMRP_E_NOMEM;
    *p = bigger;
    return VMRP_OK;
}

int rectab_reserve(rectab *t, size_t more)
{
    if (more > SIZE_MAX / 8 - t->n)
        return VMRP_E_NOMEM;
    size_t want = t->n + more;
    if (want > t->cap) {
        if (resize((void **)&t->sizes, want, sizeof *t->sizes) ||
            resize((void **)&t->types, want, sizeof *t->types))
            return VMRP_E_NOMEM;
        t->cap = want;
    }
    /* one group per GROUP records, plus the new segment's partial one */
    size_t groups = t->ngroups + more / GROUP + 2;
    if (groups > t->capgroups) {
        if (resize((void **)&t->groups, groups, sizeof *t->groups))
            return VMRP_E_NOMEM;
        t->capgroups = groups;
    }
    return VMRP_OK;
}

int rectab_add(rectab *t, const rec_ref *ref)
{
    if (t->n && ref->offset <= t->end - t->sizes[t->n - 1])
        return VMRP_E_CORRUPT; /* offsets must increase */
    int rc = VMRP_OK;
    if (t->n == t->cap)
        rc = rectab_reserve(t, t->cap ? t->cap : 256);
    else if (t->ngroups == t->capgroups)
        rc = rectab_reserve(t, GROUP);
    if (rc)
        return rc;
    const group *last = t->ngroups ? &t->groups[t->ngroups - 1] : NULL;
    if (!last || ref->offset != t->end || ref->segment != last->segment ||
        t->n - last->first == GROUP)
        t->groups[t->ngroups++] = (group){ref->offset, t->n, ref->segment};
    t->sizes[t->n] = ref->size;
    t->types[t->n] = ref->type;
    t->n++;
    t->end = ref->offset + ref->size;
    return VMRP_OK;
}

/* Fill out for record i of group g, whose offset is at. */
static void fill(const rectab *t, const group *g, size_t i, uint64_t at, rec_ref *out)
{
    memset(out, 0, sizeof *out);
    out->offset = at;
    out->size = t->sizes[i];
    out->type = t->types[i];
    out->segment = g->segment;
    out->no_hash = 1;
}

/* The last group whose first record's offset (by_index: index) is at or
 * before key, or NULL. */
static const group *group_of(const rectab *t, uint64_t key, int by_index)
{
    size_t lo = 0, hi = t->ngroups;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((by_index ? (uint64_t)t->groups[mid].first : t->groups[mid].offset) <= key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? &t->groups[lo - 1] : NULL;
}

int rectab_find(const rectab *t, uint64_t offset, rec_ref *out)
{
    const group *g = group_of(t, offset, 0);
    if (!g)
        return 0;
    size_t end = g + 1 < t->groups + t->ngroups ? g[1].first : t->n;
    uint64_t at = g->offset;
    for (size_t i = g->first; i < end && at <= offset; at += t->sizes[i++])
        if (at == offset) {
            fill(t, g, i, at, out);
            return 1;
        }
    return 0;
}

void rectab_get(const rectab *t, size_t i, rec_ref *out)
{
    const group *g = group_of(t, i, 1);
    uint64_t at = g->offset;
    for (size_t k = g->first; k < i; k++)
        at += t->sizes[k];
    fill(t, g, i, at, out);
}
