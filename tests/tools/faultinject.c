/* faultinject.so - make the Nth write or fsync of a process fail, or the
 * reads of chosen bytes of a file, for crash-safety and read-error tests
 * (LD_PRELOAD=faultinject.so).
 *
 *   VMRP_FAULT_WRITE=N   the Nth write()/pwrite() to a descriptor above 2
 *                        fails, and so does every later one (a full disk
 *                        stays full)
 *   VMRP_FAULT_FSYNC=N   the Nth fsync()/fdatasync() fails
 *   VMRP_FAULT_ERRNO=E   errno of the failures: ENOSPC (default) or EIO
 *   VMRP_FAULT_NO_TMPFILE=1  open() with O_TMPFILE fails with EOPNOTSUPP,
 *                        as on a file system without it
 *   VMRP_FAULT_READ_FILE=PATH  reads of this file (any descriptor open on
 *                        it) that touch the bytes of VMRP_FAULT_READ_AT
 *                        go wrong, the way VMRP_FAULT_READ says
 *   VMRP_FAULT_READ_AT=OFF[+LEN]  the bytes (LEN default 1); a negative OFF
 *                        counts from the end of the file
 *   VMRP_FAULT_READ=MODE EIO (default): such a read fails with EIO, every
 *                        time, as a bad sector does; SHORT: it returns at
 *                        most half the bytes asked for (at least one);
 *                        EINTR: every other such read fails with EINTR.
 *                        SHORT and EINTR are legal answers of the kernel:
 *                        a correct program gives the same result with them
 *   VMRP_FAULT_CREATES=FILE  append one line per open()/openat() that may
 *                        create a file (O_CREAT, not O_TMPFILE) to FILE:
 *                          EXCL|- NOFOLLOW|- MODE PATH
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
 * At exit, the number of writes, fsyncs, refused O_TMPFILE opens and
 * faulted reads seen is appended to the file named by VMRP_FAULT_COUNT, so
 * a test knows how many points to try.
 */
#define _GNU_SOURCE
/* The shim defines libc's own symbols, each under its name: open and open64,
 * pread and pread64, pwrite and pwrite64. With _FILE_OFFSET_BITS=64 (which
 * every build passes, so that vmrp calls the 64-bit names), the headers
 * would declare the short names as the 64-bit ones instead. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long writes, syncs, tmpfiles_refused, reads_faulted;

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

/* pwrite() and pwrite64(): the same shim (a build with 64-bit off_t calls
 * the second). */
#define PWRITE_SHIM(fn)                                                                            \
    ssize_t fn(int fd, const void *buf, size_t n, off_t off)                                       \
    {                                                                                              \
        static ssize_t (*real)(int, const void *, size_t, off_t);                                  \
        if (!real)                                                                                 \
            real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, #fn);            \
        ssize_t r;                                                                                 \
        if (write_fails(fd)) {                                                                     \
            errno = fault_errno();                                                                 \
            r = -1;                                                                                \
        } else {                                                                                   \
            r = real(fd, buf, n, off);                                                             \
        }                                                                                          \
        trace("pwrite", fd, (long long)off, n, r);                                                 \
        return r;                                                                                  \
    }

PWRITE_SHIM(pwrite)
PWRITE_SHIM(pwrite64)

/* What a read of n bytes at off on fd is to do: 0 the real read, -1 fail
 * with errno set, or a shorter length to read. */
static ssize_t read_fault(int fd, size_t n, off_t off)
{
    static int have_target, eintr_turn;
    static struct stat target;
    const char *path = getenv("VMRP_FAULT_READ_FILE");
    const char *at = getenv("VMRP_FAULT_READ_AT");
    struct stat st;
    if (!path || !at || n == 0 || fd <= 2)
        return 0;
    if (!have_target) {
        if (stat(path, &target) != 0)
            return 0;
        have_target = 1;
    }
    if (fstat(fd, &st) != 0 || st.st_dev != target.st_dev || st.st_ino != target.st_ino)
        return 0;
    char *end;
    long long from = strtoll(at, &end, 10), len = *end == '+' ? strtoll(end + 1, NULL, 10) : 1;
    if (from < 0)
        from += (long long)st.st_size;
    if ((long long)off + (long long)n <= from || (long long)off >= from + len)
        return 0;
    const char *mode = getenv("VMRP_FAULT_READ");
    reads_faulted++;
    if (mode && strcmp(mode, "SHORT") == 0)
        return n / 2 > 0 ? (ssize_t)(n / 2) : 1;
    if (mode && strcmp(mode, "EINTR") == 0) {
        if (!(eintr_turn ^= 1))
            return 0;
        errno = EINTR;
        return -1;
    }
    errno = EIO;
    return -1;
}

