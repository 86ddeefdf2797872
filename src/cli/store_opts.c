/*
 * store_opts.c - parsing of the storage options (see store_opts.h).
 */
#include "store_opts.h"

#include "args.h"
#include "diag.h"

/** Parse an octal permission value 0..0777 ("0640", "640"). Returns 0 or -1. */
static int parse_mode(const char *cmd, const char *text, int *out) {
    int v = 0;
    int n = 0;
    for (const char *p = text; *p; p++, n++) {
        if (*p < '0' || *p > '7' || n >= 4) {
            cli_errorf(cmd,
                       "invalid value '%s' for --mode: expected octal permission bits "
                       "such as 0600 or 0640 (at most 0777)",
                       text);
            return -1;
        }
        v = v * 8 + (*p - '0');
    }
    if (n == 0 || v > 0777) {
        cli_errorf(cmd,
                   "invalid value '%s' for --mode: expected octal permission bits "
                   "such as 0600 or 0640 (at most 0777)",
                   text);
        return -1;
    }
    *out = v;
    return 0;
}

int store_parse_busy_timeout(const char *cmd, const char *arg, int *ms) {
    double s = 0;
    if (arg_parse_duration(cmd, "--busy-timeout", arg, 0.0, 2147483.0, &s) != 0) return -1;
    *ms = (int)(s * 1000.0 + 0.5);
    return 0;
}

int store_opt_parse(const char *cmd, int c, const char *arg, sitq_sqlite_options *o) {
    switch (c) {
    case STORE_OPT_ALLOW_FOREIGN: o->allow_foreign = 1; return 1;
    case STORE_OPT_MODE: return parse_mode(cmd, arg, &o->file_mode) == 0 ? 1 : -1;
    case STORE_OPT_BUSY_TIMEOUT:
        return store_parse_busy_timeout(cmd, arg, &o->busy_timeout_ms) == 0 ? 1 : -1;
    default: return 0;
    }
}
