/* cmd_repair.c - vmrp repair: remove an interrupted append. */
#include <getopt.h>

#include "cli.h"
#include "commands.h"

const char repair_usage[] =
    "usage: vmrp repair ARCHIVE\n\n"
    "Removes the bytes an interrupted pack left after the last commit, and says how\n"
    "many. Committed points are never touched: when those bytes look like a damaged\n"
    "commit rather than an unfinished append, nothing is removed (exit 1).\n"
    "A pack removes such a tail by itself; repair is for archives that are only\n"
    "read, and for scripts that want it done explicitly.\n";

int cmd_repair(int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(repair_usage, stdout);
            return EXIT_OK;
        }
        return cli_usage_error("repair", "unknown option");
    }
    if (optind != argc - 1)
        return cli_usage_error("repair", optind >= argc ? "ARCHIVE is missing" : "one ARCHIVE only");
    vmrp_writer *w = vmrp_writer_new();
    if (!w)
        return EXIT_RUNTIME;
    uint64_t dropped = 0;
    int rc = vmrp_writer_repair(w, argv[optind], &dropped);
    if (rc != VMRP_OK)
        cli_error("repair", "%s", vmrp_writer_error_string(w));
    else if (dropped)
        printf("%s: removed %llu bytes of an interrupted append after the last commit\n",
               argv[optind], (unsigned long long)dropped);
    else
        printf("%s: nothing to repair: the archive ends with its last commit\n", argv[optind]);
    vmrp_writer_free(w);
    return cli_exit_code(rc);
}
