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
    "                 [--identity SECRET_KEY | --keyless [--collection-key HEX]]\n"
    "                 [--pubkey PUBLIC_KEY]\n"
    "                 [--trust-history] [--threads N]\n"
    "                 [--dedup-memory MIB] [--json] [--quiet]\n\n"
    "Creates ARCHIVE with a first, full restore point, or appends a point that stores\n"
    "only the blocks changed since the latest one. ARCHIVE '-' streams a new archive\n"
    "to stdout.\n\n"
    "  --disk NAME=PATH        a raw image file or block device (repeatable)\n"
    "  --config VM.json        the VM configuration, a JSON object (sourceMetadata)\n"
    "  --config-file PATH      a file or a directory, stored as given; a bundle named\n"
    "                          *.tar, *.tar.gz|.tgz|.tar.zst|.tzst|.tar.xz|.txz|.tar.bz2,\n"
    "                          *.zip or *.cpio is unpacked, keeping names and modes\n"
    "                          (repeatable; at most 4096 files, 256 MiB in all)\n"
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
    "                          archive, this is what vouches for its collection key.\n"
    "                          With --sign and no --pubkey, every earlier commit must be\n"
    "                          signed by the --sign key itself\n"
    "  --trust-history         with --sign: sign over earlier commits that are unsigned\n"
    "                          or signed by another key (the signature then vouches for\n"
    "                          them too)\n"
    "  --keyless               append to an encrypted archive without its key: a full\n"
    "                          point that this host cannot read back (without it, such\n"
    "                          an append is refused, exit 4); needs --collection-key,\n"
    "                          or --pubkey (or --sign) with a chain that key signed\n"
    "  --collection-key HEX    with --keyless: the collection key ('vmrp inspect'\n"
    "                          prints it) that the point may be sealed to\n"
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

/* How many of each repeatable option one pack takes. */
enum {
    PACK_DISKS_MAX = 256,         /* --disk */
    PACK_EXCLUDED_MAX = 256,      /* --exclude-disk */
    PACK_RANGES_MAX = 256,        /* --changed-ranges */
    PACK_CONFIG_FILES_MAX = 1024, /* --config-file */
    PACK_RECIPIENTS_MAX = 64      /* --recipient */
};

/* Sizes of what pack reads whole. */
#define CONFIG_JSON_MAX (16u << 20)  /* --config */
#define RANGES_FILE_MAX (256u << 20) /* a --changed-ranges file */
#define PASSPHRASE_MAX 1024

/* A --disk, and what pack opens of it before the archive is touched. */
typedef struct {
    const char *name;
    const char *path;
    int fd;               /* -1: not opened (excluded too, or not yet) */
    vmrp_extent *changed; /* its --changed-ranges; NULL: read it whole */
    size_t nchanged;
} pack_disk;

/* A --changed-ranges NAME=FILE. */
typedef struct {
    const char *disk;
    const char *file;
} ranges_arg;

/* What the command line asks for. */
typedef struct {
    const char *archive;
    int stream; /* ARCHIVE is '-': a new archive on stdout */
    pack_disk disks[PACK_DISKS_MAX];
    size_t ndisks;
    const char *excluded[PACK_EXCLUDED_MAX];
    size_t nexcluded;
    ranges_arg ranges[PACK_RANGES_MAX];
    size_t nranges;
    const char *config; /* --config VM.json */
    const char *config_files[PACK_CONFIG_FILES_MAX];
    size_t nconfig_files;
    const char *name;
    int consistency;
    const char *sign; /* --sign SECRET_KEY */
    int minisig;
    int encrypt;
    const char *recipients[PACK_RECIPIENTS_MAX];
    size_t nrecipients;
    const char *identity;
    const char *pubkey;
    int keyless;       /* --keyless: an encrypted archive may be appended to without its key */
    const char *collection_key; /* --collection-key HEX: what a keyless append seals to */
    int trust_history; /* --trust-history: sign over commits not signed by --sign's key */
    uint64_t kdf_memlimit, kdf_opslimit; /* 0: the library's defaults */
    vmrp_writer_options writer;
    int json, quiet;
    int help; /* --help was printed: nothing else to do */
    /* Set by check_args(): the archive exists, and is encrypted. */
    int exists, exists_encrypted;
    int exists_unsignable; /* a format 1.0 archive: the writer refuses to sign it */
} pack_args;

