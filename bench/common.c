/* common.c - helpers shared by the benchmark scenarios. */
#include "bench.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_sleep_us(int64_t us) {
    if (us <= 0) return;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void bench_emit(bench_ctx *c, const char *system, const char *scenario, const char *variant,
                const char *metric, double value, const char *unit) {
    printf("  %-10s %-12s %-14s %-22s %14.3f %s\n", system, scenario, variant, metric, value, unit);
    fflush(stdout);
    if (!c->json) return;
    fputs("{\"system\":", c->json);
    json_str(c->json, system);
    fputs(",\"scenario\":", c->json);
    json_str(c->json, scenario);
    fputs(",\"variant\":", c->json);
    json_str(c->json, variant);
    fputs(",\"metric\":", c->json);
    json_str(c->json, metric);
    fprintf(c->json, ",\"value\":%.6g,\"unit\":", value);
    json_str(c->json, unit);
    fprintf(c->json, ",\"run\":%d}\n", c->run);
    fflush(c->json);
}

void bench_db_remove(const char *path) {
    char buf[4200];
    unlink(path);
    snprintf(buf, sizeof buf, "%s-wal", path);
    unlink(buf);
    snprintf(buf, sizeof buf, "%s-shm", path);
    unlink(buf);
    snprintf(buf, sizeof buf, "%s-journal", path);
    unlink(buf);
}

void bench_db_path(bench_ctx *c, const char *name, char *buf, size_t size) {
    snprintf(buf, size, "%s/%s-%d.db", c->dir, name, (int)getpid());
    bench_db_remove(buf);
}

int64_t bench_db_bytes(const char *path) {
    struct stat st;
    int64_t total = 0;
    char buf[4200];
    if (stat(path, &st) == 0) total += (int64_t)st.st_size;
    snprintf(buf, sizeof buf, "%s-wal", path);
    if (stat(buf, &st) == 0) total += (int64_t)st.st_size;
    return total;
}

int64_t bench_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    long size = 0, rss = 0;
    int n = fscanf(f, "%ld %ld", &size, &rss);
    fclose(f);
    if (n != 2) return -1;
    return (int64_t)rss * (int64_t)sysconf(_SC_PAGESIZE);
}

