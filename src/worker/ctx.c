/* ctx.c - the per-attempt context a handler sees, and running a handler. */
#include "worker_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t sitq__lease_mono(int64_t mono_before, sitq_time_us lease_until_us, sitq_time_us db_now_us) {
    /* Measured from before the call was sent: never later than the real
     * deadline, whatever the offset between the two clocks. */
    return mono_before + (lease_until_us - db_now_us);
}

sitq_task_ctx *sitq__ctx_new(sitq_worker *w, sitq__claimed *t, const handler *h,
                             int64_t mono_before, sitq_time_us db_now_us) {
    sitq_task_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->w = w;
    c->t = *t; /* takes ownership of function and payload */
    memset(t, 0, sizeof *t);
    /* A row written by other means may hold any timeout: none below 0, and
     * at most the longest sitq accepts, so deadlines never overflow. */
    int64_t max_timeout_us = sitq__seconds_to_us(SITQ_SECONDS_MAX);
    if (c->t.timeout_us < 0) c->t.timeout_us = 0;
    if (c->t.timeout_us > max_timeout_us) c->t.timeout_us = max_timeout_us;
    c->h = h;
    c->lease_until_mono_us = sitq__lease_mono(mono_before, c->t.lease_until_us, db_now_us);
    atomic_init(&c->cancel, 0);
    atomic_init(&c->cancel_asked, 0);
    atomic_init(&c->lost, 0);
    atomic_init(&c->abandoned, 0);
    return c;
}

void sitq__ctx_free(sitq_task_ctx *c) {
    if (!c) return;
    sitq__claimed_clear(&c->t);
    free(c->value);
    free(c->error);
    free(c->traceback);
    free(c);
}

void sitq__ctx_list_push(ctx_list *l, sitq_task_ctx *c) {
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail) l->tail->next = c;
    else l->head = c;
    l->tail = c;
    l->n++;
}

void sitq__ctx_list_remove(ctx_list *l, sitq_task_ctx *c) {
    if (c->prev) c->prev->next = c->next;
    else l->head = c->next;
    if (c->next) c->next->prev = c->prev;
    else l->tail = c->prev;
    c->prev = c->next = NULL;
    l->n--;
}

sitq_task_ctx *sitq__ctx_list_pop(ctx_list *l) {
    sitq_task_ctx *c = l->head;
    if (c) sitq__ctx_list_remove(l, c);
    return c;
}

void sitq__completion_clear(sitq__completion *k) {
    free(k->value);
    free(k->error);
    free(k->traceback);
    free(k->stored_error);
    k->value = NULL;
    k->error = k->traceback = k->stored_error = NULL;
}

sitq_code sitq__ctx_load_payload(sitq_task_ctx *ctx, sitq_error *err) {
    if (!ctx->t.payload_external) return SITQ_OK;
    sitq_backend *b = ctx->w->b;
    void *p = NULL;
    size_t len = 0;
    sitq_code rc = b->ops->payload(b, sitq__ctx_queue(ctx), ctx->t.id, &p, &len, err);
    if (rc) return rc;
    ctx->t.payload = p;
    ctx->t.payload_len = len;
    ctx->t.payload_external = 0;
    return SITQ_OK;
}

void sitq__ctx_fail_completion(sitq_task_ctx *ctx, const char *msg, sitq__completion *out) {
    memset(out, 0, sizeof *out);
    out->id = ctx->t.id;
    out->lease_token = ctx->t.lease_token;
    out->started_at_us = ctx->started_at_us;
    out->queue_index = ctx->t.queue_index;
    out->ok = 0;
    out->cancel_seen = atomic_load(&ctx->cancel_asked);
    out->error = strdup(msg);
    out->finished_at_us = sitq_now_us();
}

int64_t sitq__ctx_grace_us(const sitq_task_ctx *ctx) {
    if (ctx->w->opts.timeout_grace_s >= 0) return sitq__seconds_to_us(ctx->w->opts.timeout_grace_s);
    int64_t g = ctx->t.timeout_us / 10;
    if (g < 500000) g = 500000;
    if (g > 5000000) g = 5000000;
    return g;
}

void sitq__ctx_timeout_message(const sitq_task_ctx *ctx, char *buf, size_t n) {
    snprintf(buf, n, "timed out after %g s (attempt %d)", (double)ctx->t.timeout_us / 1e6,
             (int)ctx->t.attempt);
}

void sitq__ctx_apply_timeout(sitq_task_ctx *ctx, sitq__completion *k) {
    if (!ctx->deadline_mono_us || sitq__mono_us() < ctx->deadline_mono_us) return;
    char msg[SITQ_ERROR_MESSAGE_SIZE];
    sitq__ctx_timeout_message(ctx, msg, sizeof msg);
    size_t len = strlen(msg);
    if (!k->ok && k->error) snprintf(msg + len, sizeof msg - len, ": %s", k->error);
    char *m = strdup(msg);
    if (!m) return;
    free(k->value);
    free(k->error);
    k->value = NULL;
    k->value_len = 0;
    k->error = m;
    k->ok = 0;
}

