/* pg_enqueue_body.c - the enqueue of one batch of any size inside a write
 * transaction, in a handful of statements whatever its size:
 *
 *   1. the live tasks holding the batch's unique keys (one array lookup;
 *      none when no task has a key);
 *   2. ids for the batch from the sequence (one statement);
 *   3. the dependencies' states, their rows locked FOR SHARE first, so that
 *      a parent finishing at the same moment is seen finished or releases
 *      the new edge (one statement; none when no task has a dependency);
 *   4. every task decided here, with core/lifecycle.h's dependency fold,
 *      then its rows written (pg_enq_write_rows: binary arrays or COPY),
 *      and the edges by one INSERT over arrays.
 *
 * Everything is validated before anything is written, so an enqueue that
 * fails on its own input (an unknown dependency) has written nothing.
 * Unused ids (a unique key's hit) are simply skipped: ids are never
 * reused. */
#include "pg_enqueue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_id(const void *a, const void *b) {
    sitq_task_id x = *(const sitq_task_id *)a, y = *(const sitq_task_id *)b;
    return (x > y) - (x < y);
}

/* (id, state) pairs of the dependencies read from the database. */
typedef struct dep_state {
    sitq_task_id id;
    int state;
} dep_state;

static int cmp_dep_state(const void *a, const void *b) {
    return cmp_id(&((const dep_state *)a)->id, &((const dep_state *)b)->id);
}

typedef struct enq_work {
    sitq_task_id *pool; /* ids from the sequence, ascending */
    int *pool_state;    /* initial state of the task given pool[j], j < used */
    size_t n_pool, used;
    enq_row *rows;              /* per spec */
    sitq_task_id *existing_ids; /* unique hits, aligned with existing_keys */
    char **existing_keys;
    size_t n_existing;
    dep_state *deps; /* sorted by id */
    size_t n_deps;
    pg_array edge_child, edge_parent, edge_pos, edge_fin;
} enq_work;

static void work_free(enq_work *w, size_t n) {
    free(w->pool);
    free(w->pool_state);
    for (size_t i = 0; w->rows && i < n; i++) free(w->rows[i].failmsg);
    free(w->rows);
    free(w->existing_ids);
    for (size_t i = 0; i < w->n_existing; i++) free(w->existing_keys[i]);
    free(w->existing_keys);
    free(w->deps);
    pg_arr_free(&w->edge_child);
    pg_arr_free(&w->edge_parent);
    pg_arr_free(&w->edge_pos);
    pg_arr_free(&w->edge_fin);
    memset(w, 0, sizeof *w);
}

static sitq_code read_unique(PGresult *r, enq_work *w, sitq_error *err) {
    int n = PQntuples(r);
    if (n == 0) return SITQ_OK;
    w->existing_ids = calloc((size_t)n, sizeof *w->existing_ids);
    w->existing_keys = calloc((size_t)n, sizeof *w->existing_keys);
    if (!w->existing_ids || !w->existing_keys)
        return sitq__fail(err, SITQ_ENOMEM, "out of memory looking up unique keys");
    for (int i = 0; i < n; i++) {
        w->existing_keys[i] = pg_text(r, i, 0);
        w->existing_ids[i] = pg_i64(r, i, 1);
        w->n_existing++;
        if (!w->existing_keys[i])
            return sitq__fail(err, SITQ_ENOMEM, "out of memory looking up unique keys");
    }
    return SITQ_OK;
}

/* Step 1: live tasks that hold the batch's unique keys. */
static sitq_code find_unique(pg_conn *c, enq_arg *a, enq_work *w, sitq_error *err) {
    pg_array keys;
    pg_arr_init(&keys, PG_OID_TEXT);
    for (size_t i = 0; i < a->n; i++)
        if (a->specs[i].options && a->specs[i].options->unique_key)
            pg_arr_bytes(&keys, a->specs[i].options->unique_key,
                         strlen(a->specs[i].options->unique_key), 0);
    sitq_code rc = SITQ_OK;
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, a->queue);
    if (keys.n > 0 && pg_p_array(&p, &keys) != 0)
        rc = sitq__fail(err, SITQ_ENOMEM, "out of memory looking up unique keys");
    else if (keys.n > 0) {
        PGresult *r = pg_run(c, PG_UNIQUE_FIND, &p, err, "looking up a unique key");
        rc = r ? read_unique(r, w, err) : pg_code(err);
        PQclear(r);
    }
    pg_arr_free(&keys);
    return rc;
}

/* Step 2: up to n ids from the sequence, ascending. */
static sitq_code take_ids(pg_conn *c, enq_work *w, size_t n, sitq_error *err) {
    pg_params p;
    pg_p_init(&p);
    pg_p_i64(&p, (int64_t)n);
    PGresult *r = pg_run(c, PG_NEXT_IDS, &p, err, "reading the next task ids");
    if (!r) return pg_code(err);
    size_t got = (size_t)PQntuples(r);
    w->pool = malloc((got ? got : 1) * sizeof *w->pool);
    w->pool_state = malloc((got ? got : 1) * sizeof *w->pool_state);
    sitq_code rc =
        w->pool && w->pool_state ? SITQ_OK : sitq__fail(err, SITQ_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < got; i++) w->pool[i] = pg_i64(r, (int)i, 0);
    PQclear(r);
    if (!rc) {
        w->n_pool = got;
        qsort(w->pool, got, sizeof *w->pool, cmp_id);
    }
    return rc;
}

