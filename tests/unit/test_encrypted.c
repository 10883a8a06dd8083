/* test_encrypted.c - encrypted archives (format 1.2) through the public
 * API, in a temporary directory: passphrase and recipient slots, keyed
 * incremental appends, appends without the key, what the file hides, key
 * errors, point names, key slot reports, and archives whose hashes were
 * recomputed after records were moved or re-encrypted (what anyone who
 * holds an unsigned archive, or its key, can do).
 *
 * Argon2id uses one pass over 8 KiB so that the suite stays fast.
 */
#define _GNU_SOURCE
#include "unit.h"

#include "vmrp_private.h"

#define BS 4096u

/* ------------------------------------------------------------------ */
/* Keys and packing                                                   */

static vmrp_encryption enc_none(void)
{
    vmrp_encryption e;
    memset(&e, 0, sizeof e);
    e.kdf_opslimit = 1;
    e.kdf_memlimit = 8192;
    return e;
}

static vmrp_encryption enc_pass(const char *pass)
{
    vmrp_encryption e = enc_none();
    e.passphrase = pass;
    return e;
}

static vmrp_encryption enc_id(const vmrp_key *id)
{
    vmrp_encryption e = enc_none();
    e.identity = id;
    return e;
}

static vmrp_writer_options small_opts(int codec)
{
    vmrp_writer_options o;
    memset(&o, 0, sizeof o);
    o.block_size = BS;
    o.codec = codec;
    o.threads = 2;
    return o;
}

/* ut_pack with encryption settings (enc NULL: none given). Returns the
 * writer's result; its message goes to msg when given. */
static int xpack(const char *dir, const char *archive, const ut_disk *disks, size_t ndisks,
                 const ut_point *pt, const vmrp_encryption *enc, vmrp_writer_stats *stats,
                 char *msg, size_t msglen)
{
    ut_pack_extra x = {enc, NULL, msg, msglen, 0};
    return ut_pack_ex(dir, archive, disks, ndisks, pt, &x, stats);
}

/* xpack that must succeed. */
static void pack_ok(const char *dir, const char *archive, const ut_disk *disks, size_t ndisks,
                    const ut_point *pt, const vmrp_encryption *enc, vmrp_writer_stats *stats)
{
    char msg[600];
    vmrp_writer_stats st;
    int rc = xpack(dir, archive, disks, ndisks, pt, enc, stats ? stats : &st, msg, sizeof msg);
    ck_assert_msg(rc == VMRP_OK, "pack %s: %s (%s)", archive, vmrp_strerror(rc), msg);
}

static int give_pass(void *ctx, const char *path, char *buf, size_t size)
{
    (void)path;
    const char *p = ctx;
    if (!p || strlen(p) >= size)
        return -1;
    strcpy(buf, p);
    return 0;
}

static int no_pass(void *ctx, const char *path, char *buf, size_t size)
{
    (void)ctx;
    (void)path;
    (void)buf;
    (void)size;
    return -1;
}

/* Open archive with an identity and/or a passphrase; the result must be
 * want. Returns the reader (freed by the caller). */
static vmrp_reader *xopen(const char *archive, const vmrp_key *id, const char *pass, int want)
{
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_ptr_nonnull(r);
    vmrp_reader_set_decryption(r, id, pass ? give_pass : NULL, (void *)pass);
    int rc = vmrp_reader_open(r, archive);
    ck_assert_msg(rc == want, "open %s: %d (%s), expected %d", archive, rc,
                  vmrp_reader_error_string(r), want);
    return r;
}

static size_t file_bytes(const char *path, unsigned char **out)
{
    size_t len = 0;
    *out = ut_read_file(path, &len);
    return len;
}

/* ------------------------------------------------------------------ */
/* What a point must hold                                             */

static const vmrp_disk_info *find_disk(const vmrp_point_info *pi, const char *name)
{
    for (uint32_t d = 0; d < pi->disk_count; d++)
        if (strcmp(pi->disks[d].name, name) == 0)
            return &pi->disks[d];
    return NULL;
}

static void expect_image(vmrp_reader *r, uint32_t k, const char *name, const void *data,
                         uint64_t size)
{
    unsigned char *img = NULL;
    uint64_t got = 0;
    int rc = ut_read_image(r, k, name, &img, &got);
    ck_assert_msg(rc == VMRP_OK, "point %u disk %s: %s", k + 1, name, vmrp_reader_error_string(r));
    ck_assert_uint_eq(got, size);
    if (size && memcmp(img, data, size) != 0) {
        uint64_t at = 0;
        while (img[at] == ((const unsigned char *)data)[at])
            at++;
        ck_abort_msg("point %u disk %s differs from what was packed at byte %llu (block %llu)",
                     k + 1, name, (unsigned long long)at, (unsigned long long)(at / BS));
    }
    free(img);

    /* restore_disk gives the same bytes. */
    const char *tmp = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/vmrp-enc-restore.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    unlink(tmpl);
    ck_assert_int_eq(vmrp_reader_restore_disk(r, k, name, fd, VMRP_RESTORE_SPARSE), VMRP_OK);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_uint_eq((uint64_t)st.st_size, size);
    unsigned char *back = malloc(size ? (size_t)size : 1);
    ck_assert_int_eq(pread(fd, back, (size_t)size, 0), (ssize_t)size);
    ck_assert(size == 0 || memcmp(back, data, (size_t)size) == 0);
    free(back);
    close(fd);
}

/* Point k has exactly these disks (excluded ones flagged) and files. */
static void expect_point(vmrp_reader *r, uint32_t k, const char *name, const char *meta,
                         const ut_disk *d, size_t nd, const ut_file *f, size_t nf)
{
    const vmrp_point_info *pi = vmrp_reader_point(r, k);
    ck_assert_ptr_nonnull(pi);
    ck_assert_uint_eq(pi->sequence, k + 1);
    if (name)
        ck_assert_str_eq(pi->name, name);
    if (meta) {
        ck_assert_str_eq(pi->source_metadata, meta);
        ck_assert_uint_eq(pi->source_metadata_size, strlen(meta));
    }
    ck_assert_msg(pi->disk_count == nd, "point %u has %u disks, expected %zu", k + 1,
                  pi->disk_count, nd);
    for (size_t i = 0; i < nd; i++) {
        const vmrp_disk_info *di = find_disk(pi, d[i].name);
        ck_assert_msg(di != NULL, "point %u has no disk %s", k + 1, d[i].name);
        ck_assert_int_eq(di->excluded, d[i].exclude);
        if (d[i].exclude) {
            ck_assert_int_eq(vmrp_reader_read_disk(r, k, d[i].name, ut_image_block, NULL),
                             VMRP_E_NOT_FOUND);
            continue;
        }
        ck_assert_uint_eq(di->size_bytes, d[i].size);
        expect_image(r, k, d[i].name, d[i].data, d[i].size);
    }
    ck_assert_msg(pi->config_file_count == nf, "point %u has %u config files, expected %zu",
                  k + 1, pi->config_file_count, nf);
    for (size_t i = 0; i < nf; i++) {
        uint32_t j = 0;
        while (j < pi->config_file_count && strcmp(pi->config_files[j].name, f[i].name) != 0)
            j++;
        ck_assert_msg(j < pi->config_file_count, "point %u lacks config file %s", k + 1,
                      f[i].name);
        ck_assert_uint_eq(pi->config_files[j].mode, f[i].mode);
        ck_assert_uint_eq(pi->config_files[j].size, f[i].size);
        void *data = NULL;
        size_t len = 0;
        int rc = vmrp_reader_read_config_file(r, k, j, &data, &len);
        ck_assert_msg(rc == VMRP_OK, "point %u config %s: %s", k + 1, f[i].name,
                      vmrp_reader_error_string(r));
        ck_assert_uint_eq(len, f[i].size);
        if (len)
            ck_assert_mem_eq(data, f[i].data, len);
        free(data);
    }
}

/* Fill block k of img with incompressible bytes. */
static void rnd_block(unsigned char *img, uint64_t k, uint64_t seed)
{
    ut_fill_random(img + k * BS, BS, seed);
}

/* Blocks of img (size bytes) that are not all zero. */
static uint64_t nonzero_blocks(const unsigned char *img, uint64_t size)
{
    uint64_t n = 0;
    for (uint64_t off = 0; off < size; off += BS) {
        size_t len = size - off < BS ? (size_t)(size - off) : BS;
        n += !ut_all_zero(img + off, len);
    }
    return n;
}

/* ------------------------------------------------------------------ */

/* A passphrase archive: every point restores exactly, appends with the
 * passphrase are incremental and deduplicated, VM configuration and config
 * files are inherited when not given. */
START_TEST(test_passphrase_round_trip)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "pass.vmrp");
    vmrp_writer_options o = small_opts(VMRP_CODEC_ZSTD);
    vmrp_encryption e = enc_pass("pass word 1");

    uint64_t asz = 16 * BS + 100, bsz = 5 * BS;
    unsigned char *a = calloc(1, 20 * BS), *b = calloc(1, 8 * BS);
    for (int k = 0; k < 4; k++)
        rnd_block(a, (uint64_t)k, 100 + (uint64_t)k);
    ut_fill_text(a + 5 * BS, 2 * BS, 7);
    memcpy(a + 7 * BS, a, BS); /* the same as block 0 */
    rnd_block(a, 15, 115);
    ut_fill_random(a + 16 * BS, 100, 116);
    for (int k = 0; k < 5; k++)
        rnd_block(b, (uint64_t)k, 200 + (uint64_t)k);
    unsigned char nvram[3000];
    ut_fill_random(nvram, sizeof nvram, 300);
    ut_file f1[] = {{"domain.xml", 0644, "<domain>enc</domain>", 20},
                    {"nvram/VARS.fd", 0600, nvram, sizeof nvram},
                    {"empty.conf", 0640, NULL, 0}};
    ut_disk d1[] = {{"vda", a, asz, 0}, {"vdb", b, bsz, 0}};
    ut_point p1 = {"p1", VMRP_CONSISTENCY_FILESYSTEM, "{\"vm\":\"enc-test\"}", f1, 3, &o};
    vmrp_writer_stats st;
    pack_ok(dir, archive, d1, 2, &p1, &e, &st);
    ck_assert_int_eq(st.created, 1);
    ck_assert_int_eq(st.keyless, 0);
    ck_assert_uint_eq(st.changed_blocks, 14);
    ck_assert_uint_eq(st.new_blocks, 13);
    ck_assert_uint_eq(st.dedup_blocks, 1);

    vmrp_reader *r = xopen(archive, NULL, "pass word 1", VMRP_OK);
    const vmrp_collection_info *ci = vmrp_reader_collection(r);
    ck_assert_int_eq(ci->encrypted, 1);
    ck_assert_uint_eq(ci->format_major, 1);
    ck_assert_uint_eq(ci->format_minor, 2);
    ck_assert_uint_eq(ci->key_slot_count, 1);
    ck_assert_uint_eq(ci->block_size, BS);
    ck_assert_uint_eq(ci->point_count, 1);
    expect_point(r, 0, "p1", "{\"vm\":\"enc-test\"}", d1, 2, f1, 3);
    ck_assert_int_eq(vmrp_reader_point(r, 0)->consistency, VMRP_CONSISTENCY_FILESYSTEM);
    /* A first point lists every block: FULL. */
    ck_assert_int_eq(find_disk(vmrp_reader_point(r, 0), "vda")->full, 1);
    ck_assert_int_eq(find_disk(vmrp_reader_point(r, 0), "vdb")->full, 1);
    ck_assert_uint_eq(find_disk(vmrp_reader_point(r, 0), "vda")->changed_blocks, 9);
    vmrp_reader_free(r);

    /* P2: one block new, one block a copy of a stored one; nothing else
     * given: configuration inherited. */
    rnd_block(a, 2, 1002);
    memcpy(a + 5 * BS, a + 1 * BS, BS);
    ut_point p2 = {"p2", 0, NULL, NULL, 0, NULL};
    pack_ok(dir, archive, d1, 2, &p2, &e, &st);
    ck_assert_int_eq(st.created, 0);
    ck_assert_int_eq(st.keyless, 0);
    ck_assert_uint_eq(st.sequence, 2);
    ck_assert_uint_eq(st.changed_blocks, 2);
    ck_assert_uint_eq(st.new_blocks, 1);
    ck_assert_uint_eq(st.dedup_blocks, 1);
    unsigned char *a2 = malloc(asz);
    memcpy(a2, a, asz);
    ut_disk d2[] = {{"vda", a2, asz, 0}, {"vdb", b, bsz, 0}};

    /* P3: nothing changed: nothing stored. */
    ut_point p3 = {"p3", 0, NULL, NULL, 0, NULL};
    pack_ok(dir, archive, d1, 2, &p3, &e, &st);
    ck_assert_uint_eq(st.changed_blocks, 0);
    ck_assert_uint_eq(st.new_blocks, 0);

    /* P4: vda shrinks into block 6, vdb grows by three blocks (one with
     * data); new VM configuration and files. */
    uint64_t asz4 = 6 * BS + 10, bsz4 = 8 * BS;
    memset(a + asz4, 0, 20 * BS - asz4);
    rnd_block(b, 7, 207);
    unsigned char *b4 = malloc(bsz4);
    memcpy(b4, b, bsz4);
    ut_file f4[] = {{"domain.xml", 0644, "<domain>enc, v4</domain>", 24},
                    {"swtpm/tpm2-00.permall", 0600, "tpm", 3}};
    ut_disk d4[] = {{"vda", a, asz4, 0}, {"vdb", b4, bsz4, 0}};
    ut_point p4 = {"p4", 0, "{\"vm\":\"enc-test\",\"v\":4}", f4, 2, NULL};
    pack_ok(dir, archive, d4, 2, &p4, &e, &st);
    ck_assert_uint_gt(st.changed_blocks, 0);
    ck_assert_uint_eq(st.new_blocks, 2); /* vdb block 7 and vda's cut block 6 */

    r = xopen(archive, NULL, "pass word 1", VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 4);
    /* P1's vda, as it was. */
    unsigned char *a1 = calloc(1, asz);
    for (int k = 0; k < 4; k++)
        rnd_block(a1, (uint64_t)k, 100 + (uint64_t)k);
    ut_fill_text(a1 + 5 * BS, 2 * BS, 7);
    memcpy(a1 + 7 * BS, a1, BS);
    rnd_block(a1, 15, 115);
    ut_fill_random(a1 + 16 * BS, 100, 116);
    ut_disk d1b[] = {{"vda", a1, asz, 0}, {"vdb", b, bsz, 0}};
    expect_point(r, 0, "p1", "{\"vm\":\"enc-test\"}", d1b, 2, f1, 3);
    expect_point(r, 1, "p2", "{\"vm\":\"enc-test\"}", d2, 2, f1, 3);
    expect_point(r, 2, "p3", "{\"vm\":\"enc-test\"}", d2, 2, f1, 3);
    expect_point(r, 3, "p4", "{\"vm\":\"enc-test\",\"v\":4}", d4, 2, f4, 2);
    for (uint32_t k = 1; k < 4; k++) {
        const vmrp_point_info *pi = vmrp_reader_point(r, k);
        /* Deltas, in the family of P1. */
        ck_assert_int_eq(find_disk(pi, "vda")->full, 0);
        ck_assert_int_eq(find_disk(pi, "vdb")->full, 0);
        ck_assert_mem_eq(find_disk(pi, "vda")->family_id,
                         find_disk(vmrp_reader_point(r, 0), "vda")->family_id, 16);
    }
    ck_assert_uint_eq(find_disk(vmrp_reader_point(r, 1), "vda")->changed_blocks, 2);
    ck_assert_uint_eq(find_disk(vmrp_reader_point(r, 2), "vda")->changed_blocks, 0);
    vmrp_reader_free(r);
    free(a);
    free(a1);
    free(a2);
    free(b);
    free(b4);
    ut_rmtree(dir);
}
END_TEST

