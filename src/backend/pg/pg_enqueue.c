/* pg_enqueue.c - enqueue of one task or a batch of any size in one
 * transaction and a handful of statements, whatever the batch's size:
 *
 *   1. the live tasks holding the batch's unique keys (one array lookup);
 *   2. ids for the batch from the sequence (one statement);
 *   3. the dependencies' states, their rows locked FOR SHARE first, so that
 *      a parent finishing at the same moment is seen finished or releases
 *      the new edge (one statement);
 *   4. every task decided here, with core/lifecycle.h's dependency fold,
 *      then inserted by one INSERT ... SELECT FROM unnest(arrays) (no
 *      bound-parameter limit: each column is one array parameter), edges by
 *      another; payloads over PG_ARRAY_PAYLOAD_MAX bytes follow as binary
 *      parameters, one statement each, so that they are never hex-encoded.
 *
 * Everything is validated before anything is written (no savepoints).
 * Concurrent enqueues of a process are committed together (group commit):
 * the first caller to find no commit in progress leads, taking every op
 * queued so far into one transaction; the others wait for its outcome. An
 * op that fails on its own input (an unknown dependency) has written
 * nothing when it fails, so the group's transaction goes on without it.
 * A group whose tasks refer to nothing (no unique key, no dependency; the
 * common case of many producers) is written as one batch.
 * Two producers inserting the same unique key at once: the loser's insert
 * violates the unique index; its transaction then runs again and finds the
 * winner's task, as if it had come second. Unused ids (a unique key's hit)
 * are simply skipped: ids are never reused. */
#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Payloads up to this size travel inside the insert's array (hex). */
#define PG_ARRAY_PAYLOAD_MAX 65536

/* A growable string for array literals. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_reserve(sbuf *b, size_t more) {
    if (b->oom || b->n + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = 1;
        return;
    }
    b->s = s;
    b->cap = cap;
}

static void sb_putc(sbuf *b, char c) {
    sb_reserve(b, 1);
    if (b->oom) return;
    b->s[b->n++] = c;
    b->s[b->n] = '\0';
}

static void sb_sep(sbuf *b) { sb_putc(b, b->n == 0 ? '{' : ','); }

static void sb_raw(sbuf *b, const char *s) {
    size_t len = strlen(s);
    sb_reserve(b, len);
    if (b->oom) return;
    memcpy(b->s + b->n, s, len + 1);
    b->n += len;
}

static void sb_i64(sbuf *b, int64_t v) {
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)v);
    sb_sep(b);
    sb_raw(b, num);
}

static void sb_f64(sbuf *b, double v) {
    char num[40];
    snprintf(num, sizeof num, "%.17g", v);
    sb_sep(b);
    sb_raw(b, num);
}

static void sb_text(sbuf *b, const char *s) {
    sb_sep(b);
    if (!s) {
        sb_raw(b, "NULL");
        return;
    }
    sb_reserve(b, 2 * strlen(s) + 2);
    sb_putc(b, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\') sb_putc(b, '\\');
        sb_putc(b, *p);
    }
    sb_putc(b, '"');
}

/* bytea in an array literal: "\\x" then hex (the backslash escaped). */
static void sb_bytea(sbuf *b, const void *data, size_t len, int is_null) {
    sb_sep(b);
    if (is_null) {
        sb_raw(b, "NULL");
        return;
    }
    static const char hex[] = "0123456789abcdef";
    sb_reserve(b, 2 * len + 6);
    if (b->oom) return;
    sb_raw(b, "\"\\\\x");
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        b->s[b->n++] = hex[p[i] >> 4];
        b->s[b->n++] = hex[p[i] & 15];
    }
    b->s[b->n] = '\0';
    sb_putc(b, '"');
}

static const char *sb_done(sbuf *b) {
    if (b->n == 0) sb_putc(b, '{');
    sb_putc(b, '}');
    return b->oom ? NULL : b->s;
}

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

typedef struct enq_arg {
    const char *queue;
    const sitq_task_spec *specs;
    size_t n;
    sitq_task_id *ids;
    sitq_time_us now;
    size_t n_ready; /* out: tasks inserted queued (ready now or at their ETA) */
} enq_arg;

typedef struct enq_work {
    sitq_task_id *pool; /* ids from the sequence, ascending */
    int *pool_state;    /* initial state of the task given pool[j], j < used */
    size_t n_pool, used;
    int *state;                 /* per spec: initial state, -1 when a unique key's hit */
    sitq_task_id *existing_ids; /* unique hits, aligned with existing_keys */
    char **existing_keys;
    size_t n_existing;
    dep_state *deps; /* sorted by id */
    size_t n_deps;
    sbuf col[15];
    sbuf edge_child, edge_parent, edge_pos, edge_fin;
} enq_work;

