/* passphrase.c - passphrase sources, in order of precedence. */
#define _GNU_SOURCE
#include "passphrase.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

/* One line from fd, read with read(2) straight into buf: no stdio buffer
 * keeps a copy. 0, -1 when there is none, -2 when it does not fit. */
static int read_line(int fd, char *buf, size_t size)
{
    size_t n = 0;
    int too_long = 0, got_any = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got_any = 1;
        if (c == '\n')
            break;
        if (c == '\r')
            continue;
        if (n + 1 < size)
            buf[n++] = c;
        else
            too_long = 1;
    }
    buf[n] = '\0';
    if (too_long) {
        sodium_memzero(buf, size);
        fprintf(stderr, "vmrp: the passphrase is longer than %zu bytes\n", size - 1);
        return -2;
    }
    return got_any ? 0 : -1;
}

static int from_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = read_line(fd, buf, size);
    close(fd);
    return rc == 0 ? 0 : -1;
}

static int from_command(const char *cmd, char *buf, size_t size)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    int fd = fileno(p); /* read(2) only: the FILE's buffer stays unused */
    int rc = read_line(fd, buf, size);
    /* Drain the rest so the command is not killed by SIGPIPE mid-way. */
    char sink[256];
    ssize_t r;
    while ((r = read(fd, sink, sizeof sink)) > 0 || (r < 0 && errno == EINTR))
        ;
    sodium_memzero(sink, sizeof sink);
    int status = pclose(p);
    if (rc != 0 || status != 0) {
        sodium_memzero(buf, size);
        return -1;
    }
    return 0;
}

static int from_tty(const char *prompt, char *buf, size_t size)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct termios old, quiet;
    int have_term = tcgetattr(fd, &old) == 0;
    if (have_term) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    if (write(fd, prompt, strlen(prompt)) < 0) {
        /* the prompt is a courtesy; reading still works */
    }
    int rc = read_line(fd, buf, size) == 0 ? 0 : -1;
    if (have_term)
        tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) {
        /* ignore */
    }
    close(fd);
    return rc;
}

static int from_environment(char *buf, size_t size)
{
    const char *v;
    if ((v = getenv("VMRP_PASSPHRASE")) != NULL) {
        if (strlen(v) >= size) {
            fprintf(stderr, "vmrp: VMRP_PASSPHRASE is longer than %zu bytes\n", size - 1);
            return -1;
        }
        memcpy(buf, v, strlen(v) + 1);
        return 0;
    }
    if ((v = getenv("VMRP_PASSPHRASE_FILE")) != NULL)
        return from_file(v, buf, size);
    if ((v = getenv("VMRP_PASSPHRASE_COMMAND")) != NULL)
        return from_command(v, buf, size);
    return 1; /* no environment source */
}

int passphrase_ask(void *ctx, const char *path, char *buf, size_t size)
{
    (void)ctx;
    int rc = from_environment(buf, size);
    if (rc <= 0)
        return rc;
    char prompt[512];
    snprintf(prompt, sizeof prompt, "Passphrase for %s: ", path);
    return from_tty(prompt, buf, size);
}

int passphrase_ask_quietly(void *ctx, const char *path, char *buf, size_t size)
{
    (void)ctx;
    (void)path;
    return from_environment(buf, size) == 0 ? 0 : -1;
}

int passphrase_in_environment(void)
{
    return getenv("VMRP_PASSPHRASE") || getenv("VMRP_PASSPHRASE_FILE") ||
           getenv("VMRP_PASSPHRASE_COMMAND");
}

int passphrase_new(const char *what, char *buf, size_t size)
{
    int rc = from_environment(buf, size);
    if (rc <= 0)
        return rc;
    char prompt[512], again[1024];
    snprintf(prompt, sizeof prompt, "New passphrase for %s: ", what);
    if (from_tty(prompt, buf, size) != 0)
        return -1;
    rc = from_tty("Repeat it: ", again, sizeof again);
    if (rc != 0 || strcmp(buf, again) != 0) {
        fprintf(stderr, "vmrp: the passphrases differ\n");
        rc = -1;
    }
    sodium_memzero(again, sizeof again);
    return rc;
}
