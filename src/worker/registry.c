/* registry.c - handlers by function name, and the lists of names (exact
 * names and prefixes) a claim filters on, so that a worker never claims what
 * it cannot run. The backend turns the lists into what its query needs. */
#include "worker_internal.h"

#include <stdlib.h>
#include <string.h>

const handler *sitq__registry_find(const sitq_worker *w, const char *function) {
    const handler *best = NULL;
    for (size_t i = 0; i < w->n_handlers; i++) {
        const handler *h = &w->handlers[i];
        if (!h->prefix) {
            if (strcmp(h->name, function) == 0) return h; /* exact names win */
        } else if (strncmp(h->name, function, h->len) == 0 && (!best || h->len > best->len)) {
            best = h; /* else the longest matching prefix */
        }
    }
    return best;
}

sitq_code sitq_worker_register(sitq_worker *w, const char *function, sitq_handler_fn fn,
                               void *user_data, sitq_error *err) {
    if (!w) return sitq__fail(err, SITQ_EINVAL, "worker must not be NULL");
    sitq_code nrc = sitq__name_check(function, "function name", err);
    if (nrc) return nrc;
    if (!fn) return sitq__fail(err, SITQ_EINVAL, "fn must not be NULL");
    pthread_mutex_lock(&w->mu);
    int started = w->started;
    pthread_mutex_unlock(&w->mu);
    if (started) return sitq__fail(err, SITQ_ESTATE, "register handlers before sitq_worker_start");
    size_t len = strlen(function);
    int prefix = function[len - 1] == '*';
    if (prefix) len--;
    for (size_t i = 0; i < w->n_handlers; i++) {
        handler *h = &w->handlers[i];
        if (h->prefix == prefix && h->len == len && strncmp(h->name, function, len) == 0) {
            h->fn = fn;
            h->user_data = user_data;
            return sitq__ok(err);
        }
    }
    handler *hs = realloc(w->handlers, (w->n_handlers + 1) * sizeof *hs);
    if (!hs) return sitq__fail(err, SITQ_ENOMEM, "out of memory registering a handler");
    w->handlers = hs;
    char *name = strndup(function, len);
    if (!name) return sitq__fail(err, SITQ_ENOMEM, "out of memory registering a handler");
    hs[w->n_handlers++] = (handler){name, len, prefix, fn, user_data};
    return sitq__ok(err);
}

sitq_code sitq__registry_build_names(sitq_worker *w, sitq_error *err) {
    free(w->fn_names);
    free(w->px_names);
    w->n_fn_names = w->n_px_names = 0;
    size_t n = w->n_handlers ? w->n_handlers : 1;
    w->fn_names = malloc(n * sizeof *w->fn_names);
    w->px_names = malloc(n * sizeof *w->px_names);
    if (!w->fn_names || !w->px_names)
        return sitq__fail(err, SITQ_ENOMEM, "out of memory building the handler list");
    for (size_t i = 0; i < w->n_handlers; i++) {
        const handler *h = &w->handlers[i];
        if (h->prefix) w->px_names[w->n_px_names++] = h->name;
        else w->fn_names[w->n_fn_names++] = h->name;
    }
    return SITQ_OK;
}
