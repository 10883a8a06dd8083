/* cmd_restore.c - vmrp restore: one disk, a whole VM to a directory, or a
 * whole VM as one tar. Files are written under a temporary name and renamed
 * only once complete; nothing existing is replaced without --force. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "tar_output.h"

const char restore_usage[] =
    "usage: vmrp restore ARCHIVE [--point POINT] --disk NAME --output PATH|-  (one disk)\n"
    "       vmrp restore ARCHIVE [--point POINT] --output DIR                 (whole VM)\n"
    "       vmrp restore ARCHIVE [--point POINT] --output FILE.tar            (whole VM as tar)\n\n"
    "POINT is a point's name, its sequence number (1 = first) or 'latest' (default).\n"
    "A disk goes to a sparse file, a block device, or stdout ('-'). A whole VM is\n"
    "written as DIR/vm.json, DIR/config/..., DIR/disks/NAME.img. Every record is\n"
    "checked against the archive's hashes before its data is written.\n\n"
    "  --pubkey KEY  refuse the archive unless every commit is signed by this key\n"
    "  --identity KEY  open an encrypted archive with this encryption secret key;\n"
    "                else a passphrase comes from VMRP_PASSPHRASE, _FILE, _COMMAND\n"
    "                or a prompt (exit 4 when no key opens it)\n"
    "  --force   replace an existing file or device, or write into a non-empty DIR\n"
    "  --quiet   no progress on stderr\n";

typedef struct {
    vmrp_reader *r;
    uint32_t index;
    int force;
    cli_progress *prog;
} job;

/* Create "<dirfd>/<name>.vmrp-tmp.XXXXXX"-style temporary beside the target. */
static int temp_beside(int dirfd, const char *name, char *tmp, size_t tmplen)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmp, tmplen, ".%s.vmrp-tmp.%ld.%d", name, (long)getpid(), attempt);
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

/* Write one output file atomically in dirfd: fill() writes the content to
 * the temporary descriptor; it is renamed to name only when complete. */
typedef int (*fill_fn)(job *j, int fd, const void *arg, char *err, size_t errlen);

static int write_atomic(job *j, int dirfd, const char *shown, const char *name, uint32_t mode,
                        fill_fn fill, const void *arg)
{
    char tmp[512], err[600] = "";
    struct stat st;
    if (!j->force && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        cli_error("restore", "%s exists; use --force to replace it", shown);
        return EXIT_RUNTIME;
    }
    int fd = temp_beside(dirfd, name, tmp, sizeof tmp);
    if (fd < 0) {
        cli_error("restore", "%s: cannot create a temporary file: %s", shown, strerror(errno));
        return EXIT_RUNTIME;
    }
    int rc = fill(j, fd, arg, err, sizeof err);
    /* Permission bits only: set-id and sticky bits from an archive are not
     * given to restored files. */
    if (rc == VMRP_OK && (fchmod(fd, mode & 0777) != 0 || fsync(fd) != 0)) {
        snprintf(err, sizeof err, "%s", strerror(errno));
        rc = VMRP_E_IO;
    }
    if (close(fd) != 0 && rc == VMRP_OK) {
        snprintf(err, sizeof err, "%s", strerror(errno));
        rc = VMRP_E_IO;
    }
    if (rc == VMRP_OK && renameat(dirfd, tmp, dirfd, name) != 0) {
        snprintf(err, sizeof err, "cannot rename into place: %s", strerror(errno));
        rc = VMRP_E_IO;
    }
    if (rc != VMRP_OK) {
        unlinkat(dirfd, tmp, 0);
        cli_error("restore", "%s: %s", shown, err);
        return cli_exit_code(rc);
    }
    return EXIT_OK;
}

