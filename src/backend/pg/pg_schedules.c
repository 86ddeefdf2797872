/* pg_schedules.c - the PostgreSQL side of periodic schedules: the table
 * @.schedules (created at open when missing and create_schema allows it, so
 * that schemas made before schedules existed keep opening), and the schedule
 * ops of backend.h. The ops are rare (a tick, an operator's command, a
 * worker's re-read every few seconds), so their statements are sent
 * unprepared and kept here, apart from the hot path's. A tick is fired in
 * one transaction: the schedule's row is locked by SELECT ... FOR UPDATE
 * with the guard on (id, next_fire_us); a racing transaction waits for the
 * lock, re-reads the row, finds the guard false and writes nothing. */
#include "pg_enqueue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const table_sql = "CREATE TABLE IF NOT EXISTS @.schedules("
                                     " id bigserial PRIMARY KEY,"
                                     " queue text NOT NULL,"
                                     " name text NOT NULL,"
                                     " cron text,"
                                     " every_s bigint NOT NULL DEFAULT 0,"
                                     " timezone text,"
                                     " function text NOT NULL,"
                                     " payload bytea,"
                                     " priority int NOT NULL DEFAULT 0,"
                                     " max_retries int NOT NULL DEFAULT 0,"
                                     " backoff_base_us bigint NOT NULL DEFAULT 1000000,"
                                     " backoff_cap_us bigint NOT NULL DEFAULT 3600000000,"
                                     " backoff_jitter double precision NOT NULL DEFAULT 0.1,"
                                     " timeout_us bigint NOT NULL DEFAULT 0,"
                                     " skip_missed int NOT NULL DEFAULT 0,"
                                     " allow_overlap int NOT NULL DEFAULT 0,"
                                     " paused int NOT NULL DEFAULT 0,"
                                     " next_fire_us bigint NOT NULL,"
                                     " last_tick_us bigint,"
                                     " last_task_id bigint,"
                                     " created_at_us bigint NOT NULL,"
                                     " UNIQUE(queue, name));";

#define COLS                                                                                       \
    "id, queue, name, cron, every_s, timezone, function, COALESCE(octet_length(payload), "         \
    "0)::bigint,"                                                                                  \
    " priority, max_retries, backoff_base_us, backoff_cap_us, backoff_jitter, timeout_us,"         \
    " skip_missed, allow_overlap, paused, next_fire_us, last_tick_us, last_task_id, created_at_us"

/* Run sql ("@" for the schema) with p on c; the result (caller PQclear's it)
 * or NULL with err filled. */
static PGresult *q(pg_conn *c, const char *sql, const pg_params *p, sitq_error *err,
                   const char *what) {
    if (!c->conn) {
        pg_fail(c, NULL, err, what);
        return NULL;
    }
    char *text = pg_schema_text(c->b, sql);
    if (!text) {
        sitq__fail(err, SITQ_ENOMEM, "out of memory %s", what);
        return NULL;
    }
    pg_params none;
    pg_p_init(&none);
    PGresult *r = pg_q_params_p(c, text, p ? p : &none);
    free(text);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        pg_fail(c, r, err, what);
        PQclear(r);
        return NULL;
    }
    return r;
}

static sitq_code ensure_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    (void)arg;
    char lock[96];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", (long long)b->schema_key);
    sitq_code rc = pg_command(c, lock, err, "locking the schema to add the schedules table");
    if (rc) return rc;
    char *ddl = pg_schema_text(b, table_sql);
    if (!ddl) return sitq__fail(err, SITQ_ENOMEM, "out of memory");
    rc = pg_command(c, ddl, err, "creating the schedules table");
    free(ddl);
    return rc;
}

sitq_code pg_schedules_ensure(pg_backend *b, sitq_error *err) {
    char rel[160];
    snprintf(rel, sizeof rel, "\"%s\".schedules", b->schema);
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, rel);
    PGresult *r = q(&b->writer, "SELECT to_regclass($1::text) IS NOT NULL", &p, err,
                    "looking for the schedules table");
    if (!r) return pg_code(err);
    int found = (int)pg_i64(r, 0, 0);
    PQclear(r);
    /* Without create_schema the role may only read: no schedules then. */
    if (found || !b->opts.create_schema) return SITQ_OK;
    return pg_write_txn(b, ensure_body, NULL, err);
}

