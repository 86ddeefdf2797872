/* schedules.c - a worker fires the due ticks of its queues' periodic
 * schedules from its dispatcher thread: there is no scheduler process.
 *
 * Cheap when there is nothing to do: the dispatcher compares the time with
 * one number (check_at) per turn; the schedule list is read again every
 * SCHED_REFRESH_US, and at once after a change made in this process
 * (sitq__schedule_gen; a read of a small table, and nothing else when the
 * queues have no schedule), and a tick is fired through
 * sitq__schedule_fire_due, whose guarded transaction makes it happen once
 * whichever of the queue's workers, in any process or host, gets there
 * first. The cache lives in the dispatcher thread alone. */
#include "worker_internal.h"

#include "core/schedule.h"

#include <stdlib.h>
#include <string.h>

/* How often the schedules are read again: a schedule added, paused or
 * removed elsewhere is seen within this time. */
#define SCHED_REFRESH_US 2000000
/* After a failed read or tick, the wait before trying again. */
#define SCHED_RETRY_US 1000000

struct sitq__worker_sched {
    sitq_schedule **items;
    sitq_cron **crons; /* NULL where the stored timing does not parse */
    size_t n;
    int64_t refresh_at; /* monotonic */
};

static void cache_clear(sitq__worker_sched *c) {
    for (size_t i = 0; i < c->n; i++) {
        sitq_schedule_free(c->items[i]);
        sitq_cron_free(c->crons[i]);
    }
    free(c->items);
    free(c->crons);
    c->items = NULL;
    c->crons = NULL;
    c->n = 0;
}

void sitq__worker_schedules_free(sitq_worker *w) {
    if (!w->sched) return;
    cache_clear(w->sched);
    free(w->sched);
    w->sched = NULL;
}

static int serves(const sitq_worker *w, const char *queue) {
    for (size_t i = 0; i < w->n_queues; i++)
        if (!strcmp(w->qnames[i], queue)) return 1;
    return 0;
}

/* Read the schedules of the worker's queues again (unpaused ones only). */
static void refresh(sitq_worker *w, sitq__worker_sched *c) {
    cache_clear(c);
    sitq_schedule **all = NULL;
    size_t n = 0;
    const char *only = w->n_queues == 1 ? w->qnames[0] : NULL;
    if (w->b->ops->schedule_list(w->b, only, &all, &n, NULL) != SITQ_OK) return;
    c->items = calloc(n ? n : 1, sizeof(sitq_schedule *));
    c->crons = calloc(n ? n : 1, sizeof(sitq_cron *));
    for (size_t i = 0; i < n; i++) {
        sitq_schedule *s = all[i];
        if (!c->items || !c->crons || s->paused || !serves(w, s->queue) ||
            sitq__schedule_cron(s, &c->crons[c->n], NULL) != SITQ_OK) {
            sitq_schedule_free(s);
            continue;
        }
        c->items[c->n++] = s;
    }
    free(all);
}

/* Fire what is due; returns the earliest next tick left (UTC us; 0: none). */
static sitq_time_us fire_due(sitq_worker *w, sitq__worker_sched *c, int64_t now_mono) {
    sitq_time_us now = sitq_now_us(), earliest = 0;
    for (size_t i = 0; i < c->n; i++) {
        sitq_schedule *s = c->items[i];
        /* Several on-time ticks may be due at once: one transaction each. */
        while (s->next_fire_us && s->next_fire_us <= now) {
            int fired = 0;
            sitq_time_us next = 0;
            if (sitq__schedule_fire_due(w->b, s, c->crons[i], now, &fired, &next, NULL) !=
                SITQ_OK) {
                c->refresh_at = now_mono + SCHED_RETRY_US;
                next = 0;
            } else if (!next) c->refresh_at = now_mono; /* another worker moved it: re-read */
            s->next_fire_us = next;
        }
        if (s->next_fire_us && (!earliest || s->next_fire_us < earliest))
            earliest = s->next_fire_us;
    }
    return earliest;
}

int sitq__worker_schedules_changed(const sitq_worker *w) {
    return atomic_load_explicit(&sitq__schedule_gen, memory_order_relaxed) != w->sched_gen;
}

void sitq__worker_schedules(sitq_worker *w, int64_t now_mono) {
    if (!w->sched && !(w->sched = calloc(1, sizeof *w->sched))) {
        w->sched_check_at = now_mono + SCHED_RETRY_US;
        return;
    }
    sitq__worker_sched *c = w->sched;
    if (now_mono >= c->refresh_at || sitq__worker_schedules_changed(w)) {
        /* Read the counter first: a change after it is seen next turn. */
        w->sched_gen = atomic_load(&sitq__schedule_gen);
        refresh(w, c);
        c->refresh_at = now_mono + SCHED_REFRESH_US;
    }
    sitq_time_us earliest = fire_due(w, c, now_mono);
    int64_t check_at = c->refresh_at;
    if (earliest) {
        int64_t due = now_mono + (earliest - sitq_now_us());
        if (due < check_at) check_at = due;
    }
    w->sched_check_at = check_at > now_mono ? check_at : now_mono + 1000;
}
