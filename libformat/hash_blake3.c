/* hash_blake3.c - BLAKE3-256: plain, keyed and derive-key, one-shot and
 * streaming.
 *
 * Why BLAKE3: hashing is most of vmrp's CPU (BLAKE2b is 69 % of verify and
 * 75 % of an incremental pack, docs/performance.md), and BLAKE2b is
 * sequential within a block. BLAKE3 hashes the 1 KiB chunks of a block side
 * by side in SIMD lanes (4 with SSE4.1, 8 with AVX2, 16 with AVX-512): about
 * 7 times BLAKE2b's speed per core on 64 KiB blocks here (figures in
 * docs/performance.md). Its keyed mode can take the place of keyed BLAKE2b
 * (the Block_Id of encrypted archives, id_hash()), and it has a
 * key-derivation mode. It becomes the hash of format 1.3; formats 1.0-1.2
 * keep BLAKE2b (hash.c), and nothing calls these functions yet.
 *
 * The implementation is the official C one: a system libblake3, or the
 * sources Debian packages in librust-blake3-dev, compiled into libvmrp with
 * their assembly and runtime CPU dispatch (Makefile, "BLAKE3"). */
#include <string.h>

#include "vmrp_private.h"

_Static_assert(HASH_SIZE == BLAKE3_OUT_LEN, "BLAKE3's default output is Hash_Size bytes");
_Static_assert(HASH3_KEY_SIZE == BLAKE3_KEY_LEN, "a BLAKE3 key is 32 bytes");

void hash3_buf(unsigned char out[HASH_SIZE], const void *data, size_t len)
{
    /* No secret in the state: left as it is, as hash_buf() leaves nothing
     * to wipe in the caller's memory either. */
    hash3_state st;
    blake3_hasher_init(&st);
    blake3_hasher_update(&st, data, len);
    blake3_hasher_finalize(&st, out, HASH_SIZE);
}

void hash3_keyed_buf(unsigned char out[HASH_SIZE], const unsigned char key[HASH3_KEY_SIZE],
                     const void *data, size_t len)
{
    hash3_state st;
    hash3_init_keyed(&st, key);
    hash3_update(&st, data, len);
    hash3_final(&st, out);
}

void hash3_derive_key(unsigned char out[HASH_SIZE], const char *context, const void *material,
                      size_t len)
{
    hash3_state st;
    hash3_init_derive(&st, context);
    hash3_update(&st, material, len);
    hash3_final(&st, out);
}

void hash3_init(hash3_state *st)
{
    blake3_hasher_init(st);
}

void hash3_init_keyed(hash3_state *st, const unsigned char key[HASH3_KEY_SIZE])
{
    blake3_hasher_init_keyed(st, key);
}

void hash3_init_derive(hash3_state *st, const char *context)
{
    blake3_hasher_init_derive_key(st, context);
}

void hash3_update(hash3_state *st, const void *data, size_t len)
{
    blake3_hasher_update(st, data, len);
}

void hash3_final(hash3_state *st, unsigned char out[HASH_SIZE])
{
    blake3_hasher_finalize(st, out, HASH_SIZE);
    /* A keyed or derive-key state holds its key, and every state the
     * chaining values of the input. */
    sodium_memzero(st, sizeof *st);
}
