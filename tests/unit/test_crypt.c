/* test_crypt.c - crypt.c: record encryption bound to its place, keyed
 * identities, and the KEYS record (structure checks, key slots, sealed
 * segment keys), against format-spec/vmrp-format.md 1.6, 4.5 and 5.6.
 *
 * Argon2id runs with the smallest parameters the format allows (one pass,
 * 8 KiB) so that the suite stays fast under valgrind and ASan.
 */
#define _GNU_SOURCE
#include "unit.h"

#include "vmrp_private.h"

#define KDF_OPS 1u
#define KDF_MEM 8192u

/* ------------------------------------------------------------------ */
/* Records                                                            */

/* A record of `payload` bytes, laid out as crypt_seal_record wants it:
 * header || 24 free bytes || payload || 16 free bytes. */
static unsigned char *make_record(uint8_t type, uint8_t codec, const unsigned char *payload,
                                  size_t len, uint32_t raw_size, size_t *rec_len)
{
    size_t n = RH_SIZE + RECORD_CRYPTO_OVERHEAD + len;
    unsigned char *rec = malloc(n);
    ck_assert_ptr_nonnull(rec);
    memset(rec, 0xee, n);
    record_header h = {type, codec, RECORD_FLAG_ENCRYPTED, (uint32_t)(len + RECORD_CRYPTO_OVERHEAD),
                       raw_size};
    record_header_encode(rec, &h);
    memcpy(rec + RH_SIZE + RECORD_NONCE_SIZE, payload, len);
    *rec_len = n;
    return rec;
}

START_TEST(test_record_round_trip)
{
    unsigned char cid[ID_SIZE], key[KEY_SIZE], payload[1000];
    randombytes_buf(cid, sizeof cid);
    randombytes_buf(key, sizeof key);
    ut_fill_text(payload, sizeof payload, 7);
    size_t n;
    unsigned char *rec = make_record(REC_BLOCK, CODEC_NONE, payload, sizeof payload, 1000, &n);
    unsigned char header[RH_SIZE];
    memcpy(header, rec, RH_SIZE);
    ck_assert_int_eq(crypt_seal_record(cid, key, 4096, rec, n), VMRP_OK);
    /* The header stays in the clear, the payload does not. */
    ck_assert_mem_eq(rec, header, RH_SIZE);
    ck_assert(memcmp(rec + RH_SIZE + RECORD_NONCE_SIZE, payload, sizeof payload) != 0);
    ck_assert(memmem(rec, n, "restore point", 13) == NULL);
    /* Nonce drawn: not left as it was. */
    ck_assert(!ut_all_zero(rec + RH_SIZE, RECORD_NONCE_SIZE));
    unsigned char ee[RECORD_NONCE_SIZE];
    memset(ee, 0xee, sizeof ee);
    ck_assert(memcmp(rec + RH_SIZE, ee, RECORD_NONCE_SIZE) != 0);

    /* The same payload sealed again gets another nonce and ciphertext. */
    size_t n2;
    unsigned char *rec2 = make_record(REC_BLOCK, CODEC_NONE, payload, sizeof payload, 1000, &n2);
    ck_assert_int_eq(crypt_seal_record(cid, key, 4096, rec2, n2), VMRP_OK);
    ck_assert(memcmp(rec + RH_SIZE, rec2 + RH_SIZE, RECORD_NONCE_SIZE) != 0);
    ck_assert(memcmp(rec + RH_SIZE + RECORD_NONCE_SIZE, rec2 + RH_SIZE + RECORD_NONCE_SIZE,
                     sizeof payload) != 0);

    ck_assert_int_eq(crypt_open_record(cid, key, 4096, rec, n), VMRP_OK);
    ck_assert_mem_eq(rec + RH_SIZE + RECORD_NONCE_SIZE, payload, sizeof payload);
    ck_assert_int_eq(crypt_open_record(cid, key, 4096, rec2, n2), VMRP_OK);
    ck_assert_mem_eq(rec2 + RH_SIZE + RECORD_NONCE_SIZE, payload, sizeof payload);

    /* It is the spec's construction (4.5): AEAD over the encoded payload,
     * ad = Collection_Id || Record_Offset (u64 LE) || Record_Header. */
    unsigned char ad[RECORD_AD_SIZE];
    memcpy(ad, cid, ID_SIZE);
    le64_store(ad + ID_SIZE, 4096);
    memcpy(ad + ID_SIZE + 8, header, RH_SIZE);
    unsigned char *rec3 = make_record(REC_BLOCK, CODEC_NONE, payload, sizeof payload, 1000, &n);
    ck_assert_int_eq(crypt_seal_record(cid, key, 4096, rec3, n), VMRP_OK);
    unsigned char out[sizeof payload];
    unsigned long long outlen = 0;
    ck_assert_int_eq(crypto_aead_xchacha20poly1305_ietf_decrypt(
                         out, &outlen, NULL, rec3 + RH_SIZE + RECORD_NONCE_SIZE,
                         sizeof payload + RECORD_TAG_SIZE, ad, sizeof ad, rec3 + RH_SIZE, key),
                     0);
    ck_assert_uint_eq(outlen, sizeof payload);
    ck_assert_mem_eq(out, payload, sizeof payload);

    /* An empty encoded payload still carries nonce and tag. */
    size_t n4;
    unsigned char *rec4 = make_record(REC_FILE, CODEC_NONE, payload, 0, 0, &n4);
    ck_assert_uint_eq(n4, RH_SIZE + RECORD_CRYPTO_OVERHEAD);
    ck_assert_int_eq(crypt_seal_record(cid, key, 200, rec4, n4), VMRP_OK);
    ck_assert_int_eq(crypt_open_record(cid, key, 200, rec4, n4), VMRP_OK);
    rec4[n4 - 1] ^= 1;
    ck_assert_int_eq(crypt_open_record(cid, key, 200, rec4, n4), VMRP_E_CORRUPT);

    /* Too short to hold nonce and tag. */
    ck_assert_int_eq(crypt_seal_record(cid, key, 200, rec4, n4 - 1), VMRP_E_USAGE);
    ck_assert_int_eq(crypt_open_record(cid, key, 200, rec4, n4 - 1), VMRP_E_CORRUPT);
    ck_assert_int_eq(crypt_open_record(cid, key, 200, rec4, 0), VMRP_E_CORRUPT);
    free(rec);
    free(rec2);
    free(rec3);
    free(rec4);
}
END_TEST

