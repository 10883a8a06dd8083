/* passphrase.h - where passphrases come from: VMRP_PASSPHRASE,
 * VMRP_PASSPHRASE_FILE, VMRP_PASSPHRASE_COMMAND, or a prompt on the
 * terminal. Never from the command line, where other users could read it. */
#ifndef VMRP_PASSPHRASE_H
#define VMRP_PASSPHRASE_H

#include <stddef.h>

/* A vmrp_passphrase_fn: fills buf, returns 0, or -1 with no source. */
int passphrase_ask(void *ctx, const char *path, char *buf, size_t size);
/* The environment sources only, never a prompt. */
int passphrase_ask_quietly(void *ctx, const char *path, char *buf, size_t size);
/* 1 when a VMRP_PASSPHRASE* variable is set. */
int passphrase_in_environment(void);
/* For a new key: the same sources; a terminal is asked twice. */
int passphrase_new(const char *what, char *buf, size_t size);

#endif
