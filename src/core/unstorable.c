/* unstorable.c - a success whose result the store refused, recorded as a
 * failed attempt: the copy a backend writes and the report back to the
 * caller, the same for every backend (only the write is the backend's). */
#include "backend/backend.h"
#include "lifecycle.h"

#include <string.h>

void sitq__unstorable_failure(const sitq__completion *k, const char *why, char *msg, size_t size,
                              sitq__completion *f) {
    sitq__unstorable_result_message(k->value_len, why, msg, size);
    *f = *k;
    f->ok = 0;
    f->value = NULL;
    f->value_len = 0;
    f->error = msg;
    f->applied = 0;
    f->outcome = SITQ__TOTAL_NONE;
    f->stored_as_failure = 0;
    f->stored_error = NULL;
}

void sitq__unstorable_report(sitq__completion *k, const sitq__completion *f, sitq_code rc) {
    k->applied = f->applied;
    k->outcome = f->outcome; /* the failure's counter (sitq_totals) */
    if (rc != SITQ_OK || !f->applied) return;
    k->stored_as_failure = 1;
    k->stored_error = strdup(f->error);
}
