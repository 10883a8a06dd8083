/* test_blake3.c - hash_blake3.c (BLAKE3-256): the published test vectors,
 * b3sum on inputs of lengths around BLAKE3's 64-byte blocks and 1 KiB
 * chunks, and streaming in odd pieces against one-shot, in the plain,
 * keyed and derive-key modes.
 *
 * b3sum (Debian package b3sum; make deps installs it) is taken from $B3SUM,
 * else from PATH; without it those comparisons are skipped, and say so. */
#define _GNU_SOURCE
#include "unit.h"

#include <sys/wait.h>

#include "vmrp_private.h"

/* The BLAKE3 team's test vectors (test_vectors/test_vectors.json of the
 * BLAKE3 repository, which librust-blake3-dev does not ship): the input of
 * each case is input_len bytes of the pattern 0, 1, ..., 250, 0, 1, ...;
 * keyed_hash uses the key and derive_key the context below. The file gives
 * 131-byte extended outputs; these are their first 32 bytes, the default
 * output, copied from the file (and checked against b3sum 1.2.0), never
 * from the code under test. */
#define TV_KEY "whats the Elvish word for friend"
#define TV_CONTEXT "BLAKE3 2019-12-27 16:29:52 test vectors context"

static const struct {
    size_t len;
    const char *hash, *keyed_hash, *derive_key;
} tv[] = {
    {0,
     "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
     "92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26",
     "2cc39783c223154fea8dfb7c1b1660f2ac2dcbd1c1de8277b0b0dd39b7e50d7d"},
    {1,
     "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
     "6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b",
     "b3e2e340a117a499c6cf2398a19ee0d29cca2bb7404c73063382693bf66cb06c"},
    {1023,
     "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11",
     "c951ecdf03288d0fcc96ee3413563d8a6d3589547f2c2fb36d9786470f1b9d6e",
     "74a16c1c3d44368a86e1ca6df64be6a2f64cce8f09220787450722d85725dea5"},
    {1024,
     "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7",
     "75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4",
     "7356cd7720d5b66b6d0697eb3177d9f8d73a4a5c5e968896eb6a689684302706"},
    {1025,
     "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
     "357dc55de0c7e382c900fd6e320acc04146be01db6a8ce7210b7189bd664ea69",
     "effaa245f065fbf82ac186839a249707c3bddf6d3fdda22d1b95a3c970379bcb"},
    {2048,
     "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a",
     "879cf1fa2ea0e79126cb1063617a05b6ad9d0b696d0d757cf053439f60a99dd1",
     "7b2945cb4fef70885cc5d78a87bf6f6207dd901ff239201351ffac04e1088a23"},
    {2049,
     "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030",
     "9f29700902f7c86e514ddc4df1e3049f258b2472b6dd5267f61bf13983b78dd5",
     "2ea477c5515cc3dd606512ee72bb3e0e758cfae7232826f35fb98ca1bcbdf273"},
    {3072,
     "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2",
     "044a0e7b172a312dc02a4c9a818c036ffa2776368d7f528268d2e6b5df191770",
     "050df97f8c2ead654d9bb3ab8c9178edcd902a32f8495949feadcc1e0480c46b"},
    {3073,
     "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3",
     "68dede9bef00ba89e43f31a6825f4cf433389fedae75c04ee9f0cf16a427c95a",
     "72613c9ec9ff7e40f8f5c173784c532ad852e827dba2bf85b2ab4b76f7079081"},
    {4096,
     "015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e969",
     "befc660aea2f1718884cd8deb9902811d332f4fc4a38cf7c7300d597a081bfc0",
     "1e0d7f3db8c414c97c6307cbda6cd27ac3b030949da8e23be1a1a924ad2f25b9"},
    {4097,
     "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995",
     "00df940cd36bb9fa7cbbc3556744e0dbc8191401afe70520ba292ee3ca80abbc",
     "aca51029626b55fda7117b42a7c211f8c6e9ba4fe5b7a8ca922f34299500ead8"},
    {5120,
     "9cadc15fed8b5d854562b26a9536d9707cadeda9b143978f319ab34230535833",
     "2c493e48e9b9bf31e0553a22b23503c0a3388f035cece68eb438d22fa1943e20",
     "7a7acac8a02adcf3038d74cdd1d34527de8a0fcc0ee3399d1262397ce5817f60"},
    {5121,
     "628bd2cb2004694adaab7bbd778a25df25c47b9d4155a55f8fbd79f2fe154cff",
     "6ccf1c34753e7a044db80798ecd0782a8f76f33563accaddbfbb2e0ea4b2d024",
     "b07f01e518e702f7ccb44a267e9e112d403a7b3f4883a47ffbed4b48339b3c34"},
    {6144,
     "3e2e5b74e048f3add6d21faab3f83aa44d3b2278afb83b80b3c35164ebeca205",
     "3d6b6d21281d0ade5b2b016ae4034c5dec10ca7e475f90f76eac7138e9bc8f1d",
     "2a95beae63ddce523762355cf4b9c1d8f131465780a391286a5d01abb5683a15"},
    {6145,
     "f1323a8631446cc50536a9f705ee5cb619424d46887f3c376c695b70e0f0507f",
     "9ac301e9e39e45e3250a7e3b3df701aa0fb6889fbd80eeecf28dbc6300fbc539",
     "379bcc61d0051dd489f686c13de00d5b14c505245103dc040d9e4dd1facab8e5"},
    {7168,
     "61da957ec2499a95d6b8023e2b0e604ec7f6b50e80a9678b89d2628e99ada77a",
     "b42835e40e9d4a7f42ad8cc04f85a963a76e18198377ed84adddeaecacc6f3fc",
     "11c37a112765370c94a51415d0d651190c288566e295d505defdad895dae2237"},
    {7169,
     "a003fc7a51754a9b3c7fae0367ab3d782dccf28855a03d435f8cfe74605e7817",
     "ed9b1a922c046fdb3d423ae34e143b05ca1bf28b710432857bf738bcedbfa511",
     "554b0a5efea9ef183f2f9b931b7497995d9eb26f5c5c6dad2b97d62fc5ac31d9"},
    {8192,
     "aae792484c8efe4f19e2ca7d371d8c467ffb10748d8a5a1ae579948f718a2a63",
     "dc9637c8845a770b4cbf76b8daec0eebf7dc2eac11498517f08d44c8fc00d58a",
     "ad01d7ae4ad059b0d33baa3c01319dcf8088094d0359e5fd45d6aeaa8b2d0c3d"},
    {8193,
     "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b",
     "954a2a75420c8d6547e3ba5b98d963e6fa6491addc8c023189cc519821b4a1f5",
     "af1e0346e389b17c23200270a64aa4e1ead98c61695d917de7d5b00491c9b0f1"},
    {16384,
     "f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde4",
     "9e9fc4eb7cf081ea7c47d1807790ed211bfec56aa25bb7037784c13c4b707b0d",
     "160e18b5878cd0df1c3af85eb25a0db5344d43a6fbd7a8ef4ed98d0714c3f7e1"},
    {31744,
     "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47",
     "efa53b389ab67c593dba624d898d0f7353ab99e4ac9d42302ee64cbf9939a419",
     "39772aef80e0ebe60596361e45b061e8f417429d529171b6764468c22928e28e"},
    {102400,
     "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085",
     "1c35d1a5811083fd7119f5d5d1ba027b4d01c0c6c49fb6ff2cf75393ea5db4a7",
     "4652cff7a3f385a6103b5c260fc1593e13c778dbe608efb092fe7ee69df6e9c6"},
};

