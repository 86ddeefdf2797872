/* test_large_payload.c - large payloads and results through a started worker
 * with a short lease, on a loaded machine: claims, heartbeats and lease
 * recovery must not read or rewrite them (they live outside the task's
 * row), and a lease starts when its claim commits. */
#include "helpers.h"

#include <sys/stat.h>

enum { BIG = 100 * 1000 * 1000, RESULT_BIG = 60 * 1000 * 1000, HB_PAYLOAD = 32 << 20 };

/* ---- CPU burners: the machine is loaded while the worker runs ---- */

typedef struct burners {
    pthread_t t[3];
    atomic_int stop;
} burners;

static void *burn(void *arg) {
    burners *b = arg;
    volatile uint64_t x = 0;
    while (!atomic_load(&b->stop))
        for (int i = 0; i < 100000; i++) x += (uint64_t)i * 2654435761u;
    return NULL;
}

static void burners_start(burners *b) {
    atomic_init(&b->stop, 0);
    for (int i = 0; i < 3; i++) assert_int_equal(pthread_create(&b->t[i], NULL, burn, b), 0);
}

static void burners_stop(burners *b) {
    atomic_store(&b->stop, 1);
    for (int i = 0; i < 3; i++) pthread_join(b->t[i], NULL);
}

/* The payload: 'p' everywhere, its length in decimal at the start, 'E' last. */
static unsigned char *make_payload(size_t n) {
    unsigned char *p = malloc(n);
    assert_non_null(p);
    memset(p, 'p', n);
    snprintf((char *)p, 32, "%zu", n);
    p[n - 1] = 'E';
    return p;
}

typedef struct big_state {
    atomic_int calls;
    atomic_int bad;    /* payload not as sent */
    size_t result_len; /* result bytes to return */
} big_state;

static int h_big(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    big_state *s = ud;
    atomic_fetch_add(&s->calls, 1);
    const unsigned char *p = payload;
    char want[32];
    snprintf(want, sizeof want, "%zu", len);
    if (!p || len < 64 || strncmp((const char *)p, want, strlen(want)) != 0 || p[len - 1] != 'E' ||
        p[len / 2] != 'p')
        atomic_fetch_add(&s->bad, 1);
    if (s->result_len == 0) return sitq_ctx_set_result(ctx, "ok", 2) == SITQ_OK ? 0 : 1;
    unsigned char *r = malloc(s->result_len);
    if (!r) return 1;
    memset(r, 'r', s->result_len);
    r[s->result_len - 1] = 'Z';
    return sitq_ctx_take_result(ctx, r, s->result_len) == SITQ_OK ? 0 : 1;
}

static void run_big(tq_env *e, size_t payload_len, size_t result_len) {
    sitq_queue *q = e->queue;
    unsigned char *p = make_payload(payload_len);
    sitq_task_id id = 0;
    TQ_OK(sitq_enqueue(q, "big", p, payload_len, NULL, &id, &tq_err));
    free(p);

    big_state s = {.result_len = result_len};
    atomic_init(&s.calls, 0);
    atomic_init(&s.bad, 0);
    sitq_worker_options o;
    tq_worker_opts(&o, 1, 0);
    o.lease_s = 0.3; /* far shorter than moving the payload takes on a loaded machine */
    o.heartbeat_interval_s = 0.05;
    sitq_worker *w = NULL;
    TQ_OK(sitq_worker_create(q, &o, &w, &tq_err));
    TQ_OK(sitq_worker_register(w, "big", h_big, &s, &tq_err));
    burners b;
    burners_start(&b);
    TQ_OK(sitq_worker_start(w, &tq_err));
    sitq_result *r = NULL;
    memset(&tq_err, 0, sizeof tq_err);
    sitq_code c = sitq_wait(q, id, 120, &r, &tq_err);
    burners_stop(&b);
    TQ_OK(sitq_worker_stop(w, -1, &tq_err));
    sitq_worker_stats st;
    sitq_worker_get_stats(w, &st);
    sitq_worker_free(w);
    if (c != SITQ_OK) fail_msg("wait: %s: %s", sitq_code_name(c), tq_err.message);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(r->payload_len, payload_len);
    assert_int_equal(atomic_load(&s.calls), 1);
    assert_int_equal(atomic_load(&s.bad), 0);
    assert_int_equal(st.released, 0); /* never refused as expired */
    assert_int_equal(st.lost, 0);
    if (result_len == 0) {
        assert_int_equal(r->value_len, 2);
    } else {
        assert_int_equal(r->value_len, result_len);
        assert_int_equal(((unsigned char *)r->value)[0], 'r');
        assert_int_equal(((unsigned char *)r->value)[result_len - 1], 'Z');
    }
    sitq_result_free(r);
}

