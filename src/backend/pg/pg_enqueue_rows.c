/* pg_enqueue_rows.c - writing the task rows an enqueue decided: small
 * batches as one INSERT over binary arrays (one array parameter per
 * column, nothing printed or escaped), big ones by binary COPY, which the
 * server neither parses nor inserts row by row, and which streams payloads
 * of any size as they are. */
#include "pg_enqueue.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

const sitq_task_options *pg_enq_opts(const sitq_task_spec *s, sitq_task_options *defaults) {
    if (s->options) return s->options;
    sitq_task_options_init(defaults);
    return defaults;
}

sitq_time_us pg_enq_run_at(const enq_arg *a, const sitq_task_options *o) {
    return o->eta_us > 0 ? o->eta_us : a->now + sitq__seconds_to_us(o->delay_s);
}

int64_t pg_enq_timeout_us(const sitq_task_options *o) {
    /* A timeout under 1 us is 1 us, not 0 (which would mean none). */
    int64_t timeout_us = sitq__seconds_to_us(o->timeout_s);
    if (o->timeout_s > 0 && timeout_us < 1) timeout_us = 1;
    return timeout_us;
}

/* ---- INSERT over binary arrays ---- */

enum { N_COLS = 15 };

static const uint32_t col_oid[N_COLS] = {PG_OID_INT8,   PG_OID_TEXT, PG_OID_INT8, PG_OID_INT8,
                                         PG_OID_INT8,   PG_OID_INT8, PG_OID_INT8, PG_OID_INT8,
                                         PG_OID_FLOAT8, PG_OID_INT8, PG_OID_INT8, PG_OID_TEXT,
                                         PG_OID_BYTEA,  PG_OID_INT8, PG_OID_BYTEA};

static void arr_text(pg_array *a, const char *s) { pg_arr_bytes(a, s, s ? strlen(s) : 0, !s); }

static void append_row(pg_array *col, const enq_arg *a, size_t i, const enq_row *r) {
    const sitq_task_spec *s = &a->specs[i];
    sitq_task_options defaults;
    const sitq_task_options *o = pg_enq_opts(s, &defaults);
    int failed = r->state == SITQ__FAILED;
    pg_arr_i64(&col[0], r->id);
    arr_text(&col[1], s->function);
    pg_arr_i64(&col[2], r->state);
    pg_arr_i64(&col[3], o->priority);
    pg_arr_i64(&col[4], pg_enq_run_at(a, o));
    pg_arr_i64(&col[5], o->max_retries);
    pg_arr_i64(&col[6], sitq__seconds_to_us(o->backoff_base_s));
    pg_arr_i64(&col[7], sitq__seconds_to_us(o->backoff_cap_s));
    pg_arr_f64(&col[8], o->backoff_jitter, 0);
    pg_arr_i64(&col[9], pg_enq_timeout_us(o));
    pg_arr_i64(&col[10], failed ? 0 : r->pending);
    arr_text(&col[11], failed ? NULL : o->unique_key);
    arr_text(&col[12], failed ? r->failmsg : NULL);
    if (failed) pg_arr_i64(&col[13], a->now);
    else pg_arr_bytes(&col[13], NULL, 0, 1);
    /* An empty payload is stored empty, not NULL, as SQLite stores it. */
    int big = s->payload_len > PG_ARRAY_PAYLOAD_MAX;
    pg_arr_bytes(&col[14], s->payload, big ? 0 : s->payload_len, big);
}

/* Payloads over PG_ARRAY_PAYLOAD_MAX, one binary parameter each. */
static sitq_code big_payloads(pg_conn *c, const enq_arg *a, const enq_row *rows, sitq_error *err) {
    sitq_code rc = SITQ_OK;
    for (size_t i = 0; i < a->n && !rc; i++) {
        const sitq_task_spec *s = &a->specs[i];
        if (rows[i].state < 0 || s->payload_len <= PG_ARRAY_PAYLOAD_MAX) continue;
        pg_params p;
        pg_p_init(&p);
        pg_p_i64(&p, rows[i].id);
        pg_p_bytea(&p, s->payload, s->payload_len, 0);
        rc = pg_exec(c, PG_SET_PAYLOAD, &p, err, "storing a payload");
    }
    return rc;
}

static sitq_code write_arrays(pg_conn *c, const enq_arg *a, const enq_row *rows, sitq_error *err) {
    pg_array col[N_COLS];
    for (int k = 0; k < N_COLS; k++) pg_arr_init(&col[k], col_oid[k]);
    for (size_t i = 0; i < a->n; i++)
        if (rows[i].state >= 0) append_row(col, a, i, &rows[i]);
    pg_params p;
    pg_p_init(&p);
    pg_p_text(&p, a->queue);
    pg_p_i64(&p, a->now);
    sitq_code rc = SITQ_OK;
    for (int k = 0; k < N_COLS; k++)
        if (pg_p_array(&p, &col[k]) != 0) rc = sitq__fail(err, SITQ_ENOMEM, "out of memory");
    if (!rc) {
        PGresult *r = pg_run(c, PG_INSERT_TASKS, &p, err, "inserting tasks");
        if (!r) {
            rc = pg_code(err);
            /* Another producer took a unique key meanwhile: run again, and
             * find its task. */
            if (!strcmp(c->sqlstate, "23505")) c->retry = 1;
        }
        PQclear(r);
    }
    for (int k = 0; k < N_COLS; k++) pg_arr_free(&col[k]);
    if (!rc) rc = big_payloads(c, a, rows, err);
    return rc;
}

