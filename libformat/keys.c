/* keys.c - key files in minisign's formats. Signing keys (Ed25519, "Ed")
 * are minisign's keys byte for byte, so that keys made by either tool work
 * in both, and stock minisign verifies vmrp's detached signatures.
 * Encryption keys (X25519, "X1") use the same structures under their own
 * algorithm id, which minisign refuses.
 *
 *   public key:  "untrusted comment: ..." + base64(alg[2] keynum[8] pk[32])
 *   secret key:  "untrusted comment: ..." + base64(alg[2] kdf[2] "B2" salt[32]
 *                opslimit[8] memlimit[8] keynum[8] sk[64] chk[32])
 *                where keynum..chk is XORed with scrypt(passphrase) when
 *                kdf is "Sc", and stored as is when kdf is 00 00.
 *   "Ed": sk = Ed25519 seed || public key (libsodium crypto_sign)
 *   "X1": sk = X25519 secret || public key (libsodium crypto_box)
 *
 * Secrets live in sodium_malloc'd memory and are wiped when freed.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmrp_private.h"

#define SIG_ALG_HASHED "ED"
#define KDF_SCRYPT "Sc"
#define CHK_ALG "B2"
#define KEYNUM_SIZE 8u
#define PK_SIZE 32u /* public key of either kind */
#define SK_SIZE 64u /* secret || public, either kind */
#define PK_STRUCT_SIZE (2u + KEYNUM_SIZE + PK_SIZE)
#define KEYNUM_SK_SIZE (KEYNUM_SIZE + SK_SIZE + 32u)
#define SK_STRUCT_SIZE (6u + 32u + 8u + 8u + KEYNUM_SK_SIZE)
/* Offsets in the secret key structure. */
#define SK_OFF_KDF 2u
#define SK_OFF_CHK_ALG 4u
#define SK_OFF_SALT 6u
#define SK_OFF_OPSLIMIT 38u
#define SK_OFF_MEMLIMIT 46u
#define SK_OFF_KEYNUM 54u
#define KEY_FILE_MAX 4096u

_Static_assert(crypto_sign_PUBLICKEYBYTES == PK_SIZE && crypto_box_PUBLICKEYBYTES == PK_SIZE,
               "public keys of both kinds are 32 bytes");
_Static_assert(crypto_sign_SECRETKEYBYTES == SK_SIZE &&
                   crypto_box_SECRETKEYBYTES + crypto_box_PUBLICKEYBYTES == SK_SIZE,
               "secret keys of both kinds are stored as 64 bytes");

/* What differs between the two kinds of key. */
typedef struct {
    int kind;                 /* vmrp_key_type */
    char id[3];               /* the files' algorithm id */
    const char *public_comment; /* followed by " KEYID" */
    const char *secret_comment;
    const char *protected_comment;
    int zero_checksum_ok;     /* an unprotected key may store a zero checksum */
    /* A new pair: sk[SK_SIZE] = secret || public. */
    void (*keypair)(unsigned char pk[PK_SIZE], unsigned char *sk);
    /* The public key that the secret half (first 32 bytes of sk) gives. */
    int (*public_of)(unsigned char pk[PK_SIZE], const unsigned char *sk);
} key_alg;

static void ed_keypair(unsigned char pk[PK_SIZE], unsigned char *sk)
{
    crypto_sign_keypair(pk, sk);
}

static int ed_public_of(unsigned char pk[PK_SIZE], const unsigned char *sk)
{
    unsigned char seed[crypto_sign_SEEDBYTES];
    unsigned char *check_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    int rc = check_sk && crypto_sign_ed25519_sk_to_seed(seed, sk) == 0 &&
                     crypto_sign_seed_keypair(pk, check_sk, seed) == 0
                 ? 0
                 : -1;
    sodium_memzero(seed, sizeof seed);
    if (check_sk)
        sodium_free(check_sk);
    return rc;
}

static void x_keypair(unsigned char pk[PK_SIZE], unsigned char *sk)
{
    crypto_box_keypair(pk, sk);
    memcpy(sk + crypto_box_SECRETKEYBYTES, pk, PK_SIZE);
}

static int x_public_of(unsigned char pk[PK_SIZE], const unsigned char *sk)
{
    return crypto_scalarmult_base(pk, sk);
}

/* minisign writes a zero checksum in unprotected keys; vmrp's own X1 keys
 * always carry theirs. */
static const key_alg ALG_ED = {VMRP_KEY_SIGNING, "Ed", "minisign public key",
                               "minisign secret key", "minisign encrypted secret key", 1,
                               ed_keypair, ed_public_of};
