/* cli.c - helpers shared by the subcommands. */
#define _GNU_SOURCE
#include "cli.h"
#include "passphrase.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* What cli_json_end() reports: the last message, and the last library
 * code that was mapped to an exit status. */
static char last_message[1024];
static int last_rc;

int cli_exit_code(int rc)
{
    if (rc != VMRP_OK)
        last_rc = rc;
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

/* Messages name files, points and disks that may come from an archive:
 * they are printed escaped, whatever they hold. */
static void print_message(const char *cmd, const char *fmt, va_list ap)
{
    char *text = NULL;
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    snprintf(last_message, sizeof last_message, "%s", text ? text : "out of memory");
    fprintf(stderr, "vmrp %s: ", cmd);
    cli_fputs_safe(stderr, text ? text : last_message);
    free(text);
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_message(cmd, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_message(cmd, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'vmrp %s --help'.\n", cmd);
    last_rc = VMRP_E_USAGE;
    return EXIT_USAGE;
}

/* ---- errors as JSON ----
 * A command prints its JSON answer with stdio on stdout; in JSON mode
 * stdout is a stream that counts what goes through it, so that an error
 * object is printed only by a command that printed nothing. */
static unsigned long long json_bytes_out;
static int json_mode;

static ssize_t count_write(void *cookie, const char *buf, size_t size)
{
    (void)cookie;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(STDOUT_FILENO, buf + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return done ? (ssize_t)done : -1;
        done += (size_t)n;
        json_bytes_out += (size_t)n;
    }
    return (ssize_t)done;
}

void cli_json_begin(void)
{
    cookie_io_functions_t io = {NULL, count_write, NULL, NULL};
    FILE *f = fopencookie(NULL, "w", io);
    if (!f)
        return; /* errors are then not given as JSON; nothing else changes */
    fflush(stdout);
    stdout = f; /* glibc: stdout is a variable that may be assigned */
    json_mode = 1;
}

/* The library code behind an exit status that came without one. */
static int code_for_exit(int status)
{
    switch (status) {
    case EXIT_DAMAGED:
        return VMRP_E_CORRUPT;
    case EXIT_USAGE:
        return VMRP_E_USAGE;
    case EXIT_KEY:
        return VMRP_E_KEY;
    case EXIT_LOCKED:
        return VMRP_E_LOCKED;
    default:
        return VMRP_E_IO;
    }
}

int cli_json_end(int status)
{
    if (!json_mode)
        return status;
    fflush(stdout);
    if (status != EXIT_OK && json_bytes_out == 0) {
        int code = last_rc && cli_exit_code(last_rc) == status ? last_rc : code_for_exit(status);
        printf("{\"ok\":false,\"error\":{\"code\":%d,\"exit\":%d,\"message\":", code, status);
        json_string(stdout, last_message[0] ? last_message : vmrp_strerror(code));
        printf("}}\n");
    }
    if (fflush(stdout) != 0 && status == EXIT_OK)
        status = EXIT_RUNTIME;
    return status;
}

void cli_no_core_dumps(void)
{
    struct rlimit none = {0, 0};
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    (void)setrlimit(RLIMIT_CORE, &none);
}

/* ---- names for people ---- */

/* The code point of the UTF-8 sequence at p (at most n bytes) and its
 * length, or 0 when it is not well-formed (overlong, surrogate, > U+10FFFF). */
static size_t utf8_decode(const unsigned char *p, size_t n, unsigned *cp)
{
    size_t len;
    unsigned v, min;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, v = p[0] & 0x1f, min = 0x80;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, v = p[0] & 0x0f, min = 0x800;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, v = p[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* Code points that change how a terminal shows the text around them. */
static int cp_unsafe(unsigned cp)
{
    return (cp >= 0x80 && cp <= 0x9f) ||                 /* C1 controls */
           cp == 0x61c ||                                /* arabic letter mark */
           cp == 0x200e || cp == 0x200f ||               /* LRM, RLM */
           (cp >= 0x2028 && cp <= 0x202e) ||             /* separators, embeddings, overrides */
           (cp >= 0x2066 && cp <= 0x2069);               /* isolates */
}

/* Escape s as cli_fputs_safe describes, through put(ctx, text, len). */
static void escape_for_people(const char *s, void (*put)(void *, const char *, size_t), void *ctx)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    char esc[16];
    while (n > 0) {
        unsigned cp;
        size_t len;
        if (*p == '\\') {
            put(ctx, "\\\\", 2);
            len = 1;
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02X", *p);
            put(ctx, esc, 4);
            len = 1;
        } else if (*p < 0x80) {
            put(ctx, (const char *)p, 1);
            len = 1;
        } else if ((len = utf8_decode(p, n, &cp)) == 0) {
            snprintf(esc, sizeof esc, "\\x%02X", *p);
            put(ctx, esc, 4);
            len = 1;
        } else if (cp_unsafe(cp)) {
            snprintf(esc, sizeof esc, "\\u%04X", cp);
            put(ctx, esc, 6);
        } else {
            put(ctx, (const char *)p, len);
        }
        p += len;
        n -= len;
    }
}

static void put_file(void *ctx, const char *text, size_t len)
{
    fwrite(text, 1, len, ctx);
}

void cli_fputs_safe(FILE *f, const char *s)
{
    escape_for_people(s, put_file, f);
}

typedef struct {
    char *buf;
    size_t size, used;
} put_buffer;

static void put_buf(void *ctx, const char *text, size_t len)
{
    put_buffer *b = ctx;
    if (b->used + len < b->size) {
        memcpy(b->buf + b->used, text, len);
        b->used += len;
        b->buf[b->used] = '\0';
    } else {
        b->size = b->used + 1; /* full: nothing more, not half an escape */
    }
}

const char *cli_safe(const char *s, char *buf, size_t size)
{
    put_buffer b = {buf, size, 0};
    if (size)
        buf[0] = '\0';
    escape_for_people(s, put_buf, &b);
    return buf;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void cli_progress_init(cli_progress *p, const char *what, int quiet)
{
    memset(p, 0, sizeof *p);
    p->tty = isatty(STDERR_FILENO);
    const char *every = getenv("VMRP_PROGRESS_INTERVAL");
    p->every = every && *every ? strtod(every, NULL) : 30;
    p->enabled = !quiet && (p->tty || p->every > 0);
    p->what = what;
    p->start = now_s();
}

void cli_progress_set_total(cli_progress *p, uint64_t total)
{
    p->total = total;
}

void cli_progress_item(cli_progress *p, const char *item)
{
    snprintf(p->item, sizeof p->item, "%s", item ? item : "");
}

void cli_progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    cli_progress *p = ctx;
    if (!p->enabled)
        return;
    double t = now_s();
    double gap = p->tty ? 0.25 : p->every;
    if (t - (p->last > 0 ? p->last : p->start) < gap && (p->tty ? done != total : 1))
        return;
    p->last = t;
    if (!total)
        total = p->total;
    double secs = t - p->start;
    double rate = secs > 0 ? done / secs : 0;
    char a[32], b[32], c[32], line[256];
    int n = snprintf(line, sizeof line, "%s: %s%s%s", p->what, p->item, *p->item ? ": " : "",
                     cli_human(done, a));
    if (total && total >= done) {
        double eta = rate > 0 ? (total - done) / rate : 0;
        snprintf(line + n, sizeof line - (size_t)n, " of %s (%d%%), %s/s, ETA %d:%02d",
                 cli_human(total, b), (int)(100.0 * done / total), cli_human((uint64_t)rate, c),
                 (int)eta / 60, (int)eta % 60);
    } else {
        snprintf(line + n, sizeof line - (size_t)n, ", %s/s", cli_human((uint64_t)rate, c));
    }
    if (p->tty)
        fprintf(stderr, "\r%s\033[K", line);
    else
        fprintf(stderr, "%s\n", line);
}

void cli_progress_done(cli_progress *p)
{
    if (p->enabled && p->tty && p->last > 0)
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
        default: {
            unsigned cp;
            size_t len;
            if (*p < 0x20 || *p == 0x7f) {
                fprintf(f, "\\u%04x", *p);
            } else if (*p < 0x80) {
                fputc(*p, f);
            } else if ((len = utf8_decode(p, 4, &cp)) == 0) {
                fputs("\\ufffd", f); /* not UTF-8: JSON cannot carry the byte */
            } else {
                if (cp_unsafe(cp))
                    fprintf(f, "\\u%04x", cp);
                else
                    fwrite(p, 1, len, f);
                p += len - 1;
            }
        }
        }
    }
    fputc('"', f);
}

void json_excluded_disks(FILE *f, const vmrp_point_info *p)
{
    const char *sep = "";
    fputc('[', f);
    for (uint32_t d = 0; d < p->disk_count; d++)
        if (p->disks[d].excluded) {
            fputs(sep, f);
            json_string(f, p->disks[d].name);
            sep = ",";
        }
    fputc(']', f);
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
    if (S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode) ||
        (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max)) {
        snprintf(err, errlen, "%s: %s", path,
                 S_ISREG(st.st_mode) ? "file is too large" : "not a regular file");
        close(fd);
        return -1;
    }
    /* A regular file is read to its end too (it may have grown); a pipe
     * has no size to go by. One byte past the cap tells that it is over. */
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
    char *buf = malloc(cap + 1);
    size_t got = 0;
    int read_error = 0;
    while (buf) {
        if (got == cap) {
            if (cap > max)
                break;
            size_t more = cap > max / 2 ? max + 1 : cap * 2;
            char *bigger = realloc(buf, more + 1);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap = more;
        }
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            read_error = errno;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf || read_error || got > max) {
        snprintf(err, errlen, "%s: %s", path,
                 !buf ? "out of memory" : read_error ? strerror(read_error) : "file is too large");
        free(buf);
        return -1;
    }
    buf[got] = '\0';
    *data = buf;
    *size = got;
    return 0;
}

const char *cli_file_kind(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG:
        return "a regular file";
    case S_IFDIR:
        return "a directory";
    case S_IFCHR:
        return "a character device";
    case S_IFBLK:
        return "a block device";
    case S_IFIFO:
        return "a FIFO (named pipe)";
    case S_IFLNK:
        return "a symbolic link";
    case S_IFSOCK:
        return "a socket";
    default:
        return "not a regular file";
    }
}

int cli_open_archive(const char *cmd, vmrp_reader *r, const char *path, int *fd)
{
    struct stat st;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer before it can
     * be refused. It is cleared again for the reader. */
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (*fd < 0) {
        int e = errno;
        cli_exit_code(e == ENOENT ? VMRP_E_NOT_FOUND : VMRP_E_IO);
        cli_error(cmd, "%s: %s", path, strerror(e));
        return EXIT_RUNTIME;
    }
    int flags = fcntl(*fd, F_GETFL);
    if (fstat(*fd, &st) != 0 || flags < 0 || fcntl(*fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        cli_error(cmd, "%s: %s", path, strerror(errno));
        close(*fd);
        *fd = -1;
        return EXIT_RUNTIME;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        cli_error(cmd, "%s: is %s; vmrp %s reads an archive by random access: give a regular "
                       "file or a block device",
                  path, cli_file_kind(st.st_mode), cmd);
        close(*fd);
        *fd = -1;
        return EXIT_RUNTIME;
    }
    int rc = vmrp_reader_open_fd(r, *fd, path);
    if (rc != VMRP_OK) {
        cli_error(cmd, "%s", vmrp_reader_error_string(r));
        return cli_exit_code(rc);
    }
    return EXIT_OK;
}