/* What pack loads before it touches the archive; load_inputs() fills it,
 * free_inputs() releases it, whatever was reached. */
typedef struct {
    vmrp_key *key; /* --sign */
    vmrp_key *recipients[PACK_RECIPIENTS_MAX];
    vmrp_key *identity;
    vmrp_key *trusted; /* --pubkey */
    unsigned char collection_key[32]; /* --collection-key */
    char *passphrase;  /* sodium_malloc'd */
    char *meta;        /* --config */
    size_t meta_len;
    config_set files;
    uint64_t total; /* bytes of the regular files among the disks, for progress */
} pack_inputs;

/* "OFFSET LENGTH [anything]" per line; '#' starts a comment. Numbers are
 * decimal or 0x-hex, as nbdinfo --map and most tools print them. */
static int load_ranges(const char *path, vmrp_extent **out, size_t *count, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    *count = 0;
    if (cli_read_file(path, RANGES_FILE_MAX, &text, &len, err, errlen))
        return -1;
    size_t cap = 64, n = 0, lineno = 0; /* grows by doubling */
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

/* NAME=VALUE, split in place: argv strings are ours to modify, and nothing
 * needs freeing on the many early returns. NULL when it is not that. */
static const char *split_assignment(char *arg)
{
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return NULL;
    *eq = '\0';
    return eq + 1;
}

/* A whole number 1..max; 0 when it is not one. */
static long parse_count(const char *s, long max)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    return !*s || *end || v < 1 || v > max ? 0 : v;
}

/* A list of an option's values is full: say how many it takes. */
static int too_many(int max, const char *what)
{
    return cli_usage_error("pack", "at most %d %s", max, what);
}

static int push_arg(const char **list, size_t *n, int max, const char *what, const char *arg)
{
    if (*n == (size_t)max)
        return too_many(max, what);
    list[(*n)++] = arg;
    return EXIT_OK;
}

static int add_disk_arg(pack_args *a, char *arg)
{
    const char *path = split_assignment(arg);
    if (!path)
        return cli_usage_error("pack", "--disk takes NAME=PATH, not '%s'", arg);
    if (a->ndisks == PACK_DISKS_MAX)
        return too_many(PACK_DISKS_MAX, "disks");
    if (!vmrp_disk_name_valid(arg))
        return cli_usage_error("pack", "disk name '%s' is not valid: 1..64 of [A-Za-z0-9._-], not starting with '.'", arg);
    for (size_t i = 0; i < a->ndisks; i++)
        if (strcmp(a->disks[i].name, arg) == 0)
            return cli_usage_error("pack", "disk name '%s' is given twice", arg);
    a->disks[a->ndisks++] = (pack_disk){arg, path, -1, NULL, 0};
    return EXIT_OK;
}

/* --threads, --dedup-memory, --kdf-memory, --kdf-passes and --max-points:
 * counts from 1. */
static int set_count(pack_args *a, int opt, const char *arg)
{
    static const struct {
        int opt;
        const char *name;
        long max;
    } counts[] = {{'T', "threads", 256},
                  {'D', "dedup-memory", 65536},
                  {'K', "kdf-memory", 1024},
                  {'P', "kdf-passes", 10},
                  {'m', "max-points", 65535}};
    size_t k = 0;
    while (counts[k].opt != opt)
        k++;
    long v = parse_count(arg, counts[k].max);
    if (!v)
        return cli_usage_error("pack", "--%s takes 1..%ld, not '%s'", counts[k].name,
                               counts[k].max, arg);
    if (opt == 'T')
        a->writer.threads = (uint32_t)v;
    else if (opt == 'D')
        a->writer.dedup_memory_mib = (uint32_t)v;
    else if (opt == 'K')
        a->kdf_memlimit = (uint64_t)v << 20;
    else if (opt == 'P')
        a->kdf_opslimit = (uint64_t)v;
    else
        a->writer.max_points = (uint32_t)v;
    return EXIT_OK;
}

