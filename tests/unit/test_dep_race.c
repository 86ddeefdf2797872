/* test_dep_race.c - children enqueued while their parent's outcome commits.
 *
 * Each round has a parent P (run by sitq_worker_process_task on the main
 * thread) and a waiting child C of P enqueued beforehand. While P's handler
 * returns, three threads, each with its own backend (its own connections on
 * PostgreSQL), enqueue: a child of P, a grandchild naming C, and a task
 * naming both P and C. P succeeds or fails (half of the rounds each), so the
 * enqueues race the commit that releases or fails the dependents. No task
 * may be left waiting forever: right after each round every dependent must
 * already be in the state P's outcome implies, and at the end a worker runs
 * everything that can run. SITQ_TEST_DEP_RACE_ROUNDS overrides the number of
 * rounds. Threads record; only the main thread asserts. */
#include "helpers.h"

#include <time.h>

#define N_ENQ          3
#define DEFAULT_ROUNDS 200

typedef struct race_enq {
    pthread_t th;
    sitq_backend *backend;
    sitq_queue *queue;
    pthread_barrier_t *go;
    int delay_us; /* spin after the barrier, varied per round */
    sitq_task_id deps[2];
    size_t n_deps;
    sitq_task_id out;
    sitq_code rc;
    char msg[SITQ_ERROR_MESSAGE_SIZE];
} race_enq;

typedef struct race_parent {
    pthread_barrier_t *go;
    int fail;
} race_parent;