static double us_to_s(int64_t us) { return (double)us / 1e6; }

static sitq_schedule *row_to_schedule(const PGresult *r, int i) {
    sitq_schedule *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->id = pg_i64(r, i, 0);
    s->queue = pg_text(r, i, 1);
    s->name = pg_text(r, i, 2);
    s->cron = pg_isnull(r, i, 3) ? NULL : pg_text(r, i, 3);
    s->every_s = pg_i64(r, i, 4);
    s->timezone = pg_isnull(r, i, 5) ? NULL : pg_text(r, i, 5);
    s->function = pg_text(r, i, 6);
    s->payload_len = (size_t)pg_i64(r, i, 7);
    s->priority = (int32_t)pg_i64(r, i, 8);
    s->max_retries = (int32_t)pg_i64(r, i, 9);
    s->backoff_base_s = us_to_s(pg_i64(r, i, 10));
    s->backoff_cap_s = us_to_s(pg_i64(r, i, 11));
    s->backoff_jitter = pg_f64(r, i, 12);
    s->timeout_s = us_to_s(pg_i64(r, i, 13));
    s->skip_missed = (int)pg_i64(r, i, 14);
    s->allow_overlap = (int)pg_i64(r, i, 15);
    s->paused = (int)pg_i64(r, i, 16);
    s->next_fire_us = pg_i64(r, i, 17);
    s->last_tick_us = pg_i64(r, i, 18);
    s->last_task_id = pg_i64(r, i, 19);
    s->created_at_us = pg_i64(r, i, 20);
    if (!s->queue || !s->name || !s->function || (!pg_isnull(r, i, 3) && !s->cron)) {
        sitq_schedule_free(s);
        return NULL;
    }
    return s;
}

typedef struct add_arg {
    const sitq_schedule *s;
    const void *payload;
    size_t payload_len;
} add_arg;

static sitq_code add_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    (void)b;
    const add_arg *a = arg;
    const sitq_schedule *s = a->s;
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, s->queue);
    pg_p_text(&p, s->name);
    pg_p_text(&p, s->cron);
    pg_p_i64(&p, s->every_s);
    pg_p_text(&p, s->timezone);
    pg_p_text(&p, s->function);
    pg_p_bytea(&p, a->payload, a->payload_len, 0);
    pg_p_i64(&p, s->priority);
    pg_p_i64(&p, s->max_retries);
    pg_p_i64(&p, sitq__seconds_to_us(s->backoff_base_s));
    pg_p_i64(&p, sitq__seconds_to_us(s->backoff_cap_s));
    pg_p_f64(&p, s->backoff_jitter);
    int64_t timeout_us = sitq__seconds_to_us(s->timeout_s);
    if (s->timeout_s > 0 && timeout_us < 1) timeout_us = 1;
    pg_p_i64(&p, timeout_us);
    pg_p_i64(&p, s->skip_missed);
    pg_p_i64(&p, s->allow_overlap);
    pg_p_i64(&p, s->paused);
    pg_p_i64(&p, s->next_fire_us);
    pg_p_i64(&p, sitq_now_us());
    PGresult *r = q(c,
                    "INSERT INTO @.schedules(queue, name, cron, every_s, timezone, function,"
                    " payload, priority, max_retries, backoff_base_us, backoff_cap_us,"
                    " backoff_jitter, timeout_us, skip_missed, allow_overlap, paused,"
                    " next_fire_us, created_at_us) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9,"
                    " $10, $11, $12, $13, $14, $15, $16, $17, $18)"
                    " ON CONFLICT (queue, name) DO NOTHING",
                    &p, err, "adding a schedule");
    if (!r) return pg_code(err);
    int64_t n = pg_changes(r);
    PQclear(r);
    if (n == 0)
        return sitq__fail(err, SITQ_EINVAL, "a schedule named %s already exists in queue %s",
                          s->name, s->queue);
    return SITQ_OK;
}

