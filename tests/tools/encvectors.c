/* encvectors.c - the cryptographic test vectors of an encrypted archive,
 * recomputed from the spec with libsodium (and zstd/zlib) alone: no code of
 * libvmrp is used, so this is a second implementation of format-spec
 * section 5.6 and 4.5 that the fixtures must agree with.
 *
 *   encvectors ARCHIVE IDENTITY_KEY_FILE PASSPHRASE_FILE
 *
 * Prints, for segment 1: the key record's fields, the collection secret
 * unwrapped from the recipient slot and from the passphrase slot (they must
 * be equal), the segment's Data_Key and Id_Key, and the decryption of the
 * segment's POINT record (its associated data, nonce and point name); then
 * the first BLOCK record decrypted and its keyed Block_Id. Test keys only:
 * printing secrets is the point here and nowhere else.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zlib.h>
#include <zstd.h>

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void hex(const char *label, const unsigned char *p, size_t n)
{
    printf("%-22s ", label);
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

static void die(const char *msg)
{
    fprintf(stderr, "encvectors: %s\n", msg);
    exit(1);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
        die("read error");
    fclose(f);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

/* An unprotected encryption secret key file: "X1" 00 00 "B2" salt[32]
 * ops[8] mem[8] keynum[8] sk[32] pk[32] chk[32], base64 on line 2. */
static void load_identity(const char *path, unsigned char sk[32], unsigned char pk[32])
{
    size_t len;
    char *text = (char *)slurp(path, &len);
    char *line = strchr(text, '\n');
    if (!line)
        die("identity: no second line");
    line++;
    line[strcspn(line, "\r\n")] = 0;
    unsigned char bin[160];
    size_t got = 0;
    if (sodium_base642bin(bin, sizeof bin, line, strlen(line), NULL, &got, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != 158 || memcmp(bin, "X1", 2) != 0 || bin[2] || bin[3])
        die("identity: not an unprotected X1 secret key");
    memcpy(sk, bin + 62, 32);
    memcpy(pk, bin + 94, 32);
    free(text);
}

/* Decrypt the record at `off` in place; returns the decoded payload. */
static unsigned char *open_record(unsigned char *file, uint64_t off, const unsigned char coll[16],
                                  const unsigned char data_key[32], int print, size_t *raw_len)
{
    unsigned char *rec = file + off;
    uint32_t stored = le32(rec + 8), raw = le32(rec + 12);
    unsigned char ad[40];
    memcpy(ad, coll, 16);
    for (int i = 0; i < 8; i++)
        ad[16 + i] = (unsigned char)(off >> (8 * i));
    memcpy(ad + 24, rec, 16);
    unsigned char *body = rec + 16 + 24;
    size_t body_len = stored - 40;
    if (print) {
        hex("  associated data", ad, 40);
        hex("  nonce", rec + 16, 24);
        hex("  tag", body + body_len, 16);
    }
    if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(body, NULL, body, body_len,
                                                            body + body_len, ad, 40, rec + 16,
                                                            data_key) != 0)
        die("a record does not decrypt");
    unsigned char *out = malloc(raw);
    if (!out)
        die("out of memory");
    if (rec[5] == 0) {
        if (body_len != raw)
            die("codec 0 size");
        memcpy(out, body, raw);
    } else if (rec[5] == 1) {
        if (ZSTD_decompress(out, raw, body, body_len) != raw)
            die("zstd");
    } else {
        uLongf n = raw;
        if (uncompress(out, &n, body, body_len) != Z_OK || n != raw)
            die("zlib");
    }
    *raw_len = raw;
    return out;
}

