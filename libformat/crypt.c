/* crypt.c - encryption of records, keyed identities, and the KEYS record
 * that carries a collection's key slots and each segment's keys.
 *
 *   collection secret (X25519) --wrapped in--> key slots (segment 1's KEYS)
 *   segment Data_Key, Id_Key   --sealed to---> collection public key
 *
 * Sealing to a public key lets a writer that holds no secret append a
 * segment; only holders of a slot's passphrase or identity read any.
 * Every secret lives in sodium_malloc'd memory and is wiped when freed.
 */
#include <stdio.h>
#include <string.h>

#include "vmrp_private.h"

crypt_keys *crypt_new(const unsigned char collection_id[ID_SIZE], size_t segments)
{
    crypt_keys *ck = sodium_malloc(sizeof *ck);
    if (!ck)
        return NULL;
    memset(ck, 0, sizeof *ck);
    memcpy(ck->collection_id, collection_id, ID_SIZE);
    ck->capsegs = segments ? segments : 1;
    ck->segs = sodium_allocarray(ck->capsegs, sizeof *ck->segs);
    ck->collection_sk = sodium_malloc(KEY_SIZE);
    if (!ck->segs || !ck->collection_sk) {
        crypt_free(ck);
        return NULL;
    }
    return ck;
}

void crypt_free(crypt_keys *ck)
{
    if (!ck)
        return;
    if (ck->segs)
        sodium_free(ck->segs);
    if (ck->collection_sk)
        sodium_free(ck->collection_sk);
    sodium_free(ck);
}

void id_hash(unsigned char out[HASH_SIZE], const void *data, size_t len,
             const unsigned char *id_key)
{
    crypto_generichash(out, HASH_SIZE, data, len, id_key, id_key ? KEY_SIZE : 0);
}

static void record_ad(unsigned char ad[RECORD_AD_SIZE], const unsigned char collection_id[ID_SIZE],
                      uint64_t offset, const unsigned char *rec)
{
    memcpy(ad, collection_id, ID_SIZE);
    le64_store(ad + ID_SIZE, offset);
    memcpy(ad + ID_SIZE + 8, rec, RH_SIZE);
}

int crypt_seal_record(const unsigned char collection_id[ID_SIZE],
                      const unsigned char data_key[KEY_SIZE], uint64_t offset, unsigned char *rec,
                      size_t rec_len)
{
    unsigned char ad[RECORD_AD_SIZE];
    if (rec_len < RH_SIZE + RECORD_CRYPTO_OVERHEAD)
        return VMRP_E_USAGE;
    unsigned char *nonce = rec + RH_SIZE, *body = nonce + RECORD_NONCE_SIZE;
    size_t body_len = rec_len - RH_SIZE - RECORD_CRYPTO_OVERHEAD;
    record_ad(ad, collection_id, offset, rec);
    randombytes_buf(nonce, RECORD_NONCE_SIZE);
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(body, body + body_len, NULL, body,
                                                        body_len, ad, sizeof ad, NULL, nonce,
                                                        data_key);
    return VMRP_OK;
}

int crypt_open_record(const unsigned char collection_id[ID_SIZE],
                      const unsigned char data_key[KEY_SIZE], uint64_t offset, unsigned char *rec,
                      size_t rec_len)
{
    unsigned char ad[RECORD_AD_SIZE];
    if (rec_len < RH_SIZE + RECORD_CRYPTO_OVERHEAD)
        return VMRP_E_CORRUPT;
    const unsigned char *nonce = rec + RH_SIZE;
    unsigned char *body = rec + RH_SIZE + RECORD_NONCE_SIZE;
    size_t body_len = rec_len - RH_SIZE - RECORD_CRYPTO_OVERHEAD;
    record_ad(ad, collection_id, offset, rec);
    return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
               body, NULL, body, body_len, body + body_len, ad, sizeof ad, nonce, data_key) == 0
               ? VMRP_OK
               : VMRP_E_CORRUPT;
}

/* ---- KEYS records ---- */