static void work_free(enq_work *w, size_t n) {
    free(w->pool);
    free(w->pool_state);
    free(w->state);
    free(w->existing_ids);
    for (size_t i = 0; i < w->n_existing; i++) free(w->existing_keys[i]);
    free(w->existing_keys);
    free(w->deps);
    for (int i = 0; i < 15; i++) free(w->col[i].s);
    free(w->edge_child.s);
    free(w->edge_parent.s);
    free(w->edge_pos.s);
    free(w->edge_fin.s);
    (void)n;
    memset(w, 0, sizeof *w);
}

static const sitq_task_options *opts_of(const sitq_task_spec *s, sitq_task_options *defaults) {
    if (s->options) return s->options;
    sitq_task_options_init(defaults);
    return defaults;
}

/* Step 1: live tasks that hold the batch's unique keys. */
static sitq_code find_unique(pg_conn *c, enq_arg *a, enq_work *w, sitq_error *err) {
    sbuf keys = {0};
    for (size_t i = 0; i < a->n; i++)
        if (a->specs[i].options && a->specs[i].options->unique_key)
            sb_text(&keys, a->specs[i].options->unique_key);
    if (keys.n == 0) {
        free(keys.s);
        return SITQ_OK;
    }
    const char *arr = sb_done(&keys);
    if (!arr) {
        free(keys.s);
        return sitq__fail(err, SITQ_ENOMEM, "out of memory looking up unique keys");
    }
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, a->queue);
    pg_p_text(&p, arr);
    PGresult *r = pg_run(c, PG_UNIQUE_FIND, &p, err, "looking up a unique key");
    free(keys.s);
    if (!r) return pg_code(err);
    int n = PQntuples(r);
    sitq_code rc = SITQ_OK;
    if (n > 0) {
        w->existing_ids = calloc((size_t)n, sizeof *w->existing_ids);
        w->existing_keys = calloc((size_t)n, sizeof *w->existing_keys);
        if (!w->existing_ids || !w->existing_keys)
            rc = sitq__fail(err, SITQ_ENOMEM, "out of memory looking up unique keys");
        for (int i = 0; !rc && i < n; i++) {
            w->existing_keys[i] = pg_text(r, i, 0);
            w->existing_ids[i] = pg_i64(r, i, 1);
            w->n_existing++;
            if (!w->existing_keys[i])
                rc = sitq__fail(err, SITQ_ENOMEM, "out of memory looking up unique keys");
        }
    }
    PQclear(r);
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

/* Step 3: states of every dependency named by id and of every unique hit
 * (a later task of the batch may depend on it by index), rows locked. */
static sitq_code read_dep_states(pg_conn *c, enq_arg *a, enq_work *w, sitq_error *err) {
    size_t n = w->n_existing;
    for (size_t i = 0; i < a->n; i++)
        if (a->specs[i].options) n += a->specs[i].options->n_depends_on;
    if (n == 0) return SITQ_OK;
    sitq_task_id *v = malloc(n * sizeof *v);
    if (!v) return sitq__fail(err, SITQ_ENOMEM, "out of memory checking dependencies");
    size_t m = 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->specs[i].options)
            for (size_t k = 0; k < a->specs[i].options->n_depends_on; k++)
                v[m++] = a->specs[i].options->depends_on[k];
    for (size_t i = 0; i < w->n_existing; i++) v[m++] = w->existing_ids[i];
    char *arr = pg_array_i64(v, m);
    free(v);
    if (!arr) return sitq__fail(err, SITQ_ENOMEM, "out of memory checking dependencies");
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, arr);
    pg_p_text(&p, a->queue);
    PGresult *r = pg_run(c, PG_DEP_STATES, &p, err, "checking dependencies");
    free(arr);
    if (!r) return pg_code(err);
    int rows = PQntuples(r);
    sitq_code rc = SITQ_OK;
    if (rows > 0 && !(w->deps = malloc((size_t)rows * sizeof *w->deps)))
        rc = sitq__fail(err, SITQ_ENOMEM, "out of memory checking dependencies");
    for (int i = 0; !rc && i < rows; i++) {
        w->deps[i].id = pg_i64(r, i, 0);
        w->deps[i].state = (int)pg_i64(r, i, 1);
    }
    if (!rc) w->n_deps = (size_t)rows;
    PQclear(r);
    if (w->n_deps > 1) qsort(w->deps, w->n_deps, sizeof *w->deps, cmp_dep_state);
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
        if (w->state[i] >= 0 && w->state[i] != SITQ__FAILED && o && o->unique_key &&
            !strcmp(o->unique_key, key))
            return a->ids[i];
    }
    return 0;
}