/* Written to a stream (no seeking), then appended to as a file. */
START_TEST(test_stream_then_append)
{
    char *dir = ut_tmpdir();
    char archive[4096], img[4096];
    ut_join(archive, sizeof archive, dir, "stream.vmrp");
    ut_join(img, sizeof img, dir, "disk.img");
    unsigned char disk[6 * BS];
    ut_fill_random(disk, sizeof disk, 41);
    ut_write_file(img, disk, sizeof disk);
    vmrp_writer_options o = small_opts(VMRP_CODEC_NONE);
    vmrp_encryption e = enc_pass("stream");
    vmrp_writer *w = vmrp_writer_new();
    ck_assert_int_eq(vmrp_writer_set_encryption(w, &e), VMRP_OK);
    int out = open(archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(out, 0);
    ck_assert_int_eq(vmrp_writer_open_stream(w, out, "stdout", &o), VMRP_OK);
    int fd = open(img, O_RDONLY | O_CLOEXEC);
    ck_assert_int_eq(vmrp_writer_add_disk(w, "vda", fd, img), VMRP_OK);
    close(fd);
    ck_assert_msg(vmrp_writer_commit(w) == VMRP_OK, "%s", vmrp_writer_error_string(w));
    vmrp_writer_free(w);
    close(out);

    unsigned char *bytes;
    size_t len = file_bytes(archive, &bytes);
    ck_assert(memmem(bytes, len, disk + BS, 64) == NULL);
    free(bytes);

    disk[3 * BS + 5] ^= 1;
    ut_disk d = {"vda", disk, sizeof disk, 0};
    vmrp_writer_stats st;
    pack_ok(dir, archive, &d, 1, NULL, &e, &st);
    ck_assert_uint_eq(st.changed_blocks, 1);
    ck_assert_uint_eq(st.new_blocks, 1);
    vmrp_reader *r = xopen(archive, NULL, "stream", VMRP_OK);
    expect_image(r, 1, "vda", disk, sizeof disk);
    disk[3 * BS + 5] ^= 1;
    expect_image(r, 0, "vda", disk, sizeof disk);
    vmrp_reader_free(r);
    ut_rmtree(dir);
}
END_TEST

/* Recipient slots: each recipient's secret key opens the archive, any
 * other key does not; the message names the recipients. */
START_TEST(test_recipients)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "recip.vmrp");
    vmrp_key *ka = ut_new_x25519(), *kb = ut_new_x25519(), *kc = ut_new_x25519();
    vmrp_key *apub = ut_public_half(ka, dir, "a"), *bpub = ut_public_half(kb, dir, "b");
    char aid[17], bid[17], cid[17];
    vmrp_key_id(ka, aid);
    vmrp_key_id(kb, bid);
    vmrp_key_id(kc, cid);
    const vmrp_key *recips[] = {apub, bpub};
    vmrp_encryption e = enc_none();
    e.recipients = recips;
    e.recipient_count = 2;
    vmrp_writer_options o = small_opts(0);
    unsigned char disk[8 * BS];
    ut_fill_random(disk, sizeof disk, 50);
    ut_disk d = {"vda", disk, sizeof disk, 0};
    ut_point p = {"r1", 0, "{\"r\":1}", NULL, 0, &o};
    vmrp_writer_stats st;
    pack_ok(dir, archive, &d, 1, &p, &e, &st);
    ck_assert_uint_eq(st.new_blocks, 8);

    vmrp_reader *r = xopen(archive, ka, NULL, VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_collection(r)->key_slot_count, 2);
    vmrp_key_slot_info si;
    ck_assert_int_eq(vmrp_reader_key_slot(r, 0, &si), VMRP_OK);
    ck_assert_int_eq(si.type, VMRP_SLOT_RECIPIENT);
    ck_assert_mem_eq(si.key_id, key_keynum(ka), 8);
    ck_assert_int_eq(vmrp_reader_key_slot(r, 1, &si), VMRP_OK);
    ck_assert_int_eq(si.type, VMRP_SLOT_RECIPIENT);
    ck_assert_mem_eq(si.key_id, key_keynum(kb), 8);
    ck_assert_int_eq(vmrp_reader_key_slot(r, 2, &si), VMRP_E_NOT_FOUND);
    expect_image(r, 0, "vda", disk, sizeof disk);
    vmrp_reader_free(r);
    r = xopen(archive, kb, NULL, VMRP_OK);
    expect_image(r, 0, "vda", disk, sizeof disk);
    vmrp_reader_free(r);

    /* Another key, a public half, nothing at all. */
    const vmrp_key *wrong[] = {kc, apub, NULL};
    for (int i = 0; i < 3; i++) {
        r = xopen(archive, wrong[i], NULL, VMRP_E_KEY);
        const char *m = vmrp_reader_error_string(r);
        ck_assert_msg(strstr(m, aid) && strstr(m, bid), "message does not name the slots: %s", m);
        ck_assert_msg(strstr(m, "recipient") != NULL, "%s", m);
        ck_assert_msg(strstr(m, cid) == NULL, "%s", m);
        ck_assert_uint_eq(vmrp_reader_point_count(r), 0);
        vmrp_reader_free(r);
    }
    /* A passphrase is no key to a recipients-only archive. */
    r = xopen(archive, NULL, "guess", VMRP_E_KEY);
    vmrp_reader_free(r);

    /* Appending with b's key: incremental. */
    unsigned char *before;
    size_t before_len = file_bytes(archive, &before);
    disk[2 * BS] ^= 0x5a;
    vmrp_encryption eb = enc_id(kb);
    ut_point p2 = {"r2", 0, NULL, NULL, 0, NULL};
    pack_ok(dir, archive, &d, 1, &p2, &eb, &st);
    ck_assert_int_eq(st.keyless, 0);
    ck_assert_uint_eq(st.changed_blocks, 1);
    ck_assert_uint_eq(st.new_blocks, 1);

    /* With c's key the writer refuses, and leaves the file as it was. */
    free(before);
    before_len = file_bytes(archive, &before);
    vmrp_encryption ec = enc_id(kc);
    char msg[600];
    ck_assert_int_eq(xpack(dir, archive, &d, 1, NULL, &ec, &st, msg, sizeof msg), VMRP_E_KEY);
    ck_assert_msg(strstr(msg, aid) != NULL, "%s", msg);
    unsigned char *after;
    size_t after_len = file_bytes(archive, &after);
    ck_assert_uint_eq(after_len, before_len);
    ck_assert_mem_eq(after, before, before_len);
    free(after);
    free(before);

    /* Recipients cannot be added to an existing archive. */
    vmrp_encryption more = enc_none();
    const vmrp_key *cpub[] = {kc};
    more.recipients = cpub;
    more.recipient_count = 1;
    ck_assert_int_eq(xpack(dir, archive, &d, 1, NULL, &more, &st, msg, sizeof msg), VMRP_E_USAGE);

    /* Appending without a key (every block stored again), then with a's
     * key: the keyed point is FULL, as its disk's previous point is in the
     * keyless point's id space, and deduplicated against the keyed points
     * (8.1.1): only blocks 5 and 6 are new to that id space. */
    disk[5 * BS] ^= 0x77;
    pack_ok(dir, archive, &d, 1, NULL, NULL, &st);
    ck_assert_int_eq(st.keyless, 1);
    ck_assert_uint_eq(st.new_blocks, 8);
    disk[6 * BS] ^= 0x11;
    vmrp_encryption ea = enc_id(ka);
    pack_ok(dir, archive, &d, 1, NULL, &ea, &st);
    ck_assert_int_eq(st.keyless, 0);
    ck_assert_uint_eq(st.changed_blocks, 8);
    ck_assert_uint_eq(st.new_blocks, 2);
    ck_assert_uint_eq(st.dedup_blocks, 6);

    r = xopen(archive, ka, NULL, VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 4);
    expect_image(r, 3, "vda", disk, sizeof disk);
    ck_assert_int_eq(find_disk(vmrp_reader_point(r, 2), "vda")->full, 1);
    ck_assert_int_eq(find_disk(vmrp_reader_point(r, 3), "vda")->full, 1);
    /* Keyed points share segment 1's Id_Key; the keyless one has its own. */
    ck_assert_mem_eq(r->crypt->segs[1].id_key, r->crypt->segs[0].id_key, KEY_SIZE);
    ck_assert(memcmp(r->crypt->segs[2].id_key, r->crypt->segs[0].id_key, KEY_SIZE) != 0);
    ck_assert_mem_eq(r->crypt->segs[3].id_key, r->crypt->segs[0].id_key, KEY_SIZE);
    disk[6 * BS] ^= 0x11;
    expect_image(r, 2, "vda", disk, sizeof disk);
    disk[5 * BS] ^= 0x77;
    expect_image(r, 1, "vda", disk, sizeof disk);
    disk[2 * BS] ^= 0x5a;
    expect_image(r, 0, "vda", disk, sizeof disk);
    vmrp_reader_free(r);

    vmrp_key_free(apub);
    vmrp_key_free(bpub);
    vmrp_key_free(ka);
    vmrp_key_free(kb);
    vmrp_key_free(kc);
    ut_rmtree(dir);
}
END_TEST

/* A passphrase slot and a recipient slot: either opens; an identity that
 * fails falls back to the passphrase. */