void sitq__ctx_run(sitq_task_ctx *ctx, sitq__completion *out) {
    if (!ctx->started_at_us) ctx->started_at_us = sitq_now_us();
    sitq_error perr;
    if (sitq__ctx_load_payload(ctx, &perr) != SITQ_OK) {
        char msg[SITQ_ERROR_MESSAGE_SIZE + 64];
        snprintf(msg, sizeof msg, "cannot read the payload of task %lld: %s", (long long)ctx->t.id,
                 perr.message);
        sitq__ctx_fail_completion(ctx, msg, out);
        return;
    }
    int rc = ctx->h->fn(ctx, ctx->t.payload, ctx->t.payload_len, ctx->h->user_data);
    memset(out, 0, sizeof *out);
    out->id = ctx->t.id;
    out->lease_token = ctx->t.lease_token;
    out->started_at_us = ctx->started_at_us;
    out->finished_at_us = sitq_now_us();
    out->queue_index = ctx->t.queue_index;
    out->cancel_seen = atomic_load(&ctx->cancel_asked);
    out->ok = rc == 0;
    if (ctx->result_too_big) { /* never store a success without its result */
        char msg[200];
        snprintf(msg, sizeof msg,
                 "the result of %zu bytes exceeds the limit: payload + result at most %zu bytes",
                 ctx->result_too_big, ctx->w->blob_max);
        free(ctx->error);
        ctx->error = strdup(msg);
        out->ok = 0;
    }
    if (out->ok) {
        out->value = ctx->value;
        out->value_len = ctx->value_len;
        ctx->value = NULL;
    } else {
        if (!ctx->error) {
            char msg[128];
            snprintf(msg, sizeof msg, "handler '%s' returned %d without an error message",
                     ctx->t.function, rc);
            ctx->error = strdup(msg);
        }
        out->error = ctx->error;
        out->traceback = ctx->traceback;
        ctx->error = ctx->traceback = NULL;
        out->retry = ctx->retry;
        out->retry_after_us = ctx->retry_after_us;
    }
}

sitq_task_id sitq_ctx_task_id(const sitq_task_ctx *ctx) { return ctx ? ctx->t.id : 0; }
int32_t sitq_ctx_attempt(const sitq_task_ctx *ctx) { return ctx ? ctx->t.attempt : 0; }
int32_t sitq_ctx_max_retries(const sitq_task_ctx *ctx) { return ctx ? ctx->t.max_retries : 0; }
const char *sitq_ctx_function(const sitq_task_ctx *ctx) { return ctx ? ctx->t.function : NULL; }
double sitq_ctx_timeout_s(const sitq_task_ctx *ctx) {
    return ctx ? (double)ctx->t.timeout_us / 1e6 : 0;
}
sitq_code sitq_ctx_begin(sitq_task_ctx *ctx) {
    if (!ctx) return SITQ_EINVAL;
    sitq_worker *w = ctx->w;
    pthread_mutex_lock(&w->mu);
    if (!ctx->start_marked && ctx->in_executor) {
        ctx->started_at_us = sitq_now_us();
        ctx->started_mono_us = sitq__mono_us();
        sitq__worker_request_start(w, ctx);
    }
    pthread_mutex_unlock(&w->mu);
    return atomic_load(&ctx->lost) ? SITQ_ELEASE : SITQ_OK;
}

int sitq_ctx_cancelled(const sitq_task_ctx *ctx) {
    return ctx ? atomic_load(&((sitq_task_ctx *)ctx)->cancel) : 0;
}

/* Bytes a result may have: the task's row holds its payload too. */
static size_t result_room(const sitq_task_ctx *ctx) {
    size_t max = ctx->w->blob_max;
    return ctx->t.payload_len >= max ? 0 : max - ctx->t.payload_len;
}

/* Remember that the handler tried to return an oversized result, so that the
 * attempt fails even if the handler ignores the error code. */
static sitq_code result_too_big(sitq_task_ctx *ctx, size_t len) {
    free(ctx->value);
    ctx->value = NULL;
    ctx->value_len = 0;
    ctx->result_too_big = len;
    return SITQ_EINVAL;
}

sitq_code sitq_ctx_set_result(sitq_task_ctx *ctx, const void *data, size_t len) {
    if (!ctx) return SITQ_EINVAL;
    if (!data && len > 0) return SITQ_EINVAL;
    if (len > result_room(ctx)) return result_too_big(ctx, len);
    void *copy = malloc(len ? len : 1);
    if (!copy) return SITQ_ENOMEM;
    if (len) memcpy(copy, data, len);
    free(ctx->value);
    ctx->value = copy;
    ctx->value_len = len;
    ctx->result_too_big = 0;
    return SITQ_OK;
}

