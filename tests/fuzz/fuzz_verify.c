/* fuzz_verify.c - vmrp_reader_verify() on the input (a memfd at offset 0).
 *
 * Oracles beyond the sanitizers: the report is consistent with the input
 * size and the result; and, differentially, an archive the verifier passes
 * (or finds only torn) opens with vmrp_reader_open_fd() with the same points,
 * committed size and head hash, and every disk and configuration file of
 * every point reads back without error (the verifier checked all of them).
 * A passing archive also obeys format rules checked here independently:
 * each segment's POINT record is its last record before the INDEX (5.5),
 * a zstd payload is exactly one frame with nothing before or after it and a
 * zlib payload has FDICT clear (4.3), and the Family_Ids of a point are
 * unique (5.4.2).
 *
 * Encrypted archives (format 1.2): the verifier is given the test identity
 * and, when the input asks for little enough Argon2id work (FZ_KDF_BUDGET
 * in fuzz_common.h), the test passphrase, and the cross-check opens the
 * archive with the same keys. A pass with the keys checked the contents
 * (content_checked); it implies a pass without a key (which checks hashes,
 * structure and signatures only), with the same points; an archive that
 * passes without a key but that the keys do not open fails to open with
 * VMRP_E_KEY. The conformance rules are checked on the records decrypted
 * by the harness's own implementation (fuzz_common.h), which must
 * decrypt every encrypted record of an archive that verified with the
 * keys; and: in an encrypted collection each segment starts with a KEYS
 * record (the only one), slots only in segment 1, Record_Flags bit 0 set
 * exactly on BLOCK, MAP, FILE and POINT records (4.1, 5.6); in an
 * unencrypted one no KEYS record and no flag.
 *
 * Every input is verified again with verify's lists held to two entries
 * and the rest in temporary files (vmrp_reader::verify_keep): the verdict,
 * the message and the report must be the same (skip: verify-spilled).
 */
#define FUZZ_ARCHIVE_MUTATOR
#include "fuzz_common.h"
#include "vmrp_private.h" /* vmrp_reader::verify_keep */

#include <zstd.h>

/* Walk the records of an archive that verified (they tile the file). In
 * an encrypted one (keys given) they are decrypted first, into a copy. */
static void check_conformance(const uint8_t *data, size_t n, int with_keys)
{
    const int encrypted = fz_encrypted(data, n);
    size_t decrypted = 0, flagged = 0;
    uint8_t *d = malloc(n ? n : 1);
    FUZZ_CHECK(d != NULL, "malloc");
    memcpy(d, data, n);
    if (encrypted && with_keys) {
        static fz_keys k;
        FUZZ_CHECK(fz_unlock(d, n, &k, fz_passphrase_cheap(d, n)),
                   "verified with the test keys, but the harness cannot unlock it");
        fz_segment_keys(d, n, &k);
        size_t failed = fz_crypt_records(d, n, &k, 0, &decrypted);
        FUZZ_CHECK(failed == 0, "verified with the test keys, but %zu of %zu encrypted records "
                                "do not decrypt (harness implementation of 4.5)",
                   failed, failed + decrypted);
    }
    uint8_t prev_type = 0;
    size_t seg_start = 128;
    for (size_t off = 128; off + 16 <= n;) {
        uint8_t type = d[off + 4], codec = d[off + 5], flags = d[off + 6];
        size_t stored = fz_le32(d + off + 8), raw = fz_le32(d + off + 12);
        const uint8_t *p = d + off + 16;
        FUZZ_CHECK(stored <= n - off - 16, "record at %zu runs past the end", off);
        FUZZ_CHECK(encrypted ? (off == seg_start) == (type == 7) : type != 7,
                   "record at %zu of type %u: %s", off, type,
                   encrypted ? "a segment starts with its KEYS record, the only one (5.6)"
                             : "KEYS record without encryption");
        FUZZ_CHECK((flags != 0) == (encrypted && type >= 1 && type <= 4) && flags <= 1,
                   "record at %zu of type %u has Record_Flags %#x (4.1)", off, type, flags);
        if (type == 7)
            FUZZ_CHECK(codec == 0 && stored == raw && stored >= 200 &&
                           stored == 200 + 128 * (size_t)fz_le32(p + 32) &&
                           (off == 128) == (fz_le32(p + 32) != 0),
                       "KEYS record at %zu: %zu bytes, %u slots (5.6.1)", off, stored,
                       fz_le32(p + 32));
        if (type == 6)
            seg_start = off + 16 + stored;
        if (flags) {
            flagged++;
            FUZZ_CHECK(stored >= 41 && (codec == 0 ? stored == raw + 40 : stored <= raw + 40),
                       "encrypted record at %zu: stored %zu raw %zu (4.5)", off, stored, raw);
            if (!with_keys) {
                prev_type = type;
                off += 16 + stored;
                continue; /* the payload is ciphertext */
            }
            p += 24;
            stored -= 40;
        }
        if (type == 5)
            FUZZ_CHECK(prev_type == 4,
                       "INDEX at %zu follows a record of type %u: the POINT must be the "
                       "segment's last record (format 5.5)",
                       off, prev_type);
        if (codec == 1) {
            size_t fsz = ZSTD_findFrameCompressedSize(p, stored);
            FUZZ_CHECK(stored >= 4 && fz_le32(p) == 0xFD2FB528u && !ZSTD_isError(fsz) &&
                           fsz == stored,
                       "zstd payload at %zu is not exactly one frame (format 4.3)", off);
        }
        if (codec == 2)
            FUZZ_CHECK(stored >= 2 && (p[1] & 0x20) == 0,
                       "zlib payload at %zu sets FDICT (format 4.3)", off);
        prev_type = type;
        off += 16 + fz_le32(d + off + 8);
    }
    FUZZ_CHECK(!encrypted || !with_keys || decrypted == flagged,
               "verified with the test keys: the harness decrypted %zu of %zu encrypted records "
               "(a segment's sealed keys do not open?)",
               decrypted, flagged);
    free(d);
}