START_TEST(test_passphrase_and_recipient)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "both.vmrp");
    vmrp_key *ka = ut_new_x25519(), *kc = ut_new_x25519();
    vmrp_key *apub = ut_public_half(ka, dir, "a");
    char aid[17];
    vmrp_key_id(ka, aid);
    const vmrp_key *recips[] = {apub};
    vmrp_encryption e = enc_pass("both-pass");
    e.recipients = recips;
    e.recipient_count = 1;
    e.kdf_opslimit = 3;
    e.kdf_memlimit = 16384;
    vmrp_writer_options o = small_opts(0);
    unsigned char disk[3 * BS];
    ut_fill_text(disk, sizeof disk, 60);
    ut_disk d = {"vda", disk, sizeof disk, 0};
    ut_point p = {NULL, 0, NULL, NULL, 0, &o};
    pack_ok(dir, archive, &d, 1, &p, &e, NULL);

    vmrp_reader *r = xopen(archive, NULL, "both-pass", VMRP_OK);
    vmrp_key_slot_info si;
    ck_assert_uint_eq(vmrp_reader_collection(r)->key_slot_count, 2);
    ck_assert_int_eq(vmrp_reader_key_slot(r, 0, &si), VMRP_OK);
    ck_assert_int_eq(si.type, VMRP_SLOT_PASSPHRASE);
    ck_assert_uint_eq(si.kdf_opslimit, 3);
    ck_assert_uint_eq(si.kdf_memlimit, 16384);
    ck_assert_int_eq(vmrp_reader_key_slot(r, 1, &si), VMRP_OK);
    ck_assert_int_eq(si.type, VMRP_SLOT_RECIPIENT);
    ck_assert_mem_eq(si.key_id, key_keynum(ka), 8);
    ck_assert_str_eq(vmrp_reader_point(r, 0)->name, "point-1");
    ck_assert_str_eq(vmrp_reader_point(r, 0)->source_metadata, "{}");
    expect_image(r, 0, "vda", disk, sizeof disk);
    vmrp_reader_free(r);

    r = xopen(archive, ka, NULL, VMRP_OK);
    vmrp_reader_free(r);
    r = xopen(archive, kc, "both-pass", VMRP_OK);
    expect_image(r, 0, "vda", disk, sizeof disk);
    vmrp_reader_free(r);
    r = xopen(archive, ka, "wrong", VMRP_OK);
    vmrp_reader_free(r);

    r = xopen(archive, NULL, "both-pas", VMRP_E_KEY);
    ck_assert_ptr_nonnull(strstr(vmrp_reader_error_string(r), "passphrase"));
    ck_assert_ptr_nonnull(strstr(vmrp_reader_error_string(r), aid));
    vmrp_reader_free(r);
    r = xopen(archive, kc, "both-pas", VMRP_E_KEY);
    vmrp_reader_free(r);
    /* A passphrase source that has none. */
    r = vmrp_reader_new();
    vmrp_reader_set_decryption(r, NULL, no_pass, NULL);
    ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_E_KEY);
    ck_assert_ptr_nonnull(strstr(vmrp_reader_error_string(r), "passphrase"));
    vmrp_reader_free(r);
    r = xopen(archive, NULL, NULL, VMRP_E_KEY);
    ck_assert_ptr_nonnull(strstr(vmrp_reader_error_string(r), archive));
    ck_assert_ptr_nonnull(strstr(vmrp_reader_error_string(r), "key slots"));
    vmrp_reader_free(r);

    /* The writer takes the passphrase too, and the new point is a delta. */
    disk[BS + 1] ^= 2;
    vmrp_encryption ep = enc_pass("both-pass");
    vmrp_writer_stats st;
    pack_ok(dir, archive, &d, 1, NULL, &ep, &st);
    ck_assert_int_eq(st.keyless, 0);
    ck_assert_uint_eq(st.changed_blocks, 1);
    vmrp_encryption bad = enc_pass("both-pas");
    char msg[600];
    ck_assert_int_eq(xpack(dir, archive, &d, 1, NULL, &bad, &st, msg, sizeof msg), VMRP_E_KEY);
    ck_assert_ptr_nonnull(strstr(msg, "passphrase"));
    r = xopen(archive, ka, NULL, VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 2);
    expect_image(r, 1, "vda", disk, sizeof disk);
    vmrp_reader_free(r);

    vmrp_key_free(apub);
    vmrp_key_free(ka);
    vmrp_key_free(kc);
    ut_rmtree(dir);
}
END_TEST

/* Appends without any key: full points that only key holders read; later
 * keyed points resolve across them, including disks that were excluded
 * or absent in the keyless point and disks that shrank and grew. */
/* A keyless append seals its point to the collection key the file names,
 * which anyone who can write the file could have replaced: the writer
 * refuses unless the key is pinned (or the chain signed by a trusted key),
 * and refuses a file that names another key than the one pinned. */
START_TEST(test_keyless_needs_a_vouched_key)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "pin.vmrp");
    vmrp_writer_options o = small_opts(VMRP_CODEC_ZSTD);
    vmrp_encryption e = enc_pass("pin-pass");
    unsigned char *a = calloc(1, 4 * BS);
    rnd_block(a, 1, 77);
    ut_disk d[] = {{"vda", a, 4 * BS, 0}};
    ut_point p1 = {"first", 0, NULL, NULL, 0, &o};
    pack_ok(dir, archive, d, 1, &p1, &e, NULL);
    unsigned char *before;
    size_t before_len = file_bytes(archive, &before);

    char msg[600];
    ut_pack_extra unpinned = {NULL, NULL, msg, sizeof msg, 1};
    ut_point p2 = {"second", 0, NULL, NULL, 0, NULL};
    ck_assert_int_eq(ut_pack_ex(dir, archive, d, 1, &p2, &unpinned, NULL), VMRP_E_KEY);
    ck_assert_msg(strstr(msg, "nothing vouches") != NULL, "message: %s", msg);

    unsigned char other[32];
    memset(other, 0x5a, sizeof other);
    vmrp_writer *w = vmrp_writer_new();
    vmrp_writer_set_collection_key(w, other);
    ck_assert_int_eq(vmrp_writer_open(w, archive, NULL), VMRP_E_CORRUPT);
    ck_assert_msg(strstr(vmrp_writer_error_string(w), "not the one given") != NULL, "message: %s",
                  vmrp_writer_error_string(w));
    vmrp_writer_free(w);

    unsigned char *after;
    size_t after_len = file_bytes(archive, &after);
    ck_assert_uint_eq(after_len, before_len);
    ck_assert_int_eq(memcmp(after, before, before_len), 0);
    /* pinned to its own key, the keyless append goes through */
    vmrp_writer_stats st;
    pack_ok(dir, archive, d, 1, &p2, NULL, &st);
    ck_assert_int_eq(st.keyless, 1);
    free(after);
    free(before);
    free(a);
    ut_rmtree(dir);
}
END_TEST

START_TEST(test_keyless_append)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "keyless.vmrp");
    vmrp_writer_options o = small_opts(VMRP_CODEC_ZSTD);
    vmrp_encryption e = enc_pass("k-pass");
    uint64_t asz = 12 * BS, bsz = 4 * BS, csz = 6 * BS;
    unsigned char *a = calloc(1, 16 * BS), *b = calloc(1, 4 * BS), *c = calloc(1, 8 * BS);
    for (uint64_t k = 0; k < 12; k++)
        if (k != 4)
            rnd_block(a, k, 1000 + k);
    for (uint64_t k = 0; k < 4; k++)
        rnd_block(b, k, 2000 + k);
    for (uint64_t k = 0; k < 6; k++)
        rnd_block(c, k, 3000 + k);
    ut_file f1[] = {{"domain.xml", 0644, "<domain>one</domain>", 20}};
    ut_disk d1[] = {{"vda", a, asz, 0}, {"vdb", b, bsz, 0}, {"vdc", c, csz, 0}};
    ut_point p1 = {"daily", 0, "{\"vm\":\"k\"}", f1, 1, &o};
    vmrp_writer_stats st;
    pack_ok(dir, archive, d1, 3, &p1, &e, &st);
    unsigned char *a1 = malloc(asz), *b1 = malloc(bsz), *c1 = malloc(csz);
    memcpy(a1, a, asz);
    memcpy(b1, b, bsz);
    memcpy(c1, c, csz);
    ut_disk s1[] = {{"vda", a1, asz, 0}, {"vdb", b1, bsz, 0}, {"vdc", c1, csz, 0}};

    /* P2 without a key: vda changed in one block and holding two equal
     * blocks, vdb excluded, vdc absent, the same name as P1, no
     * configuration given. */
    rnd_block(a, 3, 1103);
    memcpy(a + 9 * BS, a + 8 * BS, BS);
    uint64_t a2_nonzero = nonzero_blocks(a, asz);
    ck_assert_uint_eq(a2_nonzero, 11);
    ut_disk d2[] = {{"vda", a, asz, 0}, {"vdb", NULL, 0, 1}};
    ut_point p2 = {"daily", 0, NULL, NULL, 0, NULL};
    unsigned char *before;
    size_t before_len = file_bytes(archive, &before);
    pack_ok(dir, archive, d2, 2, &p2, NULL, &st);
    ck_assert_int_eq(st.keyless, 1);
    ck_assert_int_eq(st.created, 0);
    ck_assert_uint_eq(st.sequence, 2);
    ck_assert_uint_eq(st.point_count, 2);
    ck_assert_uint_eq(st.changed_blocks, 11); /* every non-zero block */
    ck_assert_uint_eq(st.new_blocks, 10);     /* nothing shared with P1 */
    ck_assert_uint_eq(st.dedup_blocks, 1);    /* within its own segment */
    /* Committed bytes were not touched. */
    unsigned char *after;
    size_t after_len = file_bytes(archive, &after);
    ck_assert_uint_gt(after_len, before_len);
    ck_assert_mem_eq(after, before, before_len);
    free(before);
    free(after);
    unsigned char *a2 = malloc(asz);
    memcpy(a2, a, asz);
    ut_disk s2[] = {{"vda", a2, asz, 0}, {"vdb", NULL, 0, 1}};

    vmrp_reader *r = xopen(archive, NULL, "k-pass", VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 2);
    expect_point(r, 0, "daily", "{\"vm\":\"k\"}", s1, 3, f1, 1);
    expect_point(r, 1, "daily", "{}", s2, 2, NULL, 0);
    const vmrp_point_info *q1 = vmrp_reader_point(r, 0), *q2 = vmrp_reader_point(r, 1);
    ck_assert_int_eq(find_disk(q2, "vda")->full, 1);
    ck_assert_int_eq(find_disk(q2, "vdb")->full, 0);
    ck_assert_uint_eq(find_disk(q2, "vda")->changed_blocks, 11);
    /* New families: the writer could not see the old ones. */
    ck_assert(memcmp(find_disk(q2, "vda")->family_id, find_disk(q1, "vda")->family_id, 16) != 0);
    ck_assert(memcmp(find_disk(q2, "vdb")->family_id, find_disk(q1, "vdb")->family_id, 16) != 0);
    /* A name selects the newest point that has it. */
    uint32_t idx = 99;
    ck_assert_int_eq(vmrp_reader_find_point(r, "daily", &idx), VMRP_OK);
    ck_assert_uint_eq(idx, 1);
    ck_assert_int_eq(vmrp_reader_find_point(r, "1", &idx), VMRP_OK);
    ck_assert_uint_eq(idx, 0);
    vmrp_reader_free(r);

    /* P3 with the key, no configuration given: it inherits P1's (the
     * newest point of its id space, 8.1.1), not the keyless point's.
     * vda shrinks and changes in one block: FULL, since its previous point
     * is keyless; vdb comes back changed: FULL, its family restarted by
     * the keyless point; vdc comes back grown: a delta on P1, in the same
     * id space. Blocks are deduplicated against P1 only. */
    uint64_t asz3 = 10 * BS, csz3 = 8 * BS;
    memset(a + asz3, 0, 16 * BS - asz3);
    rnd_block(a, 1, 1201);
    rnd_block(b, 2, 2202);
    rnd_block(c, 7, 3307);
    ut_disk d3[] = {{"vda", a, asz3, 0}, {"vdb", b, bsz, 0}, {"vdc", c, csz3, 0}};
    ut_point p3 = {"weekly", 0, NULL, NULL, 0, NULL};
    pack_ok(dir, archive, d3, 3, &p3, &e, &st);
    ck_assert_int_eq(st.keyless, 0);
    /* vda: 9 entries, new: block 1 and block 3 (only the keyless point had
     * it); vdb: 4 entries, block 2 new; vdc: 1 entry, block 7 new. */
    ck_assert_uint_eq(st.changed_blocks, 9 + 4 + 1);
    ck_assert_uint_eq(st.new_blocks, 2 + 1 + 1);
    unsigned char *a3 = malloc(asz3), *b3 = malloc(bsz), *c3 = malloc(csz3);
    memcpy(a3, a, asz3);
    memcpy(b3, b, bsz);
    memcpy(c3, c, csz3);
    ut_disk s3[] = {{"vda", a3, asz3, 0}, {"vdb", b3, bsz, 0}, {"vdc", c3, csz3, 0}};

    /* P4 with the key and a new configuration: vda grows back (old blocks
     * 10, 11 must read as zero), vdb changes one block, vdc unchanged. */
    uint64_t asz4 = 14 * BS;
    rnd_block(a, 13, 1313);
    rnd_block(b, 0, 2400);
    ut_file f4[] = {{"domain.xml", 0644, "<domain>four</domain>", 21},
                    {"extra.conf", 0640, "x=1\n", 4}};
    ut_disk d4[] = {{"vda", a, asz4, 0}, {"vdb", b, bsz, 0}, {"vdc", c, csz3, 0}};
    ut_point p4 = {"p4", 0, "{\"vm\":\"k\",\"p\":4}", f4, 2, NULL};
    vmrp_encryption e4 = enc_pass("k-pass");
    pack_ok(dir, archive, d4, 3, &p4, &e4, &st);
    ck_assert_int_eq(st.keyless, 0);
    ck_assert_uint_eq(st.changed_blocks, 2);
    ck_assert_uint_eq(st.new_blocks, 2);

    r = xopen(archive, NULL, "k-pass", VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 4);
    expect_point(r, 0, "daily", "{\"vm\":\"k\"}", s1, 3, f1, 1);
    expect_point(r, 1, "daily", "{}", s2, 2, NULL, 0);
    expect_point(r, 2, "weekly", "{\"vm\":\"k\"}", s3, 3, f1, 1);
    expect_point(r, 3, "p4", "{\"vm\":\"k\",\"p\":4}", d4, 3, f4, 2);
    q2 = vmrp_reader_point(r, 1);
    const vmrp_point_info *q3 = vmrp_reader_point(r, 2), *q4 = vmrp_reader_point(r, 3);
    ck_assert_int_eq(find_disk(q3, "vda")->full, 1);
    ck_assert_uint_eq(find_disk(q3, "vda")->changed_blocks, 9);
    ck_assert_int_eq(find_disk(q3, "vdb")->full, 1);
    ck_assert_int_eq(find_disk(q3, "vdc")->full, 0);
    ck_assert_uint_eq(find_disk(q3, "vdc")->changed_blocks, 1);
    /* A name keeps the family it has now (5.4.2). */
    ck_assert_mem_eq(find_disk(q3, "vda")->family_id, find_disk(q2, "vda")->family_id, 16);
    ck_assert_mem_eq(find_disk(q3, "vdb")->family_id, find_disk(q2, "vdb")->family_id, 16);
    ck_assert_mem_eq(find_disk(q3, "vdc")->family_id,
                     find_disk(vmrp_reader_point(r, 0), "vdc")->family_id, 16);
    ck_assert_int_eq(find_disk(q4, "vda")->full, 0);
    ck_assert_int_eq(find_disk(q4, "vdb")->full, 0);
    ck_assert_int_eq(find_disk(q4, "vdc")->full, 0);
    ck_assert_uint_eq(find_disk(q4, "vdc")->changed_blocks, 0);
    /* Keyed points are in segment 1's id space, the keyless one is not. */
    ck_assert_mem_eq(r->crypt->segs[2].id_key, r->crypt->segs[0].id_key, KEY_SIZE);
    ck_assert_mem_eq(r->crypt->segs[3].id_key, r->crypt->segs[0].id_key, KEY_SIZE);
    ck_assert(memcmp(r->crypt->segs[1].id_key, r->crypt->segs[0].id_key, KEY_SIZE) != 0);
    ck_assert_int_eq(vmrp_reader_find_point(r, "daily", &idx), VMRP_OK);
    ck_assert_uint_eq(idx, 1);
    ck_assert_int_eq(vmrp_reader_find_point(r, "weekly", &idx), VMRP_OK);
    ck_assert_uint_eq(idx, 2);
    vmrp_reader_free(r);

    /* The whole archive verifies with its key. */
    r = vmrp_reader_new();
    vmrp_reader_set_decryption(r, NULL, give_pass, "k-pass");
    int fd = open(archive, O_RDONLY | O_CLOEXEC);
    vmrp_verify_report rep;
    int rc = vmrp_reader_verify(r, fd, archive, &rep);
    ck_assert_msg(rc == VMRP_OK, "verify: %s", vmrp_reader_error_string(r));
    ck_assert_int_eq(rep.content_checked, 1);
    ck_assert_uint_eq(rep.points, 4);
    close(fd);
    vmrp_reader_free(r);

    free(a);
    free(b);
    free(c);
    free(a1);
    free(b1);
    free(c1);
    free(a2);
    free(a3);
    free(b3);
    free(c3);
    ut_rmtree(dir);
}
END_TEST

