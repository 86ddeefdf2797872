/* sqlite_file.c - what an open may do to the database file: create it with
 * its mode, tell a sitq database from an empty or a foreign one before any
 * pragma can change it, set the journal mode only when it differs, and open
 * a read-only copy that no process can be writing as immutable. */
#include "sq.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_memory(const sq_backend *b) { return strcmp(b->path, ":memory:") == 0; }

/* An existing path that is not a regular file is refused before SQLite
 * opens it: reading a FIFO blocks for ever, and a device (/dev/null) would
 * get a -journal file beside it. */
static sitq_code check_kind(const sq_backend *b, const struct stat *st, sitq_error *err) {
    if (S_ISDIR(st->st_mode))
        return sitq__fail(err, SITQ_ESTORAGE, "cannot open database %s: it is a directory",
                          b->path);
    if (!S_ISREG(st->st_mode))
        return sitq__fail(err, SITQ_ESTORAGE,
                          "cannot open database %s: it is not a regular file (a %s)", b->path,
                          S_ISFIFO(st->st_mode)   ? "FIFO"
                          : S_ISSOCK(st->st_mode) ? "socket"
                                                  : "device");
    return SITQ_OK;
}

sitq_code sq_file_prepare(sq_backend *b, sitq_error *err) {
    if (is_memory(b)) return SITQ_OK;
    struct stat st;
    if (!b->opts.create || b->opts.read_only) {
        if (stat(b->path, &st) != 0)
            return sitq__fail(err, SITQ_ESTORAGE, "cannot open database %s: %s", b->path,
                              strerror(errno));
        return check_kind(b, &st, err);
    }
    /* Create the file ourselves so that it gets the asked mode whatever the
     * umask (SQLite would use 0644 minus the umask); SQLite takes an empty
     * file as an empty database and gives -wal/-shm the file's mode. */
    mode_t mode = b->opts.file_mode ? (mode_t)b->opts.file_mode : 0666;
    int fd = open(b->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST) {                           /* an existing file: classified later */
            if (stat(b->path, &st) != 0) return SITQ_OK; /* gone meanwhile: SQLite says */
            return check_kind(b, &st, err);
        }
        return sitq__fail(err, SITQ_ESTORAGE, "cannot create database %s: %s", b->path,
                          strerror(errno));
    }
    int rc = b->opts.file_mode ? fchmod(fd, mode) : 0;
    int saved = errno;
    close(fd);
    if (rc != 0)
        return sitq__fail(err, SITQ_ESTORAGE, "cannot set mode %04o on database %s: %s",
                          (unsigned)mode, b->path, strerror(saved));
    return SITQ_OK;
}

/* The path of the file beside the database with suffix ("-wal", "-shm"):
 * malloc'd, NULL when out of memory. */
static char *side_path(const sq_backend *b, const char *suffix) {
    size_t n = strlen(b->path) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s", b->path, suffix);
    return p;
}

/* An open for writing of a file this process may only read: SQLite opens it
 * read-only without a word, and every write would then fail (a worker would
 * retry for ever). So would a -wal or -shm beside it that this process cannot
 * write, such as those a reader left while the file itself was read-only. */
static sitq_code check_writable(sq_backend *b, sq_conn *c, sitq_error *err) {
    if (is_memory(b)) return SITQ_OK;
    if (sqlite3_db_readonly(c->db, "main") == 1)
        return sitq__fail(err, SITQ_ESTORAGE,
                          "cannot open database %s for writing: the file is read-only to this "
                          "process (%s); a read-only file, directory or mount can only be "
                          "inspected",
                          b->path, access(b->path, W_OK) == 0 ? "read-only" : strerror(errno));
    sitq_code rc = SITQ_OK;
    for (int i = 0; i < 2 && !rc; i++) {
        char *side = side_path(b, i ? "-shm" : "-wal");
        if (!side) return sitq__fail(err, SITQ_ENOMEM, "out of memory opening %s", b->path);
        if (access(side, W_OK) != 0 && errno != ENOENT)
            rc = sitq__fail(err, SITQ_ESTORAGE,
                            "cannot open database %s for writing: %s beside it cannot be "
                            "written by this process (%s); when no process has the database "
                            "open, give it the database's owner and mode, or remove it",
                            b->path, side, strerror(errno));
        free(side);
    }
    return rc;
}

