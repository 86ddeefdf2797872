/*
 * store_opts.h - the storage options of the commands that may create the
 * database file (enqueue, worker): --allow-foreign, --mode, --busy-timeout.
 */
#ifndef SITQ_CLI_STORE_OPTS_H
#define SITQ_CLI_STORE_OPTS_H

#include "sitq.h"

/** getopt_long values of the storage options (outside the char range). */
enum store_opt_id { STORE_OPT_ALLOW_FOREIGN = 0x1001, STORE_OPT_MODE, STORE_OPT_BUSY_TIMEOUT };

/** The `struct option` entries of the storage options, for an option table. */
#define STORE_OPTIONS                                                                              \
    {"allow-foreign", no_argument, NULL, STORE_OPT_ALLOW_FOREIGN},                                 \
        {"mode", required_argument, NULL, STORE_OPT_MODE}, {                                       \
        "busy-timeout", required_argument, NULL, STORE_OPT_BUSY_TIMEOUT                            \
    }

/** Usage lines of the storage options. */
#define STORE_USAGE                                                                                \
    "      --mode OCTAL        permissions of a database file this command creates\n"              \
    "                          (default 0600: only its owner can read or write it;\n"              \
    "                          0: follow the umask)\n"                                             \
    "      --allow-foreign     add sitq's tables to a database that holds another\n"               \
    "                          application's tables (refused by default)\n"                        \
    "      --busy-timeout S    wait up to S seconds for a lock another process holds\n"            \
    "                          (default 30)\n"

/**
 * Apply getopt_long result `c` with argument `arg` to *o when it is a
 * storage option. Returns 1 when handled, 0 when `c` is not a storage
 * option, -1 after printing an error for `cmd` (bad value).
 */
int store_opt_parse(const char *cmd, int c, const char *arg, sitq_sqlite_options *o);

/**
 * Parse the value of --busy-timeout (seconds, 0..2147483, a duration with
 * or without a unit) into *ms, milliseconds. Returns 0, or -1 after printing
 * an error for `cmd`. Also used by the commands of common_opts.h.
 */
int store_parse_busy_timeout(const char *cmd, const char *arg, int *ms);

#endif /* SITQ_CLI_STORE_OPTS_H */
