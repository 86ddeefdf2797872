/*
 * db.h - opening the database file and queue named on the command line.
 */
#ifndef SITQ_CLI_DB_H
#define SITQ_CLI_DB_H

#include "sitq.h"

/** An open backend and one queue handle on it. */
typedef struct cli_db {
    sitq_backend *backend;
    sitq_queue *queue;
} cli_db;

/** How cli_db_open treats a database file that does not exist yet. */
enum cli_db_mode {
    CLI_DB_MUST_EXIST = 0, /**< inspection commands: a missing file is an error */
    CLI_DB_CREATE = 1      /**< enqueue/worker: create the file */
};

/**
 * Open `path` and the queue `queue_name` (NULL: "default") into *db.
 * readers: reader connections of the SQLite backend (0 for short-lived commands).
 * Returns CLI_EXIT_OK, or an exit code after printing an error for `cmd`.
 */
int cli_db_open(const char *cmd, const char *path, const char *queue_name, enum cli_db_mode mode,
                int readers, cli_db *db);

/** Close the queue and backend of db (either may be NULL). */
void cli_db_close(cli_db *db);

/**
 * Load and decode the command of a shell task r into *argv (one malloc'd
 * block, free with free()) and *argc. Tasks of other functions, unreadable
 * or malformed payloads give *argv NULL and *argc 0.
 */
void cli_load_command(sitq_queue *queue, const sitq_result *r, char ***argv, int *argc);

#endif /* SITQ_CLI_DB_H */
