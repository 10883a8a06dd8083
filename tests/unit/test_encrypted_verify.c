/* test_encrypted_verify.c - vmrp_reader_verify() on encrypted archives:
 * what it reports with and without the key, and sweeps over a small
 * encrypted archive (every byte flipped, the file cut at every offset,
 * random bits flipped) that must each be detected both without the key
 * (Record_Hash covers the ciphertext) and with it, while the reader never
 * returns wrong data.
 */
#define _GNU_SOURCE
#include "unit.h"

#include <sys/mman.h>
#include <sys/wait.h>

#include "unit_verify.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif

#define BS 4096u
#define POINTS 3
#define PASS "sweep-pass"

/* Natively the sweeps take every offset. Under ASan or valgrind, where
 * each verification costs 10 to 50 times more, they take every n-th. */
static size_t sweep_stride(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return 4;
#endif
#if defined(RUNNING_ON_VALGRIND)
    if (RUNNING_ON_VALGRIND)
        return 20;
#endif
    return 1;
}

/* ------------------------------------------------------------------ */
/* The archive                                                        */

typedef struct {
    char *dir;
    char path[4096];
    unsigned char *bytes;
    size_t len;
    vmrp_key *id, *other;
    uint64_t blocks_stored;
    /* What every point holds. */
    unsigned char *img[POINTS][2];
    uint64_t size[POINTS][2];
    int excluded[POINTS][2];
    int present[POINTS][2];
    unsigned char head[32];
} fixture;

static fixture fx;

static const char *const disk_names[2] = {"vda", "vdb"};
static const char cfg[] = "<domain/>";

static int give_pass(void *ctx, const char *path, char *buf, size_t size)
{
    (void)path;
    const char *p = ctx;
    if (!p || strlen(p) >= size)
        return -1;
    strcpy(buf, p);
    return 0;
}

static int pack(const char *archive, const ut_disk *disks, size_t n, const ut_point *pt,
                const vmrp_encryption *e, const vmrp_key *signer, vmrp_writer_stats *st)
{
    ut_pack_extra x = {e, signer, NULL, 0, 0};
    return ut_pack_ex(fx.dir, archive, disks, n, pt, &x, st);
}

static void snap(int k, const ut_disk *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fx.present[k][i] = 1;
        fx.excluded[k][i] = d[i].exclude;
        fx.size[k][i] = d[i].size;
        fx.img[k][i] = d[i].exclude ? NULL : malloc(d[i].size ? (size_t)d[i].size : 1);
        if (!d[i].exclude && d[i].size)
            memcpy(fx.img[k][i], d[i].data, (size_t)d[i].size);
    }
}

/* Three points, 4 KiB blocks: a passphrase slot and a recipient slot; P2
 * appended without the key (FULL, vdb excluded), P3 with the identity (a
 * delta). Compressible data keeps it small enough to flip every byte. */
