/* fuzz_keys.c - key files: vmrp_key_load_public() and
 * vmrp_key_load_secret() on hostile bytes.
 *
 * Oracles beyond the sanitizers: a loaded secret signing key signs and its
 * own public half verifies the signature (the loader checks the embedded
 * public key); a loaded secret encryption key (X25519, format 1.2) has the
 * public key of its secret and refuses to sign; a key that loads as both
 * public and secret has the same key id and kind.
 * No passphrase is given, so protected keys are refused before any scrypt
 * work (the limits a file may ask for are bounded separately).
 */
#include "fuzz_common.h"

#include <sodium.h>

#include "vmrp_private.h"

static char g_path[256];

static int no_passphrase(void *ctx, const char *path, char *buf, size_t size)
{
    (void)ctx;
    (void)path;
    (void)buf;
    (void)size;
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_path[0]) {
        FUZZ_CHECK(sodium_init() >= 0, "sodium_init");
        snprintf(g_path, sizeof g_path, "%s/vmrp-fuzz-key.%ld", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
                 (long)getpid());
    }
    FILE *f = fopen(g_path, "wb");
    FUZZ_CHECK(f != NULL, "open %s", g_path);
    FUZZ_CHECK(fwrite(data, 1, size, f) == size && fclose(f) == 0, "write %s", g_path);

    vmrp_key *pub = vmrp_key_new(), *sec = vmrp_key_new();
    FUZZ_CHECK(pub && sec, "vmrp_key_new");
    int rp = vmrp_key_load_public(pub, g_path);
    int rs = vmrp_key_load_secret(sec, g_path, no_passphrase, NULL);
    FUZZ_CHECK(rp == VMRP_OK || rp == VMRP_E_KEY || rp == VMRP_E_IO, "public rc %d", rp);
    FUZZ_CHECK(rs == VMRP_OK || rs == VMRP_E_KEY || rs == VMRP_E_IO || rs == VMRP_E_NOMEM,
               "secret rc %d", rs);
    FUZZ_CHECK(*vmrp_key_error_string(pub) || rp == VMRP_OK, "public error without a message");
    if (rs == VMRP_OK && vmrp_key_kind(sec) == VMRP_KEY_ENCRYPTION) {
        const unsigned char *bs = key_box_secret(sec), *bp = key_box_public(sec);
        unsigned char pk[32], hash[HASH_SIZE] = {1, 2, 3}, sig[SIGNATURE_SIZE];
        FUZZ_CHECK(vmrp_key_has_secret(sec) && bs && bp && crypto_scalarmult_base(pk, bs) == 0 &&
                       memcmp(pk, bp, 32) == 0,
                   "loaded encryption key: its public key is not its secret's");
        FUZZ_CHECK(key_sign_commit(sec, hash, sig) == VMRP_E_KEY, "an encryption key signs");
    } else if (rs == VMRP_OK) {
        FUZZ_CHECK(vmrp_key_kind(sec) == VMRP_KEY_SIGNING, "kind %d", vmrp_key_kind(sec));
        FUZZ_CHECK(vmrp_key_has_secret(sec), "loaded secret key has no secret");
        unsigned char hash[HASH_SIZE] = {1, 2, 3}, sig[SIGNATURE_SIZE];
        FUZZ_CHECK(key_sign_commit(sec, hash, sig) == VMRP_OK, "a loaded key cannot sign");
        FUZZ_CHECK(key_verify_commit(sec, hash, sig), "its own public half rejects its signature");
        hash[0] ^= 1;
        FUZZ_CHECK(!key_verify_commit(sec, hash, sig), "a signature verifies another hash");
    }
    if (rp == VMRP_OK && rs == VMRP_OK) {
        char a[17], b[17];
        vmrp_key_id(pub, a);
        vmrp_key_id(sec, b);
        FUZZ_CHECK(strcmp(a, b) == 0 && vmrp_key_kind(pub) == vmrp_key_kind(sec),
                   "one file, two key ids or kinds");
    }
    vmrp_key_free(pub);
    vmrp_key_free(sec);
    unlink(g_path);
    return 0;
}