static const key_alg ALG_X1 = {VMRP_KEY_ENCRYPTION, "X1", "vmrp encryption public key",
                               "vmrp encryption secret key", "vmrp encryption secret key", 0,
                               x_keypair, x_public_of};

static const key_alg *alg_of(const unsigned char id[2])
{
    if (memcmp(id, ALG_ED.id, 2) == 0)
        return &ALG_ED;
    if (memcmp(id, ALG_X1.id, 2) == 0)
        return &ALG_X1;
    return NULL;
}

struct vmrp_key_s {
    vmrp_err err;
    const key_alg *alg; /* NULL while empty */
    int has_public;
    int has_secret;
    unsigned char keynum[KEYNUM_SIZE];
    unsigned char pk[PK_SIZE];
    unsigned char *sk; /* sodium_malloc'd, SK_SIZE */
};

vmrp_key *vmrp_key_new(void)
{
    vmrp_key *k = calloc(1, sizeof *k);
    return k;
}

static void drop_secret(vmrp_key *k)
{
    if (k->sk)
        sodium_free(k->sk); /* wipes before releasing */
    k->sk = NULL;
    k->has_secret = 0;
}

/* Back to an empty handle (the error message stays). */
static void key_clear(vmrp_key *k)
{
    drop_secret(k);
    k->alg = NULL;
    k->has_public = 0;
    memset(k->keynum, 0, sizeof k->keynum);
    memset(k->pk, 0, sizeof k->pk);
}

void vmrp_key_free(vmrp_key *k)
{
    if (!k)
        return;
    drop_secret(k);
    free(k);
}

const char *vmrp_key_error_string(const vmrp_key *k)
{
    return k ? k->err.message : "no key";
}

void vmrp_key_id(const vmrp_key *k, char out[17])
{
    snprintf(out, 17, "%016llX", (unsigned long long)le64_load(k->keynum));
}

int vmrp_key_has_secret(const vmrp_key *k)
{
    return k->has_secret;
}

/* While vmrp_key_load_secret() asks for a passphrase, this already reports
 * the kind the file's (unencrypted) algorithm id names, so that a caller
 * can refuse a key of the wrong kind before it prompts. */
int vmrp_key_kind(const vmrp_key *k)
{
    return k && k->alg ? k->alg->kind : 0;
}

static int generate(vmrp_key *k, const key_alg *alg)
{
    key_clear(k);
    k->sk = sodium_malloc(SK_SIZE);
    if (!k->sk)
        return err_set(&k->err, VMRP_E_NOMEM, "cannot allocate secure memory");
    alg->keypair(k->pk, k->sk);
    randombytes_buf(k->keynum, sizeof k->keynum);
    k->alg = alg;
    k->has_public = k->has_secret = 1;
    return VMRP_OK;
}

int vmrp_key_generate(vmrp_key *k)
{
    return generate(k, &ALG_ED);
}

int vmrp_key_generate_encryption(vmrp_key *k)
{
    return generate(k, &ALG_X1);
}

/* The file is written whole to a temporary name, then linked into place,
 * so an existing key is never replaced and a half-written key never seen. */
static int write_key_file(vmrp_key *k, const char *path, mode_t mode, const char *comment,
                          const unsigned char *bin, size_t len)
{
    size_t b64len = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = sodium_malloc(b64len);
    char tmp[4096];
    if (!b64)
        return err_set(&k->err, VMRP_E_NOMEM, "cannot allocate secure memory");
    sodium_bin2base64(b64, b64len, bin, len, sodium_base64_VARIANT_ORIGINAL);
    int fd = io_temp_beside(path, mode, tmp, sizeof tmp);
    int rc = VMRP_OK;
    if (fd < 0) {
        rc = err_set(&k->err, VMRP_E_IO, "%s: %s", path, strerror(-fd));
    } else {
        char head[512];
        int n = snprintf(head, sizeof head, "untrusted comment: %s\n", comment);
        if (io_write_full(fd, head, (size_t)n) || io_write_full(fd, b64, strlen(b64)) ||
            io_write_full(fd, "\n", 1) || fsync(fd) != 0)
            rc = err_set(&k->err, VMRP_E_IO, "%s: write error: %s", path, strerror(errno));
        close(fd);
        if (rc == VMRP_OK && link(tmp, path) != 0)
            rc = err_set(&k->err, errno == EEXIST ? VMRP_E_EXISTS : VMRP_E_IO,
                         "%s: %s", path, errno == EEXIST ? "exists; refusing to replace a key"
                                                        : strerror(errno));
        unlink(tmp);
    }
    sodium_free(b64);
    return rc;
}