int main(int argc, char **argv)
{
    if (argc != 4 || sodium_init() < 0)
        die("usage: encvectors ARCHIVE IDENTITY_KEY_FILE PASSPHRASE_FILE");
    size_t size, plen;
    unsigned char *file = slurp(argv[1], &size);
    char *pass = (char *)slurp(argv[3], &plen);
    pass[strcspn(pass, "\r\n")] = 0;
    unsigned char id_sk[32], id_pk[32];
    load_identity(argv[2], id_sk, id_pk);
    if (size < 128 + 16 + 200 || !(le64(file + 16) & 1))
        die("not an encrypted archive");
    const unsigned char *coll = file + 32;
    printf("segment 1 (offset 128)\n");
    hex("collection id", coll, 16);

    unsigned char *keys = file + 128 + 16;
    if (file[128 + 4] != 7)
        die("the first record is not KEYS");
    const unsigned char *cpk = keys;
    uint32_t slots = le32(keys + 32);
    hex("collection public key", cpk, 32);
    printf("%-22s %u\n", "key slots", slots);

    unsigned char from_recipient[32] = {0}, from_pass[32] = {0};
    for (uint32_t i = 0; i < slots; i++) {
        const unsigned char *s = keys + 200 + 128 * i;
        if (s[0] == 2 && memcmp(s + 16, id_pk, 32) == 0) {
            hex("recipient key id", s + 8, 8);
            if (crypto_box_seal_open(from_recipient, s + 48, 80, id_pk, id_sk) != 0)
                die("recipient slot does not open");
        } else if (s[0] == 1) {
            unsigned char kek[32], ad[88];
            printf("%-22s opslimit %llu, memlimit %llu\n", "passphrase slot",
                   (unsigned long long)le64(s + 8), (unsigned long long)le64(s + 16));
            hex("  salt", s + 24, 16);
            if (crypto_pwhash(kek, 32, pass, strlen(pass), s + 24, le64(s + 8),
                              (size_t)le64(s + 16), crypto_pwhash_ALG_ARGON2ID13) != 0)
                die("argon2id");
            hex("  KEK", kek, 32);
            memcpy(ad, coll, 16);
            memcpy(ad + 16, cpk, 32);
            memcpy(ad + 48, s, 40);
            if (crypto_aead_xchacha20poly1305_ietf_decrypt(from_pass, NULL, NULL, s + 64, 48, ad,
                                                           88, s + 40, kek) != 0)
                die("passphrase slot does not open");
        }
    }
    if (sodium_memcmp(from_recipient, from_pass, 32) != 0)
        die("the two slots unwrap different secrets");
    unsigned char derived[32];
    crypto_scalarmult_base(derived, from_recipient);
    if (memcmp(derived, cpk, 32) != 0)
        die("the unwrapped secret is not the collection's");
    hex("collection secret key", from_recipient, 32);

    unsigned char plain[88];
    if (crypto_box_seal_open(plain, keys + 64, 136, cpk, from_recipient) != 0)
        die("segment keys do not open");
    if (memcmp(plain + 64, coll, 16) != 0 || le64(plain + 80) != 128)
        die("segment keys name another collection or segment");
    hex("Data_Key", plain, 32);
    hex("Id_Key", plain + 32, 32);

    /* walk the segment: the first BLOCK and the POINT record */
    int block_done = 0;
    for (uint64_t off = 128 + 16 + le32(file + 128 + 8); off + 16 <= size;) {
        unsigned char *rec = file + off;
        uint64_t next = off + 16 + le32(rec + 8);
        size_t raw_len;
        if (rec[4] == 1 && !block_done) {
            printf("first BLOCK record at offset %llu (codec %u, stored %u)\n",
                   (unsigned long long)off, rec[5], le32(rec + 8));
            unsigned char *raw = open_record(file, off, coll, plain, 1, &raw_len);
            unsigned char id[32];
            crypto_generichash(id, 32, raw, raw_len, plain + 32, 32);
            hex("  keyed Block_Id", id, 32);
            free(raw);
            block_done = 1;
        } else if (rec[4] == 4) {
            printf("POINT record at offset %llu (codec %u, stored %u, raw %u)\n",
                   (unsigned long long)off, rec[5], le32(rec + 8), le32(rec + 12));
            unsigned char *raw = open_record(file, off, coll, plain, 1, &raw_len);
            printf("%-22s %.*s\n", "  point name", (int)le32(raw + 44), (const char *)raw + 64);
            free(raw);
            break;
        }
        off = next;
    }
    free(file);
    free(pass);
    return 0;
}