static void hex(const unsigned char *h, char out[2 * HASH_SIZE + 1])
{
    for (unsigned i = 0; i < HASH_SIZE; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

enum { PLAIN, KEYED, DERIVE };
static const char *const mode_name[] = {"hash", "keyed_hash", "derive_key"};

static void one_shot(int mode, const unsigned char *key, const char *context, const void *data,
                     size_t len, unsigned char out[HASH_SIZE])
{
    if (mode == PLAIN)
        hash3_buf(out, data, len);
    else if (mode == KEYED)
        hash3_keyed_buf(out, key, data, len);
    else
        hash3_derive_key(out, context, data, len);
}

/* The same hash through init/update/final, fed in pieces whose sizes cycle
 * through sizes that straddle blocks and chunks, from the offset `phase`
 * of that cycle. */
static void streamed(int mode, const unsigned char *key, const char *context, const void *data,
                     size_t len, size_t phase, unsigned char out[HASH_SIZE])
{
    static const size_t piece[] = {1, 63, 64, 65, 7, 1023, 1024, 1025, 2, 4097, 129, 3000};
    const size_t npiece = sizeof piece / sizeof piece[0];
    hash3_state st;
    if (mode == PLAIN)
        hash3_init(&st);
    else if (mode == KEYED)
        hash3_init_keyed(&st, key);
    else
        hash3_init_derive(&st, context);
    const unsigned char *p = data;
    for (size_t off = 0, i = phase; off < len; i++) {
        size_t n = piece[i % npiece];
        if (n > len - off)
            n = len - off;
        hash3_update(&st, p + off, n);
        if (i % 5 == 0)
            hash3_update(&st, p + off, 0); /* an empty update changes nothing */
        off += n;
    }
    hash3_final(&st, out);
    ck_assert_msg(ut_all_zero(&st, sizeof st), "hash3_final left the state unwiped");
}

START_TEST(test_published_vectors)
{
    unsigned char *in = malloc(102400);
    ck_assert_ptr_nonnull(in);
    for (size_t i = 0; i < 102400; i++)
        in[i] = (unsigned char)(i % 251);
    const unsigned char *key = (const unsigned char *)TV_KEY;
    ck_assert_uint_eq(strlen(TV_KEY), HASH3_KEY_SIZE);
    for (size_t c = 0; c < sizeof tv / sizeof tv[0]; c++) {
        ck_assert_uint_le(tv[c].len, 102400);
        const char *want[] = {tv[c].hash, tv[c].keyed_hash, tv[c].derive_key};
        for (int mode = PLAIN; mode <= DERIVE; mode++) {
            unsigned char h[HASH_SIZE];
            char s[2 * HASH_SIZE + 1];
            one_shot(mode, key, TV_CONTEXT, in, tv[c].len, h);
            hex(h, s);
            ck_assert_msg(strcmp(s, want[mode]) == 0, "%s of %zu bytes: %s, published %s",
                          mode_name[mode], tv[c].len, s, want[mode]);
            streamed(mode, key, TV_CONTEXT, in, tv[c].len, c, h);
            hex(h, s);
            ck_assert_msg(strcmp(s, want[mode]) == 0, "%s of %zu bytes, streamed: %s",
                          mode_name[mode], tv[c].len, s);
        }
    }
    free(in);
}
END_TEST

/* One-shot and streaming agree at every length up to a little past four
 * chunks, for each mode and whatever the cut into pieces. */
START_TEST(test_streaming_equals_one_shot)
{
    enum { MAX = 4 * 1024 + 130 };
    unsigned char *buf = malloc(MAX);
    ck_assert_ptr_nonnull(buf);
    ut_fill_random(buf, MAX, 31);
    unsigned char key[HASH3_KEY_SIZE];
    ut_fill_random(key, sizeof key, 32);
    for (size_t len = 0; len <= MAX; len += len < 300 ? 1 : 61) {
        for (int mode = PLAIN; mode <= DERIVE; mode++) {
            unsigned char a[HASH_SIZE], b[HASH_SIZE];
            one_shot(mode, key, "vmrp test context", buf, len, a);
            for (size_t phase = 0; phase < 12; phase += 5) {
                streamed(mode, key, "vmrp test context", buf, len, phase, b);
                ck_assert_msg(memcmp(a, b, HASH_SIZE) == 0, "%s of %zu bytes, phase %zu",
                              mode_name[mode], len, phase);
            }
        }
    }
    /* Keys, contexts and data each change the hash. */
    unsigned char h[4][HASH_SIZE];
    hash3_buf(h[0], buf, 100);
    hash3_keyed_buf(h[1], key, buf, 100);
    key[31] ^= 1;
    hash3_keyed_buf(h[2], key, buf, 100);
    hash3_derive_key(h[3], "vmrp test context", buf, 100);
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            ck_assert(memcmp(h[i], h[j], HASH_SIZE) != 0);
    hash3_derive_key(h[0], "vmrp test context2", buf, 100);
    ck_assert(memcmp(h[0], h[3], HASH_SIZE) != 0);
    free(buf);
}
END_TEST

/* ---- b3sum ---- */

static const char *b3sum_path(void)
{
    static char found[4096];
    const char *env = getenv("B3SUM");
    if (env && *env)
        return access(env, X_OK) == 0 ? env : NULL;
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n > 0 && n < sizeof found - 8) {
            snprintf(found, sizeof found, "%.*s/b3sum", (int)n, path);
            if (access(found, X_OK) == 0)
                return found;
        }
        path += n + (path[n] == ':');
    }
    return NULL;
}

