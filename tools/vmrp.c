/* vmrp.c - the command: one table of subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

/* json: the command takes --json, and then gives its errors as JSON too;
 * secrets: it may hold a passphrase, a secret key or decrypted data, and
 * runs without core dumps. */
static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *usage;
    const char *summary;
    int json, secrets;
} commands[] = {
    {"pack", cmd_pack, pack_usage, "create an archive or append a restore point", 1, 1},
    {"inspect", cmd_inspect, inspect_usage, "list the restore points of an archive", 1, 1},
    {"verify", cmd_verify, verify_usage, "check every byte of an archive", 1, 1},
    {"restore", cmd_restore, restore_usage, "restore a disk or a whole VM from a point", 1, 1},
    {"keygen", cmd_keygen, keygen_usage, "make a signing key pair (minisign formats)", 0, 1},
    {"repair", cmd_repair, repair_usage, "remove an interrupted append", 0, 0},
};

/* An option of the command's arguments, before any "--": "-h" exactly, or
 * "--json" as getopt_long takes it (any unambiguous prefix from "--j"). */
static int has_arg(int argc, char **argv, const char *opt)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        size_t n = strlen(argv[i]);
        if (strcmp(opt, "-h") == 0 ? strcmp(argv[i], "-h") == 0
                                   : n >= 3 && strncmp(argv[i], opt, n) == 0)
            return 1;
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: vmrp [--version] [-h|--help] COMMAND [ARGS]\n\n"
               "vmrp keeps the restore points of one virtual machine in a single file.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'vmrp help COMMAND' or 'vmrp COMMAND --help' (or -h) describes a command.\n"
               "Exit codes: 0 ok, 1 archive damaged, 2 usage, 3 runtime error, 4 key, 5 locked.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("vmrp %s (archive format %d.%d)\n", vmrp_version_string(), VMRP_FORMAT_MAJOR,
               VMRP_FORMAT_MINOR);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    int help = strcmp(cmd, "help") == 0;
    if (help) {
        if (argc < 3) {
            usage(stdout);
            return EXIT_OK;
        }
        cmd = argv[2];
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, cmd) != 0)
            continue;
        /* -h is --help for every command, wherever it stands */
        if (help || has_arg(argc - 1, argv + 1, "-h")) {
            fputs(commands[i].usage, stdout);
            return EXIT_OK;
        }
        if (commands[i].secrets)
            cli_no_core_dumps();
        if (commands[i].json && has_arg(argc - 1, argv + 1, "--json"))
            cli_json_begin();
        if (vmrp_init() != VMRP_OK) {
            fprintf(stderr, "vmrp: cannot initialise libsodium\n");
            return cli_json_end(EXIT_RUNTIME);
        }
        return cli_json_end(commands[i].run(argc - 1, argv + 1));
    }
    fprintf(stderr, "vmrp: '%s' is not a command.\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
