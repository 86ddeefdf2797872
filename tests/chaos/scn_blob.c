/* scn_blob.c - scenario "blob": one task whose payload and result together
 * come near the backend's limit (sitq_backend_blob_max), through a started worker with a short lease,
 * optionally beside CPU-burning processes (--load).
 *
 * Verdict: the task succeeds on its first attempt, claimed once and never
 * released; the handler sees the exact payload and the stored result is the
 * exact result; the WAL peak stays within --wal-bound-mib plus the size the
 * task itself must pass through it. */
#include "chaos.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct blob_check {
    size_t payload_len, result_len;
    uint64_t payload_sum;
    atomic_int calls;
    atomic_int payload_ok;
} blob_check;

static void fill(unsigned char *p, size_t len, uint64_t seed) {
    chaos_rng r;
    chaos_rng_seed(&r, seed);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v = chaos_rng_next(&r);
        memcpy(p + i, &v, 8);
    }
    for (; i < len; i++) p[i] = (unsigned char)chaos_rng_next(&r);
}

static uint64_t sum(const unsigned char *p, size_t len) {
    uint64_t h = 1469598103934665603ull;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        h = (h ^ v) * 1099511628211ull;
    }
    for (; i < len; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static int blob_handler(sitq_task_ctx *ctx, const void *payload, size_t len, void *user) {
    blob_check *c = user;
    atomic_fetch_add(&c->calls, 1);
    if (len == c->payload_len && sum(payload, len) == c->payload_sum)
        atomic_store(&c->payload_ok, 1);
    unsigned char *r = malloc(c->result_len ? c->result_len : 1);
    if (!r) return 1;
    fill(r, c->result_len, 0xb10b);
    return sitq_ctx_take_result(ctx, r, c->result_len) == SITQ_OK ? 0 : 1;
}

/* A worker of q running blob_handler with check c. */
static sitq_worker *start_worker(sitq_queue *q, const chaos_opts *o, blob_check *c) {
    sitq_worker_options wo;
    sitq_worker_options_init(&wo);
    wo.lease_s = o->lease_s;
    wo.poll_interval_s = 0.01;
    sitq_worker *w;
    sitq_error err;
    if (sitq_worker_create(q, &wo, &w, &err) != SITQ_OK ||
        sitq_worker_register(w, "blob", blob_handler, c, &err) != SITQ_OK ||
        sitq_worker_start(w, &err) != SITQ_OK)
        chaos_die("worker: %s", err.message);
    return w;
}

/* The number of things wrong with the outcome: the wait's code and result
 * r, what the handler saw (c) and the worker's statistics ws. */
static int64_t check_outcome(blob_check *c, sitq_code code, const sitq_result *r,
                             const sitq_worker_stats *ws) {
    int64_t bad = 0;
    if (code == SITQ_OK) {
        if (r->status != SITQ_SUCCEEDED) {
            bad++;
            chaos_log("the task %s: %s", sitq_status_name(r->status), r->error ? r->error : "");
        }
        if (r->attempts != 1) {
            bad++;
            chaos_log("the task took %d attempts", (int)r->attempts);
        }
        if (r->status == SITQ_SUCCEEDED) {
            unsigned char *want = malloc(c->result_len ? c->result_len : 1);
            fill(want, c->result_len, 0xb10b);
            if (r->value_len != c->result_len || memcmp(r->value, want, c->result_len) != 0) {
                bad++;
                chaos_log("the stored result differs (%zu bytes, expected %zu)", r->value_len,
                          c->result_len);
            }
            free(want);
        }
    }
    if (!atomic_load(&c->payload_ok) && atomic_load(&c->calls) > 0) {
        bad++;
        chaos_log("the handler saw a different payload");
    }
    if (ws->claimed != 1 || ws->released != 0 || ws->lost != 0) {
        bad++;
        chaos_log("claimed %" PRId64 " times, released %" PRId64 ", lost %" PRId64
                  " (expected one claim)",
                  ws->claimed, ws->released, ws->lost);
    }
    return bad;
}

/* The task's payload (malloc'd; --payload-mib, or what the largest blob
 * of backend b leaves beside the result), with its size, checksum and the result size
 * in c. */
static unsigned char *make_payload(const chaos_opts *o, sitq_backend *b, blob_check *c) {
    c->result_len = (size_t)(o->result_mib * 1048576.0);
    c->payload_len = o->payload_mib > 0 ? (size_t)(o->payload_mib * 1048576.0)
                                        : sitq_backend_blob_max(b) - c->result_len;
    unsigned char *payload = malloc(c->payload_len);
    if (!payload) chaos_die("cannot allocate %zu bytes", c->payload_len);
    fill(payload, c->payload_len, o->seed);
    c->payload_sum = sum(payload, c->payload_len);
    return payload;
}

int chaos_scn_blob(const chaos_opts *o, chaos_figures *f) {
    char dir[512], db[600];
    chaos_mkdtemp(dir, sizeof dir, "blob");
    snprintf(db, sizeof db, "%s/q.db", dir);
    sitq_backend *b;
    sitq_queue *q;
    chaos_open(db, &b, &q);
    static blob_check c;
    unsigned char *payload = make_payload(o, b, &c);
    for (int i = 0; i < o->load; i++) {
        char *argv[] = {(char *)o->self, "--role", "burn", NULL};
        chaos_spawn(argv, NULL, NULL, NULL);
    }

    chaos_wal wal;
    chaos_wal_init(&wal, db);
    sitq_error err;
    sitq_task_id id;
    int64_t t0 = chaos_mono_ms();
    if (sitq_enqueue(q, "blob", payload, c.payload_len, NULL, &id, &err) != SITQ_OK)
        chaos_die("enqueue of %zu bytes: %s", c.payload_len, err.message);
    free(payload);
    chaos_wal_sample(&wal);
    int64_t t1 = chaos_mono_ms();
    f->tasks = 1;

    sitq_worker *w = start_worker(q, o, &c);
    int64_t deadline = chaos_mono_ms() + (int64_t)(o->deadline_s * 1000);
    sitq_result *r = NULL;
    sitq_code code;
    for (;;) {
        r = NULL;
        code = sitq_wait(q, id, 0.05, &r, &err);
        chaos_wal_sample(&wal);
        if (code != SITQ_ETIMEDOUT || chaos_mono_ms() > deadline) break;
        sitq_result_free(r);
    }
    int64_t t2 = chaos_mono_ms();
    sitq_worker_stats ws;
    sitq_worker_get_stats(w, &ws);
    if (code == SITQ_ETIMEDOUT) {
        f->stuck = 1;
        chaos_log("timeout: the task is %s after %.0f s (attempts %d; worker: %" PRId64
                  " claimed, %" PRId64 " released, %" PRId64 " lost, %" PRId64 " errors %s)",
                  sitq_status_name(r->status), o->deadline_s, (int)r->attempts, ws.claimed,
                  ws.released, ws.lost, ws.errors, ws.last_error);
    } else if (code != SITQ_OK) {
        chaos_die("wait: %s", err.message);
    }
    /* A stuck worker may hold a transaction over the blob for minutes: do
     * not wait for it (the process exits with it, as after a crash). */
    if (!f->stuck) {
        sitq_worker_stop(w, 60, NULL);
        sitq_worker_free(w);
    }
    chaos_wal_sample(&wal);
    int64_t bad = check_outcome(&c, code, r, &ws);
    sitq_result_free(r);
    /* The task itself passes through the WAL once or twice (enqueue, result). */
    double allowed = o->wal_bound_mib * 1048576.0 + 2.2 * (double)(c.payload_len + c.result_len);
    if ((double)wal.peak > allowed) {
        bad++;
        chaos_log("WAL peak %.1f MiB, allowed %.1f MiB", (double)wal.peak / 1048576.0,
                  allowed / 1048576.0);
    }
    f->wal_peak = wal.peak;
    f->bad = bad;
    chaos_extra(f,
                "payload=%.1fMiB result=%.1fMiB lease=%gs load=%d handler_calls=%d claims=%" PRId64
                " releases=%" PRId64 " enqueue=%.1fs run=%.1fs",
                (double)c.payload_len / 1048576.0, (double)c.result_len / 1048576.0, o->lease_s,
                o->load, atomic_load(&c.calls), ws.claimed, ws.released, (double)(t1 - t0) / 1000,
                (double)(t2 - t1) / 1000);
    if (!f->stuck) {
        sitq_queue_close(q);
        sitq_backend_close(b);
    }
    if (!o->keep) chaos_rm_rf(dir);
    return bad == 0 && f->stuck == 0 ? 0 : 1;
}
