/* status.c - task status names. */
#include "internal.h"

#include <strings.h>

static const char *const names[SITQ_STATUS_COUNT] = {"queued",    "waiting", "scheduled", "running",
                                                     "succeeded", "failed",  "cancelled"};

const char *sitq_status_name(int status) {
    if (status < 0 || status >= SITQ_STATUS_COUNT) return "unknown";
    return names[status];
}

int sitq_status_parse(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < SITQ_STATUS_COUNT; i++)
        if (strcasecmp(name, names[i]) == 0) return i;
    return -1;
}

int sitq_status_is_terminal(int status) {
    return status == SITQ_SUCCEEDED || status == SITQ_FAILED || status == SITQ_CANCELLED;
}