/* Every bit of header, nonce, ciphertext and tag is authenticated, and so
 * are the offset, the collection id and the key. */
START_TEST(test_record_binding)
{
    unsigned char cid[ID_SIZE], key[KEY_SIZE], payload[300];
    randombytes_buf(cid, sizeof cid);
    randombytes_buf(key, sizeof key);
    ut_fill_random(payload, sizeof payload, 9);
    const uint64_t off = 0x123456789abull;
    size_t n;
    unsigned char *sealed = make_record(REC_MAP, CODEC_ZSTD, payload, sizeof payload, 4800, &n);
    ck_assert_int_eq(crypt_seal_record(cid, key, off, sealed, n), VMRP_OK);
    unsigned char *work = malloc(n);
    ck_assert_ptr_nonnull(work);

    size_t accepted = 0;
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(work, sealed, n);
            work[i] ^= (unsigned char)(1u << bit);
            if (crypt_open_record(cid, key, off, work, n) != VMRP_E_CORRUPT) {
                fprintf(stderr, "record byte %zu bit %d flipped: still opens\n", i, bit);
                accepted++;
            }
        }
    ck_assert_uint_eq(accepted, 0);

    /* Cut or extended: the tag is taken from elsewhere. */
    memcpy(work, sealed, n);
    ck_assert_int_eq(crypt_open_record(cid, key, off, work, n - 1), VMRP_E_CORRUPT);

    /* Another offset, another collection, another key. */
    static const uint64_t offsets[] = {0,
                                       128,
                                       0x123456789aaull,
                                       0x123456789acull,
                                       0x123456789abull ^ (1ull << 40),
                                       0x123456789abull ^ (1ull << 63)};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        memcpy(work, sealed, n);
        ck_assert_int_eq(crypt_open_record(cid, key, offsets[i], work, n), VMRP_E_CORRUPT);
    }
    for (size_t i = 0; i < ID_SIZE; i++) {
        unsigned char other[ID_SIZE];
        memcpy(other, cid, ID_SIZE);
        other[i] ^= 0x80;
        memcpy(work, sealed, n);
        ck_assert_int_eq(crypt_open_record(other, key, off, work, n), VMRP_E_CORRUPT);
    }
    for (size_t i = 0; i < KEY_SIZE; i += 7) {
        unsigned char other[KEY_SIZE];
        memcpy(other, key, KEY_SIZE);
        other[i] ^= 1;
        memcpy(work, sealed, n);
        ck_assert_int_eq(crypt_open_record(cid, other, off, work, n), VMRP_E_CORRUPT);
    }
    /* And the untouched record still opens. */
    memcpy(work, sealed, n);
    ck_assert_int_eq(crypt_open_record(cid, key, off, work, n), VMRP_OK);
    ck_assert_mem_eq(work + RH_SIZE + RECORD_NONCE_SIZE, payload, sizeof payload);
    free(work);
    free(sealed);
}
END_TEST

START_TEST(test_id_hash)
{
    unsigned char data[5000], k1[KEY_SIZE], k2[KEY_SIZE];
    ut_fill_random(data, sizeof data, 3);
    randombytes_buf(k1, sizeof k1);
    memcpy(k2, k1, sizeof k2);
    k2[31] ^= 1;
    unsigned char plain[HASH_SIZE], keyed[HASH_SIZE], keyed2[HASH_SIZE], want[HASH_SIZE];

    id_hash(plain, data, sizeof data, NULL);
    crypto_generichash(want, sizeof want, data, sizeof data, NULL, 0);
    ck_assert_mem_eq(plain, want, HASH_SIZE);
    hash_buf(want, data, sizeof data);
    ck_assert_mem_eq(plain, want, HASH_SIZE);

    id_hash(keyed, data, sizeof data, k1);
    crypto_generichash(want, sizeof want, data, sizeof data, k1, KEY_SIZE);
    ck_assert_mem_eq(keyed, want, HASH_SIZE);
    ck_assert(memcmp(keyed, plain, HASH_SIZE) != 0);

    id_hash(keyed2, data, sizeof data, k2);
    ck_assert(memcmp(keyed2, keyed, HASH_SIZE) != 0);
    ck_assert(memcmp(keyed2, plain, HASH_SIZE) != 0);

    /* A zero key is a key, not "no key". */
    unsigned char zero[KEY_SIZE] = {0};
    id_hash(keyed2, data, sizeof data, zero);
    ck_assert(memcmp(keyed2, plain, HASH_SIZE) != 0);

    /* Empty input, keyed and not. */
    id_hash(keyed, "", 0, k1);
    crypto_generichash(want, sizeof want, (const unsigned char *)"", 0, k1, KEY_SIZE);
    ck_assert_mem_eq(keyed, want, HASH_SIZE);
}
END_TEST

/* ------------------------------------------------------------------ */
/* KEYS records                                                       */

