/* test_concurrent.c - threads racing on one backend: enqueue, process_task,
 * multi-thread workers, two workers on one queue, waits, cancels.
 * Threads record into atomics/arrays; only the main thread asserts. */
#include "helpers.h"

/* ---- shared: per-task run counters indexed by a uint32 payload ---- */
typedef struct {
    atomic_int *runs;
    size_t n;
    atomic_int bad_payload;
} counters;

static int h_count(sitq_task_ctx *ctx, const void *p, size_t len, void *ud) {
    counters *c = ud;
    uint32_t idx;
    if (len != sizeof idx) {
        atomic_fetch_add(&c->bad_payload, 1);
        return 1;
    }
    memcpy(&idx, p, sizeof idx);
    if (idx >= c->n) {
        atomic_fetch_add(&c->bad_payload, 1);
        return 1;
    }
    atomic_fetch_add(&c->runs[idx], 1);
    (void)ctx;
    return 0;
}

static sitq_task_id *enqueue_indexed(sitq_queue *q, const char *fn, size_t n) {
    sitq_task_spec *specs = calloc(n, sizeof *specs);
    uint32_t *idx = calloc(n, sizeof *idx);
    sitq_task_id *ids = calloc(n, sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        idx[i] = (uint32_t)i;
        specs[i].function = fn;
        specs[i].payload = &idx[i];
        specs[i].payload_len = sizeof idx[i];
    }
    TQ_OK(sitq_enqueue_batch(q, specs, n, ids, &tq_err));
    free(specs);
    free(idx);
    return ids;
}

static void counters_init(counters *c, size_t n) {
    c->runs = calloc(n, sizeof *c->runs);
    c->n = n;
    atomic_init(&c->bad_payload, 0);
}

static void assert_each_ran_once(counters *c) {
    assert_int_equal(atomic_load(&c->bad_payload), 0);
    for (size_t i = 0; i < c->n; i++) {
        int r = atomic_load(&c->runs[i]);
        if (r != 1) fail_msg("task index %zu ran %d times", i, r);
    }
}

/* ---- concurrent enqueue ---- */
enum { ENQ_THREADS = 4, ENQ_PER = 500 };
typedef struct {
    sitq_queue *q;
    sitq_task_id ids[ENQ_PER];
    int errors;
    int thread_no;
} enq_arg;

static void *enq_thread(void *arg) {
    enq_arg *a = arg;
    for (int i = 0; i < ENQ_PER; i++) {
        sitq_error err;
        char payload[32];
        int n = snprintf(payload, sizeof payload, "%d:%d", a->thread_no, i);
        if (sitq_enqueue(a->q, "f", payload, (size_t)n, NULL, &a->ids[i], &err) != SITQ_OK)
            a->errors++;
    }
    return NULL;
}

static int cmp_id(const void *x, const void *y) {
    sitq_task_id a = *(const sitq_task_id *)x, b = *(const sitq_task_id *)y;
    return a < b ? -1 : a > b;
}

static void test_concurrent_enqueue(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    enq_arg *args = calloc(ENQ_THREADS, sizeof *args);
    pthread_t th[ENQ_THREADS];
    for (int t = 0; t < ENQ_THREADS; t++) {
        args[t].q = q;
        args[t].thread_no = t;
        assert_int_equal(pthread_create(&th[t], NULL, enq_thread, &args[t]), 0);
    }
    for (int t = 0; t < ENQ_THREADS; t++) pthread_join(th[t], NULL);
    sitq_task_id *all = calloc(ENQ_THREADS * ENQ_PER, sizeof *all);
    for (int t = 0; t < ENQ_THREADS; t++) {
        assert_int_equal(args[t].errors, 0);
        for (int i = 1; i < ENQ_PER; i++)
            assert_true(args[t].ids[i] > args[t].ids[i - 1]); /* per thread increasing */
        memcpy(all + t * ENQ_PER, args[t].ids, sizeof args[t].ids);
    }
    qsort(all, ENQ_THREADS * ENQ_PER, sizeof *all, cmp_id);
    for (int i = 1; i < ENQ_THREADS * ENQ_PER; i++) assert_true(all[i] != all[i - 1]);
    assert_int_equal(tq_stats(q).total, ENQ_THREADS * ENQ_PER);
    /* every payload landed on its caller's id (the backend may write the
     * tasks of several callers as one batch) */
    for (int t = 0; t < ENQ_THREADS; t++)
        for (int i = 0; i < ENQ_PER; i++) {
            char want[32];
            int wn = snprintf(want, sizeof want, "%d:%d", t, i);
            void *p = NULL;
            size_t len = 0;
            TQ_OK(sitq_get_payload(q, args[t].ids[i], &p, &len, &tq_err));
            assert_int_equal(len, (size_t)wn);
            assert_memory_equal(p, want, len);
            free(p);
        }
    free(all);
    free(args);
}

