/*
 * dash_exact.c - exact counts of the queues whose bounded counts reached
 * the cap, taken by a thread of the dashboard and kept with their age.
 *
 * Why: an exact count reads one index entry per task (seconds at ten
 * million tasks), too slow for a page or a scrape, which read counts up
 * to a cap (sitq_get_stats_bounded). The pages ask for the exact figure of
 * a queue that reached the cap (dash_exact_get) and show the last one
 * taken. One count runs at a time, so the dashboard never takes more than
 * a core and a reader connection for them; each queue's next count is due
 * DASH_EXACT_FACTOR times its last count's duration after it, within
 * DASH_EXACT_MIN_US..DASH_EXACT_MAX_US, so that the share of time spent
 * counting stays small however large the backlog.
 *
 * Lock invariant: mu guards the entries and stop; no store read happens
 * under it. Entries are never removed (at most DASH_QUEUES_MAX), so an
 * index stays valid while the count runs unlocked.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dash.h"

typedef struct entry {
    char *name;
    int wanted;          /* the last bounded read reached the cap */
    int has;             /* fig holds a count */
    dash_exact_fig fig;  /* the last count */
    sitq_time_us due_us; /* when the next count is due */
} entry;

struct dash_exact {
    sitq_backend *backend;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int stop;
    entry *e;
    size_t n, cap;
};

/* The next count's delay after one that took dur_us. Pure. */
sitq_time_us dash_exact_interval_us(sitq_time_us dur_us) {
    sitq_time_us v = dur_us > DASH_EXACT_MAX_US / DASH_EXACT_FACTOR ? DASH_EXACT_MAX_US
                                                                    : dur_us * DASH_EXACT_FACTOR;
    if (v < DASH_EXACT_MIN_US) v = DASH_EXACT_MIN_US;
    return v > DASH_EXACT_MAX_US ? DASH_EXACT_MAX_US : v;
}

/* The entry wanted and due first, its due time in *due_us; -1 when none is
 * wanted. Caller holds mu. */
static long next_entry(const dash_exact *x, sitq_time_us *due_us) {
    long best = -1;
    for (size_t i = 0; i < x->n; i++)
        if (x->e[i].wanted && (best < 0 || x->e[i].due_us < x->e[best].due_us)) best = (long)i;
    if (best >= 0) *due_us = x->e[best].due_us;
    return best;
}

/* Count queue name exactly (outside mu). */
static sitq_code count(sitq_backend *backend, const char *name, dash_exact_fig *f,
                       sitq_error *err) {
    sitq_queue *q = NULL;
    sitq_time_us t0 = sitq_now_us();
    sitq_code code = sitq_queue_open(backend, name, &q, err);
    if (code == SITQ_OK) code = sitq_get_stats(q, &f->st, err);
    if (code == SITQ_OK) code = sitq_queue_totals(q, &f->totals, err);
    sitq_queue_close(q);
    f->at_us = sitq_now_us();
    f->took_us = f->at_us - t0;
    return code;
}

static void wait_until(dash_exact *x, sitq_time_us until_us) {
    struct timespec ts = {(time_t)(until_us / 1000000), (long)(until_us % 1000000) * 1000};
    (void)pthread_cond_timedwait(&x->cv, &x->mu, &ts);
}

/* Run the count of entry i (mu held on entry and on return). */
static void run_one(dash_exact *x, size_t i) {
    char *name = strdup(x->e[i].name);
    x->e[i].due_us = sitq_now_us() + DASH_EXACT_MIN_US; /* a failed count is tried again then */
    if (!name) return;
    pthread_mutex_unlock(&x->mu);
    dash_exact_fig f;
    memset(&f, 0, sizeof f);
    sitq_error err;
    memset(&err, 0, sizeof err);
    sitq_code code = count(x->backend, name, &f, &err);
    free(name);
    pthread_mutex_lock(&x->mu);
    if (code != SITQ_OK) return;
    x->e[i].fig = f;
    x->e[i].has = 1;
    x->e[i].due_us = f.at_us + dash_exact_interval_us(f.took_us);
}

static void *run(void *arg) {
    dash_exact *x = arg;
    pthread_mutex_lock(&x->mu);
    while (!x->stop) {
        sitq_time_us due = 0;
        sitq_time_us now = sitq_now_us();
        long i = next_entry(x, &due);
        if (i >= 0 && due <= now) run_one(x, (size_t)i);
        else wait_until(x, i >= 0 && due < now + 1000000 ? due : now + 1000000);
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

dash_exact *dash_exact_start(sitq_backend *backend) {
    dash_exact *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->backend = backend;
    if (pthread_mutex_init(&x->mu, NULL) != 0) {
        free(x);
        return NULL;
    }
    if (pthread_cond_init(&x->cv, NULL) != 0 || pthread_create(&x->thread, NULL, run, x) != 0) {
        pthread_cond_destroy(&x->cv);
        pthread_mutex_destroy(&x->mu);
        free(x);
        return NULL;
    }
    return x;
}

void dash_exact_stop(dash_exact *x) {
    if (!x) return;
    pthread_mutex_lock(&x->mu);
    x->stop = 1;
    pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&x->mu);
    pthread_join(x->thread, NULL); /* a running count ends first */
    for (size_t i = 0; i < x->n; i++) free(x->e[i].name);
    free(x->e);
    pthread_cond_destroy(&x->cv);
    pthread_mutex_destroy(&x->mu);
    free(x);
}

/* The entry of name, added when add and there is room; NULL otherwise.
 * Caller holds mu. */
static entry *find(dash_exact *x, const char *name, int add) {
    for (size_t i = 0; i < x->n; i++)
        if (strcmp(x->e[i].name, name) == 0) return &x->e[i];
    if (!add || x->n >= DASH_QUEUES_MAX) return NULL;
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        entry *e = realloc(x->e, cap * sizeof *e);
        if (!e) return NULL;
        x->e = e;
        x->cap = cap;
    }
    entry *e = &x->e[x->n];
    memset(e, 0, sizeof *e);
    if (!(e->name = strdup(name))) return NULL;
    x->n++;
    return e;
}

int dash_exact_get(dash_exact *x, const char *name, int want, dash_exact_fig *out) {
    if (!x) return 0;
    pthread_mutex_lock(&x->mu);
    entry *e = find(x, name, want);
    int has = 0;
    if (e) {
        if (want && !e->wanted) {
            e->wanted = 1;
            if (!e->has) {
                e->due_us = 0; /* a first count at once */
                pthread_cond_signal(&x->cv);
            }
        }
        if (!want) e->wanted = 0;
        has = e->has;
        if (has) *out = e->fig;
    }
    pthread_mutex_unlock(&x->mu);
    return has;
}