static int skip_without_b3sum(const char *what)
{
    if (b3sum_path())
        return 0;
    fprintf(stderr,
            "test_blake3: SKIPPED %s: no b3sum (Debian package b3sum, which make deps "
            "installs; or set B3SUM)\n",
            what);
    return 1;
}

/* Lengths 0 .. 69633: one block either side of every block boundary of the
 * first four chunks, one byte either side of every chunk boundary, and a
 * few lengths at random. Sorted, without repeats; returns the count. */
static size_t boundary_lengths(size_t *out, size_t cap)
{
    size_t n = 0;
    out[n++] = 0;
    for (size_t k = 1; k <= 64; k++)
        for (size_t d = 0; d < 3; d++)
            out[n++] = k * 64 + d - 1;
    for (size_t j = 1; j <= 68; j++)
        for (size_t d = 0; d < 3; d++)
            out[n++] = j * 1024 + d - 1;
    uint64_t s = 1234;
    for (int i = 0; i < 32; i++)
        out[n++] = (size_t)ut_below(&s, 70000);
    ck_assert_uint_le(n, cap);
    for (size_t i = 1; i < n; i++) /* insertion sort: a few hundred entries */
        for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
            size_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || out[m - 1] != out[i])
            out[m++] = out[i];
    return m;
}

