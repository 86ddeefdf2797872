/* schedule_fire.c - when a schedule's tick fires, and firing it.
 *
 * The split: this file decides (which tick, the next one, whether a missed
 * tick enqueues), the backend applies the verdict in one transaction guarded
 * by the tick the caller read (schedule_fire), so that any number of
 * callers racing for one tick enqueue it once: the first moves the
 * schedule's next tick, the others find it moved and write nothing. */
#include "schedule.h"

#include "internal.h"

#include <stdlib.h>

sitq_code sitq__schedule_cron(const sitq_schedule *s, sitq_cron **out, sitq_error *err) {
    if (s->cron) return sitq_cron_parse(s->cron, out, err);
    return sitq_cron_interval(s->every_s, 0, out, err);
}

sitq_code sitq__schedule_next(const sitq_cron *cron, const char *timezone, sitq_time_us at_us,
                              sitq_time_us *out, sitq_error *err) {
    /* Ticks are whole seconds: "strictly after at_us" is after its second
     * when at_us falls inside one (floor division). */
    int64_t at_s = at_us >= 0 ? at_us / 1000000 : -((-at_us + 999999) / 1000000);
    int64_t next_s = 0;
    sitq_code rc = sitq_cron_next(cron, timezone, at_s, &next_s, err);
    if (rc == SITQ_OK) *out = next_s * 1000000;
    return rc;
}

int sitq__schedule_plan(const sitq_cron *cron, const char *timezone, sitq_time_us next_us,
                        sitq_time_us now_us, int skip_missed, sitq__schedule_fire *f,
                        sitq_error *err) {
    if (now_us < next_us) return 0;
    int missed = now_us - next_us > (sitq_time_us)SITQ_SCHEDULE_GRACE_S * 1000000;
    sitq_time_us new_next = 0;
    if (sitq__schedule_next(cron, timezone, missed ? now_us : next_us, &new_next, err)) return -1;
    f->expected_next_us = next_us;
    f->tick_us = next_us;
    f->new_next_us = new_next;
    f->enqueue = !missed || !skip_missed;
    return 1;
}

sitq_code sitq__schedule_fire_due(sitq_backend *b, const sitq_schedule *s, const sitq_cron *cron,
                                  sitq_time_us now_us, int *fired, sitq_time_us *next_us,
                                  sitq_error *err) {
    *fired = 0;
    *next_us = s->next_fire_us;
    if (s->paused) return sitq__ok(err);
    sitq__schedule_fire f = {0};
    int due =
        sitq__schedule_plan(cron, s->timezone, s->next_fire_us, now_us, s->skip_missed, &f, err);
    if (due < 0) return err ? err->code : SITQ_EINVAL;
    if (due == 0) return sitq__ok(err);
    f.id = s->id;
    f.queue = s->queue;
    sitq_code rc = b->ops->schedule_fire(b, &f, err);
    if (rc) return rc;
    *fired = f.outcome == SITQ__FIRE_ENQUEUED;
    *next_us = f.outcome == SITQ__FIRE_LOST ? 0 : f.new_next_us;
    if (*fired) sitq__backend_notify(b, 0, 1);
    return sitq__ok(err);
}