/* ---- the same unique key from several threads at once ---- */
enum { UK_THREADS = 6, UK_ROUNDS = 50 };
typedef struct {
    sitq_queue *q;
    atomic_int *go;
    sitq_task_id ids[UK_ROUNDS];
    int errors;
} uk_arg;

static void *uk_thread(void *arg) {
    uk_arg *a = arg;
    while (!atomic_load(a->go)) {}
    for (int i = 0; i < UK_ROUNDS; i++) {
        char key[32];
        snprintf(key, sizeof key, "key-%d", i);
        sitq_task_options o;
        sitq_task_options_init(&o);
        o.unique_key = key;
        if (sitq_enqueue(a->q, "f", NULL, 0, &o, &a->ids[i], NULL) != SITQ_OK) a->errors++;
    }
    return NULL;
}

static void test_unique_key_race(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    atomic_int go = 0;
    uk_arg *args = calloc(UK_THREADS, sizeof *args);
    pthread_t th[UK_THREADS];
    for (int t = 0; t < UK_THREADS; t++) {
        args[t].q = q;
        args[t].go = &go;
        assert_int_equal(pthread_create(&th[t], NULL, uk_thread, &args[t]), 0);
    }
    atomic_store(&go, 1);
    for (int t = 0; t < UK_THREADS; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < UK_THREADS; t++) {
        assert_int_equal(args[t].errors, 0);
        for (int i = 0; i < UK_ROUNDS; i++)
            if (args[t].ids[i] != args[0].ids[i])
                fail_msg("key-%d: thread %d got id %lld, thread 0 got %lld", i, t,
                         (long long)args[t].ids[i], (long long)args[0].ids[i]);
    }
    assert_int_equal(tq_stats(q).total, UK_ROUNDS);
    free(args);
}

/* ---- process_task from several threads on the same ids ---- */
enum { PT_THREADS = 4, PT_TASKS = 200 };
typedef struct {
    sitq_worker *w;
    const sitq_task_id *ids;
    int start;
    int ok, notready, other;
} pt_arg;

static void *pt_thread(void *arg) {
    pt_arg *a = arg;
    for (int k = 0; k < PT_TASKS; k++) {
        int i = (a->start + k) % PT_TASKS;
        sitq_result *r = NULL;
        sitq_error err;
        sitq_code c = sitq_worker_process_task(a->w, a->ids[i], &r, &err);
        if (c == SITQ_OK && r && r->status == SITQ_SUCCEEDED) a->ok++;
        else if (c == SITQ_ENOTREADY && r &&
                 (r->status == SITQ_RUNNING || r->status == SITQ_SUCCEEDED))
            a->notready++;
        else a->other++;
        sitq_result_free(r);
    }
    return NULL;
}

static void test_process_task_race(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    counters c;
    counters_init(&c, PT_TASKS);
    sitq_task_id *ids = enqueue_indexed(q, "f", PT_TASKS);
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", h_count, &c);
    pt_arg args[PT_THREADS];
    pthread_t th[PT_THREADS];
    memset(args, 0, sizeof args);
    for (int t = 0; t < PT_THREADS; t++) {
        args[t].w = w;
        args[t].ids = ids;
        args[t].start = t % 2 ? 0 : PT_TASKS / 2; /* two pairs race head-on */
        assert_int_equal(pthread_create(&th[t], NULL, pt_thread, &args[t]), 0);
    }
    int ok = 0, nr = 0, other = 0;
    for (int t = 0; t < PT_THREADS; t++) {
        pthread_join(th[t], NULL);
        ok += args[t].ok;
        nr += args[t].notready;
        other += args[t].other;
    }
    sitq_worker_free(w);
    assert_int_equal(other, 0);
    assert_int_equal(ok, PT_TASKS);
    assert_int_equal(nr, PT_TASKS * (PT_THREADS - 1));
    assert_each_ran_once(&c);
    sitq_stats st = tq_stats(q);
    assert_int_equal(st.count[SITQ_SUCCEEDED], PT_TASKS);
    free(c.runs);
    free(ids);
}

