/*
 * db.h - opening the database file and queue named on the command line.
 */
#ifndef SITQ_CLI_DB_H
#define SITQ_CLI_DB_H

#include <stddef.h>

#include "sitq.h"

/** An open backend and one queue handle on it. */
typedef struct cli_db {
    sitq_backend *backend;
    sitq_queue *queue;
} cli_db;

/** How cli_db_open opens the database file. */
enum cli_db_mode {
    CLI_DB_READ_ONLY = 0,  /**< stats, list, show, wait: an existing sitq database,
                                opened read-only (works on a read-only file or
                                mount and never waits for the write lock) */
    CLI_DB_MUST_EXIST = 1, /**< cancel, retry, purge: an existing sitq database */
    CLI_DB_CREATE = 2      /**< enqueue/worker: create a missing or empty file */
};

/**
 * Open `path` and the queue `queue_name` (NULL: "default") into *db.
 * readers: reader connections of the SQLite backend (0 for short-lived commands).
 * Returns CLI_EXIT_OK, or an exit code after printing an error for `cmd`.
 */
int cli_db_open(const char *cmd, const char *path, const char *queue_name, enum cli_db_mode mode,
                int readers, cli_db *db);

/**
 * As cli_db_open with the backend options `opts` (read only during the
 * call; its create and read_only fields are set from `mode`). *code, when
 * not NULL, receives the library's code of a failed open (SITQ_OK when the
 * failure came before the library), so that a caller can retry SITQ_EBUSY.
 */
int cli_db_open_opts(const char *cmd, const char *path, const char *queue_name,
                     enum cli_db_mode mode, const sitq_sqlite_options *opts, cli_db *db,
                     sitq_code *code);

/**
 * DB as it may be shown, written into buf of size bytes (cut to fit): every
 * password replaced by "***", a PostgreSQL URI's "user:PASSWORD@" and its
 * "password=" query parameters, and the "password" values of a
 * keyword=value string, quoted or not (src/core/dsn_mask.h, the Python
 * binding's rules); everything else unchanged. Returns buf, NULL when db is
 * NULL, or a static "***" when size is 0 or memory runs out. Thread-safe.
 */
const char *cli_db_display(const char *db, char *buf, size_t size);

/**
 * Check that `queue` is one of the store's queues (sitq_queue_names), for
 * the commands that read or change existing tasks: a queue name that is not
 * there is a typo, not an empty queue. Returns CLI_EXIT_OK, or
 * CLI_EXIT_FAILURE after printing "unknown queue 'Q' (known queues: a, b)"
 * for `cmd`, or the exit code of a failed read.
 */
int cli_db_check_queue(const char *cmd, sitq_backend *backend, const char *queue);

/**
 * Check that db's queue, named `queue`, is known before a command sets
 * something on it (pause, limit, retention): a queue that holds a task
 * (sitq_queue_names) or already has a pause, a limit, a schedule or a
 * retention of its own. Otherwise the name is taken for a typo: prints
 * "unknown queue 'Q' (known queues: a, b); ... add --new-queue" for `cmd`
 * and returns CLI_EXIT_FAILURE (as cli_db_check_queue). Returns CLI_EXIT_OK when known, or the exit
 * code of a failed read (its message printed). Reads only.
 */
int cli_db_check_new_queue(const char *cmd, const cli_db *db, const char *queue);

/**
 * cli_db_check_new_queue for a command that only reads the settings (a
 * schedule list): the same check, without the advice to add --new-queue.
 */
int cli_db_check_set_queue(const char *cmd, const cli_db *db, const char *queue);

/** Close the queue and backend of db (either may be NULL). */
void cli_db_close(cli_db *db);

/**
 * Load and decode the command of a shell task r (of any queue of queue's
 * backend) into *argv (one malloc'd
 * block, free with free()), *argc and *opts (its SHELL_OPT_ bits; opts may
 * be NULL). Tasks of other functions, unreadable or malformed payloads give
 * *argv NULL, *argc 0 and *opts 0.
 */
void cli_load_command(sitq_queue *queue, const sitq_result *r, char ***argv, int *argc,
                      unsigned *opts);

#endif /* SITQ_CLI_DB_H */