/* One option; returns an exit code, EXIT_OK to go on. */
static int take_option(pack_args *a, int c, char *arg)
{
    switch (c) {
    case 'd':
        return add_disk_arg(a, arg);
    case 'c':
        a->config = arg;
        return EXIT_OK;
    case 'f':
        return push_arg(a->config_files, &a->nconfig_files, PACK_CONFIG_FILES_MAX,
                        "--config-file options", arg);
    case 'n':
        a->name = arg;
        return EXIT_OK;
    case 'x':
        return push_arg(a->excluded, &a->nexcluded, PACK_EXCLUDED_MAX, "excluded disks", arg);
    case 'C':
        if (!(a->consistency = parse_consistency(arg)))
            return cli_usage_error("pack", "--consistency is crash, filesystem or application, not '%s'", arg);
        return EXIT_OK;
    case 'b': {
        uint64_t bs;
        if (cli_parse_size(arg, &bs) || bs < 4096 || bs > (4u << 20) || (bs & (bs - 1)))
            return cli_usage_error("pack", "--block-size must be a power of two from 4K to 4M, not '%s'", arg);
        a->writer.block_size = (uint32_t)bs;
        return EXIT_OK;
    }
    case 'z':
        if (parse_codec(arg, &a->writer.codec, &a->writer.level))
            return cli_usage_error("pack", "--compress takes zstd[:1-19], zlib[:1-9] or none, not '%s'", arg);
        return EXIT_OK;
    case 'j':
        a->json = 1;
        return EXIT_OK;
    case 'S':
        a->sign = arg;
        return EXIT_OK;
    case 'R': {
        const char *file = split_assignment(arg);
        if (!file)
            return cli_usage_error("pack", "--changed-ranges takes NAME=FILE, not '%s'", arg);
        if (a->nranges == PACK_RANGES_MAX)
            return too_many(PACK_RANGES_MAX, "--changed-ranges");
        a->ranges[a->nranges++] = (ranges_arg){arg, file};
        return EXIT_OK;
    }
    case 'M':
        a->minisig = 1;
        return EXIT_OK;
    case 'E':
        a->encrypt = 1;
        return EXIT_OK;
    case 'r':
        return push_arg(a->recipients, &a->nrecipients, PACK_RECIPIENTS_MAX, "--recipient keys",
                        arg);
    case 'I':
        a->identity = arg;
        return EXIT_OK;
    case 'p':
        a->pubkey = arg;
        return EXIT_OK;
    case 'L':
        a->keyless = 1;
        return EXIT_OK;
    case 'k':
        a->collection_key = arg;
        return EXIT_OK;
    case 'H':
        a->trust_history = 1;
        return EXIT_OK;
    case 'T':
    case 'D':
    case 'K':
    case 'P':
    case 'm':
        return set_count(a, c, arg);
    case 'q':
        a->quiet = 1;
        return EXIT_OK;
    case 'h':
        fputs(pack_usage, stdout);
        a->help = 1;
        return EXIT_OK;
    default:
        return cli_usage_error("pack", "unknown option");
    }
}

static int parse_args(int argc, char **argv, pack_args *a)
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
        {"dedup-memory", required_argument, 0, 'D'}, {"keyless", no_argument, 0, 'L'},
        {"collection-key", required_argument, 0, 'k'},
        {"trust-history", no_argument, 0, 'H'},
        {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->writer.codec = VMRP_CODEC_ZSTD;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int status = take_option(a, c, optarg);
        if (status != EXIT_OK || a->help)
            return status;
    }
    if (optind != argc - 1)
        return cli_usage_error("pack", optind >= argc ? "ARCHIVE is missing" : "one ARCHIVE only");
    a->archive = argv[optind];
    return EXIT_OK;
}

static pack_disk *find_disk(pack_args *a, const char *name)
{
    for (size_t i = 0; i < a->ndisks; i++)
        if (strcmp(a->disks[i].name, name) == 0)
            return &a->disks[i];
    return NULL;
}

static int is_excluded(const pack_args *a, const char *name)
{
    for (size_t k = 0; k < a->nexcluded; k++)
        if (strcmp(a->excluded[k], name) == 0)
            return 1;
    return 0;
}

