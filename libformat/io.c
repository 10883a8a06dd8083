/* io.c - whole reads and writes, locking, disk geometry, and unnamed temporary files. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Archives and disks pass 2 GiB: every build has a 64-bit off_t (the Makefile
 * passes -D_FILE_OFFSET_BITS=64, which 32-bit systems need). */
_Static_assert(sizeof(off_t) == 8, "off_t must be 64 bits: compile with -D_FILE_OFFSET_BITS=64");

#include "vmrp_private.h"

int io_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -ENODATA; /* end of file before len bytes */
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

int io_read_full(int fd, void *buf, size_t len, size_t *got)
{
    unsigned char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, p + done, len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *got = done;
            return -errno;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *got = done;
    return 0;
}

int io_write_full(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int io_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

/* A verifier's look at the lock (io_writer_active) holds it for two system
 * calls; a writer that meets it tries again for up to LOCK_PATIENCE_MS
 * before it reports another writer. */
#define LOCK_PATIENCE_MS 200

int io_lock_exclusive(int fd)
{
    for (int waited = 0;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK || waited >= LOCK_PATIENCE_MS)
            return -errno;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        waited++;
    }
}

int io_writer_active(int fd, uint64_t seen)
{
    /* A writer that finished after the bytes were read has released the
     * lock, but it left the file longer than what was read. */
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size != seen)
        return 1;
    while (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        return errno == EWOULDBLOCK; /* a writer holds it; else no lock here (a pipe) */
    }
    flock(fd, LOCK_UN);
    return 0;
}

int io_sync(int fd)
{
    return fsync(fd) == 0 ? 0 : -errno;
}

void io_parent_dir(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, cap, ".");
    else if (slash == path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

int io_sync_parent(const char *path)
{
    /* A new file's name is durable only once its directory is flushed. */
    char dir[4096];
    io_parent_dir(path, dir, sizeof dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc == -EINVAL ? 0 : rc; /* some file systems cannot sync a directory */
}

int io_file_size(int fd, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    *size = (uint64_t)st.st_size;
    return 0;
}

int io_disk_geometry(int fd, uint64_t *size, uint32_t *sector_size, int *is_blockdev)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    *sector_size = 512;
    *is_blockdev = 0;
    if (S_ISBLK(st.st_mode)) {
        uint64_t bytes = 0;
        int ssz = 0;
        if (ioctl(fd, BLKGETSIZE64, &bytes) != 0)
            return -errno;
        if (ioctl(fd, BLKSSZGET, &ssz) == 0 && ssz >= 512 && ssz <= 65536)
            *sector_size = (uint32_t)ssz;
        *size = bytes;
        *is_blockdev = 1;
        return 0;
    }
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    *size = (uint64_t)st.st_size;
    return 0;
}

int io_next_data(int fd, uint64_t off, uint64_t size, uint64_t *data_start, uint64_t *data_end)
{
    if (off >= size)
        return 1;
    off_t d = lseek(fd, (off_t)off, SEEK_DATA);
    if (d < 0) {
        if (errno == ENXIO)
            return 1; /* only a hole remains */
        *data_start = off; /* SEEK_DATA unsupported: read everything */
        *data_end = size;
        return 0;
    }
    if ((uint64_t)d >= size)
        return 1;
    off_t h = lseek(fd, d, SEEK_HOLE);
    *data_start = (uint64_t)d;
    *data_end = (h < 0 || (uint64_t)h > size) ? size : (uint64_t)h;
    return 0;
}

void io_start_writeback(int fd, uint64_t off, size_t len)
{
#ifdef SYNC_FILE_RANGE_WRITE
    /* A hint: the device writes while the next blocks are decoded, so the
     * caller's fsync at the end waits for less. Errors surface there. */
    (void)sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd;
    (void)off;
    (void)len;
#endif
}

const char *io_tmp_dir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

/* No O_TMPFILE file can be made there (the file system or kernel lacks it),
 * or none may: try elsewhere. */
static int try_elsewhere(int err)
{
    return err == EOPNOTSUPP || err == EISDIR || err == EINVAL || err == EACCES || err == EPERM ||
           err == EROFS;
}

static int set_dir(char **dir, const char *to)
{
    char *copy = strdup(to);
    if (!copy)
        return -ENOMEM;
    free(*dir);
    *dir = copy;
    return 0;
}

int io_tmpfile(char **dir)
{
    int fd = open(*dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || !try_elsewhere(errno))
        return fd >= 0 ? fd : -errno;
    if (strcmp(*dir, io_tmp_dir()) != 0) {
        int rc = set_dir(dir, io_tmp_dir());
        if (rc)
            return rc;
        fd = open(*dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0 || !try_elsewhere(errno))
            return fd >= 0 ? fd : -errno;
    }
    size_t n = strlen(*dir) + sizeof "/vmrp-tmp.XXXXXX";
    char *name = malloc(n);
    if (!name)
        return -ENOMEM;
    snprintf(name, n, "%s/vmrp-tmp.XXXXXX", *dir);
    fd = mkostemp(name, O_CLOEXEC);
    int rc = fd >= 0 ? 0 : -errno;
    if (fd >= 0)
        (void)unlink(name);
    free(name);
    return fd >= 0 ? fd : rc;
}

int io_temp_beside(const char *path, mode_t mode, char *name, size_t cap)
{
    /* A random name, created only if nothing (not even a dangling symbolic
     * link) has it: someone who may create files in that directory cannot
     * make the writer open a file of their choice. */
    for (int tries = 0; tries < 100; tries++) {
        unsigned char r[6];
        randombytes_buf(r, sizeof r);
        int n = snprintf(name, cap, "%s.tmp.%02x%02x%02x%02x%02x%02x", path, r[0], r[1], r[2],
                         r[3], r[4], r[5]);
        if (n < 0 || (size_t)n >= cap)
            return -ENAMETOOLONG;
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd >= 0 || errno != EEXIST)
            return fd >= 0 ? fd : -errno;
    }
    return -EEXIST;
}
