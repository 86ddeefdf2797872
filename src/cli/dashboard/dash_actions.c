/*
 * dash_actions.c - the dashboard's actions: retry and cancel a task, pause
 * and resume a queue, each a POST to /actions/NAME. The checks, in order:
 * the dashboard has a token at all (else it is read-only: 403); the
 * request's Origin (or else Referer) names this server's Host, so that
 * another site's page cannot post a form here; the form's token field
 * equals the token, compared in constant time. The token is never read
 * from the URL, which servers and browsers log.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dash.h"

/* 1 when the URL url (http://AUTHORITY/... or https://) names host. */
static int same_host(const char *url, const char *host) {
    const char *p = NULL;
    if (strncasecmp(url, "http://", 7) == 0) p = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0) p = url + 8;
    if (p == NULL || host == NULL) return 0;
    size_t n = strcspn(p, "/?#");
    return n == strlen(host) && strncasecmp(p, host, n) == 0;
}

/* 0 when the request may act, else -1 after a 403 reply. */
static int check_request(const dash_ctx *c, const char *body, size_t len, const char *host,
                         const char *origin, const char *referer, dash_reply *r) {
    if (c->token_len == 0) {
        dash_error(r, 403,
                   "this dashboard is read-only: start it with --token-file PATH or the "
                   "environment variable SITQ_DASHBOARD_TOKEN to allow actions");
        return -1;
    }
    const char *from = origin ? origin : referer;
    if (from != NULL && !same_host(from, host)) {
        dash_error(r, 403, "cross-site request refused: it comes from another origin than %s",
                   host ? host : "this server");
        return -1;
    }
    char token[DASH_TOKEN_MAX + 1];
    int rc = dash_form_field(body, len, "token", token, sizeof token);
    if (rc != 0 || !dash_token_equal(token, strlen(token), c->token, c->token_len)) {
        dash_error(r, 403, "%s",
                   rc == -1   ? "the form has no token field"
                   : rc == -3 ? "the form gives the token more than once"
                              : "wrong token");
        return -1;
    }
    return 0;
}

/* retry or cancel task `id` of the form. */
static void task_action(const dash_ctx *c, int retry, const char *body, size_t len, dash_reply *r) {
    char text[32];
    sitq_task_id id = 0;
    int rc = dash_form_field(body, len, "id", text, sizeof text);
    if (rc == -3) {
        dash_error(r, 400, "the form gives the field id more than once");
        return;
    }
    if (rc != 0 || dash_parse_id(text, &id) != 0) {
        dash_error(r, 400, "the form needs a task id (field id, a positive integer)");
        return;
    }
    sitq_error err;
    memset(&err, 0, sizeof err);
    char *qname = NULL;
    sitq_queue *q = NULL;
    sitq_code code = sitq_task_queue(c->backend, id, &qname, &err);
    if (code == SITQ_OK) code = sitq_queue_open(c->backend, qname, &q, &err);
    if (code == SITQ_OK) code = retry ? sitq_retry(q, id, &err) : sitq_cancel(q, id, NULL, &err);
    sitq_queue_close(q);
    free(qname);
    if (code != SITQ_OK) {
        dash_api_error(r, retry ? "retry" : "cancel", code, &err);
        return;
    }
    dash_counts_forget(c->counts); /* the next page shows the change */
    r->status = 303;
    snprintf(r->location, sizeof r->location, "/tasks/%" PRId64, (int64_t)id);
    dash_printf(&r->body, "%s task %" PRId64 "\n", retry ? "retried" : "cancelled", (int64_t)id);
}

/* pause or resume the form's queue. */
static void queue_action(const dash_ctx *c, int pause, const char *body, size_t len,
                         dash_reply *r) {
    char name[SITQ_NAME_MAX + 1], hex[2 * SITQ_NAME_MAX + 1];
    /* The pages send the name hex-encoded (queue_hex); a client may send it
     * as text (queue). */
    int rc = dash_form_field(body, len, "queue_hex", hex, sizeof hex);
    if (rc == 0) rc = dash_hex_decode(hex, name, sizeof name);
    else if (rc == -1) rc = dash_form_field(body, len, "queue", name, sizeof name);
    if (rc == 0 && dash_form_field(body, len, "queue", hex, sizeof hex) != -1 &&
        dash_form_field(body, len, "queue_hex", hex, sizeof hex) != -1)
        rc = -3; /* both: which one is meant? */
    if (rc == -3) {
        dash_error(r, 400, "the form gives the queue more than once (queue or queue_hex)");
        return;
    }
    if (rc != 0 || name[0] == '\0') {
        dash_error(r, 400,
                   "the form needs a queue name (field queue, 1..%d bytes, or queue_hex, "
                   "the name in hex)",
                   SITQ_NAME_MAX);
        return;
    }
    int known = dash_queue_known(c, name, r);
    if (known <= 0) {
        if (known == 0) dash_error(r, 404, "unknown queue '%s'", name);
        return;
    }
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_queue *q = NULL;
    sitq_code code = sitq_queue_open(c->backend, name, &q, &err);
    if (code == SITQ_OK) code = pause ? sitq_queue_pause(q, &err) : sitq_queue_resume(q, &err);
    sitq_queue_close(q);
    if (code != SITQ_OK) {
        dash_api_error(r, pause ? "pause" : "resume", code, &err);
        return;
    }
    dash_counts_forget(c->counts);
    r->status = 303;
    snprintf(r->location, sizeof r->location, "/");
    dash_put(&r->body, pause ? "paused queue " : "resumed queue ");
    dash_esc(&r->body, name);
    dash_put(&r->body, "\n");
}

void dash_action(const dash_ctx *c, const char *name, const char *body, size_t len,
                 const char *host, const char *origin, const char *referer, dash_reply *r) {
    int which = strcmp(name, "retry") == 0    ? 0
                : strcmp(name, "cancel") == 0 ? 1
                : strcmp(name, "pause") == 0  ? 2
                : strcmp(name, "resume") == 0 ? 3
                                              : -1;
    if (which < 0) {
        dash_error(r, 404, "no such action (retry, cancel, pause, resume)");
        return;
    }
    if (check_request(c, body, len, host, origin, referer, r) != 0) return;
    if (which < 2) task_action(c, which == 0, body, len, r);
    else queue_action(c, which == 2, body, len, r);
}
