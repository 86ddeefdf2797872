/* schedule.c - the public calls of periodic schedules: argument checks, the
 * first tick, then the backend's schedule ops. Firing is schedule_fire.c. */
#include "schedule.h"

#include "internal.h"

#include <stdlib.h>
#include <string.h>

atomic_uint sitq__schedule_gen;

/* A change committed: this process's workers look at the schedules again. */
static void changed(sitq_backend *b) {
    atomic_fetch_add(&sitq__schedule_gen, 1);
    sitq__backend_wake(b);
}

void sitq_schedule_spec_init(sitq_schedule_spec *spec) {
    if (spec) memset(spec, 0, sizeof *spec);
}

void sitq_schedule_free(sitq_schedule *s) {
    if (!s) return;
    free(s->queue);
    free(s->name);
    free(s->cron);
    free(s->timezone);
    free(s->function);
    free(s);
}

/* Options that make sense once per task, not per schedule, are refused. */
static sitq_code check_options(const sitq_task_options *o, sitq_error *err) {
    if (!o) return SITQ_OK;
    sitq_code rc = sitq__task_options_check(o, "schedule: ", err);
    if (rc) return rc;
    if (o->eta_us || o->delay_s != 0 || o->n_depends_on || o->unique_key || o->finalizer)
        return sitq__fail(err, SITQ_EINVAL,
                          "schedule: an ETA, a delay, dependencies, a unique key or finalizer "
                          "cannot be given to a schedule's tasks");
    return SITQ_OK;
}

/* The timing of spec, checked (a bad expression, interval or zone gets the
 * parser's message), into *cron (the caller's). */
static sitq_code check_timing(const sitq_schedule_spec *spec, sitq_cron **cron, sitq_error *err) {
    if ((spec->cron != NULL) == (spec->every_s != 0))
        return sitq__fail(err, SITQ_EINVAL,
                          "a schedule needs exactly one of a cron expression and an interval");
    /* An interval counts seconds from the epoch: a zone would be ignored, so
     * one given is a mistake rather than a wish to honour. */
    if (!spec->cron && spec->timezone && spec->timezone[0])
        return sitq__fail(err, SITQ_EINVAL,
                          "a time zone applies to a cron expression only: an interval fires "
                          "every %lld s from the Unix epoch whatever the zone",
                          (long long)spec->every_s);
    sitq_code rc = spec->cron ? sitq_cron_parse(spec->cron, cron, err)
                              : sitq_cron_interval(spec->every_s, 0, cron, err);
    if (rc) return rc;
    int32_t off = 0;
    if (spec->timezone)
        rc = sitq_timezone_offset(spec->timezone, sitq_now_us() / 1000000, &off, err);
    if (rc) {
        sitq_cron_free(*cron);
        *cron = NULL;
    }
    return rc;
}

static void fill_row(sitq_schedule *r, sitq_queue *q, const char *name,
                     const sitq_schedule_spec *spec) {
    sitq_task_options d;
    sitq_task_options_init(&d);
    const sitq_task_options *o = spec->options ? spec->options : &d;
    memset(r, 0, sizeof *r);
    r->queue = (char *)sitq_queue_name(q);
    r->name = (char *)name;
    r->cron = (char *)spec->cron;
    r->every_s = spec->cron ? 0 : spec->every_s;
    r->timezone = (char *)(spec->timezone && spec->timezone[0] ? spec->timezone : NULL);
    r->function = (char *)spec->function;
    r->payload_len = spec->payload_len;
    r->priority = o->priority;
    r->max_retries = o->max_retries;
    r->backoff_base_s = o->backoff_base_s;
    r->backoff_cap_s = o->backoff_cap_s;
    r->backoff_jitter = o->backoff_jitter;
    r->timeout_s = o->timeout_s;
    r->skip_missed = spec->skip_missed != 0;
    r->allow_overlap = spec->allow_overlap != 0;
    r->paused = spec->paused != 0;
}

sitq_code sitq_schedule_add(sitq_queue *q, const char *name, const sitq_schedule_spec *spec,
                            sitq_time_us *out_next_fire_us, sitq_error *err) {
    if (out_next_fire_us) *out_next_fire_us = 0;
    if (!q || !spec) return sitq__fail(err, SITQ_EINVAL, "queue and spec must not be NULL");
    sitq_code rc = sitq__name_check(name, "schedule name", err);
    if (!rc) rc = sitq__name_check(spec->function, "function name", err);
    if (!rc && spec->payload_len && !spec->payload)
        rc = sitq__fail(err, SITQ_EINVAL, "payload is NULL but payload_len is %zu",
                        spec->payload_len);
    if (!rc) rc = check_options(spec->options, err);
    if (rc) return rc;
    sitq_backend *b = sitq_queue_backend(q);
    if (spec->payload_len > b->blob_max)
        return sitq__fail(err, SITQ_EINVAL, "payload of %zu bytes is larger than the store's %zu",
                          spec->payload_len, b->blob_max);
    sitq_cron *cron = NULL;
    rc = check_timing(spec, &cron, err);
    if (rc) return rc;
    sitq_schedule row;
    fill_row(&row, q, name, spec);
    rc = sitq__schedule_next(cron, row.timezone, sitq_now_us(), &row.next_fire_us, err);
    sitq_cron_free(cron);
    if (!rc) rc = b->ops->schedule_add(b, &row, spec->payload, spec->payload_len, err);
    if (rc) return rc;
    if (out_next_fire_us) *out_next_fire_us = row.next_fire_us;
    changed(b);
    return sitq__ok(err);
}

