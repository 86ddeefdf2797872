/* result.c - allocation and release of sitq_result. */
#include "backend/backend.h"
#include "internal.h"

#include <stdlib.h>

sitq_result *sitq__result_alloc(void) {
    sitq_result *r = calloc(1, sizeof *r);
    if (r) r->progress = -1;
    return r;
}

void sitq_result_free(sitq_result *r) {
    if (!r) return;
    free(r->queue);
    free(r->function);
    free(r->value);
    free(r->error);
    free(r->traceback);
    free(r->worker_id);
    free(r->unique_key);
    free(r->depends_on);
    free(r);
}

void sitq_result_list_free(sitq_result **items, size_t count) {
    if (!items) return;
    for (size_t i = 0; i < count; i++) sitq_result_free(items[i]);
    free(items);
}

void sitq__claimed_clear(sitq__claimed *c) {
    if (!c) return;
    free(c->function);
    free(c->payload);
    c->function = NULL;
    c->payload = NULL;
}
