/* rectab.c - the reader's table of committed records, read back from the
 * archive's own INDEX records.
 *
 * A reader looks up records by offset (a map entry names its BLOCK record
 * by offset) for as long as it is open, and an archive of a large disk
 * holds millions of them. Any table in memory grows with the archive (a
 * size and a type per record was still 80 MiB per TiB at 64 KiB blocks).
 * But the INDEX records already list every record in offset order, 48
 * bytes each, and they were checked against their commits when the archive
 * was opened. So the table keeps only where each page of PAGE consecutive
 * entries lies in the archive, the range of records it covers and their
 * segment (40 bytes per 256 records), and reads pages back on demand into
 * a cache of SLOTS pages (3 MiB). Restore and the chain walk look records
 * up in increasing offset per point, so each page is read about once.
 *
 * A page read back is checked again: its entries must tile exactly the
 * range recorded when it was authenticated. Record_Hashes are not used:
 * the reader keeps those of the few records it authenticates by them
 * (reader.c), and BLOCK records are checked against their Block_Id instead
 * (spec 7.1), so an archive changed while it is open can make a lookup
 * fail, never return data that was not written.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmrp_private.h"

#define PAGE 256u  /* index entries per page: 12 KiB read at once */
#define SLOTS 256u /* pages cached */

typedef struct {
    uint64_t first;     /* offset of its first record */
    uint64_t end;       /* where its last record ends */
    uint64_t index;     /* number of its first record in the table */
    uint64_t entry_pos; /* archive offset of its first INDEX entry */
    uint16_t count;     /* entries, 1..PAGE */
    uint16_t segment;
} page;

typedef struct {
    uint64_t page_no; /* + 1; 0: empty */
    uint64_t used;    /* when it was last used, for eviction */
    size_t count;     /* entries read: the last page may have grown since */
    unsigned char *bytes;
} slot;

struct rectab {
    int fd;
    page *pages;
    size_t npages, cappages;
    uint64_t n;   /* records */
    uint64_t end; /* where the last record ends */
    slot slots[SLOTS];
    uint64_t clock;
    size_t last; /* the slot used last: most lookups hit it again */
    int failed;  /* VMRP_E_* of the last page that could not be read back */
    char why[200];
};

rectab *rectab_new(int fd)
{
    rectab *t = calloc(1, sizeof *t);
    if (t)
        t->fd = fd;
    return t;
}

void rectab_free(rectab *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < SLOTS; i++)
        free(t->slots[i].bytes);
    free(t->pages);
    free(t);
}

uint64_t rectab_count(const rectab *t)
{
    return t->n;
}

const char *rectab_why(const rectab *t)
{
    return t->why;
}

int rectab_reserve(rectab *t, size_t more)
{
    /* one page per PAGE records, plus the new segment's partial one */
    size_t want = t->npages + more / PAGE + 2;
    if (want <= t->cappages)
        return VMRP_OK;
    if (want > SIZE_MAX / sizeof *t->pages)
        return VMRP_E_NOMEM;
    page *bigger = realloc(t->pages, want * sizeof *bigger);
    if (!bigger)
        return VMRP_E_NOMEM;
    t->pages = bigger;
    t->cappages = want;
    return VMRP_OK;
}

int rectab_add(rectab *t, const rec_ref *ref, uint64_t entry_pos)
{
    if (t->n && ref->offset < t->end)
        return VMRP_E_CORRUPT; /* offsets must increase */
    page *last = t->npages ? &t->pages[t->npages - 1] : NULL;
    if (!last || last->count == PAGE || ref->offset != t->end || ref->segment != last->segment ||
        entry_pos != last->entry_pos + (uint64_t)last->count * IX_ENTRY_SIZE) {
        if (t->npages == t->cappages) {
            size_t more = t->cappages ? t->cappages * PAGE : 64 * PAGE;
            if (rectab_reserve(t, more))
                return VMRP_E_NOMEM;
        }
        last = &t->pages[t->npages++];
        *last = (page){ref->offset, ref->offset, t->n, entry_pos, 0, ref->segment};
    }
    last->count++;
    last->end = ref->offset + ref->size;
    t->n++;
    t->end = last->end;
    return VMRP_OK;
}