sitq_code sq_file_check(sq_backend *b, sq_conn *c, sitq_error *err) {
    /* One read transaction: it also makes the connection notice a WAL file,
     * so that the journal mode read afterwards is the file's. */
    static const char sql[] =
        "SELECT (SELECT count(*) FROM sqlite_master),"
        " (SELECT count(*) FROM sqlite_master WHERE type = 'table'"
        "  AND name IN ('sitq_tasks', 'sitq_meta')),"
        " (SELECT name FROM sqlite_master WHERE name NOT LIKE 'sitq%' ORDER BY name LIMIT 1),"
        /* An application that stamped the file (application_id, user_version)
         * owns it, even while it holds no table yet. */
        " (SELECT application_id FROM pragma_application_id),"
        " (SELECT user_version FROM pragma_user_version)";
    sqlite3_stmt *st = NULL;
    b->file_rc = SQLITE_OK;
    /* Before the read, which would create a -wal and -shm beside the file. */
    sitq_code rc_w = b->opts.read_only ? SITQ_OK : check_writable(b, c, err);
    if (rc_w) return rc_w;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        b->file_rc = sqlite3_extended_errcode(c->db);
        sqlite3_finalize(st);
        if ((b->file_rc & 0xff) == SQLITE_NOTADB)
            return sitq__fail(err, SITQ_ESTORAGE, "%s is not a SQLite database (%s)", b->path,
                              sqlite3_errmsg(c->db));
        int code = b->file_rc & 0xff;
        if (!b->opts.read_only && (code == SQLITE_READONLY || code == SQLITE_CANTOPEN))
            return sitq__fail(err, SITQ_ESTORAGE,
                              "cannot open database %s for writing: %s (SQLite code %d); a "
                              "read-only file, directory or mount can only be inspected",
                              b->path, sqlite3_errmsg(c->db), b->file_rc);
        return sq_fail(c, err, "reading the list of tables");
    }
    int64_t objects = sqlite3_column_int64(st, 0);
    int64_t sitq_tables = sqlite3_column_int64(st, 1);
    char other[80];
    snprintf(other, sizeof other, "%s",
             sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "");
    int stamped = sqlite3_column_int64(st, 3) != 0 || sqlite3_column_int64(st, 4) != 0;
    sqlite3_finalize(st);

    b->file_kind = objects == 0 && !stamped ? SQ_FILE_EMPTY
                   : sitq_tables == 2       ? SQ_FILE_SITQ
                                            : SQ_FILE_FOREIGN;
    if (b->file_kind == SQ_FILE_SITQ) return SITQ_OK;
    if (!b->opts.create || b->opts.read_only) {
        if (b->file_kind == SQ_FILE_EMPTY)
            return sitq__fail(err, SITQ_ESCHEMA, "%s is not a sitq database (it is empty)",
                              b->path);
        return sitq__fail(err, SITQ_ESCHEMA, "%s is not a sitq database (no sitq tables)", b->path);
    }
    if (b->file_kind == SQ_FILE_FOREIGN && !b->opts.allow_foreign && objects == 0)
        return sitq__fail(err, SITQ_ESCHEMA,
                          "%s is not a sitq database: another application marked it as its "
                          "own (PRAGMA application_id or user_version is set) and it was left "
                          "unchanged; sitq adds its tables to such a file only when asked to "
                          "(allow_foreign)",
                          b->path);
    if (b->file_kind == SQ_FILE_FOREIGN && !b->opts.allow_foreign)
        return sitq__fail(err, SITQ_ESCHEMA,
                          "%s is not a sitq database: it holds another application's tables "
                          "(such as '%s') and was left unchanged; sitq adds its tables to such "
                          "a file only when asked to (allow_foreign)",
                          b->path, other[0] ? other : "?");
    return SITQ_OK;
}

