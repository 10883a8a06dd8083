/* test_keys.c - keys.c: signing (Ed25519, "Ed") and encryption (X25519,
 * "X1") key files, the kind of a key, and where each kind is refused. */
#define _GNU_SOURCE
#include "unit.h"

#include "vmrp_private.h"

#define PK_STRUCT 42u
#define SK_STRUCT 158u
#define SK_OFF_KDF 2u
#define SK_OFF_KEYNUM 54u
#define SK_OFF_SECRET 62u
#define SK_OFF_PUBLIC 94u
#define SK_OFF_CHK 126u

static char *dir;

static void setup(void)
{
    dir = ut_tmpdir();
}

static void teardown(void)
{
    ut_rmtree(dir);
    dir = NULL;
}

static const char *path_in(char *out, size_t cap, const char *name)
{
    return ut_join(out, cap, dir, name);
}

/* ---- key files as bytes ---- */

/* The comment line of a key file, without its line end. */
static char *first_line(const char *path)
{
    size_t len;
    unsigned char *text = ut_read_file(path, &len);
    char *s = calloc(1, len + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, text, len);
    free(text);
    s[strcspn(s, "\n")] = '\0';
    return s;
}

/* The decoded second line of a key file, which must be `want` bytes. */
static void read_struct(const char *path, unsigned char *out, size_t want)
{
    size_t len, got = 0;
    unsigned char *text = ut_read_file(path, &len);
    char *s = calloc(1, len + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, text, len);
    free(text);
    char *line = strchr(s, '\n');
    ck_assert_ptr_nonnull(line);
    line++;
    line[strcspn(line, "\n")] = '\0';
    ck_assert_int_eq(sodium_base642bin(out, want, line, strlen(line), NULL, &got, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    ck_assert_uint_eq(got, want);
    free(s);
}

/* Write a key file holding these struct bytes. */
static void write_struct(const char *path, const char *comment, const unsigned char *bin,
                         size_t len)
{
    char b64[512], text[640];
    sodium_bin2base64(b64, sizeof b64, bin, len, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(text, sizeof text, "untrusted comment: %s\n%s\n", comment, b64);
    ut_write_file(path, text, (size_t)n);
}

/* Checksum of a secret key struct, as keys.md 3 and 7.2 define it. */
static void struct_checksum(unsigned char sk[SK_STRUCT])
{
    unsigned char in[2 + 8 + 64];
    memcpy(in, sk, 2);
    memcpy(in + 2, sk + SK_OFF_KEYNUM, 8);
    memcpy(in + 10, sk + SK_OFF_SECRET, 64);
    crypto_generichash(sk + SK_OFF_CHK, 32, in, sizeof in, NULL, 0);
}

static int no_passphrase_calls;
static int ask_none(void *ctx, const char *path, char *buf, size_t size)
{
    (void)ctx, (void)path, (void)buf, (void)size;
    no_passphrase_calls++;
    return -1;
}

/* Gives ctx->pass, and notes the kind the key reports while it is asked. */
typedef struct {
    const char *pass;
    vmrp_key *key;
    int calls;
    int kind_when_asked;
} ask_ctx;

static int ask_pass(void *ctx, const char *path, char *buf, size_t size)
{
    ask_ctx *a = ctx;
    (void)path;
    a->calls++;
    a->kind_when_asked = vmrp_key_kind(a->key);
    snprintf(buf, size, "%s", a->pass);
    return 0;
}

/* Load a secret key file without a passphrase source. */
static int load_secret(vmrp_key *k, const char *path)
{
    return vmrp_key_load_secret(k, path, ask_none, NULL);
}

/* A new key pair of one kind, saved to dir/NAME.key and dir/NAME.pub. */
static vmrp_key *new_saved(int kind, const char *name, const char *pass)
{
    char sk[4096], pk[4096], n1[64], n2[64];
    snprintf(n1, sizeof n1, "%s.key", name);
    snprintf(n2, sizeof n2, "%s.pub", name);
    vmrp_key *k = vmrp_key_new();
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(kind == VMRP_KEY_ENCRYPTION ? vmrp_key_generate_encryption(k)
                                                 : vmrp_key_generate(k),
                     VMRP_OK);
    ck_assert_int_eq(vmrp_key_save(k, path_in(sk, sizeof sk, n1), path_in(pk, sizeof pk, n2), pass),
                     VMRP_OK);
    return k;
}

static void assert_same_key(const vmrp_key *a, const vmrp_key *b)
{
    char ida[17], idb[17];
    vmrp_key_id(a, ida);
    vmrp_key_id(b, idb);
    ck_assert_str_eq(ida, idb);
    ck_assert_int_eq(vmrp_key_kind(a), vmrp_key_kind(b));
}

/* ---- encryption keys: round trips ---- */

START_TEST(test_x1_round_trip_unprotected)
{
    vmrp_key *k = new_saved(VMRP_KEY_ENCRYPTION, "e", NULL);
    ck_assert_int_eq(vmrp_key_kind(k), VMRP_KEY_ENCRYPTION);
    ck_assert_ptr_nonnull(key_box_public(k));
    ck_assert_ptr_nonnull(key_box_secret(k));
    /* The generated halves belong together. */
    unsigned char pk[32];
    ck_assert_int_eq(crypto_scalarmult_base(pk, key_box_secret(k)), 0);
    ck_assert_mem_eq(pk, key_box_public(k), 32);

    char sk_path[4096], pk_path[4096];
    path_in(sk_path, sizeof sk_path, "e.key");
    path_in(pk_path, sizeof pk_path, "e.pub");

    /* The files: comments, algorithm ids, and a checksum even unprotected. */
    char id[17], want[128];
    vmrp_key_id(k, id);
    snprintf(want, sizeof want, "untrusted comment: vmrp encryption public key %s", id);
    char *line = first_line(pk_path);
    ck_assert_str_eq(line, want);
    free(line);
    line = first_line(sk_path);
    ck_assert_str_eq(line, "untrusted comment: vmrp encryption secret key");
    free(line);
    unsigned char pub[PK_STRUCT], sec[SK_STRUCT], chk[SK_STRUCT];
    read_struct(pk_path, pub, sizeof pub);
    read_struct(sk_path, sec, sizeof sec);
    ck_assert_mem_eq(pub, "X1", 2);
    ck_assert_mem_eq(pub + 10, key_box_public(k), 32);
    ck_assert_mem_eq(sec, "X1\0\0B2", 6);
    ck_assert_mem_eq(sec + SK_OFF_KEYNUM, pub + 2, 8);
    ck_assert_mem_eq(sec + SK_OFF_SECRET, key_box_secret(k), 32);
    ck_assert_mem_eq(sec + SK_OFF_PUBLIC, key_box_public(k), 32);
    memcpy(chk, sec, sizeof chk);
    struct_checksum(chk);
    ck_assert(!ut_all_zero(sec + SK_OFF_CHK, 32));
    ck_assert_mem_eq(sec + SK_OFF_CHK, chk + SK_OFF_CHK, 32);
    struct stat st;
    ck_assert_int_eq(stat(sk_path, &st), 0);
    ck_assert_int_eq(st.st_mode & 077, 0);

    vmrp_key *s = vmrp_key_new();
    no_passphrase_calls = 0;
    ck_assert_int_eq(load_secret(s, sk_path), VMRP_OK);
    ck_assert_int_eq(no_passphrase_calls, 0);
    assert_same_key(k, s);
    ck_assert(vmrp_key_has_secret(s));
    ck_assert_mem_eq(key_box_secret(s), key_box_secret(k), 32);
    ck_assert_mem_eq(key_box_public(s), key_box_public(k), 32);

    vmrp_key *p = vmrp_key_new();
    ck_assert_int_eq(vmrp_key_load_public(p, pk_path), VMRP_OK);
    assert_same_key(k, p);
    ck_assert(!vmrp_key_has_secret(p));
    ck_assert_mem_eq(key_box_public(p), key_box_public(k), 32);
    ck_assert_ptr_null(key_box_secret(p));

    /* Saving again never replaces a key file. */
    ck_assert_int_eq(vmrp_key_save(s, sk_path, NULL, NULL), VMRP_E_EXISTS);
    vmrp_key_free(p);
    vmrp_key_free(s);
    vmrp_key_free(k);
}
END_TEST

START_TEST(test_x1_round_trip_protected)
{
    vmrp_key *k = new_saved(VMRP_KEY_ENCRYPTION, "p", "correct horse");
    char sk_path[4096];
    path_in(sk_path, sizeof sk_path, "p.key");
    char *line = first_line(sk_path);
    ck_assert_str_eq(line, "untrusted comment: vmrp encryption secret key");
    free(line);
    unsigned char sec[SK_STRUCT];
    read_struct(sk_path, sec, sizeof sec);
    ck_assert_mem_eq(sec, "X1Sc", 4);
    /* Key_Block is stored encrypted: not the plain secret. */
    ck_assert(memcmp(sec + SK_OFF_SECRET, key_box_secret(k), 32) != 0);

    vmrp_key *s = vmrp_key_new();
    no_passphrase_calls = 0;
    ck_assert_int_eq(load_secret(s, sk_path), VMRP_E_KEY);
    ck_assert_int_eq(no_passphrase_calls, 1);
    ck_assert_int_eq(vmrp_key_kind(s), 0);

    ask_ctx wrong = {"wrong horse", s, 0, 0};
    ck_assert_int_eq(vmrp_key_load_secret(s, sk_path, ask_pass, &wrong), VMRP_E_KEY);
    ck_assert_ptr_nonnull(strstr(vmrp_key_error_string(s), "wrong passphrase"));
    ck_assert_int_eq(vmrp_key_kind(s), 0);
    ck_assert_ptr_null(key_box_secret(s));

    ask_ctx right = {"correct horse", s, 0, 0};
    ck_assert_int_eq(vmrp_key_load_secret(s, sk_path, ask_pass, &right), VMRP_OK);
    ck_assert_int_eq(right.calls, 1);
    /* The kind is known before the passphrase is asked (the CLI refuses a
     * key of the wrong kind without prompting). */
    ck_assert_int_eq(right.kind_when_asked, VMRP_KEY_ENCRYPTION);
    assert_same_key(k, s);
    ck_assert_mem_eq(key_box_secret(s), key_box_secret(k), 32);
    ck_assert_mem_eq(key_box_public(s), key_box_public(k), 32);
    vmrp_key_free(s);
    vmrp_key_free(k);
}
END_TEST

/* ---- kinds ---- */

START_TEST(test_kind_reported)
{
    vmrp_key *k = vmrp_key_new();
    ck_assert_int_eq(vmrp_key_kind(k), 0);
    ck_assert_int_eq(vmrp_key_kind(NULL), 0);
    ck_assert_ptr_null(key_box_public(k));
    ck_assert_int_eq(vmrp_key_generate(k), VMRP_OK);
    ck_assert_int_eq(vmrp_key_kind(k), VMRP_KEY_SIGNING);
    ck_assert_ptr_null(key_box_public(k));
    ck_assert_ptr_null(key_box_secret(k));
    ck_assert_int_eq(vmrp_key_generate_encryption(k), VMRP_OK);
    ck_assert_int_eq(vmrp_key_kind(k), VMRP_KEY_ENCRYPTION);
    ck_assert_ptr_nonnull(key_box_public(k));
    ck_assert_ptr_nonnull(key_box_secret(k));
    ck_assert_int_eq(vmrp_key_generate(k), VMRP_OK);
    ck_assert_int_eq(vmrp_key_kind(k), VMRP_KEY_SIGNING);
    ck_assert_ptr_null(key_box_secret(k));
    vmrp_key_free(k);
}
END_TEST

/* Each kind loads from its files as that kind, and a failed load leaves an
 * empty handle behind, never the previous key. */
START_TEST(test_kind_from_files)
{
    vmrp_key *e = new_saved(VMRP_KEY_ENCRYPTION, "e", NULL);
    vmrp_key *g = new_saved(VMRP_KEY_SIGNING, "s", NULL);
    char path[4096];
    vmrp_key *k = vmrp_key_new();
    ck_assert_int_eq(vmrp_key_load_public(k, path_in(path, sizeof path, "s.pub")), VMRP_OK);
    ck_assert_int_eq(vmrp_key_kind(k), VMRP_KEY_SIGNING);
    ck_assert_ptr_null(key_box_public(k));
    ck_assert_int_eq(load_secret(k, path_in(path, sizeof path, "s.key")), VMRP_OK);
    ck_assert_int_eq(vmrp_key_kind(k), VMRP_KEY_SIGNING);
    ck_assert_ptr_null(key_box_secret(k));
    ck_assert_int_eq(load_secret(k, path_in(path, sizeof path, "e.key")), VMRP_OK);
    ck_assert_int_eq(vmrp_key_kind(k), VMRP_KEY_ENCRYPTION);
    ck_assert_int_eq(vmrp_key_load_public(k, path_in(path, sizeof path, "s.pub")), VMRP_OK);
    ck_assert_int_eq(vmrp_key_kind(k), VMRP_KEY_SIGNING);
    ck_assert(!vmrp_key_has_secret(k)); /* the X25519 secret is gone */
    ck_assert_int_eq(load_secret(k, path_in(path, sizeof path, "missing.key")), VMRP_E_NOT_FOUND);
    ck_assert_int_eq(vmrp_key_kind(k), 0);
    vmrp_key_free(k);
    vmrp_key_free(g);
    vmrp_key_free(e);
}
END_TEST

/* A secret key file where a public one is needed, and the reverse. */
START_TEST(test_wrong_half_named)
{
    vmrp_key *e = new_saved(VMRP_KEY_ENCRYPTION, "e", NULL);
    char path[4096];
    vmrp_key *k = vmrp_key_new();
    ck_assert_int_eq(vmrp_key_load_public(k, path_in(path, sizeof path, "e.key")), VMRP_E_KEY);
    ck_assert_ptr_nonnull(strstr(vmrp_key_error_string(k), "is a secret key file"));
    ck_assert_int_eq(vmrp_key_kind(k), 0);
    ck_assert_int_eq(load_secret(k, path_in(path, sizeof path, "e.pub")), VMRP_E_KEY);
    ck_assert_ptr_nonnull(strstr(vmrp_key_error_string(k), "is a public key file"));
    vmrp_key_free(k);
    vmrp_key_free(e);
}
END_TEST

/* ---- an encryption key never signs, a signing key never decrypts ---- */

START_TEST(test_encryption_key_does_not_sign)
{
    unsigned char hash[HASH_SIZE], sig[SIGNATURE_SIZE], sig2[SIGNATURE_SIZE];
    memset(hash, 0x5a, sizeof hash);
    vmrp_key *g = vmrp_key_new();
    vmrp_key *e = vmrp_key_new();
    ck_assert_int_eq(vmrp_key_generate(g), VMRP_OK);
    ck_assert_int_eq(vmrp_key_generate_encryption(e), VMRP_OK);

    /* The signing key signs and verifies: the refusals below are real. */
    ck_assert_int_eq(key_sign_commit(g, hash, sig), VMRP_OK);
    ck_assert_int_eq(key_verify_commit(g, hash, sig), 1);

    ck_assert_int_eq(key_sign_commit(e, hash, sig2), VMRP_E_KEY);
    ck_assert_int_eq(key_verify_commit(e, hash, sig), 0);
    /* Not even an "encryption" public key file that holds the signer's
     * Ed25519 public key verifies its signature. */
    char path[4096], sigpath[4096];
    unsigned char pub[PK_STRUCT];
    vmrp_key *gp = new_saved(VMRP_KEY_SIGNING, "g", NULL);
    ck_assert_int_eq(key_sign_commit(gp, hash, sig), VMRP_OK);
    read_struct(path_in(path, sizeof path, "g.pub"), pub, sizeof pub);
    vmrp_key *x = vmrp_key_new();
    ck_assert_int_eq(vmrp_key_load_public(x, path), VMRP_OK);
    ck_assert_int_eq(key_verify_commit(x, hash, sig), 1);
    memcpy(pub, "X1", 2);
    write_struct(path_in(path, sizeof path, "gx.pub"), "test", pub, sizeof pub);
    ck_assert_int_eq(vmrp_key_load_public(x, path), VMRP_OK);
    ck_assert_int_eq(vmrp_key_kind(x), VMRP_KEY_ENCRYPTION);
    ck_assert_int_eq(key_verify_commit(x, hash, sig), 0);
    vmrp_key_free(x);
    vmrp_key_free(gp);

    path_in(path, sizeof path, "data");
    path_in(sigpath, sizeof sigpath, "data.minisig");
    ut_write_file(path, "some bytes", 10);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(vmrp_key_sign_file(e, fd, sigpath, "c"), VMRP_E_KEY);
    ck_assert_ptr_nonnull(strstr(vmrp_key_error_string(e), "encryption"));
    ck_assert(!ut_file_exists(sigpath));
    ck_assert_int_eq(vmrp_key_sign_file(g, fd, sigpath, "c"), VMRP_OK);
    ck_assert(ut_file_exists(sigpath));
    close(fd);

    /* A loaded encryption key is refused the same way. */
    vmrp_key_free(e);
    e = new_saved(VMRP_KEY_ENCRYPTION, "e", NULL);
    vmrp_key *l = vmrp_key_new();
    ck_assert_int_eq(load_secret(l, path_in(path, sizeof path, "e.key")), VMRP_OK);
    ck_assert_int_eq(key_sign_commit(l, hash, sig2), VMRP_E_KEY);
    vmrp_key_free(l);
    vmrp_key_free(e);
    vmrp_key_free(g);
}
END_TEST

START_TEST(test_signing_key_is_no_recipient)
{
    vmrp_key *g = new_saved(VMRP_KEY_SIGNING, "s", NULL);
    char path[4096];
    vmrp_key *k = vmrp_key_new();
    ck_assert_int_eq(vmrp_key_load_public(k, path_in(path, sizeof path, "s.pub")), VMRP_OK);
    ck_assert_ptr_null(key_box_public(k));
    ck_assert_int_eq(load_secret(k, path_in(path, sizeof path, "s.key")), VMRP_OK);
    ck_assert_ptr_null(key_box_public(k));
    ck_assert_ptr_null(key_box_secret(k));
    vmrp_key_free(k);
    vmrp_key_free(g);
}
END_TEST

/* ---- damaged and foreign files ---- */

/* Saved unprotected X1 key e.key as bytes. */
static vmrp_key *x1_struct(unsigned char sec[SK_STRUCT], char *path, size_t cap)
{
    vmrp_key *k = new_saved(VMRP_KEY_ENCRYPTION, "e", NULL);
    read_struct(path_in(path, cap, "e.key"), sec, SK_STRUCT);
    return k;
}

/* 1 when a secret key file with these bytes loads. */
static int secret_loads(const unsigned char sec[SK_STRUCT], const char *name)
{
    char path[4096];
    write_struct(path_in(path, sizeof path, name), "test", sec, SK_STRUCT);
    vmrp_key *k = vmrp_key_new();
    int rc = load_secret(k, path);
    if (rc != VMRP_OK) {
        ck_assert_int_eq(rc, VMRP_E_KEY);
        ck_assert_ptr_nonnull(strstr(vmrp_key_error_string(k), path));
        ck_assert_int_eq(vmrp_key_kind(k), 0);
    }
    vmrp_key_free(k);
    return rc == VMRP_OK;
}

START_TEST(test_x1_public_half_checked)
{
    unsigned char sec[SK_STRUCT], bad[SK_STRUCT];
    char path[4096];
    vmrp_key *k = x1_struct(sec, path, sizeof path);
    ck_assert(secret_loads(sec, "same.key"));
    /* Another public half with a matching checksum: only the
     * crypto_scalarmult_base check can catch it. */
    memcpy(bad, sec, sizeof bad);
    bad[SK_OFF_PUBLIC + 7] ^= 0x01;
    struct_checksum(bad);
    ck_assert(!secret_loads(bad, "pk.key"));
    /* The public half of another key, checksum fixed: refused too. */
    vmrp_key *other = vmrp_key_new();
    ck_assert_int_eq(vmrp_key_generate_encryption(other), VMRP_OK);
    memcpy(bad, sec, sizeof bad);
    memcpy(bad + SK_OFF_PUBLIC, key_box_public(other), 32);
    struct_checksum(bad);
    ck_assert(!secret_loads(bad, "other.key"));
    vmrp_key_free(other);
    vmrp_key_free(k);
}
END_TEST

START_TEST(test_x1_corrupted_refused)
{
    unsigned char sec[SK_STRUCT], bad[SK_STRUCT];
    char path[4096];
    vmrp_key *k = x1_struct(sec, path, sizeof path);

    /* Every single bit flip of the key block, checksum left as stored. */
    for (size_t off = SK_OFF_KEYNUM; off < SK_STRUCT; off++) {
        memcpy(bad, sec, sizeof bad);
        bad[off] ^= (unsigned char)(1u << (off % 8));
        ck_assert_msg(!secret_loads(bad, "flip.key"), "flip at offset %zu accepted", off);
    }
    /* A zero checksum, which minisign's unprotected Ed keys may carry. */
    memcpy(bad, sec, sizeof bad);
    memset(bad + SK_OFF_CHK, 0, 32);
    ck_assert(!secret_loads(bad, "zero.key"));
    /* Unknown algorithm, checksum algorithm, key derivation. */
    memcpy(bad, sec, sizeof bad);
    bad[1] = '2';
    ck_assert(!secret_loads(bad, "alg.key"));
    memcpy(bad, sec, sizeof bad);
    bad[5] = '3';
    ck_assert(!secret_loads(bad, "chk.key"));
    memcpy(bad, sec, sizeof bad);
    bad[SK_OFF_KDF] = 'S';
    ck_assert(!secret_loads(bad, "kdf.key"));
    /* The X25519 key relabelled as Ed25519 (checksum fixed): the Ed25519
     * public-half check refuses it. */
    memcpy(bad, sec, sizeof bad);
    memcpy(bad, "Ed", 2);
    struct_checksum(bad);
    ck_assert(!secret_loads(bad, "ed.key"));

    /* Public key files: another algorithm, a short structure. */
    unsigned char pub[PK_STRUCT];
    read_struct(path_in(path, sizeof path, "e.pub"), pub, sizeof pub);
    vmrp_key *p = vmrp_key_new();
    pub[0] = 'Y';
    write_struct(path_in(path, sizeof path, "alg.pub"), "test", pub, sizeof pub);
    ck_assert_int_eq(vmrp_key_load_public(p, path), VMRP_E_KEY);
    pub[0] = 'X';
    write_struct(path_in(path, sizeof path, "short.pub"), "test", pub, sizeof pub - 1);
    ck_assert_int_eq(vmrp_key_load_public(p, path), VMRP_E_KEY);
    write_struct(path_in(path, sizeof path, "good.pub"), "test", pub, sizeof pub);
    ck_assert_int_eq(vmrp_key_load_public(p, path), VMRP_OK);
    ck_assert_int_eq(vmrp_key_kind(p), VMRP_KEY_ENCRYPTION);
    vmrp_key_free(p);
    vmrp_key_free(k);
}
END_TEST

/* ---- the test vectors of keys.md ---- */

static const char spec_x1_pub[] =
    "untrusted comment: vmrp encryption public key 92299EA50C1824BB\n"
    "WDG7JBgMpZ4pkkCuxivyrfmUXVkW2WLqLqGugHZpZgm4NLlzkvbh2HF8\n";
static const char spec_x1_key[] =
    "untrusted comment: vmrp encryption secret key\n"
    "WDEAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAuyQYDKWeKZIBMGPFoCSRlD"
    "2Bz85auUqAvX4fqTdwiuHn35Ko6q7KekCuxivyrfmUXVkW2WLqLqGugHZpZgm4NLlzkvbh2HF8DzZALDYLda1zB3xk8kQm"
    "jSPuWSfyXbFZbZHtVPHyKWA=\n";
static const char spec_ed_key[] =
    "untrusted comment: minisign secret key\n"
    "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAwoBH3nvZ1uQCmLannroxZS"
    "fooZVjiHkZ7Ei5PRM3xTjEZYabvwR6A81t2FU0WBAs7Hdo8hhgwm7I/cQY9n6c+x7fmiHWKOVMAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAA=\n";

static void hex(unsigned char *out, size_t n, const char *h)
{
    ck_assert_int_eq(sodium_hex2bin(out, n, h, strlen(h), NULL, NULL, NULL), 0);
}

START_TEST(test_spec_vectors)
{
    char path[4096], id[17];
    unsigned char sk[32], pk[32];
    hex(sk, 32, "013063c5a02491943d81cfce5ab94a80bd7e1fa937708ae1e7df92a8eaaeca7a");
    hex(pk, 32, "40aec62bf2adf9945d5916d962ea2ea1ae8076696609b834b97392f6e1d8717c");

    vmrp_key *k = vmrp_key_new();
    ut_write_file(path_in(path, sizeof path, "x.pub"), spec_x1_pub, strlen(spec_x1_pub));
    ck_assert_int_eq(vmrp_key_load_public(k, path), VMRP_OK);
    ck_assert_int_eq(vmrp_key_kind(k), VMRP_KEY_ENCRYPTION);
    vmrp_key_id(k, id);
    ck_assert_str_eq(id, "92299EA50C1824BB");
    ck_assert_mem_eq(key_box_public(k), pk, 32);

    ut_write_file(path_in(path, sizeof path, "x.key"), spec_x1_key, strlen(spec_x1_key));
    ck_assert_int_eq(load_secret(k, path), VMRP_OK);
    ck_assert_int_eq(vmrp_key_kind(k), VMRP_KEY_ENCRYPTION);
    vmrp_key_id(k, id);
    ck_assert_str_eq(id, "92299EA50C1824BB");
    ck_assert_mem_eq(key_box_secret(k), sk, 32);
    ck_assert_mem_eq(key_box_public(k), pk, 32);

    /* keys.md 7.5: refused with a zero checksum. */
    unsigned char sec[SK_STRUCT];
    read_struct(path, sec, sizeof sec);
    memset(sec + SK_OFF_CHK, 0, 32);
    ck_assert(!secret_loads(sec, "x0.key"));

    /* The signing test key of keys.md 6 still loads, as a signing key. */
    ut_write_file(path_in(path, sizeof path, "ed.key"), spec_ed_key, strlen(spec_ed_key));
    ck_assert_int_eq(load_secret(k, path), VMRP_OK);
    ck_assert_int_eq(vmrp_key_kind(k), VMRP_KEY_SIGNING);
    vmrp_key_id(k, id);
    ck_assert_str_eq(id, "E4D6D97BDE4780C2");
    vmrp_key_free(k);
}
END_TEST

/* Signing keys keep minisign's layout: "Ed", and a zero checksum when
 * unprotected, as minisign -G -W writes. */
START_TEST(test_ed_files_unchanged)
{
    vmrp_key *g = new_saved(VMRP_KEY_SIGNING, "s", NULL);
    char path[4096];
    unsigned char sec[SK_STRUCT], pub[PK_STRUCT];
    read_struct(path_in(path, sizeof path, "s.key"), sec, sizeof sec);
    char *line = first_line(path);
    ck_assert_str_eq(line, "untrusted comment: minisign secret key");
    free(line);
    ck_assert_mem_eq(sec, "Ed\0\0B2", 6);
    ck_assert(ut_all_zero(sec + SK_OFF_CHK, 32));
    read_struct(path_in(path, sizeof path, "s.pub"), pub, sizeof pub);
    ck_assert_mem_eq(pub, "Ed", 2);
    line = first_line(path);
    ck_assert_ptr_nonnull(strstr(line, "untrusted comment: minisign public key "));
    free(line);
    vmrp_key_free(g);
}
END_TEST

static Suite *keys_suite(void)
{
    Suite *s = suite_create("keys");
    TCase *tc = tcase_create("keys");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120); /* scrypt with 1 GiB, three times */
    tcase_add_test(tc, test_x1_round_trip_unprotected);
    tcase_add_test(tc, test_x1_round_trip_protected);
    tcase_add_test(tc, test_kind_reported);
    tcase_add_test(tc, test_kind_from_files);
    tcase_add_test(tc, test_wrong_half_named);
    tcase_add_test(tc, test_encryption_key_does_not_sign);
    tcase_add_test(tc, test_signing_key_is_no_recipient);
    tcase_add_test(tc, test_x1_public_half_checked);
    tcase_add_test(tc, test_x1_corrupted_refused);
    tcase_add_test(tc, test_spec_vectors);
    tcase_add_test(tc, test_ed_files_unchanged);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(keys_suite());
}