int keys_check(const unsigned char *p, size_t len, int first_segment, int strict, const char **why)
{
    if (len < KY_SLOTS_OFFSET) {
        *why = "key record shorter than 200 bytes";
        return VMRP_E_CORRUPT;
    }
    uint32_t slots = le32_load(p + KY_OFF_SLOT_COUNT);
    if (first_segment ? (slots < 1 || slots > KY_SLOTS_MAX) : slots != 0) {
        *why = first_segment ? "the first key record must hold 1..64 key slots"
                             : "key slots outside the first segment";
        return VMRP_E_CORRUPT;
    }
    if (len != KY_SLOTS_OFFSET + (size_t)KY_SLOT_SIZE * slots) {
        *why = "key record size does not match its slot count";
        return VMRP_E_CORRUPT;
    }
    if (strict && !is_zero(p + KY_OFF_RESERVED, KY_FIXED_SIZE - KY_OFF_RESERVED)) {
        *why = "reserved key record bytes are not zero";
        return VMRP_E_CORRUPT;
    }
    for (uint32_t i = 0; i < slots; i++) {
        const unsigned char *s = p + KY_SLOTS_OFFSET + (size_t)KY_SLOT_SIZE * i;
        if (s[SLOT_OFF_TYPE] != SLOT_PASSPHRASE && s[SLOT_OFF_TYPE] != SLOT_RECIPIENT) {
            *why = "key slot of an unknown type";
            return VMRP_E_CORRUPT;
        }
        if (strict && !is_zero(s + SLOT_OFF_RESERVED, SLOT_OFF_OPSLIMIT - SLOT_OFF_RESERVED)) {
            *why = "reserved key slot bytes are not zero";
            return VMRP_E_CORRUPT;
        }
        if (s[SLOT_OFF_TYPE] == SLOT_PASSPHRASE) {
            uint64_t ops = le64_load(s + SLOT_OFF_OPSLIMIT), mem = le64_load(s + SLOT_OFF_MEMLIMIT);
            /* checked before any Argon2id run: a file cannot make a reader
             * spend more than these bounds */
            if (ops < KDF_OPSLIMIT_MIN || ops > KDF_OPSLIMIT_MAX || mem < KDF_MEMLIMIT_MIN ||
                mem > KDF_MEMLIMIT_MAX || mem % 1024 != 0) {
                *why = "passphrase slot's Argon2id parameters out of bounds";
                return VMRP_E_CORRUPT;
            }
            if (strict && !is_zero(s + SLOT_OFF_PASS_RESERVED, KY_SLOT_SIZE - SLOT_OFF_PASS_RESERVED)) {
                *why = "reserved key slot bytes are not zero";
                return VMRP_E_CORRUPT;
            }
        }
    }
    return VMRP_OK;
}

static void slot_ad(unsigned char ad[ID_SIZE + KEY_SIZE + SLOT_PASS_AD_PARAMS],
                    const unsigned char collection_id[ID_SIZE],
                    const unsigned char collection_pk[KEY_SIZE], const unsigned char *slot)
{
    memcpy(ad, collection_id, ID_SIZE);
    memcpy(ad + ID_SIZE, collection_pk, KEY_SIZE);
    memcpy(ad + ID_SIZE + KEY_SIZE, slot, SLOT_PASS_AD_PARAMS);
}

static int kek_derive(unsigned char kek[KEY_SIZE], const char *passphrase, const unsigned char *slot)
{
    return crypto_pwhash(kek, KEY_SIZE, passphrase, strlen(passphrase), slot + SLOT_OFF_SALT,
                         le64_load(slot + SLOT_OFF_OPSLIMIT),
                         (size_t)le64_load(slot + SLOT_OFF_MEMLIMIT), crypto_pwhash_ALG_ARGON2ID13);
}

size_t keys_size(size_t slots)
{
    return KY_SLOTS_OFFSET + KY_SLOT_SIZE * slots;
}