/* BLAKE2b-256(alg || keynum || sk) */
static void secret_checksum(const vmrp_key *k, const key_alg *alg, unsigned char chk[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const unsigned char *)alg->id, 2);
    crypto_generichash_update(&st, k->keynum, KEYNUM_SIZE);
    crypto_generichash_update(&st, k->sk, SK_SIZE);
    crypto_generichash_final(&st, chk, 32);
}

static int scrypt_stream(unsigned char *out, size_t len, const char *pass,
                         const unsigned char salt[32], uint64_t ops, uint64_t mem)
{
    /* A key file cannot ask for more than minisign itself uses. */
    if (ops > crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE ||
        mem > crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_SENSITIVE)
        return -1;
    return crypto_pwhash_scryptsalsa208sha256(out, len, pass, strlen(pass), salt,
                                              (unsigned long long)ops, (size_t)mem);
}

int vmrp_key_save(vmrp_key *k, const char *secret_path, const char *public_path,
                  const char *passphrase)
{
    if (!k->has_secret)
        return err_set(&k->err, VMRP_E_USAGE, "no secret key to save");
    const key_alg *alg = k->alg;
    unsigned char pkbin[PK_STRUCT_SIZE];
    memcpy(pkbin, alg->id, 2);
    memcpy(pkbin + 2, k->keynum, KEYNUM_SIZE);
    memcpy(pkbin + 2 + KEYNUM_SIZE, k->pk, sizeof k->pk);
    unsigned char *skbin = sodium_malloc(SK_STRUCT_SIZE);
    if (!skbin)
        return err_set(&k->err, VMRP_E_NOMEM, "cannot allocate secure memory");
    memset(skbin, 0, SK_STRUCT_SIZE);
    memcpy(skbin, alg->id, 2);
    memcpy(skbin + SK_OFF_CHK_ALG, CHK_ALG, 2);
    unsigned char *keynum_sk = skbin + SK_OFF_KEYNUM;
    memcpy(keynum_sk, k->keynum, KEYNUM_SIZE);
    memcpy(keynum_sk + KEYNUM_SIZE, k->sk, SK_SIZE);
    if (passphrase || !alg->zero_checksum_ok)
        secret_checksum(k, alg, keynum_sk + KEYNUM_SIZE + SK_SIZE);
    int rc = VMRP_OK;
    if (passphrase) {
        uint64_t ops = crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE;
        uint64_t mem = crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_SENSITIVE;
        memcpy(skbin + SK_OFF_KDF, KDF_SCRYPT, 2);
        randombytes_buf(skbin + SK_OFF_SALT, 32);
        le64_store(skbin + SK_OFF_OPSLIMIT, ops);
        le64_store(skbin + SK_OFF_MEMLIMIT, mem);
        unsigned char *stream = sodium_malloc(KEYNUM_SK_SIZE);
        if (!stream ||
            scrypt_stream(stream, KEYNUM_SK_SIZE, passphrase, skbin + SK_OFF_SALT, ops, mem) != 0)
            rc = err_set(&k->err, VMRP_E_NOMEM, "cannot derive the key from the passphrase");
        else
            for (size_t i = 0; i < KEYNUM_SK_SIZE; i++)
                keynum_sk[i] ^= stream[i];
        if (stream)
            sodium_free(stream);
    }
    char id[17], comment[128];
    vmrp_key_id(k, id);
    if (rc == VMRP_OK)
        rc = write_key_file(k, secret_path, 0600,
                            passphrase ? alg->protected_comment : alg->secret_comment, skbin,
                            SK_STRUCT_SIZE);
    sodium_free(skbin);
    if (rc == VMRP_OK && public_path) {
        snprintf(comment, sizeof comment, "%s %s", alg->public_comment, id);
        rc = write_key_file(k, public_path, 0644, comment, pkbin, sizeof pkbin);
        if (rc)
            unlink(secret_path); /* no secret key without its public half */
    }
    return rc;
}

/* Read a key file: a comment line, then one base64 line of exactly `len`
 * bytes once decoded. bin holds SK_STRUCT_SIZE bytes, so that a secret key
 * given for a public one (or the reverse) is named as such. */