typedef struct {
    crypt_keys *ck;       /* the writer's: key pair set, unlocked */
    seg_keys seg;
    unsigned char *keys;  /* the built payload */
    size_t len;
    uint64_t segment_offset;
} built_keys;

static crypt_keys *new_collection(const unsigned char *cid)
{
    unsigned char id[ID_SIZE];
    if (!cid) {
        randombytes_buf(id, sizeof id);
        cid = id;
    }
    crypt_keys *ck = crypt_new(cid, 4);
    ck_assert_ptr_nonnull(ck);
    ck_assert_int_eq(crypto_box_keypair(ck->collection_pk, ck->collection_sk), 0);
    ck->unlocked = 1;
    return ck;
}

/* Build a KEYS payload for ck at segment_offset, with a passphrase slot
 * (when pass is not NULL) and one slot per recipient. */
static void build(built_keys *b, crypt_keys *ck, uint64_t segment_offset, const char *pass,
                  const vmrp_key *const *recips, size_t nrecips)
{
    memset(b, 0, sizeof *b);
    b->ck = ck;
    b->segment_offset = segment_offset;
    randombytes_buf(b->seg.data_key, KEY_SIZE);
    randombytes_buf(b->seg.id_key, KEY_SIZE);
    keys_slots slots = {pass, KDF_OPS, KDF_MEM, recips, nrecips};
    size_t nslots = (pass ? 1 : 0) + nrecips;
    b->len = keys_size(nslots);
    ck_assert_uint_eq(b->len, 200 + 128 * nslots);
    b->keys = malloc(b->len);
    ck_assert_ptr_nonnull(b->keys);
    memset(b->keys, 0xa5, b->len);
    ck_assert_int_eq(keys_build(b->keys, ck, &b->seg, segment_offset,
                                nslots || pass ? &slots : NULL),
                     VMRP_OK);
}

/* What a reader has before unlocking: Collection_Id and the public key
 * from the KEYS record. */
static crypt_keys *reader_side(const unsigned char *cid, const unsigned char *keys)
{
    crypt_keys *ck = crypt_new(cid, 4);
    ck_assert_ptr_nonnull(ck);
    memcpy(ck->collection_pk, keys + KY_OFF_PUBLIC, KEY_SIZE);
    return ck;
}

START_TEST(test_keys_layout)
{
    char *dir = ut_tmpdir();
    vmrp_key *a = ut_new_x25519();
    vmrp_key *apub = ut_public_half(a, dir, "a");
    crypt_keys *ck = new_collection(NULL);
    const vmrp_key *recips[] = {apub};
    built_keys b;
    build(&b, ck, 128, "pass", recips, 1);
    ck_assert_uint_eq(b.len, 456);
    const char *why = NULL;
    ck_assert_int_eq(keys_check(b.keys, b.len, 1, 1, &why), VMRP_OK);

    /* Keys_Fixed: public key, slot count, zero reserved. */
    ck_assert_mem_eq(b.keys + KY_OFF_PUBLIC, ck->collection_pk, KEY_SIZE);
    ck_assert_uint_eq(le32_load(b.keys + KY_OFF_SLOT_COUNT), 2);
    ck_assert(ut_all_zero(b.keys + 36, 28));
    /* The secret is nowhere in the clear. */
    ck_assert(memmem(b.keys, b.len, ck->collection_sk, KEY_SIZE) == NULL);
    ck_assert(memmem(b.keys, b.len, b.seg.data_key, KEY_SIZE) == NULL);
    ck_assert(memmem(b.keys, b.len, b.seg.id_key, KEY_SIZE) == NULL);

    /* Passphrase slot (5.6.4). */
    const unsigned char *s = b.keys + 200;
    ck_assert_uint_eq(s[0], 1);
    ck_assert(ut_all_zero(s + 1, 7));
    ck_assert_uint_eq(le64_load(s + 8), KDF_OPS);
    ck_assert_uint_eq(le64_load(s + 16), KDF_MEM);
    ck_assert(!ut_all_zero(s + 24, 16)); /* salt */
    ck_assert(!ut_all_zero(s + 40, 24)); /* nonce */
    ck_assert(ut_all_zero(s + 112, 16));
    /* Unwrap it the way the spec says, with libsodium directly. */
    unsigned char kek[KEY_SIZE], sk[KEY_SIZE], ad[88];
    ck_assert_int_eq(crypto_pwhash(kek, sizeof kek, "pass", 4, s + 24, KDF_OPS, KDF_MEM,
                                   crypto_pwhash_ALG_ARGON2ID13),
                     0);
    memcpy(ad, ck->collection_id, 16);
    memcpy(ad + 16, ck->collection_pk, 32);
    memcpy(ad + 48, s, 40);
    ck_assert_int_eq(crypto_aead_xchacha20poly1305_ietf_decrypt(sk, NULL, NULL, s + 64, 48, ad,
                                                                sizeof ad, s + 40, kek),
                     0);
    ck_assert_mem_eq(sk, ck->collection_sk, KEY_SIZE);

    /* Recipient slot (5.6.5). */
    s = b.keys + 328;
    ck_assert_uint_eq(s[0], 2);
    ck_assert(ut_all_zero(s + 1, 7));
    ck_assert_mem_eq(s + 8, key_keynum(a), 8);
    ck_assert_mem_eq(s + 16, key_box_public(a), 32);
    ck_assert_int_eq(crypto_box_seal_open(sk, s + 48, 80, key_box_public(a), key_box_secret(a)), 0);
    ck_assert_mem_eq(sk, ck->collection_sk, KEY_SIZE);

    /* Segment_Keys (5.6.2). */
    unsigned char plain[88];
    ck_assert_int_eq(crypto_box_seal_open(plain, b.keys + 64, 136, ck->collection_pk,
                                          ck->collection_sk),
                     0);
    ck_assert_mem_eq(plain, b.seg.data_key, 32);
    ck_assert_mem_eq(plain + 32, b.seg.id_key, 32);
    ck_assert_mem_eq(plain + 64, ck->collection_id, 16);
    ck_assert_uint_eq(le64_load(plain + 80), 128);

    /* keys_slot_info reports both. */
    vmrp_key_slot_info info;
    keys_slot_info(b.keys, 0, &info);
    ck_assert_int_eq(info.type, VMRP_SLOT_PASSPHRASE);
    ck_assert_uint_eq(info.kdf_opslimit, KDF_OPS);
    ck_assert_uint_eq(info.kdf_memlimit, KDF_MEM);
    keys_slot_info(b.keys, 1, &info);
    ck_assert_int_eq(info.type, VMRP_SLOT_RECIPIENT);
    ck_assert_mem_eq(info.key_id, key_keynum(a), 8);
    ck_assert_uint_eq(info.kdf_opslimit, 0);

    /* A later segment's record: no slots, 200 bytes. */
    built_keys later;
    build(&later, ck, 99999, NULL, NULL, 0);
    ck_assert_uint_eq(later.len, 200);
    ck_assert_uint_eq(le32_load(later.keys + KY_OFF_SLOT_COUNT), 0);
    ck_assert_mem_eq(later.keys, ck->collection_pk, KEY_SIZE);
    ck_assert_int_eq(keys_check(later.keys, later.len, 0, 1, &why), VMRP_OK);
    ck_assert_int_eq(keys_check(later.keys, later.len, 1, 1, &why), VMRP_E_CORRUPT);
    ck_assert_int_eq(keys_check(b.keys, b.len, 0, 1, &why), VMRP_E_CORRUPT);

    free(later.keys);
    free(b.keys);
    crypt_free(ck);
    vmrp_key_free(apub);
    vmrp_key_free(a);
    ut_rmtree(dir);
}
END_TEST

