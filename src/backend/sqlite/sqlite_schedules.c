/* sqlite_schedules.c - the SQLite side of periodic schedules: the table
 * sitq_schedules (created at open when missing, so that files made before
 * schedules existed keep opening), and the schedule ops of backend.h. The
 * ops are rare (a tick, an operator's command, a worker's re-read every few
 * seconds), so their statements are prepared per call and kept here, apart
 * from the hot path's statements. A tick is fired under the write lock:
 * the guard on (id, next_fire_us) and the task's insert commit together. */
#include "sq.h"

#include <stdlib.h>
#include <string.h>

static const char *const table_sql =
    "CREATE TABLE IF NOT EXISTS sitq_schedules("
    " id INTEGER PRIMARY KEY,"
    " queue TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " cron TEXT,"                          /* NULL for an interval */
    " every_s INTEGER NOT NULL DEFAULT 0," /* 0 for a cron expression */
    " timezone TEXT,"                      /* NULL: UTC */
    " function TEXT NOT NULL,"
    " payload BLOB,"
    " priority INTEGER NOT NULL DEFAULT 0,"
    " max_retries INTEGER NOT NULL DEFAULT 0,"
    " backoff_base_us INTEGER NOT NULL DEFAULT 1000000,"
    " backoff_cap_us INTEGER NOT NULL DEFAULT 3600000000,"
    " backoff_jitter REAL NOT NULL DEFAULT 0.1,"
    " timeout_us INTEGER NOT NULL DEFAULT 0,"
    " skip_missed INTEGER NOT NULL DEFAULT 0,"
    " allow_overlap INTEGER NOT NULL DEFAULT 0,"
    " paused INTEGER NOT NULL DEFAULT 0,"
    " next_fire_us INTEGER NOT NULL," /* UTC microseconds */
    " last_tick_us INTEGER,"
    " last_task_id INTEGER,"
    " created_at_us INTEGER NOT NULL,"
    " UNIQUE(queue, name));";

#define COLS                                                                                       \
    "id, queue, name, cron, every_s, timezone, function, length(payload), priority, max_retries, " \
    "backoff_base_us, backoff_cap_us, backoff_jitter, timeout_us, skip_missed, allow_overlap, "    \
    "paused, next_fire_us, last_tick_us, last_task_id, created_at_us"

static sitq_code prepare(sq_conn *c, const char *sql, sqlite3_stmt **st, sitq_error *err,
                         const char *what) {
    if (sqlite3_prepare_v2(c->db, sql, -1, st, NULL) == SQLITE_OK) return SITQ_OK;
    *st = NULL;
    return sq_fail(c, err, what);
}

sitq_code sq_schedules_ensure(sq_backend *b, sitq_error *err) {
    sq_conn *c = &b->writer;
    sqlite3_stmt *st = NULL;
    sitq_code rc =
        prepare(c, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sitq_schedules'",
                &st, err, "looking for the schedules table");
    if (rc) return rc;
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (found || b->opts.read_only || b->uri) return SITQ_OK;
    rc = sq_write_begin(b, err);
    if (rc) return rc;
    char *msg = NULL;
    if (sqlite3_exec(c->db, table_sql, NULL, NULL, &msg) != SQLITE_OK)
        rc = sitq__fail(err, SITQ_ESTORAGE, "cannot create the schedules table in %s: %s", b->path,
                        msg ? msg : "unknown error");
    sqlite3_free(msg);
    return sq_write_end(b, rc, err);
}

static double us_to_s(int64_t us) { return (double)us / 1e6; }

