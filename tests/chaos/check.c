/* check.c - reading the queue under test back: task states, unfinished
 * counts and diagnostics. */
#include "chaos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void chaos_open(const char *path, sitq_backend **b, sitq_queue **q) {
    sitq_error err;
    if (sitq_backend_open(path, b, &err) != SITQ_OK)
        chaos_die("open %s: %s (%s)", path, err.message, sitq_code_name(err.code));
    if (sitq_queue_open(*b, NULL, q, &err) != SITQ_OK) chaos_die("queue: %s", err.message);
}

static int cmp_state_id(const void *a, const void *b) {
    sitq_task_id x = (*(sitq_result *const *)a)->id, y = (*(sitq_result *const *)b)->id;
    return (x > y) - (x < y);
}

chaos_task_state *chaos_read_states(sitq_queue *q, const sitq_task_id *ids, size_t n) {
    sitq_result **items = NULL;
    size_t count = 0;
    sitq_error err;
    if (sitq_list(q, SITQ_STATUS_ANY, 1000000, 0, &items, &count, &err) != SITQ_OK)
        chaos_die("list: %s (%s)", err.message, sitq_code_name(err.code));
    qsort(items, count, sizeof(sitq_result *), cmp_state_id);
    chaos_task_state *s = calloc(n ? n : 1, sizeof *s);
    if (!s) chaos_die("out of memory");
    for (size_t i = 0; i < n; i++) {
        sitq_result key = {.id = ids[i]}, *kp = &key;
        sitq_result **hit = bsearch(&kp, items, count, sizeof(sitq_result *), cmp_state_id);
        if (!hit) continue;
        s[i].found = 1;
        s[i].status = (*hit)->status;
        s[i].attempts = (*hit)->attempts;
        s[i].max_retries = (*hit)->max_retries;
        if ((*hit)->error) snprintf(s[i].error, sizeof s[i].error, "%s", (*hit)->error);
    }
    sitq_result_list_free(items, count);
    return s;
}

int64_t chaos_unfinished(sitq_queue *q, int64_t *finished, sitq_error *err) {
    sitq_stats st;
    if (sitq_get_stats(q, &st, err) != SITQ_OK) return -1;
    int64_t done = st.count[SITQ_SUCCEEDED] + st.count[SITQ_FAILED] + st.count[SITQ_CANCELLED];
    if (finished) *finished = done;
    return st.total - done;
}

void chaos_dump_unfinished(sitq_queue *q, int max) {
    sitq_stats st;
    sitq_error err;
    if (sitq_get_stats(q, &st, &err) == SITQ_OK)
        chaos_log("stats: queued %" PRId64 " waiting %" PRId64 " scheduled %" PRId64
                  " running %" PRId64 " succeeded %" PRId64 " failed %" PRId64 " total %" PRId64,
                  st.count[SITQ_QUEUED], st.count[SITQ_WAITING], st.count[SITQ_SCHEDULED],
                  st.count[SITQ_RUNNING], st.count[SITQ_SUCCEEDED], st.count[SITQ_FAILED],
                  st.total);
    static const int live[] = {SITQ_RUNNING, SITQ_QUEUED, SITQ_SCHEDULED, SITQ_WAITING};
    for (size_t k = 0; k < 4; k++) {
        sitq_result **items = NULL;
        size_t count = 0;
        if (sitq_list(q, live[k], (size_t)max, 0, &items, &count, &err) != SITQ_OK) continue;
        for (size_t i = 0; i < count; i++)
            chaos_log("unfinished: task %" PRId64 " %s attempts %d worker %s eta_us %" PRId64,
                      (int64_t)items[i]->id, sitq_status_name(items[i]->status),
                      (int)items[i]->attempts, items[i]->worker_id ? items[i]->worker_id : "-",
                      (int64_t)items[i]->eta_us);
        sitq_result_list_free(items, count);
    }
}
