/* cli.h - what the subcommands share: exit codes, messages, progress,
 * JSON output. Format logic lives in libvmrp, never here. */
#ifndef VMRP_CLI_H
#define VMRP_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "vmrp.h"

/* Exit codes of DESIGN.md section 5; scripts depend on them. */
enum {
    EXIT_OK = 0,
    EXIT_DAMAGED = 1,
    EXIT_USAGE = 2,
    EXIT_RUNTIME = 3,
    EXIT_KEY = 4,
    EXIT_LOCKED = 5
};

/* The one place that maps library errors to exit codes. */
int cli_exit_code(int vmrp_rc);

/* "vmrp CMD: message" on stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a usage error plus a hint to --help; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Progress meter on stderr, only when it is a terminal and not quiet. */
typedef struct {
    int enabled;
    const char *what;
    double start;
    double last;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *what, int quiet);
void cli_progress_cb(void *ctx, uint64_t done, uint64_t total);
void cli_progress_done(cli_progress *p);

/* JSON output helpers. */
void json_string(FILE *f, const char *s);
void json_uuid(FILE *f, const unsigned char id[16]);
void json_time(FILE *f, int64_t time_us);
void json_hex(FILE *f, const unsigned char *bytes, size_t n);

/* "64K", "1M", "4096" -> bytes; 0 on success. */
int cli_parse_size(const char *s, uint64_t *out);
/* Human-readable size ("1.5 GiB"). */
const char *cli_human(uint64_t bytes, char buf[32]);

/* Load a key for a subcommand; on failure prints the message and returns
 * the exit code (the key is then NULL). A key of the wrong kind is refused
 * with EXIT_KEY, naming the file and the option:
 *   public_key  --pubkey      signing public key
 *   secret_key  --sign        signing secret key
 *   identity    --identity    encryption secret key
 *   recipient   --recipient   encryption public key (not a secret key file) */
int cli_load_public_key(const char *cmd, const char *path, vmrp_key **out);
int cli_load_secret_key(const char *cmd, const char *path, vmrp_key **out);
int cli_load_identity(const char *cmd, const char *path, vmrp_key **out);
int cli_load_recipient(const char *cmd, const char *path, vmrp_key **out);

/* A new reader that, when pubkey_path is not NULL, requires every commit to
 * be signed by that key, and opens an encrypted archive with the identity
 * file or a passphrase (from the environment, or when prompt is set also a
 * terminal). Returns an exit code; on success *r, *key and *identity (NULL
 * when not given) belong to the caller. */
int cli_reader_new(const char *cmd, const char *pubkey_path, const char *identity_path,
                   int prompt, vmrp_reader **r, vmrp_key **key, vmrp_key **identity);
/* A key id as minisign prints it: its 8 bytes read as a little-endian u64. */
uint64_t cli_key_id_value(const unsigned char id[8]);

/* Read a whole small file (config, JSON) with a size cap. */
int cli_read_file(const char *path, size_t max, char **data, size_t *size, char *err,
                  size_t errlen);

#endif
