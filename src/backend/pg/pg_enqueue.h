/* pg_enqueue.h - what the enqueue files of the PostgreSQL backend share:
 * one enqueue's arguments, the rows it decided, and the ways to write them
 * (pg_enqueue_rows.c), the general body (pg_enqueue_body.c) and the one
 * statement of tasks that refer to nothing (pg_enqueue_plain.c). */
#ifndef SITQ_PG_ENQUEUE_H
#define SITQ_PG_ENQUEUE_H

#include "pg.h"

/* Payloads up to this size travel inside the insert's array; larger ones
 * follow as parameters of their own, one statement each. */
#define PG_ARRAY_PAYLOAD_MAX 65536

/* Batches of at least this many rows are written by binary COPY: cheaper
 * per row than an INSERT over arrays once its extra round trip is paid. */
#define PG_COPY_MIN 256

typedef struct enq_arg {
    const char *queue;
    const sitq_task_spec *specs;
    size_t n;
    sitq_task_id *ids;
    sitq_time_us now;
    size_t n_ready; /* out: tasks inserted queued (ready now or at their ETA) */
} enq_arg;

/* What was decided for specs[i]: rows[i].state < 0 when the task is not
 * inserted (a unique key's hit, whose id is that of the live task). */
typedef struct enq_row {
    sitq_task_id id;
    int state;
    int64_t pending;
    char *failmsg; /* malloc'd; only when state is SITQ__FAILED */
} enq_row;

/* The options of s, or defaults when it has none. */
const sitq_task_options *pg_enq_opts(const sitq_task_spec *s, sitq_task_options *defaults);
/* When a task becomes due, and its timeout (0: none; at least 1 us). */
sitq_time_us pg_enq_run_at(const enq_arg *a, const sitq_task_options *o);
int64_t pg_enq_timeout_us(const sitq_task_options *o);

/* Insert the rows decided (rows[i].state >= 0) in the open transaction:
 * by binary COPY when there are at least PG_COPY_MIN of them, else by one
 * INSERT over binary arrays (and a statement per payload over
 * PG_ARRAY_PAYLOAD_MAX). A unique key taken meanwhile by another producer
 * sets c->retry. SITQ_OK or an error in err. */
sitq_code pg_enq_write_rows(pg_conn *c, const enq_arg *a, const enq_row *rows, size_t n_rows,
                            sitq_error *err);

/* The general enqueue of a batch inside a write transaction (unique keys,
 * dependencies, every decision before the first write). */
sitq_code pg_enq_body(pg_conn *c, enq_arg *a, sitq_error *err);

/* Tasks that refer to nothing (no unique key, no dependency, payloads up
 * to PG_ARRAY_PAYLOAD_MAX), of one queue: ids drawn, rows inserted and the
 * queue's waiters notified in one statement (pg_write_one). Sets a->ids,
 * a->n_ready. */
sitq_code pg_enq_plain(pg_conn *c, enq_arg *a, sitq_error *err);
/* 1 when spec s can go through pg_enq_plain. */
int pg_enq_is_plain(const sitq_task_spec *s);

#endif
