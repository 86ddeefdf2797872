/*
 * worker_env.h - the environment `sitq worker` gives the commands it runs,
 * from --env-clear, --env NAME[=VALUE] and --env-file FILE.
 *
 * Without any of them, commands inherit the worker's whole environment.
 * --env-clear starts from an empty one; --env NAME=VALUE sets a variable,
 * --env NAME passes the worker's own value of NAME (nothing when unset);
 * --env-file reads NAME=VALUE lines (blank lines and lines starting with '#'
 * are skipped; values are taken literally: no quotes, no expansion). Later
 * settings of a name replace earlier ones.
 */
#ifndef SITQ_CLI_WORKER_ENV_H
#define SITQ_CLI_WORKER_ENV_H

#include <stddef.h>

/** The settings gathered from the command line. */
typedef struct worker_env {
    int used;    /**< any environment option was given */
    int clear;   /**< --env-clear */
    char **vars; /**< "NAME=VALUE" strings, malloc'd, in command-line order */
    size_t n, cap;
    char **envp; /**< built by worker_env_build; NULL-terminated */
} worker_env;

/** Initialise an empty set (commands inherit the worker's environment). */
void worker_env_init(worker_env *e);

/** --env-clear. */
void worker_env_clear(worker_env *e);

/**
 * --env SPEC (NAME=VALUE or NAME). NAME must be a portable variable name
 * ([A-Za-z_][A-Za-z0-9_]*). Returns 0, or -1 after printing an error for
 * subcommand `cmd`.
 */
int worker_env_add(worker_env *e, const char *cmd, const char *spec);

/**
 * --env-file PATH: add every NAME=VALUE line of the file. Returns 0, or -1
 * after printing an error naming the file (and line) for `cmd`.
 */
int worker_env_add_file(worker_env *e, const char *cmd, const char *path);

/**
 * The environment for commands: NULL when no option was given (inherit the
 * worker's), else a NULL-terminated array owned by e (valid until
 * worker_env_free). Returns -1 (and sets *out NULL) when out of memory.
 */
int worker_env_build(worker_env *e, char ***out);

/** Free everything e holds. */
void worker_env_free(worker_env *e);

#endif /* SITQ_CLI_WORKER_ENV_H */
