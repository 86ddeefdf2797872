/*
 * db.c - open/close the database and queue for a subcommand.
 */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "core/dsn_mask.h"
#include "diag.h"
#include "shell_payload.h"

int cli_db_open(const char *cmd, const char *path, const char *queue_name, enum cli_db_mode mode,
                int readers, cli_db *db) {
    sitq_sqlite_options opts;
    sitq_sqlite_options_init(&opts);
    opts.reader_connections = readers;
    return cli_db_open_opts(cmd, path, queue_name, mode, &opts, db, NULL);
}

/* Open the queue on an open backend; closes everything on failure. */
static int open_queue(const char *cmd, const char *queue_name, cli_db *db) {
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code rc = sitq_queue_open(db->backend, queue_name, &db->queue, &err);
    if (rc != SITQ_OK) {
        db->queue = NULL;
        int code = cli_api_error(cmd, rc, &err);
        cli_db_close(db);
        return code;
    }
    return CLI_EXIT_OK;
}

/* A PostgreSQL database: commands other than enqueue and worker never
 * create the schema. The busy timeout (--busy-timeout) is the server's
 * lock_timeout: the wait for a row lock another session holds, the nearest
 * thing to SQLite's file lock; the server takes 1 ms to 1 hour. The URI is
 * not repeated in messages (it may hold a password); libpq's own messages
 * never show it. */
static int open_postgres(const char *cmd, const char *uri, const char *queue_name,
                         enum cli_db_mode mode, const sitq_sqlite_options *base, cli_db *db,
                         sitq_code *code_out) {
    sitq_postgres_options po;
    sitq_postgres_options_init(&po);
    po.create_schema = mode == CLI_DB_CREATE ? 1 : 0;
    po.reader_connections = base->reader_connections > 64 ? 64 : base->reader_connections;
    po.lock_timeout_ms = base->busy_timeout_ms < 1         ? 1
                         : base->busy_timeout_ms > 3600000 ? 3600000
                                                           : base->busy_timeout_ms;
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code rc = sitq_backend_open_postgres(uri, &po, &db->backend, &err);
    if (rc != SITQ_OK) {
        db->backend = NULL;
        if (code_out != NULL) *code_out = rc;
        cli_errorf(cmd, "%s (%s)", err.message, sitq_code_name(rc));
        int code = cli_exit_for_code(rc);
        return code == CLI_EXIT_USAGE ? CLI_EXIT_STORAGE : code;
    }
    return open_queue(cmd, queue_name, db);
}