static int null_sink(void *ctx, uint64_t offset, const void *data, size_t size)
{
    (void)ctx;
    (void)offset;
    (void)data;
    (void)size;
    return 0;
}

static void cross_check(int fd, const uint8_t *data, size_t size, const vmrp_verify_report *rep)
{
    vmrp_reader *r = vmrp_reader_new();
    FUZZ_CHECK(r != NULL, "vmrp_reader_new");
    fz_set_keys(r, data, size, NULL);
    int rc = vmrp_reader_open_fd(r, fd, "fuzz.vmrp");
    /* Known finding "torn-vs-damage": a torn report for a file that still
     * ends with a commit's End_Magic, which the reader takes as its head. */
    if (rep->torn_bytes > 0 && size >= 8 && memcmp(data + size - 8, "VMRPEND\x1a", 8) == 0 &&
        fuzz_skip("torn-vs-damage")) {
        vmrp_reader_free(r);
        return;
    }
    FUZZ_CHECK(rc == VMRP_OK, "verify passed (%u points) but open failed: %s", rep->points,
               vmrp_reader_error_string(r));
    const vmrp_collection_info *ci = vmrp_reader_collection(r);
    FUZZ_CHECK(ci->point_count == rep->points, "verify found %u points, open %u", rep->points,
               ci->point_count);
    FUZZ_CHECK(ci->committed_size == rep->committed_size,
               "verify committed size %llu, open %llu (file %zu)",
               (unsigned long long)rep->committed_size, (unsigned long long)ci->committed_size,
               size);
    FUZZ_CHECK(memcmp(ci->head_hash, rep->head_hash, 32) == 0, "head hashes differ");
    for (uint32_t i = 0; i < ci->point_count; i++) {
        const vmrp_point_info *p = vmrp_reader_point(r, i);
        for (uint32_t d = 0; d < p->disk_count; d++) {
            for (uint32_t e = 0; e < d && !fuzz_skip("family-id"); e++)
                FUZZ_CHECK(memcmp(p->disks[e].family_id, p->disks[d].family_id, 16) != 0,
                           "verified point %u: disks %s and %s share a Family_Id (format 5.4.2)",
                           i + 1, p->disks[e].name, p->disks[d].name);
            if (p->disks[d].excluded)
                continue;
            rc = vmrp_reader_read_disk(r, i, p->disks[d].name, null_sink, NULL);
            FUZZ_CHECK(rc == VMRP_OK, "verified archive: point %u disk %s does not read: %s", i + 1,
                       p->disks[d].name, vmrp_reader_error_string(r));
        }
        for (uint32_t f = 0; f < p->config_file_count; f++) {
            void *buf = NULL;
            size_t len = 0;
            rc = vmrp_reader_read_config_file(r, i, f, &buf, &len);
            FUZZ_CHECK(rc == VMRP_OK, "verified archive: point %u config file %s does not read: %s",
                       i + 1, p->config_files[f].name, vmrp_reader_error_string(r));
            free(buf);
        }
    }
    vmrp_reader_free(r);
}