static int read_key_file(vmrp_key *k, const char *path, unsigned char *bin, size_t len)
{
    char *text = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return err_set(&k->err, e == ENOENT ? VMRP_E_NOT_FOUND : VMRP_E_IO, "%s: %s", path,
                       strerror(e));
    }
    if (!S_ISREG(st.st_mode) || st.st_size > (off_t)KEY_FILE_MAX) {
        close(fd);
        return err_set(&k->err, VMRP_E_KEY, "%s: not a key file", path);
    }
    text = sodium_malloc((size_t)st.st_size + 1);
    size_t got = 0;
    if (!text || io_read_full(fd, text, (size_t)st.st_size, &got) != 0 || got != (size_t)st.st_size) {
        close(fd);
        if (text)
            sodium_free(text);
        return err_set(&k->err, VMRP_E_IO, "%s: read error", path);
    }
    close(fd);
    text[got] = '\0';
    int rc = VMRP_OK;
    char *nl = strchr(text, '\n');
    char *line = nl ? nl + 1 : NULL;
    size_t decoded = 0;
    if (!line || strncmp(text, "untrusted comment: ", 19) != 0) {
        rc = err_set(&k->err, VMRP_E_KEY, "%s: not a minisign key file (no comment line)", path);
    } else {
        line[strcspn(line, "\r\n")] = '\0';
        int bad = sodium_base642bin(bin, SK_STRUCT_SIZE, line, strlen(line), NULL, &decoded,
                                    NULL, sodium_base64_VARIANT_ORIGINAL) != 0;
        if (!bad && decoded != len && (decoded == PK_STRUCT_SIZE || decoded == SK_STRUCT_SIZE))
            rc = err_set(&k->err, VMRP_E_KEY, "%s: is a %s key file, not a %s one", path,
                         decoded == SK_STRUCT_SIZE ? "secret" : "public",
                         decoded == SK_STRUCT_SIZE ? "public" : "secret");
        else if (bad || decoded != len)
            rc = err_set(&k->err, VMRP_E_KEY, "%s: key line is not the base64 of a %zu-byte key",
                         path, len);
    }
    sodium_free(text);
    return rc;
}

int vmrp_key_load_public(vmrp_key *k, const char *path)
{
    key_clear(k);
    unsigned char *bin = sodium_malloc(SK_STRUCT_SIZE);
    if (!bin)
        return err_set(&k->err, VMRP_E_NOMEM, "cannot allocate secure memory");
    int rc = read_key_file(k, path, bin, PK_STRUCT_SIZE);
    const key_alg *alg = rc == VMRP_OK ? alg_of(bin) : NULL;
    if (rc == VMRP_OK && !alg)
        rc = err_set(&k->err, VMRP_E_KEY,
                     "%s: not a signing (Ed25519) or encryption (X25519) public key", path);
    if (rc == VMRP_OK) {
        memcpy(k->keynum, bin + 2, KEYNUM_SIZE);
        memcpy(k->pk, bin + 2 + KEYNUM_SIZE, sizeof k->pk);
        k->alg = alg;
        k->has_public = 1;
    }
    sodium_free(bin);
    return rc;
}

