/* cmd_verify.c - vmrp verify: check every byte of an archive. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"

const char verify_usage[] =
    "usage: vmrp verify ARCHIVE [--pubkey PUBLIC_KEY] [--identity SECRET_KEY]\n"
    "                   [--expect-head HASH] [--min-points N] [--quick] [--json] [--quiet]\n\n"
    "Reads the whole archive ('-' reads stdin) and checks the header, that records\n"
    "tile the file, every record against the hash in its index, every index against\n"
    "its commit, the chain of commits, every point's metadata and block map, and\n"
    "that every stored block decompresses to its identity.\n"
    "Exit 0 when everything holds, 1 with a message naming the point and byte\n"
    "offset when something does not.\n"
    "An encrypted archive is checked without its key as far as that goes: every\n"
    "record against the hashes its commits (and signatures) cover, the structure\n"
    "and the key records. With --identity or a passphrase in VMRP_PASSPHRASE,\n"
    "_FILE or _COMMAND (never a prompt), contents are decrypted and checked too.\n\n"
    "  --pubkey KEY       every commit must be signed by this Ed25519 key\n"
    "                     (minisign public key file); reports the key id\n"
    "  --identity KEY     decrypt an encrypted archive with this encryption key\n"
    "  --expect-head HASH fail unless the last commit's hash is HASH (as printed\n"
    "                     by an earlier verify): detects a rollback\n"
    "  --min-points N     fail when the archive holds fewer than N points\n"
    "  --quick            check every byte against the hashes its commits cover,\n"
    "                     without decompressing blocks: finds media damage, cuts\n"
    "                     and edits (any edit with --pubkey), not a writer that\n"
    "                     stored a block under another block's identity\n"
    "  --json             print {\"ok\", \"points\", \"records\", \"blocks\", \"bytes\",\n"
    "                     \"headHash\", \"signedPoints\", \"keyId\", \"appendInProgress\",\n"
    "                     \"error\", ...}\n"
    "  --quiet   no progress, no summary line\n";

int cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, 0, 'j'},
                                             {"pubkey", required_argument, 0, 'p'},
                                             {"expect-head", required_argument, 0, 'e'},
                                             {"min-points", required_argument, 0, 'm'},
                                             {"quiet", no_argument, 0, 'q'},
                                             {"identity", required_argument, 0, 'i'},
                                             {"quick", no_argument, 0, 'k'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int json = 0, quiet = 0, quick = 0, c;
    const char *pubkey = NULL, *expect_head = NULL, *identity_path = NULL;
    long min_points = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else if (c == 'p')
            pubkey = optarg;
        else if (c == 'e') {
            expect_head = optarg;
            if (strlen(optarg) != 64 || strspn(optarg, "0123456789abcdefABCDEF") != 64)
                return cli_usage_error("verify", "--expect-head takes the 64 hex digits of a head hash");
        } else if (c == 'm') {
            char *end = NULL;
            min_points = strtol(optarg, &end, 10);
            if (!*optarg || *end || min_points < 1 || min_points > 65535)
                return cli_usage_error("verify", "--min-points takes 1..65535, not '%s'", optarg);
        }
        else if (c == 'q')
            quiet = 1;
        else if (c == 'i')
            identity_path = optarg;
        else if (c == 'k')
            quick = 1;
        else if (c == 'h') {
            fputs(verify_usage, stdout);
            return EXIT_OK;
        } else
            return cli_usage_error("verify", "unknown option");
    }
    if (optind != argc - 1)
        return cli_usage_error("verify", optind >= argc ? "ARCHIVE is missing" : "one ARCHIVE only");
    const char *archive = argv[optind];
    vmrp_key *key, *identity;
    vmrp_reader *r;
    int status = cli_reader_new("verify", pubkey, identity_path, 0, &r, &key, &identity);
    if (status != EXIT_OK)
        return status;
    int use_stdin = strcmp(archive, "-") == 0;
    int fd = use_stdin ? STDIN_FILENO : open(archive, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_error("verify", "%s: %s", archive, strerror(errno));
        vmrp_reader_free(r);
        vmrp_key_free(key);
        vmrp_key_free(identity);
        return EXIT_RUNTIME;
    }
#ifdef POSIX_FADV_SEQUENTIAL /* a hint: readahead; not on every system (macOS) */
    if (!use_stdin)
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    cli_progress prog;
    cli_progress_init(&prog, "verify", quiet || json);
    struct stat fst;
    if (!use_stdin && fstat(fd, &fst) == 0 && S_ISREG(fst.st_mode))
        cli_progress_set_total(&prog, (uint64_t)fst.st_size);
    vmrp_reader_set_progress(r, cli_progress_cb, &prog);
    vmrp_reader_set_verify_flags(r, quick ? VMRP_VERIFY_QUICK : 0);
    vmrp_verify_report rep;
    const char *label = use_stdin ? "stdin" : archive;
    int rc = vmrp_reader_verify(r, fd, label, &rep);
    char head[65], policy[256] = "";
    for (int i = 0; i < 32; i++)
        snprintf(head + 2 * i, 3, "%02x", rep.head_hash[i]);
    /* History checks: a validly signed archive cut back to an older commit
     * verifies on its own; only what the caller remembers can tell. */
    if (rc == VMRP_OK && expect_head && strcasecmp(expect_head, head) != 0)
        snprintf(policy, sizeof policy, "head is %s after %u points, not the expected %s "
                 "(rolled back, or a different archive)", head, rep.points, expect_head);
    else if (rc == VMRP_OK && min_points && rep.points < (uint32_t)min_points)
        snprintf(policy, sizeof policy, "holds %u points, fewer than --min-points %ld "
                 "(truncated back to an older state?)", rep.points, min_points);
    if (*policy)
        rc = VMRP_E_CORRUPT;
    cli_progress_done(&prog);
    if (json) {
        printf("{\"ok\":%s,\"archive\":", rc == VMRP_OK ? "true" : "false");
        json_string(stdout, label);
        printf(",\"points\":%u,\"records\":%llu,\"blocks\":%llu,\"bytes\":%llu,"
               "\"committedBytes\":%llu,\"headHash\":",
               rep.points, (unsigned long long)rep.records, (unsigned long long)rep.blocks,
               (unsigned long long)rep.bytes, (unsigned long long)rep.committed_size);
        json_hex(stdout, rep.head_hash, 32);
        printf(",\"signedPoints\":%u,\"keyId\":", rep.signed_points);
        if (rep.signed_points)
            printf("\"%016llX\"", (unsigned long long)cli_key_id_value(rep.signer_key_id));
        else
            printf("null");
        printf(",\"signaturesChecked\":%s,\"encrypted\":%s,\"contentChecked\":%s,"
               "\"appendInProgress\":%s,\"uncommittedBytes\":%llu,\"error\":",
               rep.signatures_checked ? "true" : "false", rep.encrypted ? "true" : "false",
               rep.content_checked ? "true" : "false", rep.append_in_progress ? "true" : "false",
               (unsigned long long)rep.torn_bytes);
        if (rc == VMRP_OK) {
            printf("null}\n");
        } else {
            printf("{\"code\":%d,\"exit\":%d,\"message\":", rc, cli_exit_code(rc));
            json_string(stdout, *policy ? policy : vmrp_reader_error_string(r));
            printf(",\"offset\":%llu,\"point\":%u}}\n", (unsigned long long)rep.error_offset,
                   rep.error_point);
        }
    }
    if (rc != VMRP_OK && *policy) {
        cli_error("verify", "FAILED: %s: %s", label, policy);
    } else if (rc != VMRP_OK) {
        cli_error("verify", "FAILED: %s", vmrp_reader_error_string(r));
    } else if (!quiet && !json) {
        char h[32];
        if (quick)
            printf("%s: OK: %u restore point%s, %llu records checked against their hashes "
                   "(--quick: blocks not decoded), %s read\nhead: ",
                   label, rep.points, rep.points == 1 ? "" : "s",
                   (unsigned long long)rep.records, cli_human(rep.bytes, h));
        else
            printf("%s: OK: %u restore point%s, %llu records, %llu blocks checked, %s read\n"
                   "head: ",
                   label, rep.points, rep.points == 1 ? "" : "s", (unsigned long long)rep.records,
                   (unsigned long long)rep.blocks, cli_human(rep.bytes, h));
        printf("%s\n", head);
        if (rep.signatures_checked)
            printf("signed: every commit by key %016llX (signatures verified)\n",
                   (unsigned long long)cli_key_id_value(rep.signer_key_id));
        else if (rep.signed_points)
            printf("signed: %u of %u commits, %s %016llX (not checked: give --pubkey)\n",
                   rep.signed_points, rep.points,
                   rep.several_signers ? "by several keys, the last" : "by key",
                   (unsigned long long)cli_key_id_value(rep.signer_key_id));
        else
            printf("signed: no\n");
        if (rep.encrypted && rep.content_checked)
            printf("encrypted: yes, contents decrypted and checked\n");
        else if (rep.encrypted && quick)
            printf("encrypted: yes, blocks not decrypted (--quick)\n");
        else if (rep.encrypted)
            printf("encrypted: yes, contents not checked (no key: records checked against "
                   "their hashes only; give --identity or VMRP_PASSPHRASE)\n");
        if (rep.append_in_progress)
            printf("append: in progress by another writer: %s after the last commit, not a "
                   "point yet, not verified\n", cli_human(rep.torn_bytes, h));
    }
    vmrp_reader_free(r);
    vmrp_key_free(key);
    vmrp_key_free(identity);
    if (!use_stdin)
        close(fd);
    return cli_exit_code(rc);
}