/* Two keyless appends in a row: each deduplicates within its own segment
 * only, and a keyed append after them is a delta on the newest. */
START_TEST(test_keyless_twice)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "k2.vmrp");
    vmrp_writer_options o = small_opts(VMRP_CODEC_NONE);
    vmrp_encryption e = enc_pass("pw");
    unsigned char disk[5 * BS];
    ut_fill_random(disk, sizeof disk, 77);
    ut_disk d = {"vda", disk, sizeof disk, 0};
    ut_point p1 = {NULL, 0, NULL, NULL, 0, &o};
    pack_ok(dir, archive, &d, 1, &p1, &e, NULL);
    vmrp_writer_stats st;
    ut_file kf[] = {{"empty", 0600, NULL, 0}, {"k.conf", 0644, "k=1", 3}};
    for (int i = 0; i < 2; i++) {
        ut_point pk = {NULL, 0, NULL, kf, i ? 2 : 0, NULL};
        pack_ok(dir, archive, &d, 1, &pk, NULL, &st);
        ck_assert_int_eq(st.keyless, 1);
        ck_assert_uint_eq(st.new_blocks, 5);
        ck_assert_uint_eq(st.dedup_blocks, 0);
    }
    /* With the key again: FULL (the previous point is keyless), in
     * segment 1's id space, where only the changed block is new. */
    disk[4 * BS] ^= 1;
    pack_ok(dir, archive, &d, 1, NULL, &e, &st);
    ck_assert_int_eq(st.keyless, 0);
    ck_assert_uint_eq(st.changed_blocks, 5);
    ck_assert_uint_eq(st.new_blocks, 1);
    ck_assert_uint_eq(st.dedup_blocks, 4);
    vmrp_reader *r = xopen(archive, NULL, "pw", VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 4);
    for (uint32_t k = 0; k < 4; k++) {
        ck_assert_str_eq(vmrp_reader_point(r, k)->name, k == 0   ? "point-1"
                                                        : k == 1 ? "point-2"
                                                        : k == 2 ? "point-3"
                                                                 : "point-4");
        if (k == 3)
            expect_image(r, k, "vda", disk, sizeof disk);
    }
    for (uint32_t k = 0; k < 4; k++)
        ck_assert_int_eq(find_disk(vmrp_reader_point(r, k), "vda")->full, 1);
    ck_assert_mem_eq(r->crypt->segs[3].id_key, r->crypt->segs[0].id_key, KEY_SIZE);
    ck_assert(memcmp(r->crypt->segs[1].id_key, r->crypt->segs[2].id_key, KEY_SIZE) != 0);
    ck_assert(memcmp(r->crypt->segs[1].id_key, r->crypt->segs[0].id_key, KEY_SIZE) != 0);
    disk[4 * BS] ^= 1;
    for (uint32_t k = 0; k < 3; k++)
        expect_image(r, k, "vda", disk, sizeof disk);
    /* The keyless point's files; the keyed one inherits P1's (none). */
    ut_disk dk = {"vda", disk, sizeof disk, 0};
    expect_point(r, 2, "point-3", "{}", &dk, 1, kf, 2);
    disk[4 * BS] ^= 1;
    expect_point(r, 3, "point-4", "{}", &dk, 1, NULL, 0);
    vmrp_reader_free(r);
    ut_rmtree(dir);
}
END_TEST

/* Pack one disk given only the byte ranges that changed. */
static void pack_ranges(const char *dir, const char *archive, const unsigned char *disk,
                        size_t size, const vmrp_extent *changed, size_t n,
                        const vmrp_encryption *e, vmrp_writer_stats *st)
{
    char path[4096];
    ut_join(path, sizeof path, dir, "ranges.img");
    ut_write_file(path, disk, size);
    vmrp_writer *w = vmrp_writer_new();
    if (e)
        ck_assert_int_eq(vmrp_writer_set_encryption(w, e), VMRP_OK);
    unsigned char named_key[32];
    if (ut_named_collection_key(archive, named_key))
        vmrp_writer_set_collection_key(w, named_key); /* for a keyless append */
    ck_assert_msg(vmrp_writer_open(w, archive, NULL) == VMRP_OK, "%s", vmrp_writer_error_string(w));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_eq(vmrp_writer_add_disk_ranges(w, "vda", fd, path, changed, n), VMRP_OK);
    close(fd);
    ck_assert_msg(vmrp_writer_commit(w) == VMRP_OK, "%s", vmrp_writer_error_string(w));
    vmrp_writer_get_stats(w, st);
    vmrp_writer_free(w);
}

/* Changed ranges narrow the read only for a delta: a FULL point (no key,
 * or after a keyless point) reads the whole disk, whatever they say. */
START_TEST(test_changed_ranges)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "ranges.vmrp");
    vmrp_writer_options o = small_opts(VMRP_CODEC_NONE);
    vmrp_encryption e = enc_pass("r");
    unsigned char disk[8 * BS];
    ut_fill_random(disk, sizeof disk, 321);
    ut_disk d = {"vda", disk, sizeof disk, 0};
    ut_point p = {NULL, 0, NULL, NULL, 0, &o};
    pack_ok(dir, archive, &d, 1, &p, &e, NULL);
    vmrp_writer_stats st;

    disk[5 * BS] ^= 1;
    vmrp_extent c5 = {5 * BS, 1};
    pack_ranges(dir, archive, disk, sizeof disk, &c5, 1, NULL, &st);
    ck_assert_int_eq(st.keyless, 1);
    ck_assert_uint_eq(st.bytes_read, sizeof disk);
    ck_assert_uint_eq(st.changed_blocks, 8);

    disk[6 * BS] ^= 1;
    vmrp_extent c6 = {6 * BS, 1};
    pack_ranges(dir, archive, disk, sizeof disk, &c6, 1, &e, &st);
    ck_assert_int_eq(st.keyless, 0);
    ck_assert_uint_eq(st.bytes_read, sizeof disk);
    ck_assert_uint_eq(st.changed_blocks, 8);

    disk[7 * BS] ^= 1;
    vmrp_extent c7 = {7 * BS, 1};
    pack_ranges(dir, archive, disk, sizeof disk, &c7, 1, &e, &st);
    ck_assert_uint_eq(st.bytes_read, BS);
    ck_assert_uint_eq(st.changed_blocks, 1);

    vmrp_reader *r = xopen(archive, NULL, "r", VMRP_OK);
    for (uint32_t k = 4; k-- > 0;) {
        expect_image(r, k, "vda", disk, sizeof disk);
        disk[(4 + k) * BS] ^= 1;
    }
    vmrp_reader_free(r);
    ut_rmtree(dir);
}
END_TEST

/* The (type, Stored_Size) of every record of segment k, as anyone can
 * read them without a key. */
static size_t clear_shape(const char *archive, uint32_t k, uint64_t *shape, size_t cap)
{
    size_t len;
    unsigned char *f = ut_read_file(archive, &len);
    uint32_t seg = 0;
    size_t n = 0;
    for (uint64_t off = FH_SIZE; off < len;) {
        uint32_t stored = le32_load(f + off + RH_OFF_STORED_SIZE);
        if (seg == k) {
            ck_assert_uint_lt(n, cap);
            shape[n++] = (uint64_t)f[off + RH_OFF_TYPE] << 32 | stored;
        }
        seg += f[off + RH_OFF_TYPE] == REC_COMMIT;
        off += RH_SIZE + stored;
    }
    free(f);
    return n;
}

/* Whoever appends without the key may plant blocks and files, hoping a
 * later keyed point deduplicates against them; the later point must look
 * the same in the clear whether a plant matched or not (8.1.1). */
START_TEST(test_planted_data_reveals_nothing)
{
    char *dir = ut_tmpdir();
    unsigned char secret_block[BS], other_block[BS], base[3 * BS];
    ut_fill_random(secret_block, BS, 0x5ec);
    ut_fill_random(other_block, BS, 0x07e);
    ut_fill_random(base, sizeof base, 0xba5e);
    static const char secret_file[] = "password=hunter2\n", other_file[] = "password=letmein\n";
    uint64_t shape[2][64];
    size_t nshape[2];
    vmrp_writer_stats st3[2];
    for (int hit = 0; hit < 2; hit++) {
        char archive[4096], leaf[32];
        snprintf(leaf, sizeof leaf, "plant-%d.vmrp", hit);
        ut_join(archive, sizeof archive, dir, leaf);
        vmrp_writer_options o = small_opts(VMRP_CODEC_NONE);
        vmrp_encryption e = enc_pass("plant");
        ut_disk d1 = {"vda", base, sizeof base, 0};
        ut_point p1 = {"p1", 0, NULL, NULL, 0, &o};
        pack_ok(dir, archive, &d1, 1, &p1, &e, NULL);
        /* The plant, without the key: a guess of the block and the file. */
        unsigned char guess[2 * BS];
        memcpy(guess, hit ? secret_block : other_block, BS);
        memcpy(guess + BS, base + BS, BS); /* and a copy of a known block */
        ut_disk d2 = {"vda", guess, sizeof guess, 0};
        const char *gf = hit ? secret_file : other_file;
        ut_file f2 = {"app.conf", 0600, gf, strlen(gf)};
        ut_point p2 = {"p2", 0, NULL, &f2, 1, &o};
        pack_ok(dir, archive, &d2, 1, &p2, NULL, NULL);
        /* The keyed point holds the secret block and file. */
        unsigned char disk[3 * BS];
        memcpy(disk, base, sizeof disk);
        memcpy(disk + 2 * BS, secret_block, BS);
        ut_disk d3 = {"vda", disk, sizeof disk, 0};
        ut_file f3 = {"app.conf", 0600, secret_file, strlen(secret_file)};
        ut_point p3 = {"p3", 0, NULL, &f3, 1, &o};
        pack_ok(dir, archive, &d3, 1, &p3, &e, &st3[hit]);
        nshape[hit] = clear_shape(archive, 2, shape[hit], 64);

        vmrp_reader *r = xopen(archive, NULL, "plant", VMRP_OK);
        expect_point(r, 2, "p3", NULL, &d3, 1, &f3, 1);
        vmrp_reader_free(r);
    }
    ck_assert_uint_eq(st3[0].new_blocks, st3[1].new_blocks);
    ck_assert_uint_eq(st3[0].changed_blocks, st3[1].changed_blocks);
    ck_assert_uint_eq(st3[0].bytes_written, st3[1].bytes_written);
    ck_assert_uint_eq(nshape[0], nshape[1]);
    for (size_t i = 0; i < nshape[0]; i++)
        ck_assert_msg(shape[0][i] == shape[1][i],
                      "record %zu of the keyed segment differs with a matching plant", i);
    /* And the keyed point stored the secret block itself. */
    ck_assert_uint_eq(st3[1].new_blocks, 1);
    ut_rmtree(dir);
}
END_TEST

