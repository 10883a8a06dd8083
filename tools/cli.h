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

/* "vmrp CMD: message" on stderr, control and bidirectional characters
 * escaped (cli_fputs_safe). The last message is kept for cli_json_end(). */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a usage error plus a hint to --help; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Errors as JSON for a command given --json: cli_json_begin() before the
 * command runs; cli_json_end() after it, with its exit status, prints
 * {"ok":false,"error":{"code","exit","message"}} on stdout when the command
 * failed without printing a JSON answer of its own (messages still go to
 * stderr). Returns the status. */
void cli_json_begin(void);
int cli_json_end(int status);

/* No core dumps, for a command that may hold a passphrase, a secret key or
 * decrypted data: not dumpable (which also keeps other users' debuggers
 * out) and a core size limit of 0. */
void cli_no_core_dumps(void);

/* Print s for a person to read: bytes that could change what a terminal
 * shows are escaped, so a name from an archive cannot pass for another or
 * rewrite the line: C0 controls and DEL as \xHH, C1 controls, bidirectional
 * marks, embeddings, overrides and isolates, and line and paragraph
 * separators as \uHHHH, bytes that are not UTF-8 as \xHH, and a backslash
 * as \\. Anything else, UTF-8 text included, is printed as it is. */
void cli_fputs_safe(FILE *f, const char *s);
/* The same into buf (cut to fit); returns buf. */
const char *cli_safe(const char *s, char *buf, size_t size);

/* Progress on stderr unless quiet: a line redrawn 4 times a second on a
 * terminal; elsewhere (a log, a cron mail) one line every
 * VMRP_PROGRESS_INTERVAL seconds (default 30; 0: none). */
typedef struct {
    int enabled, tty;
    double every; /* seconds between lines off a terminal */
    const char *what;
    char item[96]; /* what is being read now ("disk root"), or "" */
    uint64_t total; /* used when the library gives none */
    double start;
    double last;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *what, int quiet);
void cli_progress_set_total(cli_progress *p, uint64_t total);
/* Name what is read from now on (NULL: nothing in particular). */
void cli_progress_item(cli_progress *p, const char *item);
void cli_progress_cb(void *ctx, uint64_t done, uint64_t total);
void cli_progress_done(cli_progress *p);

/* JSON output helpers. json_string escapes what cli_fputs_safe escapes as
 * \uHHHH (bytes that are not UTF-8 become U+FFFD), so the output is valid
 * JSON and shows no control character when printed. */
void json_string(FILE *f, const char *s);
/* The names of a point's excluded disks, as a JSON array. */
void json_excluded_disks(FILE *f, const vmrp_point_info *p);
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

/* Read a whole small file (config, JSON) with a size cap: a regular file,
 * or a pipe, a FIFO or a character device read until its end (so that
 * --config <(virsh dumpxml vm) works). A directory is refused. */
int cli_read_file(const char *path, size_t max, char **data, size_t *size, char *err,
                  size_t errlen);

/* Open an archive that is read by random access (inspect, restore): a
 * regular file or a block device. Anything else (a FIFO, a character
 * device, a socket, a directory) is refused at once with EXIT_RUNTIME and a
 * message that says what it is, rather than waiting on it. The reader is
 * opened on *fd, which the caller closes, when it is not -1, after freeing
 * the reader. Messages are printed; returns an exit code. */
int cli_open_archive(const char *cmd, vmrp_reader *r, const char *path, int *fd);
/* "a FIFO", "a character device", ... for messages. */
const char *cli_file_kind(unsigned mode);

#endif
