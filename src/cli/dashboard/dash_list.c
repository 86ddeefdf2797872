/*
 * dash_list.c - one page of the task list (/tasks and /api/tasks), with a
 * bound on the rows it examines.
 *
 * A filter that an index serves (a queue with a status other than
 * succeeded, or no filter at all) reads only matching rows, so a page costs
 * the same at any size. A status other than succeeded without a queue is
 * read queue by queue on that index and merged (the index is by queue, then
 * id: one read over every queue could not seek, and SQLite walks the table
 * instead), on a store of at most DASH_MERGE_QUEUES_MAX queues; with more,
 * as the filters below. Any other filter (a function, succeeded, a queue without a
 * status) reads the tasks in id order and skips those that do not match: a
 * rare match on 10 million tasks would read them all, for seconds, on every
 * load of the page. Such a page therefore looks only at the ids of one
 * window below its start (at most scan_ids of them: ids are unique, so at
 * most that many rows on either backend) and, when the window ends before
 * the page is full, says where it stopped: the next page continues below
 * the window, as keyset paging does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"

/* 1 when the status has an index by queue and id: all but succeeded. */
static int status_indexed(int status) {
    return status != SITQ_STATUS_ANY && status != SITQ_SUCCEEDED;
}

/* 1 when an index yields exactly the tasks f selects, in id order. */
static int index_served(const sitq_list_filter *f) {
    if (f->function) return 0;
    if (f->status == SITQ_STATUS_ANY) return f->queue == NULL;
    return f->queue != NULL && status_indexed(f->status);
}

/* Newest id first, for qsort. */
static int newer_first(const void *a, const void *b) {
    sitq_task_id x = (*(sitq_result *const *)a)->id, y = (*(sitq_result *const *)b)->id;
    return x > y ? -1 : x < y;
}

/* Append the tasks f selects in queue `name` to (*all, *n, *cap). */
static sitq_code read_queue(const dash_ctx *c, sitq_list_filter f, const char *name,
                            sitq_result ***all, size_t *n, size_t *cap, sitq_error *err) {
    f.queue = name;
    sitq_result **items = NULL;
    size_t got = 0;
    sitq_code code = sitq_list_tasks(c->backend, &f, &items, &got, err);
    if (code != SITQ_OK) return code;
    if (*n + got > *cap) {
        size_t want = (*n + got) * 2;
        sitq_result **grown = realloc(*all, want * sizeof(sitq_result *));
        if (grown == NULL) {
            sitq_result_list_free(items, got);
            err->code = SITQ_ENOMEM;
            snprintf(err->message, sizeof err->message, "out of memory listing tasks");
            return SITQ_ENOMEM;
        }
        *all = grown;
        *cap = want;
    }
    if (got) memcpy(*all + *n, items, got * sizeof(sitq_result *));
    *n += got;
    free(items); /* the results now belong to all */
    return SITQ_OK;
}

/* Keep the f->limit newest of l's tasks, newest first. */
static void keep_newest(const sitq_list_filter *f, dash_list *l) {
    if (l->n > 1) qsort(l->items, l->n, sizeof(sitq_result *), newer_first);
    for (size_t i = f->limit; i < l->n; i++) sitq_result_free(l->items[i]);
    if (l->n > f->limit) l->n = f->limit;
}

/* The first f->limit tasks of f (a status with an index, no queue, no
 * function), newest first: each queue's on that status's index, merged. A
 * page costs at most (queues x limit) index entries, whatever the store's
 * size; once limit tasks are in hand, the next queues are asked only for
 * ids above the oldest of them (the rest could not make the page), so
 * with many queues most reads return a few rows or none. */
static sitq_code read_by_queue(const dash_ctx *c, const sitq_list_filter *f, char **names,
                               size_t nq, dash_list *l, sitq_error *err) {
    size_t cap = 0;
    sitq_code code = SITQ_OK;
    sitq_list_filter fq = *f;
    for (size_t i = 0; i < nq && code == SITQ_OK; i++) {
        code = read_queue(c, fq, names[i], &l->items, &l->n, &cap, err);
        if (code == SITQ_OK && l->n >= f->limit) {
            keep_newest(f, l);
            sitq_task_id oldest_kept = l->items[l->n - 1]->id;
            if (oldest_kept > fq.after_id) fq.after_id = oldest_kept;
        }
    }
    if (code != SITQ_OK) return code;
    keep_newest(f, l);
    return SITQ_OK;
}

/* The newest task id of the store into *id (0: no task). */
static sitq_code newest_id(const dash_ctx *c, sitq_task_id *id, sitq_error *err) {
    sitq_list_filter f;
    sitq_list_filter_init(&f);
    f.limit = 1;
    sitq_result **items = NULL;
    size_t n = 0;
    sitq_code code = sitq_list_tasks(c->backend, &f, &items, &n, err);
    *id = code == SITQ_OK && n == 1 ? items[0]->id : 0;
    sitq_result_list_free(items, n);
    return code;
}

/* Bound f to the window of at most c->scan_ids ids below its start: sets
 * f->after_id; l->scan_top to the highest id of the window, and
 * l->scan_floor to its lowest when older ids remain below it (0 when the
 * window reaches the first id). The window starts at the newest id at
 * most: one above it (a hand-made or stale `before`) would examine only
 * ids no task has, and so would each "continue" after it. */
static sitq_code bound_window(const dash_ctx *c, sitq_list_filter *f, dash_list *l,
                              sitq_error *err) {
    sitq_task_id top = 0;
    sitq_code code = newest_id(c, &top, err);
    if (code != SITQ_OK) return code;
    if (f->before_id != 0 && f->before_id - 1 < top) top = f->before_id - 1;
    l->scan_top = top;
    if (top > c->scan_ids) {
        f->after_id = top - c->scan_ids; /* ids after_id + 1 .. top */
        l->scan_floor = f->after_id + 1;
    }
    return SITQ_OK;
}

int dash_list_read(const dash_ctx *c, const dash_query *q, dash_list *l, dash_reply *r) {
    memset(l, 0, sizeof *l);
    if (dash_list_filter(c, q, &l->f, r) != 0) return -1;
    sitq_list_filter f = l->f;
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = SITQ_OK;
    f.limit = l->f.limit + 1; /* one more says whether a next page exists */
    char **names = NULL;
    size_t nq = 0;
    if (!f.function && !f.queue && status_indexed(f.status))
        code = sitq_queue_names(c->backend, &names, &nq, &err);
    if (code == SITQ_OK && names && nq <= DASH_MERGE_QUEUES_MAX)
        code = read_by_queue(c, &f, names, nq, l, &err);
    else if (code == SITQ_OK) {
        if (!index_served(&f)) code = bound_window(c, &f, l, &err);
        if (code == SITQ_OK) code = sitq_list_tasks(c->backend, &f, &l->items, &l->n, &err);
    }
    sitq_queue_names_free(names, nq);
    if (code != SITQ_OK) {
        dash_api_error(r, "listing the tasks", code, &err);
        return -1;
    }
    size_t page = l->f.limit;
    l->n_shown = l->n > page ? page : l->n;
    if (l->n > page) l->next_before = l->items[page - 1]->id;
    else if (l->scan_floor != 0) {
        l->next_before = l->scan_floor; /* the page ends where the window did */
        l->cut = 1;
    }
    return 0;
}

void dash_list_free(dash_list *l) {
    sitq_result_list_free(l->items, l->n);
    memset(l, 0, sizeof *l);
}
