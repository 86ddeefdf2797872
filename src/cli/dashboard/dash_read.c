/*
 * dash_read.c - the store reads that the HTML pages, the JSON API and the
 * actions share: the queue names, whether a queue exists, and one task with
 * its queue (and only the head of its result that a page shows). Each replies the error itself (dash_api_error, or a 404), so
 * that callers only return.
 */
#include <stdlib.h>
#include <string.h>

#include "dash.h"

int dash_queue_names(const dash_ctx *c, dash_reply *r, char ***names, size_t *n) {
    sitq_error err;
    memset(&err, 0, sizeof err);
    *names = NULL;
    *n = 0;
    sitq_code code = sitq_queue_names(c->backend, names, n, &err);
    if (code == SITQ_OK) return 0;
    dash_api_error(r, "listing the queues", code, &err);
    return -1;
}

int dash_queue_known(const dash_ctx *c, const char *name, dash_reply *r) {
    char **names = NULL;
    size_t n = 0;
    if (dash_queue_names(c, r, &names, &n) != 0) return -1;
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) found = strcmp(names[i], name) == 0;
    sitq_queue_names_free(names, n);
    return found;
}

int dash_task_read(const dash_ctx *c, const char *id_text, size_t value_max, dash_reply *r,
                   sitq_queue **q, sitq_result **t, size_t *value_size) {
    *q = NULL;
    *t = NULL;
    sitq_task_id id = 0;
    if (dash_parse_id(id_text, &id) != 0) {
        dash_error(r, 404, "'%s' is not a task id (a positive integer)", id_text);
        return -1;
    }
    sitq_error err;
    memset(&err, 0, sizeof err);
    char *qname = NULL;
    sitq_code code = sitq_task_queue(c->backend, id, &qname, &err);
    if (code == SITQ_OK) code = sitq_queue_open(c->backend, qname, q, &err);
    if (code == SITQ_OK) code = sitq_get_result_prefix(*q, id, value_max, t, value_size, &err);
    free(qname);
    if (code == SITQ_OK) return 0;
    dash_api_error(r, "reading the task", code, &err);
    sitq_result_free(*t);
    sitq_queue_close(*q);
    *t = NULL;
    *q = NULL;
    return -1;
}
