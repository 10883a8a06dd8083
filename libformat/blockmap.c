/* blockmap.c - the collection's table of stored blocks, for deduplication.
 *
 * A cache, not a catalogue: a miss only costs a block stored twice, so the
 * table has a fixed upper size (vmrp_writer_options::dedup_memory_mib,
 * which also holds the half-size table while the last doubling copies it)
 * and, once there, a new id replaces an old one. That keeps a writer's memory
 * bounded for any amount of data, where an exact table would grow by 40
 * bytes per distinct block for ever.
 *
 * Keys are Block_Ids, which are uniform hashes for honest input, so the
 * first 8 bytes pick a home slot and linear probing stays short. Every entry
 * lies within WINDOW slots of its home, so no lookup scans more than WINDOW
 * slots, even when hostile ids all share one home. Nothing is ever deleted,
 * so an empty slot inside the window ends a lookup.
 */
#include <stdlib.h>
#include <string.h>

#include "vmrp_private.h"

#define WINDOW 64         /* slots probed from an id's home, at most */
#define FIRST_SLOTS 1024u /* a new table's size: 40 KiB */

typedef struct {
    unsigned char id[HASH_SIZE];
    uint64_t offset; /* 0 = empty slot */
} slot;

struct blocktab {
    slot *slots;
    size_t cap;     /* power of two */
    size_t max_cap; /* power of two: the table never grows past it */
    size_t used;
    uint64_t evicted;
};

blocktab *blocktab_new(size_t max_bytes)
{
    blocktab *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    /* The last doubling holds the half-size table beside the full one:
     * both fit in max_bytes. */
    t->max_cap = FIRST_SLOTS;
    while (t->max_cap <= SIZE_MAX / 4 / sizeof(slot) &&
           t->max_cap * 2 * 3 / 2 <= max_bytes / sizeof(slot))
        t->max_cap *= 2;
    t->cap = FIRST_SLOTS;
    t->slots = calloc(t->cap, sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return NULL;
    }
    return t;
}

void blocktab_free(blocktab *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t);
}

static size_t home_of(size_t cap, const unsigned char id[HASH_SIZE])
{
    return (size_t)le64_load(id) & (cap - 1);
}

/* The slot holding id, or the first empty slot of its window, or
 * (size_t)-1 when the window is full of other ids. */
static size_t find(const slot *slots, size_t cap, const unsigned char id[HASH_SIZE])
{
    size_t i = home_of(cap, id);
    for (unsigned k = 0; k < WINDOW && k < cap; k++, i = (i + 1) & (cap - 1))
        if (slots[i].offset == 0 || memcmp(slots[i].id, id, HASH_SIZE) == 0)
            return i;
    return (size_t)-1;
}

/* Double the table. An entry whose new window is full (only possible with
 * ids built to collide) is dropped: the table is a cache. */
static int grow(blocktab *t)
{
    size_t cap = t->cap * 2;
    slot *bigger = calloc(cap, sizeof(slot));
    if (!bigger)
        return VMRP_E_NOMEM;
    size_t used = 0;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].offset == 0)
            continue;
        size_t at = find(bigger, cap, t->slots[i].id);
        if (at == (size_t)-1) {
            t->evicted++;
            continue;
        }
        bigger[at] = t->slots[i];
        used++;
    }
    free(t->slots);
    t->slots = bigger;
    t->cap = cap;
    t->used = used;
    return VMRP_OK;
}

static int over_three_quarters(size_t used, size_t cap)
{
    return (used + 1) * 4 > cap * 3;
}

int blocktab_reserve(blocktab *t, size_t n)
{
    while (over_three_quarters(n, t->cap) && t->cap < t->max_cap) {
        int rc = grow(t);
        if (rc)
            return rc;
    }
    return VMRP_OK;
}

int blocktab_put(blocktab *t, const unsigned char id[HASH_SIZE], uint64_t offset)
{
    if (over_three_quarters(t->used, t->cap) && t->cap < t->max_cap) {
        int rc = grow(t);
        if (rc)
            return rc;
    }
    size_t at = find(t->slots, t->cap, id);
    /* A full window below the bound grows the table even when it is not
     * three quarters full: linear probing makes long runs now and then.
     * Ids built to collide can so make it reach its bound, not more. */
    while (at == (size_t)-1 && t->cap < t->max_cap) {
        int rc = grow(t);
        if (rc)
            return rc;
        at = find(t->slots, t->cap, id);
    }
    if (at == (size_t)-1) {
        /* Replace an entry of the window, chosen by the id's bits so that
         * equal windows do not always lose the same slot. */
        at = (home_of(t->cap, id) + id[HASH_SIZE - 1] % WINDOW) & (t->cap - 1);
        t->evicted++;
        t->used--;
    } else if (t->slots[at].offset != 0) {
        return VMRP_OK; /* known: the first record stays */
    }
    memcpy(t->slots[at].id, id, HASH_SIZE);
    t->slots[at].offset = offset;
    t->used++;
    return VMRP_OK;
}

void blocktab_set(blocktab *t, const unsigned char id[HASH_SIZE], uint64_t offset)
{
    size_t at = find(t->slots, t->cap, id);
    if (at != (size_t)-1 && t->slots[at].offset != 0)
        t->slots[at].offset = offset;
}

uint64_t blocktab_get(const blocktab *t, const unsigned char id[HASH_SIZE])
{
    size_t at = find(t->slots, t->cap, id);
    return at == (size_t)-1 ? 0 : t->slots[at].offset;
}

uint64_t blocktab_evicted(const blocktab *t)
{
    return t->evicted;
}

size_t blocktab_bytes(const blocktab *t)
{
    return t->cap * sizeof(slot);
}