static sitq_code read_deps(PGresult *r, enq_work *w, sitq_error *err) {
    int rows = PQntuples(r);
    if (rows > 0 && !(w->deps = malloc((size_t)rows * sizeof *w->deps)))
        return sitq__fail(err, SITQ_ENOMEM, "out of memory checking dependencies");
    for (int i = 0; i < rows; i++) {
        w->deps[i].id = pg_i64(r, i, 0);
        w->deps[i].state = (int)pg_i64(r, i, 1);
    }
    w->n_deps = (size_t)rows;
    if (w->n_deps > 1) qsort(w->deps, w->n_deps, sizeof *w->deps, cmp_dep_state);
    return SITQ_OK;
}

/* Step 3: states of every dependency named by id and of every unique hit
 * (a later task of the batch may depend on it by index), rows locked. */
static sitq_code read_dep_states(pg_conn *c, enq_arg *a, enq_work *w, sitq_error *err) {
    pg_array v;
    pg_arr_init(&v, PG_OID_INT8);
    for (size_t i = 0; i < a->n; i++)
        if (a->specs[i].options)
            for (size_t k = 0; k < a->specs[i].options->n_depends_on; k++)
                pg_arr_i64(&v, a->specs[i].options->depends_on[k]);
    for (size_t i = 0; i < w->n_existing; i++) pg_arr_i64(&v, w->existing_ids[i]);
    sitq_code rc = SITQ_OK;
    pg_params p;
    pg_p_init(&p);
    if (v.n > 0 && pg_p_array(&p, &v) != 0)
        rc = sitq__fail(err, SITQ_ENOMEM, "out of memory checking dependencies");
    else if (v.n > 0) {
        pg_p_text(&p, a->queue);
        PGresult *r = pg_run(c, PG_DEP_STATES, &p, err, "checking dependencies");
        rc = r ? read_deps(r, w, err) : pg_code(err);
        PQclear(r);
    }
    pg_arr_free(&v);
    return rc;
}

/* Stored state of dependency id: a task inserted earlier in this batch, or
 * one read in step 3, or -1 when none exists in the queue. */
static int state_of(const enq_work *w, sitq_task_id id) {
    const sitq_task_id *j =
        w->used ? bsearch(&id, w->pool, w->used, sizeof *w->pool, cmp_id) : NULL;
    if (j) return w->pool_state[j - w->pool];
    dep_state key = {id, 0};
    const dep_state *d =
        w->n_deps ? bsearch(&key, w->deps, w->n_deps, sizeof *w->deps, cmp_dep_state) : NULL;
    return d ? d->state : -1;
}

/* The id of a live task with this key: in the database, or inserted by an
 * earlier task of the batch. 0: none. */
static sitq_task_id unique_hit(const enq_arg *a, const enq_work *w, size_t idx, const char *key) {
    for (size_t i = 0; i < w->n_existing; i++)
        if (!strcmp(w->existing_keys[i], key)) return w->existing_ids[i];
    for (size_t i = 0; i < idx; i++) {
        const sitq_task_options *o = a->specs[i].options;
        if (w->rows[i].state >= 0 && w->rows[i].state != SITQ__FAILED && o && o->unique_key &&
            !strcmp(o->unique_key, key))
            return a->ids[i];
    }
    return 0;
}

/* Step 4 for one task: decide its id, state and edges. */
static sitq_code decide_one(enq_arg *a, enq_work *w, size_t idx, sitq_error *err) {
    sitq_task_options defaults;
    const sitq_task_options *o = pg_enq_opts(&a->specs[idx], &defaults);
    char where[40] = "";
    enq_row *row = &w->rows[idx];
    row->state = -1;
    sitq_task_id hit = o->unique_key ? unique_hit(a, w, idx, o->unique_key) : 0;
    if (hit) {
        a->ids[idx] = hit;
        return SITQ_OK;
    }
    /* Dependencies sorted by id, each with its declared position. */
    sitq__dep_edge *d = NULL;
    size_t m = 0;
    sitq_code rc = sitq__deps_collect(&a->specs[idx], a->ids, &d, &m, err);
    if (rc) return rc;
    sitq__deps_fold fold;
    sitq__deps_begin(&fold, o->finalizer);
    /* Only a dependency's error names the task: printed per task, the
     * prefix was a sixth of the client's time for a batch without any. */
    if (m > 0 && a->n > 1) snprintf(where, sizeof where, "task %zu: ", idx);
    for (size_t k = 0; k < m && !rc; k++)
        rc = sitq__deps_add(&fold, where, d[k].id, state_of(w, d[k].id), err);
    if (!rc && w->used >= w->n_pool)
        rc = sitq__fail(err, SITQ_ESTORAGE, "the id sequence gave too few ids");
    if (rc) {
        free(d);
        return rc;
    }
    sitq_task_id id = w->pool[w->used++];
    char failmsg[96] = "";
    int state = sitq__deps_initial_state(&fold, failmsg, sizeof failmsg);
    for (size_t k = 0; k < m; k++) {
        pg_arr_i64(&w->edge_child, id);
        pg_arr_i64(&w->edge_parent, d[k].id);
        pg_arr_i64(&w->edge_pos, d[k].position);
        pg_arr_i64(&w->edge_fin, o->finalizer);
    }
    free(d);
    if (state == SITQ__FAILED && !(row->failmsg = strdup(failmsg)))
        return sitq__fail(err, SITQ_ENOMEM, "out of memory enqueueing");
    a->ids[idx] = id;
    row->id = id;
    row->state = state;
    row->pending = fold.pending;
    w->pool_state[w->used - 1] = state;
    if (state == SITQ__QUEUED) a->n_ready++;
    return SITQ_OK;
}