START_TEST(test_passphrase_slot)
{
    crypt_keys *ck = new_collection(NULL);
    built_keys b;
    build(&b, ck, 128, "correct horse", NULL, 0);
    int tried = -1;

    static const char *wrong[] = {"", "correct hors", "correct horse ", "Correct horse",
                                  "correct horsf"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        crypt_keys *rk = reader_side(ck->collection_id, b.keys);
        ck_assert_int_eq(keys_unlock(b.keys, rk, NULL, wrong[i], &tried), VMRP_E_KEY);
        ck_assert_int_eq(tried, 1);
        ck_assert_int_eq(rk->unlocked, 0);
        crypt_free(rk);
    }
    /* No passphrase, no identity: nothing tried. */
    crypt_keys *rk = reader_side(ck->collection_id, b.keys);
    ck_assert_int_eq(keys_unlock(b.keys, rk, NULL, NULL, &tried), VMRP_E_KEY);
    ck_assert_int_eq(tried, 0);
    /* An identity does not open a passphrase slot. */
    vmrp_key *x = ut_new_x25519();
    ck_assert_int_eq(keys_unlock(b.keys, rk, x, NULL, &tried), VMRP_E_KEY);
    ck_assert_int_eq(tried, 0);
    ck_assert_int_eq(rk->unlocked, 0);

    ck_assert_int_eq(keys_unlock(b.keys, rk, NULL, "correct horse", &tried), VMRP_OK);
    ck_assert_int_eq(tried, 1);
    ck_assert_int_eq(rk->unlocked, 1);
    ck_assert_mem_eq(rk->collection_sk, ck->collection_sk, KEY_SIZE);
    crypt_free(rk);

    /* The slot's associated data binds it to its collection, its public
     * key and its parameters: the right passphrase then opens nothing. */
    unsigned char other_cid[ID_SIZE];
    memcpy(other_cid, ck->collection_id, ID_SIZE);
    other_cid[5] ^= 1;
    rk = reader_side(other_cid, b.keys);
    ck_assert_int_eq(keys_unlock(b.keys, rk, NULL, "correct horse", &tried), VMRP_E_KEY);
    crypt_free(rk);

    rk = reader_side(ck->collection_id, b.keys);
    rk->collection_pk[0] ^= 1;
    ck_assert_int_eq(keys_unlock(b.keys, rk, NULL, "correct horse", &tried), VMRP_E_KEY);
    crypt_free(rk);

    unsigned char *copy = malloc(b.len);
    static const struct {
        size_t at;
        unsigned char x;
    } edits[] = {
        {200 + 8, 0x03},      /* opslimit 1 -> 2 */
        {200 + 17, 0x04},     /* memlimit 8 KiB -> 9 KiB (still valid) */
        {200 + 24, 0x01},     /* salt */
        {200 + 39, 0x80},     /* salt, last byte */
        {200 + 40, 0x01},     /* nonce */
        {200 + 63, 0x01},     /* nonce, last byte */
        {200 + 64, 0x01},     /* wrapped key */
        {200 + 95, 0x01},     /* wrapped key, last byte */
        {200 + 96, 0x01},     /* tag */
        {200 + 111, 0x80},    /* tag, last byte */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(copy, b.keys, b.len);
        copy[edits[i].at] ^= edits[i].x;
        const char *why = NULL;
        ck_assert_int_eq(keys_check(copy, b.len, 1, 1, &why), VMRP_OK);
        rk = reader_side(ck->collection_id, copy);
        ck_assert_msg(keys_unlock(copy, rk, NULL, "correct horse", &tried) == VMRP_E_KEY,
                      "slot byte %zu changed: still opens", edits[i].at - 200);
        ck_assert_int_eq(rk->unlocked, 0);
        crypt_free(rk);
    }
    free(copy);
    vmrp_key_free(x);
    free(b.keys);
    crypt_free(ck);
}
END_TEST

