/* pg_workers.c - the registry of workers in PostgreSQL. Its rows are the
 * rows of the workers table that leases already use (one per worker
 * process incarnation, keyed by the owner key of pg_cycle.c): a worker's
 * record fills the registry's columns of its row and renews its lease, in
 * the transaction of a cycle it runs anyway. After a commit whose outcome
 * was lost the worker takes a new owner key, so one worker id may own
 * several rows for a while: a list shows the newest of them.
 *
 * The registry's columns are added to existing schemas when the first
 * record is written (checked once per backend, added under the schema's
 * advisory lock only when missing), so an open stays read-only; a list of
 * a schema without them is empty. The tasks a worker runs are read from
 * the running tasks' worker_id, never copied. */
#include "pg.h"
#include "../../core/grow.h"
#include "../../core/workers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGISTRY_COLUMNS 10

static const char *const registry_ddl =
    "ALTER TABLE @.workers ADD COLUMN IF NOT EXISTS host text NOT NULL DEFAULT '',"
    " ADD COLUMN IF NOT EXISTS pid bigint NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS queues text NOT NULL DEFAULT '',"
    " ADD COLUMN IF NOT EXISTS functions text NOT NULL DEFAULT '',"
    " ADD COLUMN IF NOT EXISTS concurrency int NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS started_at_us bigint NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS stopped_at_us bigint,"
    " ADD COLUMN IF NOT EXISTS succeeded bigint NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS failed bigint NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS lost bigint NOT NULL DEFAULT 0";

/* Whether the registry's columns are all there (1), or not (0); -1 on
 * failure (err filled). */
static int has_columns(pg_backend *b, pg_conn *c, sitq_error *err) {
    const char *vals[1] = {b->schema};
    PGresult *r = pg_q_params(c,
                              "SELECT count(*)::bigint FROM information_schema.columns WHERE "
                              "table_schema = $1::text AND table_name = 'workers' AND column_name "
                              "IN ('host', 'pid', 'queues', 'functions', 'concurrency', "
                              "'started_at_us', 'stopped_at_us', 'succeeded', 'failed', 'lost')",
                              1, vals, 1);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_fail(c, r, err, "reading the columns of the workers table");
        PQclear(r);
        return -1;
    }
    int n = (int)pg_i64(r, 0, 0);
    PQclear(r);
    return n == REGISTRY_COLUMNS;
}

sitq_code pg_workers_schema(pg_backend *b, pg_conn *c, sitq_error *err) {
    int has = has_columns(b, c, err);
    if (has < 0) return pg_code(err);
    if (has) return SITQ_OK;
    char lock[96];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", (long long)b->schema_key);
    sitq_code rc = pg_command(c, lock, err, "locking the schema to add the registry of workers");
    if (rc) return rc;
    char *ddl = pg_schema_text(b, registry_ddl);
    if (!ddl) return sitq__fail(err, SITQ_ENOMEM, "out of memory");
    rc = pg_command(c, ddl, err, "adding the registry of workers");
    free(ddl);
    return rc;
}

sitq_code pg_workers_prepare(pg_backend *b, pg_conn *c, sitq_error *err) {
    if (b->workers_ready) return SITQ_OK; /* write_mu held */
    sitq_code rc = pg_workers_schema(b, c, err);
    if (!rc) b->workers_ready = 1;
    return rc;
}

sitq_code pg_workers_record(pg_conn *c, const sitq__cycle *cy, int64_t owner, sitq_error *err) {
    const sitq__worker_record *w = cy->record;
    sitq_time_us now = cy->db_now_us;
    if (!now) {
        sitq_code rc = pg_db_now(c, &now, err);
        if (rc) return rc;
    }
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, owner);
    pg_p_text(&p, cy->worker_id);
    pg_p_i64(&p, now + cy->lease_us);
    pg_p_i64(&p, now);
    pg_p_text(&p, w->host ? w->host : "");
    pg_p_i64(&p, w->pid);
    pg_p_text(&p, w->queues ? w->queues : "");
    pg_p_text(&p, w->functions ? w->functions : "");
    pg_p_i64(&p, w->concurrency);
    pg_p_i64(&p, w->started_at_us);
    if (w->stopped) pg_p_i64(&p, now);
    else pg_p_text(&p, NULL);
    pg_p_i64(&p, w->succeeded);
    pg_p_i64(&p, w->failed);
    pg_p_i64(&p, w->lost);
    return pg_exec(c, PG_WORKER_PUT, &p, err, "recording the worker");
}