/* ---- one worker, many threads ---- */
static void test_multithread_worker_each_once(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    enum { N = 1000 };
    counters c;
    counters_init(&c, N);
    sitq_task_id *ids = enqueue_indexed(q, "f", N);
    sitq_worker *w = tq_worker_new(q, 4, 8, "f", h_count, &c);
    TQ_OK(sitq_worker_start(w, &tq_err));
    int done = tq_poll_count(q, SITQ_SUCCEEDED, N, 120);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    sitq_worker_free(w);
    assert_true(done);
    assert_each_ran_once(&c);
    assert_int_equal(ws.succeeded, N);
    assert_int_equal(ws.claimed, N);
    assert_int_equal(ws.lost, 0);
    sitq_result **items = NULL;
    size_t n = 0;
    TQ_OK(sitq_list(q, SITQ_STATUS_ANY, N, 0, &items, &n, &tq_err));
    assert_int_equal(n, N);
    for (size_t i = 0; i < n; i++) assert_int_equal(items[i]->attempts, 1);
    sitq_result_list_free(items, n);
    free(c.runs);
    free(ids);
}

/* ---- two workers on one queue ---- */
static void test_two_workers_each_once(void **state) {
    tq_env *e = TQ_ENV(state);
    enum { N = 1000 };
    counters c;
    counters_init(&c, N);
    sitq_queue *q2 = NULL;
    TQ_OK(sitq_queue_open(e->backend, "default", &q2, &tq_err));
    sitq_worker *w1 = tq_worker_new(e->queue, 2, 2, "f", h_count, &c);
    sitq_worker *w2 = tq_worker_new(q2, 2, 2, "f", h_count, &c);
    TQ_OK(sitq_worker_start(w1, &tq_err));
    TQ_OK(sitq_worker_start(w2, &tq_err));
    sitq_task_id *ids = enqueue_indexed(e->queue, "f", N);
    int done = tq_poll_count(e->queue, SITQ_SUCCEEDED, N, 120);
    TQ_OK(sitq_worker_stop(w1, -1, &tq_err));
    TQ_OK(sitq_worker_stop(w2, -1, &tq_err));
    sitq_worker_stats s1, s2;
    sitq_worker_get_stats(w1, &s1);
    sitq_worker_get_stats(w2, &s2);
    sitq_worker_free(w1);
    sitq_worker_free(w2);
    sitq_queue_close(q2);
    assert_true(done);
    assert_each_ran_once(&c);
    assert_int_equal(s1.succeeded + s2.succeeded, N);
    assert_int_equal(s1.claimed + s2.claimed, N);
    free(c.runs);
    free(ids);
}

/* ---- many waiters on one task ---- */
enum { WAITERS = 8 };
typedef struct {
    sitq_queue *q;
    sitq_task_id id;
    sitq_code code;
    int status;
    atomic_int *ready;
} wait_arg;

static void *wait_thread(void *arg) {
    wait_arg *a = arg;
    sitq_result *r = NULL;
    atomic_fetch_add(a->ready, 1);
    a->code = sitq_wait(a->q, a->id, 30.0, &r, NULL);
    a->status = r ? (int)r->status : -1;
    sitq_result_free(r);
    return NULL;
}

static void test_many_waiters(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    sitq_task_id id = tq_enqueue(q, "f", NULL);
    atomic_int ready = 0;
    wait_arg args[WAITERS];
    pthread_t th[WAITERS];
    for (int t = 0; t < WAITERS; t++) {
        args[t] = (wait_arg){q, id, (sitq_code)-1, -2, &ready};
        assert_int_equal(pthread_create(&th[t], NULL, wait_thread, &args[t]), 0);
    }
    while (atomic_load(&ready) < WAITERS) tq_sleep_ms(1);
    tq_sleep_ms(50);
    sitq_worker *w = tq_worker_new(q, 1, 1, "f", tq_h_echo, NULL);
    TQ_OK(sitq_worker_process_task(w, id, NULL, &tq_err));
    for (int t = 0; t < WAITERS; t++) pthread_join(th[t], NULL);
    sitq_worker_free(w);
    for (int t = 0; t < WAITERS; t++) {
        assert_int_equal(args[t].code, SITQ_OK);
        assert_int_equal(args[t].status, SITQ_SUCCEEDED);
    }
}

/* ---- start/stop of one worker from several threads ---- */
enum { SS_THREADS = 4, SS_ROUNDS = 15 };
typedef struct {
    sitq_worker *w;
    int bad_codes;
    int starts_ok;
} ss_arg;

static int h_count_slow(sitq_task_ctx *ctx, const void *p, size_t len, void *ud) {
    tq_sleep_ms(1);
    return h_count(ctx, p, len, ud);
}