/* Step 4 for one task: decide its id and state, append its row. */
static sitq_code decide_one(enq_arg *a, enq_work *w, size_t idx, sitq_error *err) {
    const sitq_task_spec *s = &a->specs[idx];
    sitq_task_options defaults;
    const sitq_task_options *o = opts_of(s, &defaults);
    char where[40] = "";
    if (a->n > 1) snprintf(where, sizeof where, "task %zu: ", idx);
    w->state[idx] = -1;
    if (o->unique_key) {
        sitq_task_id hit = unique_hit(a, w, idx, o->unique_key);
        if (hit) {
            a->ids[idx] = hit;
            return SITQ_OK;
        }
    }
    /* Dependencies, sorted and without duplicates, folded in id order; each
     * keeps its declared position. */
    sitq__dep_edge *d = NULL;
    size_t m = 0;
    sitq_code rc = sitq__deps_collect(s, a->ids, &d, &m, err);
    if (rc) return rc;
    sitq__deps_fold fold;
    sitq__deps_begin(&fold, o->finalizer);
    for (size_t k = 0; k < m && !rc; k++)
        rc = sitq__deps_add(&fold, where, d[k].id, state_of(w, d[k].id), err);
    if (rc) {
        free(d);
        return rc;
    }
    if (w->used >= w->n_pool) {
        free(d);
        return sitq__fail(err, SITQ_ESTORAGE, "the id sequence gave too few ids");
    }
    sitq_task_id id = w->pool[w->used++];
    char failmsg[96] = "";
    int state = sitq__deps_initial_state(&fold, failmsg, sizeof failmsg);
    int failed = state == SITQ__FAILED;
    for (size_t k = 0; k < m; k++) {
        sb_i64(&w->edge_child, id);
        sb_i64(&w->edge_parent, d[k].id);
        sb_i64(&w->edge_pos, d[k].position);
        sb_i64(&w->edge_fin, o->finalizer);
    }
    free(d);
    a->ids[idx] = id;
    w->state[idx] = state;
    w->pool_state[w->used - 1] = state;
    if (state == SITQ__QUEUED) a->n_ready++;
    sitq_time_us run_at = o->eta_us > 0 ? o->eta_us : a->now + sitq__seconds_to_us(o->delay_s);
    /* A timeout under 1 us is 1 us, not 0 (which would mean none). */
    int64_t timeout_us = sitq__seconds_to_us(o->timeout_s);
    if (o->timeout_s > 0 && timeout_us < 1) timeout_us = 1;
    sb_i64(&w->col[0], id);
    sb_text(&w->col[1], s->function);
    sb_i64(&w->col[2], state);
    sb_i64(&w->col[3], o->priority);
    sb_i64(&w->col[4], run_at);
    sb_i64(&w->col[5], o->max_retries);
    sb_i64(&w->col[6], sitq__seconds_to_us(o->backoff_base_s));
    sb_i64(&w->col[7], sitq__seconds_to_us(o->backoff_cap_s));
    sb_f64(&w->col[8], o->backoff_jitter);
    sb_i64(&w->col[9], timeout_us);
    sb_i64(&w->col[10], failed ? 0 : fold.pending);
    sb_text(&w->col[11], failed ? NULL : o->unique_key);
    sb_text(&w->col[12], failed ? failmsg : NULL);
    if (failed) sb_i64(&w->col[13], a->now);
    else sb_text(&w->col[13], NULL);
    /* An empty payload is stored empty, not NULL, as SQLite stores it. */
    int big = s->payload_len > PG_ARRAY_PAYLOAD_MAX;
    sb_bytea(&w->col[14], s->payload, big ? 0 : s->payload_len, big);
    return SITQ_OK;
}