sitq_code pg_schedule_add(sitq_backend *base, const sitq_schedule *s, const void *payload,
                          size_t payload_len, sitq_error *err) {
    add_arg a = {s, payload, payload_len};
    return pg_write_one((pg_backend *)base, add_body, &a, err);
}

sitq_code pg_schedule_list(sitq_backend *base, const char *queue, sitq_schedule ***items,
                           size_t *count, sitq_error *err) {
    pg_backend *b = (pg_backend *)base;
    *items = NULL;
    *count = 0;
    pg_conn *c = pg_read_acquire(b, err);
    if (!c) return pg_code(err);
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, queue);
    PGresult *r = q(c,
                    "SELECT " COLS " FROM @.schedules WHERE $1::text IS NULL OR queue = $1"
                    " ORDER BY queue COLLATE \"C\", name COLLATE \"C\"",
                    &p, err, "listing schedules");
    /* A schema made before schedules existed, opened without create_schema
     * (which would have added the table), has none. */
    int missing = !r && !strcmp(c->sqlstate, "42P01");
    pg_read_release(b, c);
    if (missing) return sitq__ok(err);
    if (!r) return pg_code(err);
    int n = PQntuples(r);
    sitq_schedule **v = n ? calloc((size_t)n, sizeof(sitq_schedule *)) : NULL;
    sitq_code rc =
        n && !v ? sitq__fail(err, SITQ_ENOMEM, "out of memory listing schedules") : SITQ_OK;
    for (int i = 0; i < n && !rc; i++)
        if (!(v[i] = row_to_schedule(r, i))) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory");
    PQclear(r);
    if (rc) {
        for (int i = 0; i < n && v; i++) sitq_schedule_free(v[i]);
        free(v);
        return rc;
    }
    *items = v;
    *count = (size_t)n;
    return sitq__ok(err);
}

typedef struct set_arg {
    const char *queue, *name;
    int what;
    sitq_time_us next_us;
} set_arg;

static sitq_code set_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    (void)b;
    const set_arg *a = arg;
    static const char *const sql[] = {
        "DELETE FROM @.schedules WHERE queue = $1 AND name = $2",
        "UPDATE @.schedules SET paused = 1 WHERE queue = $1 AND name = $2",
        ("UPDATE @.schedules SET next_fire_us = CASE WHEN paused <> 0 THEN $3::bigint"
         " ELSE next_fire_us END, paused = 0 WHERE queue = $1 AND name = $2")};
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, a->queue);
    pg_p_text(&p, a->name);
    if (a->what == SITQ__SCHED_RESUME) pg_p_i64(&p, a->next_us);
    PGresult *r = q(c, sql[a->what], &p, err, "changing a schedule");
    if (!r) return pg_code(err);
    int64_t n = pg_changes(r);
    PQclear(r);
    if (n == 0)
        return sitq__fail(err, SITQ_ENOTFOUND, "no schedule named %s in queue %s", a->name,
                          a->queue);
    return SITQ_OK;
}

sitq_code pg_schedule_set(sitq_backend *base, const char *queue, const char *name, int what,
                          sitq_time_us next_us, sitq_error *err) {
    set_arg a = {queue, name, what, next_us};
    return pg_write_one((pg_backend *)base, set_body, &a, err);
}

/* The schedule's task, read and locked with the guard. */
typedef struct fire_row {
    char *function;
    void *payload;
    size_t payload_len;
    sitq_task_options o;
    int allow_overlap;
    sitq_task_id last_task_id;
} fire_row;

