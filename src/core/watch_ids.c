/* watch_ids.c - sitq_finished_among: which of many waited-on ids finished,
 * in few reads. The ids are sorted and cut into runs of nearby ids; each run
 * is one list query over its id range (keyset bounds, no values read), so
 * that 10,000 waits on consecutive tasks cost one query, not 10,000 reads.
 * A gap larger than RUN_GAP, or a run spanning more than RUN_SPAN ids,
 * starts a new run, which bounds the rows read that nobody waits on. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define RUN_GAP  64
#define RUN_SPAN 100000

static int cmp_id(const void *a, const void *b) {
    sitq_task_id x = *(const sitq_task_id *)a, y = *(const sitq_task_id *)b;
    return (x > y) - (x < y);
}

/* Sorted, distinct copy of ids into *out (*n updated); NULL when out of memory. */
static sitq_task_id *sorted_unique(const sitq_task_id *ids, size_t *n) {
    sitq_task_id *s = malloc(*n * sizeof *s);
    if (!s) return NULL;
    memcpy(s, ids, *n * sizeof *s);
    qsort(s, *n, sizeof *s, cmp_id);
    size_t k = 0;
    for (size_t i = 0; i < *n; i++)
        if (k == 0 || s[k - 1] != s[i]) s[k++] = s[i];
    *n = k;
    return s;
}

/* Mark the finished ids of ids[0..n) (sorted, one run) into done (count in nd),
 * reading the run's range with one list query. */
static sitq_code check_run(sitq_queue *q, const sitq_task_id *ids, size_t n, sitq_task_id *done,
                           size_t *nd, sitq_error *err) {
    sitq_list_filter f;
    sitq_list_filter_init(&f);
    f.queue = sitq_queue_name(q);
    f.after_id = ids[0] - 1;
    /* 0, no bound, past the largest id (id + 1 would overflow) */
    f.before_id = ids[n - 1] < INT64_MAX ? ids[n - 1] + 1 : 0;
    f.oldest_first = 1;
    f.limit = (size_t)(ids[n - 1] - ids[0] + 1);
    sitq_result **items = NULL;
    size_t count = 0;
    sitq_code rc = sitq_list_tasks(sitq_queue_backend(q), &f, &items, &count, err);
    if (rc) return rc;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        while (j < count && items[j]->id < ids[i]) j++;
        /* absent: purged, or not a task of this queue; either way no wait
         * on it can end otherwise */
        if (j == count || items[j]->id != ids[i] || sitq_status_is_terminal(items[j]->status))
            done[(*nd)++] = ids[i];
    }
    sitq_result_list_free(items, count);
    return SITQ_OK;
}

sitq_code sitq_finished_among(sitq_queue *q, const sitq_task_id *ids, size_t n,
                              sitq_task_id **out_ids, size_t *out_count, sitq_error *err) {
    if (!out_ids || !out_count)
        return sitq__fail(err, SITQ_EINVAL, "out_ids and out_count must not be NULL");
    *out_ids = NULL;
    *out_count = 0;
    if (!q) return sitq__fail(err, SITQ_EINVAL, "queue must not be NULL");
    if (n == 0) return sitq__ok(err);
    if (!ids) return sitq__fail(err, SITQ_EINVAL, "ids must not be NULL when n is %zu", n);
    sitq_task_id *s = sorted_unique(ids, &n);
    sitq_task_id *done = s ? malloc(n * sizeof *done) : NULL;
    if (!done) {
        free(s);
        return sitq__fail(err, SITQ_ENOMEM, "out of memory checking %zu tasks", n);
    }
    size_t nd = 0, start = 0;
    while (start < n && s[start] <= 0) done[nd++] = s[start++]; /* no such task */
    sitq_code rc = SITQ_OK;
    for (size_t i = start + 1; i <= n && rc == SITQ_OK; i++) {
        if (i < n && s[i] - s[i - 1] <= RUN_GAP && s[i] - s[start] < RUN_SPAN) continue;
        rc = check_run(q, s + start, i - start, done, &nd, err);
        start = i;
    }
    free(s);
    if (rc || nd == 0) {
        free(done);
        return rc ? rc : sitq__ok(err);
    }
    *out_ids = done;
    *out_count = nd;
    return sitq__ok(err);
}