static void expect_refused(const vmrp_encryption *e, const char *what)
{
    vmrp_writer *w = vmrp_writer_new();
    ck_assert_msg(vmrp_writer_set_encryption(w, e) == VMRP_E_USAGE, "%s accepted", what);
    ck_assert(vmrp_writer_error_string(w)[0] != '\0');
    vmrp_writer_free(w);
}

/* Wrong or missing keys, and settings the writer refuses. */
START_TEST(test_key_errors)
{
    char *dir = ut_tmpdir();
    char archive[4096], plain[4096];
    ut_join(archive, sizeof archive, dir, "e.vmrp");
    ut_join(plain, sizeof plain, dir, "plain.vmrp");
    unsigned char disk[2 * BS];
    ut_fill_random(disk, sizeof disk, 5);
    ut_disk d = {"vda", disk, sizeof disk, 0};
    vmrp_writer_options o = small_opts(0);
    ut_point p = {NULL, 0, NULL, NULL, 0, &o};
    vmrp_encryption e = enc_pass("secret");
    pack_ok(dir, archive, &d, 1, &p, &e, NULL);
    pack_ok(dir, plain, &d, 1, &p, NULL, NULL);

    /* Reader: no key, a wrong passphrase, the passphrase with a NUL cut. */
    vmrp_reader *r = xopen(archive, NULL, NULL, VMRP_E_KEY);
    const char *m = vmrp_reader_error_string(r);
    ck_assert_msg(strstr(m, "key slots") && strstr(m, "passphrase"), "%s", m);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 0);
    vmrp_reader_free(r);
    static const char *wrong[] = {"", "secre", "secret ", "Secret", "secret\n"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        r = xopen(archive, NULL, wrong[i], VMRP_E_KEY);
        ck_assert_msg(strstr(vmrp_reader_error_string(r), "passphrase is wrong") != NULL, "%s",
                      vmrp_reader_error_string(r));
        vmrp_reader_free(r);
    }
    /* A passphrase never shows in a message. */
    r = xopen(archive, NULL, "QX7-not-it", VMRP_E_KEY);
    ck_assert_ptr_null(strstr(vmrp_reader_error_string(r), "QX7"));
    vmrp_reader_free(r);
    {
        char wmsg[600];
        vmrp_encryption ew = enc_pass("QX7-not-it");
        ck_assert_int_eq(xpack(dir, archive, &d, 1, NULL, &ew, NULL, wmsg, sizeof wmsg),
                         VMRP_E_KEY);
        ck_assert_ptr_null(strstr(wmsg, "QX7"));
    }
    /* An unencrypted archive ignores keys. */
    vmrp_key *x = ut_new_x25519();
    r = xopen(plain, x, "whatever", VMRP_OK);
    ck_assert_int_eq(vmrp_reader_collection(r)->encrypted, 0);
    ck_assert_uint_eq(vmrp_reader_collection(r)->format_minor, 1);
    vmrp_reader_free(r);

    /* Writer settings refused by vmrp_writer_set_encryption. */
    vmrp_key *sig = vmrp_key_new();
    ck_assert_int_eq(vmrp_key_generate(sig), VMRP_OK);
    vmrp_key *xpub = ut_public_half(x, dir, "x");
    const vmrp_key *sigs[] = {sig};
    const vmrp_key *nulls[] = {NULL};
    const vmrp_key *many[65];
    for (int i = 0; i < 65; i++)
        many[i] = xpub;
    vmrp_encryption b = enc_pass("p");
    b.kdf_opslimit = 11;
    expect_refused(&b, "opslimit 11");
    b = enc_pass("p");
    b.kdf_memlimit = 4096;
    expect_refused(&b, "memlimit 4096");
    b.kdf_memlimit = 8192 + 512;
    expect_refused(&b, "memlimit 8704");
    b.kdf_memlimit = (1ull << 30) + 1024;
    expect_refused(&b, "memlimit 1 GiB + 1 KiB");
    b = enc_none();
    b.recipients = sigs;
    b.recipient_count = 1;
    expect_refused(&b, "a signing key as recipient");
    b.recipients = nulls;
    expect_refused(&b, "a NULL recipient");
    b.recipients = many;
    b.recipient_count = 65;
    expect_refused(&b, "65 slots");
    b.passphrase = "p";
    b.recipient_count = 64;
    expect_refused(&b, "64 recipients and a passphrase");
    b = enc_none();
    b.identity = xpub;
    expect_refused(&b, "a public identity");
    b.identity = sig;
    expect_refused(&b, "a signing identity");
    /* 64 slots is the limit, and fits. */
    char big[4096];
    ut_join(big, sizeof big, dir, "64.vmrp");
    vmrp_encryption e64 = enc_none();
    e64.recipients = many;
    e64.recipient_count = 64;
    pack_ok(dir, big, &d, 1, &p, &e64, NULL);
    r = xopen(big, x, NULL, VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_collection(r)->key_slot_count, 64);
    vmrp_reader_free(r);

    /* After open it is too late. */
    char late[4096];
    ut_join(late, sizeof late, dir, "late.vmrp");
    vmrp_writer *w = vmrp_writer_new();
    ck_assert_int_eq(vmrp_writer_open(w, late, &o), VMRP_OK);
    ck_assert_int_eq(vmrp_writer_set_encryption(w, &e), VMRP_E_USAGE);
    vmrp_writer_free(w);

    /* Encryption is chosen at creation: a passphrase or recipients for an
     * existing plain archive are refused, and the file is unchanged. */
    unsigned char *before;
    size_t before_len = file_bytes(plain, &before);
    char msg[600];
    ck_assert_int_eq(xpack(dir, plain, &d, 1, NULL, &e, NULL, msg, sizeof msg), VMRP_E_USAGE);
    vmrp_encryption er = enc_none();
    const vmrp_key *xs[] = {xpub};
    er.recipients = xs;
    er.recipient_count = 1;
    ck_assert_int_eq(xpack(dir, plain, &d, 1, NULL, &er, NULL, msg, sizeof msg), VMRP_E_USAGE);
    unsigned char *after;
    size_t after_len = file_bytes(plain, &after);
    ck_assert_uint_eq(after_len, before_len);
    ck_assert_mem_eq(after, before, before_len);
    free(before);
    free(after);

    /* A wrong passphrase for the writer: refused, file unchanged. */
    before_len = file_bytes(archive, &before);
    vmrp_encryption ew = enc_pass("SECRET");
    ck_assert_int_eq(xpack(dir, archive, &d, 1, NULL, &ew, NULL, msg, sizeof msg), VMRP_E_KEY);
    vmrp_encryption ex = enc_id(x);
    ck_assert_int_eq(xpack(dir, archive, &d, 1, NULL, &ex, NULL, msg, sizeof msg), VMRP_E_KEY);
    after_len = file_bytes(archive, &after);
    ck_assert_uint_eq(after_len, before_len);
    ck_assert_mem_eq(after, before, before_len);
    free(before);
    free(after);

    vmrp_key_free(x);
    vmrp_key_free(xpub);
    vmrp_key_free(sig);
    ut_rmtree(dir);
}
END_TEST

/* An encrypted archive whose creation was interrupted (header and key
 * record, no commit): a writer without encryption settings must not
 * re-create it in plaintext; one with them starts it again, encrypted. */
START_TEST(test_interrupted_encrypted_creation)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "cut.vmrp");
    unsigned char disk[2 * BS];
    ut_fill_random(disk, sizeof disk, 99);
    ut_disk d = {"vda", disk, sizeof disk, 0};
    vmrp_writer_options o = small_opts(0);
    ut_point p = {NULL, 0, NULL, NULL, 0, &o};
    vmrp_encryption e = enc_pass("again");
    pack_ok(dir, archive, &d, 1, &p, &e, NULL);
    unsigned char *bytes;
    size_t len = file_bytes(archive, &bytes);
    size_t keys_end = FH_SIZE + RH_SIZE + le32_load(bytes + FH_SIZE + RH_OFF_STORED_SIZE);
    ck_assert_uint_eq(bytes[FH_SIZE + RH_OFF_TYPE], REC_KEYS);
    ck_assert_uint_lt(keys_end, len);
    ut_write_file(archive, bytes, keys_end);

    char msg[600];
    ck_assert_int_ne(xpack(dir, archive, &d, 1, NULL, NULL, NULL, msg, sizeof msg), VMRP_OK);
    unsigned char *now;
    size_t now_len = file_bytes(archive, &now);
    ck_assert_uint_eq(now_len, keys_end);
    ck_assert_mem_eq(now, bytes, keys_end);
    free(now);

    vmrp_writer_stats st;
    pack_ok(dir, archive, &d, 1, &p, &e, &st);
    ck_assert_uint_eq(st.dropped_tail, keys_end);
    vmrp_collection_info ci;
    ck_assert_int_eq(vmrp_probe(archive, &ci), VMRP_OK);
    ck_assert_int_eq(ci.encrypted, 1);
    vmrp_reader *r = xopen(archive, NULL, "again", VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 1);
    expect_image(r, 0, "vda", disk, sizeof disk);
    vmrp_reader_free(r);
    r = xopen(archive, NULL, NULL, VMRP_E_KEY);
    vmrp_reader_free(r);
    free(bytes);
    ut_rmtree(dir);
}
END_TEST

/* Nothing written to disks, VM configuration, config files or names
 * appears in the file, nor any key; the same data packed without
 * encryption shows every marker (so the search can fail). */
static const char *const markers[] = {
    "DISKMARK-7f3a-restore-me", "VMJSONMARK-91c2", "CFGNAMEMARK-4d1e.xml", "CFGBODYMARK-a0b9",
    "POINTNAMEMARK-55e1",       "DISKNAMEMARK",
};

static void pack_markers(const char *dir, const char *archive, const vmrp_encryption *e,
                         int codec, const vmrp_encryption *e2, unsigned char *rnd)
{
    size_t dsz = 6 * BS;
    unsigned char *disk = calloc(1, dsz);
    for (size_t at = 0; at + 32 < 3 * BS; at += 32)
        memcpy(disk + at, markers[0], strlen(markers[0]));
    ut_fill_random(rnd, BS, 4242);
    memcpy(disk + 4 * BS, rnd, BS);
    char meta[128], body[256];
    snprintf(meta, sizeof meta, "{\"note\":\"%s\"}", markers[1]);
    snprintf(body, sizeof body, "<domain>%s</domain>", markers[3]);
    ut_file f = {markers[2], 0644, body, strlen(body)};
    vmrp_writer_options o = small_opts(codec);
    ut_disk d = {markers[5], disk, dsz, 0};
    ut_point p = {markers[4], 0, meta, &f, 1, &o};
    pack_ok(dir, archive, &d, 1, &p, e, NULL);
    /* A second point: appended with e2 (NULL: without a key). */
    disk[5 * BS] = 1;
    ut_point p2 = {"second", 0, meta, &f, 1, NULL};
    pack_ok(dir, archive, &d, 1, &p2, e2, NULL);
    free(disk);
}

