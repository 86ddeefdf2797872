/*
 * bulk.h - the bulk form of `sitq cancel` and `sitq retry`: every task that
 * a filter selects (status, function, time, queue), changed one by one
 * through the library's single-task calls, so that each obeys the same
 * rules as `sitq cancel ID` / `sitq retry ID`.
 */
#ifndef SITQ_CLI_BULK_H
#define SITQ_CLI_BULK_H

#include "common_opts.h"
#include "sitq.h"

/** What a bulk command does to each selected task. */
enum bulk_action { BULK_CANCEL, BULK_RETRY };

/** Tasks read per page: one bounded read, then one short transaction per task. */
#define BULK_PAGE 500

/**
 * Check the bulk options of o for cmd: --status is required (and not
 * "any"), and none of --status, --function, --since, --until, --dry-run
 * goes with a task ID. Returns -1 when o is a single-task command, 0 when
 * it is a valid bulk command, or CLI_EXIT_USAGE after printing an error.
 */
int bulk_check(const char *cmd, const common_opts *o);

/**
 * Run the bulk command: select the tasks of o (every queue unless
 * o->queue_given) in pages of BULK_PAGE, oldest first (a retry then reaches
 * a dependency before its dependents), and cancel or retry each, or with
 * o->dry_run only print what would be done. A task whose state changed in
 * between (a dependent requeued with its dependency, a task that finished)
 * is refused by the library's rules and counted as skipped. Prints one line
 * per task and a summary (o->json: one object). A storage error stops the
 * run (the tasks changed so far stay changed): it is printed to standard
 * error, and the summary still follows, saying that the run stopped (in
 * JSON an "error" object of "code" and "message"). Returns CLI_EXIT_OK, or
 * the exit code of that storage error.
 */
int bulk_run(const char *cmd, const common_opts *o, sitq_backend *backend, enum bulk_action action);

#endif /* SITQ_CLI_BULK_H */
