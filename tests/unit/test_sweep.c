/* test_sweep.c - corruption sweeps over the frozen signed fixture: every
 * byte flipped, a random sample of single bits flipped, and the file cut at
 * every offset. Verification with the public key must report every one, and
 * no read path may crash or return wrong data silently. The counts are
 * printed; the number undetected must be zero.
 */
#include "unit.h"

#include <sodium.h>
#include <sys/mman.h>

#define FIXTURE_DIR "fixtures/v1.1"
#define ARCHIVE FIXTURE_DIR "/signed-3points.vmrp"
#define PUBKEY FIXTURE_DIR "/test-signing.pub"
#define HASHES FIXTURE_DIR "/signed-3points.sha256"
#define POINTS 3

typedef struct {
    unsigned point;
    char disk[64];
    unsigned char sha[32];
} expected_disk;

static unsigned char *orig;
static size_t orig_len;
static vmrp_key *pub;
static expected_disk want[16];
static size_t nwant;

static int hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 32) - 'a' + 10;
}

static void load_fixture(void)
{
    orig = ut_read_file(ARCHIVE, &orig_len);
    pub = vmrp_key_new();
    ck_assert_int_eq(vmrp_key_load_public(pub, PUBKEY), VMRP_OK);
    FILE *f = fopen(HASHES, "r");
    ck_assert_ptr_nonnull(f);
    char name[64], hex[80];
    unsigned p;
    while (fscanf(f, "%u %63s %79s", &p, name, hex) == 3) {
        if (strcmp(name, "vm.json") == 0 || strncmp(name, "config:", 7) == 0)
            continue;
        ck_assert_uint_lt(nwant, 16);
        want[nwant].point = p;
        snprintf(want[nwant].disk, sizeof want[nwant].disk, "%s", name);
        for (int i = 0; i < 32; i++)
            want[nwant].sha[i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
        nwant++;
    }
    fclose(f);
    ck_assert_uint_ge(nwant, 4);
}

static void free_fixture(void)
{
    free(orig);
    vmrp_key_free(pub);
    orig = NULL;
    pub = NULL;
    nwant = 0;
}

/* The archive bytes as a file descriptor, at offset 0. */
static int memfd_of(const unsigned char *data, size_t len)
{
    int fd = memfd_create("sweep", MFD_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ut_write_all(fd, data, len, "memfd");
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

/* 1 when verification with the public key reports a problem, or finds fewer
 * points than were committed (a cut at a commit boundary is a rollback that
 * only --min-points can tell). */
static int verify_detects(const unsigned char *data, size_t len)
{
    int fd = memfd_of(data, len);
    vmrp_reader *r = vmrp_reader_new();
    vmrp_reader_set_public_key(r, pub);
    vmrp_verify_report rep;
    int rc = vmrp_reader_verify(r, fd, "sweep", &rep);
    vmrp_reader_free(r);
    close(fd);
    return rc != VMRP_OK || rep.points < POINTS;
}

typedef struct {
    crypto_hash_sha256_state st;
    uint64_t next;
} sha_sink;

static int sha_block(void *ctx, uint64_t off, const void *data, size_t len)
{
    static const unsigned char zeros[4096];
    sha_sink *s = ctx;
    while (s->next < off) {
        uint64_t n = off - s->next < sizeof zeros ? off - s->next : sizeof zeros;
        crypto_hash_sha256_update(&s->st, zeros, n);
        s->next += n;
    }
    crypto_hash_sha256_update(&s->st, data, len);
    s->next = off + len;
    return 0;
}

/* Open and read every disk at every point. Returns the number of disks
 * that came back with bytes other than the originals (never allowed);
 * errors are fine. */
static int wrong_reads(const unsigned char *data, size_t len)
{
    static const unsigned char zeros[4096];
    int fd = memfd_of(data, len);
    vmrp_reader *r = vmrp_reader_new();
    int wrong = 0;
    if (vmrp_reader_open_fd(r, fd, "sweep") == VMRP_OK) {
        for (size_t i = 0; i < nwant; i++) {
            const vmrp_point_info *p = vmrp_reader_point(r, want[i].point - 1);
            if (!p)
                continue; /* fewer points: the damaged tail was set aside */
            uint64_t size = 0;
            for (uint32_t d = 0; d < p->disk_count; d++)
                if (strcmp(p->disks[d].name, want[i].disk) == 0)
                    size = p->disks[d].size_bytes;
            sha_sink s;
            crypto_hash_sha256_init(&s.st);
            s.next = 0;
            if (vmrp_reader_read_disk(r, want[i].point - 1, want[i].disk, sha_block, &s) != VMRP_OK)
                continue;
            while (s.next < size) {
                uint64_t n = size - s.next < sizeof zeros ? size - s.next : sizeof zeros;
                crypto_hash_sha256_update(&s.st, zeros, n);
                s.next += n;
            }
            unsigned char got[32];
            crypto_hash_sha256_final(&s.st, got);
            if (memcmp(got, want[i].sha, 32) != 0)
                wrong++;
        }
    }
    vmrp_reader_free(r);
    close(fd);
    return wrong;
}

START_TEST(fixture_is_clean)
{
    ck_assert_int_eq(verify_detects(orig, orig_len), 0);
    ck_assert_int_eq(wrong_reads(orig, orig_len), 0);
}
END_TEST

START_TEST(every_byte_flipped)
{
    unsigned char *copy = malloc(orig_len);
    size_t undetected = 0, wrong = 0, reads = 0;
    for (size_t i = 0; i < orig_len; i++) {
        memcpy(copy, orig, orig_len);
        copy[i] ^= 0xff;
        if (!verify_detects(copy, orig_len)) {
            undetected++;
            fprintf(stderr, "sweep: flipping byte %zu went undetected\n", i);
        }
        if (i % 13 == 0) {
            reads++;
            wrong += (size_t)wrong_reads(copy, orig_len);
        }
    }
    free(copy);
    printf("sweep: %zu bytes flipped (0xff): %zu detected, %zu undetected; "
           "%zu read back through the reader: %zu returned wrong data\n",
           orig_len, orig_len - undetected, undetected, reads, wrong);
    ck_assert_uint_eq(undetected, 0);
    ck_assert_uint_eq(wrong, 0);
}
END_TEST

START_TEST(random_bits_flipped)
{
    unsigned char *copy = malloc(orig_len);
    uint64_t seed = 0x5eedf00d;
    size_t tries = 4000, undetected = 0, wrong = 0;
    for (size_t t = 0; t < tries; t++) {
        memcpy(copy, orig, orig_len);
        uint64_t bit = ut_below(&seed, (uint64_t)orig_len * 8);
        copy[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        if (!verify_detects(copy, orig_len))
            undetected++;
        if (t % 4 == 0)
            wrong += (size_t)wrong_reads(copy, orig_len);
    }
    free(copy);
    printf("sweep: %zu random single-bit flips: %zu undetected, %zu wrong reads\n", tries,
           undetected, wrong);
    ck_assert_uint_eq(undetected, 0);
    ck_assert_uint_eq(wrong, 0);
}
END_TEST

START_TEST(cut_at_every_offset)
{
    size_t undetected = 0, wrong = 0;
    for (size_t len = 0; len < orig_len; len++) {
        if (!verify_detects(orig, len))
            undetected++;
        if (len % 7 == 0)
            wrong += (size_t)wrong_reads(orig, len);
    }
    printf("sweep: cut at each of %zu offsets: %zu undetected, %zu wrong reads\n", orig_len,
           undetected, wrong);
    ck_assert_uint_eq(undetected, 0);
    ck_assert_uint_eq(wrong, 0);
}
END_TEST

static Suite *sweep_suite(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("signed fixture");
    tcase_add_checked_fixture(tc, load_fixture, free_fixture);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, fixture_is_clean);
    tcase_add_test(tc, every_byte_flipped);
    tcase_add_test(tc, random_bits_flipped);
    tcase_add_test(tc, cut_at_every_offset);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(sweep_suite());
}