START_TEST(test_no_plaintext)
{
    char *dir = ut_tmpdir();
    unsigned char rnd[BS];
    char plain[4096];
    ut_join(plain, sizeof plain, dir, "plain.vmrp");
    pack_markers(dir, plain, NULL, VMRP_CODEC_NONE, NULL, rnd);
    unsigned char *bytes;
    size_t len = file_bytes(plain, &bytes);
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++)
        ck_assert_msg(memmem(bytes, len, markers[i], strlen(markers[i])) != NULL,
                      "control: %s not in the plain archive", markers[i]);
    ck_assert(memmem(bytes, len, rnd + 1000, 32) != NULL);
    free(bytes);

    static const int codecs[] = {VMRP_CODEC_NONE, VMRP_CODEC_ZSTD, VMRP_CODEC_ZLIB};
    for (int c = 0; c < 3; c++)
        for (int keyed_second = 0; keyed_second < 2; keyed_second++) {
            char archive[4096], leaf[64];
            snprintf(leaf, sizeof leaf, "enc-%d-%d.vmrp", c, keyed_second);
            ut_join(archive, sizeof archive, dir, leaf);
            vmrp_encryption e = enc_pass("MARKPASS-0b1d");
            pack_markers(dir, archive, &e, codecs[c], keyed_second ? &e : NULL, rnd);
            len = file_bytes(archive, &bytes);
            for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++)
                ck_assert_msg(memmem(bytes, len, markers[i], strlen(markers[i])) == NULL,
                              "codec %d: '%s' found in the encrypted archive", codecs[c],
                              markers[i]);
            for (size_t at = 0; at + 16 <= BS; at += 512)
                ck_assert_msg(memmem(bytes, len, rnd + at, 16) == NULL,
                              "bytes of a random disk block found in the encrypted archive");
            ck_assert(memmem(bytes, len, "MARKPASS", 8) == NULL);
            ck_assert(memmem(bytes, len, "second", 6) == NULL);
            ck_assert(memmem(bytes, len, "domain", 6) == NULL);

            /* No key in the clear: collection secret, Data_Keys, Id_Keys. */
            vmrp_reader *r = xopen(archive, NULL, "MARKPASS-0b1d", VMRP_OK);
            ck_assert_uint_eq(r->crypt->nsegs, 2);
            ck_assert(memmem(bytes, len, r->crypt->collection_sk, KEY_SIZE) == NULL);
            for (size_t s = 0; s < r->crypt->nsegs; s++) {
                ck_assert(memmem(bytes, len, r->crypt->segs[s].data_key, KEY_SIZE) == NULL);
                ck_assert(memmem(bytes, len, r->crypt->segs[s].id_key, KEY_SIZE) == NULL);
            }
            /* The public key is in the clear, in every KEYS record. */
            unsigned char *hit = memmem(bytes, len, r->crypt->collection_pk, KEY_SIZE);
            ck_assert_ptr_nonnull(hit);
            ck_assert_ptr_nonnull(memmem(hit + 1, len - (size_t)(hit + 1 - bytes),
                                         r->crypt->collection_pk, KEY_SIZE));
            /* Segment keys are fresh per segment. */
            ck_assert(memcmp(r->crypt->segs[0].data_key, r->crypt->segs[1].data_key, KEY_SIZE) !=
                      0);
            if (keyed_second)
                ck_assert_mem_eq(r->crypt->segs[0].id_key, r->crypt->segs[1].id_key, KEY_SIZE);
            else
                ck_assert(memcmp(r->crypt->segs[0].id_key, r->crypt->segs[1].id_key, KEY_SIZE) !=
                          0);
            /* And it reads back. */
            const vmrp_point_info *pi = vmrp_reader_point(r, 0);
            ck_assert_str_eq(pi->name, markers[4]);
            ck_assert_str_eq(pi->disks[0].name, markers[5]);
            ck_assert_str_eq(pi->config_files[0].name, markers[2]);
            vmrp_reader_free(r);
            free(bytes);
        }
    ut_rmtree(dir);
}
END_TEST

/* Repeated names: allowed in an encrypted archive (a writer without the
 * key cannot see the names); a name selects the newest point. */
START_TEST(test_repeated_names)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "names.vmrp");
    vmrp_writer_options o = small_opts(0);
    vmrp_encryption e = enc_pass("n");
    unsigned char disk[BS];
    ut_disk d = {"vda", disk, sizeof disk, 0};
    static const char *names[] = {"nightly", "nightly", "other", "nightly"};
    for (int i = 0; i < 4; i++) {
        ut_fill_random(disk, sizeof disk, 900 + (uint64_t)i);
        ut_point p = {names[i], 0, NULL, NULL, 0, i == 0 ? &o : NULL};
        /* The first with the key, then without. */
        pack_ok(dir, archive, &d, 1, &p, i == 0 ? &e : NULL, NULL);
    }
    vmrp_reader *r = xopen(archive, NULL, "n", VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), 4);
    uint32_t idx = 99;
    ck_assert_int_eq(vmrp_reader_find_point(r, "nightly", &idx), VMRP_OK);
    ck_assert_uint_eq(idx, 3);
    ck_assert_int_eq(vmrp_reader_find_point(r, "other", &idx), VMRP_OK);
    ck_assert_uint_eq(idx, 2);
    ck_assert_int_eq(vmrp_reader_find_point(r, "2", &idx), VMRP_OK);
    ck_assert_uint_eq(idx, 1);
    ck_assert_int_eq(vmrp_reader_find_point(r, "latest", &idx), VMRP_OK);
    ck_assert_uint_eq(idx, 3);
    ck_assert_int_eq(vmrp_reader_find_point(r, "weekly", &idx), VMRP_E_NOT_FOUND);
    ut_fill_random(disk, sizeof disk, 903);
    expect_image(r, 3, "vda", disk, sizeof disk);
    vmrp_reader_free(r);

    /* The archive verifies with and without its key. */
    for (int keyed = 0; keyed < 2; keyed++) {
        r = vmrp_reader_new();
        if (keyed)
            vmrp_reader_set_decryption(r, NULL, give_pass, "n");
        int fd = open(archive, O_RDONLY | O_CLOEXEC);
        vmrp_verify_report rep;
        ck_assert_msg(vmrp_reader_verify(r, fd, archive, &rep) == VMRP_OK, "%s",
                      vmrp_reader_error_string(r));
        ck_assert_int_eq(rep.content_checked, keyed);
        close(fd);
        vmrp_reader_free(r);
    }
    ut_rmtree(dir);
}
END_TEST

/* vmrp_probe and the collection description of encrypted and plain
 * archives. */