static sitq_code enqueue_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    (void)b;
    enq_arg *a = arg;
    enq_work w;
    memset(&w, 0, sizeof w);
    memset(a->ids, 0, a->n * sizeof *a->ids);
    a->n_ready = 0;
    sitq_code rc = SITQ_OK;
    if (!(w.state = malloc(a->n * sizeof *w.state)))
        rc = sitq__fail(err, SITQ_ENOMEM, "out of memory enqueueing");
    for (size_t i = 0; !rc && i < a->n; i++) w.state[i] = -1;
    if (!rc) rc = find_unique(c, a, &w, err);
    if (!rc) rc = take_ids(c, &w, a->n, err);
    if (!rc) rc = read_dep_states(c, a, &w, err);
    for (size_t i = 0; i < a->n && !rc; i++) rc = decide_one(a, &w, i, err);
    if (!rc && w.used > 0) {
        pg_params p;
        pg_p_init(&p);
        pg_p_text(&p, a->queue);
        pg_p_i64(&p, a->now);
        for (int k = 0; k < 15; k++) {
            const char *arr = sb_done(&w.col[k]);
            if (!arr) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory enqueueing");
            pg_p_text(&p, arr);
        }
        if (!rc) {
            PGresult *r = pg_run(c, PG_INSERT_TASKS, &p, err, "inserting tasks");
            if (!r) {
                rc = pg_code(err);
                /* Another producer took a unique key meanwhile: run again,
                 * and find its task. */
                if (!strcmp(c->sqlstate, "23505")) c->retry = 1;
            }
            PQclear(r);
        }
    }
    for (size_t i = 0; i < a->n && !rc; i++) {
        const sitq_task_spec *s = &a->specs[i];
        if (w.state[i] < 0 || s->payload_len <= PG_ARRAY_PAYLOAD_MAX) continue;
        pg_params p;
        pg_p_init(&p);
        pg_p_i64(&p, a->ids[i]);
        pg_p_bytea(&p, s->payload, s->payload_len, 0);
        rc = pg_exec(c, PG_SET_PAYLOAD, &p, err, "storing a payload");
    }
    if (!rc && w.edge_child.n > 0) {
        const char *ch = sb_done(&w.edge_child), *pa = sb_done(&w.edge_parent);
        const char *po = sb_done(&w.edge_pos), *fi = sb_done(&w.edge_fin);
        if (!ch || !pa || !po || !fi) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory enqueueing");
        else {
            pg_params p;
            pg_p_init(&p);
            pg_p_text(&p, ch);
            pg_p_text(&p, pa);
            pg_p_text(&p, po);
            pg_p_text(&p, fi);
            rc = pg_exec(c, PG_INSERT_DEPS, &p, err, "recording dependencies");
        }
    }
    work_free(&w, a->n);
    return rc;
}

/* One caller's enqueue, waiting in the group-commit list. */
typedef struct enq_op {
    enq_arg a;
    sitq_code rc;
    sitq_error err;
    int done; /* under gc_mu */
    struct enq_op *next;
} enq_op;

/* Errors an enqueue finds by reading, before it writes anything: the
 * caller's alone, the group's transaction goes on without it. */
static int own_error(pg_conn *c, sitq_code rc) {
    return (rc == SITQ_EDEPENDENCY || rc == SITQ_EINVAL) && c->conn &&
           PQtransactionStatus(c->conn) == PQTRANS_INTRANS;
}

/* A group of enqueues in one transaction, one after the other and without
 * savepoints: each reads what it needs and decides every task before its
 * first write, so one that fails (an unknown dependency) has written
 * nothing and the others go on. Any other error fails the group's
 * transaction; pg_enqueue then runs each op alone. */
/* An op that cannot fail on its own input and whose tasks refer to nothing
 * (no unique key, no dependency): it can be merged with others. */
static int plain_op(const enq_op *op, const char *queue) {
    if (strcmp(op->a.queue, queue) != 0) return 0;
    for (size_t i = 0; i < op->a.n; i++) {
        const sitq_task_spec *s = &op->a.specs[i];
        if (s->n_depends_on_index) return 0;
        if (s->options && (s->options->unique_key || s->options->n_depends_on)) return 0;
    }
    return 1;
}

/* A group of plain ops of one queue as one batch (one set of statements for
 * the whole group); their ids are handed back to each op. 1 when done
 * (*rc set), 0 when the group is not plain. */