static void build(void)
{
    memset(&fx, 0, sizeof fx);
    fx.dir = ut_tmpdir();
    ut_join(fx.path, sizeof fx.path, fx.dir, "enc.vmrp");
    fx.id = vmrp_key_new();
    fx.other = vmrp_key_new();
    ck_assert_int_eq(vmrp_key_generate_encryption(fx.id), VMRP_OK);
    ck_assert_int_eq(vmrp_key_generate_encryption(fx.other), VMRP_OK);
    const vmrp_key *recips[] = {fx.id};
    vmrp_encryption e;
    memset(&e, 0, sizeof e);
    e.passphrase = PASS;
    e.recipients = recips;
    e.recipient_count = 1;
    e.kdf_opslimit = 1;
    e.kdf_memlimit = 8192;
    vmrp_writer_options o;
    memset(&o, 0, sizeof o);
    o.block_size = BS;
    o.codec = VMRP_CODEC_ZSTD;
    o.max_points = 10;
    unsigned char a[2 * BS] = {0};
    memset(a, 'v', BS); /* compresses to a few bytes: a small archive */
    memcpy(a + 1000, "sweep", 5);
    ut_file f = {"cfg/domain.xml", 0644, cfg, sizeof cfg - 1};
    ut_disk d[] = {{"vda", a, sizeof a, 0}};
    ut_point p1 = {"s1", 0, "{\"vm\":\"sweep\"}", &f, 1, &o};
    vmrp_writer_stats st;
    ck_assert_int_eq(pack(fx.path, d, 1, &p1, &e, NULL, &st), VMRP_OK);
    fx.blocks_stored += st.new_blocks;
    snap(0, d, 1);

    /* Without the key: vda FULL, vdb (never seen) excluded, the file
     * stored again in the keyless point's own id space. */
    memset(a + BS, 'w', 100);
    ut_disk d2[] = {{"vda", a, sizeof a, 0}, {"vdb", NULL, 0, 1}};
    ut_point p2 = {"s2", 0, NULL, &f, 1, NULL};
    ck_assert_int_eq(pack(fx.path, d2, 2, &p2, NULL, NULL, &st), VMRP_OK);
    ck_assert_int_eq(st.keyless, 1);
    fx.blocks_stored += st.new_blocks;
    snap(1, d2, 2);

    /* With the identity: vda FULL again, configuration inherited from P1. */
    a[0] ^= 0x20;
    vmrp_encryption e3;
    memset(&e3, 0, sizeof e3);
    e3.identity = fx.id;
    ut_point p3 = {"s3", 0, NULL, NULL, 0, NULL};
    ck_assert_int_eq(pack(fx.path, d, 1, &p3, &e3, NULL, &st), VMRP_OK);
    ck_assert_int_eq(st.keyless, 0);
    fx.blocks_stored += st.new_blocks;
    snap(2, d, 1);

    fx.bytes = ut_read_file(fx.path, &fx.len);
    vmrp_reader *r = vmrp_reader_new();
    vmrp_reader_set_decryption(r, fx.id, NULL, NULL);
    ck_assert_int_eq(vmrp_reader_open(r, fx.path), VMRP_OK);
    ck_assert_uint_eq(vmrp_reader_point_count(r), POINTS);
    memcpy(fx.head, vmrp_reader_collection(r)->head_hash, 32);
    vmrp_reader_free(r);
}

static void teardown(void)
{
    for (int k = 0; k < POINTS; k++)
        for (int i = 0; i < 2; i++)
            free(fx.img[k][i]);
    free(fx.bytes);
    vmrp_key_free(fx.id);
    vmrp_key_free(fx.other);
    ut_rmtree(fx.dir);
}

