/* schedule.h - periodic schedules above the storage seam: the policy that
 * turns a stored schedule and the time into one tick to fire (pure), and the
 * call that fires it through the backend's schedule_fire op. */
#ifndef SITQ_SCHEDULE_H
#define SITQ_SCHEDULE_H

#include "backend/backend.h"

#include <stdatomic.h>

/* Bumped by every add, remove, pause and resume of this process, after the
 * change committed: this process's workers read their schedules again at
 * once instead of at their next periodic re-read. */
extern atomic_uint sitq__schedule_gen;

/* The timing of a stored schedule (its cron text, or its interval), parsed:
 * *out the caller's (sitq_cron_free). Errors as sitq_cron_parse /
 * sitq_cron_interval. */
sitq_code sitq__schedule_cron(const sitq_schedule *s, sitq_cron **out, sitq_error *err);

/* The first tick of cron (read in timezone) strictly after at_us, in UTC
 * microseconds (ticks are whole seconds). Errors as sitq_cron_next. */
sitq_code sitq__schedule_next(const sitq_cron *cron, const char *timezone, sitq_time_us at_us,
                              sitq_time_us *out, sitq_error *err);

/* The policy of one due tick, pure but for the zone files: given the stored
 * next tick next_us and the time now_us, returns 0 when it is not due (f
 * untouched), 1 when it is, with f's tick_us, new_next_us, expected_next_us
 * and enqueue set: a tick at most SITQ_SCHEDULE_GRACE_S late fires and the
 * schedule moves to the tick after it (which may be due too: the next call
 * fires it); a later one is missed: it fires only when !skip_missed, and the
 * schedule moves to the first tick after now_us. -1 with err on a zone
 * error. */
int sitq__schedule_plan(const sitq_cron *cron, const char *timezone, sitq_time_us next_us,
                        sitq_time_us now_us, int skip_missed, sitq__schedule_fire *f,
                        sitq_error *err);

/* Fire s if it is due at now_us (plan, then the backend's schedule_fire).
 * Out: *fired 1 when a task was enqueued; *next_us the schedule's next tick
 * as this call left it (s->next_fire_us when not due; 0 when another caller
 * moved it first: read the list again). */
sitq_code sitq__schedule_fire_due(sitq_backend *b, const sitq_schedule *s, const sitq_cron *cron,
                                  sitq_time_us now_us, int *fired, sitq_time_us *next_us,
                                  sitq_error *err);

#endif
