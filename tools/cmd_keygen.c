/* cmd_keygen.c - vmrp keygen: an Ed25519 signing key pair in minisign's
 * formats, or with --encryption an X25519 key pair for encrypted archives. */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "cli.h"
#include "commands.h"
#include "passphrase.h"

const char keygen_usage[] =
    "usage: vmrp keygen [--encryption] --secret-key FILE --public-key FILE [--no-passphrase]\n\n"
    "Makes an Ed25519 signing key pair in minisign's formats (keys made by\n"
    "'minisign -G' work too), for pack --sign and --pubkey. With --encryption it\n"
    "makes an X25519 encryption key pair instead: the public key for\n"
    "pack --recipient, the secret key for --identity. The secret key file is\n"
    "created with mode 0600 and protected by a passphrase (scrypt, as minisign\n"
    "does) taken from VMRP_PASSPHRASE, VMRP_PASSPHRASE_FILE,\n"
    "VMRP_PASSPHRASE_COMMAND or a prompt; --no-passphrase stores it unprotected.\n"
    "Existing files are never replaced: they are refused before a passphrase is asked.\n";

int cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"secret-key", required_argument, 0, 's'}, {"public-key", required_argument, 0, 'p'},
        {"no-passphrase", no_argument, 0, 'n'},    {"encryption", no_argument, 0, 'e'},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
    const char *sk = NULL, *pk = NULL;
    int no_pass = 0, encryption = 0, c;
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
            encryption = 1;
            break;
        case 'h':
            fputs(keygen_usage, stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("keygen", "unknown option");
        }
    }
    if (!sk || !pk || optind != argc)
        return cli_usage_error("keygen", "give --secret-key FILE and --public-key FILE");
    /* Refused now rather than after a passphrase was asked (twice) and
     * derived; the files are still created with O_EXCL, so one that
     * appears meanwhile is not replaced either. */
    const char *paths[2] = {sk, pk};
    for (int i = 0; i < 2; i++) {
        struct stat st;
        if (lstat(paths[i], &st) == 0) {
            cli_error("keygen", "%s: exists; refusing to replace a key", paths[i]);
            return cli_exit_code(VMRP_E_EXISTS);
        }
    }
    char pass[1024];
    if (!no_pass && passphrase_new(sk, pass, sizeof pass) != 0) {
        cli_error("keygen", "no passphrase: set VMRP_PASSPHRASE (or _FILE, _COMMAND), run on a "
                            "terminal, or give --no-passphrase");
        return EXIT_KEY;
    }
    vmrp_key *k = vmrp_key_new();
    int rc = VMRP_E_NOMEM;
    if (k)
        rc = encryption ? vmrp_key_generate_encryption(k) : vmrp_key_generate(k);
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
    fprintf(stderr, "vmrp keygen: %s %s: secret key %s (%s), public key %s\n",
            encryption ? "encryption key" : "key", id, sk,
            no_pass ? "unprotected" : "passphrase-protected", pk);
    vmrp_key_free(k);
    return EXIT_OK;
}