static int memfd_of(const unsigned char *data, size_t len)
{
    int fd = memfd_create("enc-sweep", MFD_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    if (len)
        ut_write_all(fd, data, len, "memfd");
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

enum { NO_KEY, WITH_IDENTITY, WITH_PASSPHRASE, WRONG_IDENTITY };

static int verify_bytes(const unsigned char *data, size_t len, int how, vmrp_verify_report *rep,
                        char *msg, size_t msglen)
{
    int fd = memfd_of(data, len);
    vmrp_reader *r = vmrp_reader_new();
    if (how == WITH_IDENTITY)
        vmrp_reader_set_decryption(r, fx.id, NULL, NULL);
    else if (how == WITH_PASSPHRASE)
        vmrp_reader_set_decryption(r, NULL, give_pass, PASS);
    else if (how == WRONG_IDENTITY)
        vmrp_reader_set_decryption(r, fx.other, NULL, NULL);
    memset(rep, 0, sizeof *rep);
    int rc = ut_verify_spilled_too(r, fd, "sweep", rep);
    if (msg)
        snprintf(msg, msglen, "%s", vmrp_reader_error_string(r));
    if (rc != VMRP_OK)
        ck_assert_msg(vmrp_reader_error_string(r)[0] != '\0', "verify failed (%d) silently", rc);
    vmrp_reader_free(r);
    close(fd);
    return rc;
}

/* 1 when verification reports a problem or shows another state: fewer
 * points, or another head (Time_Committed of the head commit is covered
 * by nothing but the head hash). */
static size_t key_blamed; /* damage reported as a wrong key */

static int detected(const unsigned char *data, size_t len, int how)
{
    vmrp_verify_report rep;
    int rc = verify_bytes(data, len, how, &rep, NULL, 0);
    /* With the right key, damage is damage: never VMRP_E_KEY (5.6.6). */
    if (rc == VMRP_E_KEY && (how == WITH_IDENTITY || how == WITH_PASSPHRASE))
        key_blamed++;
    return rc != VMRP_OK || rep.points < POINTS || memcmp(rep.head_hash, fx.head, 32) != 0;
}

/* Open with the identity and read everything; the number of items that
 * came back without an error but differ from the originals. */
static int wrong_reads(const unsigned char *data, size_t len)
{
    int fd = memfd_of(data, len);
    vmrp_reader *r = vmrp_reader_new();
    vmrp_reader_set_decryption(r, fx.id, NULL, NULL);
    int wrong = 0;
    int rc = vmrp_reader_open_fd(r, fd, "sweep");
    if (rc == VMRP_E_KEY)
        key_blamed++;
    if (rc == VMRP_OK) {
        uint32_t n = vmrp_reader_point_count(r);
        if (n > POINTS)
            wrong++;
        for (uint32_t k = 0; k < n && k < POINTS; k++) {
            const vmrp_point_info *pi = vmrp_reader_point(r, k);
            if (strcmp(pi->name, k == 0 ? "s1" : k == 1 ? "s2" : "s3") != 0)
                wrong++;
            for (int i = 0; i < 2; i++) {
                const vmrp_disk_info *di = NULL;
                for (uint32_t j = 0; j < pi->disk_count; j++)
                    if (strcmp(pi->disks[j].name, disk_names[i]) == 0)
                        di = &pi->disks[j];
                if (!di != !fx.present[k][i])
                    wrong++;
                if (!di || !fx.present[k][i])
                    continue;
                if (di->excluded != fx.excluded[k][i] || di->size_bytes != fx.size[k][i]) {
                    wrong++;
                    continue;
                }
                if (di->excluded)
                    continue;
                unsigned char *img = NULL;
                uint64_t sz = 0;
                if (ut_read_image(r, k, disk_names[i], &img, &sz) != VMRP_OK)
                    continue;
                if (sz != fx.size[k][i] || memcmp(img, fx.img[k][i], (size_t)sz) != 0)
                    wrong++;
                free(img);
            }
            if (pi->config_file_count != 1)
                wrong++;
            for (uint32_t f = 0; f < pi->config_file_count; f++) {
                void *data2 = NULL;
                size_t l = 0;
                if (vmrp_reader_read_config_file(r, k, f, &data2, &l) != VMRP_OK)
                    continue;
                if (l != sizeof cfg - 1 || memcmp(data2, cfg, l) != 0)
                    wrong++;
                free(data2);
            }
        }
    }
    vmrp_reader_free(r);
    close(fd);
    return wrong;
}

/* ------------------------------------------------------------------ */

START_TEST(test_report_without_and_with_key)
{
    vmrp_verify_report rep;
    char msg[600];
    ck_assert_msg(verify_bytes(fx.bytes, fx.len, NO_KEY, &rep, msg, sizeof msg) == VMRP_OK, "%s",
                  msg);
    ck_assert_int_eq(rep.encrypted, 1);
    ck_assert_int_eq(rep.content_checked, 0);
    ck_assert_uint_eq(rep.key_slots, 2);
    ck_assert_uint_eq(rep.points, POINTS);
    ck_assert_uint_eq(rep.blocks, 0); /* none decoded */
    ck_assert_uint_eq(rep.bytes, fx.len);
    ck_assert_uint_eq(rep.committed_size, fx.len);
    ck_assert_uint_eq(rep.torn_bytes, 0);
    ck_assert_uint_eq(rep.signed_points, 0);
    ck_assert_int_eq(rep.signatures_checked, 0);
    ck_assert_mem_eq(rep.head_hash, fx.head, 32);
    uint64_t records = rep.records;
    ck_assert_uint_ge(records, 5 * POINTS); /* KEYS, BLOCK..., POINT, INDEX, COMMIT */

    for (int how = WITH_IDENTITY; how <= WITH_PASSPHRASE; how++) {
        ck_assert_msg(verify_bytes(fx.bytes, fx.len, how, &rep, msg, sizeof msg) == VMRP_OK, "%s",
                      msg);
        ck_assert_int_eq(rep.encrypted, 1);
        ck_assert_int_eq(rep.content_checked, 1);
        ck_assert_uint_eq(rep.key_slots, 2);
        ck_assert_uint_eq(rep.points, POINTS);
        ck_assert_uint_eq(rep.blocks, fx.blocks_stored);
        ck_assert_uint_eq(rep.records, records);
        ck_assert_mem_eq(rep.head_hash, fx.head, 32);
    }

    /* A key that opens no slot: VMRP_E_KEY, naming the slots. */
    ck_assert_int_eq(verify_bytes(fx.bytes, fx.len, WRONG_IDENTITY, &rep, msg, sizeof msg),
                     VMRP_E_KEY);
    ck_assert_msg(strstr(msg, "passphrase") != NULL, "%s", msg);
    char id[17];
    vmrp_key_id(fx.id, id);
    ck_assert_msg(strstr(msg, id) != NULL, "%s", msg);
    int fd = memfd_of(fx.bytes, fx.len);
    vmrp_reader *r = vmrp_reader_new();
    vmrp_reader_set_decryption(r, NULL, give_pass, "not-the-pass");
    ck_assert_int_eq(vmrp_reader_verify(r, fd, "sweep", &rep), VMRP_E_KEY);
    ck_assert_ptr_nonnull(strstr(vmrp_reader_error_string(r), "passphrase is wrong"));
    vmrp_reader_free(r);
    close(fd);
}
END_TEST

/* A pipe, with the key, gives the same report as the file. */
START_TEST(test_verify_pipe)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        for (size_t done = 0; done < fx.len;) {
            size_t chunk = fx.len - done < 777 ? fx.len - done : 777;
            ssize_t n = write(p[1], fx.bytes + done, chunk);
            if (n <= 0)
                _exit(1);
            done += (size_t)n;
        }
        _exit(0);
    }
    close(p[1]);
    vmrp_reader *r = vmrp_reader_new();
    vmrp_reader_set_decryption(r, fx.id, NULL, NULL);
    vmrp_verify_report a, b;
    int rc = vmrp_reader_verify(r, p[0], "pipe", &a);
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(rc == VMRP_OK, "pipe: %s", vmrp_reader_error_string(r));
    vmrp_reader_free(r);
    ck_assert_int_eq(verify_bytes(fx.bytes, fx.len, WITH_IDENTITY, &b, NULL, 0), VMRP_OK);
    ck_assert_int_eq(a.content_checked, 1);
    ck_assert_uint_eq(a.blocks, b.blocks);
    ck_assert_uint_eq(a.records, b.records);
    ck_assert_mem_eq(a.head_hash, b.head_hash, 32);
}
END_TEST