static void test_large_payload_started_worker_short_lease(void **state) {
    run_big(TQ_ENV(state), BIG, 0);
}

static void test_large_result_started_worker_short_lease(void **state) {
    run_big(TQ_ENV(state), 4096, RESULT_BIG);
}

/* ---- heartbeats do not rewrite a large payload ---- */

typedef struct hb_state {
    sitq_worker *w;
    char wal[400];
    atomic_llong wal_peak;
    atomic_int beats_seen;
} hb_state;

static long long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

/* Runs until the worker committed 20 more cycles (heartbeats, since nothing
 * else happens), sampling the WAL's size. */
static int h_heartbeats(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    (void)ctx;
    (void)payload;
    (void)len;
    hb_state *s = ud;
    sitq_worker_stats st;
    sitq_worker_get_stats(s->w, &st);
    int64_t until = st.commits + 20;
    int64_t give_up = tq_mono_ms() + 60000;
    long long base = file_size(s->wal);
    while (st.commits < until && tq_mono_ms() < give_up) {
        long long grown = file_size(s->wal) - base;
        if (grown > atomic_load(&s->wal_peak)) atomic_store(&s->wal_peak, grown);
        tq_sleep_ms(1);
        sitq_worker_get_stats(s->w, &st);
    }
    atomic_store(&s->beats_seen, (int)(st.commits - (until - 20)));
    return 0;
}

static void test_heartbeats_do_not_rewrite_payload(void **state) {
    tq_env *e = TQ_ENV(state);
    sitq_queue *q = e->queue;
    unsigned char *p = make_payload(HB_PAYLOAD);
    sitq_task_id id = 0;
    TQ_OK(sitq_enqueue(q, "hb", p, HB_PAYLOAD, NULL, &id, &tq_err));
    free(p);
    hb_state s;
    memset(&s, 0, sizeof s);
    snprintf(s.wal, sizeof s.wal, "%s-wal", e->path);
    sitq_worker_options o;
    tq_worker_opts(&o, 1, 0);
    o.lease_s = 0.2;
    o.heartbeat_interval_s = 0.01;
    TQ_OK(sitq_worker_create(q, &o, &s.w, &tq_err));
    TQ_OK(sitq_worker_register(s.w, "hb", h_heartbeats, &s, &tq_err));
    TQ_OK(sitq_worker_start(s.w, &tq_err));
    sitq_result *r = tq_wait_done(q, id, 120);
    TQ_OK(sitq_worker_stop(s.w, -1, &tq_err));
    sitq_worker_free(s.w);
    assert_int_equal(r->status, SITQ_SUCCEEDED);
    sitq_result_free(r);
    assert_true(atomic_load(&s.beats_seen) >= 20);
    /* 20 heartbeats that rewrote 32 MiB each would add over 600 MiB. */
    if (atomic_load(&s.wal_peak) > 4 << 20)
        fail_msg("the WAL grew by %lld bytes during 20 heartbeats",
                 (long long)atomic_load(&s.wal_peak));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_large_payload_started_worker_short_lease, tq_setup,
                                        tq_teardown),
        cmocka_unit_test_setup_teardown(test_large_result_started_worker_short_lease, tq_setup,
                                        tq_teardown),
        cmocka_unit_test_setup_teardown(test_heartbeats_do_not_rewrite_payload, tq_setup,
                                        tq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