int keys_build(unsigned char *out, const crypt_keys *ck, const seg_keys *sk,
               uint64_t segment_offset, const keys_slots *slots)
{
    size_t nslots = slots ? (slots->passphrase ? 1 : 0) + slots->recipient_count : 0;
    memset(out, 0, keys_size(nslots));
    memcpy(out + KY_OFF_PUBLIC, ck->collection_pk, KEY_SIZE);
    le32_store(out + KY_OFF_SLOT_COUNT, (uint32_t)nslots);

    unsigned char *plain = sodium_malloc(KY_SEGMENT_PLAIN_SIZE);
    if (!plain)
        return VMRP_E_NOMEM;
    memcpy(plain, sk->data_key, KEY_SIZE);
    memcpy(plain + KEY_SIZE, sk->id_key, KEY_SIZE);
    memcpy(plain + 2 * KEY_SIZE, ck->collection_id, ID_SIZE);
    le64_store(plain + 2 * KEY_SIZE + ID_SIZE, segment_offset);
    int rc = crypto_box_seal(out + KY_OFF_SEGMENT_BOX, plain, KY_SEGMENT_PLAIN_SIZE,
                             ck->collection_pk);
    sodium_free(plain);
    if (rc != 0)
        return VMRP_E_CRYPTO;

    unsigned char *s = out + KY_SLOTS_OFFSET;
    if (slots && slots->passphrase) {
        unsigned char ad[ID_SIZE + KEY_SIZE + SLOT_PASS_AD_PARAMS];
        unsigned char *kek = sodium_malloc(KEY_SIZE);
        if (!kek)
            return VMRP_E_NOMEM;
        s[SLOT_OFF_TYPE] = SLOT_PASSPHRASE;
        le64_store(s + SLOT_OFF_OPSLIMIT, slots->opslimit);
        le64_store(s + SLOT_OFF_MEMLIMIT, slots->memlimit);
        randombytes_buf(s + SLOT_OFF_SALT, crypto_pwhash_SALTBYTES);
        randombytes_buf(s + SLOT_OFF_NONCE, RECORD_NONCE_SIZE);
        rc = kek_derive(kek, slots->passphrase, s) == 0 ? VMRP_OK : VMRP_E_NOMEM;
        if (rc == VMRP_OK) {
            slot_ad(ad, ck->collection_id, ck->collection_pk, s);
            crypto_aead_xchacha20poly1305_ietf_encrypt(s + SLOT_OFF_WRAPPED, NULL,
                                                       ck->collection_sk, KEY_SIZE, ad, sizeof ad,
                                                       NULL, s + SLOT_OFF_NONCE, kek);
        }
        sodium_free(kek);
        if (rc)
            return rc;
        s += KY_SLOT_SIZE;
    }
    for (size_t i = 0; slots && i < slots->recipient_count; i++, s += KY_SLOT_SIZE) {
        const vmrp_key *rk = slots->recipients[i];
        s[SLOT_OFF_TYPE] = SLOT_RECIPIENT;
        memcpy(s + SLOT_OFF_KEY_ID, key_keynum(rk), KEY_ID_SIZE);
        memcpy(s + SLOT_OFF_RECIPIENT, key_box_public(rk), KEY_SIZE);
        if (crypto_box_seal(s + SLOT_OFF_SEALED, ck->collection_sk, KEY_SIZE,
                            s + SLOT_OFF_RECIPIENT) != 0)
            return VMRP_E_CRYPTO;
    }
    return VMRP_OK;
}

/* The unwrapped secret must be the collection's: a slot that unwraps to
 * another key was made for another collection, or forged. */
static int secret_matches(const unsigned char sk[KEY_SIZE], const unsigned char pk[KEY_SIZE])
{
    unsigned char derived[KEY_SIZE];
    if (crypto_scalarmult_base(derived, sk) != 0)
        return 0;
    return sodium_memcmp(derived, pk, KEY_SIZE) == 0;
}

int keys_unlock(const unsigned char *p, crypt_keys *ck, const vmrp_key *identity,
                const char *passphrase, int *tried)
{
    uint32_t slots = le32_load(p + KY_OFF_SLOT_COUNT);
    *tried = 0;
    for (uint32_t i = 0; i < slots; i++) {
        const unsigned char *s = p + KY_SLOTS_OFFSET + (size_t)KY_SLOT_SIZE * i;
        int ok = 0;
        if (s[SLOT_OFF_TYPE] == SLOT_RECIPIENT && identity && key_box_secret(identity)) {
            if (sodium_memcmp(s + SLOT_OFF_RECIPIENT, key_box_public(identity), KEY_SIZE) != 0)
                continue;
            (*tried)++;
            ok = crypto_box_seal_open(ck->collection_sk, s + SLOT_OFF_SEALED,
                                      KEY_SIZE + crypto_box_SEALBYTES, key_box_public(identity),
                                      key_box_secret(identity)) == 0;
        } else if (s[SLOT_OFF_TYPE] == SLOT_PASSPHRASE && passphrase) {
            unsigned char ad[ID_SIZE + KEY_SIZE + SLOT_PASS_AD_PARAMS];
            unsigned char *kek = sodium_malloc(KEY_SIZE);
            if (!kek)
                return VMRP_E_NOMEM;
            (*tried)++;
            if (kek_derive(kek, passphrase, s) != 0) {
                sodium_free(kek);
                return VMRP_E_NOMEM;
            }
            slot_ad(ad, ck->collection_id, ck->collection_pk, s);
            ok = crypto_aead_xchacha20poly1305_ietf_decrypt(
                     ck->collection_sk, NULL, NULL, s + SLOT_OFF_WRAPPED,
                     KEY_SIZE + RECORD_TAG_SIZE, ad, sizeof ad, s + SLOT_OFF_NONCE, kek) == 0;
            sodium_free(kek);
        }
        if (ok && secret_matches(ck->collection_sk, ck->collection_pk)) {
            ck->unlocked = 1;
            return VMRP_OK;
        }
        if (ok) {
            sodium_memzero(ck->collection_sk, KEY_SIZE);
            return VMRP_E_CORRUPT;
        }
    }
    return VMRP_E_KEY;
}

