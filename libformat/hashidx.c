/* hashidx.c - an index from short byte strings (names, ids) to 32-bit
 * values, for the checks that compare every point or disk with every one
 * before it: a lookup costs the same for the first point and the 65,535th.
 * Keys are hashed with SipHash under a key drawn per index, so an archive
 * cannot choose names or ids that collide on purpose. */
#include <stdlib.h>
#include <string.h>

#include "vmrp_private.h"

typedef struct {
    uint64_t hash;   /* 0: an empty slot */
    uint32_t key_at; /* where the key lies in the arena */
    uint32_t key_len;
    uint32_t value;
} slot;

struct hashidx_s {
    unsigned char sipkey[crypto_shorthash_KEYBYTES];
    slot *slots;
    size_t cap, count; /* cap: a power of two, kept over twice count */
    unsigned char *arena;
    size_t arena_len, arena_cap;
};

hashidx *hashidx_new(void)
{
    hashidx *h = calloc(1, sizeof *h);
    if (h)
        randombytes_buf(h->sipkey, sizeof h->sipkey);
    return h;
}

void hashidx_free(hashidx *h)
{
    if (!h)
        return;
    free(h->slots);
    free(h->arena);
    free(h);
}

static uint64_t hash_key(const hashidx *h, const void *key, size_t len)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, key, len, h->sipkey);
    uint64_t v;
    memcpy(&v, out, sizeof v);
    return v ? v : 1;
}

/* The slot holding key, or the empty slot where it would go. */
static slot *probe(const hashidx *h, uint64_t hv, const void *key, size_t len)
{
    for (size_t i = (size_t)hv & (h->cap - 1);; i = (i + 1) & (h->cap - 1)) {
        slot *s = &h->slots[i];
        if (s->hash == 0 ||
            (s->hash == hv && s->key_len == len && memcmp(h->arena + s->key_at, key, len) == 0))
            return s;
    }
}

int hashidx_find(const hashidx *h, const void *key, size_t len, uint32_t *value)
{
    if (h->count == 0)
        return 0;
    const slot *s = probe(h, hash_key(h, key, len), key, len);
    if (s->hash == 0)
        return 0;
    *value = s->value;
    return 1;
}

static int grow(hashidx *h)
{
    size_t cap = h->cap ? 2 * h->cap : 64;
    slot *old = h->slots, *fresh = calloc(cap, sizeof *fresh);
    if (!fresh)
        return VMRP_E_NOMEM;
    size_t old_cap = h->cap;
    h->slots = fresh;
    h->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].hash)
            *probe(h, old[i].hash, h->arena + old[i].key_at, old[i].key_len) = old[i];
    free(old);
    return VMRP_OK;
}

int hashidx_put(hashidx *h, const void *key, size_t len, uint32_t value)
{
    if (len > UINT32_MAX || h->arena_len + len > UINT32_MAX)
        return VMRP_E_LIMIT;
    if (2 * (h->count + 1) > h->cap && grow(h) != VMRP_OK)
        return VMRP_E_NOMEM;
    uint64_t hv = hash_key(h, key, len);
    slot *s = probe(h, hv, key, len);
    if (s->hash) {
        s->value = value;
        return VMRP_OK;
    }
    if (!h->arena || h->arena_len + len > h->arena_cap) {
        size_t cap = h->arena_cap ? 2 * h->arena_cap : 1024;
        while (cap < h->arena_len + len)
            cap *= 2;
        unsigned char *bigger = realloc(h->arena, cap);
        if (!bigger)
            return VMRP_E_NOMEM;
        h->arena = bigger;
        h->arena_cap = cap;
    }
    memcpy(h->arena + h->arena_len, key, len);
    *s = (slot){hv, (uint32_t)h->arena_len, (uint32_t)len, value};
    h->arena_len += len;
    h->count++;
    return VMRP_OK;
}
