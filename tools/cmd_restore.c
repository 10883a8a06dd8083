/* cmd_restore.c - vmrp restore: one disk, a whole VM to a directory, or a
 * whole VM as one tar. Files are written under a temporary name and renamed
 * only once complete; nothing existing is replaced without --force, and
 * only a regular file is replaced at all.
 *
 * Modes (vmrp-restore(1), FILE MODES): a temporary file is created 0600, so
 * no one else can read it while it fills; just before the rename it gets
 * its final mode: the stored permission bits of a config file, 0666 for an
 * image, vm.json or a tar, less the umask, never a set-id or sticky bit,
 * and from an encrypted archive without group or other bits. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "tar_output.h"

const char restore_usage[] =
    "usage: vmrp restore ARCHIVE [--point POINT] --disk NAME --output PATH|-  (one disk)\n"
    "       vmrp restore ARCHIVE [--point POINT] --output DIR                 (whole VM)\n"
    "       vmrp restore ARCHIVE [--point POINT] --output FILE.tar[.gz|.zst|.xz]\n"
    "                                                         (whole VM as a tar)\n\n"
    "POINT is a point's name, its sequence number (1 = first) or 'latest' (default).\n"
    "A disk goes to a sparse file, a block device, or stdout ('-'). A whole VM is\n"
    "written as DIR/vm.json, DIR/config/..., DIR/disks/NAME.img. Every record is\n"
    "checked against the archive's hashes before its data is written.\n"
    "Without --disk, an output named like a file (r.img, vm.json, x.zip, ...) that\n"
    "does not exist is refused; end DIR with '/' to use such a name for a directory.\n"
    "Files are written 0600 and get their mode when complete: a config file's\n"
    "stored bits, 0666 otherwise, less the umask; from an encrypted archive, no\n"
    "group or other bits (see vmrp-restore(1)).\n\n"
    "  --pubkey KEY  refuse the archive unless every commit is signed by this key\n"
    "  --identity KEY  open an encrypted archive with this encryption secret key;\n"
    "                else a passphrase comes from VMRP_PASSPHRASE, _FILE, _COMMAND\n"
    "                or a prompt (exit 4 when no key opens it)\n"
    "  --force   replace an existing regular file, write onto a block device, or\n"
    "            write into a non-empty DIR (never replaces a device, a FIFO, a\n"
    "            socket, a symbolic link or a directory)\n"
    "  --json    print a JSON summary of what was written (errors as\n"
    "            {\"ok\":false,\"error\":{...}})\n"
    "  --quiet   no progress on stderr\n";

/* One file written, for --json. */
typedef struct {
    char *path;
    const char *type; /* "vmJson", "config", "disk" */
    char *disk;
    uint64_t size;
    int mode; /* -1: not set (a block device) */
} written_file;

typedef struct {
    vmrp_reader *r;
    uint32_t index;
    int force;
    int private_modes; /* encrypted archive: no group or other bits */
    mode_t umask_bits;
    cli_progress *prog;
    written_file *files;
    size_t nfiles, capfiles;
} job;

static void note_file(job *j, const char *path, const char *type, const char *disk,
                      uint64_t size, int mode)
{
    if (j->nfiles == j->capfiles) {
        size_t cap = j->capfiles ? 2 * j->capfiles : 16;
        written_file *bigger = realloc(j->files, cap * sizeof *bigger);
        if (!bigger)
            return; /* the summary misses a line; the restore is not failed for it */
        j->files = bigger;
        j->capfiles = cap;
    }
    written_file *w = &j->files[j->nfiles];
    w->path = strdup(path);
    w->disk = disk ? strdup(disk) : NULL;
    if (!w->path) {
        free(w->disk);
        return;
    }
    w->type = type;
    w->size = size;
    w->mode = mode;
    j->nfiles++;
}

static void tar_member(void *ctx, const char *name, const char *type, const char *disk,
                       uint64_t size, unsigned mode)
{
    note_file(ctx, name, type, disk, size, (int)mode);
}

/* The final mode of a restored file whose stored bits are `stored` (0666
 * for images, vm.json and tars). */