/* Run `b3sum --no-names MODE_ARGS f0 f1 ...` in dir (stdin from dir/key
 * when keyed) and read one hash per file into got. */
static void run_b3sum(const char *dir, const char *mode_args, int keyed, size_t count,
                      char (*got)[2 * HASH_SIZE + 1])
{
    ck_assert_msg(strchr(dir, '\'') == NULL, "temporary directory %s has a quote", dir);
    size_t cap = 256 + strlen(dir) + strlen(mode_args) + count * 12;
    char *cmd = malloc(cap);
    ck_assert_ptr_nonnull(cmd);
    size_t used = (size_t)snprintf(cmd, cap, "cd '%s' && exec '%s' --no-names %s --", dir,
                                   b3sum_path(), mode_args);
    for (size_t i = 0; i < count; i++)
        used += (size_t)snprintf(cmd + used, cap - used, " f%zu", i);
    if (keyed)
        used += (size_t)snprintf(cmd + used, cap - used, " < key");
    ck_assert_uint_lt(used, cap);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen b3sum: %s", strerror(errno));
    char line[256];
    size_t n = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\r\n")] = 0;
        ck_assert_msg(n < count, "b3sum printed more lines than files (%s)", line);
        ck_assert_msg(strlen(line) == 2 * HASH_SIZE, "b3sum printed \"%s\"", line);
        memcpy(got[n++], line, 2 * HASH_SIZE + 1);
    }
    int st = pclose(p);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "b3sum %s failed (%d)",
                  mode_args, st);
    ck_assert_uint_eq(n, count);
    free(cmd);
}

