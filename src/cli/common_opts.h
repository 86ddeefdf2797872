/*
 * common_opts.h - option parsing shared by the inspection and management
 * subcommands (stats, list, show, wait, cancel, retry, purge).
 */
#ifndef SITQ_CLI_COMMON_OPTS_H
#define SITQ_CLI_COMMON_OPTS_H

#include <stdint.h>

#include "sitq.h"

/** Options a subcommand accepts beyond --queue, --json and --help. */
enum common_opt_flags {
    COPT_STATUS = 1 << 0,     /**< --status S */
    COPT_LIMIT = 1 << 1,      /**< --limit N and --offset N */
    COPT_TIMEOUT = 1 << 2,    /**< --timeout S */
    COPT_OLDER_THAN = 1 << 3, /**< --older-than S */
    COPT_VALUE = 1 << 4,      /**< --value */
    COPT_DEPS = 1 << 6,       /**< --deps */
    COPT_JSONL = 1 << 7,      /**< --jsonl */
    COPT_FILTER = 1 << 8,     /**< --function F, --since T, --until T */
    COPT_DRY_RUN = 1 << 9,    /**< --dry-run */
    COPT_WORKER = 1 << 10,    /**< --worker ID */
    COPT_ALL = 1 << 11,       /**< --all */
    COPT_PAGE = 1 << 12,      /**< --before ID and --scan-limit N */
    COPT_COUNT_CAP = 1 << 13, /**< --count-cap N */
    COPT_WRITE = 1 << 5       /**< the command writes, so the database is
                                   opened read-write (others open it read-only),
                                   and --busy-timeout S bounds its lock waits */
};

/** Parsed options and positional arguments. */
typedef struct common_opts {
    const char *queue;      /**< --queue; default "default" */
    int queue_given;        /**< 1 when --queue was given */
    int jsonl;              /**< --jsonl: one JSON object per line */
    int json;               /**< --json */
    int value_only;         /**< --value: print only the raw result bytes */
    int deps;               /**< --deps: print the dependency tree */
    int status;             /**< --status; SITQ_STATUS_ANY by default */
    int64_t limit;          /**< --limit */
    int64_t offset;         /**< --offset */
    double timeout_s;       /**< --timeout; < 0 = forever */
    double older_than_s;    /**< --older-than */
    const char *db;         /**< positional DB */
    sitq_task_id id;        /**< positional ID when given (0: none) */
    const char *function;   /**< --function; NULL: any */
    sitq_time_us since_us;  /**< --since; 0: no bound */
    sitq_time_us until_us;  /**< --until; 0: no bound */
    int status_given;       /**< 1 when --status was given */
    int dry_run;            /**< --dry-run */
    const char *worker_id;  /**< --worker; NULL: any */
    int all;                /**< --all */
    sitq_task_id before_id; /**< --before; 0: no bound */
    int64_t scan_limit;     /**< --scan-limit; LIST_SCAN_DEFAULT by default */
    int64_t count_cap;      /**< --count-cap; 0 (exact counts) by default */
    int busy_timeout_ms;    /**< --busy-timeout in ms; -1 (the library's 30 s) by default */
} common_opts;

/** want_id of common_opts_parse: an ID may follow DB (cancel, retry). */
#define COPT_ID_OPTIONAL 2

/**
 * Parse argv for subcommand argv[0]. `flags` selects the extra options;
 * `want_id` is 1 when an ID follows DB, COPT_ID_OPTIONAL when it may. `usage` is printed for --help.
 * Returns -1 when the command should go on, otherwise the exit code to
 * return at once (0 after --help, CLI_EXIT_USAGE after an error).
 */
int common_opts_parse(int argc, char **argv, unsigned flags, int want_id, const char *usage,
                      common_opts *o);

/** A subcommand body: runs on the open queue with a zeroed err; returns an exit code. */
typedef int (*common_cmd_fn)(const char *cmd, const common_opts *o, sitq_queue *queue,
                             sitq_error *err);

/**
 * common_opts_parse, then (for COPT_VALUE) reject --json or --deps with
 * --value, then
 * open o->db (which must exist) and o->queue, check that a queue named by
 * --queue exists (cli_db_check_queue), run fn on it and close it.
 * Returns the exit code.
 */
int common_opts_run(int argc, char **argv, unsigned flags, int want_id, const char *usage,
                    common_cmd_fn fn);

/** Print a usage text on stdout and return CLI_EXIT_OK. */
int print_usage(const char *usage);

#endif /* SITQ_CLI_COMMON_OPTS_H */