static mode_t file_mode(const job *j, uint32_t stored)
{
    mode_t m = (mode_t)(stored & 0777) & ~j->umask_bits;
    return j->private_modes ? m & 0700 : m;
}

/* Directories are created with this, less the umask. */
static mode_t dir_mode(const job *j)
{
    return j->private_modes ? 0700 : 0777;
}

/* Create "<dirfd>/.<name>.vmrp-tmp.PID.N" beside the target, mode 0600. */
static int temp_beside(int dirfd, const char *name, char *tmp, size_t tmplen)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmp, tmplen, ".%s.vmrp-tmp.%ld.%d", name, (long)getpid(), attempt);
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

/* What is at `name` may be replaced: nothing, or (with --force) a regular
 * file. Anything else (a device, a FIFO, a socket, a symbolic link, a
 * directory) is refused, --force or not. */
static int check_target(const job *j, int dirfd, const char *shown, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return EXIT_OK;
        cli_error("restore", "%s: %s", shown, strerror(errno));
        return EXIT_RUNTIME;
    }
    if (!S_ISREG(st.st_mode)) {
        cli_error("restore", "%s is %s; restore replaces only a regular file, even with --force",
                  shown, cli_file_kind(st.st_mode));
        return EXIT_RUNTIME;
    }
    if (!j->force) {
        cli_error("restore", "%s exists; use --force to replace it", shown);
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

/* Rename the complete temporary file to name. Without --force, a file that
 * appeared meanwhile is not replaced (RENAME_NOREPLACE, or a hard link
 * where the file system has no such rename); with it, what is there is
 * checked again, since a long restore leaves time for it to change. */
static int put_in_place(const job *j, int dirfd, const char *tmp, const char *shown,
                        const char *name)
{
    if (!j->force) {
        if (renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) == 0)
            return EXIT_OK;
        if (errno == EINVAL || errno == ENOSYS) {
            if (linkat(dirfd, tmp, dirfd, name, 0) == 0) {
                unlinkat(dirfd, tmp, 0);
                return EXIT_OK;
            }
        }
        if (errno == EEXIST) {
            cli_error("restore", "%s exists; use --force to replace it", shown);
            return EXIT_RUNTIME;
        }
        if (errno != EPERM && errno != EOPNOTSUPP && errno != EINVAL && errno != ENOSYS) {
            cli_error("restore", "%s: cannot rename into place: %s", shown, strerror(errno));
            return EXIT_RUNTIME;
        }
    }
    int status = check_target(j, dirfd, shown, name);
    if (status != EXIT_OK)
        return status;
    if (renameat(dirfd, tmp, dirfd, name) != 0) {
        cli_error("restore", "%s: cannot rename into place: %s", shown, strerror(errno));
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

/* The temporary file being filled, removed by a signal that ends the
 * restore (Ctrl-C, kill, a closed terminal): nothing half-written is left
 * under any name. Only async-signal-safe calls in the handler. */
static char filling_name[512];
static volatile sig_atomic_t filling_dirfd = -1;

static void remove_filling(int sig)
{
    if (filling_dirfd >= 0)
        unlinkat(filling_dirfd, filling_name, 0);
    signal(sig, SIG_DFL);
    raise(sig);
}

static const int ending_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
#define ENDING_SIGNALS (sizeof ending_signals / sizeof ending_signals[0])

/* Set (tmp) or clear (NULL) the file the handler removes. The handler is
 * installed for the signals not ignored when vmrp started (a background
 * job keeps ignoring SIGINT). */
static void track_filling(int dirfd, const char *tmp)
{
    static int installed;
    if (!installed) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = remove_filling;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < ENDING_SIGNALS; i++)
            sigaddset(&sa.sa_mask, ending_signals[i]);
        for (size_t i = 0; i < ENDING_SIGNALS; i++)
            if (sigaction(ending_signals[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
                sigaction(ending_signals[i], &sa, NULL);
        installed = 1;
    }
    filling_dirfd = -1;
    if (tmp) {
        snprintf(filling_name, sizeof filling_name, "%s", tmp);
        filling_dirfd = dirfd;
    }
}

/* The temporary file beside name, created and tracked with the ending
 * signals held, so that none comes between the two. */
static int tracked_temp_beside(int dirfd, const char *name, char *tmp, size_t tmplen)
{
    sigset_t block, old;
    sigemptyset(&block);
    for (size_t i = 0; i < ENDING_SIGNALS; i++)
        sigaddset(&block, ending_signals[i]);
    sigprocmask(SIG_BLOCK, &block, &old);
    int fd = temp_beside(dirfd, name, tmp, tmplen);
    int saved = errno;
    if (fd >= 0)
        track_filling(dirfd, tmp);
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return fd;
}

/* Write one output file atomically in dirfd: fill() writes the content to
 * the temporary descriptor; it gets `mode` and is renamed to name only when
 * complete. */
typedef int (*fill_fn)(job *j, int fd, const void *arg, char *err, size_t errlen);

static int write_atomic(job *j, int dirfd, const char *shown, const char *name, mode_t mode,
                        fill_fn fill, const void *arg)
{
    char tmp[512], err[600] = "";
    int status = check_target(j, dirfd, shown, name);
    if (status != EXIT_OK)
        return status;
    int fd = tracked_temp_beside(dirfd, name, tmp, sizeof tmp);
    if (fd < 0) {
        cli_error("restore", "%s: cannot create a temporary file: %s", shown, strerror(errno));
        return EXIT_RUNTIME;
    }
    int rc = fill(j, fd, arg, err, sizeof err);
    if (rc == VMRP_OK && (fchmod(fd, mode) != 0 || fsync(fd) != 0)) {
        snprintf(err, sizeof err, "%s", strerror(errno));
        rc = VMRP_E_IO;
    }
    if (close(fd) != 0 && rc == VMRP_OK) {
        snprintf(err, sizeof err, "%s", strerror(errno));
        rc = VMRP_E_IO;
    }
    if (rc != VMRP_OK) {
        track_filling(-1, NULL);
        unlinkat(dirfd, tmp, 0);
        cli_error("restore", "%s: %s", shown, err);
        return cli_exit_code(rc);
    }
    status = put_in_place(j, dirfd, tmp, shown, name);
    if (status != EXIT_OK)
        unlinkat(dirfd, tmp, 0);
    track_filling(-1, NULL);
    return status;
}

static int fill_disk(job *j, int fd, const void *arg, char *err, size_t errlen)
{
    char item[96];
    snprintf(item, sizeof item, "disk %s", (const char *)arg);
    if (j->prog)
        cli_progress_item(j->prog, item);
    int rc = vmrp_reader_restore_disk(j->r, j->index, arg, fd, VMRP_RESTORE_SPARSE);
    if (rc)
        snprintf(err, errlen, "%s", vmrp_reader_error_string(j->r));
    return rc;
}

typedef struct {
    const void *data;
    size_t size;
} bytes;

static int fill_bytes(job *j, int fd, const void *arg, char *err, size_t errlen)
{
    (void)j;
    const bytes *b = arg;
    size_t done = 0;
    while (done < b->size) {
        ssize_t n = write(fd, (const char *)b->data + done, b->size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "write error: %s", strerror(errno));
            return VMRP_E_IO;
        }
        done += (size_t)n;
    }
    return VMRP_OK;
}

static int fill_tar(job *j, int fd, const void *arg, char *err, size_t errlen)
{
    return tar_write_point(j->r, j->index, fd, arg, err, errlen);
}

/* Split "dir/base" and open dir (relative to cwd). */
static int open_parent(const char *path, char *base, size_t baselen)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(base, baselen, "%s", path);
        return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    snprintf(base, baselen, "%s", slash + 1);
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path) ? (int)(slash - path) : 1, path);
    return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* A descriptor for writing to the block device that pfd (an O_PATH
 * descriptor) holds, opened through pfd itself, so that what was checked is
 * what is written: a path looked up twice could name something else the
 * second time. Without /proc, the path is opened again (never waiting on a
 * FIFO) and must be the same device. */