static sitq_schedule *row_to_schedule(sqlite3_stmt *st) {
    sitq_schedule *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->id = sqlite3_column_int64(st, 0);
    s->queue = sq_col_text(st, 1);
    s->name = sq_col_text(st, 2);
    s->cron = sq_col_text(st, 3);
    s->every_s = sqlite3_column_int64(st, 4);
    s->timezone = sq_col_text(st, 5);
    s->function = sq_col_text(st, 6);
    s->payload_len = (size_t)sqlite3_column_int64(st, 7);
    s->priority = sqlite3_column_int(st, 8);
    s->max_retries = sqlite3_column_int(st, 9);
    s->backoff_base_s = us_to_s(sqlite3_column_int64(st, 10));
    s->backoff_cap_s = us_to_s(sqlite3_column_int64(st, 11));
    s->backoff_jitter = sqlite3_column_double(st, 12);
    s->timeout_s = us_to_s(sqlite3_column_int64(st, 13));
    s->skip_missed = sqlite3_column_int(st, 14);
    s->allow_overlap = sqlite3_column_int(st, 15);
    s->paused = sqlite3_column_int(st, 16);
    s->next_fire_us = sqlite3_column_int64(st, 17);
    s->last_tick_us = sqlite3_column_int64(st, 18);
    s->last_task_id = sqlite3_column_int64(st, 19);
    s->created_at_us = sqlite3_column_int64(st, 20);
    if (!s->queue || !s->name || !s->function ||
        (sqlite3_column_type(st, 3) != SQLITE_NULL && !s->cron)) {
        sitq_schedule_free(s);
        return NULL;
    }
    return s;
}

sitq_code sq_schedule_add(sitq_backend *base, const sitq_schedule *s, const void *payload,
                          size_t payload_len, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    sitq_code rc = sq_write_begin(b, err);
    if (rc) return rc;
    sq_conn *c = &b->writer;
    sqlite3_stmt *st = NULL;
    rc = prepare(c,
                 "INSERT INTO sitq_schedules(queue, name, cron, every_s, timezone, function,"
                 " payload, priority, max_retries, backoff_base_us, backoff_cap_us,"
                 " backoff_jitter, timeout_us, skip_missed, allow_overlap, paused, next_fire_us,"
                 " created_at_us) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                 " ON CONFLICT(queue, name) DO NOTHING",
                 &st, err, "adding a schedule");
    if (!rc) {
        sq_bind_text(st, 1, s->queue);
        sq_bind_text(st, 2, s->name);
        sq_bind_text(st, 3, s->cron);
        sqlite3_bind_int64(st, 4, s->every_s);
        sq_bind_text(st, 5, s->timezone);
        sq_bind_text(st, 6, s->function);
        sq_bind_blob(st, 7, payload ? payload : "", payload_len);
        sqlite3_bind_int(st, 8, s->priority);
        sqlite3_bind_int(st, 9, s->max_retries);
        sqlite3_bind_int64(st, 10, sitq__seconds_to_us(s->backoff_base_s));
        sqlite3_bind_int64(st, 11, sitq__seconds_to_us(s->backoff_cap_s));
        sqlite3_bind_double(st, 12, s->backoff_jitter);
        int64_t timeout_us = sitq__seconds_to_us(s->timeout_s);
        if (s->timeout_s > 0 && timeout_us < 1) timeout_us = 1;
        sqlite3_bind_int64(st, 13, timeout_us);
        sqlite3_bind_int(st, 14, s->skip_missed);
        sqlite3_bind_int(st, 15, s->allow_overlap);
        sqlite3_bind_int(st, 16, s->paused);
        sqlite3_bind_int64(st, 17, s->next_fire_us);
        sqlite3_bind_int64(st, 18, sitq_now_us());
        if (sqlite3_step(st) != SQLITE_DONE) rc = sq_fail(c, err, "adding a schedule");
        else if (sqlite3_changes(c->db) == 0)
            rc = sitq__fail(err, SITQ_EINVAL, "a schedule named %s already exists in queue %s",
                            s->name, s->queue);
        sqlite3_finalize(st);
    }
    return sq_write_end(b, rc, err);
}

static int no_table(sq_conn *c) { return strstr(sqlite3_errmsg(c->db), "no such table") != NULL; }

