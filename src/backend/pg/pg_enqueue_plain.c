/* pg_enqueue_plain.c - tasks that refer to nothing (no unique key, no
 * dependency: the common case of producers) in one round trip: one
 * statement that is its own transaction draws their ids, inserts them from
 * binary arrays and notifies the queue's waiters (PG_INSERT_PLAIN). It
 * returns the ids in ascending order and gives the k-th smallest to the
 * k-th row, so that the k-th task gets the k-th id, as in a batch written
 * by pg_enq_body. */
#include "pg_enqueue.h"

#include <stdlib.h>
#include <string.h>

int pg_enq_is_plain(const sitq_task_spec *s) {
    if (s->n_depends_on_index || s->payload_len > PG_ARRAY_PAYLOAD_MAX) return 0;
    return !s->options ||
           (!s->options->unique_key && !s->options->n_depends_on && s->options->keep_s == 0);
}

enum { N_PLAIN = 9 };

static const uint32_t plain_oid[N_PLAIN] = {PG_OID_TEXT,   PG_OID_INT8, PG_OID_INT8,
                                            PG_OID_INT8,   PG_OID_INT8, PG_OID_INT8,
                                            PG_OID_FLOAT8, PG_OID_INT8, PG_OID_BYTEA};

static void plain_row(pg_array *col, const enq_arg *a, const sitq_task_spec *s) {
    sitq_task_options defaults;
    const sitq_task_options *o = pg_enq_opts(s, &defaults);
    pg_arr_bytes(&col[0], s->function, strlen(s->function), 0);
    pg_arr_i64(&col[1], o->priority);
    pg_arr_i64(&col[2], pg_enq_run_at(a, o));
    pg_arr_i64(&col[3], o->max_retries);
    pg_arr_i64(&col[4], sitq__seconds_to_us(o->backoff_base_s));
    pg_arr_i64(&col[5], sitq__seconds_to_us(o->backoff_cap_s));
    pg_arr_f64(&col[6], o->backoff_jitter, 0);
    pg_arr_i64(&col[7], pg_enq_timeout_us(o));
    /* An empty payload is stored empty, not NULL, as SQLite stores it. */
    pg_arr_bytes(&col[8], s->payload ? s->payload : "", s->payload_len, 0);
}

static sitq_code read_ids(PGresult *r, enq_arg *a, sitq_error *err) {
    if ((size_t)PQntuples(r) != a->n)
        return sitq__fail(err, SITQ_ESTORAGE, "PostgreSQL inserted %d of %zu tasks", PQntuples(r),
                          a->n);
    for (size_t i = 0; i < a->n; i++) a->ids[i] = pg_i64(r, (int)i, 0);
    a->n_ready = a->n;
    return SITQ_OK;
}

sitq_code pg_enq_plain(pg_conn *c, enq_arg *a, sitq_error *err) {
    memset(a->ids, 0, a->n * sizeof *a->ids);
    a->n_ready = 0;
    char channel[32];
    pg_channel_name(c->b, channel, sizeof channel);
    size_t ql = strlen(a->queue);
    char *note = malloc(ql + 2); /* 'r' (ready) and the queue, as pg_notify_queue */
    pg_array col[N_PLAIN];
    for (int k = 0; k < N_PLAIN; k++) pg_arr_init(&col[k], plain_oid[k]);
    for (size_t i = 0; i < a->n; i++) plain_row(col, a, &a->specs[i]);
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, a->queue);
    pg_p_i64(&p, a->now);
    pg_p_i64(&p, (int64_t)a->n);
    pg_p_text(&p, channel);
    pg_p_text(&p, note);
    sitq_code rc = note ? SITQ_OK : sitq__fail(err, SITQ_ENOMEM, "out of memory enqueueing");
    for (int k = 0; k < N_PLAIN && !rc; k++)
        if (pg_p_array(&p, &col[k]) != 0) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory");
    if (!rc) {
        note[0] = 'r';
        memcpy(note + 1, a->queue, ql + 1);
        PGresult *r = pg_run(c, PG_INSERT_PLAIN, &p, err, "inserting tasks");
        rc = r ? read_ids(r, a, err) : pg_code(err);
        PQclear(r);
    }
    for (int k = 0; k < N_PLAIN; k++) pg_arr_free(&col[k]);
    free(note);
    return rc;
}