static int open_device(int pfd, const char *path, const struct stat *want)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
    int fd = open(proc, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && errno == ENOENT)
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct stat st;
    int flags = fcntl(fd, F_GETFL);
    if (fstat(fd, &st) != 0 || flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        close(fd);
        return -1;
    }
    if (!S_ISBLK(st.st_mode) || st.st_rdev != want->st_rdev) {
        close(fd);
        errno = ESTALE;
        return -1;
    }
    return fd;
}

static int restore_to_device(job *j, const char *disk, const char *out, int pfd,
                             const struct stat *st)
{
    if (!j->force) {
        cli_error("restore", "%s is a block device; use --force to overwrite it", out);
        return EXIT_RUNTIME;
    }
    int fd = open_device(pfd, out, st);
    if (fd < 0) {
        if (errno == ESTALE)
            cli_error("restore", "%s: changed while it was opened (no longer the block device "
                                 "it was); nothing was written", out);
        else
            cli_error("restore", "%s: %s", out, strerror(errno));
        return EXIT_RUNTIME;
    }
    off_t capacity = lseek(fd, 0, SEEK_END);
    const vmrp_point_info *p = vmrp_reader_point(j->r, j->index);
    uint64_t size = 0;
    for (uint32_t d = 0; d < p->disk_count; d++)
        if (strcmp(p->disks[d].name, disk) == 0) {
            size = p->disks[d].size_bytes;
            if (capacity >= 0 && (uint64_t)capacity < size) {
                cli_error("restore", "%s holds %lld bytes; disk %s needs %llu", out,
                          (long long)capacity, disk, (unsigned long long)size);
                close(fd);
                return EXIT_RUNTIME;
            }
        }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        cli_error("restore", "%s: %s", out, strerror(errno));
        close(fd);
        return EXIT_RUNTIME;
    }
    int rc = vmrp_reader_restore_disk(j->r, j->index, disk, fd, 0);
    if (rc == VMRP_OK && fsync(fd) != 0)
        rc = VMRP_E_IO;
    close(fd);
    if (rc) {
        cli_error("restore", "%s: %s", out, vmrp_reader_error_string(j->r));
        return cli_exit_code(rc);
    }
    note_file(j, out, "disk", disk, size, -1);
    return EXIT_OK;
}