START_TEST(test_recipient_slot)
{
    char *dir = ut_tmpdir();
    vmrp_key *a = ut_new_x25519(), *b2 = ut_new_x25519(), *c = ut_new_x25519();
    vmrp_key *sig = vmrp_key_new();
    ck_assert_int_eq(vmrp_key_generate(sig), VMRP_OK);
    vmrp_key *apub = ut_public_half(a, dir, "a");
    vmrp_key *bpub = ut_public_half(b2, dir, "b");
    crypt_keys *ck = new_collection(NULL);
    const vmrp_key *recips[] = {apub, bpub};
    built_keys b;
    build(&b, ck, 128, NULL, recips, 2);
    int tried = -1;

    /* Either recipient's secret key opens it. */
    vmrp_key *good[] = {a, b2};
    for (int i = 0; i < 2; i++) {
        crypt_keys *rk = reader_side(ck->collection_id, b.keys);
        ck_assert_int_eq(keys_unlock(b.keys, rk, good[i], NULL, &tried), VMRP_OK);
        ck_assert_int_eq(tried, 1);
        ck_assert_mem_eq(rk->collection_sk, ck->collection_sk, KEY_SIZE);
        crypt_free(rk);
    }
    /* Another key, a public half, a signing key, a passphrase: nothing. */
    const vmrp_key *bad[] = {c, apub, sig};
    for (int i = 0; i < 3; i++) {
        crypt_keys *rk = reader_side(ck->collection_id, b.keys);
        ck_assert_int_eq(keys_unlock(b.keys, rk, bad[i], NULL, &tried), VMRP_E_KEY);
        ck_assert_int_eq(tried, 0);
        ck_assert_int_eq(rk->unlocked, 0);
        crypt_free(rk);
    }
    crypt_keys *rk = reader_side(ck->collection_id, b.keys);
    ck_assert_int_eq(keys_unlock(b.keys, rk, NULL, "anything", &tried), VMRP_E_KEY);
    ck_assert_int_eq(tried, 0);
    crypt_free(rk);

    /* A damaged Sealed_Key: tried, does not open. */
    unsigned char *copy = malloc(b.len);
    memcpy(copy, b.keys, b.len);
    copy[200 + 100] ^= 0x40;
    rk = reader_side(ck->collection_id, copy);
    ck_assert_int_eq(keys_unlock(copy, rk, a, NULL, &tried), VMRP_E_KEY);
    ck_assert_int_eq(tried, 1);
    ck_assert_int_eq(rk->unlocked, 0);
    /* b's slot is intact. */
    ck_assert_int_eq(keys_unlock(copy, rk, b2, NULL, &tried), VMRP_OK);
    crypt_free(rk);

    /* Recipient_Key_Id only names the key: changing it does not stop the
     * right identity (the public key selects the slot). */
    memcpy(copy, b.keys, b.len);
    copy[200 + 8] ^= 0xff;
    rk = reader_side(ck->collection_id, copy);
    ck_assert_int_eq(keys_unlock(copy, rk, a, NULL, &tried), VMRP_OK);
    crypt_free(rk);
    free(copy);

    free(b.keys);
    crypt_free(ck);
    vmrp_key_free(apub);
    vmrp_key_free(bpub);
    vmrp_key_free(a);
    vmrp_key_free(b2);
    vmrp_key_free(c);
    vmrp_key_free(sig);
    ut_rmtree(dir);
}
END_TEST

/* Several passphrase slots: tried in order, the first that opens wins. */
START_TEST(test_several_passphrase_slots)
{
    crypt_keys *ck = new_collection(NULL);
    built_keys one, two, three;
    build(&one, ck, 128, "first", NULL, 0);
    build(&two, ck, 128, "second", NULL, 0);
    build(&three, ck, 128, "third", NULL, 0);
    size_t len = keys_size(3);
    unsigned char *k = malloc(len);
    memcpy(k, one.keys, one.len);
    memcpy(k + 200 + 128, two.keys + 200, 128);
    memcpy(k + 200 + 256, three.keys + 200, 128);
    le32_store(k + KY_OFF_SLOT_COUNT, 3);
    const char *why = NULL;
    ck_assert_int_eq(keys_check(k, len, 1, 1, &why), VMRP_OK);
    static const struct {
        const char *pass;
        int rc, tried;
    } cases[] = {{"first", VMRP_OK, 1}, {"second", VMRP_OK, 2}, {"third", VMRP_OK, 3},
                 {"fourth", VMRP_E_KEY, 3}};
    for (size_t i = 0; i < 4; i++) {
        crypt_keys *rk = reader_side(ck->collection_id, k);
        int tried = -1;
        ck_assert_int_eq(keys_unlock(k, rk, NULL, cases[i].pass, &tried), cases[i].rc);
        ck_assert_int_eq(tried, cases[i].tried);
        if (cases[i].rc == VMRP_OK)
            ck_assert_mem_eq(rk->collection_sk, ck->collection_sk, KEY_SIZE);
        crypt_free(rk);
    }
    free(k);
    free(one.keys);
    free(two.keys);
    free(three.keys);
    crypt_free(ck);
}
END_TEST

/* A slot that opens with the key given but holds another collection's
 * secret is corruption (5.6.6), and that secret is not kept. */
