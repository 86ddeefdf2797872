/*
 * shell_deps.h - hand a shell task its dependencies' results: each stored
 * result becomes a file in a private temporary directory (mode 0700, under
 * the worker's $TMPDIR or /tmp), named in environment variables of the
 * command, and optionally their concatenation becomes its stdin.
 *
 * Variables (set for a task with dependencies, so that one without gets
 * exactly the worker's chosen environment; inherited ones named SITQ_DEP*
 * are dropped for every task so that a stale value never leaks in):
 *   SITQ_DEP_COUNT      the number N >= 1 of dependencies
 *   SITQ_DEPS_DIR       the directory holding the files
 *   SITQ_DEP_i          (i = 1..N, in the order declared at enqueue) the file
 *                       holding dependency i's result (empty when it has none)
 *   SITQ_DEP_i_ID       its task id
 *   SITQ_DEP_i_STATUS   succeeded, failed or cancelled (the last two only
 *                       for a finalizer)
 * The three SITQ_DEP_i variables are set for i <= SHELL_DEPS_VARS_MAX only:
 * 3 variables for each of 15,000 dependencies passed the kernel's limit on
 * a command's arguments and environment, and the command could not start.
 * Every dependency's file is $SITQ_DEPS_DIR/i, and $SITQ_DEPS_DIR/index
 * lists each one as a line "i<TAB>id<TAB>status".
 * The results are fetched one at a time, so at most one of them is in memory.
 */
#ifndef SITQ_CLI_SHELL_DEPS_H
#define SITQ_CLI_SHELL_DEPS_H

#include <stddef.h>

#include "sitq.h"

/** Dependencies that get their own SITQ_DEP_i variables (the first ones). */
#define SHELL_DEPS_VARS_MAX 1000

/** What shell_deps_prepare made for one attempt. */
typedef struct shell_deps {
    char *dir;              /**< malloc'd directory path; NULL when there are no dependencies */
    char **env;             /**< the command's environment, NULL-terminated (malloc'd array) */
    char **added;           /**< the strings of env allocated here */
    size_t n_added;         /**< entries of added */
    const char *stdin_path; /**< the file to use as stdin, or NULL (/dev/null) */
    char *stdin_own;        /**< malloc'd path of the concatenation file, or NULL */
} shell_deps;

/**
 * Fetch the running task's dependency results (sitq_ctx_dependency_result),
 * write the files and build d->env from base_env (NULL-terminated; it must
 * outlive d) plus the variables above. With stdin_from_deps, d->stdin_path
 * names a file holding every result in declaration order. Call from the
 * handler's thread. Returns 0, or -1 with a message for the task's error in
 * msg (a dependency that cannot be read, a file that cannot be written, out
 * of memory); d is then already cleaned up.
 */
int shell_deps_prepare(sitq_task_ctx *ctx, char *const *base_env, int stdin_from_deps,
                       shell_deps *d, char *msg, size_t msg_size);

/** Remove the directory with everything in it and free d. Safe on a zeroed d. */
void shell_deps_cleanup(shell_deps *d);

#endif /* SITQ_CLI_SHELL_DEPS_H */