static int restore_one_disk(job *j, const char *disk, const char *out)
{
    if (strcmp(out, "-") == 0) {
        if (isatty(STDOUT_FILENO))
            return cli_usage_error("restore", "refusing to write a disk image to a terminal");
        int rc = vmrp_reader_restore_disk(j->r, j->index, disk, STDOUT_FILENO, 0);
        if (rc)
            cli_error("restore", "%s", vmrp_reader_error_string(j->r));
        return cli_exit_code(rc);
    }
    /* One lookup, following links (/dev/vg0/lv is one), decides whether
     * this is a block device; everything after uses that descriptor. */
    int pfd = open(out, O_PATH | O_CLOEXEC);
    struct stat st;
    if (pfd >= 0 && fstat(pfd, &st) == 0 && S_ISBLK(st.st_mode)) {
        int status = restore_to_device(j, disk, out, pfd, &st);
        close(pfd);
        return status;
    }
    if (pfd >= 0)
        close(pfd);
    char base[1024];
    int dirfd = open_parent(out, base, sizeof base);
    if (dirfd < 0) {
        cli_error("restore", "%s: cannot open its directory: %s", out, strerror(errno));
        return EXIT_RUNTIME;
    }
    if (!*base) {
        close(dirfd);
        return cli_usage_error("restore", "--output %s names a directory; with --disk it names "
                                          "the image file", out);
    }
    const vmrp_point_info *p = vmrp_reader_point(j->r, j->index);
    uint64_t size = 0;
    for (uint32_t d = 0; d < p->disk_count; d++)
        if (strcmp(p->disks[d].name, disk) == 0)
            size = p->disks[d].size_bytes;
    mode_t mode = file_mode(j, 0666);
    int status = write_atomic(j, dirfd, out, base, mode, fill_disk, disk);
    close(dirfd);
    if (status == EXIT_OK)
        note_file(j, out, "disk", disk, size, (int)mode);
    return status;
}

/* Open (creating) directory `name` below dirfd without following links,
 * so names from the archive cannot lead outside the output directory. */
