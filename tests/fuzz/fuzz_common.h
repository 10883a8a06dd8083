/* fuzz_common.h - helpers shared by the libvmrp fuzz targets.
 *
 * Included (once) by each target. It provides:
 *  - FUZZ_CHECK(): an oracle failure aborts, so libFuzzer and the regression
 *    driver report it like a sanitizer error;
 *  - fuzz_memfd(): the input as an anonymous file (memfd_create);
 *  - fuzz_skip(): lets a campaign go past a known, already reported finding
 *    (VMRP_FUZZ_SKIP=name1,name2; never set by the regression run);
 *  - for the archive targets (FUZZ_ARCHIVE_MUTATOR defined): a custom
 *    mutator that, after libFuzzer's own mutation, usually repairs the
 *    archive's hash chain (record hashes in every INDEX, Index_Hash,
 *    File_Header_Hash and Prev_Commit_Hash in every COMMIT, the Header_Hash)
 *    and sometimes re-frames stored-as-is records and relinks the commit
 *    offsets. Without it almost every mutation dies at the first hash check
 *    and the parsers behind it are never reached. The repaired bytes are the
 *    test case: crashes replay as they are, with no mutator. Encrypted
 *    archives that the test keys open are mutated in the clear and
 *    encrypted again (see the custom mutator);
 *  - for every target: the test-only encryption identity and passphrase,
 *    the Argon2id budget of an execution, and an implementation of the
 *    format's key slots, sealed segment keys and record encryption with
 *    libsodium alone (fz_unlock(), fz_segment_keys(), fz_crypt_records()).
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "vmrp.h"

#define FZ_UNUSED __attribute__((unused))

#define FUZZ_CHECK(cond, ...)                                                        \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, \
                    #cond);                                                          \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
            abort();                                                                 \
        }                                                                            \
    } while (0)

static FZ_UNUSED void fuzz_init_once(void)
{
    static int done;
    if (!done) {
        if (vmrp_init() != VMRP_OK)
            abort();
        done = 1;
    }
}

/* 1 when the campaign asked to step over the known finding `name`. */
static FZ_UNUSED int fuzz_skip(const char *name)
{
    const char *s = getenv("VMRP_FUZZ_SKIP");
    size_t n = strlen(name);
    while (s && *s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if (len == n && memcmp(s, name, n) == 0)
            return 1;
        s = end ? end + 1 : NULL;
    }
    return 0;
}

static FZ_UNUSED int fuzz_write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The input as a file descriptor positioned at offset 0. */
static FZ_UNUSED int fuzz_memfd(const char *name, const uint8_t *data, size_t size)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) {
        perror("memfd_create");
        abort();
    }
    if (fuzz_write_all(fd, data, size) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
        perror("memfd write");
        abort();
    }
    return fd;
}

static FZ_UNUSED uint32_t fz_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static FZ_UNUSED uint64_t fz_le64(const uint8_t *p)
{
    return (uint64_t)fz_le32(p) | ((uint64_t)fz_le32(p + 4) << 32);
}
static FZ_UNUSED void fz_st32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static FZ_UNUSED void fz_st64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Offset of the first "VRec" at or after `from`, or n. */
static FZ_UNUSED size_t fz_next_magic(const uint8_t *d, size_t n, size_t from)
{
    if (from >= n)
        return n;
    const void *p = memmem(d + from, n - from, "VRec", 4);
    return p ? (size_t)((const uint8_t *)p - d) : n;
}

/* ---- Encrypted archives (format 1.2, sections 4.5 and 5.6) ----------------
 *
 * TEST-ONLY key material. fz_test_key_text is tests/fuzz/test-encryption.key,
 * an unprotected X25519 secret key made once with
 * `vmrp keygen --encryption --no-passphrase`: it is public in this
 * repository and must never protect real data. FZ_TEST_PASSPHRASE opens the
 * passphrase slots of the seeds made by make-corpus.sh and of
 * fixtures/v1.2 (its test-passphrase.txt). make-corpus.sh checks that
 * this copy and the key file agree.
 *
 * The helpers below re-implement, with libsodium alone, what the format
 * says about key slots, sealed segment keys and record encryption: the
 * custom mutator uses them to mutate the plaintext of encrypted records and
 * to re-encrypt it, and the oracles to check the library's decryption
 * independently. */