/* The page's entries, read back and checked, or NULL (t->why). */
static const unsigned char *load(rectab *t, size_t p)
{
    const page *pg = &t->pages[p];
    t->clock++;
    slot *s = &t->slots[t->last];
    if (s->page_no == p + 1 && s->count == pg->count) {
        s->used = t->clock;
        return s->bytes;
    }
    size_t victim = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        if (t->slots[i].page_no == p + 1 && t->slots[i].count == pg->count) {
            t->last = i;
            t->slots[i].used = t->clock;
            return t->slots[i].bytes;
        }
        if (t->slots[i].used < t->slots[victim].used)
            victim = i;
    }
    s = &t->slots[victim];
    s->page_no = 0;
    if (!s->bytes && !(s->bytes = malloc(PAGE * IX_ENTRY_SIZE))) {
        t->failed = VMRP_E_NOMEM;
        snprintf(t->why, sizeof t->why, "out of memory");
        return NULL;
    }
    int rc = io_pread_full(t->fd, s->bytes, (size_t)pg->count * IX_ENTRY_SIZE, pg->entry_pos);
    if (rc) {
        t->failed = VMRP_E_IO;
        snprintf(t->why, sizeof t->why, "reading the index entries at offset %llu: %s",
                 (unsigned long long)pg->entry_pos, strerror(-rc));
        return NULL;
    }
    uint64_t at = pg->first;
    size_t i = 0;
    for (; i < pg->count; i++) {
        const unsigned char *e = s->bytes + i * IX_ENTRY_SIZE;
        uint32_t size = le32_load(e + IXE_OFF_SIZE);
        if (le64_load(e + IXE_OFF_OFFSET) != at || size < RH_SIZE + 1 || at + size > pg->end)
            break;
        at += size;
    }
    if (i != pg->count || at != pg->end) {
        t->failed = VMRP_E_CORRUPT;
        snprintf(t->why, sizeof t->why,
                 "the index entries at offset %llu changed since the archive was opened",
                 (unsigned long long)pg->entry_pos);
        return NULL;
    }
    s->page_no = p + 1;
    s->count = pg->count;
    s->used = t->clock;
    t->last = victim;
    return s->bytes;
}

static void fill(const page *pg, const unsigned char *e, rec_ref *out)
{
    memset(out, 0, sizeof *out);
    out->offset = le64_load(e + IXE_OFF_OFFSET);
    out->size = le32_load(e + IXE_OFF_SIZE);
    out->type = e[IXE_OFF_TYPE];
    out->segment = pg->segment;
    out->no_hash = 1;
}

/* The last page whose first record (by_index: its number) is at or before
 * key; npages when none is. */
static size_t page_of(const rectab *t, uint64_t key, int by_index)
{
    size_t lo = 0, hi = t->npages;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((by_index ? t->pages[mid].index : t->pages[mid].first) <= key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : t->npages;
}

int rectab_find(rectab *t, uint64_t offset, rec_ref *out)
{
    size_t p = page_of(t, offset, 0);
    if (p == t->npages || offset >= t->pages[p].end)
        return 0;
    const unsigned char *entries = load(t, p);
    if (!entries)
        return t->failed;
    size_t lo = 0, hi = t->pages[p].count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (le64_load(entries + mid * IX_ENTRY_SIZE + IXE_OFF_OFFSET) < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == t->pages[p].count ||
        le64_load(entries + lo * IX_ENTRY_SIZE + IXE_OFF_OFFSET) != offset)
        return 0;
    fill(&t->pages[p], entries + lo * IX_ENTRY_SIZE, out);
    return 1;
}

int rectab_get(rectab *t, uint64_t i, rec_ref *out)
{
    if (i >= t->n)
        return 0;
    size_t p = page_of(t, i, 1);
    const unsigned char *entries = load(t, p);
    if (!entries)
        return t->failed;
    fill(&t->pages[p], entries + (size_t)(i - t->pages[p].index) * IX_ENTRY_SIZE, out);
    return 1;
}
