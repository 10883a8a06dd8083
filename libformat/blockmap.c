/* blockmap.c - the collection's table of stored blocks, for deduplication.
 *
 * Keys are Block_Ids (uniformly distributed hashes), so the first 8 bytes
 * index an open-addressing table directly. Memory grows with the number of
 * distinct stored blocks: 40 bytes each in a table at most three quarters
 * full (linear probing stays short at that load with uniform keys), and the
 * old table beside the new one while it doubles.
 */
#include <stdlib.h>
#include <string.h>

#include "vmrp_private.h"

typedef struct {
    unsigned char id[HASH_SIZE];
    uint64_t offset; /* 0 = empty slot */
} slot;

struct blocktab {
    slot *slots;
    size_t cap; /* power of two */
    size_t used;
};

blocktab *blocktab_new(void)
{
    blocktab *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cap = 1024;
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

static size_t slot_of(const blocktab *t, const unsigned char id[HASH_SIZE])
{
    uint64_t h = le64_load(id);
    size_t i = (size_t)h & (t->cap - 1);
    while (t->slots[i].offset != 0 && memcmp(t->slots[i].id, id, HASH_SIZE) != 0)
        i = (i + 1) & (t->cap - 1);
    return i;
}

static int grow(blocktab *t)
{
    blocktab bigger = {calloc(t->cap * 2, sizeof(slot)), t->cap * 2, 0};
    if (!bigger.slots)
        return VMRP_E_NOMEM;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].offset != 0)
            bigger.slots[slot_of(&bigger, t->slots[i].id)] = t->slots[i];
    free(t->slots);
    t->slots = bigger.slots;
    t->cap = bigger.cap;
    return VMRP_OK;
}

int blocktab_reserve(blocktab *t, size_t n)
{
    while ((n + 1) * 4 > t->cap * 3 && t->cap < ((size_t)1 << 40)) {
        int rc = grow(t);
        if (rc)
            return rc;
    }
    return VMRP_OK;
}

int blocktab_put(blocktab *t, const unsigned char id[HASH_SIZE], uint64_t offset)
{
    if ((t->used + 1) * 4 > t->cap * 3) { /* at most three quarters full */
        int rc = grow(t);
        if (rc)
            return rc;
    }
    slot *s = &t->slots[slot_of(t, id)];
    if (s->offset == 0) {
        memcpy(s->id, id, HASH_SIZE);
        s->offset = offset;
        t->used++;
    }
    return VMRP_OK;
}

void blocktab_set(blocktab *t, const unsigned char id[HASH_SIZE], uint64_t offset)
{
    slot *s = &t->slots[slot_of(t, id)];
    if (s->offset != 0)
        s->offset = offset;
}

uint64_t blocktab_get(const blocktab *t, const unsigned char id[HASH_SIZE])
{
    return t->slots[slot_of(t, id)].offset;
}