#define FZ_TEST_PASSPHRASE "vmrp test passphrase"
static const char fz_test_key_text[] =
    "untrusted comment: vmrp encryption secret key\n"
    "WDEAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAmy4fhJ/dcs60OgL7uyy2u1"
    "khF8ezxYpRovWhdKwaZBJHz5172wM/f8P8tOZs+xumTSWWMCIEwbS/J1wU03XXVxVFz/QeuD1NsoCyyOmiRY0HYCZ9AF"
    "qxem6f0euAuEa+DT3Pw6MUuQw=\n";

/* Argon2id work a passphrase may cost per input: the sum of Opslimit x
 * Memlimit over the PASSPHRASE slots of segment 1. A file may ask for up to
 * 10 passes over 1 GiB per slot (64 slots), seconds and a GiB of memory per
 * execution; the harnesses give the passphrase only when the input asks for
 * at most one pass over 1 MiB in all (fixtures/v1.2 asks exactly that, the
 * seeds 8 KiB). Other inputs are opened with the identity alone. */
#define FZ_KDF_BUDGET (1ull << 20)

typedef struct {
    unsigned char sk[32], pk[32], keynum[8];
} fz_x25519;

/* The test identity as raw X25519 keys, decoded here from the key file
 * text (secret key layout of format-spec/keys.md), not by the library. */
