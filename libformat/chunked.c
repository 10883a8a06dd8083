/* chunked.c - a growable array kept in fixed chunks.
 *
 * Verify's lists grow by one element per record or block of an archive of
 * any size. In one realloc'd array, growth copies the whole array and holds
 * it twice for a moment, and the spare room left for growth is up to half
 * of it again: about 80 bytes per block where the elements take 44. Here an
 * element never moves once appended, and the spare room is one chunk.
 */
#include <stdlib.h>
#include <string.h>

#include "vmrp_private.h"

#define CHUNK_ELEMS 16384u

void chunked_init(chunked *c, size_t each)
{
    memset(c, 0, sizeof *c);
    c->each = each;
}

void *chunked_push(chunked *c)
{
    size_t k = c->n / CHUNK_ELEMS;
    if (k == c->nchunks) {
        if (c->nchunks == c->capchunks) {
            size_t cap = c->capchunks ? 2 * c->capchunks : 16;
            unsigned char **bigger = realloc(c->chunks, cap * sizeof *bigger);
            if (!bigger)
                return NULL;
            c->chunks = bigger;
            c->capchunks = cap;
        }
        if (!(c->chunks[k] = malloc(CHUNK_ELEMS * c->each)))
            return NULL;
        c->nchunks++;
    }
    return c->chunks[k] + (c->n++ % CHUNK_ELEMS) * c->each;
}

void *chunked_at(const chunked *c, size_t i)
{
    return c->chunks[i / CHUNK_ELEMS] + (i % CHUNK_ELEMS) * c->each;
}

size_t chunked_find_offset(const chunked *c, uint64_t off)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t at;
        memcpy(&at, chunked_at(c, mid), sizeof at);
        if (at < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint64_t at = 0;
    if (lo < c->n)
        memcpy(&at, chunked_at(c, lo), sizeof at);
    return lo < c->n && at == off ? lo : c->n;
}

void chunked_clear(chunked *c)
{
    c->n = 0;
}

void chunked_free(chunked *c)
{
    for (size_t k = 0; k < c->nchunks; k++)
        free(c->chunks[k]);
    free(c->chunks);
    chunked_init(c, c->each);
}
