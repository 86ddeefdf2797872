/*
 * cli.h - shared declarations of the sitq command line program:
 * exit codes and the entry points of the subcommands.
 */
#ifndef SITQ_CLI_H
#define SITQ_CLI_H

/** Exit codes of the sitq program (documented in docs/cli.md). */
enum cli_exit {
    CLI_EXIT_OK = 0,         /**< success */
    CLI_EXIT_FAILURE = 1,    /**< operational error: not found, wrong state, ... */
    CLI_EXIT_USAGE = 2,      /**< bad command line */
    CLI_EXIT_STORAGE = 3,    /**< the database cannot be opened or failed */
    CLI_EXIT_TIMEOUT = 4,    /**< wait: the task did not finish in time */
    CLI_EXIT_TASK_FAILED = 5 /**< wait: the task finished failed or cancelled */
};

/** Default number of tasks shown by `sitq list`. */
#define CLI_DEFAULT_LIST_LIMIT 100
/** Default age in seconds of the tasks removed by `sitq purge`. */
#define CLI_DEFAULT_PURGE_AGE_S 86400.0

/*
 * Subcommand entry points. argv[0] is the subcommand name; each returns an
 * exit code from enum cli_exit. `--help` prints the usage and returns 0.
 */

/** `sitq stats DB`: count tasks by status. */
int cmd_stats(int argc, char **argv);
/** `sitq queues DB`: list the queues with their counts by status. */
int cmd_queues(int argc, char **argv);
/** `sitq list DB`: list tasks, newest first. */
int cmd_list(int argc, char **argv);
/** `sitq show DB ID`: print every field of one task. */
int cmd_show(int argc, char **argv);
/** `sitq wait DB ID`: wait until a task finishes, then print it. */
int cmd_wait(int argc, char **argv);
/** `sitq cancel DB ID`: cancel a task. */
int cmd_cancel(int argc, char **argv);
/** `sitq retry DB ID`: run a failed or cancelled task again. */
int cmd_retry(int argc, char **argv);
/** `sitq purge DB`: delete old finished tasks. */
int cmd_purge(int argc, char **argv);
/** `sitq schedule add|list|remove|pause|resume DB ...`: periodic tasks. */
int cmd_schedule(int argc, char **argv);
/** `sitq retention`: show or set a queue's retention of finished tasks. */
int cmd_retention(int argc, char **argv);
/** `sitq pause`, `sitq resume` and `sitq limit` (cmd_limits.c). */
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_limit(int argc, char **argv);
/** `sitq enqueue DB -- COMMAND...`: enqueue a shell-command task. */
int cmd_enqueue(int argc, char **argv);
/** `sitq worker DB`: run a worker executing shell-command tasks. */
int cmd_worker(int argc, char **argv);
/** `sitq bench [OPTIONS]`: execute the sitq_bench program beside sitq (returns only on failure). */
int cmd_bench(int argc, char **argv);
/** `sitq workers`: the registry of workers. */
int cmd_workers(int argc, char **argv);

/** `sitq dashboard DB`: serve the web dashboard (cmd_dashboard.c). */
int cmd_dashboard(int argc, char **argv);
/** `sitq top`: a live view of the store (queues, throughput, workers, failures). */
int cmd_top(int argc, char **argv);

/** `sitq metrics`: the store's metrics in the Prometheus text format. */
int cmd_metrics(int argc, char **argv);

#endif /* SITQ_CLI_H */