START_TEST(test_slot_with_foreign_secret)
{
    char *dir = ut_tmpdir();
    vmrp_key *a = ut_new_x25519();
    vmrp_key *apub = ut_public_half(a, dir, "a");
    crypt_keys *real = new_collection(NULL);
    crypt_keys *forged = new_collection(real->collection_id);
    /* The record names the real public key, its slots wrap another secret. */
    memcpy(forged->collection_pk, real->collection_pk, KEY_SIZE);
    const vmrp_key *recips[] = {apub};
    built_keys b;
    build(&b, forged, 128, "pw", recips, 1);
    ck_assert_mem_eq(b.keys + KY_OFF_PUBLIC, real->collection_pk, KEY_SIZE);
    int tried = -1;

    crypt_keys *rk = reader_side(real->collection_id, b.keys);
    ck_assert_int_eq(keys_unlock(b.keys, rk, NULL, "pw", &tried), VMRP_E_CORRUPT);
    ck_assert_int_eq(rk->unlocked, 0);
    ck_assert(ut_all_zero(rk->collection_sk, KEY_SIZE));
    crypt_free(rk);

    rk = reader_side(real->collection_id, b.keys);
    ck_assert_int_eq(keys_unlock(b.keys, rk, a, NULL, &tried), VMRP_E_CORRUPT);
    ck_assert_int_eq(rk->unlocked, 0);
    ck_assert(ut_all_zero(rk->collection_sk, KEY_SIZE));
    crypt_free(rk);

    /* crypt_unlock reports it as such, naming the archive. */
    vmrp_err err;
    memset(&err, 0, sizeof err);
    rk = reader_side(real->collection_id, b.keys);
    ck_assert_int_eq(crypt_unlock(&err, "forged.vmrp", b.keys, rk, a, NULL, NULL), VMRP_E_CORRUPT);
    ck_assert_int_eq(err.code, VMRP_E_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.message, "forged.vmrp"));
    ck_assert_int_eq(rk->unlocked, 0);
    crypt_free(rk);

    free(b.keys);
    crypt_free(real);
    crypt_free(forged);
    vmrp_key_free(apub);
    vmrp_key_free(a);
    ut_rmtree(dir);
}
END_TEST

static int give_pass(void *ctx, const char *path, char *buf, size_t size)
{
    (void)path;
    const char *p = ctx;
    if (!p || strlen(p) >= size)
        return -1;
    strcpy(buf, p);
    return 0;
}

/* crypt_unlock: identity first, then the passphrase; messages name the
 * slots (types and recipient key ids). */
START_TEST(test_crypt_unlock_messages)
{
    char *dir = ut_tmpdir();
    vmrp_key *a = ut_new_x25519(), *c = ut_new_x25519();
    vmrp_key *apub = ut_public_half(a, dir, "a");
    char aid[17];
    vmrp_key_id(a, aid);
    crypt_keys *ck = new_collection(NULL);
    const vmrp_key *recips[] = {apub};
    built_keys b;
    build(&b, ck, 128, "pw", recips, 1);
    vmrp_err err;

    struct {
        const vmrp_key *id;
        const char *pass;
        int rc;
        const char *says;
    } cases[] = {
        {NULL, NULL, VMRP_E_KEY, "no key was given"},
        {c, NULL, VMRP_E_KEY, "not one of its recipients"},
        {NULL, "nope", VMRP_E_KEY, "passphrase is wrong"},
        {c, "nope", VMRP_E_KEY, "passphrase is wrong"},
        {a, NULL, VMRP_OK, NULL},
        {NULL, "pw", VMRP_OK, NULL},
        {c, "pw", VMRP_OK, NULL}, /* the identity fails, the passphrase opens */
        {a, "nope", VMRP_OK, NULL}, /* the identity opens; no passphrase needed */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&err, 0, sizeof err);
        crypt_keys *rk = reader_side(ck->collection_id, b.keys);
        int rc = crypt_unlock(&err, "arch.vmrp", b.keys, rk, cases[i].id,
                              cases[i].pass ? give_pass : NULL, (void *)cases[i].pass);
        ck_assert_msg(rc == cases[i].rc, "case %zu: %d (%s)", i, rc, err.message);
        if (rc == VMRP_OK) {
            ck_assert_int_eq(rk->unlocked, 1);
            ck_assert_mem_eq(rk->collection_sk, ck->collection_sk, KEY_SIZE);
        } else {
            ck_assert_ptr_nonnull(strstr(err.message, "arch.vmrp"));
            ck_assert_msg(strstr(err.message, cases[i].says) != NULL, "case %zu: %s", i,
                          err.message);
            /* The slots: what would open it. */
            ck_assert_msg(strstr(err.message, "passphrase") != NULL, "%s", err.message);
            ck_assert_msg(strstr(err.message, aid) != NULL, "%s lacks %s", err.message, aid);
        }
        crypt_free(rk);
    }
    /* A passphrase source that has none. */
    memset(&err, 0, sizeof err);
    crypt_keys *rk = reader_side(ck->collection_id, b.keys);
    ck_assert_int_eq(crypt_unlock(&err, "arch.vmrp", b.keys, rk, NULL, give_pass, NULL),
                     VMRP_E_KEY);
    crypt_free(rk);

    free(b.keys);
    crypt_free(ck);
    vmrp_key_free(apub);
    vmrp_key_free(a);
    vmrp_key_free(c);
    ut_rmtree(dir);
}
END_TEST

