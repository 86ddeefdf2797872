/*
 * diag.c - error reporting of the sitq program.
 */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "term_escape.h"

/**
 * Format a message and write it escaped (term_escape) after `prefix` as one
 * line on out. Messages quote stored text and the user's arguments, either
 * of which may hold terminal escapes.
 */
static void write_escaped_line(FILE *out, const char *prefix, const char *fmt, va_list ap) {
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    char *safe = term_escape_str(msg, 0);
    fprintf(out, "%s%s\n", prefix, safe != NULL ? safe : "(out of memory formatting a message)");
    free(safe);
    free(msg);
}

void cli_errorf(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *safe_cmd = cmd != NULL && cmd[0] != '\0' ? term_escape_str(cmd, 0) : NULL;
    char prefix[512];
    if (safe_cmd != NULL) snprintf(prefix, sizeof prefix, "sitq %s: ", safe_cmd);
    else snprintf(prefix, sizeof prefix, "sitq: ");
    write_escaped_line(stderr, prefix, fmt, ap);
    free(safe_cmd);
    va_end(ap);
}

void cli_logf(FILE *log, const char *fmt, ...) {
    if (log == NULL) return;
    va_list ap;
    va_start(ap, fmt);
    write_escaped_line(log, "sitq worker: ", fmt, ap);
    va_end(ap);
    fflush(log);
}

int cli_exit_for_code(sitq_code code) {
    switch (code) {
    case SITQ_OK: return CLI_EXIT_OK;
    case SITQ_EINVAL: return CLI_EXIT_USAGE;
    case SITQ_ESTORAGE:
    case SITQ_ESCHEMA:
    case SITQ_EBUSY: return CLI_EXIT_STORAGE;
    case SITQ_ETIMEDOUT: return CLI_EXIT_TIMEOUT;
    default: return CLI_EXIT_FAILURE;
    }
}

int cli_api_error(const char *cmd, sitq_code code, const sitq_error *err) {
    const char *msg = (err != NULL && err->message[0] != '\0') ? err->message : "failed";
    cli_errorf(cmd, "%s (%s)", msg, sitq_code_name(code));
    return cli_exit_for_code(code);
}
