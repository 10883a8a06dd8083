/* fuzz_keyslots.c - a KEYS record payload (format 5.6) through the library's
 * internal functions: keys_check(), keys_unlock() with the test identity
 * and with the test passphrase, crypt_unlock(), keys_open_segment(),
 * keys_slot_info() and keys_build().
 *
 * Input: one byte of options, then the payload.
 *   bit 0  the payload is segment 1's (key slots expected), else a later one's
 *   bit 1  strict (the file's minor version is not newer than the reader's)
 *   bit 2  crypt_unlock() gets the test identity
 *   bit 3  crypt_unlock() gets the test passphrase
 * The Collection_Id is "fuzz collection!" and the Segment_Offset 128 for
 * segment 1, 4096 otherwise.
 *
 * Oracles beyond the sanitizers, each against an implementation of the
 * format text with libsodium alone (fuzz_common.h and below):
 *  - keys_check() accepts exactly the payloads that 5.6.1, 5.6.3 and 5.6.4
 *    allow, and gives a reason when it refuses;
 *  - keys_unlock() with the identity, and with the passphrase, returns what
 *    trying the slots in order gives (the first that opens decides: the
 *    collection secret, or VMRP_E_CORRUPT when it is not the collection's;
 *    VMRP_E_KEY when none opens), counts the slots it tried, and unwraps
 *    the same secret;
 *  - crypt_unlock() tries the identity, then the passphrase only when a
 *    passphrase slot exists and the identity opened nothing, and names the
 *    slots when it fails;
 *  - keys_open_segment() opens the sealed Segment_Keys exactly when they
 *    open for this collection and offset (5.6.2), to the same keys;
 *  - keys_slot_info() reports every slot's type and parameters;
 *  - keys_build() of the opened keys gives a record that keys_check()
 *    accepts and keys_open_segment() opens to the same keys.
 *
 * Argon2id: the passphrase is used only when the payload's PASSPHRASE
 * slots ask for at most FZ_KDF_BUDGET (one pass over 1 MiB) in all; the
 * seeds ask 8 KiB and one pass.
 *
 * A custom mutator makes, three times in four, the mutated payload open
 * again: slots for the test identity are sealed again, passphrase slots
 * wrapped again (when cheap), and the segment keys sealed again, to the
 * fixed test collection key pair or to the payload's own public key.
 */
#include "fuzz_common.h"

#include "vmrp_private.h"

static const unsigned char g_cid[16] = "fuzz collection!";

/* The test collection key pair, fixed so that the mutator can seal to it. */
static void collection_pair(unsigned char pk[32], unsigned char sk[32])
{
    static unsigned char p[32], s[32];
    static int done;
    if (!done) {
        unsigned char seed[32];
        crypto_generichash(seed, sizeof seed, (const unsigned char *)"vmrp fuzz collection", 20,
                           NULL, 0);
        crypto_box_seed_keypair(p, s, seed);
        done = 1;
    }
    memcpy(pk, p, 32);
    memcpy(sk, s, 32);
}

/* keys_check() by the text of 5.6. */
static int spec_check(const uint8_t *p, size_t len, int first, int strict)
{
    if (len < 200)
        return 0;
    uint32_t slots = fz_le32(p + 32);
    if (first ? slots < 1 || slots > 64 : slots != 0)
        return 0;
    if (len != 200 + 128 * (size_t)slots)
        return 0;
    for (size_t i = 36; strict && i < 64; i++)
        if (p[i])
            return 0;
    for (uint32_t i = 0; i < slots; i++) {
        const uint8_t *s = p + 200 + 128 * (size_t)i;
        if (s[0] != 1 && s[0] != 2)
            return 0;
        for (size_t j = 1; strict && j < 8; j++)
            if (s[j])
                return 0;
        if (s[0] == 1) {
            if (!fz_kdf_params_ok(fz_le64(s + 8), fz_le64(s + 16)))
                return 0;
            for (size_t j = 112; strict && j < 128; j++)
                if (s[j])
                    return 0;
        }
    }
    return 1;
}

/* keys_unlock() by the text of 5.6.4 to 5.6.6: the slots in order. */
static int spec_unlock(const uint8_t *p, int identity, int passphrase, unsigned char secret[32],
                       int *tried)
{
    const fz_x25519 *id = fz_test_x25519();
    uint32_t slots = fz_le32(p + 32);
    *tried = 0;
    for (uint32_t i = 0; i < slots; i++) {
        const uint8_t *s = p + 200 + 128 * (size_t)i;
        int ok = 0;
        if (identity && s[0] == 2) {
            if (memcmp(s + 16, id->pk, 32) != 0)
                continue;
            (*tried)++;
            ok = fz_open_recipient_slot(s, secret);
        } else if (passphrase && s[0] == 1) {
            (*tried)++;
            ok = fz_open_pass_slot(s, g_cid, p, secret);
        }
        if (ok)
            return fz_secret_matches(secret, p) ? VMRP_OK : VMRP_E_CORRUPT;
    }
    return VMRP_E_KEY;
}

