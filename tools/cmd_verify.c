/* cmd_verify.c - vmrp verify: check every byte of an archive. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"

const char verify_usage[] =
    "usage: vmrp verify ARCHIVE [--json] [--quiet]\n\n"
    "Reads the whole archive ('-' reads stdin) and checks the header, that records\n"
    "tile the file, every record against the hash in its index, every index against\n"
    "its commit, the chain of commits, every point's metadata and block map, and\n"
    "that every stored block decompresses to its identity.\n"
    "Exit 0 when everything holds, 1 with a message naming the point and byte\n"
    "offset when something does not.\n\n"
    "  --json    print {\"ok\", \"points\", \"records\", \"blocks\", \"bytes\",\n"
    "            \"headHash\", \"error\"} on stdout\n"
    "  --quiet   no progress, no summary line\n";

int cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, 0, 'j'},
                                             {"quiet", no_argument, 0, 'q'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int json = 0, quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else if (c == 'q')
            quiet = 1;
        else if (c == 'h') {
            fputs(verify_usage, stdout);
            return EXIT_OK;
        } else
            return cli_usage_error("verify", "unknown option");
    }
    if (optind != argc - 1)
        return cli_usage_error("verify", optind >= argc ? "ARCHIVE is missing" : "one ARCHIVE only");
    const char *archive = argv[optind];
    int use_stdin = strcmp(archive, "-") == 0;
    int fd = use_stdin ? STDIN_FILENO : open(archive, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_error("verify", "%s: %s", archive, strerror(errno));
        return EXIT_RUNTIME;
    }
    if (!use_stdin)
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    vmrp_reader *r = vmrp_reader_new();
    if (!r)
        return EXIT_RUNTIME;
    cli_progress prog;
    cli_progress_init(&prog, "verify", quiet || json);
    vmrp_reader_set_progress(r, cli_progress_cb, &prog);
    vmrp_verify_report rep;
    const char *label = use_stdin ? "stdin" : archive;
    int rc = vmrp_reader_verify(r, fd, label, &rep);
    cli_progress_done(&prog);
    if (json) {
        printf("{\"ok\":%s,\"archive\":", rc == VMRP_OK ? "true" : "false");
        json_string(stdout, label);
        printf(",\"points\":%u,\"records\":%llu,\"blocks\":%llu,\"bytes\":%llu,"
               "\"committedBytes\":%llu,\"headHash\":",
               rep.points, (unsigned long long)rep.records, (unsigned long long)rep.blocks,
               (unsigned long long)rep.bytes, (unsigned long long)rep.committed_size);
        json_hex(stdout, rep.head_hash, 32);
        printf(",\"error\":");
        if (rc == VMRP_OK) {
            printf("null}\n");
        } else {
            printf("{\"message\":");
            json_string(stdout, vmrp_reader_error_string(r));
            printf(",\"offset\":%llu,\"point\":%u}}\n", (unsigned long long)rep.error_offset,
                   rep.error_point);
        }
    }
    if (rc != VMRP_OK) {
        cli_error("verify", "FAILED: %s", vmrp_reader_error_string(r));
    } else if (!quiet && !json) {
        char h[32];
        printf("%s: OK: %u restore point%s, %llu records, %llu blocks checked, %s read\n"
               "head: ",
               label, rep.points, rep.points == 1 ? "" : "s", (unsigned long long)rep.records,
               (unsigned long long)rep.blocks, cli_human(rep.bytes, h));
        for (int i = 0; i < 32; i++)
            printf("%02x", rep.head_hash[i]);
        putchar('\n');
    }
    vmrp_reader_free(r);
    if (!use_stdin)
        close(fd);
    return cli_exit_code(rc);
}
