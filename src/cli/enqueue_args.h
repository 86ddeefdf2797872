/*
 * enqueue_args.h - the command line of `sitq enqueue`: its usage text, its
 * options and their parsing (no side effects beyond messages).
 */
#ifndef SITQ_CLI_ENQUEUE_ARGS_H
#define SITQ_CLI_ENQUEUE_ARGS_H

#include <stddef.h>

#include "sitq.h"

/** Usage text of `sitq enqueue` (printed by --help). */
extern const char ENQUEUE_USAGE[];

/** Parsed enqueue options. */
typedef struct enqueue_args {
    const char *queue;
    int json;
    sitq_task_options opts;
    sitq_task_id *after;
    size_t n_after;
    unsigned shell_opts;       /* SHELL_OPT_ bits (shell_payload.h): --stdin-from-deps */
    sitq_sqlite_options store; /* --mode, --allow-foreign, --busy-timeout */
} enqueue_args;

/**
 * Fill *a with the defaults, then parse argv (argv[0] = "enqueue") into it;
 * on return -1 the command is argv[optind + 1 ..]. Pointers in *a point into
 * argv, except a->after: malloc'd, owned by the caller (free it whatever
 * the result). Returns -1 when the task should be enqueued, otherwise the
 * exit code to return at once (0 after --help, CLI_EXIT_USAGE after a
 * message naming the bad argument, CLI_EXIT_FAILURE when memory ran out).
 * Not thread-safe (getopt_long state).
 */
int enqueue_args_parse(int argc, char **argv, enqueue_args *a);

#endif /* SITQ_CLI_ENQUEUE_ARGS_H */
