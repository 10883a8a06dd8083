/* commands.h - one entry point per subcommand, dispatched from vmrp.c. */
#ifndef VMRP_COMMANDS_H
#define VMRP_COMMANDS_H

int cmd_pack(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_repair(int argc, char **argv);

extern const char pack_usage[];
extern const char inspect_usage[];
extern const char verify_usage[];
extern const char restore_usage[];
extern const char keygen_usage[];
extern const char repair_usage[];

#endif