START_TEST(test_segment_keys)
{
    crypt_keys *ck = new_collection(NULL);
    built_keys b;
    build(&b, ck, 77777, NULL, NULL, 0);
    seg_keys out;

    crypt_keys *rk = reader_side(ck->collection_id, b.keys);
    memcpy(rk->collection_sk, ck->collection_sk, KEY_SIZE);
    rk->unlocked = 1;
    memset(&out, 0, sizeof out);
    ck_assert_int_eq(keys_open_segment(b.keys, rk, 77777, &out), VMRP_OK);
    ck_assert_mem_eq(out.data_key, b.seg.data_key, KEY_SIZE);
    ck_assert_mem_eq(out.id_key, b.seg.id_key, KEY_SIZE);

    /* Sealed for another Segment_Offset. */
    static const uint64_t others[] = {0, 128, 77776, 77778, 77777ull | (1ull << 32)};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        memset(&out, 0, sizeof out);
        ck_assert_int_eq(keys_open_segment(b.keys, rk, others[i], &out), VMRP_E_CORRUPT);
        ck_assert(ut_all_zero(&out, sizeof out));
    }
    crypt_free(rk);

    /* Sealed for another collection id under the same key pair. */
    unsigned char cid2[ID_SIZE];
    memcpy(cid2, ck->collection_id, ID_SIZE);
    cid2[15] ^= 1;
    rk = reader_side(cid2, b.keys);
    memcpy(rk->collection_sk, ck->collection_sk, KEY_SIZE);
    rk->unlocked = 1;
    ck_assert_int_eq(keys_open_segment(b.keys, rk, 77777, &out), VMRP_E_CORRUPT);
    crypt_free(rk);

    /* Another collection key pair: the box does not open. */
    crypt_keys *other = new_collection(ck->collection_id);
    ck_assert_int_eq(keys_open_segment(b.keys, other, 77777, &out), VMRP_E_CORRUPT);
    crypt_free(other);

    /* Any changed byte of the box. */
    unsigned char *copy = malloc(b.len);
    rk = reader_side(ck->collection_id, b.keys);
    memcpy(rk->collection_sk, ck->collection_sk, KEY_SIZE);
    rk->unlocked = 1;
    for (size_t i = KY_OFF_SEGMENT_BOX; i < KY_OFF_SEGMENT_BOX + KY_SEGMENT_BOX_SIZE; i++) {
        memcpy(copy, b.keys, b.len);
        copy[i] ^= 0x10;
        ck_assert_msg(keys_open_segment(copy, rk, 77777, &out) == VMRP_E_CORRUPT,
                      "box byte %zu changed: still opens", i - KY_OFF_SEGMENT_BOX);
    }
    crypt_free(rk);
    free(copy);

    free(b.keys);
    crypt_free(ck);
}
END_TEST

/* keys_check refuses every structure the spec forbids, before any
 * Argon2id run. */