/* The options against each other, and against the archive if it exists. */
static int check_args(pack_args *a)
{
    if (a->ndisks == 0 && a->nexcluded == 0)
        return cli_usage_error("pack", "give at least one --disk NAME=PATH");
    for (size_t i = 0; i < a->nexcluded; i++) {
        if (!vmrp_disk_name_valid(a->excluded[i]))
            return cli_usage_error("pack", "--exclude-disk '%s' is not a valid disk name", a->excluded[i]);
        for (size_t k = 0; k < i; k++)
            if (strcmp(a->excluded[k], a->excluded[i]) == 0)
                return cli_usage_error("pack", "--exclude-disk %s is given twice", a->excluded[i]);
    }
    for (size_t i = 0; i < a->nranges; i++)
        if (!find_disk(a, a->ranges[i].disk))
            return cli_usage_error("pack", "--changed-ranges names disk '%s', which no --disk gives",
                                   a->ranges[i].disk);
    a->stream = strcmp(a->archive, "-") == 0;
    if (a->minisig && !a->sign)
        return cli_usage_error("pack", "--minisig needs --sign SECRET_KEY");
    if (a->minisig && a->stream)
        return cli_usage_error("pack", "--minisig needs an archive file, not stdout");
    if (a->stream && a->json)
        return cli_usage_error("pack", "--json cannot share stdout with a streamed archive");
    if (a->stream && isatty(STDOUT_FILENO))
        return cli_usage_error("pack", "refusing to write an archive to a terminal");
    /* What encryption means depends on whether the archive exists: a new
     * one gets key slots, an encrypted one is opened (or appended to
     * without its key). */
    vmrp_collection_info existing;
    int probed = a->stream ? VMRP_E_NOT_FOUND : vmrp_probe(a->archive, &existing);
    if (probed == VMRP_E_IO) { /* unreadable is not absent: never start it anew */
        cli_error("pack", "%s: %s", a->archive, strerror(errno));
        return EXIT_RUNTIME;
    }
    a->exists = probed == VMRP_OK;
    a->exists_encrypted = a->exists && existing.encrypted;
    a->exists_unsignable = a->exists && existing.format_major == 1 && existing.format_minor == 0;
    if (a->exists && !existing.encrypted && (a->encrypt || a->nrecipients))
        return cli_usage_error("pack", "%s is not encrypted: encryption is chosen when an "
                                       "archive is created", a->archive);
    if (a->exists && existing.encrypted && a->nrecipients)
        return cli_usage_error("pack", "%s: recipients are fixed when an encrypted archive is "
                                       "created; give --identity to open it", a->archive);
    if (!a->exists && a->identity)
        return cli_usage_error("pack", "--identity opens an existing encrypted archive; a new "
                                       "one is encrypted to --recipient keys");
    if (a->exists && !existing.encrypted && a->identity)
        return cli_usage_error("pack", "%s is not encrypted: --identity has nothing to open",
                               a->archive);
    if ((a->kdf_memlimit || a->kdf_opslimit) && (a->exists || !a->encrypt))
        return cli_usage_error("pack", "--kdf-memory and --kdf-passes set the passphrase slot of a "
                                       "new archive made with --encrypt");
    if (a->keyless && (!a->exists_encrypted || a->identity || a->encrypt))
        return cli_usage_error("pack", "--keyless appends to an existing encrypted archive "
                                       "without its key, and takes neither --identity nor "
                                       "--encrypt");
    if (a->collection_key && !a->keyless)
        return cli_usage_error("pack", "--collection-key pins the key a --keyless append "
                                       "seals to");
    if (a->trust_history && (!a->sign || a->pubkey))
        return cli_usage_error("pack", "--trust-history signs over history that --sign's key "
                                       "did not sign; with --pubkey, history is checked "
                                       "against that key");
    /* The cron job whose passphrase variable was lost must not quietly
     * store full copies that this host cannot read back. */
    if (a->exists_encrypted && !a->identity && !a->encrypt && !a->keyless) {
        cli_error("pack", "%s is encrypted: give --encrypt (its passphrase from VMRP_PASSPHRASE, "
                          "_FILE, _COMMAND or a prompt) or --identity KEY for an incremental "
                          "point, or --keyless to append a full point that this host cannot "
                          "read back", a->archive);
        return EXIT_KEY;
    }
    return EXIT_OK;
}