/* pread() and pread64(): the same shim. */
#define PREAD_SHIM(fn)                                                                             \
    ssize_t fn(int fd, void *buf, size_t n, off_t off)                                             \
    {                                                                                              \
        static ssize_t (*real)(int, void *, size_t, off_t);                                        \
        if (!real)                                                                                 \
            real = (ssize_t(*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, #fn);                  \
        ssize_t fault = read_fault(fd, n, off);                                                    \
        return fault < 0 ? -1 : real(fd, buf, fault > 0 ? (size_t)fault : n, off);                \
    }

PREAD_SHIM(pread)
PREAD_SHIM(pread64)

ssize_t read(int fd, void *buf, size_t n)
{
    static ssize_t (*real)(int, void *, size_t);
    if (!real)
        real = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    off_t pos = fd > 2 ? lseek(fd, 0, SEEK_CUR) : -1; /* -1: a pipe, never faulted */
    ssize_t fault = pos < 0 ? 0 : read_fault(fd, n, pos);
    return fault < 0 ? -1 : real(fd, buf, fault > 0 ? (size_t)fault : n);
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

/* Log a creating open for VMRP_FAULT_CREATES (stdio's own opens do not
 * come through these shims). */
static void log_create(const char *path, int flags, mode_t mode)
{
    const char *log = getenv("VMRP_FAULT_CREATES");
    if (!log || !(flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
        return;
    FILE *f = fopen(log, "a");
    if (f) {
        fprintf(f, "%s %s %04o %s\n", flags & O_EXCL ? "EXCL" : "-",
                flags & O_NOFOLLOW ? "NOFOLLOW" : "-", (unsigned)mode, path);
        fclose(f);
    }
}

/* Refuse an O_TMPFILE open when asked to, else make the real call. */
static int open_with(const char *name, int dirfd, const char *path, int flags, mode_t mode)
{
    if ((flags & O_TMPFILE) == O_TMPFILE && env_long("VMRP_FAULT_NO_TMPFILE") > 0) {
        tmpfiles_refused++;
        errno = EOPNOTSUPP;
        return -1;
    }
    log_create(path, flags, mode);
    if (strncmp(name, "openat", 6) == 0) {
        int (*real)(int, const char *, int, ...) =
            (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, name);
        return real(dirfd, path, flags, mode);
    }
    int (*real)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, name);
    return real(path, flags, mode);
}

/* The mode argument, read only when the flags say it was given. */
#define OPEN_MODE(flags, last, mode)                                                               \
    do {                                                                                           \
        if ((flags) & (O_CREAT | O_TMPFILE)) {                                                     \
            va_list ap;                                                                            \
            va_start(ap, last);                                                                    \
            mode = va_arg(ap, mode_t);                                                             \
            va_end(ap);                                                                            \
        }                                                                                          \
    } while (0)

/* open() and open64(), openat() and openat64(): the same shims. */
#define OPEN_SHIM(fn)                                                                              \
    int fn(const char *path, int flags, ...)                                                       \
    {                                                                                              \
        mode_t mode = 0;                                                                           \
        OPEN_MODE(flags, flags, mode);                                                             \
        return open_with(#fn, AT_FDCWD, path, flags, mode);                                        \
    }
#define OPENAT_SHIM(fn)                                                                            \
    int fn(int dirfd, const char *path, int flags, ...)                                            \
    {                                                                                              \
        mode_t mode = 0;                                                                           \
        OPEN_MODE(flags, flags, mode);                                                             \
        return open_with(#fn, dirfd, path, flags, mode);                                           \
    }

OPEN_SHIM(open)
OPEN_SHIM(open64)
OPENAT_SHIM(openat)
OPENAT_SHIM(openat64)

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("VMRP_FAULT_COUNT");
    if (!path)
        return;
    FILE *f = fopen(path, "a");
    if (f) {
        fprintf(f, "%ld %ld %ld %ld\n", writes, syncs, tmpfiles_refused, reads_faulted);
        fclose(f);
    }
}
