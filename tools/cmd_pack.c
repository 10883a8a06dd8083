/* cmd_pack.c - vmrp pack: create an archive or append a restore point. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "commands.h"
#include "config_input.h"
#include "passphrase.h"

const char pack_usage[] =
    "usage: vmrp pack ARCHIVE --disk NAME=PATH [--disk NAME=PATH ...] [--config VM.json]\n"
    "                 [--config-file PATH ...] [--name POINT] [--exclude-disk NAME ...]\n"
    "                 [--consistency crash|filesystem|application] [--block-size SIZE]\n"
    "                 [--compress zstd[:LEVEL]|zlib[:LEVEL]|none] [--max-points N]\n"
    "                 [--sign SECRET_KEY [--minisig]] [--encrypt] [--recipient PUBLIC_KEY ...]\n"
    "                 [--identity SECRET_KEY] [--pubkey PUBLIC_KEY] [--threads N]\n"
    "                 [--dedup-memory MIB] [--json] [--quiet]\n\n"
    "Creates ARCHIVE with a first, full restore point, or appends a point that stores\n"
    "only the blocks changed since the latest one. ARCHIVE '-' streams a new archive\n"
    "to stdout.\n\n"
    "  --disk NAME=PATH        a raw image file or block device (repeatable)\n"
    "  --config VM.json        the VM configuration, a JSON object (sourceMetadata)\n"
    "  --config-file PATH      a file, a directory, or an archive of files (tar, zip,\n"
    "                          cpio, ...) kept with names and modes (repeatable)\n"
    "  --name POINT            point name (default point-N)\n"
    "  --exclude-disk NAME     record the disk as excluded, store nothing (repeatable)\n"
    "  --consistency MODE      crash (default), filesystem or application\n"
    "  --block-size SIZE       4K..4M, power of two, default 64K (new archives only)\n"
    "  --compress CODEC        zstd[:1-19] (default zstd:3), zlib[:1-9] or none\n"
    "  --max-points N          point limit of a new archive, 1..65535 (default 200)\n"
    "  --sign SECRET_KEY       sign the commit with an Ed25519 key (minisign format)\n"
    "  --minisig               also write ARCHIVE.minisig, which 'minisign -V' checks\n"
    "  --pubkey PUBLIC_KEY     append only if every commit of ARCHIVE is signed by this\n"
    "                          key (exit 1 otherwise); without the key of an encrypted\n"
    "                          archive, this is what vouches for its collection key\n"
    "  --encrypt               encrypt a new archive with a passphrase (Argon2id), from\n"
    "                          VMRP_PASSPHRASE, _FILE, _COMMAND or a prompt; on an\n"
    "                          encrypted archive, open it with that passphrase\n"
    "  --recipient PUBLIC_KEY  encrypt a new archive to an encryption public key made by\n"
    "                          'vmrp keygen --encryption' (repeatable; with or without\n"
    "                          --encrypt). This host need not be able to read it back\n"
    "  --identity SECRET_KEY   open an encrypted archive to append an incremental point.\n"
    "                          With no key, a point is appended in full, unread\n"
    "  --kdf-memory MIB        Argon2id memory for --encrypt, 1..1024 (default 64)\n"
    "  --kdf-passes N          Argon2id passes for --encrypt, 1..10 (default 2)\n"
    "  --threads N             threads that hash and compress (default: one per core)\n"
    "  --dedup-memory MIB      bound of the table that finds blocks stored before,\n"
    "                          1..65536 (default 64: 1M blocks); past it, old entries\n"
    "                          give way and their later copies are stored again\n"
    "  --changed-ranges NAME=FILE  read only these byte ranges of disk NAME (lines\n"
    "                          \"OFFSET LENGTH\", e.g. from a dirty bitmap via nbdinfo\n"
    "                          --map); trusted: changes outside them are not seen\n"
    "  --json                  print a JSON summary of the new point\n"
    "  --quiet                 no progress on stderr\n";

typedef struct {
    const char *name;
    const char *path;
} disk_arg;

typedef struct {
    const char *disk;
    const char *file;
} ranges_arg;

/* "OFFSET LENGTH [anything]" per line; '#' starts a comment. Numbers are
 * decimal or 0x-hex, as nbdinfo --map and most tools print them. */
