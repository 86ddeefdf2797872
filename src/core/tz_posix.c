/*
 * tz_posix.c - POSIX TZ strings ("EST5EDT,M3.2.0,M11.1.0"), the footer of a
 * TZif v2+ file that gives the zone's rule for every time after its last
 * listed transition (RFC 8536 section 3.3). Only what a footer may hold is
 * accepted; the zone's abbreviations are parsed and dropped.
 */
#include "tz.h"
#include "civil.h"

#include <string.h>

/* ASCII classes, whatever the process's locale. */
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* A zone abbreviation: 3+ letters, or <...> holding letters, digits, + and -. */
static int parse_name(const char **ps) {
    const char *s = *ps;
    if (*s == '<') {
        const char *e = strchr(s, '>');
        if (!e || e - s < 4) return -1;
        for (const char *p = s + 1; p < e; p++)
            if (!(is_alpha(*p) || is_digit(*p)) && *p != '+' && *p != '-') return -1;
        *ps = e + 1;
        return 0;
    }
    const char *p = s;
    while (is_alpha(*p)) p++;
    if (p - s < 3) return -1;
    *ps = p;
    return 0;
}

static int parse_num(const char **ps, int max, int *out) {
    const char *p = *ps;
    int v = 0;
    if (!is_digit(*p)) return -1;
    while (is_digit(*p)) {
        v = v * 10 + (*p++ - '0');
        if (v > max) return -1;
    }
    *ps = p;
    *out = v;
    return 0;
}

/* [+-]hh[:mm[:ss]] with hh <= max_h; seconds. */
static int parse_hms(const char **ps, int max_h, int32_t *out) {
    const char *p = *ps;
    int sign = 1, h = 0, m = 0, s = 0;
    if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
    if (parse_num(&p, max_h, &h) < 0) return -1;
    if (*p == ':') {
        p++;
        if (parse_num(&p, 59, &m) < 0) return -1;
        if (*p == ':') {
            p++;
            if (parse_num(&p, 59, &s) < 0) return -1;
        }
    }
    *ps = p;
    *out = sign * (h * 3600 + m * 60 + s);
    return 0;
}

static int parse_date(const char **ps, sitq__tz_date *d) {
    const char *p = *ps;
    memset(d, 0, sizeof *d);
    if (*p == 'J') {
        p++;
        d->kind = 'J';
        if (parse_num(&p, 365, &d->day) < 0 || d->day < 1) return -1;
    } else if (*p == 'M') {
        p++;
        d->kind = 'M';
        if (parse_num(&p, 12, &d->month) < 0 || d->month < 1 || *p++ != '.') return -1;
        if (parse_num(&p, 5, &d->week) < 0 || d->week < 1 || *p++ != '.') return -1;
        if (parse_num(&p, 6, &d->day) < 0) return -1;
    } else {
        d->kind = 'D';
        if (parse_num(&p, 365, &d->day) < 0) return -1;
    }
    d->time = 7200; /* 02:00 local, POSIX's default */
    if (*p == '/') {
        p++;
        if (parse_hms(&p, 167, &d->time) < 0) return -1;
    }
    *ps = p;
    return 0;
}

int sitq__tz_rule_parse(const char *s, sitq__tz_rule *out) {
    sitq__tz_rule r;
    memset(&r, 0, sizeof r);
    int32_t v;
    if (parse_name(&s) < 0 || parse_hms(&s, 24, &v) < 0) return -1;
    r.std_off = -v; /* POSIX counts west of Greenwich as positive */
    if (*s == '\0') {
        *out = r;
        return 0;
    }
    if (parse_name(&s) < 0) return -1;
    r.has_dst = 1;
    r.dst_off = r.std_off + 3600;
    if (*s != ',') {
        if (parse_hms(&s, 24, &v) < 0) return -1;
        r.dst_off = -v;
    }
    /* A footer always states its rules; POSIX leaves their absence to the
     * implementation, so it is refused here. */
    if (*s++ != ',' || parse_date(&s, &r.start) < 0) return -1;
    if (*s++ != ',' || parse_date(&s, &r.end) < 0) return -1;
    if (*s != '\0') return -1;
    *out = r;
    return 0;
}

/* Day number of a rule's date in year y. */
static int64_t rule_day(const sitq__tz_date *d, int64_t y) {
    int64_t jan1 = sitq__days_from_civil(y, 1, 1);
    if (d->kind == 'J') return jan1 + d->day - 1 + (sitq__is_leap(y) && d->day >= 60);
    if (d->kind == 'D') return jan1 + d->day;
    int64_t first = sitq__days_from_civil(y, d->month, 1);
    int64_t day = first + (d->day - sitq__weekday(first) + 7) % 7 + (d->week - 1) * 7;
    while (day >= first + sitq__month_days(y, d->month)) day -= 7; /* week 5: the last */
    return day;
}

typedef struct change {
    int64_t at;  /* UTC instant */
    int32_t off; /* offset from then on */
} change;

void sitq__tz_rule_lookup(const sitq__tz_rule *r, int64_t t, int32_t *off, int64_t *until) {
    if (!r->has_dst) {
        *off = r->std_off;
        *until = INT64_MAX;
        return;
    }
    int64_t y;
    int mo, d;
    sitq__civil_from_days(sitq__floor_div(t + r->std_off, SITQ__DAY_S), &y, &mo, &d);
    /* The changes of the years around t, in time order. Daylight time starts
     * at a time of standard time and ends at a time of daylight time. A tie
     * (daylight time all year) keeps the later year's start last. */
    change ch[6];
    int n = 0;
    for (int i = 0; i < 3; i++) {
        int64_t yy = y - 1 + i;
        ch[n++] = (change){rule_day(&r->start, yy) * SITQ__DAY_S + r->start.time - r->std_off,
                           r->dst_off};
        ch[n++] =
            (change){rule_day(&r->end, yy) * SITQ__DAY_S + r->end.time - r->dst_off, r->std_off};
    }
    for (int i = 1; i < n; i++) /* insertion sort: stable */
        for (int j = i; j > 0 && ch[j - 1].at > ch[j].at; j--) {
            change tmp = ch[j];
            ch[j] = ch[j - 1];
            ch[j - 1] = tmp;
        }
    *off = ch[0].off == r->dst_off ? r->std_off : r->dst_off; /* before the first change */
    *until = INT64_MAX;
    for (int i = 0; i < n; i++) {
        if (ch[i].at <= t) {
            *off = ch[i].off;
        } else {
            *until = ch[i].at;
            return;
        }
    }
    /* Past the last change listed (not reached: next year's lie ahead). */
    *until = t + SITQ__DAY_S;
}
