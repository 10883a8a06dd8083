/* cmd_keygen.c - vmrp keygen: an Ed25519 signing key pair in minisign's
 * formats. */
#include <getopt.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "commands.h"
#include "passphrase.h"

const char keygen_usage[] =
    "usage: vmrp keygen --secret-key FILE --public-key FILE [--no-passphrase]\n\n"
    "Makes an Ed25519 signing key pair in minisign's formats (keys made by\n"
    "'minisign -G' work too). The secret key file is created with mode 0600 and\n"
    "protected by a passphrase (scrypt, as minisign does) taken from\n"
    "VMRP_PASSPHRASE, VMRP_PASSPHRASE_FILE, VMRP_PASSPHRASE_COMMAND or a prompt;\n"
    "--no-passphrase stores it unprotected. Existing files are never replaced.\n";

int cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"secret-key", required_argument, 0, 's'}, {"public-key", required_argument, 0, 'p'},
        {"no-passphrase", no_argument, 0, 'n'},    {"encryption", no_argument, 0, 'e'},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
    const char *sk = NULL, *pk = NULL;
    int no_pass = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            sk = optarg;
            break;
        case 'p':
            pk = optarg;
            break;
        case 'n':
            no_pass = 1;
            break;
        case 'e':
            cli_error("keygen", "--encryption: encrypted archives are not supported by this "
                                "version (format 1.1 signs; encryption comes later)");
            return EXIT_USAGE;
        case 'h':
            fputs(keygen_usage, stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("keygen", "unknown option");
        }
    }
    if (!sk || !pk || optind != argc)
        return cli_usage_error("keygen", "give --secret-key FILE and --public-key FILE");
    char pass[1024];
    if (!no_pass && passphrase_new(sk, pass, sizeof pass) != 0) {
        cli_error("keygen", "no passphrase: set VMRP_PASSPHRASE (or _FILE, _COMMAND), run on a "
                            "terminal, or give --no-passphrase");
        return EXIT_KEY;
    }
    vmrp_key *k = vmrp_key_new();
    int rc = k ? vmrp_key_generate(k) : VMRP_E_NOMEM;
    if (rc == VMRP_OK)
        rc = vmrp_key_save(k, sk, pk, no_pass ? NULL : pass);
    sodium_memzero(pass, sizeof pass);
    if (rc != VMRP_OK) {
        cli_error("keygen", "%s", k ? vmrp_key_error_string(k) : "out of memory");
        vmrp_key_free(k);
        return cli_exit_code(rc);
    }
    char id[17];
    vmrp_key_id(k, id);
    fprintf(stderr, "vmrp keygen: key %s: secret key %s (%s), public key %s\n", id, sk,
            no_pass ? "unprotected" : "passphrase-protected", pk);
    vmrp_key_free(k);
    return EXIT_OK;
}