static void spin_us(int us) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do {
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

/* The parent's handler: meets the enqueuers, then returns its outcome, so
 * that its commit follows at once. */
static int h_parent(sitq_task_ctx *ctx, const void *p, size_t len, void *ud) {
    (void)p;
    (void)len;
    race_parent *rp = ud;
    pthread_barrier_wait(rp->go);
    if (rp->fail) {
        sitq_ctx_set_error(ctx, "parent failed on purpose", NULL);
        return 1;
    }
    return 0;
}

static void *enq_main(void *arg) {
    race_enq *e = arg;
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.depends_on = e->deps;
    o.n_depends_on = e->n_deps;
    sitq_error err;
    memset(&err, 0, sizeof err);
    pthread_barrier_wait(e->go);
    spin_us(e->delay_us);
    e->rc = sitq_enqueue(e->queue, "child", NULL, 0, &o, &e->out, &err);
    snprintf(e->msg, sizeof e->msg, "%s", err.message);
    return NULL;
}

static sitq_task_id enqueue_child(sitq_queue *q, const sitq_task_id *deps, size_t n) {
    sitq_task_options o;
    sitq_task_options_init(&o);
    o.depends_on = deps;
    o.n_depends_on = n;
    return tq_enqueue(q, "child", &o);
}

/* Fails unless the task failed with "dependency N failed" for one of the
 * two names given. */
static void assert_dep_failed(sitq_queue *q, sitq_task_id id, sitq_task_id a, sitq_task_id b) {
    sitq_result *r = tq_get(q, id);
    char ma[96], mb[96];
    snprintf(ma, sizeof ma, "dependency %lld failed", (long long)a);
    snprintf(mb, sizeof mb, "dependency %lld failed", (long long)b);
    if (r->status != SITQ_FAILED || !r->error ||
        (strcmp(r->error, ma) != 0 && strcmp(r->error, mb) != 0))
        fail_msg("task %lld: %s \"%s\", expected failed with \"%s\" or \"%s\"", (long long)id,
                 sitq_status_name(r->status), r->error ? r->error : "", ma, mb);
    assert_int_equal(r->attempts, 0);
    sitq_result_free(r);
}

static void assert_status(sitq_queue *q, sitq_task_id id, sitq_status want, int round) {
    sitq_status s = tq_status(q, id);
    if (s != want)
        fail_msg("round %d: task %lld is %s, expected %s", round, (long long)id,
                 sitq_status_name(s), sitq_status_name(want));
}

/* What each dependent of a round must be right after P's outcome. */
static void check_round(sitq_queue *q, int round, int failed, sitq_task_id p, sitq_task_id c,
                        const race_enq *enq) {
    for (int i = 0; i < N_ENQ; i++)
        if (enq[i].rc != SITQ_OK)
            fail_msg("round %d: enqueue %d: %s: %s", round, i, sitq_code_name(enq[i].rc),
                     enq[i].msg);
    if (failed) {
        assert_dep_failed(q, c, p, p);
        assert_dep_failed(q, enq[0].out, p, p);
        assert_dep_failed(q, enq[1].out, p, c);
        assert_dep_failed(q, enq[2].out, p, c);
    } else {
        assert_status(q, c, SITQ_QUEUED, round);
        assert_status(q, enq[0].out, SITQ_QUEUED, round);
        assert_status(q, enq[1].out, SITQ_WAITING, round);
        assert_status(q, enq[2].out, SITQ_WAITING, round);
    }
}

static void run_round(sitq_queue *q, sitq_worker *w, race_parent *rp, race_enq *enq, int round) {
    sitq_task_id p = tq_enqueue(q, "parent", NULL);
    sitq_task_id c = enqueue_child(q, &p, 1);
    rp->fail = round % 2;
    enq[0].deps[0] = p;
    enq[0].n_deps = 1;
    enq[1].deps[0] = c;
    enq[1].n_deps = 1;
    enq[2].deps[0] = p;
    enq[2].deps[1] = c;
    enq[2].n_deps = 2;
    for (int i = 0; i < N_ENQ; i++) {
        enq[i].delay_us = (round * 37 + i * 101) % 1500; /* 0..1.5 ms: across the commit */
        enq[i].rc = SITQ_ESYSTEM;                        /* until the thread sets it */
        assert_int_equal(pthread_create(&enq[i].th, NULL, enq_main, &enq[i]), 0);
    }
    sitq_result *r = NULL;
    TQ_OK(sitq_worker_process_task(w, p, &r, &tq_err));
    assert_int_equal(r->status, rp->fail ? SITQ_FAILED : SITQ_SUCCEEDED);
    sitq_result_free(r);
    for (int i = 0; i < N_ENQ; i++) pthread_join(enq[i].th, NULL);
    check_round(q, round, rp->fail, p, c, enq);
}

static int rounds(void) {
    const char *s = getenv("SITQ_TEST_DEP_RACE_ROUNDS");
    int n = s ? atoi(s) : DEFAULT_ROUNDS;
    return n > 0 ? n : DEFAULT_ROUNDS;
}

/* Runs every task that can run; each must succeed, none stays waiting. */
static void drain(sitq_queue *q, int n_rounds) {
    atomic_int calls;
    atomic_init(&calls, 0);
    sitq_worker *w = tq_worker_new(q, 2, -1, "child", tq_h_echo, &calls);
    TQ_OK(sitq_worker_start(w, &tq_err));
    /* Per succeeded round: C, P's child and the two grandchildren run. */
    int64_t want_ok = (int64_t)((n_rounds + 1) / 2) * 5;
    int done = tq_poll_count(q, SITQ_SUCCEEDED, want_ok, 60);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_free(w);
    sitq_stats st = tq_stats(q);
    if (!done || st.count[SITQ_WAITING] || st.count[SITQ_QUEUED] || st.count[SITQ_RUNNING])
        fail_msg("after the drain: %lld succeeded (want %lld), %lld waiting, %lld queued",
                 (long long)st.count[SITQ_SUCCEEDED], (long long)want_ok,
                 (long long)st.count[SITQ_WAITING], (long long)st.count[SITQ_QUEUED]);
    assert_int_equal(st.count[SITQ_SUCCEEDED], want_ok);
    assert_int_equal(atomic_load(&calls), want_ok - (n_rounds + 1) / 2);
    /* Per failed round: P and its four dependents. */
    assert_int_equal(st.count[SITQ_FAILED], (int64_t)(n_rounds / 2) * 5);
    assert_int_equal(st.total, (int64_t)n_rounds * 5);
}

static void test_enqueue_races_parent_outcome(void **state) {
    tq_env *env = TQ_ENV(state);
    int n_rounds = rounds();
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, N_ENQ + 1);
    race_parent rp = {&go, 0};
    race_enq enq[N_ENQ];
    memset(enq, 0, sizeof enq);
    for (int i = 0; i < N_ENQ; i++) {
        enq[i].go = &go;
        TQ_OK(tq_open_backend(env, &enq[i].backend, &tq_err));
        TQ_OK(sitq_queue_open(enq[i].backend, NULL, &enq[i].queue, &tq_err));
    }
    sitq_worker *w = tq_worker_new(env->queue, 1, 0, "parent", h_parent, &rp);
    int64_t t0 = tq_mono_ms();
    for (int round = 0; round < n_rounds; round++) run_round(env->queue, w, &rp, enq, round);
    int64_t t1 = tq_mono_ms();
    sitq_worker_free(w);
    drain(env->queue, n_rounds);
    fprintf(stderr, "dep_race: %d rounds (%d tasks) in %lld ms, drained in %lld ms\n", n_rounds,
            n_rounds * 5, (long long)(t1 - t0), (long long)(tq_mono_ms() - t1));
    for (int i = 0; i < N_ENQ; i++) {
        sitq_queue_close(enq[i].queue);
        sitq_backend_close(enq[i].backend);
    }
    pthread_barrier_destroy(&go);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enqueue_races_parent_outcome, tq_setup, tq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
