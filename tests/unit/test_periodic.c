/* test_periodic.c - periodic schedules stored in the database: the C API and
 * its errors, the firing policy (missed ticks, overlap, daylight-saving
 * changes with explicit times), exactly-once firing under contention, and a
 * worker that fires its queue's schedules by itself. */
#include "helpers.h"

#include "core/schedule.h"

/* 2027-03-27 01:30:00 UTC = 02:30 CET, the day before Paris springs forward. */
#define T_MAR27_0130 INT64_C(1806111000)
#define HOUR_US      INT64_C(3600000000)
#define SEC_US       INT64_C(1000000)

static sitq_schedule *find(tq_env *e, const char *name) {
    sitq_schedule **items = NULL;
    size_t n = 0;
    TQ_OK(sitq_schedule_list(e->backend, sitq_queue_name(e->queue), &items, &n, &tq_err));
    sitq_schedule *found = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!found && !strcmp(items[i]->name, name)) found = items[i];
        else sitq_schedule_free(items[i]);
    }
    free(items);
    return found;
}

static void add_every(tq_env *e, const char *name, int64_t every_s, int allow_overlap,
                      int skip_missed) {
    sitq_schedule_spec sp;
    sitq_schedule_spec_init(&sp);
    sp.every_s = every_s;
    sp.function = "tick";
    sp.payload = "p";
    sp.payload_len = 1;
    sp.allow_overlap = allow_overlap;
    sp.skip_missed = skip_missed;
    TQ_OK(sitq_schedule_add(e->queue, name, &sp, NULL, &tq_err));
}

