/* cron.h - the parsed form of a 5-field cron expression (internal). Each
 * field is a bit set of the values it allows; sitq_cron (cron_next.c) wraps
 * it with the interval kind and computes fire times. */
#ifndef SITQ_CRON_H
#define SITQ_CRON_H

#include "internal.h"

#include <stdint.h>

typedef struct sitq__cron {
    uint64_t minutes; /* bit m: minute m, 0..59 */
    uint32_t hours;   /* bit h: hour h, 0..23 */
    uint32_t mdays;   /* bit d: day of month d, 1..31 */
    uint16_t months;  /* bit m: month m, 1..12 */
    uint8_t wdays;    /* bit w: weekday w, 0 = Sunday .. 6 */
    /* Vixie's rule: when both day fields are restricted (allow fewer than all
     * their values), a day matches when either does; otherwise both must. */
    int days_or;
} sitq__cron;

/* Parse expr (5 fields or an @-shortcut) into out. SITQ_OK, or SITQ_EINVAL
 * with a message naming the field and the offending text. Thread-safe. */
sitq_code sitq__cron_parse(const char *expr, sitq__cron *out, sitq_error *err);

/* 1 when the cron allows the date (weekday 0 = Sunday), else 0. */
int sitq__cron_day_matches(const sitq__cron *c, int month, int mday, int weekday);

#endif