static crypt_keys *new_keys(const uint8_t *p)
{
    crypt_keys *ck = crypt_new(g_cid, 2);
    FUZZ_CHECK(ck != NULL, "crypt_new");
    memcpy(ck->collection_pk, p, 32);
    return ck;
}

/* keys_open_segment() against the harness's opening of the box. */
static void check_open_segment(const uint8_t *p, crypt_keys *ck, uint64_t seg_off)
{
    fz_keys *k = calloc(1, sizeof *k);
    FUZZ_CHECK(k != NULL, "calloc");
    k->unlocked = 1;
    memcpy(k->cid, g_cid, 16);
    memcpy(k->pk, ck->collection_pk, 32);
    memcpy(k->sk, ck->collection_sk, 32);
    unsigned char dk[32], ik[32];
    int want = fz_open_segment_box(k, p, seg_off, 1, dk, ik);
    seg_keys sk;
    memset(&sk, 0x5a, sizeof sk);
    int rc = keys_open_segment(p, ck, seg_off, &sk);
    FUZZ_CHECK(rc == (want ? VMRP_OK : VMRP_E_CORRUPT),
               "keys_open_segment gives %d, the sealed keys %s", rc,
               want ? "open" : "do not open for this collection and offset");
    if (rc == VMRP_OK) {
        FUZZ_CHECK(memcmp(sk.data_key, dk, 32) == 0 && memcmp(sk.id_key, ik, 32) == 0,
                   "keys_open_segment opened other keys");
        /* keys_build() of these keys: a later segment's record */
        unsigned char out[200];
        const char *why = NULL;
        FUZZ_CHECK(keys_size(0) == sizeof out &&
                       keys_build(out, ck, &sk, seg_off + 256, NULL) == VMRP_OK &&
                       keys_check(out, sizeof out, 0, 1, &why) == VMRP_OK,
                   "keys_build: %s", why ? why : "failed");
        seg_keys back;
        FUZZ_CHECK(keys_open_segment(out, ck, seg_off + 256, &back) == VMRP_OK &&
                       memcmp(&back, &sk, sizeof sk) == 0 &&
                       keys_open_segment(out, ck, seg_off, &back) == VMRP_E_CORRUPT,
                   "keys_build does not round-trip");
    }
    free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init_once();
    if (size < 1)
        return 0;
    const unsigned opt = data[0];
    const int first = opt & 1, strict = (opt >> 1) & 1;
    const uint64_t seg_off = first ? 128 : 4096;
    const size_t len = size - 1;
    /* an exactly sized heap copy: ASan sees reads past the payload */
    uint8_t *p = malloc(len ? len : 1);
    FUZZ_CHECK(p != NULL, "malloc");
    memcpy(p, data + 1, len);

    const char *why = NULL;
    int rc = keys_check(p, len, first, strict, &why);
    int want = spec_check(p, len, first, strict);
    FUZZ_CHECK(rc == (want ? VMRP_OK : VMRP_E_CORRUPT), "keys_check gives %d for a payload the "
                                                       "format %s (%s)",
               rc, want ? "allows" : "refuses", why ? why : "");
    if (rc != VMRP_OK) {
        FUZZ_CHECK(why && why[0], "keys_check refused without a reason");
        free(p);
        return 0;
    }
    const uint32_t slots = fz_le32(p + 32);
    for (uint32_t i = 0; i < slots; i++) {
        const uint8_t *s = p + 200 + 128 * (size_t)i;
        vmrp_key_slot_info si;
        keys_slot_info(p, i, &si);
        FUZZ_CHECK(si.type == s[0] &&
                       (si.type == VMRP_SLOT_RECIPIENT
                            ? memcmp(si.key_id, s + 8, 8) == 0
                            : si.kdf_opslimit == fz_le64(s + 8) && si.kdf_memlimit == fz_le64(s + 16)),
                   "keys_slot_info of slot %u", i);
    }

    if (!first) {
        /* A later segment's record: its sealed keys, with the fixed test
         * collection key when the record names it. */
        unsigned char pk[32], sk[32];
        collection_pair(pk, sk);
        if (memcmp(p, pk, 32) == 0) {
            crypt_keys *ck = new_keys(p);
            memcpy(ck->collection_sk, sk, 32);
            ck->unlocked = 1;
            check_open_segment(p, ck, seg_off);
            crypt_free(ck);
        }
        free(p);
        return 0;
    }

    const int cheap = fz_kdf_cost_keys(p, len) <= FZ_KDF_BUDGET;
    unsigned char secret[32];
    int tried = -1, want_tried = 0;

    /* the identity alone */
    crypt_keys *ck = new_keys(p);
    rc = keys_unlock(p, ck, fz_identity(), NULL, &tried);
    int want_id = spec_unlock(p, 1, 0, secret, &want_tried);
    FUZZ_CHECK(rc == want_id && tried == want_tried,
               "keys_unlock with the identity: %d after %d slots; the slots in order give %d after %d",
               rc, tried, want_id, want_tried);
    FUZZ_CHECK(ck->unlocked == (rc == VMRP_OK), "unlocked %d, rc %d", ck->unlocked, rc);
    if (rc == VMRP_OK) {
        FUZZ_CHECK(memcmp(ck->collection_sk, secret, 32) == 0, "another secret unwrapped");
        check_open_segment(p, ck, seg_off);
    }
    crypt_free(ck);

    /* the passphrase alone */
    int want_pass = VMRP_E_KEY;
    if (cheap) {
        ck = new_keys(p);
        rc = keys_unlock(p, ck, NULL, FZ_TEST_PASSPHRASE, &tried);
        want_pass = spec_unlock(p, 0, 1, secret, &want_tried);
        FUZZ_CHECK(rc == want_pass && tried == want_tried,
                   "keys_unlock with the passphrase: %d after %d slots; the slots in order give %d "
                   "after %d",
                   rc, tried, want_pass, want_tried);
        FUZZ_CHECK(ck->unlocked == (rc == VMRP_OK), "unlocked %d, rc %d", ck->unlocked, rc);
        if (rc == VMRP_OK) {
            FUZZ_CHECK(memcmp(ck->collection_sk, secret, 32) == 0, "another secret unwrapped");
            check_open_segment(p, ck, seg_off);
        }
        crypt_free(ck);
    }

    /* crypt_unlock(): the identity first, then the passphrase */
    const int give_id = (opt >> 2) & 1, give_pass = ((opt >> 3) & 1) && cheap;
    int has_pass = 0;
    for (uint32_t i = 0; i < slots; i++)
        has_pass |= p[200 + 128 * (size_t)i] == 1;
    int want_all = give_id ? want_id : VMRP_E_KEY;
    if (want_all == VMRP_E_KEY && give_pass && has_pass)
        want_all = want_pass;
    ck = new_keys(p);
    vmrp_err err;
    memset(&err, 0, sizeof err);
    int asked = 0;
    rc = crypt_unlock(&err, "fuzz.vmrp", p, ck, give_id ? fz_identity() : NULL,
                      give_pass ? fz_ask : NULL, &asked);
    FUZZ_CHECK(rc == want_all, "crypt_unlock gives %d, expected %d", rc, want_all);
    FUZZ_CHECK(asked == ((!give_id || want_id == VMRP_E_KEY) && give_pass && has_pass),
               "the passphrase was asked %d times", asked);
    FUZZ_CHECK(rc == VMRP_OK ? ck->unlocked
                             : err.code == rc && strstr(err.message, "fuzz.vmrp") != NULL &&
                                   (rc != VMRP_E_KEY || strstr(err.message, "key slots: ") != NULL),
               "crypt_unlock failed (%d) with the message '%s'", rc, err.message);
    crypt_free(ck);
    free(p);
    return 0;
}