static void *ss_thread(void *arg) {
    ss_arg *a = arg;
    for (int i = 0; i < SS_ROUNDS; i++) {
        sitq_code c = sitq_worker_start(a->w, NULL);
        if (c == SITQ_OK) a->starts_ok++;
        else if (c != SITQ_ESTATE) a->bad_codes++;
        tq_sleep_ms(2);
        c = sitq_worker_stop(a->w, -1, NULL);
        if (c != SITQ_OK) a->bad_codes++;
    }
    return NULL;
}

static void test_start_stop_race(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    enum { N = 300 };
    counters c;
    counters_init(&c, N);
    sitq_task_id *ids = enqueue_indexed(q, "f", N);
    sitq_worker *w = tq_worker_new(q, 2, 8, "f", h_count_slow, &c);
    ss_arg args[SS_THREADS];
    pthread_t th[SS_THREADS];
    memset(args, 0, sizeof args);
    for (int t = 0; t < SS_THREADS; t++) {
        args[t].w = w;
        assert_int_equal(pthread_create(&th[t], NULL, ss_thread, &args[t]), 0);
    }
    int starts = 0;
    for (int t = 0; t < SS_THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(args[t].bad_codes, 0);
        starts += args[t].starts_ok;
    }
    assert_true(starts >= 1);
    /* nothing is left claimed by the stopped worker */
    sitq_stats st = tq_stats(q);
    assert_int_equal(st.count[SITQ_RUNNING], 0);
    TQ_OK(sitq_worker_start(w, &tq_err));
    int done = tq_poll_count(q, SITQ_SUCCEEDED, N, 60);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    assert_true(done);
    assert_each_ran_once(&c);
    sitq_result **items = NULL;
    size_t n = 0;
    TQ_OK(sitq_list(q, SITQ_STATUS_ANY, N, 0, &items, &n, &tq_err));
    assert_int_equal(n, N);
    for (size_t i = 0; i < n; i++)
        if (items[i]->attempts != 1)
            fail_msg("task %lld: attempts %d (released tasks must not count)",
                     (long long)items[i]->id, items[i]->attempts);
    sitq_result_list_free(items, n);
    free(c.runs);
    free(ids);
}

/* ---- cancels racing a running worker ---- */
static void test_cancel_races_worker(void **state) {
    sitq_queue *q = TQ_ENV(state)->queue;
    enum { N = 300 };
    counters c;
    counters_init(&c, N);
    sitq_task_id *ids = enqueue_indexed(q, "f", N);
    sitq_worker *w = tq_worker_new(q, 2, 4, "f", h_count, &c);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_code codes[N];
    sitq_status outs[N];
    for (int i = N - 1; i >= 0; i--) { /* from the back: both sides meet in the middle */
        outs[i] = (sitq_status)-1;
        codes[i] = sitq_cancel(q, ids[i], &outs[i], NULL);
    }
    for (int i = 0; i < N; i++) {
        sitq_result *r = tq_wait_done(q, ids[i], 30);
        int runs = atomic_load(&c.runs[i]);
        if (codes[i] == SITQ_OK && outs[i] == SITQ_CANCELLED) {
            if (r->status != SITQ_CANCELLED || runs != 0)
                fail_msg("task %d cancelled while queued: status %s, ran %d times", i,
                         sitq_status_name(r->status), runs);
        } else if (codes[i] == SITQ_OK && outs[i] == SITQ_RUNNING) {
            /* Claimed: either its handler ran (it ignores the flag and
             * succeeds, so the task succeeded), or it was prefetched and is
             * never started once cancelled. Never both cancelled and run. */
            int ok = (r->status == SITQ_SUCCEEDED && runs == 1) ||
                     (r->status == SITQ_CANCELLED && runs == 0);
            if (!ok)
                fail_msg("task %d cancelled while claimed: status %s, ran %d times", i,
                         sitq_status_name(r->status), runs);
        } else if (codes[i] == SITQ_ESTATE) {
            assert_int_equal(r->status, SITQ_SUCCEEDED);
            assert_int_equal(runs, 1);
        } else {
            fail_msg("task %d: cancel returned %s / %s", i, sitq_code_name(codes[i]),
                     sitq_status_name(outs[i]));
        }
        sitq_result_free(r);
    }
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    sitq_stats st = tq_stats(q);
    assert_int_equal(st.count[SITQ_SUCCEEDED] + st.count[SITQ_CANCELLED], N);
    free(c.runs);
    free(ids);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_enqueue, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_unique_key_race, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_process_task_race, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_multithread_worker_each_once, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_two_workers_each_once, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_many_waiters, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_races_worker, tq_setup, tq_teardown),
        cmocka_unit_test_setup_teardown(test_start_stop_race, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests_name("concurrent", tests, NULL, NULL);
}