_Noreturn void bench_die(const char *what, const sitq_error *err) {
    fprintf(stderr, "sitq_bench: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

sitq_backend *bench_open(const char *path, sitq_sync_mode sync) {
    sitq_sqlite_options o;
    sitq_sqlite_options_init(&o);
    o.synchronous = sync;
    sitq_backend *b = NULL;
    sitq_error err;
    if (sitq_backend_open_sqlite(path, &o, &b, &err) != SITQ_OK)
        bench_die("opening the database", &err);
    return b;
}

sitq_queue *bench_queue(sitq_backend *b) {
    sitq_queue *q = NULL;
    sitq_error err;
    if (sitq_queue_open(b, NULL, &q, &err) != SITQ_OK) bench_die("opening the queue", &err);
    return q;
}

int bench_sync_on(const bench_ctx *c, sitq_sync_mode s) {
    return c->sync_only < 0 || c->sync_only == (int)s;
}

const char *bench_sync_name(sitq_sync_mode s) {
    switch (s) {
    case SITQ_SYNC_OFF: return "OFF";
    case SITQ_SYNC_NORMAL: return "NORMAL";
    case SITQ_SYNC_FULL: return "FULL";
    case SITQ_SYNC_EXTRA: return "EXTRA";
    }
    return "?";
}

void bench_enqueue_noop(sitq_queue *q, long n, sitq_task_id *ids) {
    enum { CHUNK = 10000 };
    sitq_task_spec *specs = calloc(CHUNK, sizeof *specs);
    sitq_task_id *tmp = ids ? NULL : malloc(CHUNK * sizeof *tmp);
    static const char payload[8] = "12345678";
    if (!specs || (!ids && !tmp)) bench_die("allocating specs", NULL);
    for (long i = 0; i < CHUNK; i++) {
        specs[i].function = "noop";
        specs[i].payload = payload;
        specs[i].payload_len = sizeof payload;
    }
    sitq_error err;
    for (long done = 0; done < n;) {
        size_t k = (size_t)(n - done < CHUNK ? n - done : CHUNK);
        if (sitq_enqueue_batch(q, specs, k, ids ? ids + done : tmp, &err) != SITQ_OK)
            bench_die("enqueue_batch", &err);
        done += (long)k;
    }
    free(specs);
    free(tmp);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_percentile(double *v, size_t n, double p) {
    if (n == 0) return 0;
    qsort(v, n, sizeof *v, cmp_double);
    double pos = p * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n) return v[n - 1];
    double f = pos - (double)i;
    return v[i] * (1 - f) + v[i + 1] * f;
}

struct bench_counter {
    atomic_llong n;
};

bench_counter *bench_counter_new(void) {
    bench_counter *k = malloc(sizeof *k);
    if (!k) bench_die("allocating a counter", NULL);
    atomic_init(&k->n, 0);
    return k;
}

void bench_counter_free(bench_counter *k) { free(k); }

int64_t bench_counter_get(bench_counter *k) { return (int64_t)atomic_load(&k->n); }

int bench_noop_handler(sitq_task_ctx *ctx, const void *payload, size_t len, void *user_data) {
    (void)ctx;
    (void)payload;
    (void)len;
    atomic_fetch_add(&((bench_counter *)user_data)->n, 1);
    return 0;
}

int bench_prefetch = -1;
int bench_retention = 1;

sitq_worker *bench_worker_new(sitq_queue *q, int concurrency, const char *function,
                              sitq_handler_fn handler, void *user_data) {
    sitq_worker_options o;
    sitq_worker_options_init(&o);
    o.concurrency = concurrency;
    o.prefetch = bench_prefetch;
    o.retention = bench_retention;
    sitq_worker *w = NULL;
    sitq_error err;
    if (sitq_worker_create(q, &o, &w, &err) != SITQ_OK) bench_die("creating a worker", &err);
    if (sitq_worker_register(w, function, handler, user_data, &err) != SITQ_OK)
        bench_die("registering the handler", &err);
    return w;
}

sitq_worker *bench_worker_start(sitq_queue *q, int concurrency, bench_counter *k) {
    sitq_worker *w = bench_worker_new(q, concurrency, "noop", bench_noop_handler, k);
    sitq_error err;
    if (sitq_worker_start(w, &err) != SITQ_OK) bench_die("starting the worker", &err);
    return w;
}

int bench_lat_handler(sitq_task_ctx *ctx, const void *payload, size_t len, void *user_data) {
    (void)ctx;
    sitq_time_us now = sitq_now_us();
    bench_lat *s = user_data;
    if (len != sizeof(int64_t)) return 1;
    int64_t t0;
    memcpy(&t0, payload, sizeof t0);
    long i = atomic_fetch_add(&s->n, 1);
    if (i < s->cap) s->lat_us[i] = (double)(now - t0);
    return 0;
}

double bench_drain(sitq_queue *q, long n, int concurrency, sitq_worker_stats *ws) {
    bench_counter *k = bench_counter_new();
    double t0 = bench_now();
    sitq_worker *w = bench_worker_start(q, concurrency, k);
    /* Once the handler ran N times, a graceful stop records the last
     * completions and returns: then every task is committed succeeded. */
    double deadline = t0 + 600;
    while (bench_counter_get(k) < n && bench_now() < deadline) bench_sleep_us(1000);
    sitq_error err;
    if (bench_counter_get(k) < n || sitq_worker_stop(w, -1, &err) != SITQ_OK) {
        fprintf(stderr, "sitq_bench: %ld tasks did not finish in time\n", n);
        exit(1);
    }
    double dt = bench_now() - t0;
    if (ws) sitq_worker_get_stats(w, ws);
    sitq_worker_free(w);
    bench_counter_free(k);
    return dt;
}