/* ---- binary COPY ---- */

/* Data is sent to libpq in pieces of about this size. */
#define COPY_CHUNK (256 * 1024)

typedef struct copy_buf {
    pg_conn *c;
    char *s;
    size_t n;
    sitq_code rc;
    sitq_error *err;
} copy_buf;

static void cb_flush(copy_buf *b) {
    if (!b->rc && b->n) b->rc = pg_copy_put(b->c, b->s, b->n, b->err, "copying tasks");
    b->n = 0;
}

/* Room for len more bytes (len <= COPY_CHUNK). */
static char *cb_room(copy_buf *b, size_t len) {
    if (b->n + len > COPY_CHUNK) cb_flush(b);
    char *p = b->s + b->n;
    b->n += len;
    return p;
}

static void cb_u32(copy_buf *b, uint32_t v) {
    uint32_t be = htonl(v);
    memcpy(cb_room(b, 4), &be, 4);
}

static void cb_i64(copy_buf *b, int64_t v) {
    cb_u32(b, 8);
    cb_u32(b, (uint32_t)((uint64_t)v >> 32));
    cb_u32(b, (uint32_t)v);
}

static void cb_i32(copy_buf *b, int32_t v) {
    cb_u32(b, 4);
    cb_u32(b, (uint32_t)v);
}

static void cb_null(copy_buf *b) { cb_u32(b, 0xffffffffu); }

/* A field of len bytes; a long one goes to libpq from where it is. */
static void cb_bytes(copy_buf *b, const void *data, size_t len) {
    cb_u32(b, (uint32_t)len);
    if (len <= COPY_CHUNK) {
        if (len) memcpy(cb_room(b, len), data, len);
        return;
    }
    cb_flush(b);
    if (!b->rc) b->rc = pg_copy_put(b->c, data, len, b->err, "copying a payload");
}

static void cb_text(copy_buf *b, const char *s) {
    if (s) cb_bytes(b, s, strlen(s));
    else cb_null(b);
}

static void copy_row(copy_buf *b, const enq_arg *a, size_t i, const enq_row *r) {
    const sitq_task_spec *s = &a->specs[i];
    sitq_task_options defaults;
    const sitq_task_options *o = pg_enq_opts(s, &defaults);
    int failed = r->state == SITQ__FAILED;
    double jitter = o->backoff_jitter;
    uint64_t jbits;
    memcpy(&jbits, &jitter, sizeof jbits);
    memcpy(cb_room(b, 2), "\0\021", 2); /* 17 fields, int16 */
    cb_i64(b, r->id);
    cb_text(b, a->queue);
    cb_text(b, s->function);
    cb_i32(b, r->state);
    cb_i32(b, o->priority);
    cb_i64(b, pg_enq_run_at(a, o));
    cb_i32(b, o->max_retries);
    cb_i64(b, sitq__seconds_to_us(o->backoff_base_s));
    cb_i64(b, sitq__seconds_to_us(o->backoff_cap_s));
    cb_i64(b, (int64_t)jbits);
    cb_i64(b, pg_enq_timeout_us(o));
    cb_i64(b, failed ? 0 : r->pending);
    cb_text(b, failed ? NULL : o->unique_key);
    cb_i64(b, a->now);
    cb_text(b, failed ? r->failmsg : NULL);
    if (failed) cb_i64(b, a->now);
    else cb_null(b);
    cb_bytes(b, s->payload ? s->payload : "", s->payload_len);
}

static sitq_code write_copy(pg_conn *c, const enq_arg *a, const enq_row *rows, sitq_error *err) {
    static const char header[19] = "PGCOPY\n\377\r\n"; /* then flags and extension: 0 */
    copy_buf b = {c, malloc(COPY_CHUNK), 0, SITQ_OK, err};
    if (!b.s) return sitq__fail(err, SITQ_ENOMEM, "out of memory copying tasks");
    sitq_code rc = pg_copy_begin(c, PG_COPY_TASKS, err, "copying tasks");
    if (!rc) {
        memcpy(cb_room(&b, sizeof header), header, sizeof header);
        for (size_t i = 0; i < a->n && !b.rc; i++)
            if (rows[i].state >= 0) copy_row(&b, a, i, &rows[i]);
        memcpy(cb_room(&b, 2), "\377\377", 2); /* the trailer: -1 as int16 */
        cb_flush(&b);
        rc = pg_copy_end(c, b.rc, err, "copying tasks");
        if (rc && !strcmp(c->sqlstate, "23505")) c->retry = 1;
    }
    free(b.s);
    return rc;
}

sitq_code pg_enq_write_rows(pg_conn *c, const enq_arg *a, const enq_row *rows, size_t n_rows,
                            sitq_error *err) {
    if (n_rows == 0) return SITQ_OK;
    if (n_rows >= PG_COPY_MIN) return write_copy(c, a, rows, err);
    return write_arrays(c, a, rows, err);
}