/* Signed and encrypted: signatures are checked with the public key alone;
 * a commit appended without the signing key is refused by it. */
START_TEST(test_signed_and_encrypted)
{
    char archive[4096], pubf[4096], secf[4096];
    ut_join(archive, sizeof archive, fx.dir, "signed.vmrp");
    ut_join(pubf, sizeof pubf, fx.dir, "sign.pub");
    ut_join(secf, sizeof secf, fx.dir, "sign.key");
    vmrp_key *signer = vmrp_key_new(), *signer_pub = vmrp_key_new();
    ck_assert_int_eq(vmrp_key_generate(signer), VMRP_OK);
    ck_assert_int_eq(vmrp_key_save(signer, secf, pubf, NULL), VMRP_OK);
    ck_assert_int_eq(vmrp_key_load_public(signer_pub, pubf), VMRP_OK);
    vmrp_encryption e;
    memset(&e, 0, sizeof e);
    e.passphrase = PASS;
    e.kdf_opslimit = 1;
    e.kdf_memlimit = 8192;
    vmrp_writer_options o;
    memset(&o, 0, sizeof o);
    o.block_size = BS;
    unsigned char disk[2 * BS];
    ut_fill_text(disk, sizeof disk, 9);
    ut_disk d = {"vda", disk, sizeof disk, 0};
    ut_point p = {NULL, 0, NULL, NULL, 0, &o};
    ck_assert_int_eq(pack(archive, &d, 1, &p, &e, signer, NULL), VMRP_OK);
    /* Appended without the encryption key, signed. */
    ck_assert_int_eq(pack(archive, &d, 1, NULL, NULL, signer, NULL), VMRP_OK);

    size_t len;
    unsigned char *bytes = ut_read_file(archive, &len);
    for (int keyed = 0; keyed < 2; keyed++) {
        int fd = memfd_of(bytes, len);
        vmrp_reader *r = vmrp_reader_new();
        vmrp_reader_set_public_key(r, signer_pub);
        if (keyed)
            vmrp_reader_set_decryption(r, NULL, give_pass, PASS);
        vmrp_verify_report rep;
        ck_assert_msg(vmrp_reader_verify(r, fd, archive, &rep) == VMRP_OK, "%s",
                      vmrp_reader_error_string(r));
        ck_assert_int_eq(rep.signatures_checked, 1);
        ck_assert_uint_eq(rep.signed_points, 2);
        ck_assert_int_eq(rep.content_checked, keyed);
        vmrp_reader_free(r);
        close(fd);
    }
    free(bytes);

    /* A third point appended by someone without the signing key: the
     * archive no longer verifies with the public key, key or not. */
    ck_assert_int_eq(pack(archive, &d, 1, NULL, NULL, NULL, NULL), VMRP_OK);
    bytes = ut_read_file(archive, &len);
    for (int keyed = 0; keyed < 2; keyed++) {
        int fd = memfd_of(bytes, len);
        vmrp_reader *r = vmrp_reader_new();
        vmrp_reader_set_public_key(r, signer_pub);
        if (keyed)
            vmrp_reader_set_decryption(r, NULL, give_pass, PASS);
        vmrp_verify_report rep;
        ck_assert_int_eq(vmrp_reader_verify(r, fd, archive, &rep), VMRP_E_CORRUPT);
        ck_assert_uint_eq(rep.error_point, 3);
        vmrp_reader_free(r);
        close(fd);
        /* The reader refuses it too. */
        r = vmrp_reader_new();
        vmrp_reader_set_public_key(r, signer_pub);
        vmrp_reader_set_decryption(r, NULL, give_pass, PASS);
        ck_assert_int_eq(vmrp_reader_open(r, archive), VMRP_E_CORRUPT);
        vmrp_reader_free(r);
    }
    free(bytes);
    vmrp_key_free(signer);
    vmrp_key_free(signer_pub);
}
END_TEST