START_TEST(test_probe_and_slots)
{
    char *dir = ut_tmpdir();
    char enc[4096], plain[4096], junk[4096], missing[4096];
    ut_join(enc, sizeof enc, dir, "e.vmrp");
    ut_join(plain, sizeof plain, dir, "p.vmrp");
    ut_join(junk, sizeof junk, dir, "junk");
    ut_join(missing, sizeof missing, dir, "missing.vmrp");
    unsigned char disk[BS];
    ut_fill_random(disk, sizeof disk, 1);
    ut_disk d = {"vda", disk, sizeof disk, 0};
    vmrp_writer_options o = small_opts(0);
    o.max_points = 17;
    ut_point p = {NULL, 0, NULL, NULL, 0, &o};
    vmrp_encryption e = enc_pass("probe");
    e.kdf_opslimit = 10;
    e.kdf_memlimit = 9216;
    pack_ok(dir, enc, &d, 1, &p, &e, NULL);
    pack_ok(dir, plain, &d, 1, &p, NULL, NULL);
    ut_write_file(junk, "not an archive, just text that is long enough for a header.......",
                  66);

    vmrp_collection_info ci;
    ck_assert_int_eq(vmrp_probe(enc, &ci), VMRP_OK);
    ck_assert_int_eq(ci.encrypted, 1);
    ck_assert_uint_eq(ci.format_major, 1);
    ck_assert_uint_eq(ci.format_minor, 2);
    ck_assert_uint_eq(ci.block_size, BS);
    ck_assert_uint_eq(ci.max_points, 17);
    vmrp_reader *r = xopen(enc, NULL, "probe", VMRP_OK);
    const vmrp_collection_info *rc = vmrp_reader_collection(r);
    ck_assert_mem_eq(ci.collection_id, rc->collection_id, 16);
    ck_assert_int_eq(ci.time_created_us, rc->time_created_us);
    ck_assert_uint_eq(rc->key_slot_count, 1);
    vmrp_key_slot_info si;
    memset(&si, 0xff, sizeof si);
    ck_assert_int_eq(vmrp_reader_key_slot(r, 0, &si), VMRP_OK);
    ck_assert_int_eq(si.type, VMRP_SLOT_PASSPHRASE);
    ck_assert_uint_eq(si.kdf_opslimit, 10);
    ck_assert_uint_eq(si.kdf_memlimit, 9216);
    ck_assert(ut_all_zero(si.key_id, 8));
    ck_assert_int_eq(vmrp_reader_key_slot(r, 1, &si), VMRP_E_NOT_FOUND);
    ck_assert_int_eq(vmrp_reader_key_slot(r, UINT32_MAX, &si), VMRP_E_NOT_FOUND);
    vmrp_reader_free(r);

    ck_assert_int_eq(vmrp_probe(plain, &ci), VMRP_OK);
    ck_assert_int_eq(ci.encrypted, 0);
    ck_assert_uint_eq(ci.format_minor, 1);
    r = xopen(plain, NULL, NULL, VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_collection(r)->key_slot_count, 0);
    ck_assert_int_eq(vmrp_reader_key_slot(r, 0, &si), VMRP_E_NOT_FOUND);
    vmrp_reader_free(r);

    ck_assert_int_eq(vmrp_probe(junk, &ci), VMRP_E_NOT_ARCHIVE);
    ck_assert_int_eq(vmrp_probe(missing, &ci), VMRP_E_NOT_FOUND);
    ut_write_file(junk, "\x89VMRP", 5);
    ck_assert_int_eq(vmrp_probe(junk, &ci), VMRP_E_NOT_ARCHIVE);
    ut_rmtree(dir);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Forgeries: records moved, swapped or re-encrypted, and every hash  */
/* recomputed, as anyone who holds an unsigned archive can do.        */

typedef struct {
    vmrp_reader *r;   /* the original, opened with its key: keys and records */
    unsigned char *f; /* the bytes being changed */
    size_t len;
} forge;

static void forge_open(forge *g, const char *path, const char *pass)
{
    g->r = xopen(path, NULL, pass, VMRP_OK);
    g->len = file_bytes(path, &g->f);
}

static void forge_free(forge *g)
{
    vmrp_reader_free(g->r);
    free(g->f);
}

/* Records found, kept for as long as a test uses them. */
static const rec_ref *forge_keep(const rec_ref *ref)
{
    static rec_ref ring[16];
    static unsigned next;
    ck_assert_ptr_nonnull(ref);
    rec_ref *slot = &ring[next++ % 16];
    *slot = *ref;
    return slot;
}

/* The nth record of this type in segment seg (0-based). */
static const rec_ref *forge_find(const forge *g, uint8_t type, uint16_t seg, int nth)
{
    for (size_t i = 0; i < rectab_count(g->r->table); i++) {
        rec_ref ref;
        ck_assert_int_eq(rectab_get(g->r->table, i, &ref), 1);
        if (ref.type == type && ref.segment == seg && nth-- == 0)
            return forge_keep(&ref);
    }
    ck_abort_msg("no record of type %u number %d in segment %u", type, nth, seg);
    return NULL;
}

/* The record at offset. */
static const rec_ref *forge_at(const forge *g, uint64_t offset)
{
    rec_ref ref;
    return forge_keep(reader_find_record(g->r, offset, &ref));
}

/* The decrypted payload of an encrypted record (codec 0: raw bytes). */
static unsigned char *forge_plain(const forge *g, const rec_ref *ref, size_t *len)
{
    ck_assert_uint_eq(g->f[ref->offset + RH_OFF_CODEC], CODEC_NONE);
    unsigned char *rec = malloc(ref->size);
    memcpy(rec, g->f + ref->offset, ref->size);
    ck_assert_int_eq(crypt_open_record(g->r->coll.collection_id,
                                       g->r->crypt->segs[ref->segment].data_key, ref->offset, rec,
                                       ref->size),
                     VMRP_OK);
    *len = ref->size - RH_SIZE - RECORD_CRYPTO_OVERHEAD;
    unsigned char *out = malloc(*len);
    memcpy(out, rec + RH_SIZE + RECORD_NONCE_SIZE, *len);
    free(rec);
    return out;
}

/* Encrypt plain again in place of the record, with its segment's key. */
static void forge_reseal(forge *g, const rec_ref *ref, const unsigned char *plain, size_t len)
{
    ck_assert_uint_eq(len, ref->size - RH_SIZE - RECORD_CRYPTO_OVERHEAD);
    unsigned char *rec = g->f + ref->offset;
    memcpy(rec + RH_SIZE + RECORD_NONCE_SIZE, plain, len);
    ck_assert_int_eq(crypt_seal_record(g->r->coll.collection_id,
                                       g->r->crypt->segs[ref->segment].data_key, ref->offset, rec,
                                       ref->size),
                     VMRP_OK);
}

/* Recompute the header hash, every Record_Hash in every INDEX, every
 * Index_Hash and the commit chain. */
static void forge_rehash(forge *g)
{
    unsigned char prev[HASH_SIZE] = {0}, header[HASH_SIZE];
    hash_buf(g->f + FH_OFF_HEADER_HASH, g->f, FH_OFF_HEADER_HASH);
    hash_buf(header, g->f, FH_SIZE);
    uint64_t index_at = 0, index_len = 0;
    for (uint64_t off = FH_SIZE; off < g->len;) {
        unsigned char *rec = g->f + off;
        ck_assert_mem_eq(rec, RH_MAGIC, 4);
        uint64_t size = RH_SIZE + le32_load(rec + RH_OFF_STORED_SIZE);
        ck_assert_uint_le(off + size, g->len);
        if (rec[RH_OFF_TYPE] == REC_INDEX) {
            uint32_t n = le32_load(rec + RH_SIZE + IX_OFF_ENTRY_COUNT);
            for (uint32_t i = 0; i < n; i++) {
                unsigned char *e = rec + RH_SIZE + IX_HEADER_SIZE + (size_t)IX_ENTRY_SIZE * i;
                uint64_t at = le64_load(e + IXE_OFF_OFFSET);
                uint32_t sz = le32_load(e + IXE_OFF_SIZE);
                hash_buf(e + IXE_OFF_HASH, g->f + at, sz);
            }
            index_at = off;
            index_len = size;
        } else if (rec[RH_OFF_TYPE] == REC_COMMIT) {
            hash_buf(rec + RH_SIZE + CM_OFF_INDEX_HASH, g->f + index_at, index_len);
            memcpy(rec + RH_SIZE + CM_OFF_PREV_HASH, prev, HASH_SIZE);
            memcpy(rec + RH_SIZE + CM_OFF_HEADER_HASH, header, HASH_SIZE);
            commit_hash(rec, prev);
        }
        off += size;
    }
}

static void forge_write(const forge *g, const char *path)
{
    ut_write_file(path, g->f, g->len);
}

/* Byte offset in a POINT payload of disk `name`'s entry. */
static size_t point_disk_at(const unsigned char *p, size_t len, const char *name)
{
    uint32_t n = le32_load(p + PT_OFF_DISK_COUNT);
    size_t at = PT_FIXED_SIZE + le32_load(p + PT_OFF_NAME_SIZE) + le32_load(p + PT_OFF_META_SIZE);
    for (uint32_t i = 0; i < n; i++) {
        ck_assert_uint_le(at + PD_FIXED_SIZE, len);
        uint32_t ns = le32_load(p + at + PD_OFF_NAME_SIZE);
        uint32_t maps = le32_load(p + at + PD_OFF_MAP_COUNT);
        if (ns == strlen(name) && memcmp(p + at + PD_FIXED_SIZE, name, ns) == 0)
            return at;
        at += PD_FIXED_SIZE + ns + 8 * (size_t)maps;
    }
    ck_abort_msg("no disk %s in the point", name);
    return 0;
}

/* Byte offset in a POINT payload of the first config file entry. */
static size_t point_files_at(const unsigned char *p, size_t len)
{
    uint32_t n = le32_load(p + PT_OFF_DISK_COUNT);
    size_t at = PT_FIXED_SIZE + le32_load(p + PT_OFF_NAME_SIZE) + le32_load(p + PT_OFF_META_SIZE);
    for (uint32_t i = 0; i < n; i++)
        at += PD_FIXED_SIZE + le32_load(p + at + PD_OFF_NAME_SIZE) +
              8 * (size_t)le32_load(p + at + PD_OFF_MAP_COUNT);
    ck_assert_uint_le(at + PF_FIXED_SIZE, len);
    return at;
}

static int verify_file(const char *path, const char *pass, vmrp_verify_report *rep, char *msg,
                       size_t msglen)
{
    vmrp_reader *r = vmrp_reader_new();
    if (pass)
        vmrp_reader_set_decryption(r, NULL, give_pass, (void *)pass);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    int rc = vmrp_reader_verify(r, fd, path, rep);
    snprintf(msg, msglen, "%s", vmrp_reader_error_string(r));
    close(fd);
    vmrp_reader_free(r);
    return rc;
}

/* The forged file passes every check that needs no key (so the hashes
 * were recomputed right) and fails verification with the key. */
static void expect_caught_only_with_key(const char *path, const char *pass)
{
    vmrp_verify_report rep;
    char msg[600];
    int rc = verify_file(path, NULL, &rep, msg, sizeof msg);
    ck_assert_msg(rc == VMRP_OK, "forgery not well formed: %s", msg);
    ck_assert_int_eq(rep.content_checked, 0);
    rc = verify_file(path, pass, &rep, msg, sizeof msg);
    ck_assert_msg(rc == VMRP_E_CORRUPT, "forgery passes verification with the key (%d: %s)", rc,
                  msg);
}

/* Two BLOCK records of a segment swapped: their hashes, recomputed, pass;
 * their tags, bound to their offsets, do not. */
START_TEST(test_forged_swapped_blocks)
{
    char *dir = ut_tmpdir();
    char archive[4096], forged[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    ut_join(forged, sizeof forged, dir, "forged.vmrp");
    vmrp_writer_options o = small_opts(VMRP_CODEC_NONE);
    vmrp_encryption e = enc_pass("f");
    unsigned char disk[4 * BS];
    ut_fill_random(disk, sizeof disk, 31);
    ut_disk d = {"vda", disk, sizeof disk, 0};
    ut_point p = {NULL, 0, NULL, NULL, 0, &o};
    pack_ok(dir, archive, &d, 1, &p, &e, NULL);

    forge g;
    forge_open(&g, archive, "f");
    const rec_ref *x = forge_find(&g, REC_BLOCK, 0, 1), *y = forge_find(&g, REC_BLOCK, 0, 2);
    ck_assert_uint_eq(x->size, y->size);
    unsigned char *tmp = malloc(x->size);
    memcpy(tmp, g.f + x->offset, x->size);
    memcpy(g.f + x->offset, g.f + y->offset, y->size);
    memcpy(g.f + y->offset, tmp, x->size);
    free(tmp);
    forge_rehash(&g);
    forge_write(&g, forged);
    forge_free(&g);

    expect_caught_only_with_key(forged, "f");
    vmrp_reader *r = xopen(forged, NULL, "f", VMRP_OK);
    unsigned char *img;
    uint64_t sz;
    ck_assert_int_eq(ut_read_image(r, 0, "vda", &img, &sz), VMRP_E_CORRUPT);
    vmrp_reader_free(r);
    ut_rmtree(dir);
}
END_TEST

/* Segment 3's sealed keys replaced by segment 2's: the box opens but names
 * another Segment_Offset. */
START_TEST(test_forged_segment_keys)
{
    char *dir = ut_tmpdir();
    char archive[4096], forged[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    ut_join(forged, sizeof forged, dir, "forged.vmrp");
    vmrp_writer_options o = small_opts(VMRP_CODEC_NONE);
    vmrp_encryption e = enc_pass("f");
    unsigned char disk[2 * BS];
    ut_disk d = {"vda", disk, sizeof disk, 0};
    for (int i = 0; i < 3; i++) {
        ut_fill_random(disk, sizeof disk, 40 + (uint64_t)i);
        ut_point p = {NULL, 0, NULL, NULL, 0, &o};
        pack_ok(dir, archive, &d, 1, &p, &e, NULL);
    }
    forge g;
    forge_open(&g, archive, "f");
    const rec_ref *k2 = forge_find(&g, REC_KEYS, 1, 0), *k3 = forge_find(&g, REC_KEYS, 2, 0);
    memcpy(g.f + k3->offset + RH_SIZE + KY_OFF_SEGMENT_BOX,
           g.f + k2->offset + RH_SIZE + KY_OFF_SEGMENT_BOX, KY_SEGMENT_BOX_SIZE);
    forge_rehash(&g);
    forge_write(&g, forged);
    forge_free(&g);
    expect_caught_only_with_key(forged, "f");
    vmrp_reader *r = xopen(forged, NULL, "f", VMRP_E_CORRUPT);
    vmrp_reader_free(r);
    ut_rmtree(dir);
}
END_TEST

/* Archive: P1 with the key (id space A), P2 without it (space B), P3 with
 * the key (space A again, 8.1.1). vda: FULL at P3 (its previous point is
 * P2), block 2 zero there; vdc: a delta on P1. Each point has cfg.txt (11
 * bytes, different content). Returns P3's vda image. */
static void build_spaces(const char *dir, const char *archive, unsigned char *a3)
{
    vmrp_writer_options o = small_opts(VMRP_CODEC_NONE);
    vmrp_encryption e = enc_pass("s");
    unsigned char a[4 * BS], c[4 * BS];
    ut_fill_random(a, sizeof a, 500);
    ut_fill_random(c, sizeof c, 600);
    ut_file f1 = {"cfg.txt", 0644, "content-one", 11};
    ut_disk d1[] = {{"vda", a, sizeof a, 0}, {"vdc", c, sizeof c, 0}};
    ut_point p1 = {"p1", 0, NULL, &f1, 1, &o};
    pack_ok(dir, archive, d1, 2, &p1, &e, NULL);
    rnd_block(a, 0, 501);
    ut_file f2 = {"cfg.txt", 0644, "content-two", 11};
    ut_disk d2[] = {{"vda", a, sizeof a, 0}};
    ut_point p2 = {"p2", 0, NULL, &f2, 1, &o};
    pack_ok(dir, archive, d2, 1, &p2, NULL, NULL);
    rnd_block(a, 1, 502);
    memset(a + 2 * BS, 0, BS); /* zero now, data at P2 */
    rnd_block(c, 3, 602);
    ut_file f3 = {"cfg.txt", 0644, "content-thr", 11};
    ut_point p3 = {"p3", 0, NULL, &f3, 1, &o};
    pack_ok(dir, archive, d1, 2, &p3, &e, NULL);
    memcpy(a3, a, sizeof a);
}

/* The forge's view of the three id spaces of build_spaces. */
static void check_spaces(const forge *g)
{
    const crypt_keys *ck = g->r->crypt;
    ck_assert(memcmp(ck->segs[0].id_key, ck->segs[1].id_key, KEY_SIZE) != 0);
    ck_assert_mem_eq(ck->segs[0].id_key, ck->segs[2].id_key, KEY_SIZE);
    const vmrp_point_info *p3 = vmrp_reader_point(g->r, 2);
    ck_assert_int_eq(find_disk(p3, "vda")->full, 1);
    ck_assert_int_eq(find_disk(p3, "vdc")->full, 0);
}

/* The decrypted map of disk `name` at point k (its only MAP record). */
static unsigned char *map_of(const forge *g, uint32_t k, const char *name, const rec_ref **ref,
                             size_t *len)
{
    const vmrp_point_info *pi = vmrp_reader_point(g->r, k);
    uint32_t d = (uint32_t)(find_disk(pi, name) - pi->disks);
    ck_assert_uint_eq(g->r->points[k].disk_meta[d].map_count, 1);
    *ref = forge_at(g, g->r->points[k].disk_meta[d].map_offsets[0]);
    ck_assert_ptr_nonnull(*ref);
    return forge_plain(g, *ref, len);
}

/* P3's vda entry for block 0 made to reference P2's BLOCK record of the
 * same content (a keyless segment: another id space), with the Block_Id
 * keyed either way. The data would even be right; the reference is still
 * refused (5.1), by the reader and by the verifier (10.2). */
START_TEST(test_forged_reference_across_id_spaces)
{
    char *dir = ut_tmpdir();
    char archive[4096], forged[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    ut_join(forged, sizeof forged, dir, "forged.vmrp");
    unsigned char a3[4 * BS];
    build_spaces(dir, archive, a3);

    for (int keyed_with = 0; keyed_with < 2; keyed_with++) {
        forge g;
        forge_open(&g, archive, "s");
        check_spaces(&g);
        const rec_ref *m2ref, *m3ref;
        size_t m2len, m3len;
        unsigned char *m2 = map_of(&g, 1, "vda", &m2ref, &m2len);
        unsigned char *m3 = map_of(&g, 2, "vda", &m3ref, &m3len);
        ck_assert_uint_eq(le64_load(m2 + ME_OFF_BLOCK), 0);
        ck_assert_uint_eq(le64_load(m3 + ME_OFF_BLOCK), 0);
        uint64_t theirs = le64_load(m2 + ME_OFF_RECORD);
        const rec_ref *blk = forge_at(&g, theirs);
        ck_assert_uint_eq(blk->segment, 1);
        size_t blen;
        unsigned char *block = forge_plain(&g, blk, &blen);
        ck_assert_mem_eq(block, a3, BS); /* the same content */
        le64_store(m3 + ME_OFF_RECORD, theirs);
        /* keyed_with 0: P3's Id_Key (the entry's Block_Id is unchanged);
         * 1: the key of the record's own segment. */
        id_hash(m3 + ME_OFF_ID, block, BS, g.r->crypt->segs[keyed_with ? 1 : 2].id_key);
        forge_reseal(&g, m3ref, m3, m3len);
        forge_rehash(&g);
        forge_write(&g, forged);
        free(block);
        free(m2);
        free(m3);
        forge_free(&g);

        expect_caught_only_with_key(forged, "s");
        vmrp_reader *r = xopen(forged, NULL, "s", VMRP_OK);
        unsigned char *img;
        uint64_t sz;
        ck_assert_int_eq(ut_read_image(r, 2, "vda", &img, &sz), VMRP_E_CORRUPT);
        vmrp_reader_free(r);
    }
    ut_rmtree(dir);
}
END_TEST

/* P3's config file entry pointed at P2's FILE record (same size, another
 * id space): refused however its Content_Hash is keyed. */
START_TEST(test_forged_file_across_id_spaces)
{
    char *dir = ut_tmpdir();
    char archive[4096], forged[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    ut_join(forged, sizeof forged, dir, "forged.vmrp");
    unsigned char a3[4 * BS];
    build_spaces(dir, archive, a3);
    for (int keyed_with = 0; keyed_with < 2; keyed_with++) {
        forge g;
        forge_open(&g, archive, "s");
        check_spaces(&g);
        const rec_ref *f2 = forge_find(&g, REC_FILE, 1, 0);
        const rec_ref *pt = forge_find(&g, REC_POINT, 2, 0);
        size_t plen;
        unsigned char *p = forge_plain(&g, pt, &plen);
        size_t at = point_files_at(p, plen);
        ck_assert_uint_eq(le64_load(p + at + PF_OFF_FILE_SIZE), 11);
        le64_store(p + at + PF_OFF_RECORD, f2->offset);
        id_hash(p + at + PF_OFF_HASH, "content-two", 11,
                g.r->crypt->segs[keyed_with ? 1 : 2].id_key);
        forge_reseal(&g, pt, p, plen);
        forge_rehash(&g);
        forge_write(&g, forged);
        free(p);
        forge_free(&g);

        expect_caught_only_with_key(forged, "s");
        vmrp_reader *r = xopen(forged, NULL, "s", VMRP_OK);
        void *data = NULL;
        size_t len = 0;
        ck_assert_int_eq(vmrp_reader_read_config_file(r, 2, 0, &data, &len), VMRP_E_CORRUPT);
        ck_assert_ptr_null(data);
        vmrp_reader_free(r);
    }
    ut_rmtree(dir);
}
END_TEST

/* P3's vda is FULL because its previous point is keyless; with FULL
 * cleared it becomes a delta across id spaces: refused, and P2's data
 * never comes back for block 2, zero at P3. */
START_TEST(test_forged_delta_across_id_spaces)
{
    char *dir = ut_tmpdir();
    char archive[4096], forged[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    ut_join(forged, sizeof forged, dir, "forged.vmrp");
    unsigned char a3[4 * BS];
    build_spaces(dir, archive, a3);
    forge g;
    forge_open(&g, archive, "s");
    check_spaces(&g);
    const rec_ref *pt = forge_find(&g, REC_POINT, 2, 0);
    size_t plen;
    unsigned char *p = forge_plain(&g, pt, &plen);
    size_t at = point_disk_at(p, plen, "vda");
    ck_assert_uint_eq(le32_load(p + at + PD_OFF_FLAGS), DISK_FLAG_FULL);
    le32_store(p + at + PD_OFF_FLAGS, 0);
    forge_reseal(&g, pt, p, plen);
    forge_rehash(&g);
    forge_write(&g, forged);
    free(p);
    forge_free(&g);

    expect_caught_only_with_key(forged, "s");
    vmrp_reader *r = xopen(forged, NULL, "s", VMRP_OK);
    unsigned char *img = NULL;
    uint64_t sz;
    int rc = ut_read_image(r, 2, "vda", &img, &sz);
    if (rc == VMRP_OK) {
        int same = memcmp(img, a3, sizeof a3) == 0;
        free(img);
        ck_abort_msg("a delta across id spaces was read (%s)",
                     same ? "same data" : "P2's data returned for P3");
    }
    ck_assert_int_eq(rc, VMRP_E_CORRUPT);
    /* vdc, a delta within its id space, is intact. */
    ck_assert_int_eq(ut_read_image(r, 2, "vdc", &img, &sz), VMRP_OK);
    free(img);
    vmrp_reader_free(r);
    ut_rmtree(dir);
}
END_TEST

/* A record of another archive, moved in: it was sealed with another
 * collection's keys and does not open. And the KEYS record of another
 * archive put in place of segment 2's: another collection key. */
START_TEST(test_forged_from_other_archive)
{
    char *dir = ut_tmpdir();
    char one[4096], two[4096], forged[4096];
    ut_join(one, sizeof one, dir, "one.vmrp");
    ut_join(two, sizeof two, dir, "two.vmrp");
    ut_join(forged, sizeof forged, dir, "forged.vmrp");
    vmrp_writer_options o = small_opts(VMRP_CODEC_NONE);
    vmrp_encryption e = enc_pass("same");
    unsigned char disk[2 * BS];
    ut_disk d = {"vda", disk, sizeof disk, 0};
    ut_point p = {NULL, 0, NULL, NULL, 0, &o};
    for (int i = 0; i < 2; i++) {
        ut_fill_random(disk, sizeof disk, 70 + (uint64_t)i);
        pack_ok(dir, one, &d, 1, &p, &e, NULL);
        ut_fill_random(disk, sizeof disk, 80 + (uint64_t)i);
        pack_ok(dir, two, &d, 1, &p, &e, NULL);
    }
    forge g, h;
    forge_open(&g, one, "same");
    forge_open(&h, two, "same");
    const rec_ref *gb = forge_find(&g, REC_BLOCK, 0, 0), *hb = forge_find(&h, REC_BLOCK, 0, 0);
    ck_assert_uint_eq(gb->size, hb->size);
    /* Same offset in both files: only the keys and the Collection_Id differ. */
    ck_assert_uint_eq(gb->offset, hb->offset);
    memcpy(g.f + gb->offset, h.f + hb->offset, gb->size);
    forge_rehash(&g);
    forge_write(&g, forged);
    expect_caught_only_with_key(forged, "same");

    /* Segment 2's KEYS record from the other archive. */
    forge_free(&g);
    forge_open(&g, one, "same");
    const rec_ref *gk = forge_find(&g, REC_KEYS, 1, 0), *hk = forge_find(&h, REC_KEYS, 1, 0);
    ck_assert_uint_eq(gk->size, hk->size);
    memcpy(g.f + gk->offset, h.f + hk->offset, gk->size);
    forge_rehash(&g);
    forge_write(&g, forged);
    vmrp_verify_report rep;
    char msg[600];
    /* Another collection key: caught without the key. */
    ck_assert_int_eq(verify_file(forged, NULL, &rep, msg, sizeof msg), VMRP_E_CORRUPT);
    vmrp_reader *r = xopen(forged, NULL, "same", VMRP_E_CORRUPT);
    vmrp_reader_free(r);
    forge_free(&g);
    forge_free(&h);
    ut_rmtree(dir);
}
END_TEST

/* Max_Points lowered below the number of points, every hash recomputed:
 * refused with and without the key, before any segment beyond the limit
 * is decrypted. */
START_TEST(test_forged_max_points)
{
    char *dir = ut_tmpdir();
    char archive[4096], forged[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    ut_join(forged, sizeof forged, dir, "forged.vmrp");
    vmrp_writer_options o = small_opts(VMRP_CODEC_NONE);
    o.max_points = 5;
    vmrp_encryption e = enc_pass("m");
    unsigned char disk[BS];
    ut_disk d = {"vda", disk, sizeof disk, 0};
    for (int i = 0; i < 3; i++) {
        ut_fill_random(disk, sizeof disk, 10 + (uint64_t)i);
        ut_point p = {NULL, 0, NULL, NULL, 0, &o};
        pack_ok(dir, archive, &d, 1, &p, i == 1 ? NULL : &e, NULL);
    }
    for (uint32_t max = 1; max <= 2; max++) {
        forge g;
        forge_open(&g, archive, "m");
        le32_store(g.f + FH_OFF_MAX_POINTS, max);
        forge_rehash(&g);
        forge_write(&g, forged);
        forge_free(&g);
        vmrp_verify_report rep;
        char msg[600];
        ck_assert_int_eq(verify_file(forged, NULL, &rep, msg, sizeof msg), VMRP_E_CORRUPT);
        ck_assert_msg(strstr(msg, "Max_Points") != NULL, "%s", msg);
        ck_assert_int_eq(verify_file(forged, "m", &rep, msg, sizeof msg), VMRP_E_CORRUPT);
        ck_assert_msg(strstr(msg, "Max_Points") != NULL, "%s", msg);
        vmrp_reader *r = vmrp_reader_new();
        vmrp_reader_set_decryption(r, NULL, give_pass, "m");
        ck_assert_int_ne(vmrp_reader_open(r, forged), VMRP_OK);
        vmrp_reader_free(r);
    }
    ut_rmtree(dir);
}
END_TEST

/* Resolution follows a disk's family (section 9), not its name: an
 * EXCLUDED entry may start a new family for a name (5.4.2); a later entry
 * of that family that is not FULL and has no earlier included point of
 * its family is a complete map, and blocks it does not list are zero. The
 * old family's blocks must not come back. */
START_TEST(test_family_restarted_by_excluded_entry)
{
    char *dir = ut_tmpdir();
    char archive[4096];
    ut_join(archive, sizeof archive, dir, "a.vmrp");
    vmrp_writer_options o = small_opts(VMRP_CODEC_NONE);
    vmrp_encryption e = enc_pass("fam");
    unsigned char a[4 * BS];
    ut_fill_random(a, sizeof a, 1);
    ut_disk d1 = {"vda", a, sizeof a, 0};
    ut_point p1 = {"p1", 0, NULL, NULL, 0, &o};
    pack_ok(dir, archive, &d1, 1, &p1, &e, NULL);
    ut_disk dx = {"vda", NULL, 0, 1};
    ut_point p2 = {"p2", 0, NULL, NULL, 0, &o};
    pack_ok(dir, archive, &dx, 1, &p2, &e, NULL);

    /* P2's excluded vda gets a new Family_Id, as 5.4.2 allows. */
    forge g;
    forge_open(&g, archive, "fam");
    const rec_ref *pt = forge_find(&g, REC_POINT, 1, 0);
    size_t plen;
    unsigned char *p = forge_plain(&g, pt, &plen);
    size_t at = point_disk_at(p, plen, "vda");
    ck_assert_uint_eq(le32_load(p + at + PD_OFF_FLAGS), DISK_FLAG_EXCLUDED);
    randombytes_buf(p + at + PD_OFF_FAMILY_ID, ID_SIZE);
    forge_reseal(&g, pt, p, plen);
    forge_rehash(&g);
    forge_write(&g, archive);
    free(p);
    forge_free(&g);

    /* P3: vda back, block 2 now zero; the writer marks it FULL. */
    memset(a + 2 * BS, 0, BS);
    ut_point p3 = {"p3", 0, NULL, NULL, 0, &o};
    pack_ok(dir, archive, &d1, 1, &p3, &e, NULL);
    /* Clear FULL: P3's vda is then the first point of its family, whose
     * map lists every non-zero block, so block 2 is zero (section 9). */
    forge_open(&g, archive, "fam");
    ck_assert_int_eq(find_disk(vmrp_reader_point(g.r, 2), "vda")->full, 1);
    pt = forge_find(&g, REC_POINT, 2, 0);
    p = forge_plain(&g, pt, &plen);
    at = point_disk_at(p, plen, "vda");
    le32_store(p + at + PD_OFF_FLAGS, 0);
    forge_reseal(&g, pt, p, plen);
    forge_rehash(&g);
    forge_write(&g, archive);
    free(p);
    forge_free(&g);

    vmrp_verify_report rep;
    char msg[600];
    ck_assert_msg(verify_file(archive, "fam", &rep, msg, sizeof msg) == VMRP_OK, "%s", msg);
    vmrp_reader *r = xopen(archive, NULL, "fam", VMRP_OK);
    expect_image(r, 2, "vda", a, sizeof a); /* block 2 is zero, not P1's */
    vmrp_reader_free(r);
    ut_rmtree(dir);
}
END_TEST

static Suite *encrypted_suite(void)
{
    Suite *s = suite_create("encrypted");
    TCase *tc = tcase_create("archives");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_passphrase_round_trip);
    tcase_add_test(tc, test_stream_then_append);
    tcase_add_test(tc, test_recipients);
    tcase_add_test(tc, test_passphrase_and_recipient);
    tcase_add_test(tc, test_keyless_append);
    tcase_add_test(tc, test_keyless_needs_a_vouched_key);
    tcase_add_test(tc, test_keyless_twice);
    tcase_add_test(tc, test_planted_data_reveals_nothing);
    tcase_add_test(tc, test_changed_ranges);
    tcase_add_test(tc, test_interrupted_encrypted_creation);
    tcase_add_test(tc, test_key_errors);
    tcase_add_test(tc, test_no_plaintext);
    tcase_add_test(tc, test_repeated_names);
    tcase_add_test(tc, test_probe_and_slots);
    suite_add_tcase(s, tc);
    tc = tcase_create("forgeries");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_forged_swapped_blocks);
    tcase_add_test(tc, test_forged_segment_keys);
    tcase_add_test(tc, test_forged_reference_across_id_spaces);
    tcase_add_test(tc, test_forged_file_across_id_spaces);
    tcase_add_test(tc, test_forged_delta_across_id_spaces);
    tcase_add_test(tc, test_forged_from_other_archive);
    tcase_add_test(tc, test_forged_max_points);
    tcase_add_test(tc, test_family_restarted_by_excluded_entry);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(encrypted_suite());
}