static int subdir(const job *j, int dirfd, const char *name)
{
    if (mkdirat(dirfd, name, dir_mode(j)) != 0 && errno != EEXIST)
        return -1;
    return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int restore_config_file(job *j, int root, uint32_t f, const char *dir_shown)
{
    const vmrp_config_file_info *fi = &vmrp_reader_point(j->r, j->index)->config_files[f];
    char path[4200], shown[4400];
    snprintf(path, sizeof path, "%s", fi->name);
    snprintf(shown, sizeof shown, "%s/config/%s", dir_shown, fi->name);
    int dirfd = subdir(j, root, "config");
    char *part = path, *slash;
    while (dirfd >= 0 && (slash = strchr(part, '/')) != NULL) {
        *slash = '\0';
        int next = subdir(j, dirfd, part);
        close(dirfd);
        dirfd = next;
        part = slash + 1;
    }
    if (dirfd < 0) {
        cli_error("restore", "%s: cannot create its directory: %s", shown, strerror(errno));
        return EXIT_RUNTIME;
    }
    void *data = NULL;
    size_t size = 0;
    int rc = vmrp_reader_read_config_file(j->r, j->index, f, &data, &size);
    int status;
    if (rc) {
        cli_error("restore", "%s", vmrp_reader_error_string(j->r));
        status = cli_exit_code(rc);
    } else {
        bytes b = {data, size};
        mode_t mode = file_mode(j, fi->mode);
        status = write_atomic(j, dirfd, shown, part, mode, fill_bytes, &b);
        if (status == EXIT_OK)
            note_file(j, shown, "config", NULL, size, (int)mode);
    }
    free(data);
    close(dirfd);
    return status;
}

static int restore_vm_dir(job *j, const char *out)
{
    if (mkdir(out, dir_mode(j)) != 0 && errno != EEXIST) {
        cli_error("restore", "%s: cannot create: %s", out, strerror(errno));
        return EXIT_RUNTIME;
    }
    int root = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
        cli_error("restore", "%s: not a directory: %s", out, strerror(errno));
        return EXIT_RUNTIME;
    }
    if (!j->force) {
        int dupfd = dup(root);
        DIR *d = dupfd >= 0 ? fdopendir(dupfd) : NULL;
        struct dirent *e;
        int empty = 1;
        while (d && (e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                empty = 0;
        if (d)
            closedir(d);
        if (!empty) {
            close(root);
            cli_error("restore", "%s is not empty; use --force to write into it", out);
            return EXIT_RUNTIME;
        }
    }
    const vmrp_point_info *p = vmrp_reader_point(j->r, j->index);
    char shown[4400];
    snprintf(shown, sizeof shown, "%s/vm.json", out);
    bytes meta = {p->source_metadata, p->source_metadata_size};
    mode_t mode = file_mode(j, 0666);
    int status = write_atomic(j, root, shown, "vm.json", mode, fill_bytes, &meta);
    if (status == EXIT_OK)
        note_file(j, shown, "vmJson", NULL, p->source_metadata_size, (int)mode);
    for (uint32_t f = 0; status == EXIT_OK && f < p->config_file_count; f++)
        status = restore_config_file(j, root, f, out);
    int disks = status == EXIT_OK ? subdir(j, root, "disks") : -1;
    if (status == EXIT_OK && disks < 0) {
        cli_error("restore", "%s/disks: %s", out, strerror(errno));
        status = EXIT_RUNTIME;
    }
    for (uint32_t d = 0; status == EXIT_OK && d < p->disk_count; d++) {
        if (p->disks[d].excluded)
            continue;
        char name[128];
        snprintf(name, sizeof name, "%s.img", p->disks[d].name);
        snprintf(shown, sizeof shown, "%s/disks/%s", out, name);
        status = write_atomic(j, disks, shown, name, mode, fill_disk, p->disks[d].name);
        if (status == EXIT_OK)
            note_file(j, shown, "disk", p->disks[d].name, p->disks[d].size_bytes, (int)mode);
    }
    if (disks >= 0)
        close(disks);
    close(root);
    return status;
}

static int restore_vm_tar(job *j, const char *out, int filter)
{
    char base[1024];
    int dirfd = open_parent(out, base, sizeof base);
    if (dirfd < 0) {
        cli_error("restore", "%s: cannot open its directory: %s", out, strerror(errno));
        return EXIT_RUNTIME;
    }
    tar_options o = {filter, j->private_modes, tar_member, j};
    int status = write_atomic(j, dirfd, out, base, file_mode(j, 0666), fill_tar, &o);
    close(dirfd);
    return status;
}

/* A name that says "file": without --disk, such an output that does not
 * exist yet is refused rather than made a directory of that name. */
static int looks_like_a_file(const char *out)
{
    static const char *const exts[] = {
        ".img",  ".raw",  ".qcow2", ".qcow", ".qed", ".vmdk", ".vdi", ".vhd",  ".vhdx", ".iso",
        ".bin",  ".json", ".xml",   ".vmrp", ".gz",  ".bz2",  ".xz",  ".zst",  ".zstd", ".lz4",
        ".lz",   ".lzma", ".zip",   ".7z",   ".tbz", ".tbz2", ".cpio"};
    size_t n = strlen(out);
    struct stat st;
    if (n == 0 || out[n - 1] == '/' || lstat(out, &st) == 0 || errno != ENOENT)
        return 0;
    const char *base = strrchr(out, '/');
    base = base ? base + 1 : out;
    if (strstr(base, ".tar."))
        return 1; /* a compressed tar of a kind not written */
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t k = strlen(exts[i]);
        if (strlen(base) > k && strcasecmp(base + strlen(base) - k, exts[i]) == 0)
            return 1;
    }
    return 0;
}

/* The disk must be in the point; if it is not, the message lists those
 * that are. */
static int check_disk(job *j, const char *archive, const char *disk)
{
    const vmrp_point_info *p = vmrp_reader_point(j->r, j->index);
    size_t len = 1;
    for (uint32_t d = 0; d < p->disk_count; d++) {
        if (strcmp(p->disks[d].name, disk) == 0)
            return EXIT_OK; /* an excluded one is reported by the library */
        len += strlen(p->disks[d].name) + 16;
    }
    char *list = malloc(len);
    if (!list) {
        cli_error("restore", "out of memory");
        return EXIT_RUNTIME;
    }
    list[0] = '\0';
    for (uint32_t d = 0; d < p->disk_count; d++) {
        strcat(list, d ? ", " : "");
        strcat(list, p->disks[d].name);
        if (p->disks[d].excluded)
            strcat(list, " (excluded)");
    }
    cli_error("restore", "%s: point %s (%u) has no disk '%s'; %s%s", archive, p->name,
              j->index + 1, disk, p->disk_count ? "its disks: " : "it has no disks",
              list);
    free(list);
    return cli_exit_code(VMRP_E_NOT_FOUND);
}

static void print_json(const job *j, const char *archive, const char *out, const char *type,
                       int filter)
{
    const vmrp_point_info *p = vmrp_reader_point(j->r, j->index);
    printf("{\"ok\":true,\"archive\":");
    json_string(stdout, archive);
    printf(",\"point\":{\"name\":");
    json_string(stdout, p->name);
    printf(",\"sequence\":%u,\"id\":", p->sequence);
    json_uuid(stdout, p->id);
    printf(",\"commitHash\":");
    json_hex(stdout, p->commit_hash, 32);
    printf("},\"encrypted\":%s,\"output\":", j->private_modes ? "true" : "false");
    json_string(stdout, out);
    printf(",\"outputType\":\"%s\",\"compression\":", type);
    if (tar_filter_name(filter))
        printf("\"%s\"", tar_filter_name(filter));
    else
        printf("null");
    printf(",\"files\":[");
    for (size_t i = 0; i < j->nfiles; i++) {
        const written_file *w = &j->files[i];
        printf(i ? ",{\"path\":" : "{\"path\":");
        json_string(stdout, w->path);
        printf(",\"type\":\"%s\"", w->type);
        if (w->disk) {
            printf(",\"disk\":");
            json_string(stdout, w->disk);
        }
        printf(",\"size\":%llu,\"mode\":", (unsigned long long)w->size);
        if (w->mode >= 0)
            printf("\"%04o\"}", (unsigned)w->mode);
        else
            printf("null}");
    }
    printf("],\"excludeDisks\":");
    json_excluded_disks(stdout, p);
    printf("}\n");
}

int cmd_restore(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"point", required_argument, 0, 'p'}, {"disk", required_argument, 0, 'd'},
        {"output", required_argument, 0, 'o'}, {"force", no_argument, 0, 'f'},
        {"quiet", no_argument, 0, 'q'},        {"help", no_argument, 0, 'h'},
        {"pubkey", required_argument, 0, 'k'}, {"identity", required_argument, 0, 'i'},
        {"json", no_argument, 0, 'j'},         {0, 0, 0, 0}};
    const char *pubkey = NULL, *identity_path = NULL;
    const char *point = "latest", *disk = NULL, *out = NULL;
    int force = 0, quiet = 0, json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            point = optarg;
            break;
        case 'd':
            disk = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'f':
            force = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'j':
            json = 1;
            break;
        case 'k':
            pubkey = optarg;
            break;
        case 'i':
            identity_path = optarg;
            break;
        case 'h':
            fputs(restore_usage, stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("restore", "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("restore", optind >= argc ? "ARCHIVE is missing" : "one ARCHIVE only");
    if (!out)
        return cli_usage_error("restore", "--output is missing");
    if (!*out)
        return cli_usage_error("restore", "--output is empty");
    int filter = disk ? 0 : tar_kind(out);
    if (!disk && strcmp(out, "-") == 0)
        return cli_usage_error("restore", "a whole VM cannot go to stdout; give --disk NAME or a DIR");
    if (json && strcmp(out, "-") == 0)
        return cli_usage_error("restore", "--json cannot share stdout with a disk image");
    if (!disk && !filter && looks_like_a_file(out))
        return cli_usage_error("restore", "--output %s looks like a file name: a whole VM is "
                               "restored to a directory, or to a .tar, .tar.gz, .tar.zst or "
                               ".tar.xz file; give --disk NAME to restore one disk (or end a "
                               "directory's name with '/')", out);
    const char *archive = argv[optind];
    vmrp_key *key, *identity;
    vmrp_reader *r;
    int status = cli_reader_new("restore", pubkey, identity_path, 1, &r, &key, &identity);
    if (status != EXIT_OK)
        return status;
    cli_progress prog;
    cli_progress_init(&prog, "restore", quiet || json);
    vmrp_reader_set_progress(r, cli_progress_cb, &prog);
    mode_t mask = umask(0);
    umask(mask);
    job j = {r, 0, force, 0, mask, &prog, NULL, 0, 0};
    int fd;
    status = cli_open_archive("restore", r, archive, &fd);
    if (status == EXIT_OK) {
        int rc = vmrp_reader_find_point(r, point, &j.index);
        if (rc != VMRP_OK) {
            cli_error("restore", "%s", vmrp_reader_error_string(r));
            status = cli_exit_code(rc);
        }
    }
    const char *type = disk ? "file" : filter ? "tar" : "directory";
    if (status == EXIT_OK) {
        j.private_modes = vmrp_reader_collection(r)->encrypted;
        if (disk) {
            status = check_disk(&j, archive, disk);
            if (status == EXIT_OK)
                status = restore_one_disk(&j, disk, out);
        } else if (filter)
            status = restore_vm_tar(&j, out, filter);
        else
            status = restore_vm_dir(&j, out);
    }
    if (disk && j.nfiles == 1 && j.files[0].mode < 0)
        type = "blockDevice";
    cli_progress_done(&prog);
    if (status == EXIT_OK && json) {
        print_json(&j, archive, out, type, filter);
    } else if (status == EXIT_OK && !quiet && strcmp(out, "-") != 0) {
        char name[1024], shown[4400];
        fprintf(stderr, "vmrp restore: point %u '%s' %s restored to %s\n", j.index + 1,
                cli_safe(vmrp_reader_point(r, j.index)->name, name, sizeof name),
                disk ? "disk" : "VM", cli_safe(out, shown, sizeof shown));
    }
    for (size_t i = 0; i < j.nfiles; i++) {
        free(j.files[i].path);
        free(j.files[i].disk);
    }
    free(j.files);
    vmrp_reader_free(r);
    if (fd >= 0)
        close(fd);
    vmrp_key_free(key);
    vmrp_key_free(identity);
    return status;
}