START_TEST(test_fixture_is_clean)
{
    ck_assert_int_eq(detected(fx.bytes, fx.len, NO_KEY), 0);
    ck_assert_int_eq(detected(fx.bytes, fx.len, WITH_IDENTITY), 0);
    ck_assert_int_eq(wrong_reads(fx.bytes, fx.len), 0);
}
END_TEST

/* Every byte flipped (xor 0xff): detected without the key and with it. */
START_TEST(test_every_byte_flipped)
{
    unsigned char *copy = malloc(fx.len);
    memcpy(copy, fx.bytes, fx.len);
    size_t missed_nokey = 0, missed_key = 0, reads = 0, wrong = 0, flips = 0;
    key_blamed = 0;
    size_t stride = sweep_stride();
    for (size_t i = 0; i < fx.len; i += stride) {
        flips++;
        copy[i] ^= 0xff;
        if (!detected(copy, fx.len, NO_KEY)) {
            if (missed_nokey++ < 5)
                fprintf(stderr, "enc sweep: byte %zu flipped: not detected without the key\n", i);
        }
        /* identity and passphrase in turn */
        if (!detected(copy, fx.len, i % 2 ? WITH_PASSPHRASE : WITH_IDENTITY)) {
            if (missed_key++ < 5)
                fprintf(stderr, "enc sweep: byte %zu flipped: not detected with the key\n", i);
        }
        if (flips % 17 == 0) {
            reads++;
            wrong += (size_t)wrong_reads(copy, fx.len);
        }
        copy[i] ^= 0xff;
    }
    free(copy);
    printf("encrypted sweep: %zu-byte archive, %zu bytes flipped (every %zu): %zu undetected "
           "without the key, %zu with it; %zu read back with the key: %zu wrong\n",
           fx.len, flips, stride, missed_nokey, missed_key, reads, wrong);
    ck_assert_uint_eq(missed_nokey, 0);
    ck_assert_uint_eq(missed_key, 0);
    ck_assert_uint_eq(wrong, 0);
    ck_assert_msg(key_blamed == 0, "%zu damaged archives were reported as a wrong key",
                  key_blamed);
}
END_TEST

