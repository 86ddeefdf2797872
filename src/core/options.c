/* options.c - option defaults and validation of task options. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void sitq_sqlite_options_init(sitq_sqlite_options *opts) {
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->enable_wal = 1;
    opts->synchronous = SITQ_SYNC_NORMAL;
    opts->busy_timeout_ms = 30000;
    opts->reader_connections = 4;
    opts->create = 1;
    opts->file_mode = 0600; /* payloads and results are private by default */
}

void sitq_task_options_init(sitq_task_options *opts) {
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->backoff_base_s = 1.0;
    opts->backoff_cap_s = 3600.0;
    opts->backoff_jitter = 0.1;
}

void sitq_worker_options_init(sitq_worker_options *opts) {
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->concurrency = 1;
    opts->prefetch = -1;       /* "same as concurrency", resolved at create */
    opts->poll_interval_s = 0; /* automatic, resolved at create (worker.c) */
    opts->lease_s = 30.0;
    opts->heartbeat_interval_s = 0; /* "min(lease/3, 1)", resolved at create */
    opts->timeout_grace_s = -1;     /* "10% of the timeout, 0.5..5 s" */
    opts->handlers_mark_start = 0;
    opts->queue_order = SITQ_QUEUE_ORDER_PRIORITY;
    opts->burst = 0;
    opts->burst_eta_bound_s = SITQ_BURST_ETA_BOUND_DEFAULT_S;
    opts->retention = 1;
    opts->retention_interval_s = 60;
}

/* Longest time sitq accepts for delays, timeouts and backoff: 100 years. */
#define MAX_SECONDS SITQ_SECONDS_MAX

sitq_code sitq__task_options_check(const sitq_task_options *o, const char *what, sitq_error *err) {
    if (!o) return SITQ_OK;
    if (!(o->delay_s >= 0 && o->delay_s <= MAX_SECONDS))
        return sitq__fail(err, SITQ_EINVAL, "%soptions.delay_s must be 0..%.0f seconds, got %g",
                          what, MAX_SECONDS, o->delay_s);
    if (o->eta_us < 0)
        return sitq__fail(err, SITQ_EINVAL,
                          "%soptions.eta_us must be >= 0 (UTC microseconds), got %lld", what,
                          (long long)o->eta_us);
    /* The same horizon as delay_s: an absolute time is no way around it. */
    if (o->eta_us > sitq_now_us() + sitq__seconds_to_us(MAX_SECONDS))
        return sitq__fail(err, SITQ_EINVAL,
                          "%soptions.eta_us must be at most %.0f seconds from now, got %lld "
                          "(UTC microseconds)",
                          what, MAX_SECONDS, (long long)o->eta_us);
    if (o->eta_us > 0 && o->delay_s > 0)
        return sitq__fail(err, SITQ_EINVAL,
                          "%soptions.eta_us and options.delay_s are mutually exclusive", what);
    if (o->max_retries < 0 || o->max_retries > 1000000)
        return sitq__fail(err, SITQ_EINVAL, "%soptions.max_retries must be 0..1000000, got %d",
                          what, (int)o->max_retries);
    if (!(o->backoff_base_s >= 0 && o->backoff_base_s <= MAX_SECONDS))
        return sitq__fail(err, SITQ_EINVAL,
                          "%soptions.backoff_base_s must be 0..%.0f seconds, got %g", what,
                          MAX_SECONDS, o->backoff_base_s);
    if (!(o->backoff_cap_s >= 0 && o->backoff_cap_s <= MAX_SECONDS))
        return sitq__fail(err, SITQ_EINVAL,
                          "%soptions.backoff_cap_s must be 0..%.0f seconds, got %g", what,
                          MAX_SECONDS, o->backoff_cap_s);
    if (!(o->backoff_jitter >= 0 && o->backoff_jitter <= 1))
        return sitq__fail(err, SITQ_EINVAL, "%soptions.backoff_jitter must be 0..1, got %g", what,
                          o->backoff_jitter);
    if (!(o->timeout_s >= 0 && o->timeout_s <= MAX_SECONDS))
        return sitq__fail(err, SITQ_EINVAL, "%soptions.timeout_s must be 0..%.0f seconds, got %g",
                          what, MAX_SECONDS, o->timeout_s);
    if (o->n_depends_on > 0 && !o->depends_on)
        return sitq__fail(err, SITQ_EINVAL, "%soptions.depends_on is NULL but n_depends_on is %zu",
                          what, o->n_depends_on);
    for (size_t i = 0; i < o->n_depends_on; i++)
        if (o->depends_on[i] <= 0)
            return sitq__fail(err, SITQ_EDEPENDENCY,
                              "%soptions.depends_on[%zu] = %lld is not a task id", what, i,
                              (long long)o->depends_on[i]);
    if (o->finalizer != 0 && o->finalizer != 1)
        return sitq__fail(err, SITQ_EINVAL, "%soptions.finalizer must be 0 or 1, got %d", what,
                          o->finalizer);
    char keep_what[64];
    snprintf(keep_what, sizeof keep_what, "%soptions.keep_s", what);
    sitq_code rc = sitq__keep_check(o->keep_s, 1, keep_what, err);
    if (rc) return rc;
    if (!o->unique_key) return SITQ_OK;
    char key_what[64];
    snprintf(key_what, sizeof key_what, "%soptions.unique_key", what);
    return sitq__name_check(o->unique_key, key_what, err);
}