static sitq_code read_guarded(pg_conn *c, const sitq__schedule_fire *f, fire_row *r, int *found,
                              sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, f->id);
    pg_p_i64(&p, f->expected_next_us);
    PGresult *res = q(c,
                      "SELECT function, payload, priority, max_retries, backoff_base_us,"
                      " backoff_cap_us, backoff_jitter, timeout_us, allow_overlap, last_task_id"
                      " FROM @.schedules WHERE id = $1 AND next_fire_us = $2 AND paused = 0"
                      " FOR UPDATE",
                      &p, err, "firing a schedule");
    if (!res) return pg_code(err);
    *found = PQntuples(res) == 1;
    sitq_code rc = SITQ_OK;
    if (*found) {
        sitq_task_options_init(&r->o);
        r->function = pg_text(res, 0, 0);
        r->payload = pg_isnull(res, 0, 1) ? NULL : pg_bytes(res, 0, 1, &r->payload_len);
        r->o.priority = (int32_t)pg_i64(res, 0, 2);
        r->o.max_retries = (int32_t)pg_i64(res, 0, 3);
        r->o.backoff_base_s = us_to_s(pg_i64(res, 0, 4));
        r->o.backoff_cap_s = us_to_s(pg_i64(res, 0, 5));
        r->o.backoff_jitter = pg_f64(res, 0, 6);
        r->o.timeout_s = us_to_s(pg_i64(res, 0, 7));
        r->allow_overlap = (int)pg_i64(res, 0, 8);
        r->last_task_id = pg_i64(res, 0, 9);
        if (!r->function) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory firing a schedule");
    }
    PQclear(res);
    return rc;
}

static sitq_code task_live(pg_conn *c, sitq_task_id id, int *live, sitq_error *err) {
    *live = 0;
    if (!id) return SITQ_OK;
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, id);
    PGresult *r =
        q(c, "SELECT state FROM @.tasks WHERE id = $1", &p, err, "reading a schedule's last task");
    if (!r) return pg_code(err);
    if (PQntuples(r) == 1) *live = !sitq__state_terminal((int)pg_i64(r, 0, 0));
    PQclear(r);
    return SITQ_OK;
}

static sitq_code move_on(pg_conn *c, const sitq__schedule_fire *f, sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, f->new_next_us);
    pg_p_i64(&p, f->tick_us);
    pg_p_i64(&p, f->task_id);
    pg_p_i64(&p, f->id);
    PGresult *r = q(c,
                    "UPDATE @.schedules SET next_fire_us = $1, last_tick_us = $2,"
                    " last_task_id = CASE WHEN $3::bigint > 0 THEN $3::bigint ELSE last_task_id"
                    " END WHERE id = $4",
                    &p, err, "firing a schedule");
    if (!r) return pg_code(err);
    PQclear(r);
    return SITQ_OK;
}

static sitq_code fire_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    (void)b;
    sitq__schedule_fire *f = arg;
    f->outcome = SITQ__FIRE_LOST;
    f->task_id = 0;
    fire_row r = {0};
    int found = 0, live = 0;
    sitq_code rc = read_guarded(c, f, &r, &found, err);
    if (!rc && found && f->enqueue && !r.allow_overlap)
        rc = task_live(c, r.last_task_id, &live, err);
    if (!rc && found && f->enqueue && !live) {
        r.o.eta_us = f->tick_us;
        sitq_task_spec spec = {r.function, r.payload, r.payload_len, &r.o, NULL, 0};
        sitq_task_id id = 0;
        enq_arg a = {f->queue, &spec, 1, &id, sitq_now_us(), 0};
        rc = pg_enq_body(c, &a, err);
        if (!rc) f->task_id = id;
        if (!rc && a.n_ready) rc = pg_notify_queue(c, f->queue, 0, 1, err);
    }
    if (!rc && found) rc = move_on(c, f, err);
    if (!rc && found)
        f->outcome = f->task_id ? SITQ__FIRE_ENQUEUED
                     : live     ? SITQ__FIRE_OVERLAP
                                : SITQ__FIRE_MOVED;
    free(r.function);
    free(r.payload);
    return rc;
}

sitq_code pg_schedule_fire(sitq_backend *base, sitq__schedule_fire *f, sitq_error *err) {
    sitq_code rc = pg_write_txn((pg_backend *)base, fire_body, f, err);
    if (rc) {
        f->outcome = SITQ__FIRE_LOST;
        f->task_id = 0;
    }
    return rc;
}
