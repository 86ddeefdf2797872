/*
 * diag.c - error reporting of the sitq program.
 */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>

#include "cli.h"

void cli_errorf(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (cmd != NULL && cmd[0] != '\0')
        fprintf(stderr, "sitq %s: ", cmd);
    else
        fputs("sitq: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_exit_for_code(sitq_code code)
{
    switch (code) {
    case SITQ_OK:
        return CLI_EXIT_OK;
    case SITQ_EINVAL:
        return CLI_EXIT_USAGE;
    case SITQ_ESTORAGE:
    case SITQ_ESCHEMA:
    case SITQ_EBUSY:
        return CLI_EXIT_STORAGE;
    case SITQ_ETIMEDOUT:
        return CLI_EXIT_TIMEOUT;
    default:
        return CLI_EXIT_FAILURE;
    }
}

int cli_api_error(const char *cmd, sitq_code code, const sitq_error *err)
{
    const char *msg = (err != NULL && err->message[0] != '\0') ? err->message : "failed";
    cli_errorf(cmd, "%s (%s)", msg, sitq_code_name(code));
    return cli_exit_for_code(code);
}