int vmrp_key_load_secret(vmrp_key *k, const char *path, vmrp_passphrase_fn ask, void *ctx)
{
    key_clear(k);
    unsigned char *bin = sodium_malloc(SK_STRUCT_SIZE);
    if (!bin)
        return err_set(&k->err, VMRP_E_NOMEM, "cannot allocate secure memory");
    int rc = read_key_file(k, path, bin, SK_STRUCT_SIZE);
    unsigned char *keynum_sk = bin + SK_OFF_KEYNUM;
    const key_alg *alg = rc == VMRP_OK ? alg_of(bin) : NULL;
    if (rc == VMRP_OK && (!alg || memcmp(bin + SK_OFF_CHK_ALG, CHK_ALG, 2) != 0))
        rc = err_set(&k->err, VMRP_E_KEY,
                     "%s: not a signing (Ed25519) or encryption (X25519) secret key", path);
    k->alg = alg; /* vmrp_key_kind() while ask runs */
    int encrypted = rc == VMRP_OK && memcmp(bin + SK_OFF_KDF, KDF_SCRYPT, 2) == 0;
    if (rc == VMRP_OK && !encrypted && (bin[SK_OFF_KDF] != 0 || bin[SK_OFF_KDF + 1] != 0))
        rc = err_set(&k->err, VMRP_E_KEY, "%s: unknown key derivation", path);
    if (rc == VMRP_OK && encrypted) {
        char pass[1024];
        unsigned char *stream = sodium_malloc(KEYNUM_SK_SIZE);
        int got = ask ? ask(ctx, path, pass, sizeof pass) : -1;
        if (got != 0) {
            rc = err_set(&k->err, VMRP_E_KEY, "%s is protected by a passphrase and none was given",
                         path);
        } else if (!stream || scrypt_stream(stream, KEYNUM_SK_SIZE, pass, bin + SK_OFF_SALT,
                                            le64_load(bin + SK_OFF_OPSLIMIT),
                                            le64_load(bin + SK_OFF_MEMLIMIT)) != 0) {
            rc = err_set(&k->err, VMRP_E_KEY,
                         "%s: cannot derive the key (its scrypt limits exceed 1 GiB / 2^25, or "
                         "out of memory)",
                         path);
        } else {
            for (size_t i = 0; i < KEYNUM_SK_SIZE; i++)
                keynum_sk[i] ^= stream[i];
        }
        sodium_memzero(pass, sizeof pass);
        if (stream)
            sodium_free(stream);
    }
    if (rc == VMRP_OK) {
        k->sk = sodium_malloc(SK_SIZE);
        if (!k->sk)
            rc = err_set(&k->err, VMRP_E_NOMEM, "cannot allocate secure memory");
    }
    if (rc == VMRP_OK) {
        memcpy(k->keynum, keynum_sk, KEYNUM_SIZE);
        memcpy(k->sk, keynum_sk + KEYNUM_SIZE, SK_SIZE);
        unsigned char chk[32], pk[PK_SIZE];
        secret_checksum(k, alg, chk);
        const unsigned char *stored = keynum_sk + KEYNUM_SIZE + SK_SIZE;
        /* minisign leaves the checksum zero in unprotected keys; the
         * embedded public key is checked in every case. */
        int chk_ok = (!encrypted && alg->zero_checksum_ok && is_zero(stored, 32)) ||
                     sodium_memcmp(chk, stored, 32) == 0;
        int pk_ok = alg->public_of(pk, k->sk) == 0 &&
                    sodium_memcmp(pk, k->sk + SK_SIZE - PK_SIZE, PK_SIZE) == 0;
        if (!chk_ok || !pk_ok) {
            rc = err_set(&k->err, VMRP_E_KEY, encrypted ? "%s: wrong passphrase"
                                                        : "%s: the secret key is damaged",
                         path);
        } else {
            memcpy(k->pk, pk, sizeof pk);
            k->has_public = k->has_secret = 1;
        }
    }
    sodium_free(bin);
    if (rc)
        key_clear(k);
    return rc;
}

/* ---- used by the writer and the verifier ---- */

static void commit_message(unsigned char msg[COMMIT_SIG_MSG_SIZE], const unsigned char hash[HASH_SIZE])
{
    memcpy(msg, COMMIT_SIG_DOMAIN, COMMIT_SIG_DOMAIN_SIZE);
    memcpy(msg + COMMIT_SIG_DOMAIN_SIZE, hash, HASH_SIZE);
}

const unsigned char *key_keynum(const vmrp_key *k)
{
    return k->keynum;
}

static int is_signing(const vmrp_key *k)
{
    return vmrp_key_kind(k) == VMRP_KEY_SIGNING;
}

int key_sign_commit(const vmrp_key *k, const unsigned char hash[HASH_SIZE],
                    unsigned char sig[crypto_sign_BYTES])
{
    unsigned char msg[COMMIT_SIG_MSG_SIZE];
    commit_message(msg, hash);
    if (!is_signing(k) || !k->has_secret ||
        crypto_sign_detached(sig, NULL, msg, sizeof msg, k->sk) != 0)
        return VMRP_E_KEY;
    /* As minisign does: check our own signature before anyone relies on it. */
    return crypto_sign_verify_detached(sig, msg, sizeof msg, k->pk) == 0 ? VMRP_OK : VMRP_E_CRYPTO;
}

int key_verify_commit(const vmrp_key *k, const unsigned char hash[HASH_SIZE],
                      const unsigned char sig[crypto_sign_BYTES])
{
    unsigned char msg[COMMIT_SIG_MSG_SIZE];
    commit_message(msg, hash);
    return is_signing(k) && k->has_public && crypto_sign_verify_detached(sig, msg, sizeof msg, k->pk) == 0;
}

const unsigned char *key_box_public(const vmrp_key *k)
{
    return vmrp_key_kind(k) == VMRP_KEY_ENCRYPTION && k->has_public ? k->pk : NULL;
}