int keys_open_segment(const unsigned char *p, const crypt_keys *ck, uint64_t segment_offset,
                      seg_keys *out)
{
    unsigned char *plain = sodium_malloc(KY_SEGMENT_PLAIN_SIZE);
    if (!plain)
        return VMRP_E_NOMEM;
    int rc = crypto_box_seal_open(plain, p + KY_OFF_SEGMENT_BOX, KY_SEGMENT_BOX_SIZE,
                                  ck->collection_pk, ck->collection_sk) == 0
                 ? VMRP_OK
                 : VMRP_E_CORRUPT;
    if (rc == VMRP_OK &&
        (memcmp(plain + 2 * KEY_SIZE, ck->collection_id, ID_SIZE) != 0 ||
         le64_load(plain + 2 * KEY_SIZE + ID_SIZE) != segment_offset))
        rc = VMRP_E_CORRUPT; /* keys of another collection or segment */
    if (rc == VMRP_OK) {
        memcpy(out->data_key, plain, KEY_SIZE);
        memcpy(out->id_key, plain + KEY_SIZE, KEY_SIZE);
    }
    sodium_free(plain);
    return rc;
}

void keys_slot_info(const unsigned char *p, uint32_t i, vmrp_key_slot_info *out)
{
    const unsigned char *s = p + KY_SLOTS_OFFSET + (size_t)KY_SLOT_SIZE * i;
    memset(out, 0, sizeof *out);
    out->type = s[SLOT_OFF_TYPE] == SLOT_PASSPHRASE ? VMRP_SLOT_PASSPHRASE : VMRP_SLOT_RECIPIENT;
    if (out->type == VMRP_SLOT_PASSPHRASE) {
        out->kdf_opslimit = le64_load(s + SLOT_OFF_OPSLIMIT);
        out->kdf_memlimit = le64_load(s + SLOT_OFF_MEMLIMIT);
    } else {
        memcpy(out->key_id, s + SLOT_OFF_KEY_ID, KEY_ID_SIZE);
    }
}

/* Why no key slot opened, for the message. */
static void describe_slots(const unsigned char *keys, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    uint32_t slots = le32_load(keys + KY_OFF_SLOT_COUNT);
    for (uint32_t i = 0; i < slots && at < len; i++) {
        vmrp_key_slot_info s;
        keys_slot_info(keys, i, &s);
        int n = s.type == VMRP_SLOT_PASSPHRASE
                    ? snprintf(buf + at, len - at, "%spassphrase", i ? ", " : "")
                    : snprintf(buf + at, len - at, "%srecipient %016llX", i ? ", " : "",
                               (unsigned long long)le64_load(s.key_id));
        if (n < 0)
            break;
        at += (size_t)n;
    }
}

/* Unwrap the collection secret: the identity first, then a passphrase
 * when a passphrase slot exists. */
int crypt_unlock(vmrp_err *err, const char *label, const unsigned char *keys, crypt_keys *ck,
                 const vmrp_key *identity, vmrp_passphrase_fn ask, void *ctx)
{
    int tried_identity = 0, tried_pass = 0, asked = 0;
    int rc = VMRP_E_KEY;
    if (identity)
        rc = keys_unlock(keys, ck, identity, NULL, &tried_identity);
    int has_pass_slot = 0;
    for (uint32_t i = 0; i < le32_load(keys + KY_OFF_SLOT_COUNT); i++)
        has_pass_slot |= keys[KY_SLOTS_OFFSET + KY_SLOT_SIZE * i] == SLOT_PASSPHRASE;
    if (rc == VMRP_E_KEY && has_pass_slot && ask) {
        char *pass = sodium_malloc(1024);
        if (!pass)
            return err_set(err, VMRP_E_NOMEM, "out of memory");
        if (ask(ctx, label, pass, 1024) == 0) {
            asked = 1;
            pass[1023] = '\0';
            rc = keys_unlock(keys, ck, NULL, pass, &tried_pass);
        }
        sodium_free(pass);
    }
    if (rc == VMRP_E_CORRUPT)
        return err_set(err, rc, "%s: a key slot opens to a key that is not the collection's",
                       label);
    if (rc == VMRP_E_NOMEM)
        return err_set(err, rc, "%s: out of memory deriving the passphrase key", label);
    if (rc == VMRP_OK)
        return VMRP_OK;
    char slots[256];
    describe_slots(keys, slots, sizeof slots);
    const char *why = asked && tried_pass ? "the passphrase is wrong"
                      : identity && !tried_identity
                          ? "the identity given is not one of its recipients"
                      : identity            ? "the identity given does not open its slot"
                      : has_pass_slot && ask ? "no passphrase was available"
                                             : "no key was given";
    return err_set(err, VMRP_E_KEY, "%s: the archive is encrypted and %s (key slots: %s)",
                   label, why, slots);
}

