/* registry.c - handlers by function name, and the JSON lists of names the
 * claim query filters on (a worker never claims what it cannot run). */
#include "worker_internal.h"

#include <stdio.h>
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
    if (!sitq__name_ok(function))
        return sitq__fail(err, SITQ_EINVAL, "function must be a name of 1..%d bytes",
                          SITQ_NAME_MAX);
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

/* Append s as a JSON string to buf (escaping quotes, backslashes and
 * control bytes). buf has room: each byte takes at most 6. */
static size_t json_string(char *buf, const char *s, size_t len) {
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)sprintf(buf + o, "\\u%04x", ch);
        } else {
            buf[o++] = (char)ch;
        }
    }
    buf[o++] = '"';
    return o;
}

static char *json_names(const sitq_worker *w, int prefix) {
    size_t cap = 3;
    for (size_t i = 0; i < w->n_handlers; i++) cap += w->handlers[i].len * 6 + 3;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    size_t o = 0;
    buf[o++] = '[';
    int first = 1;
    for (size_t i = 0; i < w->n_handlers; i++) {
        const handler *h = &w->handlers[i];
        if (h->prefix != prefix) continue;
        if (!first) buf[o++] = ',';
        first = 0;
        o += json_string(buf + o, h->name, h->len);
    }
    buf[o++] = ']';
    buf[o] = '\0';
    return buf;
}

sitq_code sitq__registry_build_json(sitq_worker *w, sitq_error *err) {
    free(w->functions_json);
    free(w->prefixes_json);
    w->functions_json = json_names(w, 0);
    w->prefixes_json = json_names(w, 1);
    if (!w->functions_json || !w->prefixes_json)
        return sitq__fail(err, SITQ_ENOMEM, "out of memory building the handler list");
    return SITQ_OK;
}