/* One row of PG_WORKERS_LIST into *w (the server's now in column 13). 0, or
 * -1 when out of memory. */
static int read_row(const PGresult *r, int row, sitq_worker_info *w) {
    memset(w, 0, sizeof *w);
    w->id = pg_text(r, row, 0);
    w->host = pg_text(r, row, 1);
    w->pid = pg_i64(r, row, 2);
    w->concurrency = (int)pg_i64(r, row, 5);
    w->started_at_us = pg_i64(r, row, 6);
    w->heartbeat_at_us = pg_i64(r, row, 7);
    w->lease_until_us = pg_i64(r, row, 8);
    w->stopped_at_us = pg_i64(r, row, 9);
    w->succeeded = pg_i64(r, row, 10);
    w->failed = pg_i64(r, row, 11);
    w->lost = pg_i64(r, row, 12);
    w->state = sitq__worker_state_at(w->stopped_at_us, w->lease_until_us, pg_i64(r, row, 13));
    if (!w->id || !w->host) return -1;
    char *q = pg_text(r, row, 3), *f = pg_text(r, row, 4);
    int bad = !q || !f || sitq__names_split(q, &w->queues, &w->n_queues) ||
              sitq__names_split(f, &w->functions, &w->n_functions);
    free(q);
    free(f);
    return bad ? -1 : 0;
}

static sitq_code read_rows(pg_conn *c, int include_stopped, sitq_worker_info **out, size_t *count,
                           sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, include_stopped);
    PGresult *r = pg_run(c, PG_WORKERS_LIST, &p, err, "listing workers");
    if (!r) /* a schema no worker of this version has written: no registry */
        return !strcmp(c->sqlstate, "42703") ? sitq__ok(err) : pg_code(err);
    size_t n = (size_t)PQntuples(r);
    sitq_code rc = SITQ_OK;
    if (n && !(*out = calloc(n, sizeof **out)))
        rc = sitq__fail(err, SITQ_ENOMEM, "out of memory listing workers");
    for (size_t i = 0; !rc && i < n; i++) {
        *count = i + 1;
        if (read_row(r, (int)i, &(*out)[i]) != 0)
            rc = sitq__fail(err, SITQ_ENOMEM, "out of memory listing workers");
    }
    PQclear(r);
    return rc;
}

static sitq_code read_tasks(pg_conn *c, sitq_worker_info *ws, size_t n, sitq_error *err) {
    PGresult *r = pg_run(c, PG_WORKERS_TASKS, NULL, err, "listing the workers' tasks");
    if (!r) return pg_code(err);
    sitq_code rc = SITQ_OK;
    for (int i = 0; !rc && i < PQntuples(r); i++) {
        char *wid = pg_text(r, i, 0);
        if (sitq__workers_add_task(ws, n, wid, pg_i64(r, i, 1), (int)pg_i64(r, i, 2)) != 0)
            rc = sitq__fail(err, SITQ_ENOMEM, "out of memory listing workers");
        free(wid);
    }
    PQclear(r);
    return rc;
}

sitq_code pg_workers(sitq_backend *base, int include_stopped, sitq_worker_info **out, size_t *count,
                     sitq_error *err) {
    pg_backend *b = (pg_backend *)base;
    *out = NULL;
    *count = 0;
    pg_conn *c = pg_read_acquire(b, err);
    if (!c) return pg_code(err);
    sitq_code rc = read_rows(c, include_stopped, out, count, err);
    if (!rc && *count) {
        sitq__workers_sort(*out, *count);
        rc = read_tasks(c, *out, *count, err);
    }
    pg_read_release(b, c);
    if (rc) {
        sitq_workers_free(*out, *count);
        *out = NULL;
        *count = 0;
        return rc;
    }
    return sitq__ok(err);
}