/* The X25519 secret: the first half of sk. */
const unsigned char *key_box_secret(const vmrp_key *k)
{
    return vmrp_key_kind(k) == VMRP_KEY_ENCRYPTION && k->has_secret ? k->sk : NULL;
}

int vmrp_key_sign_file(vmrp_key *k, int fd, const char *sig_path, const char *trusted_comment)
{
    if (!k->has_secret)
        return err_set(&k->err, VMRP_E_USAGE, "no secret key to sign with");
    if (!is_signing(k))
        return err_set(&k->err, VMRP_E_KEY,
                       "an encryption (X25519) key cannot sign: signing needs an Ed25519 key");
    crypto_generichash_state st;
    unsigned char digest[crypto_generichash_BYTES_MAX], buf[1 << 16];
    crypto_generichash_init(&st, NULL, 0, sizeof digest);
    uint64_t off = 0;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_set(&k->err, VMRP_E_IO, "read error while signing: %s", strerror(errno));
        if (n == 0)
            break;
        crypto_generichash_update(&st, buf, (size_t)n);
        off += (uint64_t)n;
    }
    crypto_generichash_final(&st, digest, sizeof digest);
    /* Prehashed ("ED") minisign signature, then the global signature over
     * the signature and the trusted comment. */
    unsigned char sigbin[2 + KEYNUM_SIZE + crypto_sign_BYTES];
    memcpy(sigbin, SIG_ALG_HASHED, 2);
    memcpy(sigbin + 2, k->keynum, KEYNUM_SIZE);
    if (crypto_sign_detached(sigbin + 2 + KEYNUM_SIZE, NULL, digest, sizeof digest, k->sk) != 0 ||
        crypto_sign_verify_detached(sigbin + 2 + KEYNUM_SIZE, digest, sizeof digest, k->pk) != 0)
        return err_set(&k->err, VMRP_E_CRYPTO, "signing %s failed", sig_path);
    if (strchr(trusted_comment, '\n') || strchr(trusted_comment, '\r'))
        return err_set(&k->err, VMRP_E_USAGE, "a trusted comment is one line");
    size_t tclen = strlen(trusted_comment);
    unsigned char *global_msg = malloc(crypto_sign_BYTES + tclen);
    unsigned char global_sig[crypto_sign_BYTES];
    if (!global_msg)
        return err_set(&k->err, VMRP_E_NOMEM, "out of memory");
    memcpy(global_msg, sigbin + 2 + KEYNUM_SIZE, crypto_sign_BYTES);
    memcpy(global_msg + crypto_sign_BYTES, trusted_comment, tclen);
    int bad_sig = crypto_sign_detached(global_sig, NULL, global_msg, crypto_sign_BYTES + tclen, k->sk) != 0 ||
                  crypto_sign_verify_detached(global_sig, global_msg, crypto_sign_BYTES + tclen, k->pk) != 0;
    free(global_msg);
    if (bad_sig)
        return err_set(&k->err, VMRP_E_CRYPTO, "signing %s failed", sig_path);
    char b64sig[sizeof sigbin * 2], b64global[crypto_sign_BYTES * 2];
    sodium_bin2base64(b64sig, sizeof b64sig, sigbin, sizeof sigbin, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(b64global, sizeof b64global, global_sig, sizeof global_sig,
                      sodium_base64_VARIANT_ORIGINAL);
    char tmp[4096], id[17];
    vmrp_key_id(k, id);
    static const char layout[] = "untrusted comment: vmrp signature, key %s\n%s\ntrusted comment: %s\n%s\n";
    size_t cap = sizeof layout + sizeof id + strlen(b64sig) + tclen + strlen(b64global);
    char *text = malloc(cap);
    if (!text)
        return err_set(&k->err, VMRP_E_NOMEM, "out of memory");
    int len = snprintf(text, cap, layout, id, b64sig, trusted_comment, b64global);
    int out = io_temp_beside(sig_path, 0644, tmp, sizeof tmp);
    int e = out < 0 ? out : io_write_full(out, text, (size_t)len);
    if (out >= 0) {
        if (e == 0 && fsync(out) != 0)
            e = -errno;
        if (close(out) != 0 && e == 0)
            e = -errno;
        if (e == 0 && rename(tmp, sig_path) != 0)
            e = -errno;
        if (e)
            unlink(tmp);
    }
    free(text);
    if (e)
        return err_set(&k->err, VMRP_E_IO, "%s: cannot write: %s", sig_path, strerror(-e));
    return VMRP_OK;
}