static int load_ranges(const char *path, vmrp_extent **out, size_t *count, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    *count = 0;
    if (cli_read_file(path, 256u << 20, &text, &len, err, errlen))
        return -1;
    size_t cap = 64, n = 0, lineno = 0;
    vmrp_extent *v = malloc(cap * sizeof *v);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); v && line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line == '#' || *line == '\0' || *line == '\r')
            continue;
        char *end1, *end2;
        errno = 0;
        unsigned long long off = strtoull(line, &end1, 0);
        unsigned long long length = strtoull(end1, &end2, 0);
        if (errno || end1 == line || end2 == end1 || *line == '-' ||
            (*end2 && *end2 != ' ' && *end2 != '\t' && *end2 != '\r')) {
            snprintf(err, errlen, "%s: line %zu is not \"OFFSET LENGTH\"", path, lineno);
            free(v);
            free(text);
            return -1;
        }
        if (n == cap) {
            vmrp_extent *bigger = realloc(v, 2 * cap * sizeof *v);
            if (!bigger)
                break;
            v = bigger;
            cap *= 2;
        }
        v[n].offset = off;
        v[n].length = length;
        n++;
    }
    free(text);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *out = v;
    *count = n;
    return 0;
}

static int parse_codec(const char *s, int *codec, int *level)
{
    const char *colon = strchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    *level = 0;
    if (n == 4 && strncmp(s, "zstd", 4) == 0)
        *codec = VMRP_CODEC_ZSTD;
    else if (n == 4 && strncmp(s, "zlib", 4) == 0)
        *codec = VMRP_CODEC_ZLIB;
    else if (n == 4 && strncmp(s, "none", 4) == 0 && !colon)
        *codec = VMRP_CODEC_NONE;
    else
        return -1;
    if (colon) {
        char *end = NULL;
        long l = strtol(colon + 1, &end, 10);
        int max = *codec == VMRP_CODEC_ZSTD ? 19 : 9;
        if (!*(colon + 1) || *end || l < 1 || l > max)
            return -1;
        *level = (int)l;
    }
    return 0;
}

static int parse_consistency(const char *s)
{
    if (strcmp(s, "crash") == 0)
        return VMRP_CONSISTENCY_CRASH;
    if (strcmp(s, "filesystem") == 0)
        return VMRP_CONSISTENCY_FILESYSTEM;
    if (strcmp(s, "application") == 0)
        return VMRP_CONSISTENCY_APPLICATION;
    return 0;
}

static void print_json(const char *archive, const vmrp_writer_stats *st, const char *name)
{
    printf("{\"archive\":");
    json_string(stdout, archive);
    printf(",\"created\":%s,\"sequence\":%u,\"pointCount\":%u,\"name\":", st->created ? "true" : "false",
           st->sequence, st->point_count);
    json_string(stdout, name);
    printf(",\"bytesRead\":%llu,\"changedBlocks\":%llu,\"newBlocks\":%llu,\"dedupBlocks\":%llu,"
           "\"bytesWritten\":%llu,\"droppedTailBytes\":%llu,\"keyless\":%s}\n",
           (unsigned long long)st->bytes_read, (unsigned long long)st->changed_blocks,
           (unsigned long long)st->new_blocks, (unsigned long long)st->dedup_blocks,
           (unsigned long long)st->bytes_written, (unsigned long long)st->dropped_tail,
           st->keyless ? "true" : "false");
}

/* The detached signature covers the whole file as committed, so stock
 * minisign can check an archive handed over without vmrp. */