sitq_code sitq_schedule_list(sitq_backend *b, const char *queue, sitq_schedule ***out_items,
                             size_t *out_count, sitq_error *err) {
    if (!out_items || !out_count)
        return sitq__fail(err, SITQ_EINVAL, "out_items and out_count must not be NULL");
    *out_items = NULL;
    *out_count = 0;
    if (!b) return sitq__fail(err, SITQ_EINVAL, "backend must not be NULL");
    if (queue) {
        sitq_code rc = sitq__name_check(queue, "queue name", err);
        if (rc) return rc;
    }
    return b->ops->schedule_list(b, queue, out_items, out_count, err);
}

static sitq_code set(sitq_queue *q, const char *name, int what, sitq_error *err) {
    if (!q) return sitq__fail(err, SITQ_EINVAL, "queue must not be NULL");
    sitq_code rc = sitq__name_check(name, "schedule name", err);
    if (rc) return rc;
    sitq_backend *b = sitq_queue_backend(q);
    sitq_time_us next = 0;
    if (what == SITQ__SCHED_RESUME) {
        /* The first tick after now, computed from the stored timing. */
        sitq_schedule **items = NULL;
        size_t n = 0;
        rc = b->ops->schedule_list(b, sitq_queue_name(q), &items, &n, err);
        const sitq_schedule *s = NULL;
        for (size_t i = 0; !rc && i < n && !s; i++)
            if (!strcmp(items[i]->name, name)) s = items[i];
        if (!rc && !s)
            rc = sitq__fail(err, SITQ_ENOTFOUND, "no schedule named %s in queue %s", name,
                            sitq_queue_name(q));
        sitq_cron *cron = NULL;
        if (!rc) rc = sitq__schedule_cron(s, &cron, err);
        if (!rc) rc = sitq__schedule_next(cron, s->timezone, sitq_now_us(), &next, err);
        sitq_cron_free(cron);
        for (size_t i = 0; i < n; i++) sitq_schedule_free(items[i]);
        free(items);
        if (rc) return rc;
    }
    rc = b->ops->schedule_set(b, sitq_queue_name(q), name, what, next, err);
    if (!rc) changed(b);
    return rc;
}

sitq_code sitq_schedule_remove(sitq_queue *q, const char *name, sitq_error *err) {
    return set(q, name, SITQ__SCHED_REMOVE, err);
}

sitq_code sitq_schedule_pause(sitq_queue *q, const char *name, sitq_error *err) {
    return set(q, name, SITQ__SCHED_PAUSE, err);
}

sitq_code sitq_schedule_resume(sitq_queue *q, const char *name, sitq_error *err) {
    return set(q, name, SITQ__SCHED_RESUME, err);
}

/* The end of the year 9999, in Unix microseconds. */
#define SCHEDULE_NOW_MAX_US 253402300799999999LL

sitq_code sitq_schedule_run_due(sitq_queue *q, sitq_time_us now_us, size_t *out_fired,
                                sitq_error *err) {
    if (out_fired) *out_fired = 0;
    if (!q) return sitq__fail(err, SITQ_EINVAL, "queue must not be NULL");
    /* Nothing is due before 1970, and a time past the year 9999 failed in
     * the first schedule's next tick instead. */
    if (now_us < 0 || now_us > SCHEDULE_NOW_MAX_US)
        return sitq__fail(err, SITQ_EINVAL,
                          "now_us must be 0 (the clock) or microseconds since 1970 up to the "
                          "year 9999, got %lld",
                          (long long)now_us);
    if (now_us == 0) now_us = sitq_now_us();
    sitq_backend *b = sitq_queue_backend(q);
    sitq_schedule **items = NULL;
    size_t n = 0;
    sitq_code rc = b->ops->schedule_list(b, sitq_queue_name(q), &items, &n, err);
    if (rc) return rc;
    sitq_code first = SITQ_OK;
    sitq_error ferr = {SITQ_OK, ""};
    size_t fired = 0;
    for (size_t i = 0; i < n; i++) {
        sitq_cron *cron = NULL;
        sitq_error e;
        rc = sitq__schedule_cron(items[i], &cron, &e);
        /* Fire until the schedule is not due any more (several on-time ticks
         * may be due), or another caller moved it. */
        sitq_time_us next = items[i]->next_fire_us;
        while (!rc && !items[i]->paused && next && next <= now_us) {
            int f = 0;
            items[i]->next_fire_us = next;
            rc = sitq__schedule_fire_due(b, items[i], cron, now_us, &f, &next, &e);
            fired += (size_t)f;
        }
        sitq_cron_free(cron);
        if (rc && !first) {
            first = rc;
            ferr = e;
        }
        sitq_schedule_free(items[i]);
    }
    free(items);
    if (out_fired) *out_fired = fired;
    if (first) {
        if (err) *err = ferr;
        return first;
    }
    return sitq__ok(err);
}
