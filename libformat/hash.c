/* hash.c - BLAKE2b-256 hashing, random ids and clocks. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <time.h>

#include "vmrp_private.h"

void hash_buf(unsigned char out[HASH_SIZE], const void *data, size_t len)
{
    crypto_generichash(out, HASH_SIZE, data, len, NULL, 0);
}

void hash_init(hash_state *st)
{
    crypto_generichash_init(st, NULL, 0, HASH_SIZE);
}

void hash_update(hash_state *st, const void *data, size_t len)
{
    crypto_generichash_update(st, data, len);
}

void hash_final(hash_state *st, unsigned char out[HASH_SIZE])
{
    crypto_generichash_final(st, out, HASH_SIZE);
}

void random_id(unsigned char id[ID_SIZE])
{
    randombytes_buf(id, ID_SIZE);
    id[6] = (unsigned char)((id[6] & 0x0f) | 0x40); /* UUID version 4 */
    id[8] = (unsigned char)((id[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}

int is_zero(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    /* Word-wise check of the aligned middle; zero blocks dominate sparse
     * disks, so this runs on most of every pack. */
    while (len > 0 && ((uintptr_t)p & 7u) != 0) {
        if (*p)
            return 0;
        p++;
        len--;
    }
    const uint64_t *w = (const uint64_t *)(const void *)p;
    size_t nw = len / 8;
    for (size_t i = 0; i < nw; i += 1)
        if (w[i])
            return 0;
    p += nw * 8;
    len -= nw * 8;
    while (len-- > 0)
        if (*p++)
            return 0;
    return 1;
}

int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
