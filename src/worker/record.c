/* record.c - the worker's row in the registry of workers (sitq_workers_list):
 * who it is (host, pid, queues, handlers, concurrency, start time) and its
 * counts. The dispatcher hands the row to the backend with a cycle it runs
 * anyway (its first, then one per heartbeat interval, and a last one
 * marked stopped at a clean stop), so the registry costs no transaction of
 * its own. */
#include "worker_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/workers.h"

/* The handlers' names as registered (prefixes with their '*'), joined. */
static char *functions_text(const sitq_worker *w) {
    size_t n = w->n_handlers;
    char **names = calloc(n ? n : 1, sizeof *names);
    if (!names) return NULL;
    int bad = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        const handler *h = &w->handlers[i];
        names[i] = malloc(h->len + 2);
        if (!names[i]) {
            bad = 1;
            break;
        }
        memcpy(names[i], h->name, h->len);
        names[i][h->len] = h->prefix ? '*' : '\0';
        names[i][h->len + 1] = '\0';
    }
    char *text = bad ? NULL : sitq__names_join((const char *const *)names, n);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return text;
}

sitq_code sitq__record_build(sitq_worker *w, sitq_error *err) {
    sitq__record_free(w);
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    host[sizeof host - 1] = '\0';
    w->rec_host = strdup(host);
    w->rec_queues = sitq__names_join(w->qnames, w->n_queues);
    w->rec_functions = functions_text(w);
    w->rec_started_at_us = sitq_now_us();
    if (!w->rec_host || !w->rec_queues || !w->rec_functions) {
        sitq__record_free(w);
        return sitq__fail(err, SITQ_ENOMEM, "out of memory starting a worker");
    }
    return SITQ_OK;
}

void sitq__record_fill(const sitq_worker *w, int stopped, sitq__worker_record *r) {
    *r = (sitq__worker_record){
        .host = w->rec_host,
        .pid = (int64_t)getpid(),
        .queues = w->rec_queues,
        .functions = w->rec_functions,
        .concurrency = w->opts.concurrency,
        .started_at_us = w->rec_started_at_us,
        .succeeded = w->stats.succeeded,
        .failed = w->stats.failed + w->stats.cancelled, /* the registry's: not succeeded */
        .lost = w->stats.lost,
        .stopped = stopped,
    };
}

void sitq__record_free(sitq_worker *w) {
    free(w->rec_host);
    free(w->rec_queues);
    free(w->rec_functions);
    w->rec_host = w->rec_queues = w->rec_functions = NULL;
}
