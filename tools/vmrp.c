/* vmrp.c - the command: one table of subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *usage;
    const char *summary;
} commands[] = {
    {"pack", cmd_pack, pack_usage, "create an archive or append a restore point"},
    {"inspect", cmd_inspect, inspect_usage, "list the restore points of an archive"},
    {"verify", cmd_verify, verify_usage, "check every byte of an archive"},
    {"restore", cmd_restore, restore_usage, "restore a disk or a whole VM from a point"},
    {"keygen", cmd_keygen, keygen_usage, "make a signing key pair (minisign formats)"},
    {"repair", cmd_repair, repair_usage, "remove an interrupted append"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: vmrp [--version] [--help] COMMAND [ARGS]\n\n"
               "vmrp keeps the restore points of one virtual machine in a single file.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'vmrp help COMMAND' or 'vmrp COMMAND --help' describes a command.\n"
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
        if (help) {
            fputs(commands[i].usage, stdout);
            return EXIT_OK;
        }
        if (vmrp_init() != VMRP_OK) {
            fprintf(stderr, "vmrp: cannot initialise libsodium\n");
            return EXIT_RUNTIME;
        }
        return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "vmrp: '%s' is not a command.\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