START_TEST(test_keys_check_bounds)
{
    crypt_keys *ck = new_collection(NULL);
    built_keys b;
    build(&b, ck, 128, "pw", NULL, 0);
    const char *why = NULL;
    size_t big = keys_size(65);
    unsigned char *k = calloc(1, big + 8);
    ck_assert_ptr_nonnull(k);

#define EXPECT(len, first, strict, want)                                                         \
    do {                                                                                       \
        why = NULL;                                                                            \
        int rc_ = keys_check(k, (len), (first), (strict), &why);                               \
        ck_assert_msg(rc_ == (want), "line %d: keys_check gave %d (%s), expected %d", __LINE__, \
                      rc_, why ? why : "", (want));                                            \
        if ((want) != VMRP_OK)                                                                 \
            ck_assert_msg(why && *why, "line %d: no reason given", __LINE__);                  \
    } while (0)

    /* Slot_Count. */
    memcpy(k, b.keys, b.len);
    EXPECT(b.len, 1, 1, VMRP_OK);
    le32_store(k + KY_OFF_SLOT_COUNT, 0);
    EXPECT(200, 1, 1, VMRP_E_CORRUPT);
    EXPECT(200, 0, 1, VMRP_OK);
    le32_store(k + KY_OFF_SLOT_COUNT, 1);
    EXPECT(328, 0, 1, VMRP_E_CORRUPT); /* slots outside segment 1 */
    for (uint32_t i = 0; i < 65; i++)
        memcpy(k + 200 + 128 * i, b.keys + 200, 128);
    le32_store(k + KY_OFF_SLOT_COUNT, 64);
    EXPECT(keys_size(64), 1, 1, VMRP_OK);
    EXPECT(keys_size(64), 0, 1, VMRP_E_CORRUPT);
    le32_store(k + KY_OFF_SLOT_COUNT, 65);
    EXPECT(keys_size(65), 1, 1, VMRP_E_CORRUPT);
    le32_store(k + KY_OFF_SLOT_COUNT, 0xffffffffu);
    EXPECT(keys_size(65), 1, 1, VMRP_E_CORRUPT);
    EXPECT(keys_size(65), 0, 1, VMRP_E_CORRUPT);

    /* Raw_Size must be 200 + 128 x Slot_Count. */
    memcpy(k, b.keys, b.len);
    EXPECT(b.len - 1, 1, 1, VMRP_E_CORRUPT);
    EXPECT(b.len + 1, 1, 1, VMRP_E_CORRUPT);
    EXPECT(b.len + 128, 1, 1, VMRP_E_CORRUPT);
    EXPECT(200, 1, 1, VMRP_E_CORRUPT);
    EXPECT(199, 1, 1, VMRP_E_CORRUPT);
    EXPECT(0, 1, 1, VMRP_E_CORRUPT);
    le32_store(k + KY_OFF_SLOT_COUNT, 0);
    EXPECT(201, 0, 1, VMRP_E_CORRUPT);
    EXPECT(199, 0, 1, VMRP_E_CORRUPT);

    /* Slot_Type: 1 and 2 only (must-understand). */
    static const unsigned types[] = {0, 3, 4, 0x81, 255};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        memcpy(k, b.keys, b.len);
        k[200] = (unsigned char)types[i];
        EXPECT(b.len, 1, 1, VMRP_E_CORRUPT);
        EXPECT(b.len, 1, 0, VMRP_E_CORRUPT); /* also in files of a newer minor version */
    }
    /* An unknown type in a later slot, even after one that would open. */
    memcpy(k, b.keys, b.len);
    memcpy(k + 328, b.keys + 200, 128);
    le32_store(k + KY_OFF_SLOT_COUNT, 2);
    EXPECT(456, 1, 1, VMRP_OK);
    k[328] = 9;
    EXPECT(456, 1, 1, VMRP_E_CORRUPT);

    /* Opslimit 1..10. */
    static const struct {
        uint64_t v;
        int ok;
    } ops[] = {{0, 0}, {1, 1}, {2, 1}, {10, 1}, {11, 0}, {1ull << 32, 0}, {UINT64_MAX, 0}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        memcpy(k, b.keys, b.len);
        le64_store(k + 200 + 8, ops[i].v);
        EXPECT(b.len, 1, 1, ops[i].ok ? VMRP_OK : VMRP_E_CORRUPT);
        EXPECT(b.len, 1, 0, ops[i].ok ? VMRP_OK : VMRP_E_CORRUPT);
    }
    /* Memlimit 8192..1 GiB, a multiple of 1024. */
    static const struct {
        uint64_t v;
        int ok;
    } mem[] = {{0, 0},
               {1024, 0},
               {7168, 0},
               {8191, 0},
               {8192, 1},
               {8193, 0},
               {9216, 1},
               {8192 + 512, 0},
               {64ull << 20, 1},
               {(1ull << 30) - 1024, 1},
               {1ull << 30, 1},
               {(1ull << 30) + 1024, 0},
               {1ull << 31, 0},
               {1ull << 40, 0},
               {UINT64_MAX - 1023, 0}};
    for (size_t i = 0; i < sizeof mem / sizeof mem[0]; i++) {
        memcpy(k, b.keys, b.len);
        le64_store(k + 200 + 16, mem[i].v);
        EXPECT(b.len, 1, 1, mem[i].ok ? VMRP_OK : VMRP_E_CORRUPT);
        EXPECT(b.len, 1, 0, mem[i].ok ? VMRP_OK : VMRP_E_CORRUPT);
    }
    /* A hostile slot after a good one is refused too (checked before any
     * derivation). */
    memcpy(k, b.keys, b.len);
    memcpy(k + 328, b.keys + 200, 128);
    le32_store(k + KY_OFF_SLOT_COUNT, 2);
    le64_store(k + 328 + 16, 1ull << 31);
    EXPECT(456, 1, 1, VMRP_E_CORRUPT);

    /* Reserved bytes: Keys_Fixed 36..63, slot 1..7, passphrase slot
     * 112..127; zero in files of our version, ignored in newer ones. */
    size_t reserved[64], nres = 0;
    for (size_t i = 36; i < 64; i++)
        reserved[nres++] = i;
    for (size_t i = 1; i < 8; i++)
        reserved[nres++] = 200 + i;
    for (size_t i = 112; i < 128; i++)
        reserved[nres++] = 200 + i;
    for (size_t i = 0; i < nres; i++) {
        memcpy(k, b.keys, b.len);
        k[reserved[i]] = 0x01;
        EXPECT(b.len, 1, 1, VMRP_E_CORRUPT);
        EXPECT(b.len, 1, 0, VMRP_OK);
    }
    /* Reserved bytes of a recipient slot: 1..7 (the rest is its data). */
    vmrp_key *x = ut_new_x25519();
    const vmrp_key *recips[] = {x};
    built_keys rb;
    build(&rb, ck, 128, NULL, recips, 1);
    memcpy(k, rb.keys, rb.len);
    EXPECT(rb.len, 1, 1, VMRP_OK);
    for (size_t i = 1; i < 8; i++) {
        memcpy(k, rb.keys, rb.len);
        k[200 + i] = 0x80;
        EXPECT(rb.len, 1, 1, VMRP_E_CORRUPT);
        EXPECT(rb.len, 1, 0, VMRP_OK);
    }
    /* Reserved bytes of a later segment's record. */
    built_keys later;
    build(&later, ck, 4096, NULL, NULL, 0);
    for (size_t i = 36; i < 64; i++) {
        memcpy(k, later.keys, later.len);
        k[i] = 0xff;
        EXPECT(later.len, 0, 1, VMRP_E_CORRUPT);
        EXPECT(later.len, 0, 0, VMRP_OK);
    }
#undef EXPECT
    vmrp_key_free(x);
    free(later.keys);
    free(rb.keys);
    free(k);
    free(b.keys);
    crypt_free(ck);
}
END_TEST

static Suite *crypt_suite(void)
{
    Suite *s = suite_create("crypt");
    TCase *tc = tcase_create("records");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_record_round_trip);
    tcase_add_test(tc, test_record_binding);
    tcase_add_test(tc, test_id_hash);
    suite_add_tcase(s, tc);
    tc = tcase_create("keys");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_keys_layout);
    tcase_add_test(tc, test_passphrase_slot);
    tcase_add_test(tc, test_recipient_slot);
    tcase_add_test(tc, test_several_passphrase_slots);
    tcase_add_test(tc, test_slot_with_foreign_secret);
    tcase_add_test(tc, test_crypt_unlock_messages);
    tcase_add_test(tc, test_segment_keys);
    tcase_add_test(tc, test_keys_check_bounds);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(crypt_suite());
}
