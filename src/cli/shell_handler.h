/*
 * shell_handler.h - a sitq handler that runs "shell" tasks: the payload is an
 * argv (see shell_payload.h) executed with posix_spawnp (PATH search, no
 * shell) in a new process group, stdin from /dev/null or, for a task
 * enqueued with SHELL_OPT_STDIN_DEPS, its dependencies' results. Every
 * command gets its dependencies' results as files named in SITQ_DEP_*
 * variables (shell_deps.h), removed after the attempt.
 *
 * Outcome:
 *   exit status 0  -> success; the result is stdout. When stdout is longer
 *                     than max_stdout it is still read to the end, and the
 *                     attempt fails ("stdout exceeded --max-result N
 *                     bytes; ...") or, with truncate_stdout, succeeds with
 *                     the FIRST max_stdout bytes (a log line says so).
 *   anything else  -> failure; the error message says "exit status N" or
 *                     "killed by signal N (NAME)", the traceback is the LAST
 *                     max_stderr bytes of stderr.
 *   task timeout, cancel request or abort flag -> the whole process group gets
 *                     SIGTERM, then SIGKILL after kill_grace_s; failure.
 * When the command exits, processes it left behind in its process group are
 * sent SIGTERM and then SIGKILL, so a finished task leaves nothing running.
 * Both pipes are read with poll(), so no output volume can deadlock.
 */
#ifndef SITQ_CLI_SHELL_HANDLER_H
#define SITQ_CLI_SHELL_HANDLER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#include "sitq.h"

/** Configuration of shell_handler, passed as its user_data (NULL = defaults). */
typedef struct shell_handler_config {
    size_t max_stdout;           /**< most bytes of stdout a result may have; default 16 MiB
                                    (allocated as the command writes them) */
    int truncate_stdout;         /**< 1: keep the first max_stdout bytes of a longer
                                    stdout; 0 (default): such an attempt fails */
    size_t max_stderr;           /**< bytes of stderr kept as traceback; default 4 KiB */
    double kill_grace_s;         /**< SIGTERM to SIGKILL delay, seconds; default 5 */
    double poll_interval_s;      /**< cancel-flag check period, seconds; default 0.05 */
    const atomic_int *abort_now; /**< optional: non-zero kills running commands at once */
    FILE *log;                   /**< optional: one line per task start and end */
    char *const *envp;           /**< optional: the commands' environment, NULL-terminated
                                    and alive while the handler runs; NULL: the
                                    worker's own. The command is found through the
                                    worker's PATH */
} shell_handler_config;

/** Fill cfg with the defaults listed above. */
void shell_handler_config_init(shell_handler_config *cfg);

/** The sitq_handler_fn of "shell" tasks; user_data is a shell_handler_config* or NULL. */
int shell_handler(sitq_task_ctx *ctx, const void *payload, size_t payload_len, void *user_data);

#endif /* SITQ_CLI_SHELL_HANDLER_H */
