/* fuzz_append.c - the append path of vmrp_writer_open() on a hostile file.
 *
 * Each input is written to a file in a private directory under /tmp and
 * opened for appending. The writer must either refuse, or append one small
 * point (disk "disk0" from a small image written to a temp file, maybe a
 * VM configuration and a config file, maybe "disk1" excluded) and commit.
 *
 * Oracles beyond the sanitizers:
 *  - refused: a file the reader does not accept is left byte for byte as it
 *    was; an archive the reader accepts keeps at least its committed bytes
 *    (only a torn tail may go);
 *  - accepted: vmrp_reader_open() sees the old points plus one, the old
 *    points keep their names and commit hashes, the first committed-size
 *    bytes of the file are those of the input, the new point's disk0 reads
 *    back exactly as the image, its configuration is the one given or the
 *    one inherited from the old latest point; and when the input verified,
 *    the result verifies too.
 *
 * Encrypted archives (format 1.2): the readers of the oracles use the test
 * identity and, when the input asks for little enough Argon2id work, the
 * test passphrase. The writer appends to an encrypted input without a key
 * (keyless), with the identity, with the passphrase or with both (chosen
 * by the input's hash); an input with no committed point becomes, one time
 * in two, a new encrypted archive with a passphrase slot (Argon2id 1 pass,
 * 8 KiB) and a recipient slot for the test identity. A keyless append
 * stores every disk FULL under a new family and inherits no configuration
 * (8.1.1). When the test keys do not open the input, the committed bytes
 * and points are taken from the commit chain alone (the writer's own
 * keyless view, reader->keyless_ok); a keyless append to it must give an
 * archive that fails to open as the input did (VMRP_E_KEY, or damage the
 * keyless writer cannot see), and that verifies without a key when the
 * input did.
 */
#define FUZZ_ARCHIVE_MUTATOR
#include "fuzz_common.h"

#include "vmrp_private.h" /* vmrp_reader::keyless_ok */

#include <fcntl.h>
#include <sys/stat.h>

static char g_dir[64];
static char g_archive[96];
static char g_disk[96];

static void cleanup_dir(void)
{
    if (!g_dir[0])
        return;
    unlink(g_archive);
    unlink(g_disk);
    rmdir(g_dir);
}

static void ensure_dir(void)
{
    if (g_dir[0])
        return;
    snprintf(g_dir, sizeof g_dir, "/tmp/vmrp-fuzz-append.XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        abort();
    }
    snprintf(g_archive, sizeof g_archive, "%s/a.vmrp", g_dir);
    snprintf(g_disk, sizeof g_disk, "%s/disk0.img", g_dir);
    atexit(cleanup_dir);
}

static unsigned char *read_whole(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    FUZZ_CHECK(fstat(fd, &st) == 0, "fstat");
    unsigned char *buf = malloc((size_t)st.st_size + 1);
    FUZZ_CHECK(buf != NULL, "malloc");
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        FUZZ_CHECK(n > 0, "read %s", path);
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return buf;
}

typedef struct {
    unsigned char *buf;
    uint64_t size;
    int ok;
} image_sink;

static int copy_sink(void *ctx, uint64_t offset, const void *data, size_t size)
{
    image_sink *s = ctx;
    if (offset > s->size || size > s->size - offset) {
        s->ok = 0;
        return VMRP_E_CORRUPT;
    }
    memcpy(s->buf + offset, data, size);
    return 0;
}

/* Whether the archive on fd verifies: with the test keys for the input's
 * bytes d (NULL: without a key). */
static int verifies(int fd, const uint8_t *d, size_t n)
{
    vmrp_reader *r = vmrp_reader_new();
    vmrp_verify_report rep;
    FUZZ_CHECK(r && lseek(fd, 0, SEEK_SET) == 0, "verify setup");
    if (d)
        fz_set_keys(r, d, n, NULL);
    int rc = vmrp_reader_verify(r, fd, "fuzz.vmrp", &rep);
    vmrp_reader_free(r);
    return rc == VMRP_OK || (rc == VMRP_E_TORN && rep.points > 0);
}