START_TEST(test_random_bits_flipped)
{
    unsigned char *copy = malloc(fx.len);
    memcpy(copy, fx.bytes, fx.len);
    uint64_t seed = 0xe4c4;
    size_t tries = 200 / sweep_stride(), missed = 0, wrong = 0;
    key_blamed = 0;
    for (size_t t = 0; t < tries; t++) {
        uint64_t bit = ut_below(&seed, (uint64_t)fx.len * 8);
        copy[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        if (!detected(copy, fx.len, t % 2 ? WITH_PASSPHRASE : NO_KEY))
            missed++;
        if (t % 8 == 0)
            wrong += (size_t)wrong_reads(copy, fx.len);
        copy[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    free(copy);
    printf("encrypted sweep: %zu random single-bit flips: %zu undetected, %zu wrong reads\n",
           tries, missed, wrong);
    ck_assert_uint_eq(missed, 0);
    ck_assert_uint_eq(wrong, 0);
    ck_assert_uint_eq(key_blamed, 0);
}
END_TEST

/* Cut within 3 bytes of every record boundary, and at every 16th offset. */
START_TEST(test_cuts)
{
    unsigned char *near = calloc(1, fx.len + 1);
    for (size_t off = FH_SIZE; off < fx.len;) {
        for (size_t d = off >= 3 ? off - 3 : 0; d <= off + 3 && d <= fx.len; d++)
            near[d] = 1;
        off += RH_SIZE + le32_load(fx.bytes + off + RH_OFF_STORED_SIZE);
    }
    size_t cuts = 0, missed = 0, wrong = 0;
    key_blamed = 0;
    for (size_t len = 0; len < fx.len; len++) {
        if ((!near[len] && len % 16 != 0) || len % sweep_stride() != 0)
            continue;
        cuts++;
        if (!detected(fx.bytes, len, cuts % 2 ? NO_KEY : WITH_IDENTITY))
            missed++;
        if (cuts % 4 == 0)
            wrong += (size_t)wrong_reads(fx.bytes, len);
    }
    free(near);
    printf("encrypted sweep: %zu cuts: %zu undetected, %zu wrong reads\n", cuts, missed, wrong);
    ck_assert_uint_eq(missed, 0);
    ck_assert_uint_eq(wrong, 0);
    ck_assert_uint_eq(key_blamed, 0);
}
END_TEST

static Suite *encrypted_verify_suite(void)
{
    Suite *s = suite_create("encrypted_verify");
    TCase *tc = tcase_create("reports");
    tcase_add_checked_fixture(tc, build, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_report_without_and_with_key);
    tcase_add_test(tc, test_verify_pipe);
    tcase_add_test(tc, test_signed_and_encrypted);
    suite_add_tcase(s, tc);
    tc = tcase_create("sweeps");
    tcase_add_unchecked_fixture(tc, build, teardown); /* read only: built once */
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixture_is_clean);
    tcase_add_test(tc, test_every_byte_flipped);
    tcase_add_test(tc, test_random_bits_flipped);
    tcase_add_test(tc, test_cuts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(encrypted_verify_suite());
}