static int load_keys(const pack_args *a, pack_inputs *in)
{
    int status = EXIT_OK;
    if (a->sign && (status = cli_load_secret_key("pack", a->sign, &in->key)) != EXIT_OK)
        return status;
    for (size_t i = 0; i < a->nrecipients; i++)
        if ((status = cli_load_recipient("pack", a->recipients[i], &in->recipients[i])) != EXIT_OK)
            return status;
    if (a->identity && (status = cli_load_identity("pack", a->identity, &in->identity)) != EXIT_OK)
        return status;
    if (a->pubkey && (status = cli_load_public_key("pack", a->pubkey, &in->trusted)) != EXIT_OK)
        return status;
    if (a->collection_key && (strlen(a->collection_key) != 64 ||
                              sodium_hex2bin(in->collection_key, sizeof in->collection_key,
                                             a->collection_key, 64, NULL, NULL, NULL) != 0))
        return cli_usage_error("pack", "--collection-key takes the 64 hex digits that "
                                       "'vmrp inspect' prints, not '%s'", a->collection_key);
    return EXIT_OK;
}

/* The passphrase of a new archive made with --encrypt, or of an encrypted
 * one that --encrypt says to open with it: VMRP_PASSPHRASE may be meant for
 * the signing key. */
static int load_passphrase(const pack_args *a, pack_inputs *in)
{
    int unlock_with_pass = a->exists_encrypted && !in->identity && a->encrypt;
    if (!(a->encrypt && !a->exists) && !unlock_with_pass)
        return EXIT_OK;
    if (!(in->passphrase = sodium_malloc(PASSPHRASE_MAX))) {
        cli_error("pack", "out of secure memory");
        return EXIT_RUNTIME;
    }
    int got = a->exists ? passphrase_ask(NULL, a->archive, in->passphrase, PASSPHRASE_MAX)
                        : passphrase_new(a->archive, in->passphrase, PASSPHRASE_MAX);
    if (got != 0 || !*in->passphrase) {
        cli_error("pack", "%s: no passphrase: set VMRP_PASSPHRASE (or _FILE, _COMMAND) or "
                          "run on a terminal", a->archive);
        return EXIT_KEY;
    }
    return EXIT_OK;
}

/* What pack will read of a disk, for the progress total: the allocated
 * bytes of a sparse file (holes are never read), a block device whole, and
 * of either only the changed ranges when they are given. */
static uint64_t bytes_to_read(const pack_disk *d, const struct stat *st)
{
    uint64_t size = (uint64_t)st->st_size;
    if (S_ISBLK(st->st_mode)) {
        off_t end = lseek(d->fd, 0, SEEK_END);
        size = end > 0 ? (uint64_t)end : 0;
        (void)lseek(d->fd, 0, SEEK_SET);
    }
    if (S_ISREG(st->st_mode) && (uint64_t)st->st_blocks * 512 < size)
        size = (uint64_t)st->st_blocks * 512;
    if (!d->changed)
        return size;
    uint64_t in_ranges = 0;
    for (size_t i = 0; i < d->nchanged; i++)
        in_ranges += d->changed[i].length;
    return in_ranges < size ? in_ranges : size;
}

/* Open every disk that is not excluded too; it must be a regular file or
 * a block device. */
static int open_disks(pack_args *a)
{
    for (size_t i = 0; i < a->ndisks; i++) {
        pack_disk *d = &a->disks[i];
        if (is_excluded(a, d->name))
            continue; /* recorded as excluded, never read */
        d->fd = open(d->path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (d->fd < 0 || fstat(d->fd, &st) != 0) {
            cli_error("pack", "disk %s: %s: %s", d->name, d->path, strerror(errno));
            return EXIT_RUNTIME;
        }
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
            cli_error("pack", "disk %s: %s is not a regular file or a block device", d->name,
                      d->path);
            return EXIT_RUNTIME;
        }
    }
    return EXIT_OK;
}

