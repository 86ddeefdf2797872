/* sqlite_limit_claim.c - what the limited claim (core/limit_claim.c) asks
 * of SQLite, inside the cycle's write transaction: the queue's limit rows,
 * running counts (through the running index), the claim of one function or
 * of the others, and the rates' next start times. The write transaction
 * holds SQLite's one write lock, so rows need no lock of their own. */
#include "sq.h"
#include "../../core/limit_claim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sitq_code running(void *arg, const char *queue, const char *function, int64_t *n,
                         sitq_error *err) {
    const sq_claim_arg *a = arg;
    sqlite3_stmt *st =
        sq_stmt(a->c, function ? ST_LIMIT_RUNNING_FUNCTION : ST_LIMIT_RUNNING_QUEUE, err);
    if (!st) return SITQ_ESTORAGE;
    sq_bind_text(st, 1, queue);
    if (function) sq_bind_text(st, 2, function);
    int rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? SITQ_OK : sq_fail(a->c, err, "counting running tasks");
}

/* A JSON array of names (the claim's json_each), malloc'd; NULL when out
 * of memory. Names are valid UTF-8 (checked at enqueue and at set_limit):
 * only quotes, backslashes and control bytes need escaping. */
static char *json_array(const char *const *names, size_t n) {
    size_t cap = 3;
    for (size_t i = 0; i < n; i++) cap += strlen(names[i]) * 6 + 3;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    size_t o = 0;
    buf[o++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) buf[o++] = ',';
        buf[o++] = '"';
        for (const char *s = names[i]; *s; s++) {
            unsigned char ch = (unsigned char)*s;
            if (ch == '"' || ch == '\\') buf[o++] = '\\';
            if (ch < 0x20) o += (size_t)sprintf(buf + o, "\\u%04x", ch);
            else buf[o++] = (char)ch;
        }
        buf[o++] = '"';
    }
    buf[o++] = ']';
    buf[o] = '\0';
    return buf;
}

static sitq_code claim(void *arg, sitq__cycle *cy, size_t qi, size_t limit, const char *function,
                       const char *const *excluded, size_t n_excluded, sitq_error *err) {
    const sq_claim_arg *a = arg;
    char *only = function ? json_array(&function, 1) : NULL;
    char *excl = json_array(excluded, n_excluded);
    sqlite3_stmt *st = NULL;
    sitq_code rc = SITQ_OK;
    if ((function && !only) || !excl)
        rc = sitq__fail(err, SITQ_ENOMEM, "out of memory claiming under limits");
    else if (!(st = sq_stmt(a->c, ST_CLAIM_LIMITED, err))) rc = SITQ_ESTORAGE;
    if (!rc) {
        sq_bind_claim(st, a->token, a->lease_until, cy->worker_id, a->now);
        sq_bind_text(st, 5, cy->queues[qi]);
        sq_bind_text(st, 6, function ? only : a->names->functions);
        sq_bind_text(st, 7, function ? "[]" : a->names->prefixes);
        sqlite3_bind_int64(st, 8, (sqlite3_int64)limit);
        sq_bind_text(st, 9, excl);
        rc = sq_read_claimed(a->c, st, cy, a->token, a->lease_until, err);
    }
    free(only);
    free(excl);
    return rc;
}

static sitq_code rate_write(void *arg, const char *queue, const char *function,
                            sitq_time_us next_start_us, sitq_error *err) {
    const sq_claim_arg *a = arg;
    sqlite3_stmt *st = sq_stmt(a->c, ST_LIMIT_RATE_SET, err);
    if (!st) return SITQ_ESTORAGE;
    sq_bind_text(st, 1, queue);
    sq_bind_text(st, 2, function ? function : "");
    sqlite3_bind_int64(st, 3, next_start_us);
    return sq_exec(a->c, st, err, "recording a rate's next start");
}

static const sitq__limit_io sq_limit_io = {running, claim, rate_write};

static void rows_free(sitq__limit_row *rows, size_t n) {
    for (size_t i = 0; i < n; i++) free(rows[i].function);
    free(rows);
}

/* The queue's limit rows (*rows NULL and *n 0 when none). */
static sitq_code read_rows(sq_conn *c, const char *queue, sitq__limit_row **rows, size_t *n,
                           sitq_error *err) {
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = sq_stmt(c, ST_LIMITS_READ, err);
    if (!st) return SITQ_ESTORAGE;
    sq_bind_text(st, 1, queue);
    size_t cap = 0;
    int rc;
    sitq_code code = SITQ_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && !code) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 4;
            sitq__limit_row *r = realloc(*rows, nc * sizeof *r);
            if (!r) {
                code = sitq__fail(err, SITQ_ENOMEM, "out of memory reading limits");
                break;
            }
            *rows = r;
            cap = nc;
        }
        sitq__limit_row *r = &(*rows)[(*n)++];
        const char *f = (const char *)sqlite3_column_text(st, 0);
        r->function = f && *f ? strdup(f) : NULL;
        if (f && *f && !r->function) code = sitq__fail(err, SITQ_ENOMEM, "out of memory");
        r->paused = sqlite3_column_int(st, 1) != 0;
        r->concurrency = sqlite3_column_int64(st, 2);
        r->rate_count = sqlite3_column_int64(st, 3);
        r->rate_interval_us = sqlite3_column_int64(st, 4);
        r->next_start_us = sqlite3_column_int64(st, 5);
    }
    if (!code && rc != SQLITE_DONE && rc != SQLITE_ROW) code = sq_fail(c, err, "reading limits");
    sqlite3_reset(st);
    if (code) {
        rows_free(*rows, *n);
        *rows = NULL;
        *n = 0;
    }
    return code;
}

sitq_code sq_claim_limited(sq_claim_arg *a, sitq__cycle *cy, size_t qi, size_t limit,
                           sitq_error *err) {
    sitq__limit_row *rows = NULL;
    size_t n = 0;
    sitq_code rc = read_rows(a->c, cy->queues[qi], &rows, &n, err);
    if (!rc && n > 0)
        rc = sitq__limited_claim(&sq_limit_io, a, cy, qi, limit, rows, n, a->now, &a->wake_us, err);
    rows_free(rows, n);
    return rc;
}