sitq_code sq_schedule_list(sitq_backend *base, const char *queue, sitq_schedule ***items,
                           size_t *count, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    *items = NULL;
    *count = 0;
    sq_conn *c = sq_read_acquire(b);
    sqlite3_stmt *st = NULL;
    sitq_code rc = SITQ_OK;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT " COLS " FROM sitq_schedules WHERE ?1 IS NULL OR queue = ?1"
                           " ORDER BY queue, name",
                           -1, &st, NULL) != SQLITE_OK) {
        /* A read-only file made before schedules existed has none. */
        if (!no_table(c)) rc = sq_fail(c, err, "listing schedules");
        sq_read_release(b, c);
        return rc;
    }
    sq_bind_text(st, 1, queue);
    sitq_schedule **v = NULL;
    size_t n = 0, cap = 0;
    int step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            sitq_schedule **nv = realloc(v, ncap * sizeof(sitq_schedule *));
            if (!nv) {
                rc = sitq__fail(err, SITQ_ENOMEM, "out of memory listing schedules");
                break;
            }
            v = nv;
            cap = ncap;
        }
        if (!(v[n] = row_to_schedule(st))) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory");
        else n++;
    }
    if (!rc && step != SQLITE_DONE) rc = sq_fail(c, err, "listing schedules");
    sqlite3_finalize(st);
    sq_read_release(b, c);
    if (rc) {
        for (size_t i = 0; i < n; i++) sitq_schedule_free(v[i]);
        free(v);
        return rc;
    }
    *items = v;
    *count = n;
    return sitq__ok(err);
}

sitq_code sq_schedule_set(sitq_backend *base, const char *queue, const char *name, int what,
                          sitq_time_us next_us, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    static const char *const sql[] = {
        "DELETE FROM sitq_schedules WHERE queue = ?1 AND name = ?2",
        "UPDATE sitq_schedules SET paused = 1 WHERE queue = ?1 AND name = ?2",
        ("UPDATE sitq_schedules SET next_fire_us = CASE WHEN paused THEN ?3 ELSE next_fire_us END,"
         " paused = 0 WHERE queue = ?1 AND name = ?2")};
    sitq_code rc = sq_write_begin(b, err);
    if (rc) return rc;
    sq_conn *c = &b->writer;
    sqlite3_stmt *st = NULL;
    rc = prepare(c, sql[what], &st, err, "changing a schedule");
    if (!rc) {
        sq_bind_text(st, 1, queue);
        sq_bind_text(st, 2, name);
        if (what == SITQ__SCHED_RESUME) sqlite3_bind_int64(st, 3, next_us);
        if (sqlite3_step(st) != SQLITE_DONE) rc = sq_fail(c, err, "changing a schedule");
        else if (sqlite3_changes(c->db) == 0)
            rc = sitq__fail(err, SITQ_ENOTFOUND, "no schedule named %s in queue %s", name, queue);
        sqlite3_finalize(st);
    }
    return sq_write_end(b, rc, err);
}

/* The schedule's task, read under the write lock with the guard. Returns
 * SITQ_OK with *found 0 when the guard fails. */
typedef struct fire_row {
    char *function;
    void *payload;
    size_t payload_len;
    sitq_task_options o;
    int allow_overlap;
    sitq_task_id last_task_id;
} fire_row;

static sitq_code read_guarded(sq_conn *c, const sitq__schedule_fire *f, fire_row *r, int *found,
                              sitq_error *err) {
    sqlite3_stmt *st = NULL;
    sitq_code rc = prepare(c,
                           "SELECT function, payload, priority, max_retries, backoff_base_us,"
                           " backoff_cap_us, backoff_jitter, timeout_us, allow_overlap,"
                           " last_task_id FROM sitq_schedules"
                           " WHERE id = ? AND next_fire_us = ? AND paused = 0",
                           &st, err, "firing a schedule");
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, f->id);
    sqlite3_bind_int64(st, 2, f->expected_next_us);
    int step = sqlite3_step(st);
    *found = step == SQLITE_ROW;
    if (*found) {
        sitq_task_options_init(&r->o);
        r->function = sq_col_text(st, 0);
        r->payload = sq_col_blob(st, 1, &r->payload_len);
        r->o.priority = sqlite3_column_int(st, 2);
        r->o.max_retries = sqlite3_column_int(st, 3);
        r->o.backoff_base_s = us_to_s(sqlite3_column_int64(st, 4));
        r->o.backoff_cap_s = us_to_s(sqlite3_column_int64(st, 5));
        r->o.backoff_jitter = sqlite3_column_double(st, 6);
        r->o.timeout_s = us_to_s(sqlite3_column_int64(st, 7));
        r->allow_overlap = sqlite3_column_int(st, 8);
        r->last_task_id = sqlite3_column_int64(st, 9);
        if (!r->function) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory firing a schedule");
    } else if (step != SQLITE_DONE) rc = sq_fail(c, err, "firing a schedule");
    sqlite3_finalize(st);
    return rc;
}