static int fill_disk(job *j, int fd, const void *arg, char *err, size_t errlen)
{
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
    (void)arg;
    return tar_write_point(j->r, j->index, fd, err, errlen);
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
    struct stat st;
    if (stat(out, &st) == 0 && S_ISBLK(st.st_mode)) {
        if (!j->force) {
            cli_error("restore", "%s is a block device; use --force to overwrite it", out);
            return EXIT_RUNTIME;
        }
        int fd = open(out, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            cli_error("restore", "%s: %s", out, strerror(errno));
            return EXIT_RUNTIME;
        }
        off_t capacity = lseek(fd, 0, SEEK_END);
        const vmrp_point_info *p = vmrp_reader_point(j->r, j->index);
        for (uint32_t d = 0; d < p->disk_count; d++)
            if (strcmp(p->disks[d].name, disk) == 0 && capacity >= 0 &&
                (uint64_t)capacity < p->disks[d].size_bytes) {
                cli_error("restore", "%s holds %lld bytes; disk %s needs %llu", out,
                          (long long)capacity, disk, (unsigned long long)p->disks[d].size_bytes);
                close(fd);
                return EXIT_RUNTIME;
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
        if (rc)
            cli_error("restore", "%s: %s", out, vmrp_reader_error_string(j->r));
        return cli_exit_code(rc);
    }
    char base[1024];
    int dirfd = open_parent(out, base, sizeof base);
    if (dirfd < 0) {
        cli_error("restore", "%s: cannot open its directory: %s", out, strerror(errno));
        return EXIT_RUNTIME;
    }
    int status = write_atomic(j, dirfd, out, base, 0644, fill_disk, disk);
    close(dirfd);
    return status;
}

/* Open (creating) directory `name` below dirfd without following links,
 * so names from the archive cannot lead outside the output directory. */
static int subdir(int dirfd, const char *name)
{
    if (mkdirat(dirfd, name, 0755) != 0 && errno != EEXIST)
        return -1;
    return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int restore_config_file(job *j, int root, uint32_t f, const char *dir_shown)
{
    const vmrp_config_file_info *fi = &vmrp_reader_point(j->r, j->index)->config_files[f];
    char path[4200], shown[4400];
    snprintf(path, sizeof path, "%s", fi->name);
    snprintf(shown, sizeof shown, "%s/config/%s", dir_shown, fi->name);
    int dirfd = subdir(root, "config");
    char *part = path, *slash;
    while (dirfd >= 0 && (slash = strchr(part, '/')) != NULL) {
        *slash = '\0';
        int next = subdir(dirfd, part);
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
        status = write_atomic(j, dirfd, shown, part, fi->mode, fill_bytes, &b);
    }
    free(data);
    close(dirfd);
    return status;
}

static int restore_vm_dir(job *j, const char *out)
{
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
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
    int status = write_atomic(j, root, shown, "vm.json", 0644, fill_bytes, &meta);
    for (uint32_t f = 0; status == EXIT_OK && f < p->config_file_count; f++)
        status = restore_config_file(j, root, f, out);
    int disks = status == EXIT_OK ? subdir(root, "disks") : -1;
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
        status = write_atomic(j, disks, shown, name, 0644, fill_disk, p->disks[d].name);
    }
    if (disks >= 0)
        close(disks);
    close(root);
    return status;
}

int cmd_restore(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"point", required_argument, 0, 'p'}, {"disk", required_argument, 0, 'd'},
        {"output", required_argument, 0, 'o'}, {"force", no_argument, 0, 'f'},
        {"quiet", no_argument, 0, 'q'},        {"help", no_argument, 0, 'h'},
        {"pubkey", required_argument, 0, 'k'}, {"identity", required_argument, 0, 'i'},
        {0, 0, 0, 0}};
    const char *pubkey = NULL, *identity_path = NULL;
    const char *point = "latest", *disk = NULL, *out = NULL;
    int force = 0, quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
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
    size_t olen = strlen(out);
    int as_tar = olen > 4 && strcmp(out + olen - 4, ".tar") == 0;
    if (!disk && strcmp(out, "-") == 0)
        return cli_usage_error("restore", "a whole VM cannot go to stdout; give --disk NAME or a DIR");
    vmrp_key *key, *identity;
    vmrp_reader *r;
    int status = cli_reader_new("restore", pubkey, identity_path, 1, &r, &key, &identity);
    if (status != EXIT_OK)
        return status;
    cli_progress prog;
    cli_progress_init(&prog, "restore", quiet);
    vmrp_reader_set_progress(r, cli_progress_cb, &prog);
    job j = {r, 0, force, &prog};
    int rc = vmrp_reader_open(r, argv[optind]);
    if (rc == VMRP_OK)
        rc = vmrp_reader_find_point(r, point, &j.index);
    if (rc != VMRP_OK) {
        cli_error("restore", "%s", vmrp_reader_error_string(r));
        status = cli_exit_code(rc);
    } else if (disk) {
        status = restore_one_disk(&j, disk, out);
    } else if (as_tar) {
        char base[1024];
        int dirfd = open_parent(out, base, sizeof base);
        if (dirfd < 0) {
            cli_error("restore", "%s: cannot open its directory: %s", out, strerror(errno));
            status = EXIT_RUNTIME;
        } else {
            status = write_atomic(&j, dirfd, out, base, 0644, fill_tar, NULL);
            close(dirfd);
        }
    } else {
        status = restore_vm_dir(&j, out);
    }
    cli_progress_done(&prog);
    if (status == EXIT_OK && !quiet && strcmp(out, "-") != 0)
        fprintf(stderr, "vmrp restore: point %u '%s' %s restored to %s\n", j.index + 1,
                vmrp_reader_point(r, j.index)->name, disk ? "disk" : "VM", out);
    vmrp_reader_free(r);
    vmrp_key_free(key);
    vmrp_key_free(identity);
    return status;
}