static void test_add_list_remove(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_schedule_spec sp;
    sitq_schedule_spec_init(&sp);
    sp.cron = "0 3 * * *";
    sp.timezone = "Europe/Paris";
    sp.function = "nightly";
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.priority = 7;
    o.max_retries = 3;
    o.timeout_s = 90;
    sp.options = &o;
    sitq_time_us next = 0;
    sitq_time_us before = sitq_now_us();
    TQ_OK(sitq_schedule_add(e->queue, "etl", &sp, &next, &tq_err));
    assert_true(next > before);
    assert_true(next <= before + 25 * HOUR_US);
    /* 03:00 in Paris is 01:00 or 02:00 UTC. */
    int64_t h = (next / SEC_US) % 86400 / 3600;
    assert_true(h == 1 || h == 2);
    assert_int_equal((next / SEC_US) % 3600, 0);

    sitq_schedule *s = find(e, "etl");
    assert_non_null(s);
    assert_string_equal(s->queue, "default");
    assert_string_equal(s->cron, "0 3 * * *");
    assert_string_equal(s->timezone, "Europe/Paris");
    assert_string_equal(s->function, "nightly");
    assert_int_equal(s->every_s, 0);
    assert_int_equal(s->priority, 7);
    assert_int_equal(s->max_retries, 3);
    assert_true(s->timeout_s > 89.9 && s->timeout_s < 90.1);
    assert_int_equal(s->next_fire_us, next);
    assert_int_equal(s->paused, 0);
    assert_int_equal(s->last_task_id, 0);
    sitq_schedule_free(s);

    TQ_OK(sitq_schedule_pause(e->queue, "etl", &tq_err));
    s = find(e, "etl");
    assert_int_equal(s->paused, 1);
    sitq_schedule_free(s);
    TQ_OK(sitq_schedule_resume(e->queue, "etl", &tq_err));
    s = find(e, "etl");
    assert_int_equal(s->paused, 0);
    assert_int_equal(s->next_fire_us, next);
    sitq_schedule_free(s);

    TQ_OK(sitq_schedule_remove(e->queue, "etl", &tq_err));
    assert_null(find(e, "etl"));
    TQ_ERR_MSG(SITQ_ENOTFOUND, "etl", "schedule", sitq_schedule_remove(e->queue, "etl", &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_schedule_pause(e->queue, "etl", &tq_err));
    TQ_ERR(SITQ_ENOTFOUND, sitq_schedule_resume(e->queue, "etl", &tq_err));
}

static void test_bad_input(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_schedule_spec sp;
    sitq_schedule_spec_init(&sp);
    sp.function = "f";
    TQ_ERR_MSG(SITQ_EINVAL, "cron", "interval",
               sitq_schedule_add(e->queue, "a", &sp, NULL, &tq_err));
    sp.cron = "61 * * * *";
    TQ_ERR_MSG(SITQ_EINVAL, "minute", "61", sitq_schedule_add(e->queue, "a", &sp, NULL, &tq_err));
    sp.cron = "0 3 * * *";
    sp.every_s = 60;
    TQ_ERR(SITQ_EINVAL, sitq_schedule_add(e->queue, "a", &sp, NULL, &tq_err));
    sp.every_s = 0;
    sp.timezone = "Mars/Olympus_Mons";
    TQ_ERR_MSG(SITQ_EINVAL, "unknown", "zone",
               sitq_schedule_add(e->queue, "a", &sp, NULL, &tq_err));
    sp.timezone = "../etc/passwd";
    TQ_ERR(SITQ_EINVAL, sitq_schedule_add(e->queue, "a", &sp, NULL, &tq_err));
    sp.cron = NULL;
    sp.every_s = 60;
    sp.timezone = "Europe/Paris"; /* a zone does nothing to an interval: refused */
    TQ_ERR_MSG(SITQ_EINVAL, "cron expression only", "zone",
               sitq_schedule_add(e->queue, "a", &sp, NULL, &tq_err));
    sp.timezone = "UTC";
    TQ_ERR(SITQ_EINVAL, sitq_schedule_add(e->queue, "a", &sp, NULL, &tq_err));
    sp.timezone = ""; /* empty: no zone, as NULL */
    TQ_OK(sitq_schedule_add(e->queue, "empty-zone", &sp, NULL, &tq_err));
    TQ_OK(sitq_schedule_remove(e->queue, "empty-zone", &tq_err));
    sp.timezone = NULL;
    sp.every_s = -5;
    TQ_ERR(SITQ_EINVAL, sitq_schedule_add(e->queue, "a", &sp, NULL, &tq_err));
    sp.every_s = 60;
    TQ_ERR_MSG(SITQ_EINVAL, "schedule name", "1..255",
               sitq_schedule_add(e->queue, "", &sp, NULL, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_schedule_add(e->queue, NULL, &sp, NULL, &tq_err));
    sp.function = NULL;
    TQ_ERR_MSG(SITQ_EINVAL, "function", "name",
               sitq_schedule_add(e->queue, "a", &sp, NULL, &tq_err));
    sp.function = "f";
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.delay_s = 5;
    sp.options = &o;
    TQ_ERR_MSG(SITQ_EINVAL, "delay", "ETA", sitq_schedule_add(e->queue, "a", &sp, NULL, &tq_err));
    o.delay_s = 0;
    o.max_retries = -1;
    TQ_ERR(SITQ_EINVAL, sitq_schedule_add(e->queue, "a", &sp, NULL, &tq_err));
    sp.options = NULL;
    TQ_ERR(SITQ_EINVAL, sitq_schedule_add(NULL, "a", &sp, NULL, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_schedule_add(e->queue, "a", NULL, NULL, &tq_err));
    /* Nothing was stored by the refused calls. */
    assert_null(find(e, "a"));
    TQ_OK(sitq_schedule_add(e->queue, "a", &sp, NULL, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "already exists", "a",
               sitq_schedule_add(e->queue, "a", &sp, NULL, &tq_err));
    /* The same name in another queue is another schedule. */
    sitq_queue *other = NULL;
    TQ_OK(sitq_queue_open(e->backend, "other", &other, &tq_err));
    TQ_OK(sitq_schedule_add(other, "a", &sp, NULL, &tq_err));
    sitq_schedule **items = NULL;
    size_t n = 0;
    TQ_OK(sitq_schedule_list(e->backend, NULL, &items, &n, &tq_err));
    assert_int_equal(n, 2);
    assert_string_equal(items[0]->queue, "default");
    assert_string_equal(items[1]->queue, "other");
    for (size_t i = 0; i < n; i++) sitq_schedule_free(items[i]);
    free(items);
    TQ_ERR(SITQ_EINVAL, sitq_schedule_list(NULL, NULL, &items, &n, &tq_err));
    TQ_ERR(SITQ_EINVAL, sitq_schedule_list(e->backend, "", &items, &n, &tq_err));
    /* A time before 1970 or past the year 9999 is refused, whatever is due. */
    size_t fired = 7;
    TQ_ERR_MSG(SITQ_EINVAL, "now_us", "-1", sitq_schedule_run_due(e->queue, -1, &fired, &tq_err));
    assert_int_equal(fired, 0);
    TQ_ERR_MSG(SITQ_EINVAL, "now_us", "year 9999",
               sitq_schedule_run_due(e->queue, INT64_MIN, &fired, &tq_err));
    TQ_ERR_MSG(SITQ_EINVAL, "now_us", "year 9999",
               sitq_schedule_run_due(e->queue, INT64_MAX, &fired, &tq_err));
    TQ_OK(sitq_schedule_run_due(e->queue, 0, &fired, &tq_err)); /* 0: the clock */
    sitq_queue_close(other);
}

/* One tick fires once; the next one is skipped while the task is live. */
static void test_fire_once_and_overlap(void **state) {
    tq_env *e = TQ_ENV(state);
    add_every(e, "s", 10, 0, 0);
    sitq_schedule *s = find(e, "s");
    sitq_time_us t0 = s->next_fire_us;
    sitq_schedule_free(s);
    size_t fired = 9;
    TQ_OK(sitq_schedule_run_due(e->queue, t0 - 1, &fired, &tq_err));
    assert_int_equal(fired, 0);
    TQ_OK(sitq_schedule_run_due(e->queue, t0, &fired, &tq_err));
    assert_int_equal(fired, 1);
    TQ_OK(sitq_schedule_run_due(e->queue, t0, &fired, &tq_err));
    assert_int_equal(fired, 0);
    s = find(e, "s");
    assert_int_equal(s->next_fire_us, t0 + 10 * SEC_US);
    assert_int_equal(s->last_tick_us, t0);
    sitq_task_id first = s->last_task_id;
    assert_true(first > 0);
    sitq_schedule_free(s);
    sitq_result *r = tq_get(e->queue, first);
    assert_string_equal(r->function, "tick");
    /* Its run_at is the tick (ahead of the real clock, unless the tick was
     * within the test's own run time of it: then the task is already due). */
    assert_int_equal(r->eta_us, t0);
    assert_true(r->status == SITQ_SCHEDULED || r->status == SITQ_QUEUED);
    sitq_result_free(r);
    /* The previous task is still queued: the tick is skipped, not queued up. */
    TQ_OK(sitq_schedule_run_due(e->queue, t0 + 10 * SEC_US, &fired, &tq_err));
    assert_int_equal(fired, 0);
    s = find(e, "s");
    assert_int_equal(s->next_fire_us, t0 + 20 * SEC_US);
    assert_int_equal(s->last_task_id, first);
    sitq_schedule_free(s);
    assert_int_equal(tq_stats(e->queue).total, 1);
    /* Once it finished, the next tick fires. */
    sitq_status st;
    TQ_OK(sitq_cancel(e->queue, first, &st, &tq_err));
    TQ_OK(sitq_schedule_run_due(e->queue, t0 + 20 * SEC_US, &fired, &tq_err));
    assert_int_equal(fired, 1);
    /* With overlap allowed, every tick fires whatever runs. */
    add_every(e, "o", 10, 1, 0);
    s = find(e, "o");
    sitq_time_us u0 = s->next_fire_us;
    sitq_schedule_free(s);
    for (int k = 0; k < 3; k++) {
        TQ_OK(sitq_schedule_run_due(e->queue, u0 + k * 10 * SEC_US, &fired, &tq_err));
        assert_true(fired >= 1);
    }
    s = find(e, "o");
    assert_int_equal(s->next_fire_us, u0 + 30 * SEC_US);
    sitq_schedule_free(s);
    /* A paused schedule does not fire. */
    TQ_OK(sitq_schedule_pause(e->queue, "o", &tq_err));
    int64_t total = tq_stats(e->queue).total;
    TQ_OK(sitq_schedule_run_due(e->queue, u0 + 40 * SEC_US, &fired, &tq_err));
    assert_int_equal(tq_stats(e->queue).total, total);
}

/* A tick found more than the grace late is missed: catch up once, or skip. */
static void test_missed_ticks(void **state) {
    tq_env *e = TQ_ENV(state);
    add_every(e, "catch", 10, 1, 0);
    add_every(e, "skip", 10, 1, 1);
    sitq_schedule *s = find(e, "catch");
    sitq_time_us t0 = s->next_fire_us;
    sitq_schedule_free(s);
    sitq_time_us later = t0 + HOUR_US + 5 * SEC_US;
    size_t fired = 0;
    TQ_OK(sitq_schedule_run_due(e->queue, later, &fired, &tq_err));
    assert_int_equal(fired, 1); /* catch: one task for 360 missed ticks; skip: none */
    s = find(e, "catch");
    assert_int_equal(s->next_fire_us, t0 + HOUR_US + 10 * SEC_US);
    assert_true(s->last_task_id > 0);
    sitq_schedule_free(s);
    s = find(e, "skip");
    assert_int_equal(s->next_fire_us, t0 + HOUR_US + 10 * SEC_US);
    assert_int_equal(s->last_task_id, 0);
    sitq_schedule_free(s);
    assert_int_equal(tq_stats(e->queue).total, 1);
}

/* The policy with explicit times across Paris's 2027 changes. */
static void test_dst_policy(void **state) {
    (void)state;
    sitq_cron *c = NULL;
    TQ_OK(sitq_cron_parse("30 2 * * *", &c, &tq_err));
    sitq__schedule_fire f;
    sitq_time_us t = T_MAR27_0130 * SEC_US;
    /* Spring forward on the 28th: 02:30 does not exist, it fires at 03:00 CEST. */
    static const int64_t spring[] = {T_MAR27_0130 + 84600 /* 28th 01:00 UTC */,
                                     T_MAR27_0130 + 2 * 86400 - 3600 /* 29th 00:30 UTC */,
                                     T_MAR27_0130 + 3 * 86400 - 3600};
    for (int i = 0; i < 3; i++) {
        memset(&f, 0, sizeof f);
        assert_int_equal(sitq__schedule_plan(c, "Europe/Paris", t, t, 0, &f, &tq_err), 1);
        assert_int_equal(f.tick_us, t);
        assert_int_equal(f.enqueue, 1);
        assert_int_equal(f.new_next_us, spring[i] * SEC_US);
        t = f.new_next_us;
    }
    /* Fall back on 2027-10-31: 02:30 happens twice; it fires at the first. */
    sitq_time_us oct30 = INT64_C(1824856200) * SEC_US; /* 2027-10-30 00:30 UTC = 02:30 CEST */
    assert_int_equal(sitq__schedule_plan(c, "Europe/Paris", oct30, oct30, 0, &f, &tq_err), 1);
    assert_int_equal(f.new_next_us, oct30 + 86400 * SEC_US); /* 31st 00:30 UTC */
    t = f.new_next_us;
    assert_int_equal(sitq__schedule_plan(c, "Europe/Paris", t, t, 0, &f, &tq_err), 1);
    assert_int_equal(f.new_next_us, t + 86400 * SEC_US + HOUR_US); /* Nov 1st 01:30 UTC */
    /* Not due before its time; on time within the grace; missed after. */
    assert_int_equal(sitq__schedule_plan(c, "Europe/Paris", t, t - 1, 0, &f, &tq_err), 0);
    assert_int_equal(sitq__schedule_plan(c, "Europe/Paris", t, t + SITQ_SCHEDULE_GRACE_S * SEC_US,
                                         1, &f, &tq_err),
                     1);
    assert_int_equal(f.enqueue, 1);
    assert_int_equal(f.new_next_us, t + 86400 * SEC_US + HOUR_US);
    sitq_time_us late = t + (SITQ_SCHEDULE_GRACE_S + 1) * SEC_US;
    assert_int_equal(sitq__schedule_plan(c, "Europe/Paris", t, late, 1, &f, &tq_err), 1);
    assert_int_equal(f.enqueue, 0);
    assert_int_equal(sitq__schedule_plan(c, "Europe/Paris", t, late, 0, &f, &tq_err), 1);
    assert_int_equal(f.enqueue, 1);
    assert_int_equal(f.tick_us, t);
    assert_int_equal(f.new_next_us, t + 86400 * SEC_US + HOUR_US);
    sitq_cron_free(c);
}

/* Threads, each with its own backend handle, race run_due over the same
 * ticks: each tick is enqueued once. */
enum { RACERS = 6, TICKS = 25 };

typedef struct racer {
    tq_env *e;
    sitq_time_us t0;
    size_t fired;
    int failed;
    char msg[SITQ_ERROR_MESSAGE_SIZE];
} racer;

static void *race(void *arg) {
    racer *r = arg;
    sitq_backend *b = NULL;
    sitq_queue *q = NULL;
    sitq_error err;
    if (tq_open_backend(r->e, &b, &err) || sitq_queue_open(b, NULL, &q, &err)) {
        r->failed = 1;
        snprintf(r->msg, sizeof r->msg, "%s", err.message);
        sitq_backend_close(b);
        return NULL;
    }
    for (int k = 0; k < TICKS && !r->failed; k++) {
        size_t n = 0;
        if (sitq_schedule_run_due(q, r->t0 + k * 10 * SEC_US, &n, &err) != SITQ_OK) {
            r->failed = 1;
            snprintf(r->msg, sizeof r->msg, "%s", err.message);
        }
        r->fired += n;
    }
    sitq_queue_close(q);
    sitq_backend_close(b);
    return NULL;
}

static void test_exactly_once_contention(void **state) {
    tq_env *e = TQ_ENV(state);
    add_every(e, "race", 10, 1, 0);
    sitq_schedule *s = find(e, "race");
    racer rs[RACERS];
    memset(rs, 0, sizeof rs);
    pthread_t th[RACERS];
    for (int i = 0; i < RACERS; i++) {
        rs[i].e = e;
        rs[i].t0 = s->next_fire_us;
        assert_int_equal(pthread_create(&th[i], NULL, race, &rs[i]), 0);
    }
    size_t total = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        if (rs[i].failed) fail_msg("racer %d: %s", i, rs[i].msg);
        total += rs[i].fired;
    }
    assert_int_equal(total, TICKS);
    assert_int_equal(tq_stats(e->queue).total, TICKS);
    sitq_schedule *after = find(e, "race");
    assert_int_equal(after->next_fire_us, s->next_fire_us + TICKS * 10 * SEC_US);
    sitq_schedule_free(after);
    sitq_schedule_free(s);
}

/* A running worker fires its queue's schedule by itself. */
static void test_worker_fires(void **state) {
    tq_env *e = TQ_ENV(state);
    tq_rec rec;
    tq_rec_init(&rec, 64);
    sitq_worker *w = tq_worker_new(e->queue, 2, 0, "tick", tq_h_record, &rec);
    add_every(e, "w", 1, 0, 0);
    TQ_OK(sitq_worker_start(w, &tq_err));
    assert_true(tq_poll_count(e->queue, SITQ_SUCCEEDED, 2, 30));
    TQ_OK(sitq_schedule_remove(e->queue, "w", &tq_err));
    TQ_OK(sitq_worker_stop(w, 10, &tq_err));
    sitq_worker_free(w);
    assert_true(tq_rec_count(&rec) >= 2);
    tq_rec_free(&rec);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_list_remove, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_fire_once_and_overlap, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_missed_ticks, tq_setup, tq_teardown),
        cmocka_unit_test(test_dst_policy),
        cmocka_unit_test_setup_teardown(test_exactly_once_contention, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_worker_fires, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