/* --config and --config-file, read and checked. */
static int load_config(const pack_args *a, pack_inputs *in)
{
    char err[512];
    if (a->config) {
        if (cli_read_file(a->config, CONFIG_JSON_MAX, &in->meta, &in->meta_len, err, sizeof err)) {
            cli_error("pack", "--config %s", err);
            return EXIT_RUNTIME;
        }
        size_t at = 0;
        if (vmrp_json_validate(in->meta, in->meta_len, 1, &at) != VMRP_OK) {
            cli_error("pack", "--config %s: not a JSON object (error at byte %zu)", a->config, at);
            return EXIT_RUNTIME;
        }
    }
    for (size_t i = 0; i < a->nconfig_files; i++)
        if (config_set_add(&in->files, a->config_files[i], err, sizeof err)) {
            cli_error("pack", "--config-file %s", err);
            return EXIT_RUNTIME;
        }
    return EXIT_OK;
}

/* Each --changed-ranges file, in the order given; a disk named twice keeps
 * the last. */
static int load_changed_ranges(pack_args *a)
{
    char err[512];
    for (size_t k = 0; k < a->nranges; k++) {
        pack_disk *d = find_disk(a, a->ranges[k].disk);
        free(d->changed);
        if (load_ranges(a->ranges[k].file, &d->changed, &d->nchanged, err, sizeof err)) {
            cli_error("pack", "--changed-ranges %s", err);
            return EXIT_RUNTIME;
        }
    }
    return EXIT_OK;
}

/* Every input is opened and checked before the archive is touched. */
static int load_inputs(pack_args *a, pack_inputs *in)
{
    int status = load_keys(a, in);
    if (status == EXIT_OK)
        status = load_passphrase(a, in);
    if (status == EXIT_OK)
        status = open_disks(a);
    if (status == EXIT_OK)
        status = load_config(a, in);
    if (status == EXIT_OK)
        status = load_changed_ranges(a);
    for (size_t i = 0; status == EXIT_OK && i < a->ndisks; i++) {
        struct stat st;
        if (a->disks[i].fd >= 0 && fstat(a->disks[i].fd, &st) == 0)
            in->total += bytes_to_read(&a->disks[i], &st);
    }
    return status;
}

static void free_inputs(pack_args *a, pack_inputs *in)
{
    for (size_t i = 0; i < a->ndisks; i++) {
        if (a->disks[i].fd >= 0)
            close(a->disks[i].fd);
        free(a->disks[i].changed);
    }
    free(in->meta);
    config_set_free(&in->files);
    vmrp_key_free(in->key);
    vmrp_key_free(in->identity);
    vmrp_key_free(in->trusted);
    for (size_t i = 0; i < a->nrecipients; i++)
        vmrp_key_free(in->recipients[i]);
    if (in->passphrase)
        sodium_free(in->passphrase);
}

/* Open (create, or lock for appending) and name the new point; what
 * opening found is said before anything is read. */
static int open_writer(vmrp_writer *w, const pack_args *a, const pack_inputs *in)
{
    vmrp_encryption enc;
    memset(&enc, 0, sizeof enc);
    enc.passphrase = in->passphrase;
    enc.recipients = (const vmrp_key *const *)in->recipients;
    enc.recipient_count = a->nrecipients;
    enc.identity = in->identity;
    enc.kdf_memlimit = a->kdf_memlimit;
    enc.kdf_opslimit = a->kdf_opslimit;
    vmrp_writer_set_progress_total(w, in->total);
    /* A signature over the whole file vouches for its history too
     * (minisign -V checks the file whole): a signing append checks that
     * every earlier commit carries this key's signature, unless told. */
    if (a->collection_key)
        vmrp_writer_set_collection_key(w, in->collection_key);
    vmrp_writer_set_public_key(w, in->trusted ? in->trusted
                                  : a->trust_history || a->exists_unsignable ? NULL
                                                                            : in->key);
    int rc = vmrp_writer_set_encryption(w, &enc);
    if (rc == VMRP_OK)
        rc = a->stream ? vmrp_writer_open_stream(w, STDOUT_FILENO, "stdout", &a->writer)
                       : vmrp_writer_open(w, a->archive, &a->writer);
    if (rc == VMRP_OK && in->key)
        rc = vmrp_writer_set_signing_key(w, in->key);
    if (rc != VMRP_OK)
        return rc;
    vmrp_writer_stats st;
    vmrp_writer_get_stats(w, &st);
    if (st.dropped_tail)
        cli_error("pack", "%s: removed %llu bytes of an interrupted append after the last commit",
                  a->archive, (unsigned long long)st.dropped_tail);
    if (st.keyless && !a->quiet)
        cli_error("pack", "%s is encrypted and no key was given: appending a full point that "
                          "this host cannot read back (give --identity or a passphrase for an "
                          "incremental one)", a->archive);
    return vmrp_writer_set_point(w, a->name, a->consistency);
}

