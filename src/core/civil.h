/* civil.h - proleptic Gregorian calendar arithmetic on day numbers (days
 * since 1970-01-01), exact for every int32 year; shared by the cron and time
 * zone code, which must not depend on the C library's time zone state. The
 * algorithms are Howard Hinnant's days_from_civil / civil_from_days. */
#ifndef SITQ_CIVIL_H
#define SITQ_CIVIL_H

#include <stdint.h>

#define SITQ__DAY_S 86400

/* Floor division (C's / truncates toward zero). */
static inline int64_t sitq__floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Day number of year-month-day (month 1..12, day 1..31). */
static inline int64_t sitq__days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = sitq__floor_div(y, 400);
    int64_t yoe = y - era * 400;                                  /* [0, 399] */
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

/* Year, month (1..12) and day (1..31) of a day number. */
static inline void sitq__civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = sitq__floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Day of the week of a day number, 0 = Sunday (1970-01-01 was a Thursday). */
static inline int sitq__weekday(int64_t days) { return (int)((days % 7 + 11) % 7); }

static inline int sitq__is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* Number of days in a month of a year. */
static inline int sitq__month_days(int64_t y, int m) {
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && sitq__is_leap(y) ? 29 : len[m - 1];
}

#endif
