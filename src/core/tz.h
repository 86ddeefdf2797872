/* tz.h - IANA time zones read from TZif files, without ICU or the C
 * library's process-wide TZ state (internal). A zone answers one question:
 * the UTC offset in effect at an instant, and until when it stays in
 * effect; cron_next.c builds local wall-time arithmetic on that. */
#ifndef SITQ_TZ_H
#define SITQ_TZ_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* Directory of the TZif files unless the TZDIR environment variable names
 * another (as for the C library). */
#define SITQ__TZ_DEFAULT_DIR "/usr/share/zoneinfo"

/* One transition rule of a POSIX TZ string ("M3.5.0/3", "J60", "59"). */
typedef struct sitq__tz_date {
    char kind;    /* 'J': Julian day 1..365 (Feb 29 never counted); 'D': day 0..365; 'M' */
    int month;    /* kind 'M': 1..12 */
    int week;     /* kind 'M': 1..5 (5: the last) */
    int day;      /* 'M': weekday 0..6 (0 Sunday); 'J', 'D': the day number */
    int32_t time; /* local time of day of the change, seconds (-167 h .. 167 h) */
} sitq__tz_date;

/* A POSIX TZ string, the rule for times after a TZif file's last transition. */
typedef struct sitq__tz_rule {
    int32_t std_off, dst_off; /* UTC offsets, seconds east of Greenwich */
    int has_dst;
    sitq__tz_date start, end; /* when daylight time starts and ends, each year */
} sitq__tz_rule;

typedef struct sitq__tz sitq__tz;

/* Load a zone by name: NULL, "", "UTC", "GMT" and "Z" are UTC; "+HH:MM" and
 * "-HH:MM" a fixed offset; anything else an IANA name read from TZDIR (or
 * SITQ__TZ_DEFAULT_DIR). Names are checked before any file is opened: no
 * absolute paths, no "." or ".." components. SITQ_OK and *out (free with
 * sitq__tz_free), or SITQ_EINVAL (bad or unknown name, unreadable or
 * malformed file) or SITQ_ENOMEM. Thread-safe. */
sitq_code sitq__tz_load(const char *name, sitq__tz **out, sitq_error *err);
void sitq__tz_free(sitq__tz *z);

/* Parse the bytes of a TZif file: 0 and *out (free with sitq__tz_free),
 * -1 when they are not a valid one, -2 when out of memory. Pure. */
int sitq__tz_parse(const unsigned char *data, size_t len, sitq__tz **out);

/* The UTC offset (seconds east) in effect at instant t (Unix seconds, within
 * the years 0..10000), and the next instant after t at which it may change
 * (INT64_MAX: never). Pure. */
void sitq__tz_lookup(const sitq__tz *z, int64_t t, int32_t *off, int64_t *until);

/* Parse a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3" (with the
 * TZif v3 extensions: hours up to 167 in rule times). 0 on success, -1
 * when the text is not one. */
int sitq__tz_rule_parse(const char *s, sitq__tz_rule *out);

/* sitq__tz_lookup for a POSIX TZ rule. */
void sitq__tz_rule_lookup(const sitq__tz_rule *r, int64_t t, int32_t *off, int64_t *until);

#endif