static FZ_UNUSED const fz_x25519 *fz_test_x25519(void)
{
    static fz_x25519 k;
    static int done;
    if (!done) {
        const char *b64 = strchr(fz_test_key_text, '\n') + 1;
        unsigned char bin[158];
        size_t len = 0;
        if (sodium_init() < 0 ||
            sodium_base642bin(bin, sizeof bin, b64, strcspn(b64, "\n"), NULL, &len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            len != sizeof bin || memcmp(bin, "X1\0\0B2", 6) != 0)
            abort();
        memcpy(k.keynum, bin + 54, 8);
        memcpy(k.sk, bin + 62, 32);
        memcpy(k.pk, bin + 94, 32);
        unsigned char pk[32];
        if (crypto_scalarmult_base(pk, k.sk) != 0 || memcmp(pk, k.pk, 32) != 0)
            abort();
        done = 1;
    }
    return &k;
}

/* The test identity as a vmrp_key (loaded once, through the library). */
static FZ_UNUSED const vmrp_key *fz_identity(void)
{
    static vmrp_key *key;
    if (!key) {
        char path[256];
        snprintf(path, sizeof path, "%s/vmrp-fuzz-identity.%ld",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
        FILE *f = fopen(path, "w");
        if (!f || fputs(fz_test_key_text, f) < 0 || fclose(f) != 0)
            abort();
        key = vmrp_key_new();
        int rc = key ? vmrp_key_load_secret(key, path, NULL, NULL) : VMRP_E_NOMEM;
        unlink(path);
        if (rc != VMRP_OK || vmrp_key_kind(key) != VMRP_KEY_ENCRYPTION) {
            fprintf(stderr, "cannot load the test identity (%d)\n", rc);
            abort();
        }
    }
    return key;
}

/* Passphrase callback: the test passphrase. ctx, when not NULL, counts
 * the calls. */
static FZ_UNUSED int fz_ask(void *ctx, const char *path, char *buf, size_t size)
{
    (void)path;
    if (ctx)
        (*(int *)ctx)++;
    if (size < sizeof FZ_TEST_PASSPHRASE)
        return -1;
    memcpy(buf, FZ_TEST_PASSPHRASE, sizeof FZ_TEST_PASSPHRASE);
    return 0;
}

static FZ_UNUSED int fz_encrypted(const uint8_t *d, size_t n)
{
    return n >= 128 && memcmp(d, "\x89VMRP\r\n\x1a", 8) == 0 && (d[16] & 1);
}

/* The KEYS record of segment 1 (at offset 128) as far as the input holds
 * it: payload and the bytes of it present. NULL when there is none. */
static FZ_UNUSED const uint8_t *fz_first_keys(const uint8_t *d, size_t n, size_t *len)
{
    if (!fz_encrypted(d, n) || n < 128 + 16 + 200 || memcmp(d + 128, "VRec", 4) != 0 ||
        d[128 + 4] != 7)
        return NULL;
    size_t stored = fz_le32(d + 128 + 8);
    *len = stored < n - 144 ? stored : n - 144;
    return d + 144;
}

static FZ_UNUSED int fz_kdf_params_ok(uint64_t ops, uint64_t mem)
{
    return ops >= 1 && ops <= 10 && mem >= 8192 && mem <= (1ull << 30) && mem % 1024 == 0;
}

/* Argon2id work (sum of Opslimit x Memlimit) that unlocking a KEYS payload
 * of len bytes with a passphrase would cost. A slot with parameters out of
 * bounds makes a reader refuse the record before any derivation (5.6.4):
 * then nothing. */
static FZ_UNUSED uint64_t fz_kdf_cost_keys(const uint8_t *p, size_t len)
{
    if (len < 200)
        return 0;
    uint32_t slots = fz_le32(p + 32);
    uint64_t cost = 0;
    for (uint32_t i = 0; i < slots && i < 64 && 200 + 128 * (size_t)(i + 1) <= len; i++) {
        const uint8_t *s = p + 200 + 128 * (size_t)i;
        if (s[0] != 1)
            continue;
        uint64_t ops = fz_le64(s + 8), mem = fz_le64(s + 16);
        if (!fz_kdf_params_ok(ops, mem))
            return 0;
        cost += ops * mem; /* <= 64 x 10 x 2^30: no overflow */
    }
    return cost;
}

/* 1 when the passphrase may be given for this input (FZ_KDF_BUDGET). */
static FZ_UNUSED int fz_passphrase_cheap(const uint8_t *d, size_t n)
{
    size_t len = 0;
    const uint8_t *p = fz_first_keys(d, n, &len);
    return !p || fz_kdf_cost_keys(p, len) <= FZ_KDF_BUDGET;
}

/* Give a reader the test identity, and the test passphrase when it is
 * cheap enough for this input. Returns whether the passphrase was given. */
static FZ_UNUSED int fz_set_keys(vmrp_reader *r, const uint8_t *d, size_t n, int *asked)
{
    int cheap = fz_passphrase_cheap(d, n);
    vmrp_reader_set_decryption(r, fz_identity(), cheap ? fz_ask : NULL, asked);
    return cheap;
}

/* Keys of an encrypted archive as the harness finds them. */
#define FZ_SEG_MAX 1024
typedef struct {
    int unlocked;
    unsigned char cid[16], pk[32], sk[32];
    struct {
        int ok;
        unsigned char data_key[32], id_key[32];
    } seg[FZ_SEG_MAX];
} fz_keys;

static FZ_UNUSED int fz_secret_matches(const unsigned char sk[32], const unsigned char pk[32])
{
    unsigned char p[32];
    return crypto_scalarmult_base(p, sk) == 0 && memcmp(p, pk, 32) == 0;
}

static FZ_UNUSED void fz_slot_ad(unsigned char ad[88], const unsigned char cid[16],
                                 const unsigned char pk[32], const uint8_t *slot)
{
    memcpy(ad, cid, 16);
    memcpy(ad + 16, pk, 32);
    memcpy(ad + 48, slot, 40);
}

/* Open a PASSPHRASE slot with the test passphrase: 1 and *secret when its
 * Wrapped_Key decrypts. Parameters are checked against the bounds and the
 * budget first. */
static FZ_UNUSED int fz_open_pass_slot(const uint8_t *s, const unsigned char cid[16],
                                       const unsigned char pk[32], unsigned char secret[32])
{
    uint64_t ops = fz_le64(s + 8), mem = fz_le64(s + 16);
    unsigned char kek[32], ad[88];
    if (!fz_kdf_params_ok(ops, mem) || ops * mem > FZ_KDF_BUDGET ||
        crypto_pwhash(kek, 32, FZ_TEST_PASSPHRASE, strlen(FZ_TEST_PASSPHRASE), s + 24, ops,
                      (size_t)mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return 0;
    fz_slot_ad(ad, cid, pk, s);
    unsigned char out[32];
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, s + 64, 48, ad, sizeof ad,
                                                   s + 40, kek) != 0)
        return 0;
    memcpy(secret, out, 32);
    return 1;
}

/* Open a RECIPIENT slot made for the test identity. */
static FZ_UNUSED int fz_open_recipient_slot(const uint8_t *s, unsigned char secret[32])
{
    const fz_x25519 *id = fz_test_x25519();
    return s[0] == 2 && memcmp(s + 16, id->pk, 32) == 0 &&
           crypto_box_seal_open(secret, s + 48, 80, id->pk, id->sk) == 0;
}

/* Unwrap the collection secret from the KEYS record at offset 128, with the
 * test identity, then the test passphrase when allowed; the secret must be
 * the collection's (5.6.6). */
static FZ_UNUSED int fz_unlock(const uint8_t *d, size_t n, fz_keys *k, int allow_pass)
{
    memset(k, 0, sizeof *k);
    size_t len = 0;
    const uint8_t *p = fz_first_keys(d, n, &len);
    if (!p)
        return 0;
    memcpy(k->cid, d + 32, 16);
    memcpy(k->pk, p, 32);
    uint32_t slots = fz_le32(p + 32);
    for (int pass = 0; pass < 2 && !k->unlocked; pass++)
        for (uint32_t i = 0; i < slots && i < 64 && 200 + 128 * (size_t)(i + 1) <= len; i++) {
            const uint8_t *s = p + 200 + 128 * (size_t)i;
            unsigned char secret[32];
            int ok = pass == 0 ? fz_open_recipient_slot(s, secret)
                               : (allow_pass && s[0] == 1 && fz_open_pass_slot(s, k->cid, k->pk, secret));
            if (ok && fz_secret_matches(secret, k->pk)) {
                memcpy(k->sk, secret, 32);
                k->unlocked = 1;
                break;
            }
        }
    return k->unlocked;
}

/* Walk the records by their declared sizes from offset 128, resynchronising
 * on the next magic when lost, as the hash repair does. fn gets each whole
 * record that fits in the input, with its segment number (the COMMIT
 * records before it) and whether it is the first record of its segment. */
typedef void (*fz_record_fn)(void *ctx, uint8_t *d, size_t n, size_t off, size_t seg, int first);
static FZ_UNUSED void fz_walk(uint8_t *d, size_t n, fz_record_fn fn, void *ctx)
{
    size_t seg = 0;
    int first = 1;
    for (size_t off = 128; off + 16 <= n;) {
        if (memcmp(d + off, "VRec", 4) != 0) {
            off = fz_next_magic(d, n, off + 1);
            first = 0;
            continue;
        }
        uint64_t stored = fz_le32(d + off + 8);
        if (stored == 0 || stored > n - off - 16) {
            off = fz_next_magic(d, n, off + 4);
            first = 0;
            continue;
        }
        uint8_t type = d[off + 4];
        fn(ctx, d, n, off, seg, first);
        first = 0;
        if (type == 6) {
            seg++;
            first = 1;
        }
        off += 16 + (size_t)stored;
    }
}

/* Open the sealed Segment_Keys of a KEYS record; with check, its
 * Collection_Id and Segment_Offset must be this file's (5.6.2). */
static FZ_UNUSED int fz_open_segment_box(const fz_keys *k, const uint8_t *payload,
                                         uint64_t segment_offset, int check,
                                         unsigned char data_key[32], unsigned char id_key[32])
{
    unsigned char plain[88];
    if (crypto_box_seal_open(plain, payload + 64, 136, k->pk, k->sk) != 0)
        return 0;
    if (check && (memcmp(plain + 64, k->cid, 16) != 0 || fz_le64(plain + 80) != segment_offset))
        return 0;
    memcpy(data_key, plain, 32);
    memcpy(id_key, plain + 32, 32);
    return 1;
}

static FZ_UNUSED void fz_segkeys_fn(void *ctx, uint8_t *d, size_t n, size_t off, size_t seg, int first)
{
    (void)n;
    fz_keys *k = ctx;
    if (!first || d[off + 4] != 7 || seg >= FZ_SEG_MAX || fz_le32(d + off + 8) < 200)
        return;
    k->seg[seg].ok = fz_open_segment_box(k, d + off + 16, off, 0, k->seg[seg].data_key,
                                         k->seg[seg].id_key);
}

/* Fill k->seg from the KEYS records (after fz_unlock). */
static FZ_UNUSED void fz_segment_keys(uint8_t *d, size_t n, fz_keys *k)
{
    if (k->unlocked)
        fz_walk(d, n, fz_segkeys_fn, k);
}

typedef struct {
    const fz_keys *k;
    int encrypt;
    size_t done, failed;
} fz_crypt_ctx;

static FZ_UNUSED void fz_crypt_fn(void *ctx, uint8_t *d, size_t n, size_t off, size_t seg, int first)
{
    (void)n;
    (void)first;
    fz_crypt_ctx *c = ctx;
    uint8_t *h = d + off;
    size_t stored = fz_le32(h + 8);
    if (!(h[6] & 1) || stored < 40 || seg >= FZ_SEG_MAX || !c->k->seg[seg].ok)
        return;
    unsigned char ad[40];
    memcpy(ad, d + 32, 16); /* the header's Collection_Id, as the reader takes it */
    fz_st64(ad + 16, off);
    memcpy(ad + 24, h, 16);
    uint8_t *nonce = h + 16, *body = h + 40, *tag = h + 16 + stored - 16;
    size_t len = stored - 40;
    const unsigned char *key = c->k->seg[seg].data_key;
    if (c->encrypt) {
        crypto_aead_xchacha20poly1305_ietf_encrypt_detached(body, tag, NULL, body, len, ad,
                                                            sizeof ad, NULL, nonce, key);
        c->done++;
        return;
    }
    /* libsodium clears the output when the tag fails: decrypt aside */
    static unsigned char tmp[1u << 23];
    if (len > sizeof tmp ||
        crypto_aead_xchacha20poly1305_ietf_decrypt_detached(tmp, NULL, body, len, tag, ad,
                                                            sizeof ad, nonce, key) != 0) {
        c->failed++;
        return;
    }
    memcpy(body, tmp, len);
    c->done++;
}

/* Decrypt (encrypt = 0) or encrypt (1) in place every record that has
 * Record_Flags bit 0 and whose segment's keys are known: the payload keeps
 * its layout, nonce || body || tag, with the body in the clear between the
 * two calls. Returns the records that failed to decrypt. */
static FZ_UNUSED size_t fz_crypt_records(uint8_t *d, size_t n, const fz_keys *k, int encrypt,
                                         size_t *done)
{
    fz_crypt_ctx c = {k, encrypt, 0, 0};
    if (k->unlocked)
        fz_walk(d, n, fz_crypt_fn, &c);
    if (done)
        *done = c.done;
    return c.failed;
}

#define FZ_REPAIR_SLOTS 1
#define FZ_REPAIR_BOXES 2
typedef struct {
    const fz_keys *k;
    unsigned what;
} fz_repair_ctx;

static FZ_UNUSED void fz_repair_fn(void *ctx, uint8_t *d, size_t n, size_t off, size_t seg, int first)
{
    (void)n;
    fz_repair_ctx *c = ctx;
    const fz_keys *k = c->k;
    uint8_t *h = d + off, *p = h + 16;
    size_t stored = fz_le32(h + 8);
    if (!first || h[4] != 7 || stored < 200 || seg >= FZ_SEG_MAX)
        return;
    unsigned char cid[16];
    memcpy(cid, d + 32, 16);
    unsigned char dk[32], ik[32];
    if ((c->what & FZ_REPAIR_BOXES) && k->seg[seg].ok &&
        !fz_open_segment_box(k, p, off, 1, dk, ik)) {
        unsigned char plain[88];
        memcpy(plain, k->seg[seg].data_key, 32);
        memcpy(plain + 32, k->seg[seg].id_key, 32);
        memcpy(plain + 64, cid, 16);
        fz_st64(plain + 80, off);
        crypto_box_seal(p + 64, plain, sizeof plain, k->pk);
    }
    if (!(c->what & FZ_REPAIR_SLOTS) || off != 128)
        return;
    uint32_t slots = fz_le32(p + 32);
    const fz_x25519 *id = fz_test_x25519();
    for (uint32_t i = 0; i < slots && i < 64 && 200 + 128 * (size_t)(i + 1) <= stored; i++) {
        uint8_t *s = p + 200 + 128 * (size_t)i;
        unsigned char secret[32];
        if (s[0] == 2 && memcmp(s + 16, id->pk, 32) == 0 && !fz_open_recipient_slot(s, secret))
            crypto_box_seal(s + 48, k->sk, 32, id->pk);
        if (s[0] == 1 && !fz_open_pass_slot(s, cid, p, secret)) {
            uint64_t ops = fz_le64(s + 8), mem = fz_le64(s + 16);
            unsigned char kek[32], ad[88];
            if (!fz_kdf_params_ok(ops, mem) || ops * mem > FZ_KDF_BUDGET ||
                crypto_pwhash(kek, 32, FZ_TEST_PASSPHRASE, strlen(FZ_TEST_PASSPHRASE), s + 24,
                              ops, (size_t)mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
                continue;
            fz_slot_ad(ad, cid, p, s);
            crypto_aead_xchacha20poly1305_ietf_encrypt(s + 64, NULL, k->sk, 32, ad, sizeof ad,
                                                       NULL, s + 40, kek);
        }
    }
}

/* Make the key slots of segment 1 that are meant for the test identity or
 * the test passphrase open again, and each segment's sealed keys open with
 * this file's Collection_Id and the segment's offset, after a mutation
 * changed what they are bound to (slot parameters, offsets). */
static FZ_UNUSED void fz_repair_keys(uint8_t *d, size_t n, const fz_keys *k, unsigned what)
{
    fz_repair_ctx c = {k, what};
    if (k->unlocked)
        fz_walk(d, n, fz_repair_fn, &c);
}

#ifdef FUZZ_ARCHIVE_MUTATOR

/* Record boundaries found by magic: each record runs to the next "VRec". */
typedef struct {
    size_t off, end; /* end = start of the next record (or n) */
    uint8_t type;
} fz_rec;

static FZ_UNUSED size_t fz_scan(const uint8_t *d, size_t n, fz_rec *v, size_t cap)
{
    size_t k = 0;
    for (size_t off = fz_next_magic(d, n, 128); off + 16 <= n && k < cap;) {
        size_t next = fz_next_magic(d, n, off + 4);
        v[k].off = off;
        v[k].end = next;
        v[k].type = d[off + 4];
        k++;
        off = next;
    }
    return k;
}

/* Re-frame records stored as is (codec 0) to end where the next record
 * starts, rebuild each INDEX's entries from the records before it, and
 * relink every COMMIT to its segment and its predecessor. Sizes of BLOCK
 * and COMMIT records are fixed by the format and left alone. */
static FZ_UNUSED void fz_relink(uint8_t *d, size_t n)
{
    enum { CAP = 4096 };
    static fz_rec v[CAP];
    size_t k = fz_scan(d, n, v, CAP);
    size_t seg_first = 0;           /* first record of the current segment */
    uint64_t prev_commit = 0;       /* offset of the previous commit, 0 if none */
    size_t last_index = (size_t)-1; /* record number of the segment's index */
    for (size_t i = 0; i < k; i++) {
        uint8_t *h = d + v[i].off;
        uint8_t type = v[i].type, codec = h[5];
        size_t gap = v[i].end - v[i].off - 16;
        if (codec == 0 && (type == 2 || type == 3 || type == 4 || type == 5) && v[i].end - v[i].off >= 17) {
            /* encrypted (Record_Flags bit 0): nonce and tag around the payload */
            size_t extra = (h[6] & 1) ? 40 : 0;
            if (gap > extra) {
                fz_st32(h + 8, (uint32_t)gap);
                fz_st32(h + 12, (uint32_t)(gap - extra));
            }
        }
        if (type == 5 && v[i].end - v[i].off >= 16 + 16) {
            uint8_t *p = h + 16;
            size_t room = (gap - 16) / 48, cnt = 0;
            for (size_t j = seg_first; j < i && cnt < room; j++, cnt++) {
                uint8_t *e = p + 16 + cnt * 48;
                fz_st64(e, v[j].off);
                fz_st32(e + 8, (uint32_t)(v[j].end - v[j].off));
                e[12] = v[j].type;
                if (v[j].type == 4)
                    fz_st64(p + 8, v[j].off);
            }
            last_index = i;
        }
        if (type == 6 && v[i].end - v[i].off >= 256) {
            uint8_t *p = h + 16;
            fz_st64(p + 8, v[i].off);
            fz_st64(p + 16, seg_first < k ? v[seg_first].off : v[i].off);
            if (last_index != (size_t)-1) {
                fz_st64(p + 24, v[last_index].off);
                fz_st64(p + 32, v[last_index].end - v[last_index].off);
            }
            fz_st64(p + 72, prev_commit);
            prev_commit = v[i].off;
            seg_first = i + 1;
            last_index = (size_t)-1;
        }
    }
}

/* Recompute every hash the reader checks, in dependency order: the header,
 * the record hashes listed by each INDEX, then each COMMIT (in file order,
 * so a predecessor is final before its successor hashes it). */
static FZ_UNUSED void fz_fix_hashes(uint8_t *d, size_t n)
{
    if (n < 128 || memcmp(d, "\x89VMRP\r\n\x1a", 8) != 0)
        return;
    crypto_generichash(d + 96, 32, d, 96, NULL, 0);
    /* Walk by declared sizes; resynchronise on the next magic when lost. */
    enum { CAP = 4096 };
    static size_t commits[CAP];
    size_t nc = 0;
    for (size_t off = 128; off + 16 <= n;) {
        if (memcmp(d + off, "VRec", 4) != 0) {
            off = fz_next_magic(d, n, off + 1);
            continue;
        }
        uint8_t type = d[off + 4];
        uint64_t stored = fz_le32(d + off + 8);
        uint64_t end = off + 16 + stored;
        if (type == 5 && end <= n && stored >= 16) {
            uint8_t *p = d + off + 16;
            uint64_t cnt = fz_le32(p);
            for (uint64_t i = 0; i < cnt && 16 + (i + 1) * 48 <= stored; i++) {
                uint8_t *e = p + 16 + i * 48;
                uint64_t eo = fz_le64(e), es = fz_le32(e + 8);
                if (eo <= n && es <= n - eo && (eo + es <= off || eo >= end)) /* not the index itself */
                    crypto_generichash(e + 16, 32, d + eo, (size_t)es, NULL, 0);
            }
        }
        if (type == 6 && off + 256 <= n && nc < CAP)
            commits[nc++] = off;
        if (end > n || stored == 0) {
            off = fz_next_magic(d, n, off + 4);
            continue;
        }
        off = (size_t)end;
    }
    for (size_t i = 0; i < nc; i++) {
        uint8_t *rec = d + commits[i], *p = rec + 16;
        uint64_t io = fz_le64(p + 24), is = fz_le64(p + 32), po = fz_le64(p + 72);
        if (io <= n && is <= n - io && is < (1u << 30))
            crypto_generichash(p + 40, 32, d + io, (size_t)is, NULL, 0);
        if (po >= 128 && po <= n && n - po >= 256 && po != commits[i])
            crypto_generichash(p + 80, 32, d + po, 184, NULL, 0);
        else if (po == 0)
            memset(p + 80, 0, 32);
        crypto_generichash(p + 112, 32, d, 128, NULL, 0);
    }
}

#ifndef VMRP_FUZZ_NO_MUTATOR /* the regression driver has no libFuzzer */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    fuzz_init_once();
    const unsigned mode = seed % 16;
    /* An encrypted archive the test keys open is mutated in the clear: its
     * records are decrypted in place, mutated, and encrypted again under
     * their segment's key at their (new) offset, so that the mutations
     * reach the parsers behind the AEAD tag. Most of the time the key slots
     * and sealed segment keys that no longer open (a mutated slot, a segment
     * that moved) are made to open again too. */
    static fz_keys k;
    int clear = mode >= 2 && fz_unlock(data, size, &k, 1);
    if (clear) {
        fz_segment_keys(data, size, &k);
        fz_crypt_records(data, size, &k, 0, NULL);
    }
    size = LLVMFuzzerMutate(data, size, max_size);
    switch (mode) {
    case 0:
    case 1:
        break; /* raw mutation: the hash checks and tags themselves */
    case 2:
    case 3:
    case 4:
    case 5:
        fz_relink(data, size);
        /* fall through */
    default:
        if (clear) {
            fz_crypt_records(data, size, &k, 1, NULL);
            if ((seed >> 4) % 4 != 0)
                fz_repair_keys(data, size, &k, FZ_REPAIR_SLOTS | FZ_REPAIR_BOXES);
        }
        fz_fix_hashes(data, size);
        break;
    }
    return size;
}
#endif /* VMRP_FUZZ_NO_MUTATOR */
#endif /* FUZZ_ARCHIVE_MUTATOR */

#endif