int cli_db_open_opts(const char *cmd, const char *path, const char *queue_name,
                     enum cli_db_mode mode, const sitq_sqlite_options *base, cli_db *db,
                     sitq_code *code_out) {
    db->backend = NULL;
    db->queue = NULL;
    if (code_out != NULL) *code_out = SITQ_OK;
    if (path == NULL || path[0] == '\0') {
        cli_errorf(cmd, "the database path DB must not be empty");
        return CLI_EXIT_USAGE;
    }
    /* DB may be a PostgreSQL URI instead of a file (as sitq_backend_open
     * reads it); its reader connections follow the SQLite options'. */
    if (strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0)
        return open_postgres(cmd, path, queue_name, mode, base, db, code_out);
    if (strncmp(path, "sqlite:", 7) == 0) {
        path += 7;
        if (strncmp(path, "//", 2) == 0) path += 2;
        if (path[0] == '\0') {
            cli_errorf(cmd, "the sqlite: URI names no database file");
            return CLI_EXIT_USAGE;
        }
    }
    if (strcmp(path, ":memory:") == 0) {
        /* Every command is a process of its own: a task enqueued there would
         * be gone when the command ends, and a worker would find nothing. */
        cli_errorf(cmd, "DB ':memory:' would be a database in this command's memory alone, gone "
                        "when it exits: give a file or a PostgreSQL URI");
        return CLI_EXIT_USAGE;
    }
    if (mode != CLI_DB_CREATE) {
        struct stat st;
        if (stat(path, &st) != 0) {
            /* Worded as the library's own refusals, with their code. */
            cli_errorf(cmd, "cannot open database %s: %s (%s)", path, strerror(errno),
                       sitq_code_name(SITQ_ESTORAGE));
            return CLI_EXIT_STORAGE;
        }
        if (S_ISDIR(st.st_mode)) {
            cli_errorf(cmd, "cannot open database %s: it is a directory (%s)", path,
                       sitq_code_name(SITQ_ESTORAGE));
            return CLI_EXIT_STORAGE;
        }
    }
    sitq_sqlite_options opts = *base;
    /* Commands other than enqueue and worker never create or convert a
     * file; inspection reads only. */
    opts.create = mode == CLI_DB_CREATE ? 1 : 0;
    opts.read_only = mode == CLI_DB_READ_ONLY ? 1 : 0;
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code rc = sitq_backend_open_sqlite(path, &opts, &db->backend, &err);
    if (rc != SITQ_OK) {
        db->backend = NULL;
        if (code_out != NULL) *code_out = rc;
        if (err.message[0] != '\0' && strstr(err.message, path) != NULL)
            cli_errorf(cmd, "%s (%s)", err.message, sitq_code_name(rc));
        else
            cli_errorf(cmd, "cannot open database '%s': %s (%s)", path,
                       err.message[0] ? err.message : "failed", sitq_code_name(rc));
        if (rc == SITQ_ESCHEMA && mode == CLI_DB_CREATE && !opts.allow_foreign &&
            strstr(err.message, "allow_foreign") != NULL)
            cli_errorf(cmd, "pass --allow-foreign to add sitq's tables to this file");
        int code = cli_exit_for_code(rc);
        return code == CLI_EXIT_USAGE ? CLI_EXIT_STORAGE : code;
    }
    return open_queue(cmd, queue_name, db);
}

const char *cli_db_display(const char *db, char *buf, size_t size) {
    if (db == NULL) return NULL;
    if (size == 0) return SITQ__DSN_MASK;
    /* The same rules as the Python binding's PostgresBackend.path. */
    char *masked = sitq__dsn_mask(db);
    if (masked == NULL) return SITQ__DSN_MASK; /* out of memory: show nothing of it */
    snprintf(buf, size, "%s", masked);
    free(masked);
    return buf;
}

/* Append ", name" (or the first name) to the malloc'd list *buf of length
 * *len; returns -1 when out of memory. */
static int append_name(char **buf, size_t *len, const char *name) {
    size_t add = strlen(name) + (*len ? 2 : 0);
    char *b = realloc(*buf, *len + add + 1);
    if (b == NULL) return -1;
    snprintf(b + *len, add + 1, "%s%s", *len ? ", " : "", name);
    *buf = b;
    *len += add;
    return 0;
}

/* Whether queue is among the store's queues (*found); *list receives the
 * malloc'd ", "-joined names ("?" when memory ran out) and *n their count.
 * Returns CLI_EXIT_OK or the exit code of a failed read (printed). */
static int known_queues(const char *cmd, sitq_backend *backend, const char *queue, int *found,
                        char **list, size_t *n) {
    sitq_error err;
    memset(&err, 0, sizeof err);
    char **names = NULL;
    *found = 0;
    *list = NULL;
    *n = 0;
    sitq_code rc = sitq_queue_names(backend, &names, n, &err);
    if (rc != SITQ_OK) return cli_api_error(cmd, rc, &err);
    size_t len = 0;
    int oom = 0;
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(names[i], queue) == 0) *found = 1;
        if (!oom && append_name(list, &len, names[i]) != 0) oom = 1;
    }
    sitq_queue_names_free(names, *n);
    if (oom) {
        free(*list);
        *list = NULL;
    }
    return CLI_EXIT_OK;
}

