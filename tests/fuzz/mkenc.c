/* mkenc.c - make a small encrypted archive for the seed corpora
 * (make-corpus.sh), through the public writer API: `vmrp pack` takes
 * Argon2id memory in MiB, and the seeds want 8 KiB so that every execution
 * that derives a passphrase key stays fast.
 *
 *   mkenc ARCHIVE [OPTION ...]
 *     --new-pass          new archive: a passphrase slot for FZ_TEST_PASSPHRASE
 *                         (Argon2id 1 pass, 8 KiB)
 *     --recipient PUB     new archive: a recipient slot (repeatable)
 *     --identity KEY      existing archive: open it with this identity
 *     --pass              existing archive: open it with FZ_TEST_PASSPHRASE
 *                         (neither: a keyless append)
 *     --codec none|zstd|zlib   --block-size N   --max-points N
 *     --disk NAME=PATH    --exclude NAME   --config JSON   --file NAME=PATH
 *     --name NAME
 *   mkenc --check-key KEYFILE   exit 1 unless KEYFILE is fuzz_common.h's test key
 * Test-only keys: see fuzz_common.h.
 */
#include "fuzz_common.h"

#include <fcntl.h>
#include <sys/stat.h>

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "mkenc: %s: %s\n", what, msg);
    exit(1);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len == cap && !(buf = realloc(buf, cap = cap ? 2 * cap : 4096)))
            die(path, "out of memory");
        size_t n = fread(buf + *len, 1, cap - *len, f);
        if (n == 0)
            break;
        *len += n;
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 2 || vmrp_init() != VMRP_OK)
        die("usage", "mkenc ARCHIVE [OPTION ...] | mkenc --check-key KEYFILE");
    if (strcmp(argv[1], "--check-key") == 0 && argc == 3) {
        /* the key file and the harnesses' copy (fuzz_common.h) must agree */
        size_t len = 0;
        char *text = slurp(argv[2], &len);
        int same = len == strlen(fz_test_key_text) && memcmp(text, fz_test_key_text, len) == 0;
        free(text);
        if (!same)
            die(argv[2], "differs from fz_test_key_text in tests/fuzz/fuzz_common.h");
        return 0;
    }
    const char *archive = argv[1];
    vmrp_writer_options opts;
    memset(&opts, 0, sizeof opts);
    opts.threads = 1;
    vmrp_encryption enc;
    memset(&enc, 0, sizeof enc);
    const vmrp_key *recipients[8];
    vmrp_key *identity = NULL;
    const char *name = NULL;
    /* actions that need an open writer, replayed in order */
    const char *actions[64][2];
    int nactions = 0, set_enc = 0;
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--new-pass") == 0 || strcmp(o, "--pass") == 0) {
            enc.passphrase = FZ_TEST_PASSPHRASE;
            enc.kdf_opslimit = 1;
            enc.kdf_memlimit = 8192;
            set_enc = 1;
            continue;
        }
        if (!v)
            die(o, "needs a value");
        i++;
        if (strcmp(o, "--recipient") == 0) {
            vmrp_key *k = vmrp_key_new();
            if (!k || enc.recipient_count == 8 || vmrp_key_load_public(k, v) != VMRP_OK)
                die(v, k ? vmrp_key_error_string(k) : "out of memory");
            recipients[enc.recipient_count++] = k;
            enc.recipients = recipients;
            set_enc = 1;
        } else if (strcmp(o, "--identity") == 0) {
            identity = vmrp_key_new();
            if (!identity || vmrp_key_load_secret(identity, v, NULL, NULL) != VMRP_OK)
                die(v, identity ? vmrp_key_error_string(identity) : "out of memory");
            enc.identity = identity;
            set_enc = 1;
        } else if (strcmp(o, "--codec") == 0) {
            opts.codec = strcmp(v, "none") == 0   ? VMRP_CODEC_NONE
                         : strcmp(v, "zlib") == 0 ? VMRP_CODEC_ZLIB
                                                  : VMRP_CODEC_ZSTD;
        } else if (strcmp(o, "--block-size") == 0) {
            opts.block_size = (uint32_t)strtoul(v, NULL, 0);
        } else if (strcmp(o, "--max-points") == 0) {
            opts.max_points = (uint32_t)strtoul(v, NULL, 0);
        } else if (strcmp(o, "--name") == 0) {
            name = v;
        } else if (nactions < 64) {
            actions[nactions][0] = o;
            actions[nactions++][1] = v;
        }
    }
    vmrp_writer *w = vmrp_writer_new();
    if (!w)
        die(archive, "out of memory");
    /* A keyless append seals to the collection key the file names: this
     * tool made the archive, so it vouches for that key (the first bytes of
     * the payload of segment 1's KEYS record, format 5.6.1). */
    unsigned char pin[32];
    int pfd = open(archive, O_RDONLY | O_CLOEXEC);
    if (pfd >= 0) {
        if (pread(pfd, pin, sizeof pin, 128 + 16) == (ssize_t)sizeof pin)
            vmrp_writer_set_collection_key(w, pin);
        close(pfd);
    }
    if ((set_enc && vmrp_writer_set_encryption(w, &enc) != VMRP_OK) ||
        vmrp_writer_open(w, archive, &opts) != VMRP_OK ||
        vmrp_writer_set_point(w, name, VMRP_CONSISTENCY_CRASH) != VMRP_OK)
        die(archive, vmrp_writer_error_string(w));
    int fds[64], nfds = 0;
    for (int a = 0; a < nactions; a++) {
        const char *o = actions[a][0], *v = actions[a][1];
        int rc = VMRP_E_USAGE;
        if (strcmp(o, "--config") == 0) {
            size_t len = 0;
            char *json = slurp(v, &len);
            rc = vmrp_writer_set_source_metadata(w, json, len);
            free(json);
        } else if (strcmp(o, "--exclude") == 0) {
            rc = vmrp_writer_exclude_disk(w, v);
        } else if (strcmp(o, "--disk") == 0 || strcmp(o, "--file") == 0) {
            char dname[256];
            const char *eq = strchr(v, '=');
            if (!eq || (size_t)(eq - v) >= sizeof dname)
                die(v, "NAME=PATH");
            memcpy(dname, v, (size_t)(eq - v));
            dname[eq - v] = '\0';
            if (o[2] == 'd') {
                int fd = open(eq + 1, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                    die(eq + 1, strerror(errno));
                fds[nfds++] = fd;
                rc = vmrp_writer_add_disk(w, dname, fd, eq + 1);
            } else {
                size_t len = 0;
                char *data = slurp(eq + 1, &len);
                rc = vmrp_writer_add_config_file(w, dname, 0644, data, len);
                free(data);
            }
        } else {
            die(o, "unknown option");
        }
        if (rc != VMRP_OK)
            die(archive, vmrp_writer_error_string(w));
    }
    if (vmrp_writer_commit(w) != VMRP_OK)
        die(archive, vmrp_writer_error_string(w));
    vmrp_writer_free(w);
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    for (size_t i = 0; i < enc.recipient_count; i++)
        vmrp_key_free((vmrp_key *)recipients[i]);
    vmrp_key_free(identity);
    return 0;
}