static int write_minisig(vmrp_key *key, const char *archive, vmrp_writer *w)
{
    vmrp_writer_stats st;
    vmrp_writer_get_stats(w, &st);
    char sig_path[4096], comment[512], id[17];
    snprintf(sig_path, sizeof sig_path, "%s.minisig", archive);
    vmrp_key_id(key, id);
    const char *base = strrchr(archive, '/');
    snprintf(comment, sizeof comment, "timestamp:%lld\tfile:%s\tvmrp-points:%u",
             (long long)time(NULL), base ? base + 1 : archive, st.point_count);
    for (char *p = comment; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t')
            *p = '?'; /* the trusted comment is one line */
    int fd = open(archive, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_error("pack", "%s: %s", archive, strerror(errno));
        return EXIT_RUNTIME;
    }
    int rc = vmrp_key_sign_file(key, fd, sig_path, comment);
    close(fd);
    if (rc != VMRP_OK) {
        cli_error("pack", "%s", vmrp_key_error_string(key));
        return cli_exit_code(rc);
    }
    return EXIT_OK;
}

static int fail_writer(vmrp_writer *w, int rc)
{
    cli_error("pack", "%s", vmrp_writer_error_string(w));
    return cli_exit_code(rc);
}

int cmd_pack(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"disk", required_argument, 0, 'd'},        {"config", required_argument, 0, 'c'},
        {"config-file", required_argument, 0, 'f'}, {"name", required_argument, 0, 'n'},
        {"exclude-disk", required_argument, 0, 'x'}, {"consistency", required_argument, 0, 'C'},
        {"block-size", required_argument, 0, 'b'},  {"compress", required_argument, 0, 'z'},
        {"max-points", required_argument, 0, 'm'},  {"json", no_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},             {"help", no_argument, 0, 'h'},
        {"sign", required_argument, 0, 'S'},        {"minisig", no_argument, 0, 'M'},
        {"threads", required_argument, 0, 'T'},     {"changed-ranges", required_argument, 0, 'R'},
        {"encrypt", no_argument, 0, 'E'},           {"recipient", required_argument, 0, 'r'},
        {"identity", required_argument, 0, 'I'},    {"kdf-memory", required_argument, 0, 'K'},
        {"kdf-passes", required_argument, 0, 'P'},  {"pubkey", required_argument, 0, 'p'},
        {"dedup-memory", required_argument, 0, 'D'},
        {0, 0, 0, 0}};
    disk_arg disks[256];
    ranges_arg ranges[256];
    size_t nranges = 0;
    const char *excluded[256];
    const char *config_files[1024];
    size_t ndisks = 0, nexcluded = 0, nconfig_files = 0;
    const char *config = NULL, *name = NULL, *sign = NULL;
    int minisig = 0, encrypt = 0;
    const char *recipient_paths[64], *identity_path = NULL, *pubkey_path = NULL;
    size_t nrecipients = 0;
    vmrp_encryption enc;
    memset(&enc, 0, sizeof enc);
    int consistency = 0, json = 0, quiet = 0;
    vmrp_writer_options opts;
    memset(&opts, 0, sizeof opts);
    opts.codec = VMRP_CODEC_ZSTD;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1])
                return cli_usage_error("pack", "--disk takes NAME=PATH, not '%s'", optarg);
            if (ndisks == 256)
                return cli_usage_error("pack", "at most 256 disks");
            /* NAME=PATH is split in place: argv strings are ours to modify,
             * and nothing needs freeing on the many early returns. */
            char *nm = optarg;
            *(char *)eq = '\0';
            if (!vmrp_disk_name_valid(nm))
                return cli_usage_error("pack", "disk name '%s' is not valid: 1..64 of [A-Za-z0-9._-], not starting with '.'", nm);
            for (size_t i = 0; i < ndisks; i++)
                if (strcmp(disks[i].name, nm) == 0)
                    return cli_usage_error("pack", "disk name '%s' is given twice", nm);
            disks[ndisks].name = nm;
            disks[ndisks++].path = eq + 1;
            break;
        }
        case 'c':
            config = optarg;
            break;
        case 'f':
            if (nconfig_files == 1024)
                return cli_usage_error("pack", "at most 1024 --config-file options");
            config_files[nconfig_files++] = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'x':
            if (nexcluded == 256)
                return cli_usage_error("pack", "at most 256 excluded disks");
            excluded[nexcluded++] = optarg;
            break;
        case 'C':
            if (!(consistency = parse_consistency(optarg)))
                return cli_usage_error("pack", "--consistency is crash, filesystem or application, not '%s'", optarg);
            break;
        case 'b': {
            uint64_t bs;
            if (cli_parse_size(optarg, &bs) || bs < 4096 || bs > (4u << 20) || (bs & (bs - 1)))
                return cli_usage_error("pack", "--block-size must be a power of two from 4K to 4M, not '%s'", optarg);
            opts.block_size = (uint32_t)bs;
            break;
        }
        case 'z':
            if (parse_codec(optarg, &opts.codec, &opts.level))
                return cli_usage_error("pack", "--compress takes zstd[:1-19], zlib[:1-9] or none, not '%s'", optarg);
            break;
        case 'm': {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 65535)
                return cli_usage_error("pack", "--max-points takes 1..65535, not '%s'", optarg);
            opts.max_points = (uint32_t)v;
            break;
        }
        case 'j':
            json = 1;
            break;
        case 'S':
            sign = optarg;
            break;
        case 'R': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1])
                return cli_usage_error("pack", "--changed-ranges takes NAME=FILE, not '%s'", optarg);
            if (nranges == 256)
                return cli_usage_error("pack", "at most 256 --changed-ranges");
            *eq = '\0';
            ranges[nranges].disk = optarg;
            ranges[nranges++].file = eq + 1;
            break;
        }
        case 'M':
            minisig = 1;
            break;
        case 'E':
            encrypt = 1;
            break;
        case 'r':
            if (nrecipients == 64)
                return cli_usage_error("pack", "at most 64 --recipient keys");
            recipient_paths[nrecipients++] = optarg;
            break;
        case 'I':
            identity_path = optarg;
            break;
        case 'p':
            pubkey_path = optarg;
            break;
        case 'T':
        case 'D':
        case 'K':
        case 'P': {
            const char *what = c == 'T'   ? "threads"
                               : c == 'D' ? "dedup-memory"
                               : c == 'K' ? "kdf-memory"
                                          : "kdf-passes";
            long max = c == 'T' ? 256 : c == 'D' ? 65536 : c == 'K' ? 1024 : 10;
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > max)
                return cli_usage_error("pack", "--%s takes 1..%ld, not '%s'", what, max, optarg);
            if (c == 'T')
                opts.threads = (uint32_t)v;
            else if (c == 'D')
                opts.dedup_memory_mib = (uint32_t)v;
            else if (c == 'K')
                enc.kdf_memlimit = (uint64_t)v << 20;
            else
                enc.kdf_opslimit = (uint64_t)v;
            break;
        }
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(pack_usage, stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("pack", "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("pack", optind >= argc ? "ARCHIVE is missing" : "one ARCHIVE only");
    const char *archive = argv[optind];
    if (ndisks == 0 && nexcluded == 0)
        return cli_usage_error("pack", "give at least one --disk NAME=PATH");
    for (size_t i = 0; i < nexcluded; i++) {
        if (!vmrp_disk_name_valid(excluded[i]))
            return cli_usage_error("pack", "--exclude-disk '%s' is not a valid disk name", excluded[i]);
        for (size_t k = 0; k < i; k++)
            if (strcmp(excluded[k], excluded[i]) == 0)
                return cli_usage_error("pack", "--exclude-disk %s is given twice", excluded[i]);
    }
    for (size_t i = 0; i < nranges; i++) {
        size_t k = 0;
        while (k < ndisks && strcmp(disks[k].name, ranges[i].disk) != 0)
            k++;
        if (k == ndisks)
            return cli_usage_error("pack", "--changed-ranges names disk '%s', which no --disk gives",
                                   ranges[i].disk);
    }
    int stream = strcmp(archive, "-") == 0;
    if (minisig && !sign)
        return cli_usage_error("pack", "--minisig needs --sign SECRET_KEY");
    if (minisig && stream)
        return cli_usage_error("pack", "--minisig needs an archive file, not stdout");
    if (stream && json)
        return cli_usage_error("pack", "--json cannot share stdout with a streamed archive");
    if (stream && isatty(STDOUT_FILENO))
        return cli_usage_error("pack", "refusing to write an archive to a terminal");
    /* What encryption means depends on whether the archive exists: a new
     * one gets key slots, an encrypted one is opened (or appended to
     * without its key). */
    vmrp_collection_info existing;
    int exists = !stream && vmrp_probe(archive, &existing) == VMRP_OK;
    if (exists && !existing.encrypted && (encrypt || nrecipients))
        return cli_usage_error("pack", "%s is not encrypted: encryption is chosen when an "
                                       "archive is created", archive);
    if (exists && existing.encrypted && nrecipients)
        return cli_usage_error("pack", "%s: recipients are fixed when an encrypted archive is "
                                       "created; give --identity to open it", archive);
    if (!exists && identity_path)
        return cli_usage_error("pack", "--identity opens an existing encrypted archive; a new "
                                       "one is encrypted to --recipient keys");
    if (exists && !existing.encrypted && identity_path)
        return cli_usage_error("pack", "%s is not encrypted: --identity has nothing to open",
                               archive);
    if ((enc.kdf_memlimit || enc.kdf_opslimit) && (exists || !encrypt))
        return cli_usage_error("pack", "--kdf-memory and --kdf-passes set the passphrase slot of a "
                                       "new archive made with --encrypt");

    /* Every input is opened and checked before the archive is touched. */
    int status = EXIT_OK;
    int fds[256];
    uint64_t total = 0;
    size_t opened = 0;
    char *meta = NULL;
    size_t meta_len = 0;
    config_set files = {0};
    char err[512];
    vmrp_key *key = NULL, *identity = NULL, *trusted = NULL, *recipients[64] = {0};
    vmrp_extent *rext[256] = {0};
    size_t rn[256] = {0};
    char *pass = NULL;
    if (sign && (status = cli_load_secret_key("pack", sign, &key)) != EXIT_OK)
        goto out;
    for (size_t i = 0; i < nrecipients; i++)
        if ((status = cli_load_recipient("pack", recipient_paths[i], &recipients[i])) != EXIT_OK)
            goto out;
    if (identity_path && (status = cli_load_identity("pack", identity_path, &identity)) != EXIT_OK)
        goto out;
    if (pubkey_path && (status = cli_load_public_key("pack", pubkey_path, &trusted)) != EXIT_OK)
        goto out;
    /* An append opens the archive with a passphrase only when told to with
     * --encrypt: VMRP_PASSPHRASE may be meant for the signing key. */
    int unlock_with_pass = exists && existing.encrypted && !identity && encrypt;
    if ((encrypt && !exists) || unlock_with_pass) {
        if (!(pass = sodium_malloc(1024))) {
            cli_error("pack", "out of secure memory");
            status = EXIT_RUNTIME;
            goto out;
        }
        int got = exists ? passphrase_ask(NULL, archive, pass, 1024)
                         : passphrase_new(archive, pass, 1024);
        if (got != 0 || !*pass) {
            cli_error("pack", "%s: no passphrase: set VMRP_PASSPHRASE (or _FILE, _COMMAND) or "
                              "run on a terminal", archive);
            status = EXIT_KEY;
            goto out;
        }
    }
    enc.passphrase = pass;
    enc.recipients = (const vmrp_key *const *)recipients;
    enc.recipient_count = nrecipients;
    enc.identity = identity;
    for (; opened < ndisks; opened++) {
        int excluded_too = 0;
        for (size_t k = 0; k < nexcluded; k++)
            excluded_too |= strcmp(excluded[k], disks[opened].name) == 0;
        fds[opened] = -1;
        if (excluded_too)
            continue; /* recorded as excluded, never read */
        fds[opened] = open(disks[opened].path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fds[opened] < 0 || fstat(fds[opened], &st) != 0) {
            cli_error("pack", "disk %s: %s: %s", disks[opened].name, disks[opened].path, strerror(errno));
            status = EXIT_RUNTIME;
            opened++;
            goto out;
        }
        if (S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
        else if (!S_ISBLK(st.st_mode)) {
            cli_error("pack", "disk %s: %s is not a regular file or a block device", disks[opened].name,
                      disks[opened].path);
            status = EXIT_RUNTIME;
            opened++;
            goto out;
        }
    }
    if (config) {
        if (cli_read_file(config, 16u << 20, &meta, &meta_len, err, sizeof err)) {
            cli_error("pack", "--config %s", err);
            status = EXIT_RUNTIME;
            goto out;
        }
        size_t at = 0;
        if (vmrp_json_validate(meta, meta_len, 1, &at) != VMRP_OK) {
            cli_error("pack", "--config %s: not a JSON object (error at byte %zu)", config, at);
            status = EXIT_RUNTIME;
            goto out;
        }
    }
    for (size_t i = 0; i < nconfig_files; i++)
        if (config_set_add(&files, config_files[i], err, sizeof err)) {
            cli_error("pack", "--config-file %s", err);
            status = EXIT_RUNTIME;
            goto out;
        }
    for (size_t k = 0; k < nranges; k++)
        for (size_t i = 0; i < ndisks; i++)
            if (strcmp(ranges[k].disk, disks[i].name) == 0) {
                free(rext[i]);
                if (load_ranges(ranges[k].file, &rext[i], &rn[i], err, sizeof err)) {
                    cli_error("pack", "--changed-ranges %s", err);
                    status = EXIT_RUNTIME;
                    goto out;
                }
            }

    vmrp_writer *w = vmrp_writer_new();
    if (!w) {
        cli_error("pack", "out of memory");
        status = EXIT_RUNTIME;
        goto out;
    }
    cli_progress prog;
    cli_progress_init(&prog, "pack", quiet);
    vmrp_writer_set_progress(w, cli_progress_cb, &prog);
    vmrp_writer_set_progress_total(w, total);
    vmrp_writer_set_public_key(w, trusted);
    int rc = vmrp_writer_set_encryption(w, &enc);
    if (rc == VMRP_OK)
        rc = stream ? vmrp_writer_open_stream(w, STDOUT_FILENO, "stdout", &opts)
                    : vmrp_writer_open(w, archive, &opts);
    if (rc == VMRP_OK && key)
        rc = vmrp_writer_set_signing_key(w, key);
    vmrp_writer_stats st;
    if (rc == VMRP_OK) {
        vmrp_writer_get_stats(w, &st);
        if (st.dropped_tail)
            cli_error("pack", "%s: removed %llu bytes of an interrupted append after the last commit",
                      archive, (unsigned long long)st.dropped_tail);
        if (st.keyless && !quiet)
            cli_error("pack", "%s is encrypted and no key was given: appending a full point that "
                              "this host cannot read back (give --identity or a passphrase for an "
                              "incremental one)", archive);
        rc = vmrp_writer_set_point(w, name, consistency);
    }
    if (rc == VMRP_OK && meta)
        rc = vmrp_writer_set_source_metadata(w, meta, meta_len);
    for (size_t i = 0; rc == VMRP_OK && i < files.count; i++)
        rc = vmrp_writer_add_config_file(w, files.items[i].name, files.items[i].mode,
                                         files.items[i].data, files.items[i].size);
    for (size_t i = 0; rc == VMRP_OK && i < ndisks; i++)
        if (fds[i] >= 0)
            rc = rext[i] ? vmrp_writer_add_disk_ranges(w, disks[i].name, fds[i], disks[i].path,
                                                       rext[i], rn[i])
                         : vmrp_writer_add_disk(w, disks[i].name, fds[i], disks[i].path);
    for (size_t i = 0; rc == VMRP_OK && i < nexcluded; i++)
        rc = vmrp_writer_exclude_disk(w, excluded[i]);
    if (rc == VMRP_OK)
        rc = vmrp_writer_commit(w);
    cli_progress_done(&prog);
    if (rc != VMRP_OK) {
        status = fail_writer(w, rc);
    } else if (minisig && (status = write_minisig(key, archive, w)) != EXIT_OK) {
        /* the point is committed and signed; only the detached copy failed */
    } else {
        vmrp_writer_get_stats(w, &st);
        char a[32], b[32];
        char default_name[32];
        snprintf(default_name, sizeof default_name, "point-%u", st.sequence);
        if (json)
            print_json(archive, &st, name ? name : default_name);
        else if (!quiet)
            fprintf(stderr, "vmrp pack: %s: point %u '%s' committed (%s): changed blocks %llu, "
                            "newly stored %llu, deduplicated %llu; read %s, wrote %s\n",
                    stream ? "stdout" : archive, st.sequence, name ? name : default_name,
                    st.created ? "new archive" : st.keyless ? "full, without the key" : "incremental",
                    (unsigned long long)st.changed_blocks,
                    (unsigned long long)st.new_blocks, (unsigned long long)st.dedup_blocks,
                    cli_human(st.bytes_read, a), cli_human(st.bytes_written, b));
    }
    vmrp_writer_free(w);
out:
    for (size_t i = 0; i < opened; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(meta);
    config_set_free(&files);
    vmrp_key_free(key);
    vmrp_key_free(identity);
    vmrp_key_free(trusted);
    for (size_t i = 0; i < nrecipients; i++)
        vmrp_key_free(recipients[i]);
    if (pass)
        sodium_free(pass);
    for (size_t i = 0; i < ndisks; i++)
        free(rext[i]);
    return status;
}
