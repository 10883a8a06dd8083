/* cli.c - helpers shared by the subcommands. */
#define _GNU_SOURCE
#include "cli.h"
#include "passphrase.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int cli_exit_code(int rc)
{
    switch (rc) {
    case VMRP_OK:
        return EXIT_OK;
    case VMRP_E_CORRUPT:
    case VMRP_E_NOT_ARCHIVE:
    case VMRP_E_VERSION:
    case VMRP_E_TORN:
        return EXIT_DAMAGED;
    case VMRP_E_USAGE:
        return EXIT_USAGE;
    case VMRP_E_KEY:
        return EXIT_KEY;
    case VMRP_E_LOCKED:
        return EXIT_LOCKED;
    default:
        return EXIT_RUNTIME;
    }
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "vmrp %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "vmrp %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'vmrp %s --help'.\n", cmd);
    return EXIT_USAGE;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void cli_progress_init(cli_progress *p, const char *what, int quiet)
{
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->what = what;
    p->start = now_s();
    p->last = 0;
}

void cli_progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    cli_progress *p = ctx;
    if (!p->enabled)
        return;
    double t = now_s();
    if (t - p->last < 0.25 && done != total)
        return;
    p->last = t;
    double secs = t - p->start;
    double rate = secs > 0 ? done / secs : 0;
    char a[32], b[32], c[32];
    if (total && total >= done) {
        double eta = rate > 0 ? (total - done) / rate : 0;
        fprintf(stderr, "\r%s: %s of %s, %s/s, ETA %d:%02d   ", p->what, cli_human(done, a),
                cli_human(total, b), cli_human((uint64_t)rate, c), (int)eta / 60, (int)eta % 60);
    } else {
        fprintf(stderr, "\r%s: %s, %s/s   ", p->what, cli_human(done, a),
                cli_human((uint64_t)rate, c));
    }
}

void cli_progress_done(cli_progress *p)
{
    if (p->enabled && p->last > 0)
        fputs("\r\033[K", stderr);
}

void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void json_uuid(FILE *f, const unsigned char id[16])
{
    char s[37];
    vmrp_uuid_format(id, s);
    fprintf(f, "\"%s\"", s);
}

void json_time(FILE *f, int64_t time_us)
{
    char s[32];
    vmrp_time_format(time_us, s);
    fprintf(f, "\"%s\"", s);
}

void json_hex(FILE *f, const unsigned char *bytes, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", bytes[i]);
    fputc('"', f);
}

int cli_parse_size(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return -1;
    uint64_t mult = 1;
    if (*end == 'K' || *end == 'k')
        mult = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mult = 1024 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        mult = 1024ull * 1024 * 1024, end++;
    if (*end == 'i' && mult > 1)
        end++;
    if (*end == 'B' && mult > 1)
        end++;
    if (*end != '\0' || v > UINT64_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

const char *cli_human(uint64_t bytes, char buf[32])
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, 32, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, 32, "%.1f %s", v, units[u]);
    return buf;
}

/* What a subcommand loads a key for: which half, which kind, and the
 * option that names it in messages. */
typedef struct {
    int secret;
    int kind; /* vmrp_key_type */
    const char *option;
    const char *needs; /* "a signing key", ... */
} key_use;

static const key_use USE_SIGN = {1, VMRP_KEY_SIGNING, "--sign", "a signing key"};
static const key_use USE_PUBKEY = {0, VMRP_KEY_SIGNING, "--pubkey", "a signing public key"};
static const key_use USE_IDENTITY = {1, VMRP_KEY_ENCRYPTION, "--identity",
                                     "an encryption secret key"};
static const key_use USE_RECIPIENT = {0, VMRP_KEY_ENCRYPTION, "--recipient",
                                      "an encryption public key"};

/* The key being loaded already reports the file's kind when the library
 * asks for its passphrase: a key of the wrong kind is refused unasked. */
typedef struct {
    const vmrp_key *key;
    const key_use *use;
    int wrong_kind;
} key_ask_ctx;