static sitq_code write_edges(pg_conn *c, enq_work *w, sitq_error *err) {
    if (w->edge_child.n == 0) return SITQ_OK;
    pg_params p;
    pg_p_init(&p);
    if (pg_p_array(&p, &w->edge_child) != 0 || pg_p_array(&p, &w->edge_parent) != 0 ||
        pg_p_array(&p, &w->edge_pos) != 0 || pg_p_array(&p, &w->edge_fin) != 0)
        return sitq__fail(err, SITQ_ENOMEM, "out of memory enqueueing");
    return pg_exec(c, PG_INSERT_DEPS, &p, err, "recording dependencies");
}

/* Tasks with a retention of their own (keep_s): one UPDATE over arrays,
 * none when no task has one. */
static sitq_code write_keeps(pg_conn *c, enq_arg *a, enq_work *w, sitq_error *err) {
    pg_array ids, keeps;
    pg_arr_init(&ids, PG_OID_INT8);
    pg_arr_init(&keeps, PG_OID_INT8);
    for (size_t i = 0; i < a->n; i++) {
        const sitq_task_options *o = a->specs[i].options;
        if (!o || o->keep_s == 0 || w->rows[i].state < 0) continue;
        pg_arr_i64(&ids, w->rows[i].id);
        pg_arr_i64(&keeps, sitq__keep_us(o->keep_s));
    }
    sitq_code rc = SITQ_OK;
    if (ids.n > 0) {
        pg_params p;
        pg_p_init(&p);
        if (pg_p_array(&p, &ids) != 0 || pg_p_array(&p, &keeps) != 0)
            rc = sitq__fail(err, SITQ_ENOMEM, "out of memory enqueueing");
        char *sql = rc ? NULL
                       : pg_schema_text(c->b, "UPDATE @.tasks t SET keep_us = u.k FROM "
                                              "unnest($1::bigint[], $2::bigint[]) AS u(id, k) "
                                              "WHERE t.id = u.id");
        if (!rc && !sql) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory enqueueing");
        PGresult *r = sql ? pg_q_params_p(c, sql, &p) : NULL;
        if (sql && (!r || PQresultStatus(r) != PGRES_COMMAND_OK))
            rc = pg_fail(c, r, err, "recording the retention of tasks");
        PQclear(r);
        free(sql);
    }
    pg_arr_free(&ids);
    pg_arr_free(&keeps);
    return rc;
}

sitq_code pg_enq_body(pg_conn *c, enq_arg *a, sitq_error *err) {
    enq_work w;
    memset(&w, 0, sizeof w);
    pg_arr_init(&w.edge_child, PG_OID_INT8);
    pg_arr_init(&w.edge_parent, PG_OID_INT8);
    pg_arr_init(&w.edge_pos, PG_OID_INT8);
    pg_arr_init(&w.edge_fin, PG_OID_INT8);
    memset(a->ids, 0, a->n * sizeof *a->ids);
    a->n_ready = 0;
    sitq_code rc = SITQ_OK;
    if (!(w.rows = calloc(a->n, sizeof *w.rows)))
        rc = sitq__fail(err, SITQ_ENOMEM, "out of memory enqueueing");
    for (size_t i = 0; !rc && i < a->n; i++) w.rows[i].state = -1;
    if (!rc) rc = find_unique(c, a, &w, err);
    if (!rc) rc = take_ids(c, &w, a->n, err);
    if (!rc) rc = read_dep_states(c, a, &w, err);
    for (size_t i = 0; i < a->n && !rc; i++) rc = decide_one(a, &w, i, err);
    if (!rc) rc = pg_enq_write_rows(c, a, w.rows, w.used, err);
    if (!rc) rc = write_edges(c, &w, err);
    if (!rc) rc = write_keeps(c, a, &w, err);
    work_free(&w, a->n);
    return rc;
}
