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
 *
 * At exit, the number of writes, fsyncs and refused O_TMPFILE opens seen
 * is appended to the file named by VMRP_FAULT_COUNT, so a test knows how
 * many points to try.
 */
#define _GNU_SOURCE
/* The shim defines libc's own symbols, each under its name: open and open64,
 * pwrite and pwrite64. With _FILE_OFFSET_BITS=64 (which every build passes,
 * so that vmrp calls open64 and pwrite64), the headers would declare open
 * and pwrite as those 64-bit names instead. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long writes, syncs, tmpfiles_refused;

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

/* pwrite() and pwrite64(): the same shim. */
#define PWRITE_SHIM(fn, off_type)                                                                  \
    ssize_t fn(int fd, const void *buf, size_t n, off_type off)                                    \
    {                                                                                              \
        static ssize_t (*real)(int, const void *, size_t, off_type);                               \
        if (!real)                                                                                 \
            real = (ssize_t(*)(int, const void *, size_t, off_type))dlsym(RTLD_NEXT, #fn);         \
        if (write_fails(fd)) {                                                                     \
            errno = fault_errno();                                                                 \
            return -1;                                                                             \
        }                                                                                          \
        return real(fd, buf, n, off);                                                              \
    }

PWRITE_SHIM(pwrite, off_t)
PWRITE_SHIM(pwrite64, off64_t)

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
        fprintf(f, "%ld %ld %ld\n", writes, syncs, tmpfiles_refused);
        fclose(f);
    }
}