static int ask_if_right_kind(void *ctx, const char *path, char *buf, size_t size)
{
    key_ask_ctx *a = ctx;
    if (vmrp_key_kind(a->key) != a->use->kind) {
        a->wrong_kind = 1;
        return -1;
    }
    return passphrase_ask(NULL, path, buf, size);
}

static int load_key(const char *cmd, const char *path, const key_use *use, vmrp_key **out)
{
    vmrp_key *k = vmrp_key_new();
    *out = NULL;
    if (!k) {
        cli_error(cmd, "out of memory");
        return EXIT_RUNTIME;
    }
    key_ask_ctx ask = {k, use, 0};
    int rc = use->secret ? vmrp_key_load_secret(k, path, ask_if_right_kind, &ask)
                         : vmrp_key_load_public(k, path);
    int wrong = ask.wrong_kind || (rc == VMRP_OK && vmrp_key_kind(k) != use->kind);
    if (wrong) {
        cli_error(cmd, "%s: is %s; %s needs %s made by %s", path,
                  use->kind == VMRP_KEY_SIGNING ? "an encryption key" : "a signing key",
                  use->option, use->needs,
                  use->kind == VMRP_KEY_SIGNING ? "'vmrp keygen'" : "'vmrp keygen --encryption'");
        vmrp_key_free(k);
        return EXIT_KEY;
    }
    if (rc != VMRP_OK) {
        cli_error(cmd, "%s", vmrp_key_error_string(k));
        vmrp_key_free(k);
        return rc == VMRP_E_NOT_FOUND || rc == VMRP_E_IO ? EXIT_RUNTIME : EXIT_KEY;
    }
    *out = k;
    return EXIT_OK;
}

int cli_load_public_key(const char *cmd, const char *path, vmrp_key **out)
{
    return load_key(cmd, path, &USE_PUBKEY, out);
}

int cli_load_secret_key(const char *cmd, const char *path, vmrp_key **out)
{
    return load_key(cmd, path, &USE_SIGN, out);
}

int cli_load_identity(const char *cmd, const char *path, vmrp_key **out)
{
    return load_key(cmd, path, &USE_IDENTITY, out);
}

int cli_load_recipient(const char *cmd, const char *path, vmrp_key **out)
{
    return load_key(cmd, path, &USE_RECIPIENT, out);
}

int cli_reader_new(const char *cmd, const char *pubkey_path, const char *identity_path,
                   int prompt, vmrp_reader **r, vmrp_key **key, vmrp_key **identity)
{
    *r = NULL;
    *key = NULL;
    *identity = NULL;
    int status;
    if (pubkey_path && (status = cli_load_public_key(cmd, pubkey_path, key)) != EXIT_OK)
        return status;
    if (identity_path && (status = cli_load_identity(cmd, identity_path, identity)) != EXIT_OK) {
        vmrp_key_free(*key);
        *key = NULL;
        return status;
    }
    if (!(*r = vmrp_reader_new())) {
        vmrp_key_free(*key);
        vmrp_key_free(*identity);
        *key = *identity = NULL;
        cli_error(cmd, "out of memory");
        return EXIT_RUNTIME;
    }
    vmrp_reader_set_public_key(*r, *key);
    /* without a prompt, a passphrase is used only when one is set */
    vmrp_reader_set_decryption(*r, *identity,
                               prompt                        ? passphrase_ask
                               : passphrase_in_environment() ? passphrase_ask_quietly
                                                             : NULL,
                               NULL);
    return EXIT_OK;
}

uint64_t cli_key_id_value(const unsigned char id[8])
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | id[i];
    return v;
}

int cli_read_file(const char *path, size_t max, char **data, size_t *size, char *err,
                  size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    *data = NULL;
    *size = 0;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        snprintf(err, errlen, "%s: %s", path,
                 S_ISREG(st.st_mode) ? "file is too large" : "not a regular file");
        close(fd);
        return -1;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf || got != (size_t)st.st_size) {
        snprintf(err, errlen, "%s: %s", path, buf ? "short read" : "out of memory");
        free(buf);
        return -1;
    }
    buf[got] = '\0';
    *data = buf;
    *size = got;
    return 0;
}
