/* passphrase.c - passphrase sources, in order of precedence. */
#define _GNU_SOURCE
#include "passphrase.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

extern char **environ;

/* How long VMRP_PASSPHRASE_COMMAND may take, unless
 * VMRP_PASSPHRASE_TIMEOUT says otherwise (seconds; 0: no limit). */
#define COMMAND_TIMEOUT_DEFAULT 60

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait until fd is readable or deadline (0: none) passes: 0, or -3 when
 * the time is up. */
static int wait_readable(int fd, double deadline)
{
    for (;;) {
        int ms = -1;
        if (deadline > 0) {
            double left = deadline - now_s();
            if (left <= 0)
                return -3;
            ms = left > 1e6 ? 1000000000 : (int)(left * 1000) + 1;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int n = poll(&p, 1, ms);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return 0; /* let read(2) report it */
    }
}

/* One line from fd, read with read(2) straight into buf: no stdio buffer
 * keeps a copy. 0, -1 when there is none, -2 when it does not fit, -3 when
 * deadline (0: none) passed first. */
static int read_line(int fd, char *buf, size_t size, double deadline)
{
    size_t n = 0;
    int too_long = 0, got_any = 0;
    for (;;) {
        char c;
        if (deadline > 0 && wait_readable(fd, deadline) != 0) {
            sodium_memzero(buf, size);
            return -3;
        }
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
    int rc = read_line(fd, buf, size, 0);
    close(fd);
    return rc == 0 ? 0 : -1;
}

/* VMRP_PASSPHRASE_TIMEOUT in seconds, or the default; -1 when it is not a
 * number. */
static long command_timeout(void)
{
    const char *v = getenv("VMRP_PASSPHRASE_TIMEOUT");
    if (!v)
        return COMMAND_TIMEOUT_DEFAULT;
    char *end = NULL;
    errno = 0;
    long t = strtol(v, &end, 10);
    if (!*v || *end || errno || t < 0 || t > 86400) {
        fprintf(stderr, "vmrp: VMRP_PASSPHRASE_TIMEOUT is a number of seconds, 0 to 86400 "
                        "(0: no limit), not '%s'\n", v);
        return -1;
    }
    return t;
}

/* The command's exit status, waiting until deadline (0: none); -3 when it
 * has not exited by then. */
static int wait_exit(pid_t pid, double deadline)
{
    for (;;) {
        int status;
        pid_t w = waitpid(pid, &status, deadline > 0 ? WNOHANG : 0);
        if (w == pid)
            return status;
        if (w < 0 && errno != EINTR)
            return -1;
        if (w == 0) {
            if (now_s() >= deadline)
                return -3;
            struct timespec pause = {0, 10 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
    }
}

/* 1 when this process has a controlling terminal. */
static int have_terminal(void)
{
    int fd = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

/* The first line of the command's output, read within the time limit:
 * a command that takes longer (a prompt nobody answers, a stuck secret
 * store) is killed, and no passphrase comes from it. Without a terminal
 * the command runs in a process group of its own, killed whole, so nothing
 * it started is left behind; with one it stays in ours, where it can still
 * ask on the terminal (a background group could not read it), and the
 * shell that runs it is killed. */
static int from_command(const char *cmd, char *buf, size_t size)
{
    long limit = command_timeout();
    if (limit < 0)
        return -1;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    int own_group = !have_terminal();
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    pid_t pid;
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    int e = posix_spawn_file_actions_init(&fa);
    if (e == 0 && (e = posix_spawnattr_init(&attr)) != 0)
        posix_spawn_file_actions_destroy(&fa);
    if (e == 0) {
        e = posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
        if (e == 0 && own_group && (e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP)) == 0)
            e = posix_spawnattr_setpgroup(&attr, 0);
        if (e == 0)
            e = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
    }
    close(p[1]);
    if (e != 0) {
        close(p[0]);
        fprintf(stderr, "vmrp: VMRP_PASSPHRASE_COMMAND: cannot run /bin/sh: %s\n", strerror(e));
        return -1;
    }
    double deadline = limit ? now_s() + (double)limit : 0;
    int rc = read_line(p[0], buf, size, deadline);
    /* Drain the rest so the command is not killed by SIGPIPE mid-way. */
    char sink[256];
    ssize_t r = 1;
    while (rc != -3 && r != 0) {
        if (deadline > 0 && wait_readable(p[0], deadline) != 0)
            rc = -3;
        else if ((r = read(p[0], sink, sizeof sink)) < 0 && errno != EINTR)
            r = 0;
    }
    sodium_memzero(sink, sizeof sink);
    close(p[0]);
    int status = rc == -3 ? -3 : wait_exit(pid, deadline);
    if (status == -3) {
        kill(own_group ? -pid : pid, SIGKILL);
        wait_exit(pid, 0);
        fprintf(stderr, "vmrp: VMRP_PASSPHRASE_COMMAND did not finish within %ld s and was "
                        "stopped (VMRP_PASSPHRASE_TIMEOUT sets the limit)\n", limit);
    }
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
    int rc = read_line(fd, buf, size, 0) == 0 ? 0 : -1;
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