/* fixtures/v1.1/test-signing.pub, loaded once */
static vmrp_key *signing_key(void)
{
    static vmrp_key *key;
    if (!key) {
        static const char pub[] = "untrusted comment: minisign public key AB35F654D92B7716\n"
                                  "RWQWdyvZVPY1q17NJbUk1X5YHMiz17ZWwYauTZ362tsyxIlyQKa1WFvn\n";
        char path[128];
        snprintf(path, sizeof path, "/tmp/vmrp-fuzz-pub.%ld", (long)getpid());
        FILE *f = fopen(path, "w");
        FUZZ_CHECK(f && fputs(pub, f) >= 0 && fclose(f) == 0, "write %s", path);
        key = vmrp_key_new();
        FUZZ_CHECK(key && vmrp_key_load_public(key, path) == VMRP_OK, "load the test key");
        unlink(path);
    }
    return key;
}

/* An encrypted archive verified with the test keys (rc, rep) and again
 * without a key: a key only adds checks. */
static void check_without_key(int fd, int rc, const vmrp_verify_report *rep)
{
    vmrp_reader *r0 = vmrp_reader_new();
    FUZZ_CHECK(r0 != NULL && lseek(fd, 0, SEEK_SET) == 0, "vmrp_reader_new");
    vmrp_verify_report rep0;
    int rc0 = vmrp_reader_verify(r0, fd, "fuzz.vmrp", &rep0);
    FUZZ_CHECK(rc0 != VMRP_E_KEY, "verify without a key gives VMRP_E_KEY");
    FUZZ_CHECK(rc != VMRP_OK || rc0 == VMRP_OK,
               "passes with the keys, not without (%d): %s", rc0, vmrp_reader_error_string(r0));
    if (rc == VMRP_OK)
        FUZZ_CHECK(rep0.points == rep->points && rep0.committed_size == rep->committed_size &&
                       memcmp(rep0.head_hash, rep->head_hash, 32) == 0 && rep0.encrypted &&
                       !rep0.content_checked && rep0.key_slots == rep->key_slots,
                   "without a key: %u points, committed %llu, content_checked %d; with the keys "
                   "%u, %llu",
                   rep0.points, (unsigned long long)rep0.committed_size, rep0.content_checked,
                   rep->points, (unsigned long long)rep->committed_size);
    /* The keys open no slot, and the archive is sound without them: the
     * reader refuses it for want of a key, and for nothing else. */
    if (rc == VMRP_E_KEY && rc0 == VMRP_OK && !fuzz_skip("verify-cross-check")) {
        vmrp_reader *r = vmrp_reader_new();
        FUZZ_CHECK(r != NULL, "vmrp_reader_new");
        int orc = vmrp_reader_open_fd(r, fd, "fuzz.vmrp");
        FUZZ_CHECK(orc == VMRP_E_KEY, "verifies without a key, but open without a key gives %d: %s",
                   orc, vmrp_reader_error_string(r));
        vmrp_reader_free(r);
    }
    vmrp_reader_free(r0);
}

/* VMRP_VERIFY_QUICK checks a subset of what a full verify checks: what
 * passes in full passes quick, to the same head; what quick refuses as
 * damaged, a full verify refuses too. */
static void check_quick(int fd, const uint8_t *data, size_t size, int rc,
                        const vmrp_verify_report *rep)
{
    vmrp_reader *rq = vmrp_reader_new();
    FUZZ_CHECK(rq != NULL && lseek(fd, 0, SEEK_SET) == 0, "vmrp_reader_new");
    vmrp_reader_set_verify_flags(rq, VMRP_VERIFY_QUICK);
    fz_set_keys(rq, data, size, NULL);
    vmrp_verify_report q;
    int rcq = vmrp_reader_verify(rq, fd, "fuzz.vmrp", &q);
    if (rc == VMRP_OK)
        FUZZ_CHECK(rcq == VMRP_OK && q.points == rep->points &&
                       memcmp(q.head_hash, rep->head_hash, 32) == 0 && !q.content_checked &&
                       q.blocks == 0,
                   "passes in full, quick gives %d (%u points, content_checked %d): %s", rcq,
                   q.points, q.content_checked, vmrp_reader_error_string(rq));
    if (rcq == VMRP_E_CORRUPT || rcq == VMRP_E_NOT_ARCHIVE || rcq == VMRP_E_VERSION)
        FUZZ_CHECK(rc != VMRP_OK, "quick refuses (%d) what a full verify passes: %s", rcq,
                   vmrp_reader_error_string(rq));
    vmrp_reader_free(rq);
}

/* Verify's lists (blocks, the segment's records, its maps) held to two
 * entries each and the rest in temporary files: the same verdict, message
 * and report as with them in memory. */