/* 1 when task id is queued, waiting or running (not finished, not purged). */
static sitq_code task_live(sq_conn *c, sitq_task_id id, int *live, sitq_error *err) {
    *live = 0;
    if (!id) return SITQ_OK;
    sqlite3_stmt *st = NULL;
    sitq_code rc = prepare(c, "SELECT state FROM sitq_tasks WHERE id = ?", &st, err,
                           "reading a schedule's last task");
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) *live = !sitq__state_terminal(sqlite3_column_int(st, 0));
    else if (step != SQLITE_DONE) rc = sq_fail(c, err, "reading a schedule's last task");
    sqlite3_finalize(st);
    return rc;
}

static sitq_code move_on(sq_conn *c, const sitq__schedule_fire *f, sitq_error *err) {
    sqlite3_stmt *st = NULL;
    sitq_code rc = prepare(c,
                           "UPDATE sitq_schedules SET next_fire_us = ?, last_tick_us = ?,"
                           " last_task_id = CASE WHEN ? > 0 THEN ? ELSE last_task_id END"
                           " WHERE id = ?",
                           &st, err, "firing a schedule");
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, f->new_next_us);
    sqlite3_bind_int64(st, 2, f->tick_us);
    sqlite3_bind_int64(st, 3, f->task_id);
    sqlite3_bind_int64(st, 4, f->task_id);
    sqlite3_bind_int64(st, 5, f->id);
    if (sqlite3_step(st) != SQLITE_DONE) rc = sq_fail(c, err, "firing a schedule");
    sqlite3_finalize(st);
    return rc;
}

static sitq_code fire_body(sq_conn *c, sitq__schedule_fire *f, sitq_error *err) {
    fire_row r = {0};
    int found = 0;
    sitq_code rc = read_guarded(c, f, &r, &found, err);
    if (rc || !found) goto out;
    int live = 0;
    if (f->enqueue && !r.allow_overlap) rc = task_live(c, r.last_task_id, &live, err);
    if (!rc && f->enqueue && !live) {
        r.o.eta_us = f->tick_us;
        sitq_task_spec spec = {r.function, r.payload, r.payload_len, &r.o, NULL, 0};
        rc = sq_enqueue_in_txn(c, f->queue, &spec, &f->task_id, err);
    }
    if (!rc) rc = move_on(c, f, err);
    if (!rc)
        f->outcome = f->task_id ? SITQ__FIRE_ENQUEUED
                     : live     ? SITQ__FIRE_OVERLAP
                                : SITQ__FIRE_MOVED;
out:
    free(r.function);
    free(r.payload);
    return rc;
}

sitq_code sq_schedule_fire(sitq_backend *base, sitq__schedule_fire *f, sitq_error *err) {
    sq_backend *b = (sq_backend *)base;
    f->outcome = SITQ__FIRE_LOST;
    f->task_id = 0;
    sitq_code rc = sq_write_begin(b, err);
    if (rc) return rc;
    rc = fire_body(&b->writer, f, err);
    rc = sq_write_end(b, rc, err);
    if (rc) {
        f->outcome = SITQ__FIRE_LOST;
        f->task_id = 0;
        return rc;
    }
    return sitq__ok(err);
}
