/* faultinject.so - make the Nth write of a process fail, for crash-safety
 * tests (LD_PRELOAD=faultinject.so).
 *
 *   VMRP_FAULT_WRITE=N   the Nth write()/pwrite() to a descriptor above 2
 *                        fails, and so does every later one (a full disk
 *                        stays full)
 *   VMRP_FAULT_FSYNC=N   the Nth fsync()/fdatasync() fails
 *   VMRP_FAULT_ERRNO=E   errno of the failures: ENOSPC (default) or EIO
 *   VMRP_FAULT_NO_TMPFILE=1  open() with O_TMPFILE fails with EOPNOTSUPP,
 *                        as on a file system without it
 *   VMRP_FAULT_TRACE=FILE  append one line per write(), pwrite(), fsync()
 *                        and fdatasync() on a descriptor above 2 to FILE, in
 *                        the order the calls return:
 *                          OP FD OFFSET LENGTH RESULT PATH
 *                        OFFSET is where the bytes go (-1 when the
 *                        descriptor has no position; 0 for the syncs),
 *                        LENGTH the bytes asked for, RESULT what the call
 *                        returned, PATH the descriptor's /proc/self/fd link
 *                        (so a test tells the archive from temporary files)
 *
 * At exit, the number of writes, fsyncs and refused O_TMPFILE opens seen
 * is appended to the file named by VMRP_FAULT_COUNT, so a test knows how
 * many points to try.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long writes, syncs, tmpfiles_refused;

/* Where the bytes of a write() on fd will go: its position, or the end of
 * the file when it was opened with O_APPEND. */
static long long write_offset(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    struct stat st;
    if (fl >= 0 && (fl & O_APPEND))
        return fstat(fd, &st) == 0 ? (long long)st.st_size : -1;
    return (long long)lseek(fd, 0, SEEK_CUR);
}

static int tracing(void)
{
    const char *path = getenv("VMRP_FAULT_TRACE");
    return path && *path;
}

/* One line of VMRP_FAULT_TRACE, written with one real write() to the file
 * opened in append mode, so lines of several threads do not mix. errno is
 * kept as the traced call left it. */
static void trace(const char *op, int fd, long long off, size_t len, long long result)
{
    static ssize_t (*real_write)(int, const void *, size_t);
    if (!tracing() || fd <= 2)
        return;
    int saved = errno;
    if (!real_write)
        real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    char link[64], target[4096], line[4096 + 128];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    int size = snprintf(line, sizeof line, "%s %d %lld %zu %lld %s\n", op, fd, off, len, result,
                        n > 0 ? target : "?");
    int out = open(getenv("VMRP_FAULT_TRACE"), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (out >= 0) {
        if (size > (int)sizeof line - 1)
            size = (int)sizeof line - 1;
        (void)real_write(out, line, (size_t)size);
        close(out);
    }
    errno = saved;
}

static long env_long(const char *name)
{
    const char *v = getenv(name);
    return v ? strtol(v, NULL, 10) : 0;
}

static int fault_errno(void)
{
    const char *v = getenv("VMRP_FAULT_ERRNO");
    return v && strcmp(v, "EIO") == 0 ? EIO : ENOSPC;
}

static int write_fails(int fd)
{
    if (fd <= 2)
        return 0;
    long at = env_long("VMRP_FAULT_WRITE");
    return ++writes >= at && at > 0;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (!real)
        real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    long long at = fd > 2 && tracing() ? write_offset(fd) : -1;
    ssize_t r;
    if (write_fails(fd)) {
        errno = fault_errno();
        r = -1;
    } else {
        r = real(fd, buf, n);
    }
    trace("write", fd, at, n, r);
    return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (!real)
        real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    ssize_t r;
    if (write_fails(fd)) {
        errno = fault_errno();
        r = -1;
    } else {
        r = real(fd, buf, n, off);
    }
    trace("pwrite", fd, (long long)off, n, r);
    return r;
}

static int sync_fails(void)
{
    long at = env_long("VMRP_FAULT_FSYNC");
    return ++syncs == at && at > 0;
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int r;
    if (sync_fails()) {
        errno = fault_errno();
        r = -1;
    } else {
        r = real(fd);
    }
    trace("fsync", fd, 0, 0, r);
    return r;
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int r;
    if (sync_fails()) {
        errno = fault_errno();
        r = -1;
    } else {
        r = real(fd);
    }
    trace("fdatasync", fd, 0, 0, r);
    return r;
}

/* Refuse an O_TMPFILE open when asked to, else make the real call. */
static int open_with(const char *name, const char *path, int flags, mode_t mode)
{
    int (*real)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, name);
    if ((flags & O_TMPFILE) == O_TMPFILE && env_long("VMRP_FAULT_NO_TMPFILE") > 0) {
        tmpfiles_refused++;
        errno = EOPNOTSUPP;
        return -1;
    }
    return real(path, flags, mode);
}

/* open() and open64(): the same shim; the mode is read only when given. */
#define OPEN_SHIM(fn)                                                                              \
    int fn(const char *path, int flags, ...)                                                       \
    {                                                                                              \
        mode_t mode = 0;                                                                           \
        if (flags & (O_CREAT | O_TMPFILE)) {                                                       \
            va_list ap;                                                                            \
            va_start(ap, flags);                                                                   \
            mode = va_arg(ap, mode_t);                                                             \
            va_end(ap);                                                                            \
        }                                                                                          \
        return open_with(#fn, path, flags, mode);                                                  \
    }

OPEN_SHIM(open)
OPEN_SHIM(open64)

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("VMRP_FAULT_COUNT");
    if (!path)
        return;
    FILE *f = fopen(path, "a");
    if (f) {
        fprintf(f, "%ld %ld %ld\n", writes, syncs, tmpfiles_refused);
        fclose(f);
    }
}