/* A pseudo-random but input-determined block. */
static void fill_pattern(unsigned char *p, size_t n, const unsigned char seed[32])
{
    for (size_t off = 0; off < n; off += 64) {
        unsigned char blk[64];
        unsigned char in[40];
        memcpy(in, seed, 32);
        uint64_t c = off;
        memcpy(in + 32, &c, 8);
        crypto_generichash(blk, sizeof blk, in, sizeof in, NULL, 0);
        memcpy(p + off, blk, n - off < 64 ? n - off : 64);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init_once();
    ensure_dir();
    unlink(g_archive);
    unlink(g_disk);
    unsigned char seed[32];
    crypto_generichash(seed, sizeof seed, data, size, NULL, 0);
    const unsigned sel = seed[0] | ((unsigned)seed[1] << 8);

    /* What a reader makes of the input, before the writer touches it. */
    int mfd = fuzz_memfd("fuzz_append", data, size);
    vmrp_reader *old = vmrp_reader_new();
    FUZZ_CHECK(old != NULL, "reader");
    const int pass_cheap = fz_set_keys(old, data, size, NULL);
    int rc0 = vmrp_reader_open_fd(old, mfd, "old.vmrp");
    uint32_t n0 = rc0 == VMRP_OK ? vmrp_reader_point_count(old) : 0;
    uint64_t committed0 = rc0 == VMRP_OK ? vmrp_reader_collection(old)->committed_size : 0;
    uint32_t bs = (rc0 == VMRP_OK && n0 > 0) ? vmrp_reader_collection(old)->block_size : 4096;
    int old_verifies = rc0 == VMRP_OK && n0 > 0 && verifies(mfd, data, size);
    /* The collection key, pinned for a keyless append: the test vouches for
     * the key it finds, so that the append path is what is fuzzed. */
    unsigned char pin[32];
    int have_pin = rc0 == VMRP_OK && vmrp_reader_collection_key(old, pin) == VMRP_OK;
    /* An encrypted archive the test keys do not open (no slot opens, or its
     * encrypted contents do not check): its commit chain, as a writer
     * without a key reads it. */
    int keyless_view = 0;
    if (rc0 != VMRP_OK && fz_encrypted(data, size)) {
        vmrp_reader *kl = vmrp_reader_new();
        FUZZ_CHECK(kl != NULL, "reader");
        kl->keyless_ok = 1;
        if (vmrp_reader_open_fd(kl, mfd, "old.vmrp") == VMRP_OK) {
            const vmrp_collection_info *ci = vmrp_reader_collection(kl);
            keyless_view = 1;
            n0 = ci->point_count;
            committed0 = ci->committed_size;
            bs = ci->block_size;
            FUZZ_CHECK(n0 > 0 && ci->encrypted && vmrp_reader_point_count(kl) == 0,
                       "keyless view: %u points", n0);
            old_verifies = verifies(mfd, NULL, 0);
            have_pin = vmrp_reader_collection_key(kl, pin) == VMRP_OK;
        }
        vmrp_reader_free(kl);
    }
    const int enc_in = fz_encrypted(data, size) && ((rc0 == VMRP_OK && n0 > 0) || keyless_view);
    const int fresh = rc0 == VMRP_OK && n0 == 0; /* the writer starts a new collection */

    /* The archive file. */
    int afd = open(g_archive, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    FUZZ_CHECK(afd >= 0 && fuzz_write_all(afd, data, size) == 0, "write %s", g_archive);
    close(afd);

    /* The disk: block 0 is the payload of a stored-as-is BLOCK record of the
     * input when there is one (so the writer deduplicates against it), block
     * 1 is zero, then a pattern block and a partial block. */
    uint64_t dsize = (sel & 1) ? (uint64_t)bs : 3ull * bs + 100;
    unsigned char *img = calloc(1, (size_t)dsize);
    FUZZ_CHECK(img != NULL, "calloc");
    fill_pattern(img, bs, seed);
    for (size_t off = fz_next_magic(data, size, 128); off + 16 <= size;
         off = fz_next_magic(data, size, off + 4))
        if (data[off + 4] == 1 && data[off + 5] == 0 && fz_le32(data + off + 8) == bs &&
            size - off - 16 >= bs) {
            memcpy(img, data + off + 16, bs);
            break;
        }
    if (dsize > bs) {
        unsigned char s2[32];
        memcpy(s2, seed, 32);
        s2[31] ^= 0x55;
        fill_pattern(img + 2 * (size_t)bs, (size_t)(dsize - 2 * bs), s2);
    }
    int dfd = open(g_disk, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FUZZ_CHECK(dfd >= 0 && fuzz_write_all(dfd, img, (size_t)dsize) == 0, "write %s", g_disk);

    static const char meta[] = "{\"fuzz\":{\"append\":true}}";
    static const char cfg[] = "<domain type='kvm'/>\n";
    const int set_meta = (sel >> 1) & 1, set_cfg = (sel >> 2) & 1, excl = (sel >> 3) & 1;
    vmrp_writer_options opts;
    memset(&opts, 0, sizeof opts);
    static const int codecs[] = {VMRP_CODEC_ZSTD, VMRP_CODEC_ZLIB, VMRP_CODEC_NONE};
    opts.codec = codecs[(sel >> 4) % 3];
    opts.block_size = (rc0 == VMRP_OK && n0 > 0) ? 0 : 4096;

    /* Keys: see the header comment. */
    const unsigned emode = (sel >> 6) & 3;
    vmrp_encryption enc;
    memset(&enc, 0, sizeof enc);
    const vmrp_key *recipients[1] = {fz_identity()};
    int use_enc = 0;
    if (enc_in && emode != 0) {
        use_enc = 1;
        enc.identity = emode != 2 || !pass_cheap ? fz_identity() : NULL;
        enc.passphrase = emode != 1 && pass_cheap ? FZ_TEST_PASSPHRASE : NULL;
    } else if ((fresh || size == 0) && (emode & 1)) {
        use_enc = 1;
        enc.passphrase = FZ_TEST_PASSPHRASE;
        enc.recipients = recipients;
        enc.recipient_count = 1;
        enc.kdf_opslimit = 1;
        enc.kdf_memlimit = 8192;
    }

    vmrp_writer *w = vmrp_writer_new();
    FUZZ_CHECK(w != NULL, "writer");
    int stage = 0;
    if (use_enc)
        FUZZ_CHECK(vmrp_writer_set_encryption(w, &enc) == VMRP_OK, "set_encryption: %s",
                   vmrp_writer_error_string(w));
    if (have_pin)
        vmrp_writer_set_collection_key(w, pin);
    int rc = vmrp_writer_open(w, g_archive, &opts);
    if (rc == VMRP_OK && ++stage)
        rc = vmrp_writer_set_point(w, "fuzz-append", VMRP_CONSISTENCY_FILESYSTEM);
    if (rc == VMRP_OK && set_meta && ++stage)
        rc = vmrp_writer_set_source_metadata(w, meta, sizeof meta - 1);
    if (rc == VMRP_OK && set_cfg && ++stage)
        rc = vmrp_writer_add_config_file(w, "fuzz/domain.xml", 0640, cfg, sizeof cfg - 1);
    if (rc == VMRP_OK && ++stage)
        rc = vmrp_writer_add_disk(w, "disk0", dfd, g_disk);
    if (rc == VMRP_OK && excl && ++stage)
        rc = vmrp_writer_exclude_disk(w, "disk1");
    if (rc == VMRP_OK && ++stage)
        rc = vmrp_writer_commit(w);
    if (rc != VMRP_OK)
        FUZZ_CHECK(vmrp_writer_error_string(w)[0] != '\0', "refusal without a message (%d)", rc);
    char why[512];
    snprintf(why, sizeof why, "%s", vmrp_writer_error_string(w));
    vmrp_writer_stats st;
    memset(&st, 0, sizeof st);
    if (rc == VMRP_OK)
        vmrp_writer_get_stats(w, &st);
    vmrp_writer_free(w);
    /* keyless: appended to an encrypted archive without its secret */
    const int keyless = enc_in && (!use_enc || keyless_view);
    if (rc == VMRP_OK)
        FUZZ_CHECK(st.keyless == keyless, "writer stats: keyless %d, expected %d", st.keyless,
                   keyless);
    close(dfd);

    size_t alen = 0;
    unsigned char *after = read_whole(g_archive, &alen);
    if (rc != VMRP_OK) {
        if (rc0 != VMRP_OK && !keyless_view) {
            /* Not an archive the library reads: it must not be touched. */
            if (!fuzz_skip("refused-append-truncates"))
                FUZZ_CHECK(after && alen == size && memcmp(after, data, size) == 0,
                           "refused append (stage %d, rc %d: %s) changed the file: %zu bytes "
                           "became %zu",
                           stage, rc, why, size, after ? alen : 0);
        } else if (n0 > 0) {
            /* Committed bytes stay; at most the torn tail went. */
            if (!fuzz_skip("refused-append-truncates"))
                FUZZ_CHECK(after && alen >= committed0 && alen <= size &&
                               memcmp(after, data, alen) == 0,
                           "refused append (stage %d, rc %d: %s) lost committed bytes: %zu "
                           "bytes (%llu committed) became %zu",
                           stage, rc, why, size, (unsigned long long)committed0, after ? alen : 0);
        }
    } else if (keyless_view) {
        /* Appended without a key to an archive the test keys do not open:
         * the chain grew by one, committed bytes stay, and it is still
         * sealed to keys the test keys do not open. */
        FUZZ_CHECK(after != NULL && alen > committed0 && memcmp(after, data, (size_t)committed0) == 0,
                   "keyless append rewrote committed bytes");
        vmrp_reader *r = vmrp_reader_new();
        FUZZ_CHECK(r != NULL, "reader");
        fz_set_keys(r, after, alen, NULL);
        int rc1 = vmrp_reader_open(r, g_archive);
        FUZZ_CHECK(rc1 == rc0, "keyless append to an archive the test keys do not open (%d): "
                               "now open gives %d: %s",
                   rc0, rc1, vmrp_reader_error_string(r));
        vmrp_reader_free(r);
        vmrp_reader *kl = vmrp_reader_new();
        FUZZ_CHECK(kl != NULL, "reader");
        kl->keyless_ok = 1;
        rc1 = vmrp_reader_open(kl, g_archive);
        FUZZ_CHECK(rc1 == VMRP_OK && vmrp_reader_collection(kl)->point_count == n0 + 1,
                   "keyless append: %u points after, %u before (%s)",
                   vmrp_reader_collection(kl)->point_count, n0, vmrp_reader_error_string(kl));
        vmrp_reader_free(kl);
        if (old_verifies) {
            int vfd = open(g_archive, O_RDONLY | O_CLOEXEC);
            FUZZ_CHECK(vfd >= 0, "open");
            FUZZ_CHECK(verifies(vfd, NULL, 0), "input verified without a key, the appended "
                                               "archive does not");
            close(vfd);
        }
    } else {
        FUZZ_CHECK(after != NULL, "archive vanished after a commit");
        vmrp_reader *r = vmrp_reader_new();
        FUZZ_CHECK(r != NULL, "reader");
        fz_set_keys(r, after, alen, NULL);
        int rc1 = vmrp_reader_open(r, g_archive);
        FUZZ_CHECK(rc1 == VMRP_OK, "appended archive does not open: %s", vmrp_reader_error_string(r));
        uint32_t n1 = vmrp_reader_point_count(r);
        FUZZ_CHECK(n1 == n0 + 1, "%u points before the append, %u after", n0, n1);
        if (n0 > 0) {
            FUZZ_CHECK(alen > committed0 && memcmp(after, data, (size_t)committed0) == 0,
                       "append rewrote committed bytes");
            for (uint32_t i = 0; i < n0; i++) {
                const vmrp_point_info *a = vmrp_reader_point(old, i), *b = vmrp_reader_point(r, i);
                FUZZ_CHECK(strcmp(a->name, b->name) == 0 &&
                               memcmp(a->commit_hash, b->commit_hash, 32) == 0,
                           "old point %u changed", i + 1);
            }
        }
        const vmrp_point_info *np = vmrp_reader_point(r, n1 - 1);
        FUZZ_CHECK(strcmp(np->name, "fuzz-append") == 0 && np->consistency == 2, "new point");
        const vmrp_collection_info *ci1 = vmrp_reader_collection(r);
        FUZZ_CHECK(ci1->encrypted == (enc_in || (use_enc && n0 == 0)),
                   "encrypted %d after the append (input %d, keys given %d)", ci1->encrypted,
                   enc_in, use_enc);
        if (n0 == 0 && use_enc)
            FUZZ_CHECK(ci1->key_slot_count == 2, "new encrypted archive with %u key slots",
                       ci1->key_slot_count);
        /* Without the secret: every included disk FULL, every disk a new
         * family (8.1.1). */
        for (uint32_t d = 0; keyless && d < np->disk_count; d++) {
            FUZZ_CHECK(np->disks[d].excluded || np->disks[d].full,
                       "keyless append: disk %s is not FULL", np->disks[d].name);
            for (uint32_t i = 0; i < n0; i++) {
                const vmrp_point_info *op = vmrp_reader_point(r, i);
                for (uint32_t e = 0; e < op->disk_count; e++)
                    FUZZ_CHECK(memcmp(op->disks[e].family_id, np->disks[d].family_id, 16) != 0,
                               "keyless append: disk %s has the family of point %u's disk %s",
                               np->disks[d].name, i + 1, op->disks[e].name);
            }
        }
        /* The disk reads back exactly as it was. */
        image_sink s = {calloc(1, (size_t)dsize), dsize, 1};
        FUZZ_CHECK(s.buf != NULL, "calloc");
        int rrc = vmrp_reader_read_disk(r, n1 - 1, "disk0", copy_sink, &s);
        /* The writer trusts the Block_Ids of the maps it appends to (it
         * never decompresses old data): an archive that did not verify may
         * give a point that does not read back, but never wrong bytes. */
        if (rrc == VMRP_E_CORRUPT && !old_verifies) {
            free(s.buf);
            s.buf = NULL;
        } else {
            FUZZ_CHECK(rrc == VMRP_OK && s.ok, "new point's disk0 does not read: %s",
                       vmrp_reader_error_string(r));
        }
        uint32_t d0 = 0;
        while (d0 < np->disk_count && strcmp(np->disks[d0].name, "disk0") != 0)
            d0++;
        FUZZ_CHECK(d0 < np->disk_count && np->disks[d0].size_bytes == dsize, "disk0 size");
        if (s.buf && !fuzz_skip("append-wrong-block")) {
            size_t bad = 0;
            while (bad < dsize && s.buf[bad] == img[bad])
                bad++;
            FUZZ_CHECK(bad == dsize,
                       "new point's disk0 reads back different data from offset %zu (block %zu)",
                       bad, bad / bs);
        }
        free(s.buf);
        /* Configuration: given, or inherited from the old latest point; in
         * an encrypted archive from the newest point of segment 1's id
         * space, whose Id_Key a keyed writer uses, and never by a keyless
         * append (8.1.1). */
        const vmrp_point_info *lp = NULL;
        uint32_t lk = 0;
        const unsigned char *id0 = n0 > 0 ? reader_id_key(old, 0) : NULL;
        for (uint32_t k = n0; k-- > 0 && !lp && !keyless;)
            if (!id0 || sodium_memcmp(reader_id_key(old, k), id0, 32) == 0)
                lp = vmrp_reader_point(old, lk = k);
        if (ci1->encrypted && n0 > 0) {
            const unsigned char *idn = reader_id_key(r, n1 - 1), *id1 = reader_id_key(r, 0);
            FUZZ_CHECK(idn && id1, "no Id_Keys in an encrypted archive opened with its key");
            if (keyless) {
                for (uint32_t k = 0; k < n0; k++)
                    FUZZ_CHECK(sodium_memcmp(reader_id_key(r, k), idn, 32) != 0,
                               "keyless append: the new point has point %u's Id_Key", k + 1);
            } else {
                FUZZ_CHECK(sodium_memcmp(idn, id1, 32) == 0,
                           "keyed append: the new point's Id_Key is not segment 1's (8.1.1)");
            }
        }
        if (set_meta)
            FUZZ_CHECK(strcmp(np->source_metadata, meta) == 0, "metadata not kept");
        else if (lp)
            FUZZ_CHECK(np->source_metadata_size == lp->source_metadata_size &&
                           memcmp(np->source_metadata, lp->source_metadata,
                                  lp->source_metadata_size) == 0,
                       "metadata not inherited");
        else
            FUZZ_CHECK(strcmp(np->source_metadata, "{}") == 0, "first point metadata");
        if (set_cfg) {
            FUZZ_CHECK(np->config_file_count == 1, "config files %u", np->config_file_count);
            void *buf = NULL;
            size_t len = 0;
            FUZZ_CHECK(vmrp_reader_read_config_file(r, n1 - 1, 0, &buf, &len) == VMRP_OK &&
                           len == sizeof cfg - 1 && memcmp(buf, cfg, len) == 0,
                       "config file does not read back");
            free(buf);
        } else if (!lp) {
            FUZZ_CHECK(np->config_file_count == 0, "%u config files, none given nor inherited",
                       np->config_file_count);
        } else {
            FUZZ_CHECK(np->config_file_count == lp->config_file_count, "config files not inherited");
            for (uint32_t f = 0; f < lp->config_file_count; f++) {
                void *a = NULL, *b = NULL;
                size_t la = 0, lb = 0;
                int ra = vmrp_reader_read_config_file(old, lk, f, &a, &la);
                int rb = vmrp_reader_read_config_file(r, n1 - 1, f, &b, &lb);
                FUZZ_CHECK(strcmp(np->config_files[f].name, lp->config_files[f].name) == 0 &&
                               ra == rb && la == lb && (la == 0 || memcmp(a, b, la) == 0),
                           "config file %u not inherited", f);
                free(a);
                free(b);
            }
        }
        if (old_verifies) {
            int vfd = open(g_archive, O_RDONLY | O_CLOEXEC);
            FUZZ_CHECK(vfd >= 0, "open");
            vmrp_reader *vr = vmrp_reader_new();
            fz_set_keys(vr, after, alen, NULL);
            vmrp_verify_report rep;
            int vrc = vmrp_reader_verify(vr, vfd, g_archive, &rep);
            FUZZ_CHECK(vrc == VMRP_OK, "input verified, the appended archive does not: %s",
                       vmrp_reader_error_string(vr));
            vmrp_reader_free(vr);
            close(vfd);
        }
        vmrp_reader_free(r);
    }
    free(after);
    free(img);
    vmrp_reader_free(old);
    close(mfd);
    unlink(g_archive);
    unlink(g_disk);
    return 0;
}
