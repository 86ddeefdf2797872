/* workers.c - the registry of workers, public side: sitq_workers_list
 * checks its arguments and asks the backend (which reads the registry rows
 * and the running tasks), and the helpers both backends and the worker
 * share (workers.h), so that both stores encode and judge rows alike. */
#include "workers.h"
#include "internal.h"
#include "grow.h"
#include "backend/backend.h"

#include <stdlib.h>
#include <string.h>

char *sitq__names_join(const char *const *names, size_t n) {
    size_t len = 1;
    for (size_t i = 0; i < n; i++) len += 2 * strlen(names[i]) + 1;
    char *out = malloc(len);
    if (!out) return NULL;
    char *o = out;
    for (size_t i = 0; i < n; i++) {
        if (i) *o++ = '\n';
        for (const char *q = names[i]; *q; q++) {
            if (*q == '\\' || *q == '\n') {
                *o++ = '\\';
                *o++ = *q == '\n' ? 'n' : '\\';
            } else {
                *o++ = *q;
            }
        }
    }
    *o = '\0';
    return out;
}

/* One name of sitq__names_join's text, from s up to the next separator,
 * unescaped; *end the separator or the final NUL. */
static char *split_one(const char *s, const char **end) {
    size_t len = 0;
    while (s[len] && s[len] != '\n') len += s[len] == '\\' && s[len + 1] ? 2 : 1;
    char *name = malloc(len + 1);
    if (!name) return NULL;
    char *o = name;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len) {
            i++;
            *o++ = s[i] == 'n' ? '\n' : s[i];
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    *end = s + len;
    return name;
}

int sitq__names_split(const char *text, char ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (!text || !*text) return 0;
    char **arr = NULL;
    size_t cap = 0, k = 0;
    const char *s = text;
    for (;;) {
        const char *end = s;
        char *name =
            sitq__reserve((void **)&arr, &cap, k + 1, sizeof *arr) == 0 ? split_one(s, &end) : NULL;
        if (!name) {
            for (size_t i = 0; i < k; i++) free(arr[i]);
            free(arr);
            return -1;
        }
        arr[k++] = name;
        if (!*end) break;
        s = end + 1;
    }
    *out = arr;
    *n = k;
    return 0;
}

sitq_worker_state sitq__worker_state_at(sitq_time_us stopped_at_us, sitq_time_us lease_until_us,
                                        sitq_time_us now) {
    if (stopped_at_us > 0) return SITQ_WORKER_STOPPED;
    return lease_until_us < now ? SITQ_WORKER_DEAD : SITQ_WORKER_RUNNING;
}

int sitq__workers_add_task(sitq_worker_info *ws, size_t n, const char *worker_id, sitq_task_id id,
                           int started) {
    if (!worker_id) return 0;
    size_t lo = 0, hi = n;
    while (lo < hi) { /* ws is sorted by id (bytewise) */
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ws[mid].id, worker_id);
        if (c == 0) {
            lo = mid;
            break;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo >= n || strcmp(ws[lo].id, worker_id) != 0) return 0;
    sitq_worker_info *w = &ws[lo];
    w->n_held++;
    if (!started) return 0;
    /* The array grows by doubling at powers of two (no stored capacity). */
    size_t k = w->n_running;
    if ((k & (k - 1)) == 0) {
        sitq_task_id *r = realloc(w->running, (k ? 2 * k : 1) * sizeof *r);
        if (!r) return -1;
        w->running = r;
    }
    w->running[w->n_running++] = id;
    return 0;
}

static int cmp_id(const void *a, const void *b) {
    return strcmp(((const sitq_worker_info *)a)->id, ((const sitq_worker_info *)b)->id);
}

void sitq__workers_sort(sitq_worker_info *ws, size_t n) {
    if (n > 1) qsort(ws, n, sizeof *ws, cmp_id);
}

void sitq__worker_info_clear(sitq_worker_info *w) {
    free(w->id);
    free(w->host);
    for (size_t i = 0; i < w->n_queues; i++) free(w->queues[i]);
    free(w->queues);
    for (size_t i = 0; i < w->n_functions; i++) free(w->functions[i]);
    free(w->functions);
    free(w->running);
    memset(w, 0, sizeof *w);
}

const char *sitq_worker_state_name(sitq_worker_state state) {
    switch (state) {
    case SITQ_WORKER_RUNNING: return "running";
    case SITQ_WORKER_STOPPED: return "stopped";
    case SITQ_WORKER_DEAD: return "dead";
    default: return "unknown";
    }
}

sitq_code sitq_workers_list(sitq_backend *backend, int include_stopped, sitq_worker_info **out,
                            size_t *out_count, sitq_error *err) {
    if (out) *out = NULL;
    if (out_count) *out_count = 0;
    if (!backend || !out || !out_count)
        return sitq__fail(err, SITQ_EINVAL, "backend, out and out_count must not be NULL");
    return backend->ops->workers(backend, include_stopped != 0, out, out_count, err);
}

void sitq_workers_free(sitq_worker_info *workers, size_t count) {
    if (!workers) return;
    for (size_t i = 0; i < count; i++) sitq__worker_info_clear(&workers[i]);
    free(workers);
}