/* Writes the first lens[i] bytes of buf to dir/f<i>, runs b3sum over all of
 * them at once and compares each with the wrapper's one-shot hash. */
static void compare_with_b3sum(const char *dir, const unsigned char *buf, const size_t *lens,
                               size_t count, int mode, const unsigned char *key,
                               const char *context)
{
    char path[4096], leaf[32], mode_args[256] = "";
    for (size_t i = 0; i < count; i++) {
        snprintf(leaf, sizeof leaf, "f%zu", i);
        ut_write_file(ut_join(path, sizeof path, dir, leaf), buf, lens[i]);
    }
    if (mode == KEYED) {
        ut_write_file(ut_join(path, sizeof path, dir, "key"), key, HASH3_KEY_SIZE);
        snprintf(mode_args, sizeof mode_args, "--keyed");
    } else if (mode == DERIVE) {
        ck_assert(strchr(context, '\'') == NULL);
        snprintf(mode_args, sizeof mode_args, "--derive-key '%s'", context);
    }
    char(*got)[2 * HASH_SIZE + 1] = malloc(count * sizeof *got);
    ck_assert_ptr_nonnull(got);
    run_b3sum(dir, mode_args, mode == KEYED, count, got);
    for (size_t i = 0; i < count; i++) {
        unsigned char h[HASH_SIZE];
        char s[2 * HASH_SIZE + 1];
        one_shot(mode, key, context, buf, lens[i], h);
        hex(h, s);
        ck_assert_msg(strcmp(s, got[i]) == 0, "%s of %zu bytes: %s, b3sum %s", mode_name[mode],
                      lens[i], s, got[i]);
    }
    free(got);
}

START_TEST(test_b3sum_boundaries)
{
    if (skip_without_b3sum("hashes compared with b3sum"))
        return;
    size_t lens[512];
    size_t count = boundary_lengths(lens, sizeof lens / sizeof lens[0]);
    ck_assert_uint_gt(count, 350);
    ck_assert_uint_eq(lens[count - 1], 69633);
    unsigned char *buf = malloc(lens[count - 1]);
    ck_assert_ptr_nonnull(buf);
    ut_fill_random(buf, lens[count - 1], 77);
    char *dir = ut_tmpdir();
    compare_with_b3sum(dir, buf, lens, count, PLAIN, NULL, NULL);
    ut_rmtree(dir);
    free(buf);
}
END_TEST

START_TEST(test_b3sum_keyed_and_derive_key)
{
    if (skip_without_b3sum("keyed and derive-key hashes compared with b3sum"))
        return;
    static const size_t lens[] = {0,    1,    63,   64,    65,    127,   1023,  1024,  1025, 2047,
                                  2048, 2049, 3073, 4097,  8191,  16385, 31744, 65535, 65536,
                                  65537, 69999};
    const size_t count = sizeof lens / sizeof lens[0];
    unsigned char *buf = malloc(70000);
    ck_assert_ptr_nonnull(buf);
    ut_fill_random(buf, 70000, 78);
    unsigned char key[HASH3_KEY_SIZE];
    ut_fill_random(key, sizeof key, 79);
    char *dir = ut_tmpdir();
    compare_with_b3sum(dir, buf, lens, count, KEYED, key, NULL);
    compare_with_b3sum(dir, buf, lens, count, DERIVE, NULL, "vmrp BLAKE3 unit test: derive-key");
    compare_with_b3sum(dir, buf, lens, count, DERIVE, NULL, TV_CONTEXT);
    ut_rmtree(dir);
    free(buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blake3");
    TCase *tc = tcase_create("blake3");
    tcase_add_test(tc, test_published_vectors);
    tcase_add_test(tc, test_streaming_equals_one_shot);
    tcase_add_test(tc, test_b3sum_boundaries);
    tcase_add_test(tc, test_b3sum_keyed_and_derive_key);
    suite_add_tcase(s, tc);
    return ut_run_suite(s);
}