static void check_spilled(int fd, const uint8_t *data, size_t size, int rc,
                          const vmrp_verify_report *rep, const char *msg)
{
    vmrp_reader *rs = vmrp_reader_new();
    FUZZ_CHECK(rs != NULL && lseek(fd, 0, SEEK_SET) == 0, "vmrp_reader_new");
    fz_set_keys(rs, data, size, NULL);
    rs->verify_keep = 2;
    vmrp_verify_report s;
    int rcs = vmrp_reader_verify(rs, fd, "fuzz.vmrp", &s);
    FUZZ_CHECK(rcs == rc && strcmp(msg, vmrp_reader_error_string(rs)) == 0,
               "lists in memory: %d (%s); in files: %d (%s)", rc, msg, rcs,
               vmrp_reader_error_string(rs));
    FUZZ_CHECK(memcmp(&s, rep, sizeof s) == 0, "the report differs with the lists in files");
    vmrp_reader_free(rs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init_once();
    int fd = fuzz_memfd("fuzz_verify", data, size);
    vmrp_reader *r = vmrp_reader_new();
    FUZZ_CHECK(r != NULL, "vmrp_reader_new");
    int asked = 0;
    fz_set_keys(r, data, size, &asked);
    vmrp_verify_report rep;
    memset(&rep, 0xa5, sizeof rep);
    int rc = vmrp_reader_verify(r, fd, "fuzz.vmrp", &rep);
    FUZZ_CHECK(asked <= 1, "the passphrase was asked %d times", asked);
    FUZZ_CHECK(rc != VMRP_E_KEY || fz_encrypted(data, size), "VMRP_E_KEY without encryption");
    if (rc == VMRP_OK)
        FUZZ_CHECK(rep.encrypted == fz_encrypted(data, size) && rep.content_checked &&
                       (rep.encrypted ? rep.key_slots >= 1 && rep.key_slots <= 64
                                      : rep.key_slots == 0),
                   "passing report: encrypted %d content_checked %d key_slots %u", rep.encrypted,
                   rep.content_checked, rep.key_slots);
    FUZZ_CHECK(rc <= 0, "verify returned %d", rc);
    FUZZ_CHECK(rep.bytes <= size, "report reads %llu of %zu bytes", (unsigned long long)rep.bytes,
               size);
    FUZZ_CHECK(rep.committed_size <= rep.bytes || rep.committed_size == 128,
               "committed %llu > read %llu", (unsigned long long)rep.committed_size,
               (unsigned long long)rep.bytes);
    if (rc != VMRP_OK)
        FUZZ_CHECK(vmrp_reader_error(r) == rc && vmrp_reader_error_string(r)[0] != '\0',
                   "verify failed (%d) without a message", rc);
    if (rc == VMRP_OK) {
        FUZZ_CHECK(rep.points >= 1 && rep.torn_bytes == 0 && rep.bytes == size &&
                       rep.committed_size == size,
                   "passing report: points %u torn %llu bytes %llu committed %llu", rep.points,
                   (unsigned long long)rep.torn_bytes, (unsigned long long)rep.bytes,
                   (unsigned long long)rep.committed_size);
    }
    if (rc == VMRP_E_TORN)
        FUZZ_CHECK(rep.torn_bytes > 0 && rep.committed_size + rep.torn_bytes == size &&
                       rep.error_offset == rep.committed_size,
                   "torn report: torn %llu committed %llu size %zu", (unsigned long long)rep.torn_bytes,
                   (unsigned long long)rep.committed_size, size);
    if ((rc == VMRP_OK || (rc == VMRP_E_TORN && rep.points > 0)) && !fuzz_skip("verify-cross-check"))
        cross_check(fd, data, size, &rep);
    if (rc == VMRP_OK && !fuzz_skip("verify-conformance"))
        check_conformance(data, size, 1);
    if (!fuzz_skip("verify-spilled"))
        check_spilled(fd, data, size, rc, &rep, vmrp_reader_error_string(r));
    vmrp_reader_free(r);
    if (fz_encrypted(data, size))
        check_without_key(fd, rc, &rep);
    check_quick(fd, data, size, rc, &rep);

    /* Again with the public key of the signed fixtures (the seeds include
     * them): signature checks on hostile commits, and a verdict that is
     * never more lenient than without the key. */
    vmrp_key *key = signing_key();
    vmrp_reader *rk = vmrp_reader_new();
    FUZZ_CHECK(rk != NULL, "vmrp_reader_new");
    vmrp_reader_set_public_key(rk, key);
    fz_set_keys(rk, data, size, NULL);
    FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek");
    vmrp_verify_report repk;
    int rck = vmrp_reader_verify(rk, fd, "fuzz.vmrp", &repk);
    FUZZ_CHECK(rck != VMRP_OK || rc == VMRP_OK, "passes with the key (%d) but not without (%d)", rck,
               rc);
    if (rck == VMRP_OK)
        FUZZ_CHECK(repk.signatures_checked && repk.signed_points == repk.points,
                   "passed with the key without checking every signature");
    vmrp_reader_free(rk);
    close(fd);
    return 0;
}