sitq_code sitq_ctx_take_result(sitq_task_ctx *ctx, void *malloced, size_t len) {
    if (!ctx) {
        free(malloced); /* owned from the call on, also on error */
        return SITQ_EINVAL;
    }
    if (!malloced && len > 0) return SITQ_EINVAL;
    if (len > result_room(ctx)) {
        free(malloced);
        return result_too_big(ctx, len);
    }
    free(ctx->value);
    ctx->value = malloced;
    ctx->value_len = len;
    ctx->result_too_big = 0;
    return SITQ_OK;
}

sitq_code sitq_ctx_retry_after(sitq_task_ctx *ctx, double delay_s) {
    if (!ctx || !(delay_s >= 0 && delay_s <= SITQ_SECONDS_MAX)) return SITQ_EINVAL;
    ctx->retry = SITQ__RETRY_AFTER;
    ctx->retry_after_us = sitq__seconds_to_us(delay_s);
    return SITQ_OK;
}

sitq_code sitq_ctx_no_retry(sitq_task_ctx *ctx) {
    if (!ctx) return SITQ_EINVAL;
    ctx->retry = SITQ__RETRY_NONE;
    ctx->retry_after_us = 0;
    return SITQ_OK;
}

sitq_code sitq_ctx_set_error(sitq_task_ctx *ctx, const char *message, const char *traceback) {
    if (!ctx) return SITQ_EINVAL;
    char *m = message ? strdup(message) : NULL;
    char *t = traceback ? strdup(traceback) : NULL;
    if ((message && !m) || (traceback && !t)) {
        free(m);
        free(t);
        return SITQ_ENOMEM;
    }
    free(ctx->error);
    free(ctx->traceback);
    ctx->error = m;
    ctx->traceback = t;
    return SITQ_OK;
}

static sitq_code ctx_heartbeat_write(sitq_task_ctx *ctx, double progress, sitq_error *err);

sitq_code sitq_ctx_heartbeat(sitq_task_ctx *ctx, double progress, sitq_error *err) {
    if (!ctx) return sitq__fail(err, SITQ_EINVAL, "ctx must not be NULL");
    if (progress > 1) progress = 1;
    sitq_worker *w = ctx->w;
    pthread_mutex_lock(&w->mu);
    /* Once the attempt is recorded (timed out or abandoned) its thread may
     * outlive the worker and the backend: it must not write any more. */
    int recorded = atomic_load(&ctx->abandoned);
    if (!recorded) w->n_ctx_writes++;
    pthread_mutex_unlock(&w->mu);
    if (recorded)
        return sitq__fail(err, SITQ_ELEASE, "task %lld: the attempt was already recorded as failed",
                          (long long)ctx->t.id);
    sitq_code rc = ctx_heartbeat_write(ctx, progress, err);
    pthread_mutex_lock(&w->mu);
    w->n_ctx_writes--;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* The heartbeat's write; counted in w->n_ctx_writes by the caller. */
static sitq_code ctx_heartbeat_write(sitq_task_ctx *ctx, double progress, sitq_error *err) {
    sitq_worker *w = ctx->w;
    if (atomic_load(&ctx->lost))
        return sitq__fail(err, SITQ_ELEASE, "task %lld: the lease was lost", (long long)ctx->t.id);
    sitq__heartbeat hb = {ctx->t.id, ctx->t.lease_token, progress >= 0 ? progress : -1, 0, 0, 0};
    sitq__cycle cy;
    memset(&cy, 0, sizeof cy);
    cy.worker_id = w->id;
    cy.heartbeats = &hb;
    cy.n_heartbeats = 1;
    cy.lease_us = w->lease_us;
    int64_t mono_before = sitq__mono_us();
    sitq_code rc = w->b->ops->cycle(w->b, &cy, err);
    if (rc) return rc;
    if (hb.lost) {
        atomic_store(&ctx->lost, 1);
        atomic_store(&ctx->cancel, 1);
        return sitq__fail(err, SITQ_ELEASE, "task %lld: the lease was lost", (long long)ctx->t.id);
    }
    pthread_mutex_lock(&w->mu);
    ctx->t.lease_until_us = hb.lease_until_us;
    ctx->lease_until_mono_us = sitq__lease_mono(mono_before, hb.lease_until_us, cy.db_now_us);
    pthread_mutex_unlock(&w->mu);
    if (hb.cancel_requested) {
        atomic_store(&ctx->cancel_asked, 1);
        atomic_store(&ctx->cancel, 1);
    }
    return sitq__ok(err);
}
