/* offlist.c - a list of fixed-size entries sorted by offset, found by
 * offset, in bounded memory.
 *
 * Why it exists: verify reads an archive once, front to back, and must
 * look up every BLOCK (and FILE) record it has met when a map (or a point)
 * names it by offset. Held in memory, that list grows by one entry per
 * block of the archive. Here the entries go to a spill list (memory up to
 * `keep` entries, the rest in a temporary file), and what stays in memory
 * per entry is the first offset of each page of OL_PAGE entries: 8 bytes
 * per 256 entries. A lookup finds the page by binary search, reads that
 * page (6 KiB for verify's blocks) unless it is the one already read, and
 * searches inside it; callers that look up offsets in increasing order read
 * each page at most once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmrp_private.h"

#define OL_PAGE 256u

struct offlist {
    spill *entries;
    size_t each;
    uint64_t *page_first; /* the offset of each page's first entry */
    size_t npages, cappages;
    uint64_t last;        /* the newest entry's offset */
    unsigned char *page;  /* one page, read back */
    uint64_t page_no;     /* which, and how many entries it held then */
    size_t page_n;
};

offlist *offlist_new(size_t each, size_t keep)
{
    offlist *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->each = each;
    l->entries = spill_new(each, keep, NULL);
    l->page = malloc(OL_PAGE * each);
    if (!l->entries || !l->page) {
        offlist_free(l);
        return NULL;
    }
    return l;
}

void offlist_free(offlist *l)
{
    if (!l)
        return;
    spill_free(l->entries);
    free(l->page_first);
    free(l->page);
    free(l);
}

uint64_t offlist_count(const offlist *l)
{
    return spill_count(l->entries);
}

const char *offlist_dir(const offlist *l)
{
    return spill_dir(l->entries);
}

void offlist_clear(offlist *l)
{
    spill_clear(l->entries);
    l->npages = 0;
    l->page_n = 0;
}

int offlist_push(offlist *l, const void *entry)
{
    uint64_t off, n = spill_count(l->entries);
    memcpy(&off, entry, sizeof off);
    if (n > 0 && off <= l->last)
        return -EINVAL;
    if (n % OL_PAGE == 0 && l->npages == l->cappages) {
        size_t cap = l->cappages ? 2 * l->cappages : 64;
        uint64_t *bigger = realloc(l->page_first, cap * sizeof *bigger);
        if (!bigger)
            return -ENOMEM;
        l->page_first = bigger;
        l->cappages = cap;
    }
    int rc = spill_append(l->entries, entry);
    if (rc)
        return rc;
    if (n % OL_PAGE == 0)
        l->page_first[l->npages++] = off;
    l->last = off;
    return 0;
}

int offlist_find(offlist *l, uint64_t off, const void **found)
{
    *found = NULL;
    /* the last page whose first entry is at or before off */
    size_t lo = 0, hi = l->npages;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->page_first[mid] <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return 0;
    uint64_t p = lo - 1, first = p * OL_PAGE, n = spill_count(l->entries) - first;
    size_t count = n < OL_PAGE ? (size_t)n : OL_PAGE;
    if (!l->page_n || l->page_no != p || l->page_n != count) {
        int rc = spill_read(l->entries, first, count, l->page);
        if (rc) {
            l->page_n = 0;
            return rc;
        }
        l->page_no = p;
        l->page_n = count;
    }
    lo = 0;
    hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t at;
        memcpy(&at, l->page + mid * l->each, sizeof at);
        if (at < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint64_t at = 0;
    if (lo < count)
        memcpy(&at, l->page + lo * l->each, sizeof at);
    if (lo < count && at == off)
        *found = l->page + lo * l->each;
    return 0;
}