static int merged_body(pg_backend *b, pg_conn *c, enq_op *group, sitq_code *rc, sitq_error *err) {
    size_t n = 0;
    for (enq_op *op = group; op; op = op->next) {
        if (!plain_op(op, group->a.queue)) return 0;
        n += op->a.n;
    }
    sitq_task_spec *specs = malloc(n * sizeof *specs);
    sitq_task_id *ids = malloc(n * sizeof *ids);
    if (!specs || !ids) {
        free(specs);
        free(ids);
        return 0; /* one by one instead */
    }
    size_t k = 0;
    for (enq_op *op = group; op; op = op->next) {
        memcpy(specs + k, op->a.specs, op->a.n * sizeof *specs);
        k += op->a.n;
    }
    enq_arg a = {group->a.queue, specs, n, ids, group->a.now, 0};
    *rc = enqueue_body(b, c, &a, err);
    k = 0;
    for (enq_op *op = group; op; op = op->next) {
        op->rc = *rc;
        op->err.code = SITQ_OK;
        op->err.message[0] = '\0';
        memcpy(op->a.ids, ids + k, op->a.n * sizeof *ids);
        op->a.n_ready = op == group ? a.n_ready : 0;
        k += op->a.n;
    }
    free(specs);
    free(ids);
    return 1;
}

static sitq_code group_body(pg_backend *b, pg_conn *c, void *arg, sitq_error *err) {
    enq_op *group = arg;
    sitq_code merged_rc = SITQ_OK;
    if (group->next && merged_body(b, c, group, &merged_rc, err)) {
        if (merged_rc) return merged_rc;
        return pg_notify_queue(c, group->a.queue, 0, group->a.n_ready > 0, err);
    }
    for (enq_op *op = arg; op; op = op->next) {
        op->err.code = SITQ_OK;
        op->err.message[0] = '\0';
        op->rc = enqueue_body(b, c, &op->a, &op->err);
        if (op->rc && !own_error(c, op->rc)) {
            if (err) *err = op->err;
            return op->rc;
        }
    }
    /* One notification per queue of the commit. */
    for (enq_op *op = arg; op; op = op->next) {
        if (op->rc || op->a.n_ready == 0) continue;
        int seen = 0;
        for (enq_op *o = arg; o != op && !seen; o = o->next)
            seen = !o->rc && o->a.n_ready > 0 && !strcmp(o->a.queue, op->a.queue);
        if (seen) continue;
        sitq_code rc = pg_notify_queue(c, op->a.queue, 0, 1, err);
        if (rc) return rc;
    }
    return SITQ_OK;
}

static void write_group(pg_backend *b, enq_op *group) {
    if (!group) return;
    sitq_time_us now = sitq_now_us();
    for (enq_op *op = group; op; op = op->next) op->a.now = now;
    sitq_error err = {SITQ_OK, ""};
    sitq_code rc = pg_write_txn(b, group_body, group, &err);
    if (!rc) return;
    if (!group->next) { /* alone: the transaction's error is its own */
        group->rc = rc;
        group->err = err;
        return;
    }
    /* Nothing of the group was committed: each op again on its own, so
     * that an error belongs to the caller who caused it. */
    for (enq_op *op = group, *next; op; op = next) {
        next = op->next;
        op->next = NULL;
        rc = pg_write_txn(b, group_body, op, &err);
        if (rc) {
            op->rc = rc;
            op->err = err;
        }
        op->next = next;
    }
}

sitq_code pg_enqueue(sitq_backend *base, const char *queue, const sitq_task_spec *specs, size_t n,
                     sitq_task_id *ids, sitq_error *err) {
    pg_backend *b = (pg_backend *)base;
    if (n == 0) return sitq__ok(err);
    enq_op me = {{queue, specs, n, ids, 0, 0}, SITQ_OK, {SITQ_OK, ""}, 0, NULL};
    pthread_mutex_lock(&b->gc_mu);
    if (b->gc_tail) b->gc_tail->next = &me;
    else b->gc_head = &me;
    b->gc_tail = &me;
    while (!me.done) {
        if (b->gc_leader) { /* a leader is writing: our op is in its next group */
            pthread_cond_wait(&b->gc_cv, &b->gc_mu);
            continue;
        }
        /* Lead: take everything queued so far (including us) and write it. */
        b->gc_leader = 1;
        enq_op *group = b->gc_head;
        b->gc_head = b->gc_tail = NULL;
        pthread_mutex_unlock(&b->gc_mu);
        write_group(b, group);
        pthread_mutex_lock(&b->gc_mu);
        for (enq_op *op = group, *next; op; op = next) {
            next = op->next;
            op->done = 1; /* after this, op's owner may return and free it */
        }
        b->gc_leader = 0;
        pthread_cond_broadcast(&b->gc_cv);
    }
    pthread_mutex_unlock(&b->gc_mu);
    if (me.rc) {
        memset(ids, 0, n * sizeof *ids);
        if (err) *err = me.err;
        return me.rc;
    }
    return sitq__ok(err);
}