sitq_code sq_file_journal_mode(sq_backend *b, sq_conn *c, sitq_error *err) {
    if (is_memory(b)) return SITQ_OK;
    const char *want = b->opts.enable_wal ? "wal" : "delete";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    int same = rc == SQLITE_ROW && sqlite3_column_text(st, 0) &&
               strcmp((const char *)sqlite3_column_text(st, 0), want) == 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return sq_fail(c, err, "reading the journal mode");
    /* Changing the mode takes the write lock: only when it differs. */
    if (same) return SITQ_OK;
    return sq_conn_pragma(
        c, b->opts.enable_wal ? "PRAGMA journal_mode=WAL" : "PRAGMA journal_mode=DELETE", err);
}

/* Append s to the URI in buf (size n, at *len), percent-encoding what a URI
 * path may not hold. Returns 0, or -1 when it does not fit. */
static int uri_append(char *buf, size_t n, size_t *len, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || strchr("/-._~", *p);
        if (*len + 4 > n) return -1;
        if (plain) {
            buf[(*len)++] = (char)*p;
        } else {
            buf[(*len)++] = '%';
            buf[(*len)++] = hex[*p >> 4];
            buf[(*len)++] = hex[*p & 15];
        }
    }
    buf[*len] = '\0';
    return 0;
}

int sq_file_try_immutable(sq_backend *b) {
    int code = b->file_rc & 0xff;
    if (!b->opts.read_only || b->uri || is_memory(b) ||
        (code != SQLITE_CANTOPEN && code != SQLITE_READONLY))
        return 0;
    /* A WAL database needs its -shm, which a read-only directory or mount
     * cannot hold. When there is no -wal either, no process can be writing
     * (a writer would have to create it there): the file can be read as
     * immutable, without locks. */
    size_t plen = strlen(b->path);
    char *wal = side_path(b, "-wal");
    if (!wal) return 0;
    struct stat st;
    int no_wal = stat(wal, &st) != 0 && errno == ENOENT;
    free(wal);
    if (!no_wal) return 0;
    size_t n = 3 * plen + 32;
    char *uri = malloc(n);
    if (!uri) return 0;
    size_t len = 0;
    /* "file:" + an absolute path needs an empty authority ("file:///x"). */
    const char *head = b->path[0] == '/' ? "file://" : "file:";
    memcpy(uri, head, strlen(head) + 1);
    len = strlen(head);
    if (uri_append(uri, n, &len, b->path) != 0 || len + 13 > n) {
        free(uri);
        return 0;
    }
    memcpy(uri + len, "?immutable=1", 13);
    b->uri = uri;
    return 1;
}

sitq_code sq_schema_open(sq_backend *b, sitq_error *err) {
    if (b->file_kind == SQ_FILE_SITQ) {
        /* A read, not a write transaction: an open must not wait for a
         * process that holds (or is stalled holding) the write lock. */
        sqlite3_stmt *st = NULL;
        sq_conn *c = &b->writer;
        int rc = sqlite3_prepare_v2(
            c->db, "SELECT value FROM sitq_meta WHERE key = 'schema_version'", -1, &st, NULL);
        if (rc == SQLITE_OK) rc = sqlite3_step(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            sqlite3_finalize(st);
            return sq_fail(c, err, "reading the schema version");
        }
        char version[32] = "";
        if (rc == SQLITE_ROW && sqlite3_column_text(st, 0))
            snprintf(version, sizeof version, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        if (strcmp(version, sq_schema_version()) == 0) return sq_retention_schema(b, err);
        /* The versions sq_schema_init upgrades. */
        int older = !strcmp(version, "2") || !strcmp(version, "3") || !strcmp(version, "4");
        if (b->opts.read_only && older)
            return sitq__fail(err, SITQ_ESCHEMA,
                              "%s has sitq schema version %s; this sitq upgrades it to version %s "
                              "when it first opens it with write access (for example sitq "
                              "enqueue or a worker)",
                              b->path, version, sq_schema_version());
        if (b->opts.read_only)
            return sitq__fail(err, SITQ_ESCHEMA,
                              "%s has sitq schema version %s; this sitq understands version %s",
                              b->path, version[0] ? version : "(none)", sq_schema_version());
    }
    /* A new, empty or allowed foreign file, or another version: the schema
     * step writes (and judges the version). */
    return sq_schema_init(b, err);
}
