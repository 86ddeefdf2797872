/*
 * worker_args.h - the command line of `sitq worker`: its usage text, its
 * options and their parsing (no side effects beyond messages).
 */
#ifndef SITQ_CLI_WORKER_ARGS_H
#define SITQ_CLI_WORKER_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "http_addr.h"
#include "sitq.h"
#include "worker_env.h"

/** Usage text of `sitq worker` (printed by --help). */
extern const char WORKER_USAGE[];

/** Parsed worker options. */
typedef struct worker_args {
    const char *queue;                          /* queues[0] */
    const char *queues[SITQ_WORKER_QUEUES_MAX]; /* --queue, in priority order */
    size_t n_queues;
    sitq_worker_options wopts; /* --queue-order, --burst, --burst-eta-bound among them */
    int64_t max_tasks;
    double stop_timeout_s;
    double kill_grace_s;
    int quiet;
    uint64_t max_result;         /* --max-result, bytes */
    int truncate_result;         /* --truncate-result */
    const char *metrics_address; /* --metrics-address; NULL: no metrics server */
    http_addr metrics_addr;      /* --metrics-address parsed (cmd_worker) */
    const char *db;
    sitq_sqlite_options store; /* --mode, --allow-foreign, --busy-timeout */
    worker_env env;            /* the commands' environment; worker_env_free it */
} worker_args;

/** The default of --max-result: 16 MiB (results grow their buffer on demand). */
#define WORKER_MAX_RESULT_DEFAULT (UINT64_C(16) << 20)

/**
 * Fill *a with the defaults, then parse argv (argv[0] = "worker") into it.
 * Pointers in *a point into argv; a->env owns memory: release it with
 * worker_env_free whatever the result. Returns -1 when the worker should run,
 * otherwise the exit code to return at once (0 after --help,
 * CLI_EXIT_USAGE after a message naming the bad argument).
 * Not thread-safe (getopt_long state).
 */
int worker_args_parse(int argc, char **argv, worker_args *a);

/**
 * Check a->max_result against blob_max, the largest result the opened
 * database stores (sitq_backend_blob_max). Returns 0, or -1 after printing
 * a usage error for subcommand `cmd` (exit with CLI_EXIT_USAGE).
 */
int worker_args_check_result(const char *cmd, const worker_args *a, size_t blob_max);

#endif /* SITQ_CLI_WORKER_ARGS_H */
