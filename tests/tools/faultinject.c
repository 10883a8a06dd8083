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
 *
 * At exit, the number of writes, fsyncs, refused O_TMPFILE opens and
 * faulted reads seen is appended to the file named by VMRP_FAULT_COUNT, so
 * a test knows how many points to try.
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

static long writes, syncs, tmpfiles_refused, reads_faulted;

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
    if (write_fails(fd)) {
        errno = fault_errno();
        return -1;
    }
    return real(fd, buf, n);
}

/* pwrite() and pwrite64(): the same shim (a build with 64-bit off_t calls
 * the second). */
#define PWRITE_SHIM(fn)                                                                            \
    ssize_t fn(int fd, const void *buf, size_t n, off_t off)                                       \
    {                                                                                              \
        static ssize_t (*real)(int, const void *, size_t, off_t);                                  \
        if (!real)                                                                                 \
            real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, #fn);            \
        if (write_fails(fd)) {                                                                     \
            errno = fault_errno();                                                                 \
            return -1;                                                                             \
        }                                                                                          \
        return real(fd, buf, n, off);                                                              \
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
    if (sync_fails()) {
        errno = fault_errno();
        return -1;
    }
    return real(fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    if (sync_fails()) {
        errno = fault_errno();
        return -1;
    }
    return real(fd);
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
        fprintf(f, "%ld %ld %ld %ld\n", writes, syncs, tmpfiles_refused, reads_faulted);
        fclose(f);
    }
}