int cli_db_check_queue(const char *cmd, sitq_backend *backend, const char *queue) {
    int found = 0;
    char *list = NULL;
    size_t n = 0;
    int rc = known_queues(cmd, backend, queue, &found, &list, &n);
    if (rc != CLI_EXIT_OK) return rc;
    if (!found) {
        if (n == 0) cli_errorf(cmd, "unknown queue '%s': the database has no queues yet", queue);
        else cli_errorf(cmd, "unknown queue '%s' (known queues: %s)", queue, list ? list : "?");
    }
    free(list);
    return found ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

/* Whether the queue has a setting of its own stored: a pause or a limit, a
 * schedule, or a retention (*has). Returns CLI_EXIT_OK or the exit code of
 * a failed read (printed). */
static int has_settings(const char *cmd, const cli_db *db, const char *queue, int *has) {
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_limit *l = NULL;
    size_t n = 0;
    sitq_code rc = sitq_queue_limits(db->queue, &l, &n, &err);
    sitq_limits_free(l, n);
    if (rc == SITQ_OK && n == 0) {
        sitq_schedule **s = NULL;
        rc = sitq_schedule_list(db->backend, queue, &s, &n, &err);
        for (size_t i = 0; i < n; i++) sitq_schedule_free(s[i]);
        free(s);
    }
    if (rc == SITQ_OK && n == 0) {
        sitq_retention r;
        rc = sitq_queue_get_retention(db->queue, &r, &err);
        n = rc == SITQ_OK && !r.is_default;
    }
    if (rc != SITQ_OK) return cli_api_error(cmd, rc, &err);
    *has = n > 0;
    return CLI_EXIT_OK;
}

/* cli_db_check_new_queue and cli_db_check_set_queue: hint, the advice
 * after the list of known queues ("" for none). */
static int check_set_queue(const char *cmd, const cli_db *db, const char *queue, const char *hint) {
    int found = 0;
    char *list = NULL;
    size_t n = 0;
    int rc = known_queues(cmd, db->backend, queue, &found, &list, &n);
    if (rc == CLI_EXIT_OK && !found) rc = has_settings(cmd, db, queue, &found);
    if (rc == CLI_EXIT_OK && !found) {
        cli_errorf(cmd, "unknown queue '%s' (known queues: %s)%s", queue,
                   n == 0 ? "none yet"
                   : list ? list
                          : "?",
                   hint);
        rc = CLI_EXIT_FAILURE;
    }
    free(list);
    return rc;
}

int cli_db_check_new_queue(const char *cmd, const cli_db *db, const char *queue) {
    return check_set_queue(cmd, db, queue, "; to set it before its first task, add --new-queue");
}

int cli_db_check_set_queue(const char *cmd, const cli_db *db, const char *queue) {
    return check_set_queue(cmd, db, queue, "");
}

void cli_db_close(cli_db *db) {
    if (db == NULL) return;
    sitq_queue_close(db->queue);
    db->queue = NULL;
    sitq_backend_close(db->backend);
    db->backend = NULL;
}

void cli_load_command(sitq_queue *queue, const sitq_result *r, char ***argv, int *argc,
                      unsigned *opts) {
    *argv = NULL;
    *argc = 0;
    if (opts != NULL) *opts = 0;
    if (r->function == NULL || strcmp(r->function, SHELL_FUNCTION) != 0) return;
    void *payload = NULL;
    size_t len = 0;
    /* A list over every queue holds tasks of other queues than `queue`. */
    sitq_queue *own = NULL;
    if (r->queue != NULL && strcmp(r->queue, sitq_queue_name(queue)) != 0) {
        if (sitq_queue_open(sitq_queue_backend(queue), r->queue, &own, NULL) != SITQ_OK) return;
        queue = own;
    }
    sitq_code rc = sitq_get_payload(queue, r->id, &payload, &len, NULL);
    sitq_queue_close(own);
    if (rc != SITQ_OK) return;
    if (shell_payload_decode(payload, len, argv, argc, opts) != 0) {
        *argv = NULL;
        *argc = 0;
    }
    free(payload);
}