static int add_config(vmrp_writer *w, const pack_inputs *in)
{
    int rc = VMRP_OK;
    if (in->meta)
        rc = vmrp_writer_set_source_metadata(w, in->meta, in->meta_len);
    for (size_t i = 0; rc == VMRP_OK && i < in->files.count; i++) {
        const config_item *f = &in->files.items[i];
        rc = vmrp_writer_add_config_file(w, f->name, f->mode, f->data, f->size);
    }
    return rc;
}

static int add_disks(vmrp_writer *w, const pack_args *a, cli_progress *prog)
{
    int rc = VMRP_OK;
    for (size_t i = 0; rc == VMRP_OK && i < a->ndisks; i++) {
        const pack_disk *d = &a->disks[i];
        char item[96];
        snprintf(item, sizeof item, "disk %s", d->name);
        cli_progress_item(prog, item);
        if (d->fd >= 0)
            rc = d->changed ? vmrp_writer_add_disk_ranges(w, d->name, d->fd, d->path, d->changed,
                                                          d->nchanged)
                            : vmrp_writer_add_disk(w, d->name, d->fd, d->path);
    }
    for (size_t i = 0; rc == VMRP_OK && i < a->nexcluded; i++)
        rc = vmrp_writer_exclude_disk(w, a->excluded[i]);
    return rc;
}

/* The committed point: its detached signature, then what it holds. */
static int finish_point(vmrp_writer *w, const pack_args *a, pack_inputs *in)
{
    int status;
    if (a->minisig && (status = write_minisig(in->key, a->archive, w)) != EXIT_OK)
        return status; /* the point is committed and signed; only the detached copy failed */
    vmrp_writer_stats st;
    vmrp_writer_get_stats(w, &st);
    char a_read[32], a_written[32];
    char default_name[32];
    snprintf(default_name, sizeof default_name, "point-%u", st.sequence);
    const char *name = a->name ? a->name : default_name;
    if (a->json)
        print_json(a->archive, &st, name);
    else if (!a->quiet)
        fprintf(stderr, "vmrp pack: %s: point %u '%s' committed (%s): changed blocks %llu, "
                        "newly stored %llu, deduplicated %llu; read %s, wrote %s\n",
                a->stream ? "stdout" : a->archive, st.sequence, name,
                st.created ? "new archive" : st.keyless ? "full, without the key" : "incremental",
                (unsigned long long)st.changed_blocks,
                (unsigned long long)st.new_blocks, (unsigned long long)st.dedup_blocks,
                cli_human(st.bytes_read, a_read), cli_human(st.bytes_written, a_written));
    return EXIT_OK;
}

static int write_point(const pack_args *a, pack_inputs *in)
{
    vmrp_writer *w = vmrp_writer_new();
    if (!w) {
        cli_error("pack", "out of memory");
        return EXIT_RUNTIME;
    }
    cli_progress prog;
    cli_progress_init(&prog, "pack", a->quiet);
    vmrp_writer_set_progress(w, cli_progress_cb, &prog);
    int rc = open_writer(w, a, in);
    if (rc == VMRP_OK)
        rc = add_config(w, in);
    if (rc == VMRP_OK)
        rc = add_disks(w, a, &prog);
    cli_progress_item(&prog, NULL);
    if (rc == VMRP_OK)
        rc = vmrp_writer_commit(w);
    cli_progress_done(&prog);
    int status = rc == VMRP_OK ? finish_point(w, a, in) : fail_writer(w, rc);
    vmrp_writer_free(w);
    return status;
}

int cmd_pack(int argc, char **argv)
{
    pack_args a;
    int status = parse_args(argc, argv, &a);
    if (status != EXIT_OK || a.help)
        return status;
    if ((status = check_args(&a)) != EXIT_OK)
        return status;
    pack_inputs in;
    memset(&in, 0, sizeof in);
    status = load_inputs(&a, &in);
    if (status == EXIT_OK)
        status = write_point(&a, &in);
    free_inputs(&a, &in);
    return status;
}