#ifndef VMRP_FUZZ_NO_MUTATOR
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    fuzz_init_once();
    size = LLVMFuzzerMutate(data, size, max_size);
    if (size < 1 + 200 || seed % 4 == 0)
        return size;
    uint8_t *p = data + 1;
    size_t len = size - 1;
    unsigned char pk[32], sk[32];
    collection_pair(pk, sk);
    if ((seed >> 2) % 2 == 0)
        memcpy(p, pk, 32); /* else keep the payload's own key: wrong secrets, or mutated */
    const int ours = memcmp(p, pk, 32) == 0;
    const fz_x25519 *id = fz_test_x25519();
    uint32_t slots = fz_le32(p + 32);
    for (uint32_t i = 0; ours && i < slots && i < 64 && 200 + 128 * (size_t)(i + 1) <= len; i++) {
        uint8_t *s = p + 200 + 128 * (size_t)i;
        if (s[0] == 2 && (seed >> 3) % 2 == 0)
            memcpy(s + 16, id->pk, 32); /* a slot for the test identity */
        if (s[0] == 2 && memcmp(s + 16, id->pk, 32) == 0)
            crypto_box_seal(s + 48, sk, 32, id->pk);
        uint64_t ops = fz_le64(s + 8), mem = fz_le64(s + 16);
        if (s[0] == 1 && fz_kdf_params_ok(ops, mem) && ops * mem <= FZ_KDF_BUDGET) {
            unsigned char kek[32], ad[88];
            if (crypto_pwhash(kek, 32, FZ_TEST_PASSPHRASE, strlen(FZ_TEST_PASSPHRASE), s + 24,
                              ops, (size_t)mem, crypto_pwhash_ALG_ARGON2ID13) == 0) {
                fz_slot_ad(ad, g_cid, p, s);
                crypto_aead_xchacha20poly1305_ietf_encrypt(s + 64, NULL, sk, 32, ad, sizeof ad,
                                                           NULL, s + 40, kek);
            }
        }
    }
    /* the segment's keys, sealed for this collection and offset */
    unsigned char plain[88];
    randombytes_buf(plain, 64);
    memcpy(plain + 64, g_cid, 16);
    fz_st64(plain + 80, (data[0] & 1) ? 128 : 4096);
    crypto_box_seal(p + 64, plain, sizeof plain, p);
    return size;
}
#endif
