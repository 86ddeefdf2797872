/*
 * top_snapshot.c - the reads of one refresh of `sitq top` (see
 * top_snapshot.h): queue names, then each queue's counts up to the cap, the registry of workers, the running and the latest failed
 * tasks through sitq_list_tasks on their status indexes.
 */
#include "top_snapshot.h"

#include <stdlib.h>
#include <string.h>

/* The counts of every queue of names (or of `only`) into s->queues. */
static sitq_code read_queues(sitq_backend *backend, const char *only, char **names, size_t n,
                             top_snapshot *s, sitq_error *err) {
    s->queues = n > 0 ? calloc(n, sizeof *s->queues) : NULL;
    if (n > 0 && s->queues == NULL) return SITQ_ENOMEM;
    sitq_code code = SITQ_OK;
    for (size_t i = 0; i < n && code == SITQ_OK; i++) {
        if (only != NULL && strcmp(names[i], only) != 0) continue;
        top_queue *q = &s->queues[s->n_queues];
        sitq_queue *h = NULL;
        code = sitq_queue_open(backend, names[i], &h, err);
        if (code == SITQ_OK) code = sitq_get_stats_bounded(h, s->cap, &q->st, &q->at_cap, err);
        if (code == SITQ_OK) code = sitq_queue_paused(h, &q->paused, err);
        sitq_queue_close(h);
        if (code != SITQ_OK) break;
        q->name = strdup(names[i]);
        if (q->name == NULL) return SITQ_ENOMEM;
        s->n_queues++;
        for (int k = 0; k < SITQ_STATUS_COUNT; k++) s->sum.count[k] += q->st.count[k];
        s->sum.total += q->st.total;
        s->sum_at_cap |= q->at_cap;
    }
    return code;
}

/* Newest id first, for qsort. */
static int newer_first(const void *a, const void *b) {
    sitq_task_id x = (*(sitq_result *const *)a)->id, y = (*(sitq_result *const *)b)->id;
    return x > y ? -1 : x < y;
}

/* Append the tasks of status st of queue `name`, newest id first, at most
 * limit, to (*all, *n), an array of room for n_cap. */
static sitq_code read_queue_tasks(sitq_backend *backend, const char *name, int st, size_t limit,
                                  sitq_result **all, size_t *n, sitq_error *err) {
    sitq_list_filter f;
    sitq_list_filter_init(&f);
    f.queue = name;
    f.status = st;
    f.limit = limit;
    sitq_result **items = NULL;
    size_t got = 0;
    sitq_code code = sitq_list_tasks(backend, &f, &items, &got, err);
    if (code != SITQ_OK) return code;
    /* none when the tasks the counts saw finished since: items is NULL */
    if (got) memcpy(all + *n, items, got * sizeof(sitq_result *));
    *n += got;
    free(items); /* the results now belong to all */
    return SITQ_OK;
}

/* The newest tasks of status st (at most limit) of the snapshot's queues.
 * One read per queue that has such tasks (its counts say so), each on the
 * (queue, status) index: a read over every queue at once could not seek. */
static sitq_code read_tasks(sitq_backend *backend, const top_snapshot *s, int st, size_t limit,
                            sitq_result ***out, size_t *n, sitq_error *err) {
    size_t with = 0;
    for (size_t i = 0; i < s->n_queues; i++) with += s->queues[i].st.count[st] > 0;
    *out = NULL;
    *n = 0;
    if (with == 0) return SITQ_OK;
    sitq_result **all = calloc(with * limit, sizeof(sitq_result *));
    if (all == NULL) return SITQ_ENOMEM;
    sitq_code code = SITQ_OK;
    for (size_t i = 0; i < s->n_queues && code == SITQ_OK; i++)
        if (s->queues[i].st.count[st] > 0)
            code = read_queue_tasks(backend, s->queues[i].name, st, limit, all, n, err);
    if (code != SITQ_OK) {
        sitq_result_list_free(all, *n);
        *n = 0;
        return code;
    }
    qsort(all, *n, sizeof(sitq_result *), newer_first);
    for (size_t i = limit; i < *n; i++) sitq_result_free(all[i]);
    if (*n > limit) *n = limit;
    *out = all;
    return SITQ_OK;
}

sitq_code top_snapshot_take(sitq_backend *backend, const char *queue, int64_t cap, top_snapshot *s,
                            sitq_error *err) {
    memset(s, 0, sizeof *s);
    s->cap = cap;
    s->at_us = sitq_now_us();
    char **names = NULL;
    size_t n = 0;
    sitq_code code = sitq_queue_names(backend, &names, &n, err);
    if (code == SITQ_OK) code = read_queues(backend, queue, names, n, s, err);
    sitq_queue_names_free(names, n);
    if (code == SITQ_OK) code = sitq_workers_list(backend, 1, &s->workers, &s->n_workers, err);
    if (code == SITQ_OK)
        code =
            read_tasks(backend, s, SITQ_RUNNING, TOP_RUNNING_MAX, &s->running, &s->n_running, err);
    if (code == SITQ_OK)
        code = read_tasks(backend, s, SITQ_FAILED, TOP_FAILURES_MAX, &s->failures, &s->n_failures,
                          err);
    if (code != SITQ_OK) top_snapshot_free(s);
    return code;
}

void top_snapshot_free(top_snapshot *s) {
    for (size_t i = 0; i < s->n_queues; i++) free(s->queues[i].name);
    free(s->queues);
    sitq_workers_free(s->workers, s->n_workers);
    sitq_result_list_free(s->running, s->n_running);
    sitq_result_list_free(s->failures, s->n_failures);
    memset(s, 0, sizeof *s);
}
