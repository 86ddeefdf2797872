/*
 * diag.h - error messages on stderr and the mapping of sitq_code values to
 * the exit codes of the program.
 */
#ifndef SITQ_CLI_DIAG_H
#define SITQ_CLI_DIAG_H

#include <stdio.h>

#include "sitq.h"

/**
 * Print "sitq CMD: MESSAGE" and a newline on stderr (printf format). The
 * command name and the message are escaped with term_escape, so quoting
 * stored text or arguments is safe.
 */
void cli_errorf(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * Print "sitq worker: MESSAGE" and a newline on log (printf format; escaped
 * with term_escape) and flush it. log NULL (a quiet worker) prints nothing.
 * Thread-safe: one fprintf call per line.
 */
void cli_logf(FILE *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** The exit code (enum cli_exit) that reports an API error `code`. */
int cli_exit_for_code(sitq_code code);

/**
 * Print the message of an API error (err->message when set, else the code's
 * name) for subcommand `cmd` and return the exit code for `code`.
 */
int cli_api_error(const char *cmd, sitq_code code, const sitq_error *err);

#endif /* SITQ_CLI_DIAG_H */
